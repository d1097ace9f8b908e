"""SQLite storage (sqlite-utils): schema, migrations, and writes that return only what is new."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database, Migrations

from monitor.errors import StoreError
from monitor.models import Match, Source, StoredArticle

migrations = Migrations("monitor")
LINK_ATTEMPTS = 3  # a link that failed this often is not fetched again


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

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
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
        """Close the connection."""
        self.db.close()

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
        with self._write():
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
        with self._write():
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
        with self._write():
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

    def story_candidates(self, keys: Sequence[int], limit: int = 5) -> list[tuple[str, str, str]]:
        """(story_id, title, body) of the stories sharing most story keys, best first.

        A story's id is the id of the article that started it; its text is what new articles
        are verified against (see monitor.dedupe).
        """
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.db.execute(
            f"""SELECT c.story_id, a.title, a.body FROM (
                  SELECT story_id, COUNT(*) AS shared FROM story_keys WHERE key IN ({marks})
                  GROUP BY story_id ORDER BY shared DESC, story_id LIMIT ?
                ) c JOIN articles a ON a.id = c.story_id ORDER BY c.shared DESC, c.story_id""",
            [*keys, limit],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

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
        with self._write():
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
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def rule_counts(self) -> dict[str, int]:
        """Matches per rule."""
        cur = self.db.execute("SELECT rule, count(*) FROM matches GROUP BY rule ORDER BY rule")
        return {r[0]: int(r[1]) for r in cur}

    def stories(
        self,
        since: datetime | None = None,
        rule: str | None = None,
        min_size: int = 1,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Stories, largest and newest first, each with its members in publication order."""
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
        cur = self.db.execute(
            f"""SELECT s.id, s.title, s.size, s.first_seen_at, s.first_source, s.updated_at
                FROM stories s WHERE {" AND ".join(where)}
                ORDER BY s.size DESC, s.updated_at DESC, s.id LIMIT ?""",
            [*params, limit],
        )
        out = []
        for sid, title, size, first_seen, first_source, updated in cur.fetchall():
            members = [
                {"source": r[0], "url": r[1], "title": r[2], "published_at": r[3],
                 "first_seen_at": r[4]}
                for r in self.db.execute(
                    """SELECT source, url, title, published_at, first_seen_at FROM articles
                       WHERE story_id = ?
                       ORDER BY COALESCE(published_at, first_seen_at), first_seen_at""",
                    [sid],
                )
            ]  # fmt: skip
            rules = [
                r[0]
                for r in self.db.execute(
                    """SELECT DISTINCT m.rule FROM matches m JOIN articles a ON a.id = m.article_id
                       WHERE a.story_id = ? ORDER BY m.rule""",
                    [sid],
                )
            ]
            out.append(
                {
                    "id": sid,
                    "title": title,
                    "size": size,
                    "portals": len({m["source"] for m in members}),
                    # The earliest publisher is who published first, not who we saw first.
                    "earliest_source": members[0]["source"] if members else first_source,
                    "first_seen_at": first_seen,
                    "updated_at": updated,
                    "rules": rules,
                    "members": members,
                }
            )
        return out

    # -- plumbing --------------------------------------------------------------------------

    def _write(self) -> Any:
        """A transaction whose SQLite errors surface as StoreError."""
        return _Tx(self.db)


class _Tx:
    """db.atomic() that turns sqlite3 errors into StoreError (locked, full, corrupt)."""

    def __init__(self, db: Database) -> None:
        self._cm = db.atomic()

    def __enter__(self) -> None:
        try:
            self._cm.__enter__()
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from exc

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Literal[False]:
        try:
            self._cm.__exit__(et, ev, tb)
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed: {exc}") from exc
        if isinstance(ev, sqlite3.Error):
            raise StoreError(f"database write failed: {ev}") from ev
        return False


def next_due(now: datetime, interval: float) -> datetime:
    """When a source polled now is next due."""
    return now + timedelta(seconds=interval)
