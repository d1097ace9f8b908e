"""`monitor search` latency on a 100k-article store, against a plain LIKE '%term%' scan.

Run: .venv/bin/python bench/search.py [--articles 100000] [--runs 7] [--db bench/out/search.db]

The store is a real SQLite file made by monitor.store (schema, trigram FTS index, triggers,
tail indexes), filled with synthetic Korean articles: words drawn, Zipf-like, from the real
Korean pages in ../shared/data (or the match fixtures when that data is absent) plus generated
look-alike words, so the trigram vocabulary is broad as in real news. Known terms are planted
at known rates (평택 in ~3% of articles, 미래차 in ~1%, ...), sometimes as the last word of a
title, where no trigram starts with them.

For every query the script checks the full answer against ground truth (a LIKE scan over
every row: the same articles, no more, no fewer), then times the first page (20 results) as
`monitor search` asks for it, the same page by `LIKE '%term%'` on title and body (newest
first, stopping at 20), and every match by LIKE (what a count or a ranking reads). It also
shows what a naive `MATCH '평택 미래차'` returns: FTS5 drops the two-character term silently.
A generated store is kept (--db) and reused by later runs with the same --articles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import search  # noqa: E402
from monitor.logs import display_width  # noqa: E402
from monitor.store import Store  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "match" / "articles.json"
PLANTED = {  # phrase -> share of articles that carry it somewhere
    "평택시는": 0.015,
    "평택항에서": 0.008,
    "평택": 0.008,
    "미래차": 0.008,
    "미래자동차": 0.004,
    "반도체": 0.02,
    "수원": 0.01,
    "전기차": 0.01,
    "수소차": 0.004,
    "AI": 0.01,
}
QUERIES = [
    "평택",  # two characters only: driven by the index's trigram vocabulary + tail indexes
    "평택 미래차",  # mixed: narrowed by 미래차 in the index, 평택 checked on the candidates
    "미래차",  # three characters: the index alone
    "평택항",
    "반도체 평택",
    "수원",
    "ai",
    "전기차 OR 수소차",
    "미래차 -평택",
    '"미래 자동차"',
    "쌀",  # one character: a scan (no trigram can start with it and stay bounded)
]


def shared_data() -> Path:
    """The shared reference data: $MONITOR_SHARED_DATA or ../shared/data."""
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def corpus_words() -> list[str]:
    """Words of real Korean article text (the shared pages, else the fixtures)."""
    texts: list[str] = []
    truth = shared_data() / "korean-news-pages" / "truth.json"
    if truth.exists():
        data = json.loads(truth.read_text(encoding="utf-8"))
        for v in data.values():
            if isinstance(v, dict) and v.get("body_paragraphs"):
                texts.append(v.get("title", ""))
                texts.extend(v["body_paragraphs"])
    for a in json.loads(FIXTURES.read_text(encoding="utf-8")):
        texts.append(a["title"])
        texts.extend(a["body"] if isinstance(a["body"], list) else [a["body"]])
    return [w for t in texts for w in t.split()]


def vocabulary(rng: random.Random, words: list[str], extra: int) -> tuple[list[str], list[float]]:
    """Real words plus `extra` look-alike words built from the corpus's syllables, Zipf-weighted."""
    syllables = Counter(ch for w in words for ch in w if "가" <= ch <= "힣")
    syl, weights = zip(*syllables.items(), strict=True)
    made = {
        "".join(rng.choices(syl, weights, k=rng.choice((2, 2, 3, 3, 3, 4)))) for _ in range(extra)
    }
    # Drop made-up words that would contain a planted term: ground truth stays planted only.
    made = {w for w in made if not any(p in w for p in ("평택", "미래차", "수원", "쌀"))}
    real = [w for w in dict.fromkeys(words) if not any(p in w for p in ("평택", "수원", "쌀"))]
    vocab = real + sorted(made)
    rng.shuffle(vocab)
    zipf = [1.0 / (rank + 10) for rank in range(len(vocab))]
    return vocab, zipf


def generate(db_path: Path, n: int, seed: int = 7) -> None:
    """Fill a new store with n synthetic articles."""
    rng = random.Random(seed)
    vocab, weights = vocabulary(rng, corpus_words(), 40_000)
    store = Store(db_path)
    conn = store.db.conn
    rows = []
    start = time.perf_counter()
    for i in range(n):
        title = rng.choices(vocab, weights, k=rng.randint(5, 10))
        body_words = rng.choices(vocab, weights, k=rng.randint(120, 260))
        # Place a few particles, as Korean text has them after nouns.
        body_words = [w + rng.choice(("", "", "", "은", "를", "의", "에서")) for w in body_words]
        for phrase, share in PLANTED.items():
            if rng.random() < share:
                if rng.random() < 0.25:
                    title.append(phrase)  # the title's last word: no trigram starts there
                else:
                    body_words.insert(rng.randrange(len(body_words) + 1), phrase)
        if rng.random() < 0.003:
            body_words.append("쌀")
        body = " ".join(body_words)
        paragraphs = [body[j : j + 300] for j in range(0, len(body), 300)]
        rows.append(
            (
                f"b{i:07d}",
                f"https://news.example.kr/{i}",
                f"https://news.example.kr/{i}",
                f"src-{i % 40}",
                " ".join(title),
                "\n".join(paragraphs),
                f"h{i}",
                f"b{i:07d}",
                f"2024-09-{1 + i * 29 // n:02d}T00:00:00+00:00",
            )
        )
        if len(rows) == 5000 or i == n - 1:
            with conn:
                conn.executemany(
                    """INSERT INTO articles (id, url, canonical_url, source, title, body,
                         content_hash, story_id, first_seen_at, fetched_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?9)""",
                    rows,
                )
            rows.clear()
            print(f"\r  generated {i + 1:,}/{n:,} articles", end="", file=sys.stderr, flush=True)
    store.index_pending()  # the search index, in one batch (as the daemon does per poll)
    conn.execute("ANALYZE")
    store.close()
    took = time.perf_counter() - start
    print(f"\r  generated {n:,} articles in {took:.0f}s{' ' * 20}", file=sys.stderr)


def like_where(q: search.SearchQuery) -> tuple[str, list[str]]:
    """The query as a WHERE clause of LIKE '%term%' tests, and its parameters."""
    where: list[str] = []
    params: list[str] = []
    for group in q.groups:
        where.append("(" + " OR ".join(["(title LIKE ? OR body LIKE ?)"] * len(group)) + ")")
        for t in group:
            params += [f"%{t}%"] * 2
    for t in q.excluded:
        where.append("NOT (title LIKE ? OR body LIKE ?)")
        params += [f"%{t}%"] * 2
    return " AND ".join(where), params


def truth(conn: sqlite3.Connection, q: search.SearchQuery) -> set[str]:
    """Every article that satisfies the query, by LIKE over every row (the reference answer)."""
    where, params = like_where(q)
    return {r[0] for r in conn.execute(f"SELECT id FROM articles WHERE {where}", params)}


def like_page(conn: sqlite3.Connection, q: search.SearchQuery, limit: int | None = 20) -> list[str]:
    """A page by a plain LIKE '%term%' scan, newest first (what one writes by hand).

    With limit=None every match is read, as a count or an export of the results must.
    """
    where, params = like_where(q)
    sql = f"""SELECT id, title, body FROM articles WHERE {where}
              ORDER BY first_seen_at DESC LIMIT ?"""
    return [r[0] for r in conn.execute(sql, [*params, -1 if limit is None else limit])]


def pad(text: str, width: int) -> str:
    """Left-align in terminal columns (Hangul takes two)."""
    return text + " " * max(0, width - display_width(text))


def timed(fn: object, runs: int) -> float:
    """Median wall time of `runs` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    """Generate (or reuse) the store, then check and time every query."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "search.db")
    args = ap.parse_args()

    db_path: Path = args.db
    marker = db_path.with_suffix(".count")
    if not (db_path.exists() and marker.exists() and marker.read_text() == str(args.articles)):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        print(f"Generating a store of {args.articles:,} articles in {db_path} ...", file=sys.stderr)
        generate(db_path, args.articles)
        marker.write_text(str(args.articles))

    store = Store(db_path, readonly=True)
    conn = store.db.conn
    chars = conn.execute("SELECT sum(length(title) + length(body)) FROM articles").fetchone()[0]
    size = sum(
        Path(str(db_path) + s).stat().st_size for s in ("",) if Path(str(db_path) + s).exists()
    )
    print(
        f"\n{args.articles:,} articles, {chars / 1e6:.0f}M characters, file {size / 1e6:.0f} MB; "
        f"SQLite {sqlite3.sqlite_version}; median of {args.runs} runs, first page of 20\n"
    )
    header = (
        f"{'query':<18} {'strategy':<12} {'hits':>6} {'exact':>5} {'search ms':>10} "
        f"{'LIKE page ms':>12} {'LIKE all ms':>11} {'vs page':>7}"
    )
    print(header)
    print("-" * len(header))
    all_exact = True
    for text in QUERIES:
        q = search.parse(text)
        got = {r["id"] for r in store.search(q, limit=10**9)}
        expected = truth(conn, q)
        exact = got == expected
        all_exact &= exact
        ours = timed(lambda q=q: store.search(q, limit=20), args.runs)
        like = timed(lambda q=q: like_page(conn, q), max(3, args.runs // 2))
        like_all = timed(lambda q=q: like_page(conn, q, None), 3)
        print(
            f"{pad(text, 18)} {store.search_strategy(q):<12} {len(expected):>6} "
            f"{'yes' if exact else 'NO':>5} {ours:>10.1f} {like:>12.1f} {like_all:>11.1f} "
            f"{like / ours:>6.1f}x"
        )
        if not exact:
            print(f"    missing {sorted(expected - got)[:5]}, extra {sorted(got - expected)[:5]}")

    naive = conn.execute(
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", ["평택 미래차"]
    ).fetchone()[0]
    both = len(truth(conn, search.parse("평택 미래차")))
    only = len(truth(conn, search.parse("미래차")))
    print(
        f"\nNaive MATCH '평택 미래차' returns {naive:,} articles: the {only:,} that hold 미래차, "
        f"though only {both:,} also hold 평택 (FTS5 drops the two-character term)."
    )
    store.close()
    if not all_exact:
        sys.exit("some searches did not return exactly the right articles")


if __name__ == "__main__":
    main()
