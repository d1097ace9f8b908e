"""The only orchestration: run_source() reads as the pipeline does, run_due() runs what is due."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from monitor import dedupe, logs, memory
from monitor.config import FetchSettings, Settings
from monitor.errors import (
    BlockedURLError,
    ExtractError,
    FetchError,
    HTTPStatusError,
    SourceError,
    StoreError,
    ThrottledError,
)
from monitor.extract import extract_article
from monitor.fetch import Fetcher
from monitor.match import Matcher, compile_rules
from monitor.models import (
    Article,
    CachedResponse,
    Link,
    Match,
    Page,
    RunResult,
    Source,
    StoredArticle,
)
from monitor.sources import Poll, get_kind
from monitor.store import Outbox, Store, now_utc
from monitor.text import html_to_text

log = logging.getLogger("monitor.pipeline")

MAX_BACKOFF = 6 * 3600.0
# Recent stories whose features stay in memory (20-35 KB each per 1,000 characters): copies
# of a release arrive within hours, and a day of a busy desk's stories fits.
STORY_CACHE = 2048
# Stored articles enter the search index in batches of up to this many (and at each poll's end).
INDEX_BATCH = 200
# A poll's fetched pages are read in batches, stage by stage: every page's extraction, then
# every article's dedupe and matching, then the store. Each stage's code and data stay in the
# CPU's caches, and the event loop collects many answers per wake-up: a sixth less CPU per
# article at 64 than one by one. A page waits for the others at most READ_WAIT seconds (a
# batch blocks the loop for about 0.1 s), and never for a fetch that has not begun.
READ_BATCH = 64
READ_WAIT = 0.2
# Second-level domains under which the registrable name has three labels (news.example.co.kr).
_SLD = {
    "co",
    "or",
    "go",
    "ne",
    "re",
    "ac",
    "pe",
    "kg",
    "es",
    "ms",
    "hs",
    "sc",
    "mil",
    "com",
    "net",
    "org",
}


@dataclass
class Context:
    """What every stage call in a run shares."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    matcher: Matcher
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    on_article: Callable[[str, StoredArticle, Sequence[Match]], None] | None = None
    # Called with each finished source's result and its duration in seconds (metrics).
    on_result: Callable[[RunResult, float], None] | None = None
    # Verifying a candidate story needs its first article's features; recent ones are reused.
    story_features: OrderedDict[str, dedupe.StoryFeatures] = field(default_factory=OrderedDict)
    unindexed: int = 0  # articles stored since the search index was last brought up to date


def make_matcher(settings: Settings) -> Matcher:
    """Compile every configured rule into one matcher."""
    return compile_rules(settings.rules, settings.synonyms, settings.default_synonyms)


def site_of(host: str) -> str:
    """The registrable part of a host name (www.hani.co.kr -> hani.co.kr)."""
    if host.replace(".", "").isdigit() or ":" in host:
        return host  # an IP address is its own site: 10.0.0.1 must not pass for 127.0.0.1
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SLD and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def link_allowed(url: str, source: Source) -> bool:
    """Links are followed only to the source's own site or the hosts it lists."""
    host = urlsplit(url).hostname or ""
    allowed = source.settings.get("allowed_hosts")
    if allowed:
        return any(host == h or host.endswith("." + h) for h in allowed)
    if get_kind(source.kind).any_site:
        return True  # search results lead to every publisher's site
    return site_of(host) == site_of(urlsplit(source.url).hostname or "")


def backoff(interval: float, failures: int) -> float:
    """Seconds until a failing source is tried again: exponential, capped, jittered."""
    # The exponent is bounded so months of failures cannot overflow; a source polled less
    # often than the cap is never retried more often than it is polled.
    exponent = min(max(0, failures - 1), 30)
    base = min(max(MAX_BACKOFF, interval), max(60.0, interval) * 2.0**exponent)
    return float(base * random.uniform(0.8, 1.2))


async def run_source(ctx: Context, source: Source) -> RunResult:
    """Poll one source: fetch its listing, then fetch, extract, dedupe, match and store."""
    started = now_utc()
    lost = ctx.store.batches_lost  # see below: writes an error took back mid-poll
    kind = get_kind(source.kind)
    state = ctx.store.source_state(source.name)
    cursor = ctx.store.source_cursor(source.name)
    poll = Poll(ctx.fetcher, source, ctx.store, cursor, first=state.last_success_at is None)

    # fetch the listing, conditionally (as the kind asks: its headers, its daily quota)
    url = source.url  # search kinds build theirs from the query
    try:
        request = kind.request(source)
        url = request.url
        listing = await poll.get(
            request,
            etag=state.etag if request.conditional else None,
            last_modified=state.last_modified if request.conditional else None,
        )
    except FetchError as exc:
        return _failed(ctx, source, url, started, state.failures, str(exc), _wait(exc))
    except SourceError as exc:
        return _failed(ctx, source, url, started, state.failures, str(exc))
    if listing.not_modified:
        ctx.store.record_success(
            source.name, started + timedelta(seconds=source.interval), keep_validators=True
        )
        return RunResult(source.name, not_modified=True)
    listing_hash = hashlib.sha1(listing.body).hexdigest()
    if request.conditional and listing_hash == state.listing_hash:
        # Same bytes as last time: nothing can be new, and re-parsing would only cost CPU.
        ctx.store.record_success(
            source.name,
            started + timedelta(seconds=source.interval),
            listing.etag,
            listing.last_modified,
            listing_hash,
        )
        return RunResult(source.name, not_modified=True)

    # links the listing holds that we have not stored yet
    try:
        found = await kind.links(source, listing, poll)
    except SourceError as exc:
        return _failed(ctx, source, url, started, state.failures, f"{exc} ({listing.url})")
    except FetchError as exc:  # a page the listing led to: the next list page, a child sitemap
        return _failed(ctx, source, url, started, state.failures, str(exc), _wait(exc))
    links = [link for link in found.links if link_allowed(link.url, source)]
    known = ctx.store.known_links(link.url for link in links)
    fresh = [link for link in links if link.url not in known]

    # each new link: fetch -> extract -> dedupe -> match -> store
    # A source's links mostly share one host, so take them as fast as that host allows; a stop
    # request is honoured between articles (the ones whose fetch has begun are finished).
    slots = asyncio.Semaphore(ctx.settings.fetch.per_host)
    batch = _ReadBatch(ctx, source)

    async def take(link: Link) -> str:
        async with slots:
            if ctx.stop.is_set():
                return "skipped"
            with logs.bind(url=link.url):
                batch.fetching += 1
                try:
                    got = await _fetch_link(ctx, source, link)
                finally:
                    batch.fetching -= 1
        if isinstance(got, str):
            batch.settle()  # the last fetch to end reads the pages that waited for it
            return got
        return await batch.add(got)

    outcomes = await asyncio.gather(*(take(link) for link in fresh))
    new = sum(1 for o in outcomes if o == "new")
    matched = sum(1 for o in outcomes if o == "matched")
    duplicates = sum(1 for o in outcomes if o == "duplicate")
    errors = tuple(o for o in outcomes if o.startswith("error:"))
    errors += tuple(f"error:{problem}" for problem in found.problems)  # unread listing parts
    # Deferred writes of this poll that a database error rolled back (see Store.defer_commits)
    # leave links unrecorded: the listing must be read again, not answered with a 304.
    complete = (
        not ctx.stop.is_set()
        and ctx.store.batches_lost == lost
        and not any(o == "error:store" or o.startswith("error:throttled") for o in outcomes)
    )

    # remember validators only when every link was handled without error, so a crash or a
    # failed page re-reads the listing (a 304 would otherwise hide the page until it changes)
    clean = complete and not errors
    ctx.store.record_success(
        source.name,
        started + timedelta(seconds=max(source.interval, ctx.fetcher.throttled_for(url))),
        listing.etag if clean else None,
        listing.last_modified if clean else None,
        listing_hash if clean else None,
    )
    if clean and found.cursor is not None:  # how far the listing was read (sitemaps)
        ctx.store.record_cursor(source.name, found.cursor)
    if ctx.unindexed:
        index_pending(ctx)
    result = RunResult(
        source.name,
        links=len(links),
        fetched=len(fresh),
        new=new + matched,
        duplicates=duplicates,
        matched=matched,
        errors=errors,
    )
    log.info(
        "%d links, %d new, %d matched, %d duplicates, %d errors",
        result.links,
        result.new,
        result.matched,
        duplicates,
        len(errors),
        extra={"url": url},  # the listing's URL, which a kind may build from the source's
    )
    return result


@dataclass(slots=True)
class _Fetched:
    """A link ready to be read: its page, or (no page to read) the listing's own text."""

    link: Link
    got: Page | Article


async def _fetch_link(ctx: Context, source: Source, link: Link) -> str | _Fetched:
    """Fetch a link's page; an outcome (error:*) instead when there is nothing to read."""
    if not (link.fetch and source.settings.get("fetch_articles", True)):
        article = article_from_link(link)
        if article is None:
            return _link_failed(ctx, source, link, "feed item has neither title nor text")
        return _Fetched(link, article)
    tried = _tried(ctx, link.url)
    try:
        page = await ctx.fetcher.get(
            link.url,
            etag=tried.etag if tried else None,
            last_modified=tried.last_modified if tried else None,
            allow_private=source.allow_private,
            robots=not source.ignore_robots,
        )
    except ThrottledError as exc:
        # The host's fault, not the link's: not counted as a try; the next poll retries it.
        log.warning("%s", exc)
        return f"error:throttled: {exc}"
    except FetchError as exc:
        log.warning("%s", exc)
        fallback = article_from_link(link) if _for_good(exc) else None
        if fallback is None:
            return _link_failed(ctx, source, link, str(exc))
        # A page we may never read (forbidden, gone, robots.txt): the listing's text stays.
        return _Fetched(link, fallback)
    if tried is not None and (
        page.not_modified or hashlib.sha1(page.body).hexdigest() == tried.content_hash
    ):
        # The page that gave no article last time is unchanged: it would give none again.
        return _link_failed(ctx, source, link, tried.outcome or "unchanged")
    return _Fetched(link, page)


class _ReadBatch:
    """A poll's fetched pages, waiting to be read together (see READ_BATCH)."""

    def __init__(self, ctx: Context, source: Source) -> None:
        self.ctx = ctx
        self.source = source
        self.fetching = 0  # fetches under way, whose pages may still join
        self.waiting: list[tuple[_Fetched, asyncio.Future[str]]] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, item: _Fetched) -> asyncio.Future[str]:
        """Queue a fetched page; the future gives its outcome once its batch is read."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        self.waiting.append((item, done))
        if self._timer is None:
            self._timer = loop.call_later(READ_WAIT, self.read)
        self.settle()
        return done

    def settle(self) -> None:
        """Read the waiting pages when they fill a batch, or when no fetch can add to them."""
        if self.waiting and (len(self.waiting) >= READ_BATCH or self.fetching == 0):
            self.read()

    def read(self) -> None:
        """Take every waiting page through the stages; a cancelled poll's pages are dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting = [(item, done) for item, done in self.waiting if not done.done()]
        self.waiting = []
        outcomes: list[str | Exception]
        try:
            outcomes = read_pages(self.ctx, self.source, [item for item, _done in waiting])
        except Exception as exc:  # never expected: fail these pages rather than hang their poll
            outcomes = [exc] * len(waiting)
        for (_item, done), outcome in zip(waiting, outcomes, strict=True):
            if isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)


def read_pages(ctx: Context, source: Source, items: Sequence[_Fetched]) -> list[str | Exception]:
    """Extract every page, then dedupe and match every article, then store each in turn.

    Returns one outcome per item (new | matched | duplicate | error:*), or the exception an
    item raised, which leaves the others unharmed.
    """
    outcomes: list[str | Exception] = ["" for _ in items]
    found: list[tuple[int, _Prepared]] = []
    for i, item in enumerate(items):
        got: str | _Prepared | Exception
        with logs.bind(url=item.link.url):
            try:
                got = _article_of(ctx, source, item)
            except Exception as exc:  # a bug: raised for this link alone
                got = exc
        if isinstance(got, _Prepared):
            found.append((i, got))
        else:
            outcomes[i] = got
    for i, prep in found:
        with logs.bind(url=items[i].link.url):
            try:
                _analyse(ctx, source, prep)
            except Exception as exc:
                outcomes[i] = exc
    for i, prep in found:
        if outcomes[i]:
            continue
        with logs.bind(url=items[i].link.url):
            try:
                outcomes[i] = _keep_safely(ctx, source, items[i].link, prep)
            except Exception as exc:
                outcomes[i] = exc
    return outcomes


def _article_of(ctx: Context, source: Source, item: _Fetched) -> str | _Prepared:
    """Extract a fetched page's article; an outcome (error:*) when it holds none."""
    link, page = item.link, item.got
    if isinstance(page, Article):
        return _Prepared(link.url, page)
    if not link_allowed(page.url, source):
        return _link_failed(ctx, source, link, f"redirected off-site to {page.url}")
    try:
        article = read_page(source, page)
    except ExtractError as exc:
        fallback = article_from_link(link)
        if fallback is None:
            log.warning("no article: %s", exc)
            _remember_failed(ctx, link.url, page, f"no article: {exc}")
            return _link_failed(ctx, source, link, f"no article: {exc}")
        return _Prepared(page.url, fill_from_link(fallback, link))
    return _Prepared(page.url, fill_from_link(article, link))


class _Prepared:
    """An extracted article with what dedupe and matching make of it, each made once."""

    __slots__ = ("_features", "_normalized", "article", "canonical", "id", "matches", "page_url")

    def __init__(self, page_url: str, article: Article) -> None:
        self.page_url = page_url
        self.article = article
        self.canonical = dedupe.canonical_url(page_url, article.canonical_url)
        self.id = dedupe.article_id(self.canonical)
        self._normalized: tuple[str, str] | None = None
        self._features: dedupe.StoryFeatures | None = None
        self.matches: list[Match] | None = None

    @property
    def normalized(self) -> tuple[str, str]:
        """The normalised body and its content hash."""
        if self._normalized is None:
            text = dedupe.normalize_body(self.article.body)
            self._normalized = (text, dedupe.hash_normalized(text))
        return self._normalized

    @property
    def features(self) -> dedupe.StoryFeatures:
        """Story features of the normalised body and the title."""
        if self._features is None:
            self._features = dedupe.features_normalized(self.normalized[0], self.article.title)
        return self._features


def _analyse(ctx: Context, source: Source, prep: _Prepared) -> None:
    """The store-free work of dedupe and matching, for an article that looks new."""
    store = ctx.store
    try:
        if store.has_article(prep.id):
            return
        text, content_hash = prep.normalized
        if text and store.article_by_content(content_hash) is not None:
            return
    except StoreError:
        return  # _keep meets the error again and reports it
    _ = prep.features.keys
    prep.matches = ctx.matcher.match(prep.article, source.name)


def _keep_safely(ctx: Context, source: Source, link: Link, prep: _Prepared) -> str:
    """_keep(), with a database error reported for a retry instead of raised."""
    try:
        return _keep(ctx, source, link, prep)
    except StoreError as exc:
        log.error("not stored, will retry: %s", exc, extra={"url": link.url})
        return "error:store"


def _for_good(exc: FetchError) -> bool:
    """Whether a page will stay unreadable: refused, forbidden, gone or blocked by robots.txt."""
    if isinstance(exc, ThrottledError):
        return False
    if isinstance(exc, HTTPStatusError):
        return exc.status in {401, 402, 403, 410, 451}
    return isinstance(exc, BlockedURLError)


def read_page(source: Source, page: Page) -> Article:
    """Extract an article page; the source's own field selectors override the extractor."""
    fields = get_kind(source.kind).fields(source, page)
    try:
        article = extract_article(page.body, page.url, page.content_type)
    except ExtractError:
        if not (fields.get("title") and fields.get("body")):
            raise
        article = Article(url=page.url, title="", body="")
    return replace(article, **fields) if fields else article  # type: ignore[arg-type]


def _keep(ctx: Context, source: Source, link: Link, prep: _Prepared) -> str:
    """Dedupe, match and store one extracted article."""
    store = ctx.store
    article, page_url, article_id = prep.article, prep.page_url, prep.id
    link_urls = list(dict.fromkeys([link.url, page_url]))
    if store.has_article(article_id):
        store.record_link(link.url, source.name, article_id)
        return "duplicate"
    normalized, content_hash = prep.normalized
    same = store.article_by_content(content_hash) if normalized else None
    if same is not None:
        # The same text under another URL: one article seen twice, not two articles.
        store.record_link(link.url, source.name, same)
        return "duplicate"

    features = prep.features
    story_id = article_id
    for candidate in store.story_candidates(features.keys):
        known = _story_features(ctx, candidate)
        if known is not None and dedupe.similar(features, known):
            story_id = candidate
            break

    matches = prep.matches
    if matches is None:
        matches = ctx.matcher.match(article, source.name)
    now = now_utc()
    stored = StoredArticle(
        id=article_id,
        url=page_url,
        canonical_url=prep.canonical,
        source=source.name,
        title=article.title,
        body=article.body,
        content_hash=content_hash,
        published_at=article.published_at,
        author=article.author,
        story_id=story_id,
        fingerprint=features.fingerprint,
        first_seen_at=now,
        fetched_at=now,
    )
    # One delivery per (notifier, story) naming every rule that flagged it; a later copy of the
    # story conflicts with that key in the store and notifies nobody again.
    rules_for: dict[str, list[str]] = {}
    for m in matches:
        for notifier in ctx.settings.rule(m.rule).notify:
            rules_for.setdefault(notifier, []).append(m.rule)
    outbox = [
        Outbox(
            notifier,
            f"story:{story_id}",
            {"article_id": article_id, "rules": rules, "story_id": story_id},
        )
        for notifier, rules in rules_for.items()
    ]
    inserted = store.save_new(stored, link_urls, matches, outbox, features.keys)
    if not inserted:
        return "duplicate"
    if story_id == article_id:
        _remember_story(ctx, story_id, features)
    ctx.unindexed += 1
    if ctx.unindexed >= INDEX_BATCH:
        index_pending(ctx)
    if ctx.on_article is not None:
        ctx.on_article(source.name, stored, matches)
    return "matched" if matches else "new"


def index_pending(ctx: Context) -> None:
    """Bring the search index up to date; on a database error the next call catches up."""
    ctx.unindexed = 0
    try:
        ctx.store.index_pending()
    except StoreError as exc:
        log.warning("search index not updated, will retry: %s", exc)


def _story_features(ctx: Context, story_id: str) -> dedupe.StoryFeatures | None:
    """A story's features, from the cache of recent stories or computed and cached."""
    cached = ctx.story_features.get(story_id)
    if cached is not None:
        ctx.story_features.move_to_end(story_id)
        return cached
    text = ctx.store.story_text(story_id)
    if text is None:
        return None
    computed = dedupe.features(text[1], text[0])
    _remember_story(ctx, story_id, computed)
    return computed


def _remember_story(ctx: Context, story_id: str, features: dedupe.StoryFeatures) -> None:
    """Keep a story's features: copies of a release arrive close together."""
    ctx.story_features[story_id] = features
    if len(ctx.story_features) > STORY_CACHE:
        ctx.story_features.popitem(last=False)


def _link_failed(ctx: Context, source: Source, link: Link, error: str) -> str:
    """Record a link that could not become an article; it is retried a few times."""
    try:
        ctx.store.record_link(link.url, source.name, None, error)
    except StoreError:
        return "error:store"
    return "error:" + error


def _tried(ctx: Context, url: str) -> CachedResponse | None:
    """What the last read of a page that gave no article left (validators, body hash)."""
    try:
        cached = ctx.store.cached_response(url)
    except StoreError:
        return None
    return cached if cached is not None and cached.outcome else None


def _remember_failed(ctx: Context, url: str, page: Page, outcome: str) -> None:
    """Keep a failed page's validators and hash, so an unchanged copy is not read again."""
    entry = CachedResponse(
        url=url,
        status=page.status,
        etag=page.etag,
        last_modified=page.last_modified,
        content_hash=hashlib.sha1(page.body).hexdigest(),
        outcome=outcome,
    )
    with contextlib.suppress(StoreError):
        ctx.store.save_response(entry)


def _wait(exc: FetchError) -> float:
    """Seconds a throttled host asked us to stay away (0 for other failures)."""
    return exc.wait if isinstance(exc, ThrottledError) else 0.0


def _failed(
    ctx: Context,
    source: Source,
    url: str,
    started: datetime,
    failures: int,
    error: str,
    wait: float = 0.0,
) -> RunResult:
    """Record a failed poll with exponential backoff; the rest of the run goes on."""
    delay = max(backoff(source.interval, failures + 1), wait)
    count = ctx.store.record_failure(source.name, error, started + timedelta(seconds=delay))
    log.warning(
        "poll failed (%d in a row, next try in %.0fs): %s",
        count,
        delay,
        error,
        extra={"source": source.name, "url": url, "failures": count, "retry_in": round(delay)},
    )
    return RunResult(source.name, errors=(error,))


def article_from_link(link: Link) -> Article | None:
    """An article made from a feed item alone, when its page cannot be read."""
    body = html_to_text(link.summary) if link.summary else ""
    if not link.title and not body:
        return None
    return Article(
        url=link.url,
        title=link.title or body[:80],
        body=body,
        published_at=link.published_at,
        author=link.author,
        canonical_url=link.canonical_url,
    )


def fill_from_link(article: Article, link: Link) -> Article:
    """Fill what the page did not say from what the listing said."""
    changes: dict[str, object] = {}
    if not article.title and link.title:
        changes["title"] = link.title
    if article.published_at is None and link.published_at is not None:
        changes["published_at"] = link.published_at
    if not article.author and link.author:
        changes["author"] = link.author
    return replace(article, **changes) if changes else article  # type: ignore[arg-type]


async def run_due(
    ctx: Context,
    names: Sequence[str] | None = None,
    force: bool = False,
    parallel: int = 4,
    progress: Callable[[RunResult, int, int], None] | None = None,
) -> list[RunResult]:
    """Run every due source (or all of `names` when forced), a few at a time."""
    sources = {s.name: s for s in ctx.settings.sources}
    wanted = list(names) if names is not None else list(sources)
    due = wanted if force else ctx.store.due_sources(wanted)
    due = [n for n in due if n in sources]
    index_pending(ctx)  # what an interrupted run stored but did not index
    sem = asyncio.Semaphore(parallel)
    done = 0

    async def one(name: str) -> RunResult | None:
        nonlocal done
        async with sem:
            if ctx.stop.is_set():
                return None
            began = time.perf_counter()
            # Every log line of this source's poll, whichever module writes it, names it.
            with logs.bind(source=name, url=sources[name].url):
                try:
                    result = await run_source(ctx, sources[name])
                except StoreError as exc:
                    log.error("database error: %s", exc)
                    result = RunResult(name, errors=(str(exc),))
            if ctx.on_result is not None:
                ctx.on_result(result, time.perf_counter() - began)
        done += 1
        if progress is not None:
            progress(result, done, len(due))
        return result

    results = await asyncio.gather(*(one(n) for n in due))
    return [r for r in results if r is not None]


@contextlib.asynccontextmanager
async def session(settings: Settings, store: Store | None = None) -> AsyncIterator[Context]:
    """Open the store, the shared fetcher and the compiled rules for one run or daemon."""
    own_store = store is None
    memory.keep_freed_memory()  # a process that polls parses page after page: reuse the memory
    st = store or Store(settings.db_path)
    try:
        st.sync_sources(settings.sources)
        st.defer_commits()
        async with Fetcher(settings.fetch, cache=st) as fetcher:
            ctx = Context(
                settings=settings, store=st, fetcher=fetcher, matcher=make_matcher(settings)
            )
            try:
                yield ctx
            finally:
                if ctx.unindexed:
                    index_pending(ctx)
                try:
                    st.flush()  # the deferred writes, before the event loop (and its timer) ends
                except StoreError as exc:
                    log.error("%s", exc)
    finally:
        if own_store:
            st.close()


async def preview_source(settings: Settings, source: Source, limit: int = 5) -> dict[str, object]:
    """What one source yields now: its links and the first few articles; nothing is stored."""
    kind = get_kind(source.kind)
    matcher = make_matcher(settings)
    # API calls are counted in the database when there is one: the quota is the provider's.
    calls = Store(settings.db_path) if settings.db_path.exists() else None
    async with Fetcher(settings.fetch) as fetcher:
        poll = Poll(fetcher, source, calls)  # no cursor: what a first poll would read
        try:
            listing = await poll.get(kind.request(source))
            links = (await kind.links(source, listing, poll)).links
        except (SourceError, FetchError) as exc:
            raise SourceError(f"source {source.name!r}: {exc}") from exc
        finally:
            if calls is not None:
                calls.close()
        allowed = [link for link in links if link_allowed(link.url, source)]
        articles: list[dict[str, object]] = []
        for link in allowed[:limit]:
            entry: dict[str, object] = {"link": link.url}
            try:
                if link.fetch and source.settings.get("fetch_articles", True):
                    page = await fetcher.get(
                        link.url,
                        allow_private=source.allow_private,
                        robots=not source.ignore_robots,
                    )
                    article = fill_from_link(read_page(source, page), link)
                else:
                    made = article_from_link(link)
                    if made is None:
                        raise ExtractError("feed item has neither title nor text")
                    article = made
            except (FetchError, ExtractError) as exc:
                entry["error"] = str(exc)
            else:
                entry.update(
                    title=article.title,
                    published_at=article.published_at.isoformat() if article.published_at else None,
                    author=article.author,
                    body=article.body[:300] + ("…" if len(article.body) > 300 else ""),
                    rules=[m.rule for m in matcher.match(article, source.name)],
                )
            articles.append(entry)
    return {
        "source": source.name,
        "listing": listing.url,
        "links": len(links),
        "links_off_site": len(links) - len(allowed),
        "articles": articles,
    }


async def extract_target(target: str, settings: FetchSettings | None = None) -> Article:
    """Extract the article at a URL (fetched) or in a saved HTML file."""
    if target.startswith(("http://", "https://")):
        async with Fetcher(settings) as fetcher:
            page = await fetcher.get(target, allow_private=True)  # the user named it explicitly
        return extract_article(page.body, page.url, page.content_type)
    path = Path(target)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"cannot read {target}: {exc.strerror or exc}") from exc
    return extract_article(data, path.resolve().as_uri())
