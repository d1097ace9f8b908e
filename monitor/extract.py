"""Article extraction: page bytes + URL -> Article, as a cascade of small pure functions.

The page is parsed once with lexbor. Metadata comes first, from the most explicit source to
the least: JSON-LD, OpenGraph/article:* meta, Dublin Core and microdata, then what a reader
sees (byline and date lines). The body is found by walking the tree once into text blocks,
choosing the subtree whose text is densest in prose and poorest in links, and then dropping
furniture inside it (captions, related lists, reporter boxes, copyright and tip lines).
Bodies that live only in inline JSON state are read from there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.errors import ExtractError
from monitor.models import Article
from monitor.text import decode

__all__ = ["extract_article"]

SEOUL = ZoneInfo("Asia/Seoul")

# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def extract_article(html: bytes | str, url: str, content_type: str | None = None) -> Article:
    """Extract one article from a page; raise ExtractError when it holds no story text."""
    text = decode_page(html, content_type) if isinstance(html, bytes) else html
    tree = LexborHTMLParser(text)
    meta = read_meta(tree)
    ld = read_json_ld(tree)
    state = read_json_state(tree)
    lang = find_lang(tree, meta, ld)
    title = find_title(tree, meta, ld, state)
    page = linearize(tree)
    korean = is_korean(lang, title or "") or (not lang and page.hangul)
    known = known_container(tree, page)
    selection = [known] if known is not None else choose_story(page)
    container = (
        selection[0]
        if len(selection) == 1
        else page.spans[selection[0].parent]
        if selection
        else None
    )
    local_tz: tzinfo = SEOUL if korean else UTC
    window = date_window(page, container, title)
    published, modified = find_dates(tree, meta, ld, state, window, local_tz)
    body_lines, tail = find_body(page, selection, title, ld, state)
    # Sign-offs ("홍길동 기자 hong@example.kr") are cut from the body but name the author.
    edge = [b.text for b in page.blocks[container.first : container.last][-6:]] if container else []
    author = find_author(tree, meta, ld, state, body_lines + tail + edge, korean)
    if not body_lines and not title:
        raise ExtractError(f"no article found at {url}")
    if not body_lines:
        raise ExtractError(f"no article body found at {url}")
    return Article(
        url=url,
        title=title or body_lines[0][:200],
        body="\n".join(body_lines),
        published_at=published,
        author=author,
        canonical_url=find_canonical(tree, meta, url),
        modified_at=modified,
        lang=lang or ("ko" if korean else None),
        description=find_description(meta, ld),
    )


def decode_page(body: bytes, content_type: str | None) -> str:
    """Decode page bytes, distrusting a single-byte header charset the page itself contradicts.

    Servers often label everything ISO-8859-1 by default while the page declares (and is)
    EUC-KR; the page's own declaration is then the better witness.
    """
    text, codec = decode(body, content_type)
    if codec == "cp1252" and content_type and not body.isascii():
        own, own_codec = decode(body, None)
        if own_codec != "cp1252":
            return own
    return text


# ---------------------------------------------------------------------------------------------
# Small text helpers
# ---------------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def squash(text: str) -> str:
    """Collapse runs of whitespace (including NBSP) into single spaces and trim."""
    return " ".join(text.split())


def is_korean(lang: str | None, sample: str) -> bool:
    """Whether a page is Korean: its declared language, else the script of a text sample."""
    if lang:
        return lang.lower().startswith("ko")
    return bool(_HANGUL.search(sample))


# ---------------------------------------------------------------------------------------------
# Metadata sources
# ---------------------------------------------------------------------------------------------


def read_meta(tree: LexborHTMLParser) -> dict[str, str]:
    """Collect <meta> values keyed by lower-cased property/name/itemprop; first one wins."""
    found: dict[str, str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        content = attrs.get("content")
        if content is None:
            continue
        content = squash(content)
        if not content:
            continue
        for key_attr in ("property", "name", "itemprop", "http-equiv"):
            key = attrs.get(key_attr)
            if key:
                found.setdefault(key.strip().lower(), content)
    return found


@dataclass(slots=True)
class LinkedData:
    """What JSON-LD says about the article (NewsArticle/Article, possibly inside @graph)."""

    headline: str | None = None
    published: str | None = None
    modified: str | None = None
    authors: list[str] = field(default_factory=list)
    body: str | None = None
    description: str | None = None
    lang: str | None = None
    publisher: str | None = None


_ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "socialmediaposting",
    "liveblogposting",
    "techarticle",
    "scholarlyarticle",
    "report",
    "review",
}


def _ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    """Yield every JSON-LD object, flattening lists and @graph containers."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _ld_objects(graph)
        main = data.get("mainEntity")
        if isinstance(main, dict | list):
            yield from _ld_objects(main)


def _ld_types(obj: dict[str, Any]) -> set[str]:
    """The lower-cased @type names of a JSON-LD object."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def _ld_names(value: Any) -> list[str]:
    """Names from a JSON-LD author/creator value (string, object or list of either)."""
    names: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            name = item
        elif isinstance(item, dict):
            name = item.get("name") or ""
            if not isinstance(name, str):
                continue
        else:
            continue
        name = squash(name)
        if name and not name.startswith("http"):
            names.append(name)
    return names


def _loads_lenient(text: str) -> Any:
    """Parse JSON that pages often break with raw control characters; None when hopeless."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    # Stray trailing semicolons and HTML comments wrap some blocks.
    cleaned = text.strip().removeprefix("<!--").removesuffix("-->").strip().rstrip(";")
    try:
        return json.loads(cleaned, strict=False)
    except ValueError:
        return None


def read_json_ld(tree: LexborHTMLParser) -> LinkedData:
    """Read the article object out of every <script type=application/ld+json> block."""
    ld = LinkedData()
    for script in tree.css('script[type="application/ld+json"]'):
        data = _loads_lenient(script.text(deep=True))
        if data is None:
            continue
        for obj in _ld_objects(data):
            types = _ld_types(obj)
            if not types & _ARTICLE_TYPES:
                if not ld.publisher and types & {"organization", "newsmediaorganization"}:
                    name = obj.get("name")
                    ld.publisher = name if isinstance(name, str) else None
                continue
            _merge_ld_article(ld, obj)
    return ld


def _merge_ld_article(ld: LinkedData, obj: dict[str, Any]) -> None:
    """Fill the empty fields of `ld` from one JSON-LD article object."""

    def text_of(key: str) -> str | None:
        value = obj.get(key)
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = value[0]
        return squash(value) if isinstance(value, str) and value.strip() else None

    ld.headline = ld.headline or text_of("headline") or text_of("name")
    ld.published = ld.published or text_of("datePublished") or text_of("dateCreated")
    ld.modified = ld.modified or text_of("dateModified")
    ld.description = ld.description or text_of("description")
    ld.lang = ld.lang or text_of("inLanguage")
    if not ld.authors:
        ld.authors = _ld_names(obj.get("author")) or _ld_names(obj.get("creator"))
    body = obj.get("articleBody") or obj.get("text")
    if isinstance(body, str) and body.strip() and not ld.body:
        ld.body = body
    publisher = obj.get("publisher")
    if not ld.publisher and isinstance(publisher, dict | list):
        names = _ld_names(publisher)
        ld.publisher = names[0] if names else None


@dataclass(slots=True)
class JsonState:
    """Article fields found in a page's inline application state (Arc XP/Fusion and kin)."""

    paragraphs: list[str] = field(default_factory=list)
    headline: str | None = None
    published: str | None = None
    modified: str | None = None
    authors: list[str] = field(default_factory=list)


_STATE_MARKERS = ("Fusion.globalContent=", "Fusion.globalContent =")
_TAG = re.compile(r"<[^>]+>")


def read_json_state(tree: LexborHTMLParser) -> JsonState:
    """Read the article out of inline JSON state, where some CMSs keep the only copy."""
    state = JsonState()
    for script in tree.css("script"):
        if script.attributes.get("src"):
            continue
        code = script.text(deep=True)
        for marker in _STATE_MARKERS:
            at = code.find(marker)
            if at < 0:
                continue
            try:
                data, _end = json.JSONDecoder(strict=False).raw_decode(code, at + len(marker))
            except ValueError:
                continue
            if isinstance(data, dict):
                _read_arc(state, data)
                return state
    return state


def _read_arc(state: JsonState, content: dict[str, Any]) -> None:
    """Fill `state` from an Arc XP ANS story (content_elements, credits, dates)."""
    for element in content.get("content_elements") or []:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        raw = element.get("content")
        if kind in {"text", "header"} and isinstance(raw, str):
            line = squash(_unescape(_TAG.sub("", raw.replace("<br/>", "\n"))))
            if line:
                state.paragraphs.append(line)
    headlines = content.get("headlines")
    if isinstance(headlines, dict) and isinstance(headlines.get("basic"), str):
        state.headline = squash(headlines["basic"]) or None
    for key in ("first_publish_date", "display_date", "publish_date"):
        if isinstance(content.get(key), str):
            state.published = content[key]
            break
    if isinstance(content.get("last_updated_date"), str):
        state.modified = content["last_updated_date"]
    credits = content.get("credits")
    by = credits.get("by") if isinstance(credits, dict) else None
    for person in by if isinstance(by, list) else []:
        if not isinstance(person, dict):
            continue
        original = (person.get("additional_properties") or {}).get("original") or {}
        byline = original.get("byline") if isinstance(original, dict) else None
        name = byline if isinstance(byline, str) and byline.strip() else person.get("name")
        if isinstance(name, str) and name.strip():
            state.authors.append(squash(name))


def _unescape(text: str) -> str:
    """Decode HTML character references in a fragment taken from JSON."""
    import html

    return html.unescape(text)


def find_lang(tree: LexborHTMLParser, meta: dict[str, str], ld: LinkedData) -> str | None:
    """The page language: <html lang>, then meta, then JSON-LD."""
    root = tree.root
    lang = root.attributes.get("lang") if root is not None else None
    if not lang and root is not None:
        lang = root.attributes.get("xml:lang")
    lang = (
        lang
        or meta.get("content-language")
        or meta.get("dc.language")
        or meta.get("og:locale")
        or meta.get("inlanguage")
        or ld.lang
    )
    if not lang:
        return None
    return lang.strip().replace("_", "-").split(",")[0].lower() or None


def find_canonical(tree: LexborHTMLParser, meta: dict[str, str], url: str) -> str | None:
    """The URL the page declares for itself (<link rel=canonical>, og:url), made absolute."""
    for node in tree.css('link[rel="canonical"]'):
        href = (node.attributes.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    og = meta.get("og:url")
    return urljoin(url, og) if og else None


def find_description(meta: dict[str, str], ld: LinkedData) -> str | None:
    """A short summary: og:description first, as plain meta descriptions are often site-wide."""
    return (
        meta.get("og:description")
        or ld.description
        or meta.get("twitter:description")
        or meta.get("description")
    )


# ---------------------------------------------------------------------------------------------
# Title
# ---------------------------------------------------------------------------------------------

_TITLE_SEP = re.compile(r"\s+[-|–—:·»]\s+|\s*\|\s*|\s+::\s+|\s+-{2}\s+")


def find_title(
    tree: LexborHTMLParser, meta: dict[str, str], ld: LinkedData, state: JsonState
) -> str | None:
    """The headline without a site-name suffix, by agreement between its several copies."""
    site = meta.get("og:site_name") or ""
    tag = tree.css_first("title")
    title_tag = squash(tag.text()) if tag is not None else ""
    headings = [squash(h.text()) for h in tree.css("h1")[:4]]
    headings = [h for h in headings if h]
    candidates = [
        meta.get("og:title"),
        ld.headline,
        state.headline,
        meta.get("twitter:title"),
        meta.get("title"),
        meta.get("dc.title"),
        meta.get("headline"),
        title_tag,
    ]
    for cand in candidates:
        if not cand:
            continue
        cleaned = strip_site_name(cand, headings, site, title_tag)
        if cleaned and not _is_site_name(cleaned, site, title_tag, candidates):
            return cleaned
    return headings[0] if headings else None


def strip_site_name(title: str, headings: list[str], site: str, title_tag: str) -> str:
    """Remove a ' - Site' / ' | Section | Site' / ' : News : Site' decoration from a title."""
    title = squash(title)
    for heading in headings:
        if heading == title:
            return title
    parts = _TITLE_SEP.split(title)
    if len(parts) == 1:
        return title
    # The headline is the copy that also stands as the page's <h1>.
    seps = _TITLE_SEP.findall(title)
    for n in range(len(parts) - 1, 0, -1):
        prefix = parts[0] + "".join(s + p for s, p in zip(seps[: n - 1], parts[1:n], strict=False))
        if prefix in headings:
            return prefix
    for n in range(1, len(parts)):
        suffix = "".join(p + s for p, s in zip(parts[n:-1], seps[n:], strict=False)) + parts[-1]
        if suffix in headings:
            return suffix
    site_l = site.lower()
    if site_l and (parts[-1].lower() in site_l or site_l in parts[-1].lower()):
        joined = title[: title.rfind(parts[-1])]
        return _trim_sep(joined)
    if site_l and (parts[0].lower() in site_l or site_l in parts[0].lower()):
        return _trim_sep(title[len(parts[0]) :])
    # Without an <h1> to agree with, drop short trailing parts that read like site names.
    if title == title_tag and len(parts[0]) >= 2 * max(len(p) for p in parts[1:]):
        return parts[0]
    return title


def _trim_sep(text: str) -> str:
    """Trim separators and spaces from both ends of a title fragment."""
    return text.strip().strip("-|–—:·»").strip()


def _is_site_name(title: str, site: str, title_tag: str, candidates: list[str | None]) -> bool:
    """A 'title' that is only the site's name (some pages set <title> to it)."""
    if site and title.lower() == site.lower():
        return True
    return title == title_tag and any(c and c != title and title in c for c in candidates[:3])


# ---------------------------------------------------------------------------------------------
# Linearised page: the tree walked once into text blocks
# ---------------------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "address",
        "hr",
        "center",
        "details",
        "summary",
        "caption",
        "body",
        "html",
        "hgroup",
        "menu",
        "legend",
        "label",
        "option",
    ]
)
# Never text a reader sees as article prose.
_SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "canvas",
        "button",
        "select",
        "input",
        "textarea",
        "object",
        "embed",
        "video",
        "audio",
        "map",
        "head",
        "title",
        "meta",
        "link",
        "frameset",
        "frame",
        "applet",
        "math",
        "picture",
        "source",
    ]
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Containers whose text is furniture whatever it says.
# (Not <form>: ASP.NET pages wrap the whole page in one.)
_FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "figcaption", "figure", "menu"})

# class/id words that mark furniture, matched per '-'/'_'-separated part of each token.
_FURNITURE_PARTS = frozenset(
    [
        "related",
        "relate",
        "recomm",
        "popular",
        "ranking",
        "rank",
        "sidebar",
        "aside",
        "sidenav",
        "share",
        "sharing",
        "sns",
        "snsbox",
        "util",
        "toolbar",
        "toolbox",
        "comment",
        "comments",
        "reply",
        "cmt",
        "disqus",
        "livere",
        "byline",
        "reporter",
        "repoter",
        "journalist",
        "writer",
        "profile",
        "caption",
        "figcaption",
        "credit",
        "copyright",
        "footer",
        "foot",
        "gnb",
        "lnb",
        "snb",
        "nav",
        "navi",
        "navigation",
        "menu",
        "breadcrumb",
        "breadcrumbs",
        "banner",
        "ad",
        "ads",
        "adsense",
        "dable",
        "taboola",
        "outbrain",
        "newsletter",
        "subscribe",
        "subscription",
        "signup",
        "modal",
        "popup",
        "consent",
        "tag",
        "tags",
        "keyword",
        "hashtag",
        "print",
        "font",
        "fontsize",
        "weather",
        "blind",
        "skip",
        "mostread",
        "mostviewed",
        "hotnews",
        "imgdesc",
        "photodesc",
        "morenews",
        "othernews",
        "newslist",
    ]
)
_FURNITURE_PAIRS = frozenset(
    [
        "most-read",
        "most-viewed",
        "most-popular",
        "hot-news",
        "best-news",
        "side-bar",
        "tool-box",
        "u-cbox",
        "author-bio",
        "author-box",
        "author-info",
        "author-card",
        "img-desc",
        "photo-desc",
        "photo-txt",
        "font-size",
        "more-news",
        "other-news",
        "news-list",
        "list-news",
        "screen-reader",
        "sr-only",
        "visually-hidden",
        "rel-news",
        # Not "social" alone: "social-media-embed" holds quoted posts that belong to the story.
        "social-share",
        "social-links",
        "social-icons",
        "social-buttons",
        "social-bar",
        "social-follow",
    ]
)
_FURNITURE_PREFIXES = ("recommend", "trend", "advert", "promo", "sponsor", "cookie", "related")
# Class tokens that describe a neighbour or a state, not the element ("has-sidebar",
# WordPress's "tag-politics", "category-news").
_MODIFIERS = frozenset(
    [
        "has",
        "with",
        "w",
        "and",
        "no",
        "is",
        "tag",
        "category",
        "categories",
        "cat",
        "topic",
        "post",
        "type",
        "format",
        "status",
        "single",
        "page",
        "template",
        "wp",
        "js",
        "theme",
        "layout",
        "show",
        "hide",
        "hidden",
        "visible",
        "text",
        "align",
    ]
)
# Words that rescue an element from the furniture list (the body itself), '-'/'_' removed.
_BODY_MARKS = (
    "articlebody",
    "articlecontent",
    "articletext",
    "articletxt",
    "articleview",
    "newsbody",
    "newscontent",
    "newstext",
    "newstxt",
    "storybody",
    "storycontent",
    "storytext",
    "postbody",
    "postcontent",
    "entrycontent",
    "arttxt",
    "artbody",
    "dicarea",
    "newsctarticle",
    "viewcon",
    "textbody",
    "bodytext",
    "contentbody",
    "contentsbody",
)
_SEPARATORS = str.maketrans("_", "-")
_FURNITURE_ANY = _FURNITURE_PARTS | {p for pair in _FURNITURE_PAIRS for p in pair.split("-")}


def _furniture_token(token: str) -> bool:
    """Whether one class token names furniture ("related-news", "sns_box", "ad")."""
    parts = token.translate(_SEPARATORS).split("-")
    if len(parts) > 1 and parts[0] in _MODIFIERS:
        return False
    for i, part in enumerate(parts):
        if part in _FURNITURE_PARTS or part.startswith(_FURNITURE_PREFIXES):
            return True
        if i and f"{parts[i - 1]}-{part}" in _FURNITURE_PAIRS:
            return True
    return False


@dataclass(slots=True)
class Block:
    """One line of text as a reader sees it, with where it came from."""

    text: str
    links: int  # characters of text inside <a>
    tag: str  # the nearest enclosing block element
    span: int  # index of that element in Page.spans (-1: directly in <body>)
    heading: bool
    buried: bool  # inside an element that reads as furniture
    teaser: bool = False  # opens with a link that is a fair share of it (a headline + blurb)
    good: int = 0  # prose weight, see _good()


@dataclass(slots=True)
class Span:
    """An element's reach over the block list: blocks[first:last] are its text."""

    node: LexborNode
    tag: str
    parent: int  # index of the enclosing span, -1 for <body>
    first: int
    last: int
    depth: int
    furniture: bool  # the element itself reads as furniture
    buried: bool  # some ancestor does
    bodyish: bool


@dataclass(slots=True)
class Page:
    """A page walked once: its text blocks and the elements that hold them."""

    blocks: list[Block]
    spans: list[Span]
    hangul: bool


def _marks(attrs: dict[str, str | None]) -> str:
    """Lower-cased 'class id' string of an element, for pattern tests."""
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower().strip()


def _classes(node: LexborNode) -> str:
    """Lower-cased 'class id' string of a node."""
    return _marks(node.attributes)


_FURNITURE_ROLES = frozenset(
    {"navigation", "complementary", "contentinfo", "banner", "menu", "dialog", "alert"}
)


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    """Whether an element is furniture by its ARIA role, or hidden from readers."""
    if attrs.get("role") in _FURNITURE_ROLES:
        return True
    if attrs.get("aria-hidden") == "true" or "hidden" in attrs:
        return True
    style = attrs.get("style")
    if not style or "none" not in style:
        return False
    return "display:none" in style.replace(" ", "").lower()


@lru_cache(maxsize=1 << 16)
def _marks_verdict(cls: str | None, ident: str | None) -> tuple[bool, bool]:
    """(furniture, body) verdicts for an element's class and id; pages repeat them, so cached."""
    if not cls and not ident:
        return False, False
    marks = f"{cls or ''} {ident or ''}".lower()
    # Most class strings name no furniture part at all: rule them out with set and substring
    # tests before looking at each token.
    parts = marks.replace("_", " ").replace("-", " ").split()
    furniture = (
        not _FURNITURE_ANY.isdisjoint(parts) or any(p in marks for p in _FURNITURE_PREFIXES)
    ) and any(_furniture_token(token) for token in marks.split())
    compact = marks.replace("-", "").replace("_", "")
    body = (
        "body" in compact
        or "content" in compact
        or "text" in compact
        or "txt" in compact
        or "view" in compact
        or "dic" in compact
        or "newsct" in compact
    ) and any(word in compact for word in _BODY_MARKS)
    return furniture, body


def media_boxes(tree: LexborHTMLParser) -> set[int]:
    """Elements that hold an image and only a caption's worth of text (photo boxes)."""
    boxes: set[int] = set()
    for img in tree.css("img"):
        node = img.parent
        top: LexborNode | None = None
        for _ in range(4):
            if node is None or node.tag in {"p", "body", "article", "main", "td", "html"}:
                break
            if len(node.text(deep=True).strip()) > 300:
                break
            top = node
            node = node.parent
        if top is not None and top.text(deep=True).strip():
            boxes.add(top.mem_id)
    return boxes


def _subtree_end(node: LexborNode) -> int:
    """mem_id of the first node after `node`'s subtree that the walk visits (0: none)."""
    while node is not None:
        after = node.next
        while after is not None and after.is_empty_text_node:
            after = after.next  # the walk skips whitespace-only text
        if after is not None:
            return after.mem_id
        parent = node.parent
        if parent is None:
            return 0
        node = parent
    return 0


_SKIP, _LINK = -2, -1


def linearize(tree: LexborHTMLParser) -> Page:
    """Walk the <body> once into text blocks, recording which elements hold which blocks.

    lexbor's C traversal yields nodes in document order without closing events, so each
    element we track remembers the node that follows its subtree; meeting that node closes it.
    Whitespace-only text nodes (a third of most pages) are skipped in C; the one place they
    matter, between two inline elements ("<b>Jane</b> <i>Doe</i>"), is checked per element.
    """
    blocks: list[Block] = []
    spans: list[Span] = []
    root = tree.body
    if root is None:
        return Page(blocks, spans, hangul=False)
    boxes = media_boxes(tree)
    buf: list[str] = []
    links = 0
    # Open block elements, innermost last: (tag, depth, inside furniture, span index).
    open_tags: list[tuple[str, int, bool, int]] = [("body", 0, False, -1)]
    ends: list[int] = []  # per tracked open element: mem_id of the node that closes it
    kinds: list[int] = []  # per tracked open element: span index, _LINK or _SKIP

    has_text = False  # whether `buf` holds more than whitespace

    lead_link = False  # whether the first text of `buf` sits in a link

    def flush() -> None:
        nonlocal links, has_text, lead_link
        if has_text:
            text = squash("".join(buf))
            tag, _depth, buried, index = open_tags[-1]
            heading = tag in _HEADINGS
            n = len(text)
            teaser = lead_link and links * 7 > n
            block = Block(text, min(links, n), tag, index, heading, buried, teaser)
            block.good = _good(block)
            blocks.append(block)
        buf.clear()
        links = 0
        has_text = False

    in_link = 0
    skipping = 0
    nodes = root.traverse(include_text=True, skip_empty=True)
    next(nodes)  # <body> itself
    for node in nodes:
        mem_id = node.mem_id
        while ends and ends[-1] == mem_id:
            ends.pop()
            kind = kinds.pop()
            if kind == _SKIP:
                skipping -= 1
            elif kind == _LINK:
                in_link -= 1
            else:
                if buf:
                    flush()
                spans[kind].last = len(blocks)
                open_tags.pop()
        if skipping:
            continue
        tag = node.tag
        if tag == "-text":
            value = node.text_content
            if value:
                if not has_text:
                    lead_link = in_link > 0
                buf.append(value)
                has_text = True
                if in_link:
                    links += len(value.strip())
            continue
        if tag is None or tag[0] in "-_!":
            continue
        if tag in _SKIP_TAGS:
            skipping += 1
            ends.append(_subtree_end(node))
            kinds.append(_SKIP)
            continue
        if tag == "br":
            if buf:
                flush()
            continue
        if tag in _BLOCK_TAGS or mem_id in boxes:
            if buf:
                flush()
            attrs = node.attributes
            if attrs:
                marked, bodyish = _marks_verdict(attrs.get("class"), attrs.get("id"))
                bodyish = bodyish or attrs.get("itemprop") == "articleBody"
                # "l-sidebar-fixed l-article-body": a body word outweighs a layout word.
                furniture = tag in _FURNITURE_TAGS or (
                    (marked or _is_hidden(attrs)) and not bodyish
                )
            else:
                bodyish = False
                furniture = tag in _FURNITURE_TAGS
            furniture = furniture or mem_id in boxes
            _up, parent_depth, buried, parent = open_tags[-1]
            depth = parent_depth + 1
            index = len(spans)
            spans.append(
                Span(node, tag, parent, len(blocks), len(blocks), depth, furniture, buried, bodyish)
            )
            open_tags.append((tag, depth, buried or furniture, index))
            ends.append(_subtree_end(node))
            kinds.append(index)
        else:
            if buf:
                before = node.prev
                if before is not None and before.is_empty_text_node:
                    buf.append(" ")
            if tag == "a":
                in_link += 1
                ends.append(_subtree_end(node))
                kinds.append(_LINK)
    if buf:
        flush()
    while kinds:
        kind = kinds.pop()
        if kind >= 0:
            spans[kind].last = len(blocks)
    hangul = any(_HANGUL.search(b.text) for b in blocks[:: max(1, len(blocks) // 50)])
    page = Page(blocks, spans, hangul)
    _overrule_marks(page)
    return page


def _overrule_marks(page: Page) -> None:
    """Unmark furniture that holds most of the page's prose ("gnb-news" on a page wrapper)."""
    goods = [0]
    for block in page.blocks:
        goods.append(goods[-1] + block.good)
    total = goods[-1]
    wrong = [s for s in page.spans if s.furniture and goods[s.last] - goods[s.first] > total / 2]
    if not wrong:
        return
    for span in wrong:
        span.furniture = False
    spans = page.spans
    for span in spans:  # parents come before children
        up = spans[span.parent] if span.parent >= 0 else None
        span.buried = up is not None and (up.buried or up.furniture)
    for block in page.blocks:
        owner = spans[block.span] if block.span >= 0 else None
        block.buried = owner is not None and (owner.buried or owner.furniture)


# ---------------------------------------------------------------------------------------------
# Body
# ---------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?。…\"'”’)\]다요죠까음함임]\s*$")
_COPYRIGHT = re.compile(
    r"ⓒ|©|\(c\)\s*\S|copyright|저작권자|무단\s*전재|무단전재|재배포\s*금지|재배포금지|"
    r"all rights reserved|AI\s*학습\s*(?:및\s*)?활용\s*금지",
    re.I,
)
# Lines that close Korean stories but are not the story: tips, credits, links, hashtags.
_TRAILER = re.compile(
    r"제보|카카오톡|카톡|\[전화\]|\[메일\]|\[이메일\]|^\s*\(끝\)\s*$|^\s*<끝>\s*$|"
    r"@[\w-]+\.[\w.]+|\b0\d{1,2}-\d{3,4}-\d{4}\b|^\s*[▶☞▷◆■]|^\s*#\S+(?:\s+#\S+)+\s*$|"
    r"영상(?:취재|편집|기자)|촬영기자|그래픽\s*:|관련기사|^\s*\[[^]]*(?:영상|편집|그래픽|사진)[^]]*\]\s*$|"
    r"기사문의|구독|채널\s*추가|네이버에서|바로가기|more\s+stories|related:",
    re.I,
)
_ALWAYS_DROP = re.compile(
    r"브라우저가\s*video\s*태그를|다른\s*브라우저를\s*사용|본문배너|^\s*광고\s*$|"
    r"^\s*(?:advertisement|sponsored|loading\.*)\s*$|재생\s*중\s*오류",
    re.I,
)


def _good(block: Block) -> int:
    """Prose weight of a block: its length when it reads like prose, else 0."""
    n = len(block.text)
    if block.links * 3 > n or block.teaser:
        return 0
    if n >= 40 or (n >= 15 and _SENTENCE_END.search(block.text)):
        return n - block.links
    return 0


def _bad(block: Block) -> int:
    """Furniture weight of a block: its link text, plus short label-like lines."""
    n = len(block.text)
    bad = block.links
    if n < 15 and not block.links:
        bad += n // 4  # labels ("Share", "Menu") or table cells: weak evidence either way
    return bad


# Where common Korean CMSs and portals keep the story; tried before the general search.
_KNOWN_BODIES = (
    "#dic_area",  # Naver news
    "#articleBodyContents",  # Naver news, older layout
    "#articeBody",  # Naver entertainment
    "#newsEndContents",  # Naver sports
    ".article_view section",  # Daum
    "#article-view-content-div",  # ND Soft CMS (many regional papers)
    "#news_body_id",  # Chosun (2016)
    ".article_txt",  # Donga
    "#articleBody",
    "#article_body",
    ".art_body",  # Kyunghyang
    ".article-text",  # Hankyoreh
    ".story-news",  # Yonhap
    "#articleText",
    "#textBody",
    "#newsViewArea",
    '[itemprop="articleBody"]',
)


_KNOWN_BODIES_QUERY = ", ".join(_KNOWN_BODIES)


def known_container(tree: LexborHTMLParser, page: Page) -> Span | None:
    """The story element of a known layout, when it holds real prose."""
    found = tree.css(_KNOWN_BODIES_QUERY)  # one pass over the tree for every layout
    if not found:
        return None
    by_id = {span.node.mem_id: span for span in page.spans}
    for node in found:
        span = by_id.get(node.mem_id)
        if span is not None and _good_in(page, span) >= 200:
            return span
    return None


def choose_container(page: Page) -> Span | None:
    """The element whose text is the most prose and the least links and labels."""
    blocks = page.blocks
    # Scores count only text outside furniture, so a wrapper of a mega-menu full of
    # teasers does not inherit them; `*_all` ignore the marks, for when they are wrong.
    good, bad, good_all, bad_all = [0], [0], [0], [0]
    for block in blocks:
        g, b = block.good, _bad(block)
        good_all.append(good_all[-1] + g)
        bad_all.append(bad_all[-1] + b)
        good.append(good[-1] + (0 if block.buried else g))
        bad.append(bad[-1] + (0 if block.buried else b))
    best: Span | None = None
    best_score = 0.0
    fallback: Span | None = None  # the best ignoring furniture marks
    fallback_score = 0.0
    for span in page.spans:
        if span.last <= span.first:
            continue
        lift = 1.15 if span.bodyish else 1.0
        first, last = span.first, span.last
        score = lift * (good_all[last] - good_all[first] - (bad_all[last] - bad_all[first]))
        # Ties go to the deeper element: it carries the same text with less around it.
        if score > fallback_score or (
            fallback is not None and score == fallback_score and span.depth > fallback.depth
        ):
            fallback, fallback_score = span, score
        if span.furniture or span.buried:
            continue
        score = lift * (good[last] - good[first] - (bad[last] - bad[first]))
        if score > best_score or (
            best is not None and score == best_score and span.depth > best.depth
        ):
            best, best_score = span, score
    if fallback is not None and (
        best is None or _good_in(page, best) < 200 <= _good_in(page, fallback)
    ):
        # Marks that hide all but a scrap of prose are wrong about this page.
        return fallback
    return best


_PARAGRAPH_TAGS = frozenset(
    {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt", "td", "th"}
)
_DIVIDERS = (1.0, 2.0, 6.0, 9.0, 12.0)  # how much an ancestor n levels up gets (readability)


def choose_by_paragraphs(page: Page) -> list[Span]:
    """The element holding most prose paragraphs, plus siblings that continue the story.

    As readability does: each paragraph credits its parent fully and farther ancestors less,
    so the winner is the element the paragraphs sit directly in, not the page wrapper that
    also holds teaser lists further down.
    """
    spans, blocks = page.spans, page.blocks
    score = [0.0] * len(spans)
    chars, links = [0], [0]
    for block in blocks:
        chars.append(chars[-1] + len(block.text))
        links.append(links[-1] + block.links)
        if block.buried or not block.good:
            continue
        text = block.text
        weight = 1 + text.count(",") + text.count("，") + min(len(text) / 100, 3)
        s = block.span
        if s >= 0 and spans[s].tag in _PARAGRAPH_TAGS:
            s = spans[s].parent
        for divider in _DIVIDERS:
            if s < 0:
                break
            score[s] += weight / divider
            s = spans[s].parent
    final = [0.0] * len(spans)
    top = -1
    for i, span in enumerate(spans):
        if not score[i] or span.furniture or span.buried:
            continue
        total = chars[span.last] - chars[span.first]
        density = (links[span.last] - links[span.first]) / total if total else 0.0
        final[i] = score[i] * (1 - density) * (1.25 if span.bodyish else 1.0)
        if top < 0 or final[i] > final[top]:
            top = i
    if top < 0:
        return []
    chosen = spans[top]
    parent = chosen.parent
    if parent < 0:
        return [chosen]
    threshold = max(10.0, final[top] * 0.2)
    keep: list[Span] = []
    for i in range(parent + 1, len(spans)):
        span = spans[i]
        if span.first >= spans[parent].last:
            break
        if span.parent != parent:
            continue
        if i == top:
            keep.append(span)
            continue
        if span.furniture or span.last <= span.first:
            continue
        if final[i] >= threshold:
            keep.append(span)
        elif span.tag == "p" and span.last - span.first == 1:
            block = blocks[span.first]
            n, density = len(block.text), block.links / max(1, len(block.text))
            if (n > 80 and density < 0.25) or (
                0 < n <= 80 and not block.links and block.text.endswith(".")
            ):
                keep.append(span)
    return keep


def _signature(span: Span) -> tuple[str, str]:
    """An element's tag and class: what repeats when a story is split into several boxes."""
    return span.tag, span.node.attributes.get("class") or ""


def _paragraph_home(page: Page, block: Block) -> int:
    """The span a paragraph block sits in: its <p>'s parent, or its own element."""
    s = block.span
    if s >= 0 and page.spans[s].tag in _PARAGRAPH_TAGS:
        s = page.spans[s].parent
    return s


def choose_story(page: Page) -> list[Span]:
    """Reconcile the two searches: the paragraph cluster, widened to its look-alikes.

    The paragraph search finds where the story's paragraphs sit but misses a story split into
    several boxes; the subtree search covers those but also swallows teasers and company
    boilerplate next to the story. Take the cluster, then add boxes inside the subtree that
    look like the cluster's own (same tag and class).
    """
    cluster = choose_by_paragraphs(page)
    region = choose_container(page)
    if not cluster:
        return [region] if region is not None else []
    if region is None or not all(
        region.first <= s.first and s.last <= region.last for s in cluster
    ):
        return cluster
    homes = {
        _paragraph_home(page, b)
        for s in cluster
        for b in page.blocks[s.first : s.last]
        if b.good and not b.buried
    }
    signatures = {_signature(page.spans[h]) for h in homes if h >= 0}
    chosen = list(cluster)
    for span in page.spans:
        if span.first >= region.last:
            break
        if span.first < region.first or span.last <= span.first:
            continue
        if span.furniture or span.buried or _signature(span) not in signatures:
            continue
        if any(c.first <= span.first and span.last <= c.last for c in chosen):
            continue
        chosen = [c for c in chosen if not (span.first <= c.first and c.last <= span.last)]
        chosen.append(span)
    chosen.sort(key=lambda s: s.first)
    return chosen


def _good_in(page: Page, span: Span) -> int:
    """Prose weight inside an element."""
    return sum(b.good for b in page.blocks[span.first : span.last])


def _dropped_by_furniture(page: Page, container: Span) -> list[bool]:
    """Per block of the container: whether a furniture element inside it holds the block."""
    first, last = container.first, container.last
    dropped = [False] * (last - first)
    total = sum(b.good for b in page.blocks[first:last]) or 1
    for span in page.spans:
        if not span.furniture or span.depth <= container.depth:
            continue
        if span.first < first or span.last > last or span.last <= span.first:
            continue
        # A "furniture" mark on most of the story is a false alarm (class="article share-on").
        if span.bodyish or sum(b.good for b in page.blocks[span.first : span.last]) > total / 2:
            continue
        for i in range(span.first, span.last):
            dropped[i - first] = True
    return dropped


def body_from_dom(page: Page, selection: list[Span], title: str | None) -> list[str]:
    """Paragraphs of the chosen elements, furniture inside them dropped."""
    lines: list[str] = []
    norm_title = squash(title or "").lower()
    for container in selection:
        dropped = _dropped_by_furniture(page, container)
        for i, block in enumerate(page.blocks[container.first : container.last]):
            if not dropped[i]:
                line = _story_line(block, norm_title)
                if line:
                    lines.append(line)
    return lines


def _story_line(block: Block, norm_title: str) -> str | None:
    """A block's text when it reads as part of the story, else None."""
    if True:
        text = block.text
        n = len(text)
        if block.links * 2 > n:
            return None
        if norm_title and text.lower() == norm_title:
            return None
        if _ALWAYS_DROP.search(text):
            return None
        if n < 200 and _COPYRIGHT.search(text):
            return None
        if n < 80 and _DATELINE.match(text):
            return None
    return text


def split_trailer(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split trailer lines (tips, credits, copyright, hashtags) off the story's end."""
    end = len(lines)
    while end > 0 and len(lines[end - 1]) < 160 and _TRAILER.search(lines[end - 1]):
        end -= 1
    return lines[:end], lines[end:]


def _covers(lines: list[str], paragraphs: list[str]) -> bool:
    """Whether the DOM lines already hold (nearly) all of the inline state's story text.

    The DOM copy is then preferred: it also carries what the state keeps elsewhere
    (embedded posts, lists).
    """
    dom = " ".join(lines)
    found = sum(len(p) for p in paragraphs if p in dom)
    return found >= 0.8 * sum(len(p) for p in paragraphs)


def find_body(
    page: Page, selection: list[Span], title: str | None, ld: LinkedData, state: JsonState
) -> tuple[list[str], list[str]]:
    """The story paragraphs and the trailer cut from them.

    Inline JSON state wins when it has the story, then the DOM, then JSON-LD articleBody.
    """
    lines = body_from_dom(page, selection, title)
    dom_len = sum(len(line) for line in lines)
    if state.paragraphs and not _covers(lines, state.paragraphs):
        return split_trailer([p for p in state.paragraphs if not _COPYRIGHT.search(p)])
    if ld.body:
        ld_lines = [squash(p) for p in ld.body.split("\n") if squash(p)]
        ld_len = sum(len(p) for p in ld_lines)
        if dom_len < 0.4 * ld_len:
            return split_trailer(ld_lines)
    return split_trailer(lines)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "datepublished",
    "og:published_time",
    "published_time",
    "og:regdate",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "sailthru.date",
    "parsely-pub-date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "date",
    "article.published",
    "nv:news:date",
    "datecreated",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:article:modified_time",
    "article:modified",
    "datemodified",
    "og:updated_time",
    "modified_time",
    "dc.date.modified",
    "dcterms.modified",
    "last-modified",
    "lastmod",
)

_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-./년]\s*(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*[일.]?"
    r"(?:\s*\([월화수목금토일]\))?"
    r"(?:[T\s]*(?P<ampm>오전|오후|AM|PM|am|pm)?\s*(?P<H>\d{1,2})\s*[:시]\s*(?P<M>\d{2})"
    r"(?:\s*[:분]\s*(?P<S>\d{2})(?:\.\d+)?)?\s*(?:초)?\s*(?P<ampm2>AM|PM|am|pm)?"
    r"\s*(?P<tz>Z|UTC|GMT|KST|[+-]\d{2}:?\d{2})?)?"
)
_COMPACT = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")

_PUBLISHED_LABEL = re.compile(
    r"(?:기사\s*입력|최초\s*입력|최초\s*등록|입력|등록|송고\s*시간|송고|승인|게재|발행|작성|"
    r"published|posted)"
    r"\s*(?:일시|시간|일)?\s*[:：|]?\s*"
)
_DATELINE = re.compile(
    r"^\s*(?:기사\s*입력|최초\s*입력|입력|등록|송고\s*시간|송고|승인|수정|최종\s*수정|업데이트|"
    r"기사\s*수정|발행|게재|작성)?\s*(?:일시|시간|일)?\s*[:：|]?\s*(?:19|20)\d{2}\s*[-./년]"
)
_MODIFIED_LABEL = re.compile(
    r"(?:최종\s*수정|기사\s*수정|수정|업데이트|updated|modified)\s*(?:일시|시간|일)?\s*[:：|]?\s*",
    re.I,
)


def parse_date(value: str, local_tz: tzinfo) -> datetime | None:
    """Parse the date forms news pages use; naive results get `local_tz`."""
    value = value.strip()
    if not value:
        return None
    compact = _COMPACT.match(value)
    if compact:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in compact.groups())
        return _build(y, mo, d, h, mi, s, None, local_tz)
    if value.isdigit() and len(value) in (10, 13):  # epoch seconds / milliseconds
        stamp = int(value) / (1000 if len(value) == 13 else 1)
        return datetime.fromtimestamp(stamp, tz=UTC)
    try:
        parsed = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    except ValueError:
        parsed = None
    if parsed is not None:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=local_tz)
    if re.match(r"^[A-Za-z]{3},", value) or re.search(r"\d{2}:\d{2}(?::\d{2})? [+-]\d{4}$", value):
        try:
            rfc = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            rfc = None
        if rfc is not None:
            return rfc if rfc.tzinfo else rfc.replace(tzinfo=local_tz)
    return find_date_in(value, local_tz)


def find_date_in(text: str, local_tz: tzinfo) -> datetime | None:
    """The first date (with optional time, 오전/오후 and offset) inside a piece of text."""
    m = _DATE.search(text)
    if not m:
        return None
    hour = int(m["H"]) if m["H"] else 0
    ampm = m["ampm"] or m["ampm2"]
    if ampm in {"오후", "PM", "pm"} and hour < 12:
        hour += 12
    elif ampm in {"오전", "AM", "am"} and hour == 12:
        hour = 0
    return _build(
        int(m["y"]),
        int(m["m"]),
        int(m["d"]),
        hour,
        int(m["M"]) if m["M"] else 0,
        int(m["S"]) if m["S"] else 0,
        m["tz"],
        local_tz,
    )


def _build(
    y: int, mo: int, d: int, h: int, mi: int, s: int, tz: str | None, local_tz: tzinfo
) -> datetime | None:
    """Assemble a datetime, None when the fields are impossible."""
    zone: tzinfo = local_tz
    if tz in {"Z", "UTC", "GMT"}:
        zone = UTC
    elif tz == "KST":
        zone = SEOUL
    elif tz:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=zone)
    except ValueError:
        return None


def _whole_seconds(value: datetime | None) -> datetime | None:
    """Drop sub-second noise: news pages state times to the second at best."""
    return value.replace(microsecond=0) if value is not None else None


def _meta_date(meta: dict[str, str], keys: Iterable[str], local_tz: tzinfo) -> datetime | None:
    """The first parseable date among the given meta keys."""
    for key in keys:
        value = meta.get(key)
        if value:
            parsed = parse_date(value, local_tz)
            if parsed is not None:
                return parsed
    return None


def _attr_date(tree: LexborHTMLParser, selector: str, attr: str, tz: tzinfo) -> datetime | None:
    """A date from an attribute of the first element matching a selector."""
    for node in tree.css(selector)[:3]:
        value = node.attributes.get(attr) or node.text()
        if value:
            parsed = parse_date(value, tz)
            if parsed is not None:
                return parsed
    return None


def date_window(page: Page, container: Span | None, title: str | None) -> list[Block]:
    """The blocks around the headline and the story, where its own date lines sit.

    Site-wide headers carry their own clocks ('최종업데이트', weather bars), so the page
    is not searched as a whole.
    """
    blocks = page.blocks
    start = container.first if container is not None else 0
    end = container.last if container is not None else len(blocks)
    norm_title = squash(title or "")
    for i, block in enumerate(blocks):
        if norm_title and block.heading and block.text == norm_title:
            # A date may sit just above the headline, inside the same header element.
            head = page.spans[block.span].parent if block.span >= 0 else -1
            floor = page.spans[head].first if head >= 0 else i
            start = min(start, max(i - 3, floor))
            break
    return blocks[start : end + 15]


def visible_dates(window: list[Block], local_tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """Labelled date lines a reader sees ('입력 2024.09.06 15:44', '수정 ...')."""
    published: datetime | None = None
    modified: datetime | None = None
    for block in window:
        text = block.text
        if len(text) > 200 or not _DATE.search(text):
            continue
        for label in _PUBLISHED_LABEL.finditer(text):
            if published is None:
                m = _DATE.match(text, label.end())
                if m and m["H"]:
                    published = find_date_in(m.group(0), local_tz)
        for label in _MODIFIED_LABEL.finditer(text):
            if modified is None:
                m = _DATE.match(text, label.end())
                if m and m["H"]:
                    modified = find_date_in(m.group(0), local_tz)
        if published is not None and modified is not None:
            break
    return published, modified


def find_dates(
    tree: LexborHTMLParser,
    meta: dict[str, str],
    ld: LinkedData,
    state: JsonState,
    window: list[Block],
    local_tz: tzinfo,
) -> tuple[datetime | None, datetime | None]:
    """Publication and last-modification instants, kept apart."""
    seen_pub, seen_mod = visible_dates(window, local_tz)
    published = (
        (parse_date(ld.published, local_tz) if ld.published else None)
        or (parse_date(state.published, local_tz) if state.published else None)
        or _meta_date(meta, _PUBLISHED_META, local_tz)
        or _attr_date(tree, "[data-date-time]._ARTICLE_DATE_TIME", "data-date-time", local_tz)
        or _attr_date(tree, '[itemprop="datePublished"]', "datetime", local_tz)
        or _attr_date(tree, "time[pubdate]", "datetime", local_tz)
    )
    modified = (
        (parse_date(ld.modified, local_tz) if ld.modified else None)
        or (parse_date(state.modified, local_tz) if state.modified else None)
        or _meta_date(meta, _MODIFIED_META, local_tz)
        or _attr_date(tree, "._ARTICLE_MODIFY_DATE_TIME", "data-modify-date-time", local_tz)
        or _attr_date(tree, '[itemprop="dateModified"]', "datetime", local_tz)
    )
    if published is None:
        published = seen_pub or _attr_date(tree, "time[datetime]", "datetime", local_tz)
    elif seen_pub is not None and abs(published - seen_pub) == timedelta(hours=9):
        # A UTC clock time mislabelled with the local offset (or the reverse): trust the page.
        published = seen_pub
    if modified is None:
        modified = seen_mod
    return _whole_seconds(published), _whole_seconds(modified)


# ---------------------------------------------------------------------------------------------
# Author
# ---------------------------------------------------------------------------------------------

_NAME = r"[가-힣]{2,4}"
_ROLE = (
    r"(?:선임|수석|전문|객원|인턴|수습|편집|논설|대기자|기획)?\s?기자"
    r"|특파원|논설위원|위원|평론가|칼럼니스트"
)
_KO_BYLINE = re.compile(rf"(?<![가-힣])(?P<name>{_NAME})\s?(?P<role>{_ROLE})(?![가-힣])")
# "[헤럴드경제=홍길동 기자]" and "(서울=연합뉴스) 홍길동 기자 =" open many Korean leads.
_KO_LEAD = re.compile(
    rf"^\s*[\[(][^\])=]{{1,20}}=\s*(?:[^\])]{{0,20}}[\])]\s*)?(?P<name>{_NAME})\s?(?P<role>{_ROLE})"
)
_KO_SIGNOFF = re.compile(
    rf"(?:^|[\s/=·])(?P<name>{_NAME})\s?(?P<role>{_ROLE})?\s*\(?[\w.+-]+@[\w-]+\.[\w.]+\)?\s*$"
)
_PUBLISHER_WORDS = re.compile(r"(?:일보|신문|뉴스|방송|닷컴|미디어|경제|TV|\|)", re.I)
_BYLINE_SELECTORS = (
    ".media_end_head_journalist_name",
    '[itemprop="author"] [itemprop="name"]',
    '[itemprop="author"]',
    '[rel="author"]',
    ".byline",
    ".byline_s",
    ".reporter",
    ".repoter",
    ".journalist",
    ".writer",
    ".author",
    ".news_title_author",
    ".art_byline",
    ".name",
)


_BYLINE_QUERY = ", ".join(_BYLINE_SELECTORS)


def _korean_byline(text: str) -> str | None:
    """'홍길동 기자' (or several names sharing a role) from a byline-sized text."""
    found = [(m["name"], squash(m["role"])) for m in _KO_BYLINE.finditer(text)]
    if not found:
        return None
    names = list(dict.fromkeys(name for name, _role in found))
    role = found[0][1]
    return f"{', '.join(names)} {role}"


def find_author(
    tree: LexborHTMLParser,
    meta: dict[str, str],
    ld: LinkedData,
    state: JsonState,
    body: list[str],
    korean: bool,
) -> str | None:
    """The reporter byline: inline state, visible Korean bylines, then structured data."""
    if state.authors:
        return ", ".join(dict.fromkeys(state.authors))
    if korean:
        byline = korean_byline(tree, body)
        if byline:
            return byline
    structured = ld.authors or [
        v
        for v in (
            meta.get("author"),
            meta.get("article:author"),
            meta.get("dable:author"),
            meta.get("byl"),
            meta.get("sailthru.author"),
            meta.get("parsely-author"),
            meta.get("dc.creator"),
        )
        if v
    ]
    publisher = meta.get("og:site_name") or ld.publisher or ""
    for name in structured:
        name = squash(name.removeprefix("By ").removeprefix("by "))
        if not name or name.startswith("http") or name == publisher:
            continue
        if _HANGUL.search(name) and _PUBLISHER_WORDS.search(name) and not _KO_BYLINE.search(name):
            continue
        byline = _korean_byline(name)
        if byline:
            return byline
        return _with_role(name, None, body) if _HANGUL.search(name) else name
    for node in tree.css(".info_view .txt_info")[:1]:
        name = squash(node.text())
        if re.fullmatch(_NAME, name):
            return _with_role(name, None, body)
    return None


def korean_byline(tree: LexborHTMLParser, body: list[str]) -> str | None:
    """'홍길동 기자' from the lead's dateline, a byline element, or the closing sign-off."""
    if body:
        lead = _KO_LEAD.match(body[0])
        if lead:
            return f"{lead['name']} {squash(lead['role'])}"
    for node in tree.css(_BYLINE_QUERY):
        text = squash(node.text(separator=" "))
        if text and len(text) <= 120:
            byline = _korean_byline(text)
            if byline:
                return byline
    for line in reversed(body[-4:]):
        if len(line) <= 80:
            m = _KO_SIGNOFF.search(line)
            if m:
                return _with_role(m["name"], m["role"], body)
    return None


def _with_role(name: str, role: str | None, body: list[str]) -> str:
    """Attach the role a Korean name carries elsewhere on the page ('김이영' -> '김이영 기자')."""
    if role:
        return f"{name} {squash(role)}"
    for line in body:
        m = re.search(rf"{re.escape(name)}\s?({_ROLE})", line)
        if m:
            return f"{name} {squash(m.group(1))}"
    return name
