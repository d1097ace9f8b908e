"""Cost per new article of story grouping against stores of 10k and 1M stories.

Run: .venv/bin/python bench/dedupe.py [--sizes 10000 1000000] [--articles 400]

Each store is a real SQLite file holding the table and index monitor/dedupe.py documents.
2,000 stories carry real keys and bodies (synthetic Korean text); the rest are filler stories
with 12 random keys each (as many as a real article gets): the lookup's cost depends on index
depth and rows per probe, not on what the filler says. Then new articles arrive, half of them
copies of stored stories (they must join), half fresh (they must start a story), and each is
timed through features, candidate lookup and verification, as the store runs them.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.dedupe import KEYS, features, similar

SCHEMA = """\
CREATE TABLE IF NOT EXISTS story_keys (
    key INTEGER NOT NULL,
    story_id TEXT NOT NULL,
    PRIMARY KEY (key, story_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, title TEXT, body TEXT);"""
CANDIDATES = """\
SELECT story_id, COUNT(*) AS shared
FROM story_keys
WHERE key IN ({marks})
GROUP BY story_id
ORDER BY shared DESC, story_id
LIMIT 5;"""
ADD_KEYS = "INSERT OR IGNORE INTO story_keys (key, story_id) VALUES (?, ?);"
REAL_STORIES = 2_000
KEYS_PER_FILLER = KEYS  # as many as a real article of ordinary length gets


class Corpus:
    """Synthetic Korean-looking articles: Zipf-distributed words of random Hangul syllables."""

    def __init__(self, seed: int = 7, vocabulary: int = 30_000) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = self.rng.integers(0xAC00, 0xD7A4, size=(vocabulary, 4))
        lengths = self.rng.integers(2, 5, size=vocabulary)
        self.words = ["".join(map(chr, row[:n])) for row, n in zip(syllables, lengths, strict=True)]
        weights = 1.0 / np.arange(1, vocabulary + 1)
        self.p = weights / weights.sum()
        self.endings = ["밝혔다.", "말했다.", "예정이다.", "계획이다.", "전망이다.", "했다."]

    def sentence(self) -> str:
        """One sentence of 8-15 words, sometimes with a figure."""
        n = int(self.rng.integers(8, 16))
        words = [self.words[i] for i in self.rng.choice(len(self.words), size=n, p=self.p)]
        if self.rng.random() < 0.4:
            words.insert(int(self.rng.integers(0, n)), f"{int(self.rng.integers(1, 2000))}억 원")
        return " ".join(words) + " " + self.endings[int(self.rng.integers(0, len(self.endings)))]

    def article(self) -> tuple[str, str]:
        """A (title, body) pair of about 1,000 characters in 5 paragraphs."""
        paragraphs = [" ".join(self.sentence() for _ in range(3)) for _ in range(5)]
        return self.sentence(), "\n".join(paragraphs)

    def copy(self, title: str, body: str) -> tuple[str, str]:
        """A portal copy: new headline, wire dateline, opening paragraphs swapped, tail cut."""
        paragraphs = body.split("\n")
        paragraphs[0], paragraphs[1] = paragraphs[1], paragraphs[0]
        kept = paragraphs[: max(2, len(paragraphs) * 2 // 3)]
        kept[0] = "(서울=연합뉴스) 홍길동 기자 = " + kept[0]
        kept.append("<저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지>")
        return "[종합] " + title[:30], "\n".join(kept)


def story_id(seed: str) -> str:
    """An id shaped like monitor.dedupe.article_id's."""
    return hashlib.sha1(seed.encode()).hexdigest()[:20]


def build_store(path: Path, size: int, corpus: Corpus) -> list[tuple[str, str, str]]:
    """Create the store file; return the (story id, title, body) of its real stories."""
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
    real = []
    rows: list[tuple[int, str]] = []
    for i in range(min(REAL_STORIES, size)):
        title, body = corpus.article()
        sid = story_id(f"real-{i}")
        real.append((sid, title, body))
        rows.extend((k, sid) for k in features(body, title).keys)
    fillers = max(0, size - len(real))
    keys = corpus.rng.integers(-(2**63), 2**63 - 1, size=fillers * KEYS_PER_FILLER, dtype=np.int64)
    order = np.argsort(keys, kind="stable")  # insert in primary-key order: appends, no splits
    with db:
        db.executemany("INSERT INTO articles (id, title, body) VALUES (?, ?, ?)", real)
        db.executemany(ADD_KEYS, rows)
        db.executemany(ADD_KEYS, _filler_rows(keys, order))
    db.close()
    return real


def _filler_rows(keys: np.ndarray, order: np.ndarray) -> Iterator[tuple[int, str]]:
    """(key, story id) rows of the filler stories, in key order, without building a list."""
    for start in range(0, len(order), 1_000_000):
        chunk = order[start : start + 1_000_000]
        for key, index in zip(
            keys[chunk].tolist(), (chunk // KEYS_PER_FILLER).tolist(), strict=True
        ):
            yield key, f"filler{index:014d}"


def group(db: sqlite3.Connection, body: str, title: str) -> tuple[str | None, list[float]]:
    """Run one new article through the store's path; return (story joined, stage seconds)."""
    t0 = time.perf_counter()
    f = features(body, title)
    t1 = time.perf_counter()
    sql = CANDIDATES.format(marks=", ".join("?" * len(f.keys)))
    candidates = [row[0] for row in db.execute(sql, f.keys)]
    t2 = time.perf_counter()
    joined = None
    for candidate in candidates:
        row = db.execute("SELECT title, body FROM articles WHERE id = ?", (candidate,)).fetchone()
        if row and similar(f, features(row[1], row[0])):
            joined = candidate
            break
    t3 = time.perf_counter()
    return joined, [t1 - t0, t2 - t1, t3 - t2, t3 - t0]


def measure(
    path: Path, real: list[tuple[str, str, str]], corpus: Corpus, n: int
) -> dict[str, float]:
    """Time n new articles (half copies, half fresh) against the store at path, in ms."""
    db = sqlite3.connect(path)
    picks = corpus.rng.choice(len(real), size=n // 2, replace=False)
    copies = [(real[int(i)][0], *corpus.copy(real[int(i)][1], real[int(i)][2])) for i in picks]
    fresh = [corpus.article() for _ in range(n - n // 2)]
    all_stages: list[list[float]] = []
    joined_right = 0
    for expected, title, body in copies:
        joined, stages = group(db, body, title)
        joined_right += joined == expected
        all_stages.append(stages)
    apart = 0
    for title, body in fresh:
        joined, stages = group(db, body, title)
        apart += joined is None
        all_stages.append(stages)
    db.close()
    features_s, lookup_s, verify_s, total_s = zip(*all_stages, strict=True)
    half = len(copies)
    ms = 1e3
    return {
        "features": statistics.median(features_s) * ms,
        "lookup": statistics.median(lookup_s) * ms,
        "verify copy": statistics.median(verify_s[:half]) * ms,
        "total copy": statistics.median(total_s[:half]) * ms,
        "total fresh": statistics.median(total_s[half:]) * ms,
        "p95": statistics.quantiles(total_s, n=20)[-1] * ms,
        "joined": joined_right / len(copies),
        "apart": apart / len(fresh),
    }


def main() -> None:
    """Build each store, time new articles against it, print one line per size."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--articles", type=int, default=400)
    args = parser.parse_args()
    print("ms per new article, median (copies of stored stories / fresh stories):")
    header = ["stories", "key rows", "file MB", "build s", "features", "lookup", "verify"]
    header += ["total copy", "total fresh", "p95 all", "copies joined", "fresh apart"]
    print("  ".join(f"{h:>11}" for h in header))
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            corpus = Corpus()
            path = Path(tmp) / f"store-{size}.db"
            t0 = time.perf_counter()
            real = build_store(path, size, corpus)
            build = time.perf_counter() - t0
            with sqlite3.connect(path) as db:
                (rows,) = db.execute("SELECT COUNT(*) FROM story_keys").fetchone()
            r = measure(path, real, corpus, args.articles)
            totals.append(r["total copy"])
            cells = [f"{size:,}", f"{rows:,}", f"{path.stat().st_size / 1e6:.0f}", f"{build:.1f}"]
            cells += [f"{r[k]:.3f}" for k in ("features", "lookup", "verify copy")]
            cells += [f"{r[k]:.3f}" for k in ("total copy", "total fresh", "p95")]
            cells += [f"{r['joined']:.1%}", f"{r['apart']:.1%}"]
            print("  ".join(f"{c:>11}" for c in cells))
            path.unlink()
    if len(totals) > 1:
        ratio = totals[-1] / totals[0]
        print(f"median total per copy, largest store / smallest: {ratio:.2f}x")


if __name__ == "__main__":
    main()
