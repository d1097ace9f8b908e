"""Article extraction: page bytes + URL -> Article, as a cascade of small pure functions.

The page is parsed once with lexbor and never re-serialised. Metadata comes first, from the
most explicit source to the least: JSON-LD (NewsArticle/Article, @graph), inline CMS state,
OpenGraph and article:* meta, Dublin Core and microdata, portal attributes, then what a
reader sees (byline elements, labelled date lines near the headline).

The body: one walk over the tree turns it into text blocks (a paragraph, a line between <br>s)
and records which element holds which blocks and which elements read as furniture (navigation,
share bars, related lists, photo boxes, reporter boxes). A known Korean CMS or portal layout
(Naver, Daum, ND Soft, ...) names its story box directly; otherwise two searches are
reconciled: the element the prose paragraphs sit in (readability's scoring), widened to boxes
that look like it inside the densest prose subtree. Furniture inside, copyright and tip-line
trailers and date lines are then dropped. Bodies kept only in inline JSON state (Arc XP's
Fusion.globalContent) are read from there.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache
from html import unescape
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
    source = decode_page(html, content_type) if isinstance(html, bytes) else html
    tree = LexborHTMLParser(source)
    marks = find_landmarks(tree)
    meta = read_meta(marks.metas)
    ld = read_json_ld(marks.ld_scripts)
    state = read_json_state(tree, source, bool(marks.foreign))
    lang = find_lang(tree, meta, ld)
    title = find_title(tree, meta, ld, state, marks.headings)
    page = linearize(tree, marks.images)
    korean = is_korean(lang, title or "") or (not lang and has_hangul(page))
    selection, container = find_story(page)
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
        canonical_url=find_canonical(marks.canonicals, meta, url),
        modified_at=modified,
        lang=lang or ("ko" if korean else None),
        description=find_description(meta, ld),
    )


def decode_page(body: bytes, content_type: str | None) -> str | bytes:
    """Decode page bytes, distrusting a single-byte header charset the page itself contradicts."""
    # Servers often label everything ISO-8859-1 by default while the page declares (and is)
    # EUC-KR; the page's own declaration is then the better witness. Valid UTF-8 is handed
    # back as bytes, which lexbor reads natively (re-encoding the text would cost a pass).
    text, codec = decode(body, content_type)
    if codec == "cp1252" and content_type and not body.isascii():
        own, own_codec = decode(body, None)
        if own_codec != "cp1252":
            return own
    if codec == "utf-8":
        return body.removeprefix(codecs.BOM_UTF8)
    return text


# ---------------------------------------------------------------------------------------------
# Small text helpers
# ---------------------------------------------------------------------------------------------

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


@dataclass(slots=True)
class Landmarks:
    """The elements several stages read, each list in document order."""

    metas: list[LexborNode] = field(default_factory=list)
    ld_scripts: list[LexborNode] = field(default_factory=list)  # JSON-LD blocks
    canonicals: list[LexborNode] = field(default_factory=list)  # <link rel=canonical>
    headings: list[LexborNode] = field(default_factory=list)  # <h1>
    images: list[LexborNode] = field(default_factory=list)  # <img> inside <body>
    foreign: list[LexborNode] = field(default_factory=list)  # <svg> and <math> roots


# Every selector query walks the whole document, whatever it asks for, so the elements of
# several stages are found in one query. Each part names one tag, so a match's tag tells
# which part it answers.
_LANDMARKS = (
    'meta, script[type="application/ld+json"], link[rel="canonical"], h1, body img, svg, math'
)


def find_landmarks(tree: LexborHTMLParser) -> Landmarks:
    """The <meta>, JSON-LD, canonical link, <h1>, image, <svg> and <math> elements."""
    found = Landmarks()
    groups = {
        _TAG_IDS["meta"]: found.metas,
        _TAG_IDS["script"]: found.ld_scripts,
        _TAG_IDS["link"]: found.canonicals,
        _TAG_IDS["h1"]: found.headings,
        _TAG_IDS["img"]: found.images,
        _TAG_IDS["svg"]: found.foreign,
        _TAG_IDS["math"]: found.foreign,
    }
    for node in tree.css(_LANDMARKS):
        groups[node.tag_id].append(node)
    return found


def read_meta(metas: list[LexborNode]) -> dict[str, str]:
    """Collect <meta> values keyed by lower-cased property/name/itemprop; first one wins."""
    found: dict[str, str] = {}
    for node in metas:
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
    # Dates from other typed objects (WebPage, ClaimReview), used when no article has any.
    page_published: str | None = None
    page_modified: str | None = None


# fmt: off
_ARTICLE_TYPES = frozenset((
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "blogposting", "socialmediaposting",
    "liveblogposting", "techarticle", "scholarlyarticle", "report", "review",
))
# fmt: on


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
    # Stray trailing semicolons, HTML comments and trailing commas break some blocks.
    cleaned = text.strip().removeprefix("<!--").removesuffix("-->").strip().rstrip(";")
    cleaned = _TRAILING_COMMA.sub(r"\1", cleaned)
    try:
        return json.loads(cleaned, strict=False)
    except ValueError:
        return None


_TRAILING_COMMA = re.compile(r",\s*([\]}])")
# For blocks no parser accepts (unescaped quotes in a description): the fields we need.
_LD_FIELD = re.compile(r'"(headline|datePublished|dateModified)"\s*:\s*"([^"]{4,300})"')
_LD_AUTHOR = re.compile(r'"author"\s*:\s*(?:\[\s*)?\{[^{}]*?"name"\s*:\s*"([^"]{2,100})"')


def _salvage_ld(ld: LinkedData, text: str) -> None:
    """Pick the article fields out of a JSON-LD block that does not parse."""
    if not re.search(r'"@type"\s*:\s*"(?:News)?Article"', text):
        return
    fields = dict(_LD_FIELD.findall(text))
    ld.headline = ld.headline or fields.get("headline")
    ld.published = ld.published or fields.get("datePublished")
    ld.modified = ld.modified or fields.get("dateModified")
    author = _LD_AUTHOR.search(text)
    if author and not ld.authors:
        ld.authors = [author.group(1)]


def read_json_ld(scripts: list[LexborNode]) -> LinkedData:
    """Read the article object out of every <script type=application/ld+json> block."""
    ld = LinkedData()
    for script in scripts:
        text = script.text(deep=True)
        data = _loads_lenient(text)
        if data is None:
            _salvage_ld(ld, text)
            continue
        for obj in _ld_objects(data):
            types = _ld_types(obj)
            if not types & _ARTICLE_TYPES:
                if not ld.publisher and types & {"organization", "newsmediaorganization"}:
                    name = obj.get("name")
                    ld.publisher = name if isinstance(name, str) else None
                published, modified = obj.get("datePublished"), obj.get("dateModified")
                if isinstance(published, str) and not ld.page_published:
                    ld.page_published = published
                if isinstance(modified, str) and not ld.page_modified:
                    ld.page_modified = modified
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


_STATE_NAME = "Fusion.globalContent"
_STATE_MARKERS = (f"{_STATE_NAME}=", f"{_STATE_NAME} =")
_TAG = re.compile(r"<[^>]+>")


def read_json_state(tree: LexborHTMLParser, source: str | bytes, foreign: bool) -> JsonState:
    """Read the article out of inline JSON state, where some CMSs keep the only copy."""
    state = JsonState()
    # A script holds its source text verbatim, so a page whose source lacks the marker has it
    # in no script, and reading every script's text (often most of a page) is saved. Scripts
    # inside <svg> or <math> are parsed as markup, so pages with those are always read.
    in_source = (
        _STATE_NAME.encode() in source if isinstance(source, bytes) else _STATE_NAME in source
    )
    if not (in_source or foreign) or not tree.scripts_contain(_STATE_NAME):
        return state
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
            line = squash(unescape(_TAG.sub("", raw.replace("<br/>", "\n"))))
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


def find_canonical(links: list[LexborNode], meta: dict[str, str], url: str) -> str | None:
    """The URL the page declares for itself (<link rel=canonical>, og:url), made absolute."""
    for node in links:
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
    tree: LexborHTMLParser,
    meta: dict[str, str],
    ld: LinkedData,
    state: JsonState,
    h1s: list[LexborNode],
) -> str | None:
    """The headline without a site-name suffix, by agreement between its several copies."""
    site = meta.get("og:site_name") or ""
    tag = tree.css_first("title")
    title_tag = squash(tag.text()) if tag is not None else ""
    headings = [squash(h.text()) for h in h1s[:4]]
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

# fmt: off
_BLOCK_TAGS = frozenset((
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "h1", "h2",
    "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "tbody", "thead",
    "tfoot", "tr", "td", "th", "blockquote", "pre", "figure", "figcaption", "form", "fieldset",
    "address", "hr", "center", "details", "summary", "caption", "body", "html", "hgroup",
    "menu", "legend", "label", "option",
))
# fmt: on
# Never text a reader sees as article prose.
# fmt: off
_SKIP_TAGS = frozenset((
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "button", "select",
    "input", "textarea", "object", "embed", "video", "audio", "map", "head", "title", "meta",
    "link", "frameset", "frame", "applet", "math", "picture", "source",
))
# fmt: on
# Menus and side boxes: never the story nor its dates, and a fifth of a typical page's nodes,
# so the walk does not enter them at all.
_UNREAD_TAGS = frozenset({"nav", "aside"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Containers whose text is furniture whatever it says.
# (Not <form>: ASP.NET pages wrap the whole page in one.)
_FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "figcaption", "figure", "menu"})

# class/id words that mark furniture, matched per '-'/'_'-separated part of each token.
# fmt: off
_FURNITURE_PARTS = frozenset((
    "related", "relate", "recomm", "popular", "ranking", "rank", "sidebar", "aside", "sidenav",
    "share", "sharing", "sns", "snsbox", "util", "toolbar", "toolbox", "comment", "comments",
    "reply", "cmt", "disqus", "livere", "byline", "reporter", "repoter", "journalist", "writer",
    "profile", "caption", "figcaption", "credit", "copyright", "footer", "foot", "gnb", "lnb",
    "snb", "nav", "navi", "navigation", "menu", "breadcrumb", "breadcrumbs", "banner", "ad",
    "ads", "adsense", "dable", "taboola", "outbrain", "newsletter", "subscribe", "subscription",
    "signup", "modal", "popup", "consent", "tag", "tags", "keyword", "hashtag", "print", "font",
    "fontsize", "weather", "blind", "skip", "mostread", "mostviewed", "hotnews", "imgdesc",
    "photodesc", "morenews", "othernews", "newslist",
))
# fmt: on
# Two-part names. Not "social" alone: "social-media-embed" holds posts quoted by the story.
# fmt: off
_FURNITURE_PAIRS = frozenset((
    "most-read", "most-viewed", "most-popular", "hot-news", "best-news", "side-bar", "tool-box",
    "u-cbox", "author-bio", "author-box", "author-info", "author-card", "img-desc",
    "photo-desc", "photo-txt", "font-size", "more-news", "other-news", "news-list", "list-news",
    "screen-reader", "sr-only", "visually-hidden", "rel-news",
    "social-share", "social-links", "social-icons", "social-buttons", "social-bar",
    "social-follow",
))
# fmt: on
_FURNITURE_PREFIXES = ("recommend", "trend", "advert", "promo", "sponsor", "cookie", "related")
# Class tokens that describe a neighbour or a state, not the element ("has-sidebar",
# WordPress's "tag-politics", "category-news").
# fmt: off
_MODIFIERS = frozenset((
    "has", "with", "w", "and", "no", "is", "tag", "category", "categories", "cat", "topic",
    "post", "type", "format", "status", "single", "page", "template", "wp", "js", "theme",
    "layout", "show", "hide", "hidden", "visible", "text", "align",
))
# fmt: on
# Words that rescue an element from the furniture list (the body itself), '-'/'_' removed.
# fmt: off
_BODY_MARKS = (
    "articlebody", "articlecontent", "articletext", "articletxt", "articleview", "newsbody",
    "newscontent", "newstext", "newstxt", "storybody", "storycontent", "storytext", "postbody",
    "postcontent", "entrycontent", "arttxt", "artbody", "dicarea", "newsctarticle", "viewcon",
    "textbody", "bodytext", "contentbody", "contentsbody",
)
# fmt: on
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
    span: int  # index of the nearest enclosing block element in Page.spans (-1: <body>)
    heading: bool  # set in <h1>-<h6>
    buried: bool  # inside an element that reads as furniture
    teaser: bool = False  # opens with a link that is a fair share of it (a headline + blurb)
    good: int = 0  # prose weight, see _good()


@dataclass(slots=True)
class Span:
    """An element's reach over the block list: blocks[first:last] are its text."""

    tag: str
    cls: str | None  # the class attribute
    parent: int  # index of the enclosing span, -1 for <body>
    first: int
    last: int
    depth: int
    furniture: bool  # the element itself reads as furniture
    buried: bool  # some ancestor does
    bodyish: bool
    index: int = -1  # position in Page.spans


@dataclass(slots=True)
class Page:
    """A page walked once: its text blocks and the elements that hold them."""

    blocks: list[Block]
    spans: list[Span]
    known: list[int] = field(default_factory=list)  # spans of known story layouts


# Where common Korean CMSs and portals keep the story; tried before the general search.
_KNOWN_IDS = frozenset(
    {
        "dic_area",  # Naver news
        "articleBodyContents",  # Naver news, older layout
        "articeBody",  # Naver entertainment
        "newsEndContents",  # Naver sports
        "article-view-content-div",  # ND Soft CMS (many regional papers)
        "news_body_id",  # Chosun (2016)
        "articleBody",
        "article_body",
        "articleText",
        "textBody",
        "newsViewArea",
    }
)
_KNOWN_CLASSES = frozenset(
    {
        "article_txt",  # Donga
        "art_body",  # Kyunghyang
        "article-text",  # Hankyoreh
        "story-news",  # Yonhap
    }
)
_DAUM_VIEW = "article_view"  # Daum keeps the story in the <section> of div.article_view


def _is_daum_view(span: Span) -> bool:
    """Whether an element is Daum's story wrapper, whose <section> holds the story."""
    return span.cls is not None and _DAUM_VIEW in span.cls.split()


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
def _marks_verdict(cls: str | None, ident: str | None) -> tuple[bool, bool, bool]:
    """(furniture, body, known story box) verdicts for a class and id; pages repeat them."""
    if not cls and not ident:
        return False, False, False
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
    known = ident in _KNOWN_IDS or bool(cls and not _KNOWN_CLASSES.isdisjoint(cls.split()))
    return furniture, body, known


def _element_marks(
    tag: str, attrs: dict[str, str | None], cls: str | None
) -> tuple[bool, bool, bool]:
    """(furniture, body, known story box) verdicts for an element with attributes."""
    ident = attrs.get("id")
    marked, body, known = _marks_verdict(cls, ident)
    hiding = False
    if len(attrs) > (cls is not None) + (ident is not None):
        # Attributes besides class and id that mark the element.
        if attrs.get("itemprop") == "articleBody":
            body = known = True
        hiding = (
            "style" in attrs or "role" in attrs or "aria-hidden" in attrs or "hidden" in attrs
        ) and _is_hidden(attrs)
    # "l-sidebar-fixed l-article-body": a body word outweighs a layout word.
    return tag in _FURNITURE_TAGS or ((marked or hiding) and not body), body, known


_BOX_STOPS = frozenset({"p", "body", "article", "main", "td", "html"})


def media_boxes(images: list[LexborNode]) -> set[int]:
    """Elements that hold an image and only a caption's worth of text (photo boxes)."""
    boxes: set[int] = set()
    sizes: dict[int, int] = {}  # text length per element; images in a gallery share ancestors
    for img in images:
        node = img.parent
        top = 0
        for _ in range(4):
            if node is None or node.tag_id in _BOX_STOP_IDS:
                break
            key = node.mem_id
            size = sizes.get(key)
            if size is None:
                size = sizes[key] = len(node.text(deep=True).strip())
            if size > 300:
                break
            top = key
            node = node.parent
        if top and sizes[top]:
            boxes.add(top)
    return boxes


# What the walk does with a node, by its tag; the common kinds first, the rare ones past _BLOCK.
_TEXT, _ANCHOR, _INLINE, _VOID, _BLOCK, _BREAK, _SKIPPED, _UNREAD, _FOOTER, _IGNORED = range(10)


def _tag_kind(tag: str | None) -> int:
    """What the walk does with a node of this tag name."""
    if tag == "-text":
        return _TEXT
    if tag is None or tag[0] in "-_!":
        return _IGNORED  # comments, doctypes and other non-elements
    if tag in _UNREAD_TAGS:
        return _UNREAD
    if tag == "footer":
        return _FOOTER
    if tag in _SKIP_TAGS:
        return _SKIPPED
    if tag == "br":
        return _BREAK
    if tag in _BLOCK_TAGS:
        return _BLOCK
    if tag == "a":
        return _ANCHOR
    # Void elements never have children, so the walk need not look inside them.
    return _VOID if tag in _VOID_TAGS else _INLINE


_VOID_TAGS = frozenset({"img", "wbr", "area", "base", "col", "keygen", "track", "param"})
# Common inline tags, listed so the walk knows them by id; any other tag is read by name.
# fmt: off
_INLINE_TAGS = (
    "span", "b", "strong", "i", "em", "u", "s", "small", "big", "font", "sup", "sub", "time",
    "abbr", "cite", "code", "mark", "q", "strike", "ins", "del", "kbd", "samp", "var", "dfn",
    "bdi", "bdo", "ruby", "rt", "rp", "data", "output", "nobr", "tt", "colgroup", "dir",
    "marquee", "blink", "image", "slot",
)
# fmt: on


def _tag_ids() -> dict[str, int]:
    """Lexbor's id for each HTML tag the extractor knows by name, and for text nodes."""
    # Reading a node's tag id costs half of reading its name, which is decoded anew each time.
    # Only HTML's own tags have fixed ids; others (custom elements) are read by name.
    probe = LexborHTMLParser("<p>x</p>")
    ids: dict[str, int] = {}
    names = _BLOCK_TAGS | _SKIP_TAGS | _VOID_TAGS | {"br", "a", *_INLINE_TAGS}
    for name in sorted(names):
        node = probe.create_node(name)
        if node.tag == name:
            ids[name] = node.tag_id
    para = probe.css_first("p")
    if para is not None and para.first_child is not None:
        ids["-text"] = para.first_child.tag_id
    return ids


_TAG_IDS = _tag_ids()
_BOX_STOP_IDS = frozenset(_TAG_IDS[tag] for tag in _BOX_STOPS)
_TAGS = {tag_id: (_tag_kind(name), name) for name, tag_id in _TAG_IDS.items()}
# What leaving an open element means, when it is no span (a span's is its index, >= 0).
_LINK_END, _PLAIN_END = -1, -2


def linearize(tree: LexborHTMLParser, images: list[LexborNode]) -> Page:
    """Walk the <body> once into text blocks, recording which elements hold which blocks."""
    # Depth first, one child iterator per open element, so leaving an element is the end of
    # its iterator and skipped subtrees are never entered. Whitespace-only text nodes (a
    # third of most pages) are skipped in C; the one place they matter, between two inline
    # elements ("<b>Jane</b> <i>Doe</i>"), is checked per element.
    blocks: list[Block] = []
    spans: list[Span] = []
    root = tree.body
    if root is None:
        return Page(blocks, spans)
    boxes = media_boxes(images)
    buf: list[str] = []
    links = 0
    lead_link = False  # whether the first text of `buf` sits in a link
    # Open block elements, innermost last: (tag, depth, inside furniture, span index, inside
    # an <article> or <main>).
    open_tags: list[tuple[str, int, bool, int, bool]] = [("body", 0, False, -1, False)]
    known: list[int] = []

    def flush() -> None:
        nonlocal links
        text = "".join(buf)
        # Squashed as squash() does, which most lines (one clean text node) need not be.
        if not text.isprintable() or "  " in text or text.startswith(" ") or text.endswith(" "):
            text = " ".join(text.split())
        tag, _depth, buried, index, _story = open_tags[-1]
        n = len(text)
        teaser = lead_link and links * 7 > n
        shown = links if links < n else n
        blocks.append(
            Block(text, shown, index, tag in _HEADINGS, buried, teaser, _good(text, shown, teaser))
        )
        buf.clear()
        links = 0

    in_link = 0
    walks = [root.iter(include_text=True, skip_empty=True)]
    leaving = [_PLAIN_END]
    table = _TAGS
    while walks:
        for node in walks[-1]:
            entry = table.get(node.tag_id)
            if entry is None:
                name = node.tag
                kind = _tag_kind(name)
                tag = name or ""
            else:
                kind, tag = entry
            if kind == _TEXT:
                value = node.text_content
                if value:
                    if not buf:
                        lead_link = in_link > 0
                    buf.append(value)
                    if in_link:
                        links += len(value.strip())
                continue
            if kind > _BLOCK:
                if kind == _FOOTER and open_tags[-1][4]:
                    kind = _BLOCK  # an article's own footer, which may carry its byline and dates
                elif kind in (_IGNORED, _SKIPPED):
                    continue
                else:  # a line break, or a menu, side box or site footer read as one
                    if buf:
                        flush()
                    continue
            if kind == _BLOCK or (boxes and node.mem_id in boxes):
                if buf:
                    flush()
                attrs = node.attributes
                cls = attrs.get("class") if attrs else None
                furniture, bodyish, story_box = (
                    _element_marks(tag, attrs, cls)
                    if attrs
                    else (tag in _FURNITURE_TAGS, False, False)
                )
                furniture = furniture or (bool(boxes) and node.mem_id in boxes)
                _up, parent_depth, buried, parent, story = open_tags[-1]
                depth = parent_depth + 1
                index = len(spans)
                first = len(blocks)
                spans.append(
                    Span(tag, cls, parent, first, first, depth, furniture, buried, bodyish, index)
                )
                if attrs and (
                    story_box or (tag == "section" and parent >= 0 and _is_daum_view(spans[parent]))
                ):
                    known.append(index)
                story = story or tag == "article" or tag == "main"
                open_tags.append((tag, depth, buried or furniture, index, story))
                walks.append(node.iter(include_text=True, skip_empty=True))
                leaving.append(index)
                break
            if buf:
                before = node.prev
                if before is not None and before.is_empty_text_node:
                    buf.append(" ")
            if kind == _ANCHOR:
                in_link += 1
                walks.append(node.iter(include_text=True, skip_empty=True))
                leaving.append(_LINK_END)
                break
            if kind != _VOID:
                walks.append(node.iter(include_text=True, skip_empty=True))
                leaving.append(_PLAIN_END)
                break
        else:  # the element's children are all read: leave it
            walks.pop()
            end = leaving.pop()
            if end >= 0:
                if buf:
                    flush()
                spans[end].last = len(blocks)
                open_tags.pop()
            elif end == _LINK_END:
                in_link -= 1
    if buf:
        flush()
    page = Page(blocks, spans, known)
    _overrule_marks(page)
    return page


def has_hangul(page: Page) -> bool:
    """Whether the page is written in Hangul, judged by a sample of its lines."""
    sample = page.blocks[:: max(1, len(page.blocks) // 50)]
    return any(not b.text.isascii() and _HANGUL.search(b.text) for b in sample)


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

_SENTENCE_ENDS = frozenset(".!?。…\"'”’)]다요죠까음함임")
_COPYRIGHT = re.compile(
    r"ⓒ|©|(?-i:\([cC]\)\s*[A-Z0-9가-힣])|copyright|저작권자|무단\s*전재|무단전재|재배포\s*금지|재배포금지|"
    r"all rights reserved|AI\s*학습\s*(?:및\s*)?활용\s*금지",
    re.I,
)
# Lines that close stories but are not the story: tip lines, credits, sign-offs with contact
# details, links, hashtags. Only the last lines are tested, and words a final sentence may
# well use ("시민 제보", "구독자") only count in their trailer forms.
_TRAILER = re.compile(
    r"제보\s*[:：)\]]|\[제보|제보하기|제보가\s*뉴스|기사\s*문의|\[카카오톡\]|카카오톡\s*[:：]|"
    r"카톡\s*[:：/]|\[전화\]|\[메일\]|\[이메일\]|^\s*\(끝\)\s*$|^\s*<끝>\s*$|"
    r"@[\w-]+\.[\w.]+|\b0\d{1,2}-\d{3,4}-\d{4}\b|^\s*[▶☞▷◆■]|^\s*#\S+(?:\s+#\S+)+\s*$|"
    r"영상(?:취재|편집|기자)|촬영기자|그래픽\s*:|관련기사|"
    r"^\s*\[[^]]*(?:영상|편집|그래픽|사진)[^]]*\]\s*$|구독하(?:고|기|세요)|구독\s*(?:신청|버튼)|"
    r"채널\s*추가|바로가기|more\s+stories|related:",
    re.I,
)
# Photo captions that escaped the photo-box test, known by their closing credit.
_CAPTION = re.compile(
    r"\((?:image|photo|picture|credit|source)s?\s*:[^)]*\)\s*$"
    r"|(?:photo|image|picture)\s+(?:by|credit|courtesy)\b[^.]*$"
    r"|[/=]\s*(?:연합뉴스|뉴스1|뉴시스|[가-힣A-Za-z]{1,10}DB)\s*$"
    r"|\[(?:[^\]]*=)?(?:연합뉴스|연합|뉴스1|뉴시스|[^\]]*자료사진|[^\]]*제공)\]\s*$"
    r"|^\s*\(?사진\s*[=:]",
    re.I,
)
_ALWAYS_DROP = re.compile(
    r"브라우저가\s*video\s*태그를|다른\s*브라우저를\s*사용|본문배너|^\s*광고\s*$|"
    r"^\s*(?:advertisement|sponsored|loading\.*)\s*$|재생\s*중\s*오류",
    re.I,
)

# Cheap pre-tests for the three patterns above, which would otherwise run on every line of a
# story: a line without any fragment that a pattern's matches all contain cannot match it.
# `low` is the line lower-cased; the fragments avoid "i", "k" and "s", which re.I also
# matches to non-ASCII letters ("ı", "K", "ſ").


def _may_drop(text: str) -> bool:
    """Whether a line could match _ALWAYS_DROP."""
    return (
        "브라우저" in text
        or "본문배너" in text
        or "광고" in text
        or "재생" in text
        or len(text.strip().rstrip(".")) <= 13  # "Advertisement", "Sponsored", "Loading..."
    )


def _may_be_copyright(text: str, low: str) -> bool:
    """Whether a line could match _COPYRIGHT."""
    return (
        "©" in text
        or "ⓒ" in low
        or "(c)" in low
        or "copyr" in low
        or "all r" in low
        or "저작권자" in text
        or "무단" in text
        or "재배포" in text
        or "학습" in text
    )


def _may_be_caption(text: str, low: str) -> bool:
    """Whether a line could match _CAPTION."""
    return (
        low.rstrip().endswith((")", "]", "연합뉴스", "뉴스1", "뉴시스", "db"))
        or "사진" in text
        or "photo" in low
        or "mage" in low
        or "cture" in low
    )


def _ends_sentence(text: str) -> bool:
    """Whether a line ends as sentences do (a stop, a closing quote, a Korean verb ending)."""
    end = text.rstrip()
    return bool(end) and end[-1] in _SENTENCE_ENDS


def _good(text: str, links: int, teaser: bool) -> int:
    """Prose weight of a block: its length when it reads like prose, else 0."""
    n = len(text)
    if links * 3 > n or teaser:
        return 0
    if n >= 40 or (n >= 15 and _ends_sentence(text)):
        return n - links
    return 0


def _bad(block: Block) -> int:
    """Furniture weight of a block: its link text, plus short label-like lines."""
    n = len(block.text)
    bad = block.links
    if n < 15 and not block.links:
        bad += n // 4  # labels ("Share", "Menu") or table cells: weak evidence either way
    return bad


# Where common Korean CMSs and portals keep the story; tried before the general search.
def known_container(page: Page) -> Span | None:
    """The story element of a known layout (marked during the walk), when it holds prose."""
    for index in page.known:
        span = page.spans[index]
        if _good_in(page, span) >= 200:
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
        first, last = span.first, span.last
        if good_all[last] == good_all[first]:
            continue  # no prose: it scores nothing, so it can be neither choice
        lift = 1.15 if span.bodyish else 1.0
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
    """The element holding most prose paragraphs, plus siblings that continue the story."""
    # As readability does: each paragraph credits its parent fully and farther ancestors less,
    # so the winner is the element the paragraphs sit directly in, not the page wrapper that
    # also holds teaser lists further down.
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
    return span.tag, span.cls or ""


def _paragraph_home(page: Page, block: Block) -> int:
    """The span a paragraph block sits in: its <p>'s parent, or its own element."""
    s = block.span
    if s >= 0 and page.spans[s].tag in _PARAGRAPH_TAGS:
        s = page.spans[s].parent
    return s


def choose_story(page: Page) -> tuple[list[Span], Span | None]:
    """Reconcile the two searches: the paragraph cluster, widened to its look-alikes."""
    # The paragraph search finds where the story's paragraphs sit but misses a story split into
    # several boxes; the subtree search covers those but also swallows teasers and company
    # boilerplate next to the story. Take the cluster, then add boxes inside the subtree that
    # look like the cluster's own (same tag and class). Returns the boxes and their enclosure.
    cluster = choose_by_paragraphs(page)
    region = choose_container(page)
    if not cluster:
        return ([region], region) if region is not None else ([], None)
    if region is None or not all(
        region.first <= s.first and s.last <= region.last for s in cluster
    ):
        enclosure = cluster[0] if len(cluster) == 1 else page.spans[cluster[0].parent]
        return cluster, enclosure
    homes = {
        _paragraph_home(page, b)
        for s in cluster
        for b in page.blocks[s.first : s.last]
        if b.good and not b.buried
    }
    signatures = {_signature(page.spans[h]) for h in homes if h >= 0}
    chosen = list(cluster)
    for span in page.spans[region.index :]:
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
    return chosen, (chosen[0] if len(chosen) == 1 else region)


def find_story(page: Page) -> tuple[list[Span], Span | None]:
    """The elements holding the story, and the one element that encloses them all."""
    known = known_container(page)
    return ([known], known) if known is not None else choose_story(page)


def _good_in(page: Page, span: Span) -> int:
    """Prose weight inside an element."""
    return sum(b.good for b in page.blocks[span.first : span.last])


def _dropped_by_furniture(page: Page, container: Span) -> list[bool]:
    """Per block of the container: whether a furniture element inside it holds the block."""
    first, last = container.first, container.last
    dropped = [False] * (last - first)
    total = sum(b.good for b in page.blocks[first:last]) or 1
    for span in page.spans[container.index + 1 :]:
        if span.first >= last:
            break  # spans are in document order: the rest lie after the container
        if not span.furniture or span.last <= span.first:
            continue
        # A "furniture" mark on most of the story is a false alarm (class="article share-on").
        if span.bodyish or sum(b.good for b in page.blocks[span.first : span.last]) > total / 2:
            continue
        for i in range(span.first, span.last):
            dropped[i - first] = True
    for span in _teaser_items(page, container):
        for i in range(span.first, span.last):
            dropped[i - first] = True
    return dropped


def _teaser_items(page: Page, container: Span) -> list[Span]:
    """Items of a teaser list inside the story box: a linked headline line, then a blurb."""
    # One such item could be a story's own list; two or more under one parent are a
    # "related stories" box, whatever its class says.
    blocks = page.blocks
    items: dict[int, list[Span]] = {}
    for span in page.spans[container.index + 1 :]:
        if span.first >= container.last:
            break
        if span.last - span.first < 2 or span.tag not in {"li", "article", "div"}:
            continue
        head = blocks[span.first]
        if head.links * 5 >= len(head.text) * 4 and len(head.text) < 150:
            items.setdefault(span.parent, []).append(span)
    return [span for group in items.values() if len(group) >= 2 for span in group]


def body_from_dom(page: Page, selection: list[Span], title: str | None) -> list[str]:
    """Paragraphs of the chosen elements, furniture inside them dropped."""
    lines: list[str] = []
    norm_title = squash(title or "").lower()
    for container in selection:
        dropped = _dropped_by_furniture(page, container)
        label = False  # whether the last line kept is a short label ("관련기사", "DON'T MISS")
        for i, block in enumerate(page.blocks[container.first : container.last]):
            if dropped[i]:
                continue
            if block.links * 2 > len(block.text):
                if label:
                    lines.pop()  # the label of a list of links is furniture too
                label = False
                continue
            line = _story_line(block, norm_title)
            if line:
                lines.append(line)
                label = len(line) <= 40 and not _ends_sentence(line)
    return lines


def _story_line(block: Block, norm_title: str) -> str | None:
    """A block's text when it reads as part of the story, else None."""
    text = block.text
    n = len(text)
    low = text.lower()
    if norm_title and low == norm_title:
        return None
    if _may_drop(text) and _ALWAYS_DROP.search(text):
        return None
    if n < 200 and (
        (_may_be_copyright(text, low) and _COPYRIGHT.search(text))
        or (_may_be_caption(text, low) and _CAPTION.search(text))
    ):
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
    """Whether the DOM lines already hold (nearly) all of the inline state's story text."""
    # The DOM copy is then preferred: it also carries what the state keeps elsewhere
    # (embedded posts, lists).
    dom = " ".join(lines)
    found = sum(len(p) for p in paragraphs if p in dom)
    return found >= 0.8 * sum(len(p) for p in paragraphs)


def find_body(
    page: Page, selection: list[Span], title: str | None, ld: LinkedData, state: JsonState
) -> tuple[list[str], list[str]]:
    """The story paragraphs and the trailer (tips, credits, copyright) cut from their end."""
    # The DOM's text, unless inline JSON state holds story text the DOM lacks (the story lives
    # only there), or JSON-LD articleBody is far longer than what the DOM yielded.
    lines = body_from_dom(page, selection, title)
    if not lines:
        # Everything in the chosen boxes was furniture: fall back to the densest subtree.
        region = choose_container(page)
        if region is not None and all(region is not s for s in selection):
            lines = body_from_dom(page, [region], title)
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

# fmt: off
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "article:published", "datepublished",
    "og:published_time", "published_time", "og:regdate", "pubdate", "publishdate",
    "publish-date", "publish_date", "publication_date", "sailthru.date", "parsely-pub-date",
    "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created", "dc.date",
    "dcterms.date", "date", "article.published", "nv:news:date", "datecreated",
)
# fmt: on
# fmt: off
_MODIFIED_META = (
    "article:modified_time", "og:article:modified_time", "article:modified", "datemodified",
    "og:updated_time", "modified_time", "dc.date.modified", "dcterms.modified", "last-modified",
    "lastmod",
)
# fmt: on

_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-./년]\s*(?P<m>\d{1,2})\s*[-./월]\s*(?P<d>\d{1,2})\s*[일.]?"
    r"(?:\s*\([월화수목금토일]\))?"
    r"(?:[T\s]*(?P<ampm>오전|오후|AM|PM|am|pm)?\s*(?P<H>\d{1,2})\s*[:시]\s*(?P<M>\d{2})"
    r"(?:\s*[:분]\s*(?P<S>\d{2})(?:\.\d+)?)?\s*(?:초)?\s*(?P<ampm2>AM|PM|am|pm)?"
    r"\s*(?P<tz>Z|UTC|GMT|KST|[+-]\d{2}:?\d{2})?)?"
)
_YEAR = re.compile(r"(?:19|20)\d{2}")  # in every _DATE and _EN_DATE match
_COMPACT = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")

_PUBLISHED_LABEL = re.compile(
    r"(?:기사\s*입력|최초\s*입력|최초\s*등록|입력|등록|송고\s*시간|송고|승인|게재|발행|작성|"
    r"published(?:\s+on)?|posted(?:\s+on)?|first\s+published)"
    r"\s*(?:일시|시간|일)?\s*[:：|]?\s*[\[(]?\s*",
    re.I,
)
_DATELINE = re.compile(
    r"^\s*(?:기사\s*입력|최초\s*입력|입력|등록|송고\s*시간|송고|승인|수정|최종\s*수정|업데이트|"
    r"기사\s*수정|발행|게재|작성)?\s*(?:일시|시간|일)?\s*[:：|]?\s*(?:19|20)\d{2}\s*[-./년]"
)
_MODIFIED_LABEL = re.compile(
    r"(?:최종\s*수정|기사\s*수정|수정|업데이트|(?:last\s+)?updated(?:\s+on)?|modified)"
    r"\s*(?:일시|시간|일)?\s*[:：|]?\s*[\[(]?\s*",
    re.I,
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?\s*([a-z]{2,5}\b|[+-]\d{2}:?\d{2})?"
# "Nov. 19, 2019, 9:02 AM EST", "Monday, November 18th, 2019", "19 Nov 2019 07:09 GMT",
# "01:38:07 PM IST Nov 20, 2019".
_EN_DATE = re.compile(
    rf"(?:{_CLOCK}\s+)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
    rf"(?:({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{{2}})"
    rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH}),?\s+((?:19|20)\d{{2}}))"
    rf"(?:,?\s*(?:at\s+|-\s+)?{_CLOCK})?",
    re.I,
)
_ZONES = {
    "gmt": 0.0,
    "utc": 0.0,
    "z": 0.0,
    "est": -5.0,
    "edt": -4.0,
    "cst": -6.0,
    "cdt": -5.0,
    "mst": -7.0,
    "mdt": -6.0,
    "pst": -8.0,
    "pdt": -7.0,
    "bst": 1.0,
    "cet": 1.0,
    "cest": 2.0,
    "eet": 2.0,
    "eest": 3.0,
    "ist": 5.5,
    "kst": 9.0,
    "jst": 9.0,
    "aest": 10.0,
    "aedt": 11.0,
}


def find_english_date(text: str, local_tz: tzinfo) -> datetime | None:
    """The first English-style date ("Nov. 19, 2019, 9:02 AM EST") inside a piece of text."""
    m = _EN_DATE.search(text) if _YEAR.search(text) else None
    if not m:
        return None
    g = m.groups()
    # Groups: leading clock (0-4), month-first date (5-7), day-first date (8-10), clock (11-15).
    month_name, day, year = (g[5], g[6], g[7]) if g[5] else (g[9], g[8], g[10])
    clock = g[11:16] if g[11] else g[0:5]
    hour, minute, second = (int(x) if x else 0 for x in clock[:3])
    ampm = (clock[3] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    zone: tzinfo = local_tz
    label = clock[4]
    if label and label[0] in "+-":
        zone = _offset(label)
    elif label and label.lower() in _ZONES:
        zone = timezone(timedelta(hours=_ZONES[label.lower()]))
    try:
        return datetime(
            int(year), _MONTHS[month_name[:3].lower()], int(day), hour, minute, second, tzinfo=zone
        )
    except ValueError:
        return None


def _offset(label: str) -> tzinfo:
    """A fixed zone from '+09:00' / '-0500'."""
    sign = -1 if label[0] == "-" else 1
    digits = label[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


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
        return find_english_date(text, local_tz)
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
        zone = _offset(tz)
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
    """The blocks around the headline and the story, where its own date lines sit."""
    # Site-wide headers carry their own clocks ('최종업데이트', weather bars), so the page
    # is not searched as a whole.
    blocks = page.blocks
    start = container.first if container is not None else 0
    end = container.last if container is not None else len(blocks)
    norm_title = squash(title or "")
    anchor = -1
    for i, block in enumerate(blocks):
        if norm_title and block.heading and block.text == norm_title:
            anchor = i
            break
    if anchor < 0 and norm_title:
        # Headlines set in <dt>, <strong> or a plain <div>: the nearest copy above the story.
        for i in range(start - 1, max(-1, start - 40), -1):
            if blocks[i].text == norm_title:
                anchor = i
                break
    if anchor >= 0:
        # A date may sit just above the headline, inside the same header element.
        block = blocks[anchor]
        head = page.spans[block.span].parent if block.span >= 0 else -1
        floor = page.spans[head].first if head >= 0 else anchor
        start = min(start, max(anchor - 3, floor))
    return blocks[start : end + 15]


@dataclass(slots=True)
class SeenDates:
    """Date lines a reader sees near the story."""

    published: datetime | None = None  # after a label: '입력', '등록', 'Published'
    modified: datetime | None = None  # after a label: '수정', 'Updated'
    bare: datetime | None = None  # a short line that is only a date and time


def _date_after(text: str, at: int, local_tz: tzinfo) -> datetime | None:
    """The date that starts right after a label ending at `at`."""
    m = _DATE.match(text, at)
    if m:
        return find_date_in(m.group(0), local_tz) if m["H"] else None
    m2 = _EN_DATE.match(text, at)
    return find_english_date(m2.group(0), local_tz) if m2 else None


def visible_dates(window: list[Block], local_tz: tzinfo) -> SeenDates:
    """Date lines a reader sees ('입력 2024.09.06 15:44', '수정 ...', 'Nov. 19, 2019 9:02 AM')."""
    seen = SeenDates()
    for block in window:
        text = block.text
        # Every date form spells out a year: lines without one (most) cannot hold a date.
        if len(text) > 200 or not _YEAR.search(text):
            continue
        if seen.published is None:
            for label in _PUBLISHED_LABEL.finditer(text):
                seen.published = _date_after(text, label.end(), local_tz)
                if seen.published is not None:
                    break
        if seen.modified is None:
            for label in _MODIFIED_LABEL.finditer(text):
                seen.modified = _date_after(text, label.end(), local_tz)
                if seen.modified is not None:
                    break
        if seen.bare is None and len(text) < 60:
            m = _DATE.search(text) or _EN_DATE.search(text)
            # Only a line that is mostly the date: "2026. 3. 21. 21:43", not a sentence; a bare
            # numeric date without a time is too often a weather bar or an archive link.
            mostly = m is not None and (m.end() - m.start()) * 2 >= len(text)
            if m and mostly and (":" in m.group(0) or (m.re is _EN_DATE and len(text) < 40)):
                seen.bare = find_date_in(m.group(0), local_tz)
        if seen.published is not None and seen.modified is not None:
            break
    return seen


def find_dates(
    tree: LexborHTMLParser,
    meta: dict[str, str],
    ld: LinkedData,
    state: JsonState,
    window: list[Block],
    local_tz: tzinfo,
) -> tuple[datetime | None, datetime | None]:
    """Publication and last-modification instants, kept apart."""
    # Machine-readable sources come first (JSON-LD, inline state, meta, microdata, portal
    # attributes), then labelled date lines near the story, then a bare date line there.

    def parse(value: str | None) -> datetime | None:
        return parse_date(value, local_tz) if value else None

    seen = visible_dates(window, local_tz)
    published = (
        parse(ld.published)
        or parse(state.published)
        or _meta_date(meta, _PUBLISHED_META, local_tz)
        or _attr_date(tree, "[data-date-time]._ARTICLE_DATE_TIME", "data-date-time", local_tz)
        or _attr_date(tree, '[itemprop="datePublished"]', "datetime", local_tz)
        or _attr_date(tree, "time[pubdate]", "datetime", local_tz)
        or parse(ld.page_published)
    )
    modified = (
        parse(ld.modified)
        or parse(state.modified)
        or _meta_date(meta, _MODIFIED_META, local_tz)
        or _attr_date(tree, "._ARTICLE_MODIFY_DATE_TIME", "data-modify-date-time", local_tz)
        or _attr_date(tree, '[itemprop="dateModified"]', "datetime", local_tz)
        or parse(ld.page_modified)
    )
    if published is None:
        published = (
            seen.published
            or _attr_date(tree, "article time[datetime]", "datetime", local_tz)
            or seen.bare
        )
    elif seen.published is not None and abs(published - seen.published) == timedelta(hours=9):
        # A UTC clock time mislabelled with the local offset (or the reverse): trust the page.
        published = seen.published
    if modified is None:
        modified = seen.modified
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
            meta.get("dcterms.creator"),
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
    if korean:
        # Daum shows the reporter's bare name first in its info line.
        for node in tree.css(".info_view .txt_info")[:1]:
            name = squash(node.text())
            if re.fullmatch(_NAME, name):
                return _with_role(name, None, body)
        return None
    return latin_byline(tree)


_LATIN_NAME = re.compile(r"^(?:by\s+)?([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})$", re.I)


def latin_byline(tree: LexborHTMLParser) -> str | None:
    """'By Jane Doe' from a byline element, for pages that state the author nowhere else."""
    for node in tree.css(_BYLINE_QUERY)[:6]:
        m = _LATIN_NAME.match(squash(node.text(separator=" ")))
        if m and m.group(1)[0].isupper():
            return m.group(1)
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
