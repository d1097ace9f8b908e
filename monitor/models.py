"""Plain data passed between pipeline stages; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Source:
    """One configured source: where to look and how often."""

    name: str
    kind: str
    url: str
    interval: float = 600.0  # seconds
    allow_private: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    ignore_robots: bool = False  # the user's explicit override of the hosts' robots.txt


@dataclass(frozen=True, slots=True)
class Link:
    """A pointer to one article as a source lists it."""

    url: str
    title: str | None = None
    published_at: datetime | None = None
    guid: str | None = None
    summary: str | None = None  # feed description; the body of last resort
    author: str | None = None
    # The article's identity when the listing knows it and the page may not (a search result
    # whose link is an unresolvable redirect is named by its title and publisher).
    canonical_url: str | None = None
    fetch: bool = True  # False: the page is not worth fetching; the listing's text is the article


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTTP response body with what later stages need to read it."""

    url: str  # final URL after redirects
    status: int
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304 answer to a conditional GET: body is empty


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """What is remembered about one URL between fetches: validators, body hash, small bodies."""

    url: str
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # sha1 of the body last read
    body: bytes | None = None  # kept only for small documents read again (robots.txt)
    outcome: str | None = None  # why reading that body failed, so the same bytes are not re-read
    fetched_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """What extraction found on one article page."""

    url: str
    title: str
    body: str  # paragraphs joined by "\n"
    published_at: datetime | None = None  # always timezone-aware when set
    author: str | None = None
    canonical_url: str | None = None  # as the page declares it (<link rel=canonical>, og:url)
    modified_at: datetime | None = None
    lang: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A user's keyword rule from the config."""

    name: str
    query: str
    notify: tuple[str, ...] = ()
    min_count: int = 1  # how many occurrences of each positive term the text must hold
    proximity: int | None = None  # all positive terms within this many characters
    short_forms: bool = True  # 미래차 matches 미래자동차
    particles: bool = True  # 평택 matches 평택시는


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a rule term in an article field."""

    term: str  # the term as the rule wrote it
    field: str  # title | body | source | url
    start: int  # character offsets in that field's text
    end: int
    text: str  # what the article actually says there


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that an article satisfies, with the evidence."""

    rule: str
    terms: tuple[str, ...]  # distinct rule terms that matched
    hits: tuple[Hit, ...]
    snippet: str  # plain text around the first body hit (or the title)
    highlights: tuple[tuple[int, int], ...] = ()  # (start, end) spans inside snippet


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the store keeps it: identity and keys added."""

    id: str
    url: str
    canonical_url: str
    source: str
    title: str
    body: str
    content_hash: str
    published_at: datetime | None
    author: str | None
    story_id: str | None = None
    fingerprint: int | None = None
    first_seen_at: datetime | None = None
    fetched_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification owed to one channel, as the outbox holds it."""

    id: int
    notifier: str
    key: str  # idempotency key: one delivery per (notifier, story or article)
    payload: dict[str, Any]
    status: str  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one pass over one source did."""

    source: str
    links: int = 0
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    matched: int = 0
    not_modified: bool = False
    errors: tuple[str, ...] = ()
