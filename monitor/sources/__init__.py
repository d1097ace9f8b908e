"""Source kinds: each turns a fetched listing into Links; registered in one explicit dict."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.errors import SourceError
from monitor.models import Source
from monitor.sources.base import Listing, Poll, Quota, Request, SourceKind
from monitor.sources.feed import FeedSource
from monitor.sources.google_news import GoogleNewsSource
from monitor.sources.html import HtmlSource
from monitor.sources.jsonapi import JsonSource
from monitor.sources.naver import NaverSource, quota_of
from monitor.sources.sitemap import SitemapSource

KINDS: dict[str, SourceKind] = {
    "feed": FeedSource(),
    "html": HtmlSource(),
    "sitemap": SitemapSource(),
    "naver": NaverSource(),
    "google-news": GoogleNewsSource(),
    "json": JsonSource(),
}


def get_kind(name: str) -> SourceKind:
    """The source kind registered under `name`; an unknown one lists the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise SourceError(f"unknown source kind {name!r} (known: {known})") from None


def check_settings(kind: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with a source's kind-specific settings, as (key, message)."""
    found = KINDS.get(kind)
    return found.check(settings) if found is not None else []


def quotas(sources: Iterable[Source]) -> list[Quota]:
    """The daily API budgets the configured sources spend, one per key (the smallest limit)."""
    by_key: dict[str, Quota] = {}
    for s in sources:
        if s.kind == "naver":
            q = quota_of(s)
            if q.key not in by_key or q.per_day < by_key[q.key].per_day:
                by_key[q.key] = q
    return sorted(by_key.values(), key=lambda q: q.key)


__all__ = [
    "KINDS",
    "Listing",
    "Poll",
    "Quota",
    "Request",
    "SourceKind",
    "check_settings",
    "get_kind",
    "quotas",
]
