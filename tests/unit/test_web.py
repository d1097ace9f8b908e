"""The read-only HTTP server, over a real SQLite file, spoken to over 127.0.0.1."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selectolax.lexbor import LexborHTMLParser

from monitor.config import Settings, parse
from monitor.errors import MonitorError
from monitor.models import Match, RunResult, StoredArticle
from monitor.store import HEARTBEAT, Outbox, Store
from monitor.web import WebServer, parse_address, safe_link

EVIL_TITLE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">평택 속보'


def article(aid: str, title: str, body: str, source: str = "pt-news", **kw: Any) -> StoredArticle:
    url = kw.pop("url", f"https://news.example.kr/{aid}")
    return StoredArticle(
        id=aid,
        url=url,
        canonical_url=url,
        source=source,
        title=title,
        body=body,
        content_hash="h-" + aid,
        published_at=datetime(2024, 9, 6, 6, 0, tzinfo=UTC),
        author=None,
        **kw,
    )


def match(rule: str, snippet: str, start: int, end: int) -> Match:
    return Match(rule=rule, terms=("평택",), hits=(), snippet=snippet, highlights=((start, end),))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    store = Store(path)
    store.save_new(
        article("a1", "평택 미래차 협약", "평택시는 미래자동차 산업을 키운다."),
        [],
        [match("pt", "평택시는 미래자동차 산업을 키운다.", 0, 2)],
        [Outbox("desk", "story:a1", {"article_id": "a1"})],
    )
    # a2 and a3 are one story carried by two portals.
    store.save_new(article("a2", "평택항 수출 호조", "평택항 자동차 수출이 늘었다."), [], [])
    store.save_new(
        article("a3", "평택항 수출 늘어", "평택항 자동차 수출 증가.", "gg-news", story_id="a2"),
        [],
        [match("port", "평택항 자동차 수출 증가.", 0, 3)],
    )
    store.save_new(
        article("a4", EVIL_TITLE, "본문 <b>굵게</b>", url="javascript:alert(1)"),
        [],
        [match("pt", "<img src=x onerror=alert(1)> 평택", 29, 31)],
    )
    for i in range(5, 30):
        store.save_new(article(f"b{i:02d}", f"기타 소식 {i}", "평택과 무관한 내용 " * 3), [], [])
    store.index_pending()  # as the pipeline does at the end of a poll
    store.close()
    return path


def settings_for(db: Path) -> Settings:
    return parse(
        {
            "storage": {"path": str(db)},
            "sources": [
                {"name": "pt-news", "kind": "feed", "url": "https://news.example.kr/rss"},
                {"name": "gg-news", "kind": "feed", "url": "https://gg.example.kr/rss"},
            ],
            "rules": [{"name": "pt", "query": "평택"}, {"name": "port", "query": "평택항"}],
        }
    )


@pytest.fixture
def server(db: Path) -> Iterator[WebServer]:
    settings = settings_for(db)
    srv = WebServer(lambda: settings, "127.0.0.1:0")
    srv.app.lock_timeout = 0.2
    with srv:
        yield srv


def get(srv: WebServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET a path; (status, headers, body) for any status."""
    try:
        with urllib.request.urlopen(srv.url + path, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers.items()), exc.read()


def get_json(srv: WebServer, path: str, status: int = 200) -> Any:
    code, headers, body = get(srv, path)
    assert code == status, body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(body)


# -- the JSON API ------------------------------------------------------------------------------


def test_articles_page_through_with_next_links(server: WebServer) -> None:
    seen: list[str] = []
    path: str | None = "/api/articles?limit=10"
    pages = 0
    while path:
        page = get_json(server, path)
        assert len(page["items"]) <= 10
        seen += [a["id"] for a in page["items"]]
        path = page["next"]
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 29
    assert seen[0] == "b29"  # newest first
    assert "body" not in page["items"][0]


def test_articles_search_and_filters(server: WebServer) -> None:
    found = get_json(server, "/api/articles?q=" + quote("평택 수출"))
    assert {a["id"] for a in found["items"]} == {"a2", "a3"}
    hit = found["items"][0]
    assert hit["snippet"] and hit["highlights"]
    only = get_json(server, "/api/articles?source=gg-news&q=" + quote("평택"))
    assert [a["id"] for a in only["items"]] == ["a3"]
    story = get_json(server, "/api/articles?story=a2")
    assert {a["id"] for a in story["items"]} == {"a2", "a3"}
    ruled = get_json(server, "/api/articles?rule=pt")
    assert {a["id"] for a in ruled["items"]} == {"a1", "a4"}
    assert get_json(server, "/api/articles?since=1h")["items"]
    assert get_json(server, "/api/articles?since=2099-01-01")["items"] == []


def test_one_article_with_body_matches_and_local_times(server: WebServer) -> None:
    a1 = get_json(server, "/api/articles/a1")
    assert a1["body"] == "평택시는 미래자동차 산업을 키운다."
    assert a1["rules"] == ["pt"] and a1["matches"][0]["rule"] == "pt"
    assert a1["published_at"] == "2024-09-06T15:00:00+09:00"
    assert a1["first_seen_at"].endswith("+09:00")
    assert get_json(server, "/api/articles/nope", 404) == {"error": "no article 'nope'"}


def test_matches_stories_sources_stats(server: WebServer) -> None:
    matches = get_json(server, "/api/matches?rule=pt")
    assert [m["article_id"] for m in matches["items"]] == ["a4", "a1"]
    stories = get_json(server, "/api/stories?min_size=2")
    assert [(s["id"], s["size"], s["sources"]) for s in stories["items"]] == [
        ("a2", 2, ["gg-news", "pt-news"])
    ]
    story = get_json(server, "/api/stories/a2")
    assert [a["id"] for a in story["articles"]] == ["a2", "a3"]
    sources = get_json(server, "/api/sources")
    assert sources["items"] == []  # no poll has run: the store knows no source yet
    stats = get_json(server, "/api/stats")
    assert stats["totals"]["articles"] == 29
    assert {r["rule"]: r["matches"] for r in stats["rules"]} == {"pt": 2, "port": 1}
    assert stats["deliveries"] == [{"notifier": "desk", "status": "pending", "count": 1}]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/api/articles?limit=0", "limit: expected 1 to 500"),
        ("/api/articles?limit=many", "limit: expected a whole number"),
        ("/api/articles?since=soon", "since: expected a duration"),
        ("/api/articles?q=-평택", "not excluded"),
        ("/api/stories?order=best", "order: expected one of recent, size"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(server: WebServer, path: str, message: str) -> None:
    body = get_json(server, quote(path, safe="/?=&"), 400)
    assert message in body["error"]


def test_unknown_routes_are_404(server: WebServer) -> None:
    assert get_json(server, "/api/nothing", 404)["error"] == "no API route /api/nothing"
    code, _, body = get(server, "/nothing")
    assert code == 404 and b"no page at /nothing" in body


def test_the_server_is_read_only(server: WebServer, db: Path) -> None:
    req = urllib.request.Request(server.url + "/api/articles", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    err.value.close()
    assert err.value.code == 405 and err.value.headers["Allow"] == "GET, HEAD"
    head = urllib.request.Request(server.url + "/api/articles", method="HEAD")
    with urllib.request.urlopen(head, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b""


# -- health ------------------------------------------------------------------------------------


def test_healthz_needs_a_recent_heartbeat(server: WebServer, db: Path) -> None:
    code, _, body = get(server, "/healthz")
    health = json.loads(body)
    assert code == 503 and health["status"] == "unhealthy"
    assert health["checks"]["scheduler"]["detail"] == "no daemon is running on this database"
    assert health["checks"]["database"]["ok"] is True

    store = Store(db)
    now = datetime.now(UTC)
    store.beat(HEARTBEAT, 15.0, now - timedelta(hours=1), now=now - timedelta(minutes=5))
    code, _, body = get(server, "/healthz")
    assert code == 503 and "no tick for 300s" in json.loads(body)["checks"]["scheduler"]["detail"]

    store.beat(HEARTBEAT, 15.0, now - timedelta(hours=1))
    code, _, body = get(server, "/healthz")
    store.close()
    assert code == 200 and json.loads(body)["status"] == "ok"


def test_healthz_fails_while_the_database_takes_no_writes(server: WebServer, db: Path) -> None:
    store = Store(db)
    store.beat(HEARTBEAT, 15.0, datetime.now(UTC))
    store.close()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock and never lets go
    try:
        code, _, body = get(server, "/healthz")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    checks = json.loads(body)["checks"]
    assert code == 503
    assert checks["scheduler"]["ok"] is True
    assert checks["database"]["ok"] is False and "locked" in checks["database"]["detail"]
    assert get(server, "/healthz")[0] == 200


# -- metrics -----------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_pipeline_work_and_read_the_store(server: WebServer, db: Path) -> None:
    m = server.metrics
    m.on_result(RunResult("pt-news", links=5, fetched=3, new=2, matched=1), 0.4)
    m.on_result(RunResult("gg-news", errors=("HTTP 503 (https://gg.example.kr/rss)",)), 0.1)
    m.on_article("pt-news", article("x", "t", "b"), [match("pt", "s", 0, 1)])
    m.on_tick()
    store = Store(db)
    store.sync_sources(settings_for(db).sources)
    store.record_failure("gg-news", "HTTP 503", datetime.now(UTC) + timedelta(minutes=5))
    store.close()

    code, headers, body = get(server, "/metrics")
    assert code == 200 and headers["Content-Type"].startswith("text/plain; version=")
    got = samples(body.decode())
    assert got[("monitor_fetches_total", (("kind", "listing"), ("source", "pt-news")))] == 1
    assert got[("monitor_fetches_total", (("kind", "article"), ("source", "pt-news")))] == 3
    assert got[("monitor_articles_total", (("source", "pt-news"),))] == 2
    assert got[("monitor_errors_total", (("source", "gg-news"), ("stage", "poll")))] == 1
    assert got[("monitor_polls_total", (("outcome", "failed"), ("source", "gg-news")))] == 1
    assert got[("monitor_matches_total", (("rule", "pt"),))] == 1
    assert got[("monitor_poll_duration_seconds_count", (("source", "pt-news"),))] == 1
    assert got[("monitor_scheduler_ticks_total", ())] == 1
    # read from the database at scrape time
    assert got[("monitor_stored", (("table", "articles"),))] == 29
    assert got[("monitor_stored_matches", (("rule", "pt"),))] == 2
    assert got[("monitor_deliveries", (("notifier", "desk"), ("status", "pending")))] == 1
    assert got[("monitor_source_failures", (("source", "gg-news"),))] == 1
    assert ("monitor_source_next_poll_timestamp_seconds", (("source", "gg-news"),)) in got


# -- the page ----------------------------------------------------------------------------------


def page(srv: WebServer, path: str) -> tuple[int, dict[str, str], LexborHTMLParser, str]:
    code, headers, body = get(srv, path)
    text = body.decode("utf-8")
    return code, headers, LexborHTMLParser(text), text


def test_front_page_lists_recent_matches_and_stories(server: WebServer) -> None:
    code, headers, tree, _ = page(server, "/")
    assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]  # no script may run
    matches = tree.css("#matches li.match")
    assert [m.css_first(".rule").text() for m in matches] == ["pt", "port", "pt"]
    assert matches[1].css_first("mark").text() == "평택항"
    stories = tree.css("#stories li.story")
    assert len(stories) == 1 and "2 articles" in stories[0].text()
    assert stories[0].css_first("a").attributes["href"] == "/story/a2"
    options = [o.attributes["value"] for o in tree.css("select[name=rule] option")]
    assert options == ["", "pt", "port"]


def test_search_results_are_marked_and_paged(server: WebServer) -> None:
    code, _, tree, _ = page(server, "/?q=" + quote("평택 수출"))
    assert code == 200
    hits = tree.css("#results li.hit")
    assert len(hits) == 2
    assert {m.text() for h in hits for m in h.css(".title mark")} == {"평택", "수출"}
    assert tree.css_first("input[name=q]").attributes["value"] == "평택 수출"
    _, _, tree, _ = page(server, "/?q=" + quote("평택"))
    assert len(tree.css("#results li.hit")) == 20
    nxt = tree.css_first("nav.pages a[rel=next]").attributes["href"]
    _, _, tree2, _ = page(server, nxt or "")
    assert len(tree2.css("#results li.hit")) == 9
    assert tree2.css_first("nav.pages a[rel=prev]") is not None


def test_scraped_text_is_escaped_and_unsafe_links_are_not_links(server: WebServer) -> None:
    _, _, tree, text = page(server, "/")
    assert tree.css("script") == [] and tree.css("img") == []
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    evil = [m for m in tree.css("#matches li.match") if "pwned" in m.text()]
    assert len(evil) == 1
    assert evil[0].css(".title a") == []  # its URL was javascript:, so no link at all
    assert "<img src=x onerror=alert(1)>" in evil[0].css_first(".snippet").text()
    _, _, tree, _ = page(server, "/?q=" + quote("속보"))
    assert tree.css("script") == [] and "window.pwned=1" in tree.css_first(".title").text()


def test_bad_search_shows_the_reason(server: WebServer) -> None:
    code, _, tree, _ = page(server, "/?q=" + quote("-평택"))
    assert code == 200 and "not excluded" in tree.css_first("#error").text()


def test_story_page(server: WebServer) -> None:
    code, _, tree, _ = page(server, "/story/a2")
    assert code == 200
    assert [a.text() for a in tree.css("#story .title a")] == [
        "평택항 수출 호조",
        "평택항 수출 늘어",
    ]
    assert page(server, "/story/nope")[0] == 404


# -- small parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8080", ("::1", 8080)),
        ("9090", ("127.0.0.1", 9090)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", ":8080", "host:99999", "host:port"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(MonitorError):
        parse_address(text)


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://news.example.kr/a", True),
        ("HTTP://news.example.kr/a", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//evil.example", False),
    ],
)
def test_safe_link(url: str, ok: bool) -> None:
    assert (safe_link(url) is not None) is ok


def test_a_busy_port_is_one_clear_error(server: WebServer, db: Path) -> None:
    settings = settings_for(db)
    with pytest.raises(MonitorError, match="cannot listen on"):
        WebServer(lambda: settings, server.url.removeprefix("http://"))


# -- monitor stats (the same store.stats() as /api/stats) --------------------------------------


def test_stats_command_table_and_json(db: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    store = Store(db)
    store.sync_sources(settings_for(db).sources)
    store.record_success("pt-news", datetime.now(UTC) + timedelta(minutes=10))
    store.record_failure("gg-news", "HTTP 503", datetime.now(UTC) + timedelta(minutes=30))
    store.beat(HEARTBEAT, 15.0, datetime.now(UTC))
    store.close()
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        f'[storage]\npath = "{db}"\n'
        '[[sources]]\nname = "pt-news"\nkind = "feed"\nurl = "https://news.example.kr/rss"\n'
        '[[sources]]\nname = "gg-news"\nkind = "feed"\nurl = "https://gg.example.kr/rss"\n'
        '[[rules]]\nname = "pt"\nquery = "평택"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    table = runner.invoke(main, ["stats", "--config", str(cfg)])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    gg = next(x for x in lines if x.startswith("gg-news"))
    assert gg.split()[1:4] == ["1", "1", "1"] and "never" in gg
    assert re.search(r"retry in (29|30):\d\d \(\d\d:\d\d\)$", gg)
    assert re.search(r"poll in (9|10):\d\d", next(x for x in lines if x.startswith("pt-news")))
    assert "last error: HTTP 503" in table.output
    assert "rule port" in table.output and "(not in the config)" in table.output
    assert re.search(r"notifier desk +1 pending", table.output)
    assert re.search(r"daemon: last tick 0:0\d ago \(pid \d+ on ", table.output)

    data = json.loads(runner.invoke(main, ["stats", "--config", str(cfg), "--json"]).output)
    gg_row = next(s for s in data["sources"] if s["name"] == "gg-news")
    assert gg_row["failures"] == 1 and gg_row["next_due_at"].endswith("+09:00")
    assert [(r["rule"], r["matches"], r["configured"]) for r in data["rules"]] == [
        ("port", 1, False),
        ("pt", 2, True),
    ]
    assert data["totals"]["articles"] == 29
