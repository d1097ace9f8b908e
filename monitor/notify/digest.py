"""What a notification says: stored matches grouped by rule and story, rendered with Jinja2."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from monitor.config import Notifier, Settings
from monitor.errors import NotifyError
from monitor.models import Delivery
from monitor.notify.base import Message, one_line
from monitor.store import Store, parse_iso

SCHEMA_VERSION = 1
TEMPLATES = ("digest.subject.txt", "digest.txt", "digest.html")
ALERT_TEMPLATES = ("alert.subject.txt", "alert.txt", "alert.html")


@dataclass(frozen=True, slots=True)
class Member:
    """One copy of a story: the same report on one portal."""

    source: str
    title: str
    url: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Item:
    """One story as a notification shows it: its first matching article and its copies."""

    article_id: str
    story_id: str
    title: str
    url: str
    source: str
    author: str | None
    published_at: datetime | None  # in the notifier's time zone
    first_seen_at: datetime | None
    rules: tuple[str, ...]
    terms: tuple[str, ...]
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    size: int  # articles in the story (the same report on several portals counts each)
    members: tuple[Member, ...]
    matches: tuple[dict[str, Any], ...]  # per rule: terms, snippet, highlights
    canonical_url: str = ""
    delivery_id: int | None = None

    @property
    def sources(self) -> list[str]:
        """The distinct portals that carry the story, first publisher first."""
        return list(dict.fromkeys(m.source for m in self.members)) or [self.source]


@dataclass(frozen=True, slots=True)
class Group:
    """The stories one rule flagged."""

    rule: str
    query: str
    items: tuple[Item, ...]


def idempotency_key(notifier: str, key: str) -> str:
    """The key a receiver sees for one delivery: the same on every attempt, ASCII, opaque."""
    return hashlib.sha256(f"{notifier}\n{key}".encode()).hexdigest()[:32]


def timezone_of(notifier: Notifier, settings: Settings) -> ZoneInfo:
    """The zone a notifier's schedule and times use."""
    return ZoneInfo(str(notifier.settings.get("timezone") or settings.timezone))


def _local(value: str | None, tz: ZoneInfo) -> datetime | None:
    """A stored UTC timestamp in the notifier's zone."""
    dt = parse_iso(value)
    return dt.astimezone(tz) if dt else None


def load_item(store: Store, delivery: Delivery, tz: ZoneInfo) -> Item | None:
    """The story a delivery is about, read from the store now (None if the article is gone)."""
    p = delivery.payload
    rules = [str(r) for r in p.get("rules") or ([p["rule"]] if p.get("rule") else [])]
    detail = store.delivery_detail(str(p.get("article_id", "")), p.get("story_id"))
    if detail is None:
        return None
    a, story, found = detail["article"], detail["story"], detail["matches"]
    matches = tuple(found[r] for r in rules if r in found) or tuple(found.values())
    first: dict[str, Any] = matches[0] if matches else {"snippet": "", "highlights": []}
    terms: dict[str, None] = {}
    for m in matches:
        terms.update(dict.fromkeys(m["terms"]))
    members = tuple(
        Member(m["source"], m["title"], m["url"], _local(m["published_at"], tz))
        for m in story["members"]
    )
    return Item(
        article_id=a["id"],
        story_id=story["id"],
        title=a["title"],
        url=a["url"],
        canonical_url=a["canonical_url"],
        source=a["source"],
        author=a["author"],
        published_at=_local(a["published_at"], tz),
        first_seen_at=_local(a["first_seen_at"], tz),
        rules=tuple(rules or [m["rule"] for m in matches]),
        terms=tuple(terms),
        snippet=first["snippet"],
        highlights=tuple((int(s), int(e)) for s, e in first["highlights"]),
        size=int(story["size"]),
        members=members,
        matches=tuple(
            {k: m[k] for k in ("rule", "terms", "snippet", "highlights")} for m in matches
        ),
        delivery_id=delivery.id,
    )


def group(items: Iterable[Item], queries: Mapping[str, str]) -> list[Group]:
    """Items by rule (in config order), newest first; a story flagged by two rules is in both."""
    by_rule: dict[str, list[Item]] = {r: [] for r in queries}
    for item in items:
        for rule in item.rules:
            by_rule.setdefault(rule, []).append(item)
    groups = []
    for rule, found in by_rule.items():
        if found:
            found.sort(key=lambda i: i.published_at or i.first_seen_at or _EPOCH, reverse=True)
            groups.append(Group(rule, queries.get(rule, ""), tuple(found)))
    return groups


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


# -- JSON (webhook bodies) -------------------------------------------------------------------


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def item_json(item: Item) -> dict[str, Any]:
    """One story as the webhook schema (version 1) carries it."""
    return {
        "article": {
            "id": item.article_id,
            "url": item.url,
            "canonical_url": item.canonical_url or item.url,
            "title": item.title,
            "source": item.source,
            "author": item.author,
            "published_at": _iso(item.published_at),
            "first_seen_at": _iso(item.first_seen_at),
        },
        "rule": item.rules[0] if item.rules else None,
        "rules": list(item.rules),
        "terms": list(item.terms),
        "snippet": item.snippet,
        "highlights": [list(h) for h in item.highlights],
        "matches": [dict(m) for m in item.matches],
        "story": {
            "id": item.story_id,
            "size": item.size,
            "sources": item.sources,
            "members": [
                {
                    "source": m.source,
                    "title": m.title,
                    "url": m.url,
                    "published_at": _iso(m.published_at),
                }
                for m in item.members
            ],
        },
    }


def document(
    kind: str, key: str, notifier: str, now: datetime, items: Sequence[Item]
) -> dict[str, Any]:
    """The webhook body: a versioned envelope around one item (match, test) or many (digest)."""
    doc: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "type": kind,
        "id": key,
        "notifier": notifier,
        "generated_at": now.isoformat(),  # rendered anew on each attempt (stories grow)
    }
    if kind == "digest":
        doc["items"] = [item_json(i) for i in items]
    else:
        doc["item"] = item_json(items[0])
    return doc


# -- templates ---------------------------------------------------------------------------------


def safe_url(value: object) -> str:
    """The URL if it is http(s), else nothing: a scraped javascript: link must not be a link."""
    url = str(value or "")
    return url if urlsplit(url).scheme in {"http", "https"} and "\n" not in url else ""


def _spans(text: str, highlights: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """The snippet cut into (text, highlighted) pieces; bad or overlapping spans are skipped."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted((int(h[0]), int(h[1])) for h in highlights):
        if start < pos or end <= start or end > len(text):
            continue
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((text[start:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces


def highlight_html(item: Item) -> Markup:
    """The snippet, escaped, with matched terms in <mark>."""
    out = Markup("")
    for piece, marked in _spans(item.snippet, item.highlights):
        out += Markup("<mark>{}</mark>").format(piece) if marked else escape(piece)
    return out


def highlight_text(item: Item) -> str:
    """The snippet with matched terms between asterisks."""
    return "".join(f"*{p}*" if m else p for p, m in _spans(item.snippet, item.highlights))


def _when(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.strftime(fmt) if dt else ""


_WEEKDAYS = "월화수목금토일"


def _korean_date(dt: datetime) -> str:
    """2024년 9월 6일 (금) 08:00."""
    return f"{dt.year}년 {dt.month}월 {dt.day}일 ({_WEEKDAYS[dt.weekday()]}) {dt:%H:%M}"


class Renderer:
    """Renders messages for one notifier from its templates (the user's first, then ours)."""

    def __init__(self, notifier: Notifier, settings: Settings) -> None:
        self.notifier = notifier
        self.settings = settings
        self.tz = timezone_of(notifier, settings)
        self.queries = {r.name: r.query for r in settings.rules}
        self.env = environment(notifier.settings.get("templates"))

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            where = (
                f"{exc.filename}:{exc.lineno}"
                if isinstance(exc, jinja2.TemplateSyntaxError)
                else name
            )
            raise NotifyError(
                f"notifier {self.notifier.name!r}: template {where}: {exc.message or exc}"
            ) from None

    def _message(
        self, names: tuple[str, str, str], key: str, context: dict[str, Any], data: dict[str, Any]
    ) -> Message:
        subject = one_line(self._render(names[0], context), 250)
        return Message(
            key=key,
            subject=subject,
            text=self._render(names[1], context),
            html=self._render(names[2], context),
            data=data,
        )

    def digest(self, items: Sequence[Item], key: str, now: datetime) -> Message:
        """One message for many stories, grouped by rule."""
        now = now.astimezone(self.tz)
        groups = group(items, self.queries)
        context = {
            "notifier": self.notifier.name,
            "generated_at": now,
            "generated": _korean_date(now),
            "groups": groups,
            "stories": len({i.story_id for i in items}),
            "articles": sum(i.size for i in items),
        }
        data = document("digest", key, self.notifier.name, now, items)
        return self._message(TEMPLATES, key, context, data)

    def alert(self, item: Item, key: str, now: datetime, kind: str = "match") -> Message:
        """One message for one story, as soon as it is flagged."""
        now = now.astimezone(self.tz)
        context = {
            "notifier": self.notifier.name,
            "generated_at": now,
            "generated": _korean_date(now),
            "item": item,
            "queries": self.queries,
            "test": kind == "test",
        }
        data = document(kind, key, self.notifier.name, now, [item])
        return self._message(ALERT_TEMPLATES, key, context, data)


def environment(user_dir: str | None = None) -> jinja2.Environment:
    """Jinja2 with HTML autoescaping for *.html, the user's directory searched first."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(str(Path(user_dir))))
    loaders.append(jinja2.PackageLoader("monitor", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        safe_url=safe_url,
        highlight_html=highlight_html,
        highlight_text=highlight_text,
        when=_when,
    )
    return env


def check_templates(user_dir: str) -> list[str]:
    """Syntax errors in a user's template directory, one line each."""
    env = environment(user_dir)
    problems = []
    for path in sorted(Path(user_dir).glob("*")):
        if path.suffix not in {".html", ".txt"} or not path.is_file():
            continue
        try:
            env.parse(path.read_text(encoding="utf-8"), path.name, str(path))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{path.name} line {exc.lineno}: {exc.message}")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: {exc}")
    return problems


def load_items(store: Store, deliveries: Iterable[Delivery], tz: ZoneInfo) -> list[Item]:
    """The stories of many deliveries; those whose article is gone are left out."""
    return [i for d in deliveries if (i := load_item(store, d, tz)) is not None]


def sample_item(now: datetime) -> Item:
    """A made-up story for `monitor test-notify`."""
    snippet = "평택시는 6일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다."
    members = (
        Member(
            "평택미래신문", "평택시, 미래차 산업 육성 협약 체결", "https://news.example.kr/1", now
        ),
        Member("경기신문", "평택시 미래차 협약", "https://news.example.kr/2", now),
    )
    return Item(
        article_id="sample",
        story_id="sample",
        title="[시험 알림] 평택시, 미래차 산업 육성 협약 체결",
        url="https://news.example.kr/1",
        source="평택미래신문",
        author="홍길동 기자",
        published_at=now,
        first_seen_at=now,
        rules=("test",),
        terms=("평택", "미래차"),
        snippet=snippet,
        highlights=((0, 2), (8, 13)),
        size=2,
        members=members,
        matches=(
            {
                "rule": "test",
                "terms": ["평택", "미래차"],
                "snippet": snippet,
                "highlights": [[0, 2], [8, 13]],
            },
        ),
    )
