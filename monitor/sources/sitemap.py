"""XML sitemaps: sitemap indexes, news sitemaps (news:title, news:publication_date) and gzip
sitemaps. Only entries newer than the newest one the last complete poll saw are listed."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from monitor.errors import FetchError, SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import (
    Kind,
    Listing,
    Poll,
    Request,
    check_int,
    clean_text,
    cursor_of,
    cursor_time,
    parse_when,
)

DEFAULT_MAX_ITEMS = 100  # entries taken per poll, newest first
DEFAULT_MAX_SITEMAPS = 5  # child sitemaps of an index read per poll, newest first
MAX_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit on an uncompressed file
_MAX_DEPTH = 2  # an index of indexes, and no deeper
log = logging.getLogger("monitor.sources")


@dataclass(frozen=True, slots=True)
class Entry:
    """One <url> of a sitemap."""

    url: str
    title: str | None  # news:title
    published_at: datetime | None  # news:publication_date
    lastmod: datetime | None

    @property
    def when(self) -> datetime | None:
        """The entry's date for ordering: published, else last modified."""
        return self.published_at or self.lastmod


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: entries (a <urlset>) or children (a <sitemapindex>)."""

    entries: list[Entry]
    children: list[tuple[str, datetime | None]]  # (loc, lastmod)


def _local(tag: object) -> str:
    """An element's name without its namespace (sitemaps in the wild vary the namespace)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(el: Any, name: str) -> str | None:
    """The text of an element's first direct child called `name` (any namespace)."""
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _find(el: Any, name: str) -> Any:
    """An element's first direct child called `name` (any namespace), or None."""
    for child in el:
        if _local(child.tag) == name:
            return child
    return None


def gunzip(body: bytes, limit: int = MAX_BYTES) -> bytes:
    """Inflate a gzip body (a .xml.gz served as a file), refusing one that inflates past `limit`."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SourceError(f"broken gzip sitemap: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise SourceError(f"gzip sitemap inflates past {limit} bytes")
    if not inflater.eof:
        raise SourceError("broken gzip sitemap: it ends before its data does")
    return data


def parse_sitemap(body: bytes) -> Sitemap:
    """Read a sitemap or sitemap index; anything else is a SourceError."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body)
    if not body.strip():
        raise SourceError("not a sitemap: the answer is empty")
    # No entities resolved, no network, no huge trees; recover from the small slips (a stray
    # "&" in a URL) that hand-made sitemaps carry.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=True, load_dtd=False
    )
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"not a sitemap: {exc}") from None
    if root is None:
        raise SourceError("not a sitemap: no XML in the answer")
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = []
        for el in root:
            if _local(el.tag) == "sitemap" and (loc := _child_text(el, "loc")):
                children.append((loc, parse_when(_child_text(el, "lastmod"))))
        return Sitemap([], children)
    if kind != "urlset":
        raise SourceError(f"not a sitemap: the root element is <{kind or root.tag}>")
    entries = []
    for el in root:
        if _local(el.tag) != "url" or not (loc := _child_text(el, "loc")):
            continue
        news = _find(el, "news")
        title = published = None
        if news is not None:
            raw_title = _child_text(news, "title")
            title = clean_text(raw_title) if raw_title else None
            published = parse_when(_child_text(news, "publication_date"))
        entries.append(Entry(loc, title, published, parse_when(_child_text(el, "lastmod"))))
    return Sitemap(entries, [])


def _newest_first(items: list[Any], when: Any) -> list[Any]:
    """Dated items newest first, then the undated ones in document order."""
    dated = sorted((i for i in items if when(i) is not None), key=when, reverse=True)
    return dated + [i for i in items if when(i) is None]


class SitemapSource(Kind):
    """A site's sitemap, news sitemap or sitemap index."""

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """max_sitemaps is a small whole number."""
        return check_int(settings, "max_sitemaps", 1, 100)

    def request(self, source: Source) -> Request:
        """The sitemap, read in full each poll: an index may stay the same while children change."""
        return Request(source.url, conditional=False)

    async def links(self, source: Source, page: Page, poll: Poll) -> Listing:
        """Entries newer than the cursor, newest first, up to max_items."""
        s = source.settings
        since = cursor_time(poll.cursor)
        problems: list[str] = []
        entries = await self._entries(parse_sitemap(page.body), source, poll, since, 0, problems)
        pattern = re.compile(s["link_pattern"]) if s.get("link_pattern") else None
        fresh: list[Entry] = []
        seen: set[str] = set()
        for e in _newest_first(entries, lambda e: e.when):
            if e.url in seen or not e.url.startswith(("http://", "https://")):
                continue
            if pattern is not None and not pattern.search(e.url):
                continue
            if since is not None and e.when is not None and e.when <= since:
                continue
            seen.add(e.url)
            fresh.append(e)
        fresh = fresh[: int(s.get("max_items", DEFAULT_MAX_ITEMS))]
        links = [Link(url=e.url, title=e.title, published_at=e.published_at) for e in fresh]
        return Listing(links, cursor_of([e.when for e in fresh], poll.cursor), tuple(problems))

    def parse(self, source: Source, page: Page) -> list[Link]:
        """Entries of one sitemap file (an index's children are not read)."""
        return [
            Link(url=e.url, title=e.title, published_at=e.published_at)
            for e in parse_sitemap(page.body).entries
        ]

    async def _entries(
        self,
        sitemap: Sitemap,
        source: Source,
        poll: Poll,
        since: datetime | None,
        depth: int,
        problems: list[str],
    ) -> list[Entry]:
        """The entries of a sitemap, reading an index's newer children (a broken one is noted
        in `problems` and passed over; when none can be read, the poll fails)."""
        if not sitemap.children:
            return sitemap.entries
        if depth >= _MAX_DEPTH:
            return []
        children = [
            (loc, lastmod)
            for loc, lastmod in _newest_first(sitemap.children, lambda c: c[1])
            if since is None or lastmod is None or lastmod > since
        ]
        limit = int(source.settings.get("max_sitemaps", DEFAULT_MAX_SITEMAPS))
        entries: list[Entry] = []
        read = 0
        for loc, _lastmod in children[:limit]:
            try:
                child = parse_sitemap((await poll.get(loc)).body)
            except (SourceError, FetchError) as exc:
                # Name the child: the index itself was fine. Stale indexes often list a child
                # that is gone; the others still count.
                problem = f"child sitemap {loc}: {exc}"
                log.warning("%s", problem, extra={"url": loc})
                problems.append(problem)
                continue
            read += 1
            entries.extend(await self._entries(child, source, poll, since, depth + 1, problems))
        if children[:limit] and not read:
            raise SourceError("; ".join(problems[-limit:]))
        return entries
