"""RSS 2.0, Atom and RDF feeds, read with feedparser."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime

import feedparser

from monitor.errors import SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import Kind

DEFAULT_MAX_ITEMS = 200


def when_of(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError):
        return None


def parse_feed(page: Page) -> feedparser.FeedParserDict:
    """feedparser's reading of a fetched feed (relative links resolved against its URL)."""
    headers = {"content-location": page.url}
    if page.content_type:
        headers["content-type"] = page.content_type
    return feedparser.parse(page.body, response_headers=headers, sanitize_html=False)


class FeedSource(Kind):
    """A syndication feed whose items link to article pages."""

    def parse(self, source: Source, page: Page) -> list[Link]:
        """Parse the feed; a feed with no readable items at all is a SourceError."""
        parsed = parse_feed(page)
        entries = parsed.get("entries") or []
        if not entries and not parsed.get("feed"):
            raise SourceError("not a feed: no channel and no items")
        limit = int(source.settings.get("max_items", DEFAULT_MAX_ITEMS))
        out: list[Link] = []
        seen: set[str] = set()
        for e in entries:
            url = (e.get("link") or "").strip()
            if not url or url in seen or not url.startswith(("http://", "https://")):
                continue
            seen.add(url)
            out.append(
                Link(
                    url=url,
                    title=(e.get("title") or "").strip() or None,
                    published_at=when_of(e.get("published_parsed") or e.get("updated_parsed")),
                    guid=e.get("id") or None,
                    summary=(e.get("summary") or "").strip() or None,
                    author=(e.get("author") or "").strip() or None,
                )
            )
            if len(out) >= limit:
                break
        if not out and parsed.get("bozo"):
            # A feed that parses to nothing usable is broken; a well-formed empty one is not.
            reason = parsed.get("bozo_exception") or "unreadable feed"
            raise SourceError(f"malformed feed: {reason}")
        return out
