"""A list page whose article links are found by a CSS selector, or found automatically."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import SourceError
from monitor.models import Link, Page, Source
from monitor.text import decode, normalize

DEFAULT_MAX_LINKS = 60
# Containers whose links are navigation, rankings or ads, not the page's own headline list.
_FURNITURE = re.compile(
    r"(^|[\s_-])(nav|gnb|lnb|snb|menu|header|footer|aside|side|sidebar|rank|ranking|popular|"
    r"most|best|hot|banner|ad|ads|util|login|breadcrumb|share|sns|copyright|family|weather|"
    r"tag|tags|paging|pagination)([\s_-]|\d|$)",
    re.I,
)
_FURNITURE_TAGS = {"nav", "header", "footer", "aside", "form"}
# URL shapes Korean and international CMSes use for article pages.
_ARTICLE_URL = re.compile(
    r"(articleView|article_view|newsView|news_view|read\.|view\.|/article/|/articles/|/news/|"
    r"/story/|/\d{4}/\d{2}/\d{2}/|idxno=|aid=|no=\d|newsid|news_id|artid|art_id|\d{6,})",
    re.I,
)
_MIN_TITLE = 6


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
        cur = cur.parent
    return False


def _anchor(node: LexborNode) -> LexborNode | None:
    """The node itself if it is a link, else its first descendant link."""
    if node.tag == "a":
        return node
    return node.css_first("a[href]")


def discover_links(
    html: str,
    base_url: str,
    selector: str | None = None,
    pattern: str | None = None,
    limit: int = DEFAULT_MAX_LINKS,
) -> list[Link]:
    """Article links on a list page, in page order, without menus and sidebars."""
    tree = LexborHTMLParser(html)
    base_tag = tree.css_first("base[href]")
    base = urljoin(base_url, base_tag.attributes.get("href") or "") if base_tag else base_url
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


class HtmlSource:
    """A portal's list page."""

    def listing_url(self, source: Source) -> str:
        """The list page URL."""
        return source.url

    def links(self, source: Source, page: Page) -> list[Link]:
        """Find the article links on the list page."""
        text, _codec = decode(page.body, page.content_type)
        s = source.settings
        links = discover_links(
            text,
            page.url,
            selector=s.get("link_selector"),
            pattern=s.get("link_pattern"),
            limit=int(s.get("max_links", DEFAULT_MAX_LINKS)),
        )
        if not links and s.get("link_selector"):
            raise SourceError(f"link_selector {s['link_selector']!r} matched no links")
        return links
