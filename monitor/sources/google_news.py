"""A Google News RSS search (Korean edition), built from a rule's terms or an explicit query.

Google News item links point at news.google.com, not at the publisher. An older link carries
the article URL inside its id, which is read here without any request. A newer one (ids since
2024) is resolved only by script on Google's page, so such an item is named by its title and
publisher and kept as the feed tells it; its page is not fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from monitor.errors import SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import Kind, Request, clean_text
from monitor.sources.feed import parse_feed, when_of

SEARCH_URL = "https://news.google.com/rss/search"
EDITION = {"hl": "ko", "gl": "KR", "ceid": "KR:ko"}  # Korean-language news for Korea
DEFAULT_MAX_ITEMS = 100  # a search feed holds at most about a hundred items
_ARTICLE_ID = re.compile(r"/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]{8,})")
# Rule-language tokens: a quoted phrase, a /regex/, a parenthesis, or a run of other characters.
_RULE_TOKEN = re.compile(r'-?"[^"]*"|-?/(?:\\/|[^/\s])(?:\\/|[^/])*/|-?\(|\)|[^\s()"]+')


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A protobuf varint at `pos`: (value, next position)."""
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def decode_article_url(link: str) -> str | None:
    """The publisher's URL carried inside a Google News article id, when the id carries one.

    The id is URL-safe base64 of a small protobuf message; in the older form one of its
    length-delimited fields is the article URL itself.
    """
    m = _ARTICLE_ID.search(urlsplit(link).path)
    if not m:
        return None
    token = m.group(1)
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            wire = key & 7
            if wire == 0:
                _value, pos = _varint(data, pos)
            elif wire == 2:
                size, pos = _varint(data, pos)
                chunk = data[pos : pos + size]
                pos += size
                if chunk.startswith((b"http://", b"https://")):
                    url = chunk.decode("utf-8", errors="strict")
                    if urlsplit(url).hostname:
                        return url
            else:
                return None  # a field shape the older ids never use: not one of them
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def identity_url(title: str, publisher: str | None, publisher_url: str | None) -> str:
    """A stable name for an article known only by title and publisher: a search finding it."""
    site = urlsplit(publisher_url).hostname if publisher_url else None
    words = f'"{title}" site:{site}' if site else f'"{title}" {publisher or ""}'.strip()
    return "https://news.google.com/search?" + urlencode({"q": words, **EDITION})


def search_terms(rule_query: str) -> str:
    """A rule query in Google's search syntax: title: becomes intitle:, what Google cannot
    search (source:, url:, /regex/, body:) is dropped; the rule still filters what is stored."""
    out: list[str] = []
    for token in _RULE_TOKEN.findall(rule_query.replace("（", "(").replace("）", ")")):
        negated = token.startswith("-") and len(token) > 1
        bare = token[1:] if negated else token
        field, _, rest = bare.partition(":")
        if bare.startswith("/") and bare.endswith("/") and len(bare) > 1:
            continue
        if rest and field.lower() in {"source", "url"}:
            continue
        if rest and field.lower() == "title":
            bare = "intitle:" + rest
        elif rest and field.lower() == "body":
            bare = rest
        elif not rest and field.lower() in {"title", "body", "source", "url"} and _ == ":":
            continue  # a field prefix before a group: search the group anywhere
        out.append(("-" if negated else "") + bare)
    text = " ".join(out)
    text = re.sub(r"\(\s*\)", "", text)  # a group left empty by dropped tokens
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    return re.sub(r"\s+", " ", text).strip()


def query_of(source: Source) -> str:
    """The search words: `query` as written, else the rule's terms."""
    s = source.settings
    if s.get("query"):
        return str(s["query"])
    if s.get("rule_query"):
        return search_terms(str(s["rule_query"]))
    raise SourceError("google-news needs `query` or `rule`")


class GoogleNewsSource(Kind):
    """Google News search results as RSS."""

    any_site = True  # results come from every publisher

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Exactly one of query and rule."""
        query, rule = settings.get("query"), settings.get("rule")
        if query is not None and rule is not None:
            return [("query", "give `query` or `rule`, not both")]
        if query is None and rule is None:
            return [("rule", 'required: a rule name (rule = "pt-port") or an explicit query')]
        key, value = ("query", query) if query is not None else ("rule", rule)
        if not isinstance(value, str) or not value.strip():
            return [(key, f"expected text, got {value!r}")]
        return []

    def request(self, source: Source) -> Request:
        """The search feed URL for the source's words, in the Korean edition."""
        base = source.url or SEARCH_URL
        params = urlencode({"q": query_of(source), **EDITION})
        return Request(f"{base}{'&' if '?' in base else '?'}{params}")

    def parse(self, source: Source, page: Page) -> list[Link]:
        """Items as links: the publisher's URL where the id carries it, else title + publisher."""
        parsed = parse_feed(page)
        entries = parsed.get("entries") or []
        if not entries and not parsed.get("feed"):
            raise SourceError("not a Google News feed: no channel and no items")
        limit = int(source.settings.get("max_items", DEFAULT_MAX_ITEMS))
        out: list[Link] = []
        seen: set[str] = set()
        for e in entries:
            link = (e.get("link") or "").strip()
            if not link.startswith(("http://", "https://")) or link in seen:
                continue
            seen.add(link)
            origin = e.get("source") or {}
            publisher = (origin.get("title") or "").strip() or None
            title = clean_text(e.get("title") or "")
            # Google appends " - publisher" to every headline.
            if publisher and title.endswith(" - " + publisher):
                title = title[: -len(publisher) - 3].rstrip()
            resolved = decode_article_url(link)
            out.append(
                Link(
                    url=resolved or link,
                    title=title or None,
                    published_at=when_of(e.get("published_parsed") or e.get("updated_parsed")),
                    guid=e.get("id") or link,
                    summary=(e.get("summary") or "").strip() or None,
                    canonical_url=None
                    if resolved
                    else identity_url(title, publisher, origin.get("href")),
                    fetch=resolved is not None,
                )
            )
            if len(out) >= limit:
                break
        if not out and parsed.get("bozo"):
            raise SourceError(f"malformed feed: {parsed.get('bozo_exception') or 'unreadable'}")
        return out
