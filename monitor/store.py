"""SQLite storage (sqlite-utils): schema, migrations, and writes that return only what is new."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database, Migrations

from monitor import search as search_mod
from monitor.errors import StoreError
from monitor.models import CachedResponse, Delivery, Match, Source, StoredArticle
from monitor.search import SearchQuery

log = logging.getLogger("monitor.store")
migrations = Migrations("monitor")
# Deferred writes (see Store.defer_commits) reach the file, and other readers, at least this
# often, or after this many writes; after each batch, writes commit one by one for REST_SECONDS,
# so another process's writer (the CLI, a second daemon) gets the write lock in good time.
BATCH_SECONDS = 0.05
BATCH_WRITES = 100
REST_SECONDS = 0.05
LINK_ATTEMPTS = 3  # a link that failed this often is not fetched again
HEARTBEAT = "daemon"  # the heartbeats row the daemon writes and /healthz reads


@migrations()
def m001_initial(db: Database) -> None:
    """Create the first schema: sources, articles (+FTS), links, stories, matches, deliveries."""
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}',
            next_due_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_attempt_at TEXT,
            last_success_at TEXT,
            etag TEXT,
            last_modified TEXT,
            listing_hash TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            canonical_url TEXT NOT NULL,
            source TEXT NOT NULL,
            title TEXT NOT NULL,
            published_at TEXT,
            author TEXT,
            body TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            story_id TEXT,
            fingerprint INTEGER,
            first_seen_at TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX articles_content_hash ON articles(content_hash)")
    db.execute("CREATE INDEX articles_story ON articles(story_id)")
    db.execute("CREATE INDEX articles_first_seen ON articles(first_seen_at)")
    db.execute("CREATE INDEX articles_source ON articles(source, first_seen_at)")
    db.table("articles").enable_fts(["title", "body"], tokenize="trigram", create_triggers=True)
    # Every link URL a source has listed, so unchanged listings cost no article fetches.
    db.execute(
        """
        CREATE TABLE links (
            url TEXT PRIMARY KEY,
            article_id TEXT,
            source TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE stories (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            first_article_id TEXT NOT NULL,
            first_source TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            published_at TEXT,
            size INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE story_keys (
            key INTEGER NOT NULL,
            story_id TEXT NOT NULL,
            PRIMARY KEY (key, story_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE matches (
            article_id TEXT NOT NULL,
            rule TEXT NOT NULL,
            terms TEXT NOT NULL,
            snippet TEXT NOT NULL,
            highlights TEXT NOT NULL DEFAULT '[]',
            hits TEXT NOT NULL DEFAULT '[]',
            matched_at TEXT NOT NULL,
            PRIMARY KEY (article_id, rule)
        )"""
    )
    db.execute("CREATE INDEX matches_rule ON matches(rule, matched_at)")
    db.execute(
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            notifier TEXT NOT NULL,
            key TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (notifier, key)
        )"""
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at)")


@migrations()
def m_notify_attempts(db: Database) -> None:
    """Digest batches on deliveries, and one row per delivery attempt."""
    # A digest claims its rows under one batch name, so a resend after a crash carries the
    # same idempotency key (Message-ID) as the send that may already have arrived.
    db.execute("ALTER TABLE deliveries ADD COLUMN batch TEXT")
    db.execute("CREATE INDEX deliveries_batch ON deliveries(notifier, status, batch)")
    # outcome NULL: the attempt began and the process died before it ended.
    db.execute(
        """
        CREATE TABLE delivery_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id)")


@migrations()
def m_query_search_tails(db: Database) -> None:
    """Index the last two characters of each title and body, for two-character search terms."""
    # A two-character term (평택) that ends its field starts no trigram, so the FTS index
    # cannot see it there (see monitor.search); these find those rows without a table scan.
    db.execute("CREATE INDEX articles_title_tail ON articles(lower(substr(title, -2)))")
    db.execute("CREATE INDEX articles_body_tail ON articles(lower(substr(body, -2)))")


@migrations()
def m_query_views(db: Database) -> None:
    """Canned views for sqlite3 and Datasette users: today's matches, stories, failing sources."""
    # Times are stored as UTC text; "today" is the Korean calendar day (UTC+9, no DST).
    db.execute(
        """
        CREATE VIEW matches_today AS
        SELECT m.matched_at, m.rule, a.title, a.source, a.url, m.snippet, a.story_id,
               m.article_id
        FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE m.matched_at >= strftime('%Y-%m-%dT%H:%M:%S+00:00',
                                       date('now', '+9 hours'), '-9 hours')
        ORDER BY m.matched_at DESC"""
    )
    db.execute(
        """
        CREATE VIEW stories_by_size AS
        SELECT s.id, s.title, s.size,
               (SELECT count(DISTINCT a.source) FROM articles a WHERE a.story_id = s.id)
                 AS sources,
               (SELECT count(*) FROM matches m JOIN articles a ON a.id = m.article_id
                 WHERE a.story_id = s.id) AS matches,
               s.first_source, s.first_seen_at, s.published_at, s.updated_at
        FROM stories s
        ORDER BY s.size DESC, s.updated_at DESC"""
    )
    db.execute(
        """
        CREATE VIEW failing_sources AS
        SELECT name, kind, url, failures, last_error, last_attempt_at, last_success_at,
               next_due_at AS next_retry_at
        FROM sources WHERE failures > 0
        ORDER BY failures DESC, name"""
    )


@migrations()
def m_operate_heartbeat(db: Database) -> None:
    """A heartbeat row per running daemon, so /healthz and `monitor stats` can tell it ticks."""
    db.execute(
        """
        CREATE TABLE heartbeats (
            name TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            beat_at TEXT NOT NULL,
            interval REAL NOT NULL
        )"""
    )


@migrations()
def m_fetch_url_cache(db: Database) -> None:
    """What is known about any URL fetched again: validators, body hash, small bodies."""
    db.execute(
        """
        CREATE TABLE url_cache (
            url TEXT PRIMARY KEY,
            status INTEGER NOT NULL,
            etag TEXT,
            last_modified TEXT,
            content_hash TEXT,
            body BLOB,
            outcome TEXT,
            fetched_at TEXT NOT NULL
        )"""
    )


@migrations()
def m_sources_cursor(db: Database) -> None:
    """Where a source's last complete poll got to (a sitemap's newest entry), for the next."""
    db.execute("ALTER TABLE sources ADD COLUMN cursor TEXT")


@migrations()
def m_sources_api_calls(db: Database) -> None:
    """API calls per quota key and provider day (the Naver search API allows 25,000 a day)."""
    db.execute(
        """
        CREATE TABLE api_calls (
            key TEXT NOT NULL,
            day TEXT NOT NULL,
            calls INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (key, day)
        ) WITHOUT ROWID"""
    )


@migrations()
def m_store_fts_batched(db: Database) -> None:
    """Index new articles for search in batches (Store.index_pending), not row by row."""
    # FTS5 writes a segment per transaction: a segment per article costs three times the CPU
    # of one per hundred articles. Rows above `indexed_through` wait for the next batch.
    db.execute("DROP TRIGGER IF EXISTS articles_ai")
    db.execute("DROP TRIGGER IF EXISTS articles_ad")
    db.execute("DROP TRIGGER IF EXISTS articles_au")
    db.execute(
        """CREATE TABLE fts_progress (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            indexed_through INTEGER NOT NULL
        )"""
    )
    db.execute(
        "INSERT INTO fts_progress VALUES (1, (SELECT coalesce(max(rowid), 0) FROM articles))"
    )
    indexed = "(SELECT indexed_through FROM fts_progress)"
    # A deleted row leaves the index if it was in it; deleting the newest rows lowers the mark,
    # because SQLite gives the next row the rowid after the highest one left.
    db.execute(
        f"""CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
              INSERT INTO articles_fts (articles_fts, rowid, title, body)
                SELECT 'delete', old.rowid, old.title, old.body WHERE old.rowid <= {indexed};
              UPDATE fts_progress SET indexed_through =
                min(indexed_through, (SELECT coalesce(max(rowid), 0) FROM articles));
            END"""
    )
    db.execute(
        f"""CREATE TRIGGER articles_au AFTER UPDATE ON articles WHEN old.rowid <= {indexed}
            BEGIN
              INSERT INTO articles_fts (articles_fts, rowid, title, body)
                VALUES ('delete', old.rowid, old.title, old.body);
              INSERT INTO articles_fts (rowid, title, body)
                VALUES (new.rowid, new.title, new.body);
            END"""
    )


def iso(dt: datetime | None) -> str | None:
    """Format a datetime as ISO 8601 in UTC (sortable as text), or None."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(value: str | None) -> datetime | None:
    """Read back a stored ISO 8601 timestamp."""
    return datetime.fromisoformat(value) if value else None


def now_utc() -> datetime:
    """The current time, aware, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about a source between polls."""

    name: str
    etag: str | None
    last_modified: str | None
    listing_hash: str | None
    failures: int
    next_due_at: datetime | None
    last_error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outbox:
    """A delivery row to enqueue with an article's matches."""

    notifier: str
    key: str
    payload: dict[str, Any]


class Store:
    """The one SQLite file: every read and write the monitor makes."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._deferring = False
        self._batch_writes = -1  # writes in the open deferred transaction; -1: none is open
        self._batch_since = 0.0  # monotonic time that transaction began
        self._rest_until = 0.0  # monotonic time before which no new batch begins
        self._timer: asyncio.TimerHandle | None = None
        self.batches_lost = 0  # deferred transactions an error rolled back (see pipeline)
        if readonly:
            # Readers (the HTTP server) open the file in SQLite's read-only mode: no
            # migrations, no pragmas that write; the file must exist and be migrated.
            try:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
                self.db = Database(conn)
                conn.execute("PRAGMA busy_timeout = 10000")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open database {path}: {exc}") from exc
            return
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False)
            self.db = Database(conn)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: durable across process crashes, ~10x cheaper commits than FULL.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc

    def close(self) -> None:
        """Commit what is deferred, then close the connection."""
        try:
            self.flush()
        except StoreError as exc:
            log.error("closing: %s", exc)
        self.db.close()

    def defer_commits(self) -> None:
        """Let the pipeline's writes share transactions, committed every BATCH_SECONDS.

        One commit per article costs more than the article's own rows. Each write is still
        atomic (a savepoint), and the transaction only ever holds the newest writes, so a
        crash loses what a crash a moment earlier would have: the pipeline fetches those
        articles again. A durable write (deliveries, heartbeats, the search index, sources)
        commits everything before it, so nothing is sent that a crash could take back.
        """
        self._deferring = True

    def flush(self) -> None:
        """Commit the deferred writes now."""
        self._cancel_timer()
        if self._batch_writes < 0:
            return
        self._batch_writes = -1
        self._rest_until = time.monotonic() + REST_SECONDS
        try:
            self.db.conn.commit()
        except sqlite3.Error as exc:
            self._lose_batch()
            raise StoreError(f"database write failed: {exc}") from exc

    def _open_batch(self) -> None:
        """Begin a deferred transaction, unless one (or another transaction) is open."""
        if not self._deferring or self.db.conn.in_transaction:
            return
        if time.monotonic() < self._rest_until:
            return  # resting: this write commits on its own, and the lock is free between
        self.db.conn.execute("BEGIN")
        self._batch_writes = 0
        self._batch_since = time.monotonic()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop: the next write or close() commits
        # A poll waiting on a slow host must not hold the write lock: commit on a timer too.
        self._timer = loop.call_later(BATCH_SECONDS, self._flush_on_timer)

    def _flush_on_timer(self) -> None:
        """The timer's commit; an error is logged (the batch is lost, as in a crash)."""
        self._timer = None
        try:
            self.flush()
        except StoreError as exc:
            log.error("deferred writes lost, their sources will be read again: %s", exc)

    def _after_write(self, durable: bool) -> None:
        """Count a finished write; commit the open batch when due (or the write is durable)."""
        if self._batch_writes < 0:
            return
        if not self.db.conn.in_transaction:
            self._lose_batch()  # SQLite rolled the whole transaction back (full disk, I/O)
            return
        self._batch_writes += 1
        if (
            durable
            or self._batch_writes >= BATCH_WRITES
            or time.monotonic() - self._batch_since >= BATCH_SECONDS
        ):
            self.flush()

    def _lose_batch(self) -> None:
        """Forget a deferred transaction that did not commit, rolling back what is left."""
        if self.db.conn.in_transaction:
            self.db.conn.rollback()
        self._cancel_timer()
        self._batch_writes = -1
        self.batches_lost += 1

    def _cancel_timer(self) -> None:
        """Drop the pending timed commit, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- sources ---------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[Source], now: datetime | None = None) -> None:
        """Upsert configured sources, keeping their schedule state; a new one is due now."""
        when = iso(now or now_utc())
        with self._write():
            for s in sources:
                self.db.execute(
                    """INSERT INTO sources (name, kind, url, settings, next_due_at)
                       VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT(name) DO UPDATE SET kind = excluded.kind,
                         url = excluded.url, settings = excluded.settings""",
                    [s.name, s.kind, s.url, json.dumps(s.settings, ensure_ascii=False), when],
                )

    def due_sources(self, names: Iterable[str], now: datetime | None = None) -> list[str]:
        """Names among `names` whose next poll is due, most overdue first."""
        wanted = list(names)
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            f"""SELECT name FROM sources WHERE name IN ({marks})
                AND (next_due_at IS NULL OR next_due_at <= ?) ORDER BY next_due_at""",
            [*wanted, iso(now or now_utc())],
        ).fetchall()
        return [r[0] for r in rows]

    def source_state(self, name: str) -> SourceState:
        """The remembered state of one source."""
        row = self.db.execute(
            """SELECT name, etag, last_modified, listing_hash, failures, next_due_at,
                      last_error, last_success_at FROM sources WHERE name = ?""",
            [name],
        ).fetchone()
        if row is None:
            return SourceState(name, None, None, None, 0, None, None, None)
        return SourceState(
            row[0], row[1], row[2], row[3], row[4], parse_iso(row[5]), row[6], parse_iso(row[7])
        )

    def record_success(
        self,
        name: str,
        next_due_at: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        listing_hash: str | None = None,
        keep_validators: bool = False,
    ) -> None:
        """Mark a poll as done: reset failures, store cache validators, schedule the next."""
        now = iso(now_utc())
        with self._write(deferrable=True):
            if keep_validators:
                self.db.execute(
                    """UPDATE sources SET failures = 0, last_error = NULL, last_attempt_at = ?,
                       last_success_at = ?, next_due_at = ? WHERE name = ?""",
                    [now, now, iso(next_due_at), name],
                )
            else:
                self.db.execute(
                    """UPDATE sources SET failures = 0, last_error = NULL, last_attempt_at = ?,
                       last_success_at = ?, next_due_at = ?, etag = ?, last_modified = ?,
                       listing_hash = ? WHERE name = ?""",
                    [now, now, iso(next_due_at), etag, last_modified, listing_hash, name],
                )

    def record_failure(self, name: str, error: str, next_due_at: datetime) -> int:
        """Record a failed poll and its retry time; returns the failure count."""
        with self._write(deferrable=True):
            self.db.execute(
                """UPDATE sources SET failures = failures + 1, last_error = ?,
                   last_attempt_at = ?, next_due_at = ? WHERE name = ?""",
                [error[:2000], iso(now_utc()), iso(next_due_at), name],
            )
        row = self.db.execute("SELECT failures FROM sources WHERE name = ?", [name]).fetchone()
        return int(row[0]) if row else 0

    # -- links and articles ----------------------------------------------------------------

    def known_links(self, urls: Iterable[str]) -> set[str]:
        """Which of these link URLs have been seen (stored or tried) before."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.db.execute(
                    f"""SELECT url FROM links WHERE url IN ({marks})
                        AND (article_id IS NOT NULL OR attempts >= ?)""",
                    [*chunk, LINK_ATTEMPTS],
                )
            )
        return found

    def article_by_content(self, content_hash: str) -> str | None:
        """The id of an article with exactly this normalised body, if any."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE content_hash = ? LIMIT 1", [content_hash]
        ).fetchone()
        return str(row[0]) if row else None

    def has_article(self, article_id: str) -> bool:
        """Whether an article with this id is stored."""
        row = self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone()
        return row is not None

    def record_link(
        self, url: str, source: str, article_id: str | None, error: str | None = None
    ) -> None:
        """Remember a listed link and the article it led to (or why it failed)."""
        with self._write(deferrable=True):
            self._upsert_link(url, source, article_id, error)

    def _upsert_link(
        self, url: str, source: str, article_id: str | None, error: str | None
    ) -> None:
        self.db.execute(
            """INSERT INTO links (url, article_id, source, first_seen_at, last_error, attempts)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET article_id = COALESCE(excluded.article_id,
                 links.article_id), last_error = excluded.last_error,
                 attempts = links.attempts + (excluded.article_id IS NULL)""",
            [url, article_id, source, iso(now_utc()), error, int(article_id is None)],
        )

    def index_pending(self) -> int:
        """Add articles stored since the last call to the search index; returns how many."""
        if self.readonly:
            return 0
        pending = self.db.execute(
            """SELECT (SELECT coalesce(max(rowid), 0) FROM articles) - indexed_through
               FROM fts_progress"""
        ).fetchone()
        if not pending or pending[0] <= 0:
            return 0
        with self._write():
            # The INSERT comes first: a transaction that writes first takes the write lock
            # before it reads, so a concurrent indexer cannot slip in between.
            cur = self.db.execute(
                """INSERT INTO articles_fts (rowid, title, body)
                   SELECT rowid, title, body FROM articles
                   WHERE rowid > (SELECT indexed_through FROM fts_progress) ORDER BY rowid"""
            )
            self.db.execute(
                """UPDATE fts_progress
                   SET indexed_through = (SELECT coalesce(max(rowid), 0) FROM articles)"""
            )
        return max(0, cur.rowcount)

    def story_candidates(self, keys: Sequence[int], limit: int = 5) -> list[str]:
        """Ids of the stories sharing most story keys, best first.

        A story's id is the id of the article that started it; that article's text is what
        new articles are verified against (see monitor.dedupe and story_text()).
        """
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            f"""SELECT story_id, COUNT(*) AS shared FROM story_keys WHERE key IN ({marks})
                GROUP BY story_id ORDER BY shared DESC, story_id LIMIT ?""",
            [*keys, limit],
        ).fetchall()
        return [r[0] for r in rows]

    def story_text(self, story_id: str) -> tuple[str, str] | None:
        """(title, body) of the article that started a story."""
        row = self.db.execute(
            "SELECT title, body FROM articles WHERE id = ?", [story_id]
        ).fetchone()
        return (row[0], row[1]) if row else None

    def save_new(
        self,
        article: StoredArticle,
        link_urls: Sequence[str],
        matches: Sequence[Match],
        outbox: Sequence[Outbox] = (),
        story_keys: Sequence[int] = (),
    ) -> bool:
        """Store an article with its matches and deliveries in one transaction.

        Returns False (and writes only the link mapping) when the article was already stored.
        """
        now = iso(now_utc())
        with self._write(deferrable=True):
            cur = self.db.execute(
                """INSERT INTO articles (id, url, canonical_url, source, title, published_at,
                     author, body, content_hash, story_id, fingerprint, first_seen_at, fetched_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO NOTHING""",
                [
                    article.id,
                    article.url,
                    article.canonical_url,
                    article.source,
                    article.title,
                    iso(article.published_at),
                    article.author,
                    article.body,
                    article.content_hash,
                    article.story_id or article.id,
                    article.fingerprint,
                    iso(article.first_seen_at) or now,
                    iso(article.fetched_at) or now,
                ],
            )
            inserted = cur.rowcount == 1
            for url in link_urls:
                self._upsert_link(url, article.source, article.id, None)
            if not inserted:
                return False
            self._join_story(article, now or "")
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO story_keys (key, story_id) VALUES (?, ?)",
                [(key, article.story_id or article.id) for key in story_keys],
            )
            for m in matches:
                self.db.execute(
                    """INSERT INTO matches (article_id, rule, terms, snippet, highlights, hits,
                         matched_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(article_id, rule) DO NOTHING""",
                    [
                        article.id,
                        m.rule,
                        json.dumps(list(m.terms), ensure_ascii=False),
                        m.snippet,
                        json.dumps([list(h) for h in m.highlights]),
                        json.dumps(
                            [[h.term, h.field, h.start, h.end, h.text] for h in m.hits],
                            ensure_ascii=False,
                        ),
                        now,
                    ],
                )
            for d in outbox:
                # UNIQUE(notifier, key): a story already queued for a notifier is not queued again.
                self.db.execute(
                    """INSERT INTO deliveries (notifier, key, payload, next_attempt_at, created_at)
                       VALUES (?, ?, ?, ?, ?) ON CONFLICT(notifier, key) DO NOTHING""",
                    [d.notifier, d.key, json.dumps(d.payload, ensure_ascii=False), now, now],
                )
        return True

    def _join_story(self, article: StoredArticle, now: str) -> None:
        """Create the article's story or grow the one it joins."""
        story_id = article.story_id or article.id
        cur = self.db.execute(
            "UPDATE stories SET size = size + 1, updated_at = ? WHERE id = ?", [now, story_id]
        )
        if cur.rowcount == 0:
            self.db.execute(
                """INSERT INTO stories (id, title, first_article_id, first_source, first_seen_at,
                     published_at, size, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)""",
                [
                    story_id,
                    article.title,
                    article.id,
                    article.source,
                    now,
                    iso(article.published_at),
                    now,
                ],
            )

    # -- reads -----------------------------------------------------------------------------

    def export_rows(
        self, matched: bool = False, rule: str | None = None, since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Articles in first-seen order, each with the names of the rules it matched."""
        where: list[str] = []
        params: list[str | None] = []
        if rule:
            where.append("a.id IN (SELECT article_id FROM matches WHERE rule = ?)")
            params.append(rule)
        elif matched:
            where.append("a.id IN (SELECT article_id FROM matches)")
        if since:
            where.append("a.first_seen_at >= ?")
            params.append(iso(since))
        sql = f"""SELECT a.id, a.url, a.canonical_url, a.source, a.title, a.published_at,
                    a.author, a.body, a.content_hash, a.story_id, a.first_seen_at, a.fetched_at,
                    (SELECT json_group_array(rule) FROM (SELECT rule FROM matches m
                       WHERE m.article_id = a.id ORDER BY rule)) AS rules
                  FROM articles a {"WHERE " + " AND ".join(where) if where else ""}
                  ORDER BY a.first_seen_at, a.rowid"""
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        for row in cur:
            rec = dict(zip(cols, row, strict=True))
            rec["rules"] = json.loads(rec["rules"] or "[]")
            yield rec

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        return {
            t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("articles", "stories", "matches", "deliveries", "sources")
        }

    def matches_for(self, article_id: str) -> list[dict[str, Any]]:
        """The stored matches of one article."""
        cur = self.db.execute(
            "SELECT rule, terms, snippet FROM matches WHERE article_id = ? ORDER BY rule",
            [article_id],
        )
        return [{"rule": r[0], "terms": json.loads(r[1]), "snippet": r[2]} for r in cur]

    def source_rows(self) -> list[dict[str, Any]]:
        """Every source with its schedule state and article/match counts."""
        cur = self.db.execute(
            """SELECT s.name, s.kind, s.url, s.last_success_at, s.last_attempt_at, s.failures,
                      s.last_error, s.next_due_at,
                      (SELECT count(*) FROM articles a WHERE a.source = s.name) AS articles,
                      (SELECT count(*) FROM matches m JOIN articles a ON a.id = m.article_id
                        WHERE a.source = s.name) AS matches
               FROM sources s ORDER BY s.name"""
        )
        return _dicts(cur)

    def stories(
        self,
        since: datetime | None = None,
        rule: str | None = None,
        min_size: int = 1,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Stories, largest first, each with its rules and members in publication order."""
        out = self.story_rows(min_size=min_size, order="size", since=since, limit=limit, rule=rule)
        for story in out:
            members = _dicts(
                self.db.execute(
                    """SELECT source, url, title, published_at, first_seen_at FROM articles
                       WHERE story_id = ?
                       ORDER BY COALESCE(published_at, first_seen_at), first_seen_at, rowid""",
                    [story["id"]],
                )
            )
            story["rules"] = [
                r[0]
                for r in self.db.execute(
                    """SELECT DISTINCT m.rule FROM matches m JOIN articles a ON a.id = m.article_id
                       WHERE a.story_id = ? ORDER BY m.rule""",
                    [story["id"]],
                )
            ]
            story["portals"] = len(story["sources"])
            # The earliest publisher is who published first, not who we saw first.
            story["earliest_source"] = members[0]["source"] if members else story["first_source"]
            story["members"] = members
        return out

    def due_deliveries(self, notifier: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """Pending deliveries of one notifier that are due and in no digest batch, oldest first."""
        cur = self.db.execute(
            f"""SELECT {_DELIVERY_COLS} FROM deliveries WHERE notifier = ? AND status = 'pending'
                AND batch IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?""",
            [notifier, iso(now), limit],
        )
        return [_delivery(r) for r in cur.fetchall()]

    def pending_deliveries(self, notifier: str, batch: str | None = None) -> list[Delivery]:
        """Every pending delivery of a notifier (or of one digest batch), oldest first."""
        where = "AND batch = ?" if batch is not None else ""
        cur = self.db.execute(
            f"""SELECT {_DELIVERY_COLS} FROM deliveries WHERE notifier = ? AND status = 'pending'
                {where} ORDER BY id""",
            [notifier, batch] if batch is not None else [notifier],
        )
        return [_delivery(r) for r in cur.fetchall()]

    def open_batch(self, notifier: str, due_by: datetime | None = None) -> str | None:
        """The oldest digest batch of a notifier still pending (and due by `due_by`, if given)."""
        sql = """SELECT batch FROM deliveries WHERE notifier = ? AND status = 'pending'
                 AND batch IS NOT NULL"""
        params: list[Any] = [notifier]
        if due_by is not None:
            sql += " AND next_attempt_at <= ?"
            params.append(iso(due_by))
        row = self.db.execute(sql + " ORDER BY id LIMIT 1", params).fetchone()
        return str(row[0]) if row else None

    def start_batch(self, notifier: str, batch: str) -> int:
        """Put every pending delivery of a notifier that is in no batch into `batch`."""
        with self._write():
            cur = self.db.execute(
                """UPDATE deliveries SET batch = ? WHERE notifier = ? AND status = 'pending'
                   AND batch IS NULL""",
                [batch, notifier],
            )
        return int(cur.rowcount)

    def claim_deliveries(
        self, ids: Sequence[int], now: datetime, retry_at: datetime
    ) -> list[tuple[int, int]]:
        """Begin an attempt at each pending, due delivery; returns (delivery id, attempt id).

        The claim moves next_attempt_at to `retry_at` first, so a second sender skips the row
        and a crash mid-send leaves it to be retried then, under the same key.
        """
        claimed: list[tuple[int, int]] = []
        when = iso(now)
        with self._write():
            for delivery_id in ids:
                cur = self.db.execute(
                    """UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?
                       WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?""",
                    [iso(retry_at), delivery_id, when],
                )
                if cur.rowcount != 1:
                    continue
                cur = self.db.execute(
                    """INSERT INTO delivery_attempts (delivery_id, attempt, started_at)
                       SELECT id, attempts, ? FROM deliveries WHERE id = ?""",
                    [when, delivery_id],
                )
                claimed.append((delivery_id, int(cur.lastrowid or 0)))
        return claimed

    def finish_deliveries(
        self,
        claims: Sequence[tuple[int, int]],
        outcome: Literal["sent", "retry", "dead"],
        error: str | None = None,
        retry_at: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record how claimed attempts ended: sent, to be retried at `retry_at`, or dead."""
        when = iso(now or now_utc())
        err = error[:2000] if error else None
        with self._write():
            for delivery_id, attempt_id in claims:
                if outcome == "sent":
                    self.db.execute(
                        """UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL
                           WHERE id = ?""",
                        [when, delivery_id],
                    )
                elif outcome == "dead":
                    self.db.execute(
                        "UPDATE deliveries SET status = 'dead', last_error = ? WHERE id = ?",
                        [err, delivery_id],
                    )
                else:
                    self.db.execute(
                        """UPDATE deliveries SET last_error = ?, next_attempt_at = ?
                           WHERE id = ?""",
                        [err, iso(retry_at or now_utc()), delivery_id],
                    )
                self.db.execute(
                    """UPDATE delivery_attempts SET finished_at = ?, outcome = ?, error = ?
                       WHERE id = ?""",
                    [when, outcome, err, attempt_id],
                )

    def next_delivery_at(self, immediate: Sequence[str], digests: Sequence[str]) -> datetime | None:
        """When the next pending delivery (or digest batch retry) of these notifiers is due."""
        best: str | None = None
        for names, batch in ((immediate, "IS NULL"), (digests, "IS NOT NULL")):
            if not names:
                continue
            marks = ",".join("?" * len(names))
            row = self.db.execute(
                f"""SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'
                    AND batch {batch} AND notifier IN ({marks})""",
                list(names),
            ).fetchone()
            if row and row[0] and (best is None or row[0] < best):
                best = row[0]
        return parse_iso(best)

    def delivery_detail(self, article_id: str, story_id: str | None) -> dict[str, Any] | None:
        """What a notification about one article says: the article, its matches, its story."""
        cur = self.db.execute(
            """SELECT id, url, canonical_url, source, title, published_at, author,
                      first_seen_at, story_id FROM articles WHERE id = ?""",
            [article_id],
        )
        rows = _dicts(cur)
        if not rows:
            return None
        article = rows[0]
        sid = story_id or article["story_id"] or article_id
        matches = {
            r[0]: {
                "rule": r[0],
                "terms": json.loads(r[1]),
                "snippet": r[2],
                "highlights": json.loads(r[3]),
                "matched_at": r[4],
            }
            for r in self.db.execute(
                """SELECT rule, terms, snippet, highlights, matched_at FROM matches
                   WHERE article_id = ? ORDER BY rule""",
                [article_id],
            )
        }
        story = self.db.execute(
            "SELECT id, title, size, first_seen_at FROM stories WHERE id = ?", [sid]
        ).fetchone()
        members = [
            {"source": r[0], "url": r[1], "title": r[2], "published_at": r[3]}
            for r in self.db.execute(
                """SELECT source, url, title, published_at FROM articles WHERE story_id = ?
                   ORDER BY COALESCE(published_at, first_seen_at), rowid""",
                [sid],
            )
        ]
        return {
            "article": article,
            "matches": matches,
            "story": {
                "id": sid,
                "title": story[1] if story else article["title"],
                "size": int(story[2]) if story else max(1, len(members)),
                "first_seen_at": story[3] if story else article["first_seen_at"],
                "members": members,
            },
        }

    def delivery_rows(
        self, status: str | None = None, notifier: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Deliveries newest first, with their state, for people to read."""
        where: list[str] = []
        params: list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        if notifier:
            where.append("notifier = ?")
            params.append(notifier)
        cur = self.db.execute(
            f"""SELECT id, notifier, key, status, attempts, next_attempt_at, last_error,
                       created_at, sent_at, batch, payload FROM deliveries
                {"WHERE " + " AND ".join(where) if where else ""} ORDER BY id DESC LIMIT ?""",
            [*params, limit],
        )
        return _dicts(cur)

    def delivery_attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        """Every attempt at one delivery, first first."""
        cur = self.db.execute(
            """SELECT attempt, started_at, finished_at, outcome, error FROM delivery_attempts
               WHERE delivery_id = ? ORDER BY id""",
            [delivery_id],
        )
        return _dicts(cur)

    def requeue_dead(self, notifier: str | None = None, now: datetime | None = None) -> int:
        """Give dead deliveries a fresh set of attempts; returns how many."""
        sql = """UPDATE deliveries SET status = 'pending', attempts = 0, batch = NULL,
                 next_attempt_at = ? WHERE status = 'dead'"""
        params: list[Any] = [iso(now or now_utc())]
        if notifier:
            sql += " AND notifier = ?"
            params.append(notifier)
        with self._write():
            cur = self.db.execute(sql, params)
        return int(cur.rowcount)

    # -- queries for people: search, stats, the HTTP API ---------------------------------------

    def search(
        self,
        query: SearchQuery,
        *,
        sources: Sequence[str] = (),
        rule: str | None = None,
        story: str | None = None,
        since: datetime | None = None,
        order: Literal["rank", "new"] = "rank",
        limit: int = 20,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Articles matching a search, best (or newest) first, with highlighted snippets."""
        self.index_pending()  # what a crashed run stored and did not index yet
        inner, params, _ = self._search_sql(query, sources, rule, story, since, order)
        ordering = "a.rowid DESC" if order == "new" else "p.score, a.rowid DESC"
        # Only the page's rows are read in full (body for the snippet, their rules).
        cur = self.db.execute(
            f"""SELECT a.id, a.url, a.source, a.title, a.published_at, a.first_seen_at,
                       a.story_id, a.body, {_RULES_OF_A} AS rules, p.score
                FROM ({inner} LIMIT ? OFFSET ?) p JOIN articles a ON a.rowid = p.rid
                ORDER BY {ordering}""",
            [*params, limit, offset],
        )
        out = []
        terms = query.terms
        for rec in _dicts(cur):
            body = rec.pop("body")
            rec["rules"] = json.loads(rec["rules"] or "[]")
            rec["snippet"], rec["highlights"] = search_mod.snippet(body, terms)
            rec["title_highlights"] = search_mod.spans(rec["title"], terms)
            out.append(rec)
        return out

    def search_strategy(self, query: SearchQuery) -> str:
        """How a search runs: index | index+check | expanded | scan (for benchmarks, debugging)."""
        return self._search_sql(query, (), None, None, None, "rank")[2]

    def _search_sql(
        self,
        query: SearchQuery,
        sources: Sequence[str],
        rule: str | None,
        story: str | None,
        since: datetime | None,
        order: str,
    ) -> tuple[str, list[Any], str]:
        """A SELECT of (rid, score) for a search, ordered, without LIMIT; params; strategy.

        Newest first is rowid order: rows are only ever appended, as they are first seen, and
        the rowid is read without touching the row's (long) body.
        """
        where, params = _article_filters(sources, rule, story, since)
        expression = search_mod.fts_expression(query)
        driver = None if expression is not None else search_mod.driver_group(query)
        expanded = self._expand(driver) if driver is not None else None
        # Terms too short for the trigram index are checked as exact substrings on each
        # candidate (LIKE ignores ASCII case, as the index does). The driver group needs no
        # check: its trigrams and the tail indexes find exactly the rows holding it.
        for group in search_mod.checked_groups(query):
            if expanded is not None and group == driver:
                continue
            where.append("(" + " OR ".join([_CONTAINS] * len(group)) + ")")
            for term in group:
                params += [search_mod.like_pattern(term)] * 2
        for term in query.excluded:
            where.append("NOT " + _CONTAINS)
            params += [search_mod.like_pattern(term)] * 2
        filters = "".join(" AND " + w for w in where)
        ordering = "ORDER BY a.rowid DESC" if order == "new" else "ORDER BY score, a.rowid DESC"

        if expression is not None:
            strategy = "index+check" if search_mod.checked_groups(query) else "index"
            if not where:
                # The index alone answers: FTS5 sorts a top-N by score, and walks its rowids
                # backwards for newest first, stopping once the page is full.
                by = "rowid DESC" if order == "new" else "score, rowid DESC"
                sql = f"""SELECT rowid AS rid, {_BM25} AS score FROM articles_fts
                          WHERE articles_fts MATCH ? ORDER BY {by}"""
                return sql, [expression], strategy
            sql = f"""SELECT a.rowid AS rid, f.score AS score FROM (
                        SELECT rowid, {_BM25} AS score FROM articles_fts
                        WHERE articles_fts MATCH ?) f
                      JOIN articles a ON a.rowid = f.rowid WHERE 1{filters} {ordering}"""
            return sql, [expression, *params], strategy

        if driver is None or expanded is None:
            # One-character terms, or a term so common that its trigrams outnumber the rows:
            # newest first, so the scan stops once the page is full.
            sql = f"""SELECT a.rowid AS rid, 0.0 AS score FROM articles a WHERE 1{filters}
                      ORDER BY a.rowid DESC"""
            return sql, params, "scan"

        # Rows holding a term of the driver group: through the trigrams that begin with it,
        # and through the tail indexes where it ends a field.
        parts: list[str] = []
        cand_params: list[Any] = []
        if expanded:
            parts.append(
                f"SELECT rowid, {_BM25} AS score FROM articles_fts WHERE articles_fts MATCH ?"
            )
            cand_params.append(expanded)
        tails = search_mod.tail_terms(driver)
        if tails:
            marks = ",".join("?" * len(tails))
            parts.append(
                f"""SELECT rowid, 0.0 FROM articles
                    WHERE lower(substr(title, -2)) IN ({marks})
                       OR lower(substr(body, -2)) IN ({marks})"""
            )
            cand_params += [*tails, *tails]
        # MATERIALIZED: bm25() must run in the FTS query itself, never flattened into this one.
        sql = f"""WITH c(rowid, score) AS MATERIALIZED ({" UNION ALL ".join(parts)})
                  SELECT a.rowid AS rid, min(c.score) AS score
                  FROM c JOIN articles a ON a.rowid = c.rowid WHERE 1{filters}
                  GROUP BY a.rowid {ordering}"""
        return sql, [*cand_params, *params], "expanded"

    def _expand(self, group: Sequence[str]) -> str | None:
        """The FTS expression for a group of short terms via the index's trigrams, or None.

        None means a scan is cheaper: a term would expand to too many trigrams.
        """
        # A per-connection vocabulary view of the index: nothing is added to the file.
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.articles_fts_vocab "
            "USING fts5vocab(main, articles_fts, row)"
        )
        trigrams: dict[str, list[str]] = {}
        for term in group:
            if search_mod.indexed(term):
                continue
            low, high = search_mod.prefix_range(term)
            rows = self.db.execute(
                "SELECT term FROM temp.articles_fts_vocab WHERE term >= ? AND term < ? LIMIT ?",
                [low, high, search_mod.MAX_EXPANSION + 1],
            ).fetchall()
            if len(rows) > search_mod.MAX_EXPANSION:
                return None
            trigrams[term] = [r[0] for r in rows]
        return search_mod.expanded_expression(group, trigrams) or ""

    def article_rows(
        self,
        *,
        sources: Sequence[str] = (),
        rule: str | None = None,
        story: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Articles newest first (no body), each with the rules it matched."""
        where, params = _article_filters(sources, rule, story, since)
        cur = self.db.execute(
            f"""SELECT a.id, a.url, a.canonical_url, a.source, a.title, a.published_at,
                       a.author, a.story_id, a.first_seen_at, {_RULES_OF_A} AS rules
                FROM articles a WHERE 1{"".join(" AND " + w for w in where)}
                ORDER BY a.first_seen_at DESC, a.rowid DESC LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        return [_with_rules(r) for r in _dicts(cur)]

    def article(self, article_id: str) -> dict[str, Any] | None:
        """One article with its body and matches, or None."""
        cur = self.db.execute(
            f"""SELECT a.id, a.url, a.canonical_url, a.source, a.title, a.published_at,
                       a.author, a.body, a.content_hash, a.story_id, a.first_seen_at,
                       a.fetched_at, {_RULES_OF_A} AS rules
                FROM articles a WHERE a.id = ?""",
            [article_id],
        )
        rows = _dicts(cur)
        if not rows:
            return None
        rec = _with_rules(rows[0])
        rec["matches"] = self.match_rows(article_id=article_id, limit=1000)
        return rec

    def match_rows(
        self,
        *,
        rule: str | None = None,
        article_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Matches newest first, with their article's title, URL, source and story."""
        where: list[str] = []
        params: list[Any] = []
        if rule:
            where.append("m.rule = ?")
            params.append(rule)
        if article_id:
            where.append("m.article_id = ?")
            params.append(article_id)
        if since:
            where.append("m.matched_at >= ?")
            params.append(iso(since))
        cur = self.db.execute(
            f"""SELECT m.article_id, m.rule, m.terms, m.snippet, m.highlights, m.matched_at,
                       a.title, a.url, a.source, a.story_id, a.published_at
                FROM matches m JOIN articles a ON a.id = m.article_id
                {"WHERE " + " AND ".join(where) if where else ""}
                ORDER BY m.matched_at DESC, m.rowid DESC LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        out = _dicts(cur)
        for rec in out:
            rec["terms"] = json.loads(rec["terms"])
            rec["highlights"] = [tuple(h) for h in json.loads(rec["highlights"] or "[]")]
        return out

    def story_rows(
        self,
        *,
        min_size: int = 1,
        order: Literal["size", "recent"] = "recent",
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        rule: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stories (groups of near-duplicate articles), most recently grown or largest first."""
        where = ["s.size >= ?"]
        params: list[Any] = [min_size]
        if since:
            where.append("s.updated_at >= ?")
            params.append(iso(since))
        if rule:
            where.append(
                "s.id IN (SELECT a.story_id FROM matches m JOIN articles a ON a.id = m.article_id"
                " WHERE m.rule = ?)"
            )
            params.append(rule)
        ordering = "s.size DESC, s.updated_at DESC" if order == "size" else "s.updated_at DESC"
        cur = self.db.execute(
            f"""SELECT s.id, s.title, s.size, s.first_source, s.first_seen_at, s.published_at,
                       s.updated_at,
                       (SELECT json_group_array(DISTINCT a.source) FROM articles a
                         WHERE a.story_id = s.id) AS sources
                FROM stories s WHERE {" AND ".join(where)}
                ORDER BY {ordering}, s.id LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        out = _dicts(cur)
        for rec in out:
            rec["sources"] = sorted(json.loads(rec["sources"] or "[]"))
        return out

    def story(self, story_id: str) -> dict[str, Any] | None:
        """One story with its articles, first seen first, or None."""
        cur = self.db.execute(
            """SELECT id, title, size, first_article_id, first_source, first_seen_at,
                      published_at, updated_at FROM stories WHERE id = ?""",
            [story_id],
        )
        rows = _dicts(cur)
        if not rows:
            return None
        rec = rows[0]
        rec["articles"] = self.article_rows(story=story_id, limit=10_000)[::-1]
        return rec

    def stats(self) -> dict[str, Any]:
        """Per source, per rule, per notifier and in total: what `monitor stats` shows."""
        rules = _dicts(
            self.db.execute(
                """SELECT rule, count(*) AS matches, max(matched_at) AS last_matched_at
                   FROM matches GROUP BY rule ORDER BY rule"""
            )
        )
        deliveries = _dicts(
            self.db.execute(
                """SELECT notifier, status, count(*) AS count FROM deliveries
                   GROUP BY notifier, status ORDER BY notifier, status"""
            )
        )
        return {
            "sources": self.source_rows(),
            "rules": rules,
            "deliveries": deliveries,
            "totals": self.counts(),
            "heartbeats": _dicts(
                self.db.execute(
                    "SELECT name, pid, host, started_at, beat_at, interval FROM heartbeats"
                )
            ),
        }

    def beat(
        self, name: str, interval: float, started_at: datetime, now: datetime | None = None
    ) -> None:
        """Record that a daemon is alive and ticking (see /healthz)."""
        with self._write():
            self.db.execute(
                """INSERT INTO heartbeats (name, pid, host, started_at, beat_at, interval)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET pid = excluded.pid, host = excluded.host,
                     started_at = excluded.started_at, beat_at = excluded.beat_at,
                     interval = excluded.interval""",
                [
                    name,
                    os.getpid(),
                    socket.gethostname(),
                    iso(started_at),
                    iso(now or now_utc()),
                    interval,
                ],
            )

    def end_beat(self, name: str) -> None:
        """Forget a daemon's heartbeat: it stopped on purpose."""
        with self._write():
            self.db.execute("DELETE FROM heartbeats WHERE name = ?", [name])

    def heartbeat(self, name: str) -> dict[str, Any] | None:
        """The last heartbeat of a daemon, or None if it never ran on this file."""
        rows = _dicts(
            self.db.execute(
                """SELECT name, pid, host, started_at, beat_at, interval FROM heartbeats
                   WHERE name = ?""",
                [name],
            )
        )
        return rows[0] if rows else None

    # -- per-URL fetch cache (robots.txt, pages fetched again) -------------------------------

    def cached_response(self, url: str) -> CachedResponse | None:
        """What was remembered about a URL's last response, if anything."""
        try:
            row = self.db.execute(
                """SELECT url, status, etag, last_modified, content_hash, body, outcome,
                          fetched_at FROM url_cache WHERE url = ?""",
                [url],
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed: {exc}") from exc
        if row is None:
            return None
        return CachedResponse(
            url=row[0],
            status=row[1],
            etag=row[2],
            last_modified=row[3],
            content_hash=row[4],
            body=row[5],
            outcome=row[6],
            fetched_at=parse_iso(row[7]),
        )

    def save_response(self, entry: CachedResponse) -> None:
        """Remember a URL's response (validators, body hash, a small body, what it gave)."""
        with self._write(deferrable=True):
            self.db.execute(
                """INSERT INTO url_cache (url, status, etag, last_modified, content_hash, body,
                     outcome, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(url) DO UPDATE SET status = excluded.status,
                     etag = excluded.etag, last_modified = excluded.last_modified,
                     content_hash = excluded.content_hash, body = excluded.body,
                     outcome = excluded.outcome, fetched_at = excluded.fetched_at""",
                [
                    entry.url,
                    entry.status,
                    entry.etag,
                    entry.last_modified,
                    entry.content_hash,
                    entry.body,
                    entry.outcome[:2000] if entry.outcome else None,
                    iso(entry.fetched_at or now_utc()),
                ],
            )

    # -- source cursors and API call budgets ---------------------------------------------------

    def source_cursor(self, name: str) -> str | None:
        """Where the source's last complete poll got to (see monitor.sources.base.Listing)."""
        row = self.db.execute("SELECT cursor FROM sources WHERE name = ?", [name]).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def record_cursor(self, name: str, cursor: str) -> None:
        """Remember where a complete poll of a source got to."""
        with self._write(deferrable=True):
            self.db.execute("UPDATE sources SET cursor = ? WHERE name = ?", [cursor, name])

    def spend_call(self, key: str, day: str, limit: int) -> bool:
        """Count one API call against a daily budget; False (nothing counted) when it is spent."""
        with self._write():
            cur = self.db.execute(
                """INSERT INTO api_calls (key, day, calls) VALUES (?, ?, 1)
                   ON CONFLICT(key, day) DO UPDATE SET calls = calls + 1 WHERE calls < ?""",
                [key, day, limit],
            )
        return cur.rowcount == 1 and limit > 0

    def use_up_calls(self, key: str, day: str, limit: int) -> None:
        """Mark a day's budget as spent: the provider refused for the quota."""
        with self._write():
            self.db.execute(
                """INSERT INTO api_calls (key, day, calls) VALUES (?, ?, ?)
                   ON CONFLICT(key, day) DO UPDATE SET calls = MAX(calls, excluded.calls)""",
                [key, day, limit],
            )

    def calls_on(self, key: str, day: str) -> int:
        """API calls counted against a key on a day."""
        row = self.db.execute(
            "SELECT calls FROM api_calls WHERE key = ? AND day = ?", [key, day]
        ).fetchone()
        return int(row[0]) if row else 0

    # -- plumbing --------------------------------------------------------------------------

    def _write(self, deferrable: bool = False) -> Any:
        """A transaction whose SQLite errors surface as StoreError.

        `deferrable`: the pipeline's own writes, which may wait for a shared commit (see
        defer_commits); any other write commits at once, with whatever waits before it.
        """
        return _Tx(self, deferrable)


class _Tx:
    """db.atomic() that turns sqlite3 errors into StoreError (locked, full, corrupt)."""

    def __init__(self, store: Store, deferrable: bool) -> None:
        self._store = store
        self._deferrable = deferrable
        self._cm = store.db.atomic()

    def __enter__(self) -> None:
        try:
            if self._deferrable:
                self._store._open_batch()
            self._cm.__enter__()  # a savepoint inside an open batch
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from exc

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Literal[False]:
        try:
            self._cm.__exit__(et, ev, tb)
        except sqlite3.Error as exc:
            self._store._after_write(durable=False)  # notices a rolled-back batch
            raise StoreError(f"database write failed: {exc}") from exc
        self._store._after_write(durable=not self._deferrable and ev is None)
        if isinstance(ev, sqlite3.Error):
            raise StoreError(f"database write failed: {ev}") from ev
        return False


_DELIVERY_COLS = "id, notifier, key, payload, status, attempts, next_attempt_at, last_error"


def _delivery(row: Sequence[Any]) -> Delivery:
    """A deliveries row as the model."""
    return Delivery(
        id=int(row[0]),
        notifier=row[1],
        key=row[2],
        payload=json.loads(row[3]),
        status=row[4],
        attempts=int(row[5]),
        next_attempt_at=parse_iso(row[6]),
        last_error=row[7],
    )


def next_due(now: datetime, interval: float) -> datetime:
    """When a source polled now is next due."""
    return now + timedelta(seconds=interval)


# An article row's matched rule names, as a JSON array (for the queries below).
_RULES_OF_A = """(SELECT json_group_array(rule) FROM (SELECT rule FROM matches m
                   WHERE m.article_id = a.id ORDER BY rule))"""
# LIKE ignores ASCII case only, as search.fold() does; it is cheaper than instr(lower(...)).
_CONTAINS = r"(a.title LIKE ? ESCAPE '\' OR a.body LIKE ? ESCAPE '\')"
# Relevance: a hit in the title weighs as much as four in the body.
_BM25 = "bm25(articles_fts, 4.0, 1.0)"


def _article_filters(
    sources: Sequence[str], rule: str | None, story: str | None, since: datetime | None
) -> tuple[list[str], list[Any]]:
    """WHERE clauses (on `articles a`) and parameters for the common article filters."""
    where: list[str] = []
    params: list[Any] = []
    if sources:
        where.append(f"a.source IN ({','.join('?' * len(sources))})")
        params += list(sources)
    if rule:
        where.append("a.id IN (SELECT article_id FROM matches WHERE rule = ?)")
        params.append(rule)
    if story:
        where.append("a.story_id = ?")
        params.append(story)
    if since:
        where.append("a.first_seen_at >= ?")
        params.append(iso(since))
    return where, params


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """Every row of a cursor as a dict."""
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _with_rules(rec: dict[str, Any]) -> dict[str, Any]:
    """Decode the JSON `rules` column."""
    rec["rules"] = json.loads(rec["rules"] or "[]")
    return rec


def probe_writable(path: str | Path, timeout: float = 2.0) -> str | None:
    """Whether the database file takes writes now: None if so, else why not."""
    try:
        uri = Path(path).resolve().as_uri() + "?mode=rw"  # rw, not rwc: never create the file
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        return f"cannot open {path}: {exc}"
    try:
        # Takes the write lock and gives it back: proves the file, its directory (for the
        # journal) and the lock are usable, and writes nothing.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return None
    except sqlite3.Error as exc:
        return f"{path} is not writable: {exc}"
    finally:
        conn.close()
