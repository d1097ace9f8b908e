"""The whole pipeline against a real local server and a real SQLite file, run twice."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.store import Store
from tests.conftest import LocalServer, Route, write_config

PAGES = ["chosun-1.html", "khan-1.html", "hani-1.html", "donga-2.html"]  # two EUC-KR


def nfkc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def rss(server: LocalServer, names: list[str], extra: str = "") -> bytes:
    items = "".join(
        f"<item><title>{n}</title><link>{server.url('news/' + n)}?utm_source=rss</link>"
        f"<guid>{n}</guid></item>"
        for n in names
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>지역 포털</title>'
        f"<link>{server.base}/</link>{items}{extra}</channel></rss>"
    ).encode()


@pytest.fixture
def portal(server: LocalServer, korean_pages: Path, tmp_path: Path) -> dict[str, Any]:
    truth = json.loads((korean_pages / "truth.json").read_text(encoding="utf-8"))
    for name in PAGES:
        # No charset in Content-Type: the EUC-KR pages declare it only in <meta>.
        server.add(
            "news/" + name, Route((korean_pages / name).read_bytes(), content_type="text/html")
        )
    server.add("rss.xml", Route(rss(server, PAGES), content_type="application/rss+xml"))
    cfg = write_config(
        tmp_path / "monitor.toml",
        f"""
[storage]
path = "{tmp_path / "monitor.db"}"

[[sources]]
name = "local"
kind = "feed"
url = "{server.url("rss.xml")}"
interval = "10m"
allow_private = true

[[rules]]
name = "xenon"
query = "핵실험 제논"

[[rules]]
name = "jeju-jobs"
query = "제주 고용"

[[rules]]
name = "nothing"
query = "평택 미래차"
""",
    )
    return {"config": cfg, "truth": truth, "db": tmp_path / "monitor.db", "server": server}


def run_once(config: Path) -> str:
    result = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def export(config: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        main, ["export", "--config", str(config), "--format", "ndjson", *args]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_feed_to_flagged_articles_twice(portal: dict[str, Any]) -> None:
    cfg, truth, server = portal["config"], portal["truth"], portal["server"]
    out = run_once(cfg)
    assert "4 new" in out

    rows = export(cfg)
    assert len(rows) == 4
    by_title = {r["title"]: r for r in rows}
    for name in PAGES:
        t = truth[name]
        row = by_title[t["title"]]
        assert datetime.fromisoformat(row["published_at"]) == datetime.fromisoformat(t["published"])
        assert row["published_at"].endswith("+09:00")
        assert row["canonical_url"] == t["url"], name
        assert row["source"] == "local"
        body = nfkc(row["body"])
        assert nfkc(t["body_paragraphs"][-1])[:40] in body, name
        for bad in t["must_not"]:
            assert nfkc(bad) not in body, (name, bad)
        assert set(row) >= {
            "url", "canonical_url", "source", "title", "published_at", "author", "body",
            "content_hash", "story_id", "rules", "first_seen_at",
        }  # fmt: skip

    assert by_title[truth["chosun-1.html"]["title"]]["rules"] == ["xenon"]
    assert by_title[truth["hani-1.html"]["title"]]["rules"] == ["jeju-jobs"]
    assert [r["title"] for r in export(cfg, "--rule", "xenon")] == [truth["chosun-1.html"]["title"]]
    assert export(cfg, "--rule", "nothing") == []

    hits_before = dict(server.hits)
    out = run_once(cfg)
    assert "0 new articles, 0 matched" in out
    assert len(export(cfg)) == 4
    # The feed answered 304 and no article page was fetched again.
    assert server.hits["/rss.xml"] == hits_before["/rss.xml"] + 1
    assert {k: v for k, v in server.hits.items() if k != "/rss.xml"} == {
        k: v for k, v in hits_before.items() if k != "/rss.xml"
    }
    store = Store(portal["db"])
    try:
        assert store.counts()["matches"] == 2
    finally:
        store.close()


def test_failing_links_do_not_stop_the_rest(portal: dict[str, Any]) -> None:
    cfg, server = portal["config"], portal["server"]
    server.add("news/broken", Route(b"oops", status=500))
    server.add("news/reset", Route(reset=True))
    extra = (
        f"<item><title>고장</title><link>{server.url('news/broken')}</link></item>"
        f"<item><title>끊김</title><link>{server.url('news/reset')}</link></item>"
    )
    server.add("rss.xml", Route(rss(server, PAGES, extra), content_type="application/rss+xml"))
    out = run_once(cfg)
    assert "4 new" in out and "2 errors" in out
    assert len(export(cfg)) == 4


def test_same_text_under_two_urls_is_one_article(
    portal: dict[str, Any], korean_pages: Path
) -> None:
    cfg, server = portal["config"], portal["server"]
    server.add("mirror/hani", Route((korean_pages / "hani-1.html").read_bytes()))
    extra = f"<item><title>m</title><link>{server.url('mirror/hani')}</link></item>"
    server.add("rss.xml", Route(rss(server, PAGES, extra), content_type="application/rss+xml"))
    run_once(cfg)
    assert len(export(cfg)) == 4


def test_broken_feed_is_recorded_on_the_source(portal: dict[str, Any]) -> None:
    cfg, server = portal["config"], portal["server"]
    server.add("rss.xml", Route(b"<html><body>maintenance</body></html>", content_type="text/html"))
    out = run_once(cfg)
    assert "FAILED: malformed feed" in out and "rss.xml" in out
    result = CliRunner().invoke(main, ["stats", "--config", str(cfg)])
    assert result.exit_code == 0
    assert "malformed feed" in result.output
    assert "local" in result.output


def test_a_failing_search_source_logs_the_url_it_asked(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.add("rss/search", Route(b"down", status=503, content_type="text/plain"))
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"

[[sources]]
name = "gnews"
kind = "google-news"
url = "{server.url("rss/search")}"
query = "평택 미래차"
allow_private = true

[[rules]]
name = "pt"
query = "평택 미래차"
""",
    )
    caplog.set_level("WARNING", logger="monitor")
    run_once(cfg)
    failed = [r for r in caplog.records if "poll failed" in r.getMessage()]
    assert failed and getattr(failed[0], "source", None) == "gnews"
    assert str(getattr(failed[0], "url", "")).startswith(server.url("rss/search") + "?q=")
