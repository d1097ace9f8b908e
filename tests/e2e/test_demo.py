"""`monitor demo` and the bundled sample portal, checked against the portal's MANIFEST."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor import demo
from monitor.cli import main
from monitor.store import Store

MANIFEST = json.loads((demo.SITE / "MANIFEST.json").read_text(encoding="utf-8"))
ARTICLES: list[dict[str, Any]] = MANIFEST["articles"]


def nfkc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    store = Store(db)
    try:
        rows = {r["title"]: r for r in store.export_rows()}
        stories = store.db.execute("SELECT id, size FROM stories").fetchall()
    finally:
        store.close()
    return {"output": result.output, "rows": rows, "stories": stories, "db": db}


def test_demo_prints_what_it_stored_and_flagged(demo_run: dict[str, Any]) -> None:
    out = demo_run["output"]
    first, second = out.split("Second pass", 1)
    assert "Sample portal at http://127.0.0.1:" in first
    assert "0 new articles, 0 matched" in second.split("Stored articles:")[0]
    flagged = out.split("Flagged")[1]
    assert "(same story as above)" in flagged  # the syndicated copy is shown as one story
    for a in ARTICLES:
        for rule in a["expected_rules"]:
            assert f"{rule}: {a['title']}" in flagged


@pytest.mark.parametrize("article", ARTICLES, ids=[a["path"] for a in ARTICLES])
def test_each_demo_article_is_extracted_and_flagged_right(
    demo_run: dict[str, Any], article: dict[str, Any]
) -> None:
    row = demo_run["rows"].get(article["title"])
    assert row is not None, f"{article['path']} not stored under its exact title"
    # The store keeps UTC; the instant must be the page's.
    assert datetime.fromisoformat(row["published_at"]) == datetime.fromisoformat(
        article["published"]
    )
    assert row["author"] == article["author"]
    body = nfkc(row["body"])
    for sentence in article["must_contain"]:
        assert nfkc(sentence) in body
    for bad in article["must_not"]:
        assert nfkc(bad) not in body
    assert sorted(row["rules"]) == sorted(article["expected_rules"])


def test_every_article_is_stored_once_across_feed_and_list_page(demo_run: dict[str, Any]) -> None:
    assert len(demo_run["rows"]) == len(ARTICLES)


def test_syndicated_copy_joins_its_original_story(demo_run: dict[str, Any]) -> None:
    rows = demo_run["rows"]
    by_path = {a["path"]: a for a in ARTICLES}
    copies = [a for a in ARTICLES if a["syndicated_copy_of"]]
    assert copies
    for copy in copies:
        original = by_path[copy["syndicated_copy_of"]]
        assert rows[copy["title"]]["story_id"] == rows[original["title"]]["story_id"]
    others = [a for a in ARTICLES if not a["syndicated_copy_of"]]
    story_ids = {rows[a["title"]]["story_id"] for a in others}
    assert len(story_ids) == len(others), "independent articles must not share a story"


def test_stories_command_lists_the_syndicated_story(
    demo_run: dict[str, Any], tmp_path: Path
) -> None:
    cfg = tmp_path / "demo.toml"
    text = (demo.SITE.parents[2] / "config" / "demo.toml").read_text(encoding="utf-8")
    cfg.write_text(
        text.replace('path = "data/demo.db"', f'path = "{demo_run["db"]}"'), encoding="utf-8"
    )
    result = CliRunner().invoke(
        main, ["stories", "--config", str(cfg), "--min-size", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert len(found) == 1
    story = found[0]
    assert story["size"] == 2
    assert sorted(m["url"].rsplit("/", 1)[1] for m in story["members"]) == [
        "articleView-1008.html",
        "articleView-1009.html",
    ]
    # Both demo sources list every article; whichever stored it, the earliest publisher is
    # the source of the member published first (the original release, 1008).
    assert story["members"][0]["url"].endswith("articleView-1008.html")
    assert story["earliest_source"] == story["members"][0]["source"]
    assert story["members"][0]["published_at"] == "2024-09-06T14:00:00+09:00"
    assert "pt-future-cars" in story["rules"]
    bad = CliRunner().invoke(main, ["stories", "--config", str(cfg), "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_demo_config_points_at_the_demo_port() -> None:
    settings = demo.settings("http://127.0.0.1:9999", Path("x.db"))
    assert all(s.url.startswith("http://127.0.0.1:9999/") for s in settings.sources)
    assert all(s.allow_private for s in settings.sources)
