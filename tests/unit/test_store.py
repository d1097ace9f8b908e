"""The store: schema on a real SQLite file; save_new() returns only what is new."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import search as search_mod
from monitor.errors import StoreError
from monitor.models import Hit, Match, Source, StoredArticle
from monitor.store import BATCH_SECONDS, LINK_ATTEMPTS, Outbox, Store


def article(n: int, story: str | None = None, source: str = "s") -> StoredArticle:
    return StoredArticle(
        id=f"id{n}",
        url=f"https://news.example.kr/a/{n}",
        canonical_url=f"https://news.example.kr/a/{n}",
        source=source,
        title=f"평택 기사 {n}",
        body=f"평택시는 미래자동차 {n}",
        content_hash=f"h{n}",
        published_at=datetime(2024, 9, 6, 15, 44, tzinfo=UTC) + timedelta(minutes=n),
        author="홍길동 기자",
        story_id=story,
    )


MATCH = Match(
    rule="pt", terms=("평택", "미래차"), hits=(Hit("평택", "body", 0, 2, "평택"),),
    snippet="평택시는 미래자동차", highlights=((0, 2),),
)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "sub" / "m.db")
    s.sync_sources([Source("s", "feed", "https://news.example.kr/rss")])
    return s


def test_schema_is_wal_with_trigram_fts(store: Store, tmp_path: Path) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = set(store.db.table_names())
    assert {
        "sources",
        "articles",
        "links",
        "stories",
        "story_keys",
        "matches",
        "deliveries",
    } <= tables
    assert "articles_fts" in tables
    # Reopening applies no migration twice.
    Store(tmp_path / "sub" / "m.db").close()


def test_save_new_returns_only_inserted(store: Store) -> None:
    assert store.save_new(article(1), ["https://news.example.kr/a/1?utm_source=x"], [MATCH]) is True
    assert store.save_new(article(1), ["https://news.example.kr/a/1"], [MATCH]) is False
    assert store.counts()["articles"] == 1 and store.counts()["matches"] == 1
    assert store.known_links(["https://news.example.kr/a/1?utm_source=x", "https://x/2"]) == {
        "https://news.example.kr/a/1?utm_source=x"
    }


def fts(store: Store, phrase: str) -> set[int]:
    """Rowids the search index holds for a phrase."""
    rows = store.db.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", [f'"{phrase}"']
    ).fetchall()
    return {r[0] for r in rows}


def fts_agrees(store: Store) -> None:
    """FTS5's own check that the index holds exactly the articles table (rank = 1)."""
    store.db.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")


def test_fts_finds_korean_substrings_once_indexed(store: Store) -> None:
    store.save_new(article(1), [], [])
    store.save_new(article(2), [], [])
    assert fts(store, "미래자동") == set()  # stored; indexed with the next batch
    assert store.index_pending() == 2
    assert len(fts(store, "미래자동")) == 2
    assert store.index_pending() == 0  # nothing twice
    fts_agrees(store)


def test_articles_a_crash_left_unindexed_are_indexed_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = Store(path)
    first.save_new(article(1), [], [])
    first.close()  # the process ends before its batch
    reader = Store(path, readonly=True)
    assert reader.index_pending() == 0  # a reader never writes
    reader.close()
    second = Store(path)
    found = second.search(search_mod.parse("미래자동차"))  # a writer's search catches up first
    assert [h["id"] for h in found] == ["id1"]
    fts_agrees(second)
    second.close()


def test_deleting_and_editing_articles_keeps_the_index_true(store: Store) -> None:
    for n in (1, 2, 3):
        store.save_new(article(n), [], [])
    store.index_pending()
    store.save_new(article(4), [], [])  # not indexed yet
    store.db.execute("UPDATE articles SET body = '평택항 수소버스' WHERE id = 'id1'")
    store.db.execute("UPDATE articles SET body = '안성시 반도체' WHERE id = 'id4'")
    # Deleting the newest rows: SQLite reuses their rowids for the next article stored.
    store.db.execute("DELETE FROM articles WHERE id IN ('id3', 'id4')")
    store.save_new(article(5), [], [])
    store.index_pending()
    fts_agrees(store)
    assert fts(store, "수소버스") == {1}
    assert len(fts(store, "미래자동차")) == 2  # articles 2 and 5
    assert fts(store, "반도체") == set()


def test_outbox_rows_are_written_with_the_match_and_once_per_story(store: Store) -> None:
    box = [Outbox("desk", "story:S", {"article_id": "id1"})]
    store.save_new(article(1, story="S"), [], [MATCH], box)
    store.save_new(
        article(2, story="S"), [], [MATCH], [Outbox("desk", "story:S", {"article_id": "id2"})]
    )
    rows = store.db.execute("SELECT notifier, key, status FROM deliveries").fetchall()
    assert rows == [("desk", "story:S", "pending")]
    assert store.db.execute("SELECT size FROM stories WHERE id = 'S'").fetchone()[0] == 2


def test_export_rows_carry_rules(store: Store) -> None:
    store.save_new(article(1), [], [MATCH])
    store.save_new(article(2), [], [])
    rows = list(store.export_rows())
    assert [r["rules"] for r in rows] == [["pt"], []]
    assert [r["id"] for r in store.export_rows(matched=True)] == ["id1"]
    assert list(store.export_rows(rule="other")) == []


def test_failed_links_are_retried_a_few_times_then_left(store: Store) -> None:
    url = "https://news.example.kr/broken"
    for i in range(LINK_ATTEMPTS):
        assert store.known_links([url]) == set(), i
        store.record_link(url, "s", None, "HTTP 500")
    assert store.known_links([url]) == {url}


def test_schedule_state(store: Store) -> None:
    now = datetime.now(UTC)
    assert store.due_sources(["s"], now) == ["s"]
    store.record_success("s", now + timedelta(minutes=10), '"e1"', None, "hash")
    assert store.due_sources(["s"], now) == []
    st = store.source_state("s")
    assert (st.etag, st.listing_hash, st.failures) == ('"e1"', "hash", 0)
    assert store.record_failure("s", "boom", now - timedelta(seconds=1)) == 1
    assert store.record_failure("s", "boom again", now - timedelta(seconds=1)) == 2
    assert store.due_sources(["s"], now) == ["s"]
    assert store.source_state("s").last_error == "boom again"


def test_locked_database_is_a_store_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    store.db.conn.execute("PRAGMA busy_timeout = 100")
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="database write failed"):
            store.save_new(article(1), ["u"], [MATCH])
    finally:
        other.rollback()
        other.close()
    assert store.counts()["articles"] == 0
    assert store.save_new(article(1), ["u"], [MATCH]) is True


def test_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "not.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(bad)


def seen_elsewhere(path: Path) -> set[str]:
    """Article ids another connection (another process, Datasette) can read."""
    with sqlite3.connect(path) as other:
        return {r[0] for r in other.execute("SELECT id FROM articles")}


def test_deferred_writes_commit_together_before_any_durable_write(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    store.defer_commits()
    store.save_new(article(1), [], [MATCH])
    store.save_new(article(2), [], [])
    assert seen_elsewhere(path) == set()  # one transaction, not yet committed
    store.beat("daemon", 60.0, datetime.now(UTC))  # durable: commits what waits before it
    assert seen_elsewhere(path) == {"id1", "id2"}
    store.save_new(article(3), [], [])
    store.close()  # closing commits too
    assert seen_elsewhere(path) == {"id1", "id2", "id3"}


def test_deferred_writes_commit_on_a_timer_while_the_pipeline_waits(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    store.defer_commits()

    async def go() -> tuple[set[str], set[str]]:
        store.save_new(article(1), [], [])
        before = seen_elsewhere(path)
        await asyncio.sleep(BATCH_SECONDS * 3)  # waiting on a slow host holds no write lock
        return before, seen_elsewhere(path)

    assert asyncio.run(go()) == (set(), {"id1"})
    store.close()


def test_a_transaction_sqlite_rolls_back_is_counted_and_the_next_write_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    store.defer_commits()
    store.db.execute(
        """CREATE TEMP TRIGGER lose AFTER INSERT ON main.articles WHEN new.id = 'id2'
           BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error'); END"""
    )
    store.save_new(article(1), [], [])
    with pytest.raises(StoreError, match="disk I/O error"):
        store.save_new(article(2), [], [])
    assert store.batches_lost == 1  # article 1 went with it: the pipeline reads its source again
    store.save_new(article(3), [], [])
    store.close()
    assert seen_elsewhere(path) == {"id3"}


def test_another_writer_gets_the_lock_while_the_daemon_writes_without_pause(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    store = Store(path)
    store.sync_sources([Source("s", "feed", "https://news.example.kr/rss")])
    store.defer_commits()
    waits: list[float] = []

    def other_process() -> None:
        # What `monitor deliveries --requeue` or a second tool does: its own connection.
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        for _ in range(5):
            started = time.monotonic()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE sources SET failures = 0 WHERE name = 's'")
            conn.execute("COMMIT")
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
        conn.close()

    async def ingest() -> None:
        writer = threading.Thread(target=other_process)
        writer.start()
        n = 0
        while writer.is_alive():  # deferred writes back to back, as a busy first poll makes
            n += 1
            store.record_link(f"https://news.example.kr/a/{n}", "s", None, "x")
            await asyncio.sleep(0)
        writer.join()

    asyncio.run(ingest())
    store.close()
    assert len(waits) == 5 and max(waits) < 1.0, waits
