"""A list page: article links by a CSS selector or found automatically, "next" pages followed
on the first poll, and per-source selectors that override the extractor on article pages."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import FetchError, SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import Kind, Listing, Poll, check_int, parse_when
from monitor.text import decode, html_to_text, normalize

DEFAULT_MAX_LINKS = 60
DEFAULT_MAX_PAGES = 5  # list pages read on the first poll when a "next" link is found
FIELD_SELECTORS = {
    "title_selector": "title",
    "body_selector": "body",
    "date_selector": "published_at",
    "author_selector": "author",
}
# Containers whose links are navigation, rankings or ads, not the page's own headline list.
_FURNITURE = re.compile(
    r"(^|[\s_-])(nav|gnb|lnb|snb|menu|header|footer|aside|side|sidebar|rank|ranking|popular|"
    r"most|best|hot|banner|ad|ads|util|login|breadcrumb|share|sns|copyright|family|weather|"
    r"tag|tags|paging|pagination)([\s_-]|\d|$)",
    re.I,
)
_FURNITURE_TAGS = {"nav", "header", "footer", "aside", "form"}
# A box headed like this is a ranking or promotion, whatever its class names say.
_FURNITURE_HEADING = re.compile(
    r"많이\s*(본|읽은)|인기\s*(기사|뉴스)|랭킹|실시간\s*(인기|급상승)|추천\s*(기사|뉴스)|"
    r"포토\s*뉴스|오늘의\s*포토|화제의\s*(기사|뉴스)|most\s+(read|viewed|popular)|trending",
    re.I,
)
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "header", "strong", "dt"}
# URL shapes Korean and international CMSes use for article pages.
_ARTICLE_URL = re.compile(
    r"(articleView|article_view|newsView|news_view|read\.|view\.|/article/|/articles/|/news/|"
    r"/story/|/\d{4}/\d{2}/\d{2}/|idxno=|aid=|no=\d|newsid|news_id|artid|art_id|\d{6,})",
    re.I,
)
_MIN_TITLE = 6
log = logging.getLogger("monitor.sources")


def _headed_as_furniture(node: LexborNode) -> bool:
    """Whether a box's own heading (its first element children) names a ranking or promo box."""
    child = node.child
    looked = 0
    while child is not None and looked < 2:
        if child.tag and not child.tag.startswith("-"):
            looked += 1
            label = f"{child.attributes.get('class') or ''}"
            heading = child.tag in _HEADING_TAGS or "title" in label or "tit" in label.split()
            if heading and _FURNITURE_HEADING.search((child.text(separator=" ") or "")[:60]):
                return True
        child = child.next
    return False


def _in_furniture(node: LexborNode) -> bool:
    """Whether a node sits inside navigation, a sidebar, a ranking box or a footer."""
    cur = node.parent
    while cur is not None and cur.tag not in {"body", "html"}:
        if cur.tag in _FURNITURE_TAGS:
            return True
        attrs = cur.attributes
        label = f"{attrs.get('id') or ''} {attrs.get('class') or ''} {attrs.get('role') or ''}"
        if label.strip() and _FURNITURE.search(label):
            return True
        if _headed_as_furniture(cur):
            return True
        cur = cur.parent
    return False


def _anchor(node: LexborNode) -> LexborNode | None:
    """The node itself if it is a link, else its first descendant link."""
    if node.tag == "a":
        return node
    return node.css_first("a[href]")


def _base_of(tree: LexborHTMLParser, page_url: str) -> str:
    """The URL relative links resolve against (<base href> when the page sets one)."""
    base_tag = tree.css_first("base[href]")
    return urljoin(page_url, base_tag.attributes.get("href") or "") if base_tag else page_url


def discover_links(
    html: str,
    base_url: str,
    selector: str | None = None,
    pattern: str | None = None,
    limit: int = DEFAULT_MAX_LINKS,
) -> list[Link]:
    """Article links on a list page, in page order, without menus and sidebars."""
    return _links_in(LexborHTMLParser(html), base_url, selector, pattern, limit)


def _links_in(
    tree: LexborHTMLParser,
    base_url: str,
    selector: str | None,
    pattern: str | None,
    limit: int,
) -> list[Link]:
    """discover_links() over an already parsed page."""
    base = _base_of(tree, base_url)
    host = urlsplit(base_url).hostname
    regex = re.compile(pattern) if pattern else None
    nodes = tree.css(selector) if selector else tree.css("a[href]")
    out: list[Link] = []
    seen: set[str] = set()
    for node in nodes:
        a = _anchor(node)
        if a is None:
            continue
        href = (a.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        if url in seen or not url.startswith(("http://", "https://")):
            continue
        title = normalize(a.text(separator=" ") or a.attributes.get("title") or "")
        if regex is not None:
            if not regex.search(url):
                continue
        elif not selector:
            # Automatic discovery: same host, headline-length text, article-shaped URL, and
            # not inside the page's furniture.
            if urlsplit(url).hostname != host or len(title) < _MIN_TITLE:
                continue
            if not _ARTICLE_URL.search(url) or _in_furniture(a):
                continue
        seen.add(url)
        out.append(Link(url=url, title=title or None))
        if len(out) >= limit:
            break
    return out


def next_page_url(tree: LexborHTMLParser, page_url: str, selector: str | None) -> str | None:
    """The list's next page: `next_selector` when given, else <link>/<a> rel=next."""
    base = _base_of(tree, page_url)
    if selector:
        candidates = tree.css(selector)
    else:
        candidates = [
            n
            for n in tree.css("link[rel][href], a[rel][href]")
            if "next" in (n.attributes.get("rel") or "").lower().split()
        ]
    for node in candidates:
        a = node if node.attributes.get("href") is not None else node.css_first("[href]")
        href = (a.attributes.get("href") or "").strip() if a is not None else ""
        if not href or href.startswith(("#", "javascript:")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        if url.startswith(("http://", "https://")) and url != page_url:
            return url
    return None


def selector_problem(selector: object) -> str | None:
    """Why a CSS selector cannot be used, or None when it can."""
    if not isinstance(selector, str) or not selector.strip():
        return f"expected a CSS selector, got {selector!r}"
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as exc:  # selectolax raises plain exceptions for bad selectors
        return f"invalid CSS selector {selector!r}: {exc}"
    return None


def read_fields(source: Source, html: str) -> dict[str, object]:
    """What the source's field selectors read on an article page (only the fields they find)."""
    s = source.settings
    wanted = {key: s[key] for key in FIELD_SELECTORS if s.get(key)}
    if not wanted:
        return {}
    tree = LexborHTMLParser(html)
    out: dict[str, object] = {}
    for key, selector in wanted.items():
        name = FIELD_SELECTORS[key]
        nodes = tree.css(selector)
        if not nodes:
            continue
        if name == "body":
            for node in nodes:
                for junk in node.css("script, style, noscript"):
                    junk.decompose()
            body = "\n".join(filter(None, (html_to_text(n.html or "") for n in nodes)))
            if body:
                out["body"] = body
        elif name == "published_at":
            node = nodes[0]
            raw = (
                node.attributes.get("datetime")
                or node.attributes.get("content")
                or node.text(separator=" ")
            )
            when = parse_when(raw)
            if when is not None:
                out["published_at"] = when
        else:
            node = nodes[0]
            text = normalize(node.text(separator=" ") or node.attributes.get("content") or "")
            if text:
                out[name] = text
    return out


class HtmlSource(Kind):
    """A portal's list page."""

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Selectors must parse; max_pages is a small whole number."""
        problems = check_int(settings, "max_pages", 1, 50)
        for key in ("next_selector", *FIELD_SELECTORS):
            if key in settings and (why := selector_problem(settings[key])):
                problems.append((key, why))
        return problems

    def parse(self, source: Source, page: Page) -> list[Link]:
        """The article links on one list page."""
        return self._read(source, page)[0]

    async def links(self, source: Source, page: Page, poll: Poll) -> Listing:
        """Page 1; on the first poll also the pages "next" leads to, up to max_pages."""
        links, tree = self._read(source, page)
        s = source.settings
        pages = int(s.get("max_pages", DEFAULT_MAX_PAGES)) if poll.first else 1
        seen_pages = {page.url}
        current = page
        for _ in range(pages - 1):
            nxt = next_page_url(tree, current.url, s.get("next_selector"))
            if nxt is None or nxt in seen_pages:
                break
            seen_pages.add(nxt)
            try:
                current = await poll.get(nxt)
            except FetchError as exc:
                # Page 1 was read: keep it, and say why the list stops short.
                log.warning("list page %s: %s", nxt, exc, extra={"url": nxt})
                return Listing(links, problems=(f"list page {nxt}: {exc}",))
            more, tree = self._read(source, current, required=False)
            known = {link.url for link in links}
            links.extend(link for link in more if link.url not in known)
        return Listing(links)

    def fields(self, source: Source, page: Page) -> dict[str, object]:
        """The source's title/body/date/author selectors, read on an article page."""
        if not any(source.settings.get(key) for key in FIELD_SELECTORS):
            return {}
        return read_fields(source, decode(page.body, page.content_type)[0])

    def _read(
        self, source: Source, page: Page, required: bool = True
    ) -> tuple[list[Link], LexborHTMLParser]:
        """Links on one list page, and the parsed page (for its "next" link)."""
        text, _codec = decode(page.body, page.content_type)
        tree = LexborHTMLParser(text)
        s = source.settings
        links = _links_in(
            tree,
            page.url,
            s.get("link_selector"),
            s.get("link_pattern"),
            int(s.get("max_links", DEFAULT_MAX_LINKS)),
        )
        if not links and s.get("link_selector") and required:
            raise SourceError(f"link_selector {s['link_selector']!r} matched no links")
        return links, tree
