"""Read-only HTTP over the store: /healthz, /metrics, a JSON API, and a small HTML page.

The standard library's threaded HTTP server is enough here: a dozen GET routes, local use,
and it runs on a thread beside the daemon's asyncio loop (`monitor run --http ADDR`) or alone
(`monitor serve`). Every request reads through its own read-only SQLite connection, so the
pages never block the pipeline's writes (WAL) and can never write.

Routes::

    /                      recent matches and stories; ?q= searches (as `monitor search`)
    /story/ID              one story's articles
    /healthz               200 when the daemon's scheduler ticks and the database takes writes
    /metrics               Prometheus text format
    /api                   the list of API routes
    /api/articles[/ID]     ?q= ?source= ?rule= ?story= ?since= ?order= ?limit= ?offset=
    /api/matches           ?rule= ?since= ?limit= ?offset=
    /api/stories[/ID]      ?min_size= ?order=recent|size ?since= ?limit= ?offset=
    /api/sources           sources with schedule state; /api/stats: everything `monitor stats` shows
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import jinja2
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor import search as search_mod
from monitor.config import Settings
from monitor.errors import MonitorError, SearchError, StoreError
from monitor.models import Match, RunResult, StoredArticle
from monitor.store import HEARTBEAT, Store, now_utc, parse_iso, probe_writable

log = logging.getLogger("monitor.web")

DEFAULT_ADDRESS = "127.0.0.1:8080"

PAGE_SIZE = 20
MAX_LIMIT = 500
READERS = 4  # read-only connections kept for requests
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def parse_address(text: str) -> tuple[str, int]:
    """ "host:port", "[::1]:port" or a bare port (on 127.0.0.1) -> (host, port)."""
    value = text.strip()
    if value.isdigit():
        return "127.0.0.1", int(value)
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise MonitorError(f"expected an address like 127.0.0.1:8080, got {text!r}")
    number = int(port)
    if not 0 <= number <= 65535:
        raise MonitorError(f"port out of range in {text!r}")
    return host.strip("[]"), number


# -- metrics ----------------------------------------------------------------------------------


class Metrics:
    """Prometheus metrics: counters the pipeline feeds in-process, and gauges read from the store.

    Counters (fetches, errors, articles, matches, poll durations) count what this process did
    since it started; the store's gauges (stored rows, deliveries by status, each source's
    failures and next poll, the daemon's heartbeat) are read at each scrape, so `monitor
    serve` beside a daemon shows them too.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "monitor_polls",
            "Source polls by outcome (ok, unchanged, failed).",
            ["source", "outcome"],
            registry=r,
        )
        self.fetches = Counter(
            "monitor_fetches",
            "HTTP fetches by what was fetched (listing, article).",
            ["source", "kind"],
            registry=r,
        )
        self.errors = Counter(
            "monitor_errors",
            "Errors by stage (poll: the listing failed; article: one link failed).",
            ["source", "stage"],
            registry=r,
        )
        self.articles = Counter("monitor_articles", "New articles stored.", ["source"], registry=r)
        self.matches = Counter("monitor_matches", "Rule matches stored.", ["rule"], registry=r)
        self.duration = Histogram(
            "monitor_poll_duration_seconds",
            "Time to poll one source, listing and new articles included.",
            ["source"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.ticks = Counter(
            "monitor_scheduler_ticks", "Scheduler ticks that ran due sources.", registry=r
        )
        self.last_tick = Gauge(
            "monitor_scheduler_last_tick_timestamp_seconds",
            "When the last scheduler tick finished (Unix time).",
            registry=r,
        )

    def on_result(self, result: RunResult, seconds: float) -> None:
        """Count one finished source poll (the pipeline's result hook)."""
        name = result.source
        failed = bool(result.errors) and not result.links and not result.not_modified
        outcome = "failed" if failed else "unchanged" if result.not_modified else "ok"
        self.polls.labels(name, outcome).inc()
        self.fetches.labels(name, "listing").inc()
        if result.fetched:
            self.fetches.labels(name, "article").inc(result.fetched)
        if failed:
            self.errors.labels(name, "poll").inc()
        elif result.errors:
            self.errors.labels(name, "article").inc(len(result.errors))
        if result.new:
            self.articles.labels(name).inc(result.new)
        self.duration.labels(name).observe(seconds)

    def on_article(self, source: str, article: StoredArticle, matches: Sequence[Match]) -> None:
        """Count one stored article's matches (the pipeline's article hook)."""
        for m in matches:
            self.matches.labels(m.rule).inc()

    def on_tick(self) -> None:
        """Count one finished scheduler tick."""
        self.ticks.inc()
        self.last_tick.set(time.time())

    def watch_store(self, readers: Readers) -> None:
        """Also expose the store's state at each scrape."""
        self.registry.register(_StoreCollector(readers))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, readers: Readers) -> None:
        self.readers = readers

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: the registry must not query the database when this registers."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read the store and yield its gauges (none when it cannot be read)."""
        try:
            with self.readers.store() as store:
                stats = store.stats()
        except (MonitorError, OSError) as exc:
            log.warning("metrics: cannot read the database: %s", exc)
            return
        stored = GaugeMetricFamily(
            "monitor_stored", "Rows in the store by table.", labels=["table"]
        )
        for table, count in stats["totals"].items():
            stored.add_metric([table], count)
        yield stored
        rules = GaugeMetricFamily(
            "monitor_stored_matches", "Stored matches by rule.", labels=["rule"]
        )
        for r in stats["rules"]:
            rules.add_metric([r["rule"]], r["matches"])
        yield rules
        deliveries = GaugeMetricFamily(
            "monitor_deliveries",
            "Deliveries in the outbox by notifier and status (pending, sent, dead).",
            labels=["notifier", "status"],
        )
        for d in stats["deliveries"]:
            deliveries.add_metric([d["notifier"], d["status"]], d["count"])
        yield deliveries
        failures = GaugeMetricFamily(
            "monitor_source_failures", "Consecutive failed polls of a source.", labels=["source"]
        )
        success = GaugeMetricFamily(
            "monitor_source_last_success_timestamp_seconds",
            "When a source was last polled successfully (Unix time).",
            labels=["source"],
        )
        due = GaugeMetricFamily(
            "monitor_source_next_poll_timestamp_seconds",
            "When a source is next polled, or retried after failures (Unix time).",
            labels=["source"],
        )
        for s in stats["sources"]:
            failures.add_metric([s["name"]], s["failures"])
            if (last := parse_iso(s["last_success_at"])) is not None:
                success.add_metric([s["name"]], last.timestamp())
            if (nxt := parse_iso(s["next_due_at"])) is not None:
                due.add_metric([s["name"]], nxt.timestamp())
        yield failures
        yield success
        yield due
        beat = GaugeMetricFamily(
            "monitor_heartbeat_timestamp_seconds",
            "The daemon's last heartbeat (Unix time).",
            labels=["name"],
        )
        for hb in stats["heartbeats"]:
            if (at := parse_iso(hb["beat_at"])) is not None:
                beat.add_metric([hb["name"]], at.timestamp())
        yield beat


# -- store access -----------------------------------------------------------------------------


class Readers:
    """A small pool of read-only stores, one lent to each request."""

    def __init__(self, path: Path, size: int = READERS) -> None:
        self.path = path
        self._pool: queue.LifoQueue[Store] = queue.LifoQueue()
        self._size = size
        self._made = 0
        self._lock = threading.Lock()

    @contextmanager
    def store(self) -> Iterator[Store]:
        """Borrow a read-only store (opened on first use)."""
        try:
            st = self._pool.get_nowait()
        except queue.Empty:
            st = Store(self.path, readonly=True)
        try:
            yield st
        finally:
            with self._lock:
                keep = self._pool.qsize() < self._size
            if keep:
                self._pool.put(st)
            else:
                st.close()

    def close(self) -> None:
        """Close every pooled store."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return


# -- health -----------------------------------------------------------------------------------


@dataclass
class Health:
    """Whether the service is healthy, and each check's detail."""

    ok: bool
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def check_health(
    readers: Readers, db_path: Path, now: datetime | None = None, lock_timeout: float = 2.0
) -> Health:
    """Healthy when the daemon's scheduler beat recently and the database takes writes."""
    now = now or now_utc()
    try:
        with readers.store() as store:
            beat = store.heartbeat(HEARTBEAT)
        if beat is None:
            scheduler = {"ok": False, "detail": "no daemon is running on this database"}
        else:
            at = parse_iso(beat["beat_at"]) or now
            interval = float(beat["interval"])
            age = (now - at).total_seconds()
            # Three missed beats (or 30 s past one, for fast test ticks) mean it is stuck.
            limit = max(3 * interval, interval + 30)
            ok = age <= limit
            scheduler = {
                "ok": ok,
                "detail": (
                    f"last tick {age:.0f}s ago"
                    if ok
                    else f"no tick for {age:.0f}s (expected every {interval:.0f}s)"
                ),
                "last_beat_at": beat["beat_at"],
                "pid": beat["pid"],
                "host": beat["host"],
            }
    except (MonitorError, OSError) as exc:
        scheduler = {"ok": False, "detail": f"cannot read the database: {exc}"}
    problem = probe_writable(db_path, lock_timeout)
    database = {"ok": problem is None, "detail": problem or "writable"}
    return Health(
        ok=bool(scheduler["ok"] and database["ok"]),
        checks={"scheduler": scheduler, "database": database},
    )


# -- the application --------------------------------------------------------------------------


@dataclass
class Response:
    """What a route answers."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(MonitorError):
    """A request parameter cannot be used; the message says which and why."""


def _templates() -> jinja2.Environment:
    """The page templates, HTML-escaped by default (everything scraped is untrusted)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor", "templates/web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["link"] = safe_link
    return env


def safe_link(url: object) -> str | None:
    """A scraped URL fit for an href (http or https only), else None: no javascript: links."""
    if not isinstance(url, str):
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def marked(text: str, spans: Iterable[Sequence[int]]) -> list[tuple[str, bool]]:
    """Text cut into (piece, is_hit) for the template, with stored spans made safe to use."""
    clean: list[tuple[int, int]] = []
    for span in sorted((int(s[0]), int(s[1])) for s in spans if len(s) >= 2):
        start, end = max(0, span[0]), min(len(text), span[1])
        if start >= end:
            continue
        if clean and start < clean[-1][1]:
            start = clean[-1][1]
            if start >= end:
                continue
        clean.append((start, end))
    return search_mod.parts(text, clean)


class WebApp:
    """The routes, over a read-only pool of the store; `settings()` may change (SIGHUP)."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        metrics: Metrics | None = None,
        readers: Readers | None = None,
    ) -> None:
        self.settings = settings
        self.readers = readers or Readers(settings().db_path)
        self.metrics = metrics or Metrics()
        self.metrics.watch_store(self.readers)
        self.env = _templates()
        self.lock_timeout = 2.0  # how long /healthz waits for the write lock

    def handle(self, path: str, query: Mapping[str, list[str]]) -> Response:
        """Answer one GET request."""
        try:
            return self._route(path, query)
        except BadRequest as exc:
            if path.startswith("/api"):
                return _json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
            return self._page("error.html", HTTPStatus.BAD_REQUEST, message=str(exc))
        except (StoreError, MonitorError) as exc:
            log.error("request failed: %s", exc, extra={"path": path})
            if path.startswith("/api"):
                return _json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)
            return self._page("error.html", HTTPStatus.SERVICE_UNAVAILABLE, message=str(exc))

    def _route(self, path: str, q: Mapping[str, list[str]]) -> Response:
        """Dispatch on the path."""
        if path == "/healthz":
            health = check_health(
                self.readers, self.settings().db_path, lock_timeout=self.lock_timeout
            )
            status = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
            body = {"status": "ok" if health.ok else "unhealthy", "checks": health.checks}
            return _json(body, status)
        if path == "/metrics":
            return Response(200, self.metrics.render(), CONTENT_TYPE_LATEST)
        if path == "/":
            return self._index(q)
        if path.startswith("/story/"):
            return self._story_page(path.removeprefix("/story/"))
        if path in ("/api", "/api/"):
            return _json({"routes": _API_ROUTES})
        if path.startswith("/api/"):
            return self._api(path.removeprefix("/api/").rstrip("/"), q)
        return self._page("error.html", HTTPStatus.NOT_FOUND, message=f"no page at {path}")

    # -- JSON API --------------------------------------------------------------------------

    def _api(self, route: str, q: Mapping[str, list[str]]) -> Response:
        """The JSON routes."""
        name, _, ident = route.partition("/")
        tz = ZoneInfo(self.settings().timezone)
        with self.readers.store() as store:
            if name == "articles" and ident:
                item = store.article(ident)
                return _found(item, tz, f"no article {ident!r}")
            if name == "stories" and ident:
                return _found(store.story(ident), tz, f"no story {ident!r}")
            if ident:
                return _json({"error": f"no API route /api/{route}"}, HTTPStatus.NOT_FOUND)
            limit, offset = _paging(q)
            if name == "articles":
                items = self._articles(store, q, limit + 1, offset)
            elif name == "matches":
                items = store.match_rows(
                    rule=_one(q, "rule"), since=self._since(q), limit=limit + 1, offset=offset
                )
            elif name == "stories":
                order = _choice(q, "order", ("recent", "size"))
                items = store.story_rows(
                    min_size=_int(q, "min_size", 1, 1, 1_000_000),
                    order="size" if order == "size" else "recent",
                    since=self._since(q),
                    limit=limit + 1,
                    offset=offset,
                )
            elif name == "sources":
                items = store.stats()["sources"][offset : offset + limit + 1]
            elif name == "stats":
                return _json(_localized(store.stats(), tz))
            else:
                return _json({"error": f"no API route /api/{route}"}, HTTPStatus.NOT_FOUND)
        more = len(items) > limit
        items = items[:limit]
        following = None
        if more:
            params = {k: v for k, v in q.items() if k not in ("offset",)}
            params["offset"] = [str(offset + limit)]
            following = f"/api/{name}?" + urlencode(params, doseq=True)
        return _json(
            {
                "items": _localized(items, tz),
                "limit": limit,
                "offset": offset,
                "next": following,
            }
        )

    def _articles(
        self, store: Store, q: Mapping[str, list[str]], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Search hits when ?q= is given, else the newest articles; the same filters apply."""
        filters: dict[str, Any] = {
            "sources": [s for s in q.get("source", []) if s],
            "rule": _one(q, "rule"),
            "story": _one(q, "story"),
            "since": self._since(q),
        }
        text = _one(q, "q")
        if text:
            order = _choice(q, "order", ("rank", "new"))
            return store.search(
                self._parse(text),
                order="new" if order == "new" else "rank",
                limit=limit,
                offset=offset,
                **filters,
            )
        return store.article_rows(limit=limit, offset=offset, **filters)

    def _since(self, q: Mapping[str, list[str]]) -> datetime | None:
        """The ?since= filter as a time, or None."""
        value = _one(q, "since")
        if not value:
            return None
        try:
            return search_mod.parse_since(value, now_utc(), ZoneInfo(self.settings().timezone))
        except SearchError as exc:
            raise BadRequest(str(exc).replace("--since", "since")) from None

    @staticmethod
    def _parse(text: str) -> search_mod.SearchQuery:
        """A search query, or BadRequest saying what is wrong with it."""
        try:
            return search_mod.parse(text)
        except SearchError as exc:
            raise BadRequest(str(exc)) from None

    # -- HTML ------------------------------------------------------------------------------

    def _index(self, q: Mapping[str, list[str]]) -> Response:
        """The front page: a search form, then results or recent matches and stories."""
        settings = self.settings()
        text = (_one(q, "q") or "").strip()
        source = _one(q, "source") or ""
        rule = _one(q, "rule") or ""
        offset = _int(q, "offset", 0, 0, 1_000_000)
        results: list[dict[str, Any]] | None = None
        matches: list[dict[str, Any]] = []
        stories: list[dict[str, Any]] = []
        more = False
        error = None
        with self.readers.store() as store:
            totals = store.counts()
            if text:
                try:
                    query = self._parse(text)
                except BadRequest as exc:
                    error = str(exc)
                else:
                    found = store.search(
                        query,
                        sources=[source] if source else [],
                        rule=rule or None,
                        limit=PAGE_SIZE + 1,
                        offset=offset,
                    )
                    more = len(found) > PAGE_SIZE
                    results = [
                        {
                            **hit,
                            "title_parts": marked(hit["title"], hit["title_highlights"]),
                            "snippet_parts": marked(hit["snippet"], hit["highlights"]),
                        }
                        for hit in found[:PAGE_SIZE]
                    ]
            if results is None:
                matches = [
                    {**m, "snippet_parts": marked(m["snippet"], m["highlights"])}
                    for m in store.match_rows(rule=rule or None, limit=30)
                ]
                stories = store.story_rows(min_size=2, order="recent", limit=15)
        base = {"q": text, "source": source, "rule": rule}
        return self._page(
            "index.html",
            HTTPStatus.OK,
            q=text,
            source=source,
            rule=rule,
            sources=[s.name for s in settings.sources],
            rules=[r.name for r in settings.rules],
            results=results,
            matches=matches,
            stories=stories,
            totals=totals,
            error=error,
            offset=offset,
            next_url=_page_url(base, offset + PAGE_SIZE) if more else None,
            prev_url=_page_url(base, max(0, offset - PAGE_SIZE)) if offset else None,
        )

    def _story_page(self, story_id: str) -> Response:
        """One story: every article that carried it."""
        with self.readers.store() as store:
            story = store.story(story_id)
        if story is None:
            return self._page("error.html", HTTPStatus.NOT_FOUND, message="no such story")
        return self._page("story.html", HTTPStatus.OK, story=story)

    def _page(self, template: str, status: int, **context: Any) -> Response:
        """Render an HTML page."""
        tz = ZoneInfo(self.settings().timezone)

        def local(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
            when = parse_iso(value)
            return when.astimezone(tz).strftime(fmt) if when else ""

        html = self.env.get_template(template).render(local=local, quote=quote, **context)
        return Response(
            status,
            html.encode("utf-8"),
            "text/html; charset=utf-8",
            {"Content-Security-Policy": _CSP},
        )


_API_ROUTES = [
    "/api/articles?q=&source=&rule=&story=&since=&order=rank|new&limit=&offset=",
    "/api/articles/{id}",
    "/api/matches?rule=&since=&limit=&offset=",
    "/api/stories?min_size=&order=recent|size&since=&limit=&offset=",
    "/api/stories/{id}",
    "/api/sources?limit=&offset=",
    "/api/stats",
]


def _page_url(params: Mapping[str, str], offset: int) -> str:
    """The front page's URL for another page of results."""
    kept = {k: v for k, v in params.items() if v}
    if offset:
        kept["offset"] = str(offset)
    return "/?" + urlencode(kept)


def _one(q: Mapping[str, list[str]], key: str) -> str | None:
    """The first value of a query parameter, or None."""
    values = q.get(key)
    return values[0] if values else None


def _int(q: Mapping[str, list[str]], key: str, default: int, low: int, high: int) -> int:
    """An integer parameter within bounds, or BadRequest."""
    value = _one(q, key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{key}: expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"{key}: expected {low} to {high}, got {number}")
    return number


def _choice(q: Mapping[str, list[str]], key: str, allowed: Sequence[str]) -> str:
    """A parameter that must be one of `allowed` (the first is the default)."""
    value = _one(q, key) or allowed[0]
    if value not in allowed:
        raise BadRequest(f"{key}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _paging(q: Mapping[str, list[str]]) -> tuple[int, int]:
    """(limit, offset) from the request."""
    return _int(q, "limit", 50, 1, MAX_LIMIT), _int(q, "offset", 0, 0, 10_000_000)


def _localized(data: Any, tz: ZoneInfo) -> Any:
    """Stored UTC times (keys ending in _at) as ISO 8601 with the configured zone's offset."""
    if isinstance(data, list):
        return [_localized(x, tz) for x in data]
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if k.endswith("_at") and isinstance(v, str) and v:
                with suppress(ValueError):  # not a time after all: keep it as it is
                    v = datetime.fromisoformat(v).astimezone(tz).isoformat()
            out[k] = _localized(v, tz)
        return out
    if isinstance(data, tuple):
        return [_localized(x, tz) for x in data]
    return data


def _json(data: Any, status: int = HTTPStatus.OK) -> Response:
    """A JSON response (UTF-8, Korean unescaped)."""
    body = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    return Response(status, body.encode("utf-8"), "application/json; charset=utf-8")


def _found(item: dict[str, Any] | None, tz: ZoneInfo, missing: str) -> Response:
    """The item as JSON, or 404."""
    if item is None:
        return _json({"error": missing}, HTTPStatus.NOT_FOUND)
    return _json(_localized(item, tz))


# -- the server -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(app: WebApp) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one app."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "monitor"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _refuse(self) -> None:
            body = b"read-only: only GET and HEAD\n"
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

        def _answer(self, send_body: bool) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=False)
            started = time.perf_counter()
            try:
                resp = app.handle(parts.path or "/", query)
            except Exception:  # a bug must cost one request, not the server thread
                log.exception("request failed", extra={"path": parts.path})
                resp = Response(500, b"internal error\n", "text/plain; charset=utf-8")
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if send_body:
                self.wfile.write(resp.body)
            log.debug(
                "%s %s -> %d",
                self.command,
                parts.path,
                resp.status,
                extra={"ms": round((time.perf_counter() - started) * 1000, 1)},
            )

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are logged through logging (above), not to stderr."""

    return Handler


class WebServer:
    """The HTTP server on its own thread; a context manager that stops it on exit."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        address: str = DEFAULT_ADDRESS,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = WebApp(settings, metrics)
        host, port = parse_address(address)
        cls = _Server6 if ":" in host else _Server
        try:
            self._server = cls((host, port), _handler(self.app))
        except OSError as exc:
            raise MonitorError(f"cannot listen on {address}: {exc.strerror or exc}") from exc
        bound = self._server.server_address
        bound_host = bound[0].decode() if isinstance(bound[0], bytes) else str(bound[0])
        bound_port = bound[1]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how soon stop() returns
            name="monitor-http",
            daemon=True,
        )

    @property
    def metrics(self) -> Metrics:
        """The metrics this server exposes (feed them from the pipeline)."""
        return self.app.metrics

    def start(self) -> WebServer:
        """Start serving on the background thread."""
        self._thread.start()
        log.info("serving HTTP on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the database connections."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self.app.readers.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
