"""The fault matrix (docs/faults.md), each row proven against a real server that misbehaves.

Every fault must end with a log line naming the source and URL, leave the rest of the run
alone, and lose nothing: what failed is stored on a later run once the server behaves.
SIGTERM mid-cycle is proven in test_daemon.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor import config as config_mod
from monitor import logs, pipeline
from monitor import store as store_mod
from monitor.config import Settings
from monitor.fetch import Fetcher
from monitor.models import RunResult
from monitor.store import Store, parse_iso
from tests.conftest import LocalServer, Route, write_config

ARTICLE = """<html><head><meta charset="{charset}"><title>{title} - 평택미래신문</title>
<meta property="article:published_time" content="2024-09-06T15:44:00+09:00"></head>
<body><nav><a href="/">홈</a> <a href="/s">사회</a></nav>
<article><h1>{title}</h1><p class="byline">홍길동 기자</p>
<div id="article-view-content-div">
<p>평택시는 {n}일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다. 시는 이번 협약으로 관련 기업 유치에 속도를 낸다. 기사 번호 {n}.</p>
<p>시 관계자는 "지역 산업의 체질을 바꾸는 계기가 될 것"이라며 "시민 일자리 창출에도 힘쓰겠다"고 말했다. 기사 번호 {n}.</p>
<p>협약에 참여한 기업 {n}곳은 연구개발 거점을 평택에 두고 인력 양성 프로그램을 함께 운영하기로 했다.</p>
</div></article><footer>Copyright 평택미래신문</footer></body></html>"""

Records = Callable[[], list[dict[str, Any]]]


def article(n: int, charset: str = "utf-8", meta: bool = True) -> bytes:
    html = ARTICLE.format(title=f"평택 미래차 협약 소식 {n}", n=n, charset=charset)
    if not meta:
        html = html.replace(f'<meta charset="{charset}">', "")
    return html.encode("cp949" if charset == "euc-kr" else "utf-8")


def rss(
    server: LocalServer, paths: list[str], host: str | None = None, titled: bool = True
) -> bytes:
    base = f"http://{host}:{server.port}" if host else server.base
    items = "".join(
        (f"<item><title>기사 {p}</title>" if titled else "<item>")
        + f"<link>{base}/{p}</link><guid>{p}</guid></item>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{items}</channel></rss>"
    ).encode()


def settings_for(tmp_path: Path, sources: list[dict[str, Any]], **fetch: Any) -> Settings:
    """A validated config, as `monitor run` would read it (fast timeouts for the tests)."""
    return config_mod.parse(
        {
            "storage": {"path": str(tmp_path / "m.db")},
            "fetch": {"timeout": 1, "retries": 0, **fetch},
            "sources": [
                {"kind": "feed", "interval": "10m", "allow_private": True, **s} for s in sources
            ],
            "rules": [{"name": "pt", "query": "평택 미래차"}],
        }
    )


def run_once(settings: Settings, **fetcher: Any) -> dict[str, RunResult]:
    """One forced pass over every source through the real pipeline; results by source."""

    async def go() -> list[RunResult]:
        store = Store(settings.db_path)
        try:
            store.sync_sources(settings.sources)
            async with Fetcher(settings.fetch, cache=store, **fetcher) as f:
                ctx = pipeline.Context(settings, store, f, pipeline.make_matcher(settings))
                return await pipeline.run_due(ctx, force=True)
        finally:
            store.close()

    return {r.source: r for r in asyncio.run(go())}


def rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def titles(db: Path) -> set[str]:
    return {r[0] for r in rows(db, "SELECT title FROM articles")}


@pytest.fixture
def joblog() -> Iterator[Records]:
    """The JSON log lines the monitor writes (as a service would), parsed."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.setup(verbose=1, fmt="json", stream=stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def logged(records: list[dict[str, Any]], source: str, url: str, pattern: str) -> bool:
    """Whether some log line names this source and URL and says what went wrong."""
    return any(
        r.get("source") == source and r.get("url") == url and re.search(pattern, r["message"])
        for r in records
    )


# -- one article page misbehaves: the rest of the source is stored, the page later -----------

PAGE_FAULTS: dict[str, tuple[Route, str]] = {
    "timeout": (Route(article(3), delay=2.5), r"timed out"),
    "slow-drip body": (Route(article(3), drip=0.01), r"timed out"),
    "connection reset": (Route(reset=True), r"Disconnected|disconnected|ReadError|reset"),
    "HTTP 500": (Route(b"oops", status=500), r"HTTP 500"),
    "redirect loop": (Route(status=302, headers={"Location": "/bad"}), r"more than 5 redirects"),
    "200 MB body, declared": (Route(size=200_000_000), r"200000000 bytes exceeds"),
    "200 MB body, streamed": (Route(size=200_000_000, declare=False), r"body exceeds"),
    "gzip bomb": (Route(size=200_000_000, gzip=True), r"body exceeds"),
}


@pytest.mark.parametrize("fault", list(PAGE_FAULTS))
def test_a_misbehaving_page_costs_only_itself(
    fault: str, server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    route, says = PAGE_FAULTS[fault]
    server.add("a/1", Route(article(1)))
    server.add("a/2", Route(article(2)))
    server.add("bad", route)
    server.add("rss.xml", Route(rss(server, ["a/1", "bad", "a/2"])))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    db = settings.db_path

    started = time.monotonic()
    result = run_once(settings)["pt-news"]
    assert time.monotonic() - started < 8
    assert result.new == 2 and len(result.errors) == 1, result
    assert titles(db) == {"평택 미래차 협약 소식 1", "평택 미래차 협약 소식 2"}
    assert logged(joblog(), "pt-news", server.url("bad"), says), joblog()
    assert rows(db, "SELECT attempts FROM links WHERE url = ?", server.url("bad")) == [(1,)]
    if "200 MB" in fault or "bomb" in fault:
        assert server.sent.get("/bad", 0) < 20_000_000  # stopped early, not 200 MB later

    # The server behaves again: the next run stores the page it could not read.
    server.add("bad", Route(article(3)))
    again = run_once(settings)["pt-news"]
    assert again.new == 1 and not again.errors
    assert "평택 미래차 협약 소식 3" in titles(db)


def test_a_slow_page_does_not_hold_back_the_articles_fetched_before_it(
    server: LocalServer, tmp_path: Path
) -> None:
    # Fetched pages are read a few at a time; one waiting on a slow host must not keep the
    # others' articles (and their alerts) back until it times out.
    server.add("a/1", Route(article(1)))
    server.add("a/2", Route(article(2)))
    server.add("slow", Route(article(3), delay=2.5))  # times out (timeout 1 s, cut at 1.5 s)
    server.add("rss.xml", Route(rss(server, ["a/1", "slow", "a/2"])))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    seen: dict[str, float] = {}

    async def poll() -> tuple[RunResult, float]:
        async with pipeline.session(settings) as ctx:
            ctx.on_article = lambda _source, stored, _matches: seen.setdefault(
                stored.title, time.monotonic()
            )
            started = time.monotonic()
            results = await pipeline.run_due(ctx, force=True)
            return results[0], started

    result, started = asyncio.run(poll())
    assert result.new == 2 and len(result.errors) == 1, result
    assert set(seen) == {"평택 미래차 협약 소식 1", "평택 미래차 협약 소식 2"}
    # Stored well before the slow page gave up (1.5 s after it was asked for).
    assert all(at - started < 1.0 for at in seen.values()), {
        k: v - started for k, v in seen.items()
    }
    assert titles(settings.db_path) == set(seen)


def test_a_page_that_gave_no_article_is_not_read_again_while_unchanged(
    server: LocalServer, tmp_path: Path
) -> None:
    # No title in the feed either, so nothing can stand in for the page.
    server.add("bad", Route(b"<html><body><p>short</p></body></html>"))
    server.add("rss.xml", Route(rss(server, ["bad"], titled=False)))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    first = run_once(settings)["pt-news"]
    assert first.errors and "no article" in first.errors[0]
    run_once(settings)
    # The second try asked conditionally and the server said 304: nothing was parsed again.
    asks = [h for p, h in server.requests if p == "/bad"]
    assert len(asks) == 2 and asks[1].get("If-None-Match")
    assert rows(settings.db_path, "SELECT attempts FROM links") == [(2,)]


# -- the listing misbehaves: the source is recorded and backs off, the others go on ----------

LISTING_FAULTS: dict[str, tuple[Route, str]] = {
    "HTTP 500": (Route(b"oops", status=500), r"HTTP 500"),
    "timeout": (Route(b"<rss/>", delay=2.5), r"timed out"),
    "maintenance page": (
        Route("<html><body>점검 중</body></html>".encode()),
        r"malformed feed|not a feed",
    ),
    "truncated XML": (Route(b'<?xml version="1.0"?><rss><channel><item><title>x'), r"feed"),
    "robots.txt says no": (Route(b"<rss/>"), r"disallowed by the host's robots.txt"),
}


@pytest.mark.parametrize("fault", list(LISTING_FAULTS))
def test_a_broken_listing_backs_off_that_source_only(
    fault: str, server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    route, says = LISTING_FAULTS[fault]
    server.add("a/1", Route(article(1)))
    server.add("good.xml", Route(rss(server, ["a/1"])))
    server.add("broken/rss.xml", route)
    if "robots" in fault:
        server.add("robots.txt", Route(b"User-agent: *\nDisallow: /broken/\n"))
    settings = settings_for(
        tmp_path,
        [
            {"name": "good", "url": server.url("good.xml")},
            {"name": "broken", "url": server.url("broken/rss.xml"), "interval": "10m"},
        ],
    )
    results = run_once(settings)
    assert results["good"].new == 1 and results["broken"].errors
    assert logged(joblog(), "broken", server.url("broken/rss.xml"), says), joblog()
    (failures, error, due), = rows(
        settings.db_path, "SELECT failures, last_error, next_due_at FROM sources WHERE name = ?",
        "broken",
    )  # fmt: skip
    next_try = parse_iso(due)
    assert failures == 1 and re.search(says, error)
    assert next_try is not None and next_try.timestamp() > time.time() + 400  # backing off


def test_backoff_grows_shows_in_stats_and_resets_on_recovery(
    server: LocalServer, tmp_path: Path
) -> None:
    server.add("rss.xml", Route(b"oops", status=500))
    server.add("a/1", Route(article(1)))
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[fetch]
retries = 0
[[sources]]
name = "pt-news"
kind = "feed"
url = "{server.url("rss.xml")}"
interval = "10m"
allow_private = true
""",
    )
    settings = config_mod.load(cfg)
    waits = []
    for _ in range(3):
        run_once(settings)
        (due,) = rows(settings.db_path, "SELECT next_due_at FROM sources")[0]
        waits.append(parse_iso(due).timestamp() - time.time())  # type: ignore[union-attr]
    assert waits[0] > 400 and waits[2] > waits[0] * 2.5  # ~10 min, ~20 min, ~40 min
    stats = subprocess.run(
        [sys.executable, "-m", "monitor", "stats", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next(x for x in stats.stdout.splitlines() if x.startswith("pt-news"))
    assert re.search(r"\s3\s.*retry in ", line), stats.stdout
    assert "HTTP 500" in stats.stdout

    server.add("rss.xml", Route(rss(server, ["a/1"])))
    assert run_once(settings)["pt-news"].new == 1
    assert rows(settings.db_path, "SELECT failures, last_error FROM sources") == [(0, None)]


# -- a host asks us to wait: that host waits, the others do not --------------------------------


def test_429_backs_off_that_host_and_loses_nothing(
    server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # two host names, one local server

    server.add("busy/1", Route(b"slow down", status=429, headers={"Retry-After": "300"}))
    server.add("busy/2", Route(article(2)))
    server.add("calm/1", Route(article(1)))
    server.add("busy.xml", Route(rss(server, ["busy/1", "busy/2"], host="busy.test")))
    server.add("calm.xml", Route(rss(server, ["calm/1"], host="calm.test")))
    settings = settings_for(
        tmp_path,
        [
            {"name": "busy", "url": f"http://busy.test:{server.port}/busy.xml"},
            {"name": "calm", "url": f"http://calm.test:{server.port}/calm.xml"},
        ],
        per_host=1,
        host_delay=0,
    )
    results = run_once(settings, resolver=loopback)
    assert results["calm"].new == 1
    assert results["busy"].new == 0 and results["busy"].errors
    assert server.hits.get("/busy/2") is None  # not asked while the host said wait
    assert logged(joblog(), "busy", f"http://busy.test:{server.port}/busy/1", r"HTTP 429"), joblog()
    # Neither page counts as a failed try; the source comes back when the host said it may.
    assert rows(settings.db_path, "SELECT count(*) FROM links WHERE source = 'busy'") == [(0,)]
    (due,) = rows(settings.db_path, "SELECT next_due_at FROM sources WHERE name = 'busy'")[0]
    assert parse_iso(due).timestamp() > time.time() + 250  # type: ignore[union-attr]

    server.add("busy/1", Route(article(3)))  # later (a new process: the pause was in memory)
    assert run_once(settings, resolver=loopback)["busy"].new == 2


def test_ignore_robots_is_the_users_explicit_override(server: LocalServer, tmp_path: Path) -> None:
    server.add("robots.txt", Route(b"User-agent: *\nDisallow: /\n"))
    server.add("a/1", Route(article(1)))
    server.add("rss.xml", Route(rss(server, ["a/1"])))
    polite = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    assert run_once(polite)["pt-news"].errors
    assert server.hits.get("/rss.xml") is None
    override = settings_for(
        tmp_path, [{"name": "pt-news", "url": server.url("rss.xml"), "ignore_robots": True}]
    )
    assert run_once(override)["pt-news"].new == 1


# -- content faults: charsets, malformed markup, floods, reused GUIDs ------------------------


def test_wrong_or_missing_charset_still_reads_korean(server: LocalServer, tmp_path: Path) -> None:
    # EUC-KR bytes labelled UTF-8 by the server; EUC-KR with no label anywhere.
    server.add("a/1", Route(article(1, "euc-kr"), content_type="text/html; charset=utf-8"))
    server.add("a/2", Route(article(2, "euc-kr", meta=False), content_type="text/html"))
    server.add("a/3", Route(article(3), content_type="text/html; charset=euc-kr"))  # UTF-8 bytes
    server.add("rss.xml", Route(rss(server, ["a/1", "a/2", "a/3"])))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    assert run_once(settings)["pt-news"].new == 3
    assert titles(settings.db_path) == {f"평택 미래차 협약 소식 {n}" for n in (1, 2, 3)}


def test_malformed_html_is_still_read(server: LocalServer, tmp_path: Path) -> None:
    broken = article(1).replace(b"</p>", b"").replace(b"</div>", b"<div <<").replace(b"</h1>", b"")
    server.add("a/1", Route(broken + b"<tr><td><</td></table>\x00\xff"))
    server.add("rss.xml", Route(rss(server, ["a/1"])))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    assert run_once(settings)["pt-news"].new == 1
    (body,) = rows(settings.db_path, "SELECT body FROM articles")[0]
    assert "미래자동차 산업 육성" in body


def test_a_feed_that_suddenly_lists_10000_items(
    server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    items = "".join(
        f"<item><title>평택 미래차 소식 {i}</title><link>{server.url(f'n/{i}')}</link>"
        f"<description>평택시 미래자동차 관련 소식 {i}번째 본문입니다.</description></item>"
        for i in range(10_000)
    )
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    server.add("rss.xml", Route(feed.encode()))
    settings = settings_for(
        tmp_path,
        [{"name": "flood", "url": server.url("rss.xml"), "fetch_articles": False}],
    )
    started = time.monotonic()
    result = run_once(settings)["flood"]
    took = time.monotonic() - started
    # Only the newest max_items (200 by default) are read: the poll stays bounded.
    assert result.links == 200 and result.new == 200 and took < 20, (result, took)
    assert logged(joblog(), "flood", server.url("rss.xml"), r"200 links, 200 new"), joblog()


def test_a_reused_guid_with_new_content(server: LocalServer, tmp_path: Path) -> None:
    server.add("a/1", Route(article(1)))
    server.add("rss.xml", Route(rss(server, ["a/1"])))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    run_once(settings)
    # The feed now reuses the GUID "a/1" for a corrected title and for another link.
    server.add("a/2", Route(article(2)))
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>정정</title><link>{server.url('a/1')}</link><guid>a/1</guid></item>"
        f"<item><title>새 기사</title><link>{server.url('a/2')}</link><guid>a/1</guid></item>"
        "</channel></rss>"
    )
    server.add("rss.xml", Route(feed.encode()))
    result = run_once(settings)["pt-news"]
    # Articles are keyed by URL: the known page is not fetched again (the first version is
    # kept), and the other link is a new article whatever its GUID says.
    assert result.new == 1 and server.hits["/a/1"] == 1
    assert titles(settings.db_path) == {"평택 미래차 협약 소식 1", "평택 미래차 협약 소식 2"}


# -- the database refuses writes: no partial article, retried on the next run -----------------


def _serve_three(server: LocalServer) -> None:
    for n in (1, 2, 3):
        server.add(f"a/{n}", Route(article(n)))
    server.add("rss.xml", Route(rss(server, ["a/1", "a/2", "a/3"])))


def _complete(db: Path) -> None:
    """Every stored article is complete: its links and its match."""
    articles = rows(db, "SELECT count(*) FROM articles")[0][0]
    assert rows(db, "SELECT count(*) FROM matches")[0][0] == articles
    assert (
        rows(db, "SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM links)")[0][
            0
        ]
        == 0
    )


def _whole(db: Path) -> None:
    """Every stored article is complete and in the search index, which agrees with the table."""
    _complete(db)
    # FTS5's integrity check with rank = 1 compares the index with the articles table itself.
    rows(db, "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")
    for (title,) in rows(db, "SELECT title FROM articles"):
        found = rows(
            db, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", f'"{title}"'
        )
        assert found[0][0] >= 1, title


def _run_with(settings: Settings, spoil: Callable[[Store], object]) -> dict[str, RunResult]:
    """A run whose store is spoiled (locked, full) once the session is open."""

    async def go() -> list[RunResult]:
        store = Store(settings.db_path)
        try:
            store.sync_sources(settings.sources)
            async with Fetcher(settings.fetch, cache=store) as f:
                ctx = pipeline.Context(settings, store, f, pipeline.make_matcher(settings))
                undo = spoil(store)
                try:
                    return await pipeline.run_due(ctx, force=True)
                finally:
                    if callable(undo):
                        undo()
        finally:
            store.close()

    return {r.source: r for r in asyncio.run(go())}


def test_locked_database_writes_nothing_partial_and_retries(
    server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    _serve_three(server)
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    Store(settings.db_path).close()
    holder = sqlite3.connect(settings.db_path, isolation_level=None)

    def lock(store: Store) -> Callable[[], None]:
        store.db.execute("PRAGMA busy_timeout = 100")  # do not wait the default 10 s
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        return lambda: holder.execute("ROLLBACK")

    result = _run_with(settings, lock)["pt-news"]
    holder.close()
    assert result.new == 0 and result.errors
    assert rows(settings.db_path, "SELECT count(*) FROM articles") == [(0,)]
    assert logged(joblog(), "pt-news", server.url("a/1"), r"not stored, will retry.*locked")
    assert run_once(settings)["pt-news"].new == 3
    _whole(settings.db_path)


def test_full_database_writes_nothing_partial_and_retries(
    server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    _serve_three(server)
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])

    def fill(store: Store) -> None:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on

    result = _run_with(settings, fill)["pt-news"]
    # What fit in half-empty pages may be stored; the search index, written in a batch after
    # the articles, cannot grow: it is brought up to date by the next run.
    _complete(settings.db_path)
    assert any(
        logged(joblog(), "pt-news", server.url(f"a/{n}"), r"not stored, will retry.*full")
        for n in (1, 2, 3)
    ) or logged(
        joblog(), "pt-news", server.url("rss.xml"), r"search index not updated, will retry.*full"
    ), joblog()
    assert run_once(settings)["pt-news"].new == 3 - result.new  # the rest, once there is room
    assert len(titles(settings.db_path)) == 3
    _whole(settings.db_path)


def test_articles_a_rolled_back_transaction_took_are_fetched_again(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon's writes share transactions; an error that makes SQLite roll one back takes
    # other sources' articles with it. Their polls must not end as if those were stored.
    monkeypatch.setattr(store_mod, "BATCH_SECONDS", 30.0)  # one transaction for the poll
    server.add("a/1", Route(article(1)))
    server.add("b/9", Route(article(9), delay=0.3))
    server.add("a/2", Route(article(2), delay=0.8))  # source a ends after the rollback
    server.add("a.xml", Route(rss(server, ["a/1", "a/2"])))
    server.add("b.xml", Route(rss(server, ["b/9"])))
    settings = settings_for(
        tmp_path,
        [{"name": "a", "url": server.url("a.xml")}, {"name": "b", "url": server.url("b.xml")}],
    )

    async def poll(fail: bool) -> dict[str, RunResult]:
        async with pipeline.session(settings) as ctx:
            if fail:  # as a full disk or an I/O error can: the whole transaction goes
                ctx.store.db.execute(
                    """CREATE TEMP TRIGGER lose AFTER INSERT ON main.articles
                       WHEN new.url LIKE '%/b/9'
                       BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error'); END"""
                )
            return {r.source: r for r in await pipeline.run_due(ctx, force=True)}

    first = asyncio.run(poll(fail=True))
    assert first["b"].errors
    assert titles(settings.db_path) == {"평택 미래차 협약 소식 2"}  # a/1 went with b/9
    asyncio.run(poll(fail=False))
    assert titles(settings.db_path) == {f"평택 미래차 협약 소식 {n}" for n in (1, 2, 9)}
    _whole(settings.db_path)


# -- secrets: set in the environment, used, and never in any log ------------------------------


def test_secrets_never_reach_the_logs(server: LocalServer, tmp_path: Path) -> None:
    secrets = {
        "MONITOR_SMTP_USER": "smtp-user-7d1c2b",
        "MONITOR_SMTP_PASSWORD": "smtp-pass-Qx93!k",
        "MONITOR_WEBHOOK_SECRET": "whsec-4f8a0e9b77",
        "MONITOR_HOOK_URL": server.url("hooks/T0KEN-c0ffee"),
    }
    _serve_three(server)
    server.add("hooks/T0KEN-c0ffee", Route(b"ok"))
    closed = LocalServer()
    smtp_port = closed.port
    closed.close()  # nothing listens there now: the email notifier fails and logs it
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[[sources]]
name = "pt-news"
kind = "feed"
url = "{server.url("rss.xml")}"
allow_private = true
[[rules]]
name = "pt"
query = "평택 미래차"
notify = ["hook", "desk"]
[[notifiers]]
name = "hook"
kind = "webhook"
url_env = "MONITOR_HOOK_URL"
secret_env = "MONITOR_WEBHOOK_SECRET"
[[notifiers]]
name = "desk"
kind = "email"
to = ["desk@example.kr"]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "none"
username_env = "MONITOR_SMTP_USER"
password_env = "MONITOR_SMTP_PASSWORD"
""",
    )
    env = {**os.environ, **secrets, "MONITOR_LOG_FORMAT": "json"}
    out = ""
    for args in (
        ["-vv", "run", "--once"],
        ["-vv", "run", "--once"],
        ["check-config"],
        ["stats"],
        ["deliveries"],
        ["test-source", "pt-news"],
        ["test-notify", "desk"],
        ["test-notify", "hook"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "monitor", *args, "--config", str(cfg)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        out += done.stdout + done.stderr
    # The secrets were used: the webhook was called, signed, at its secret URL.
    posts = [p for p in server.posts if p[0].startswith("/hooks/")]
    assert posts and any("Signature" in k for k in posts[0][1]), server.posts[:1]
    assert "desk" in out  # the failing email notifier was reported
    for name, value in secrets.items():
        assert value not in out, f"{name} leaked into the output"
        assert value.split("/")[-1] not in out


# -- scraped text is data: stored and searched verbatim, never part of a statement ------------


def test_scraped_sql_and_search_syntax_are_stored_verbatim(
    server: LocalServer, tmp_path: Path
) -> None:
    nasty = """평택 미래차 소식'); DROP TABLE articles;-- " OR "1"="1 NEAR(x y) %_"""
    page = article(1).decode().replace("평택 미래차 협약 소식 1", nasty.replace('"', "&quot;"))
    server.add("a/1", Route(page.encode()))
    server.add("rss.xml", Route(rss(server, ["a/1"])))
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[[sources]]
name = "pt-news"
kind = "feed"
url = "{server.url("rss.xml")}"
allow_private = true
[[rules]]
name = "pt"
query = "평택 미래차"
""",
    )
    run = [sys.executable, "-m", "monitor"]
    subprocess.run([*run, "run", "--once", "--config", str(cfg)], check=True, capture_output=True)
    out = subprocess.run(
        [*run, "export", "--format", "ndjson", "--config", str(cfg)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [json.loads(line)["title"] for line in out.stdout.splitlines()] == [nasty]
    found = subprocess.run(
        [*run, "search", "DROP TABLE", "--config", str(cfg)], capture_output=True, text=True
    )
    assert found.returncode == 0 and "DROP TABLE" in found.stdout, found.stdout + found.stderr
    assert rows(tmp_path / "m.db", "SELECT count(*) FROM articles") == [(1,)]


@pytest.mark.parametrize("refusal", ["HTTP 410", "robots.txt"])
def test_a_page_we_may_never_read_keeps_the_listings_text(
    refusal: str, server: LocalServer, tmp_path: Path, joblog: Records
) -> None:
    if refusal == "robots.txt":
        server.add("robots.txt", Route(b"User-agent: *\nDisallow: /gone/\n"))
        server.add("gone/1", Route(article(1)))
    else:
        server.add("gone/1", Route(b"gone", status=410))
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>평택 미래차 협약</title><link>{server.url('gone/1')}</link>"
        "<description>평택시는 미래자동차 산업 육성 협약을 맺었다.</description></item></channel></rss>"
    )
    server.add("rss.xml", Route(feed.encode()))
    settings = settings_for(tmp_path, [{"name": "pt-news", "url": server.url("rss.xml")}])
    assert run_once(settings)["pt-news"].new == 1
    assert titles(settings.db_path) == {"평택 미래차 협약"}
    says = "HTTP 410" if refusal == "HTTP 410" else "disallowed by the host's robots.txt"
    assert logged(joblog(), "pt-news", server.url("gone/1"), says), joblog()
    assert server.hits.get("/gone/1", 0) == (1 if refusal == "HTTP 410" else 0)
