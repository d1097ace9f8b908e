"""Source kinds: each turns a fetched listing into Links; registered in one explicit dict."""

from __future__ import annotations

from monitor.errors import SourceError
from monitor.sources.base import SourceKind
from monitor.sources.feed import FeedSource
from monitor.sources.html import HtmlSource

KINDS: dict[str, SourceKind] = {
    "feed": FeedSource(),
    "html": HtmlSource(),
}


def get_kind(name: str) -> SourceKind:
    """The source kind registered under `name`; an unknown one lists the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise SourceError(f"unknown source kind {name!r} (known: {known})") from None


__all__ = ["KINDS", "SourceKind", "get_kind"]
