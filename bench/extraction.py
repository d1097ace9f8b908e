"""Score article extractors side by side: body F1 on the public benchmark, Korean metadata, speed.

Run from the repository root:

    .venv/bin/python bench/extraction.py [--extractors monitor,trafilatura,naive-p]
                                         [--repeat N] [--worst N] [--skip-speed] [-v]

Data is read in place from ../shared/data (or $MONITOR_SHARED_DATA), never copied:
- article-extraction-benchmark: 4-token shingles of `\\w+` tokens, true/false positives and
  false negatives per page normalised to sum to 1, precision and recall averaged over pages,
  F1 from those two averages (the benchmark's customary score).
- korean-news-pages: title (after NFKC and whitespace collapsing, as the data's README
  advises), publication instant (or an allowed alternative), author (names and role, any
  order), required body paragraphs recalled, and no must_not string in the body.
Speed is pages per second over every page of both sets, already decompressed in memory; the
best of --repeat passes is kept (both extractors warm their caches alike). Timings on a
shared machine are noisy: compare the ratio from one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib
import json
import os
import re
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.errors import ExtractError  # noqa: E402
from monitor.extract import extract_article  # noqa: E402
from monitor.text import decode, normalize  # noqa: E402

SEOUL = ZoneInfo("Asia/Seoul")


def data_dir() -> Path:
    """The shared data directory: $MONITOR_SHARED_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# What an extractor returns, and the extractors we compare
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """The fields we score, as one extractor found them."""

    body: str = ""
    title: str | None = None
    published: datetime | None = None
    author: str | None = None


Extractor = Callable[[bytes, str], Result]


def run_monitor(html: bytes, url: str) -> Result:
    """Our extractor."""
    try:
        a = extract_article(html, url)
    except ExtractError:
        return Result()
    return Result(a.body, a.title, a.published_at, a.author)


def run_trafilatura(html: bytes, url: str) -> Result:
    """trafilatura with default settings (body only: what `trafilatura.extract` returns)."""
    import trafilatura

    return Result(trafilatura.extract(html, url=url) or "")


def run_trafilatura_meta(html: bytes, url: str) -> Result:
    """trafilatura's metadata too, for the Korean table (default extraction settings)."""
    import trafilatura

    out = trafilatura.extract(html, url=url, output_format="json", with_metadata=True)
    if not out:
        return Result()
    doc = json.loads(out)
    published = None
    if doc.get("date"):
        try:
            published = datetime.fromisoformat(doc["date"])
        except ValueError:
            published = None
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=SEOUL)
    return Result(doc.get("text") or "", doc.get("title"), published, doc.get("author"))


def run_naive_p(html: bytes, url: str) -> Result:
    """Baseline: the text of every <p>."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode(html)[0])
    return Result("\n".join(p.text(separator=" ").strip() for p in tree.css("p")))


def load_plugin(spec: str) -> Extractor:
    """Wrap `module:function`, a callable (html bytes, url) -> body text or an Article-like."""
    module_name, _, attr = spec.partition(":")
    func = getattr(importlib.import_module(module_name), attr)

    def run(html: bytes, url: str) -> Result:
        try:
            out = func(html, url)
        except ExtractError:
            return Result()
        if out is None or isinstance(out, str):
            return Result(out or "")
        return Result(
            getattr(out, "body", "") or "",
            getattr(out, "title", None),
            getattr(out, "published_at", None),
            getattr(out, "author", None),
        )

    return run


EXTRACTORS: dict[str, Extractor] = {
    "monitor": run_monitor,
    "trafilatura": run_trafilatura,
    "naive-p": run_naive_p,
}
# For the Korean table, where metadata matters, trafilatura is asked for it.
KOREAN_EXTRACTORS: dict[str, Extractor] = {"trafilatura": run_trafilatura_meta}


# ---------------------------------------------------------------------------------------------
# (a) The public benchmark: shingle precision/recall/F1
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Counts of every run of n consecutive `\\w+` tokens (one short run for short texts)."""
    tokens = _TOKEN.findall(text or "")
    runs = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(run for run in runs if run)


def page_score(truth: str, predicted: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over shingle counts, normalised to sum to 1 for the page."""
    want, got = shingles(truth), shingles(predicted)
    tp = fp = fn = 0
    for key in want.keys() | got.keys():
        w, g = want.get(key, 0), got.get(key, 0)
        tp += min(w, g)
        fp += max(0, g - w)
        fn += max(0, w - g)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    """Per-page precision; a perfect page (no fp, no fn) scores 1."""
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    """Per-page recall; a perfect page (no fp, no fn) scores 1."""
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def summarize(scores: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(precision, recall, F1): P and R averaged over pages, F1 from the two averages."""
    ps = [_precision(*s) for s in scores if s[0] + s[1] > 0]
    rs = [_recall(*s) for s in scores if s[0] + s[2] > 0]
    p = statistics.mean(ps) if ps else 0.0
    r = statistics.mean(rs) if rs else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(frozen=True, slots=True)
class BenchPage:
    """One benchmark page, decompressed."""

    key: str
    url: str
    html: bytes
    truth: str


def load_benchmark(root: Path) -> list[BenchPage]:
    """Every page of the public benchmark with its ground truth, decompressed into memory."""
    base = root / "article-extraction-benchmark"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key, item in sorted(truth.items()):
        html = gzip.decompress((base / "html" / f"{key}.html.gz").read_bytes())
        pages.append(BenchPage(key, item["url"], html, item["articleBody"]))
    return pages


# ---------------------------------------------------------------------------------------------
# (b) Korean pages: title, instant, author, paragraphs, furniture
# ---------------------------------------------------------------------------------------------

# Authors the truth file's notes accept besides its `author` field.
ALLOWED_AUTHORS: dict[str, set[str | None]] = {
    "chosun-2.html": {None, "조선일보"},
    "hani-2.html": {None, "연합뉴스"},
    "yonhaptv-1.html": {None, "연합뉴스TV"},
    "daum-1.html": {"김이영"},
}


def author_key(author: str | None) -> frozenset[str] | None:
    """Compare bylines by their set of names plus role, ignoring order and spacing."""
    if not author or not author.strip():
        return None
    text = normalize(author)
    role = ""
    m = re.search(r"\s*((?:선임|수석|전문|객원|인턴|수습)?기자|특파원|논설위원)$", text)
    if m:
        role = m.group(1)
        text = text[: m.start()]
    names = {n.strip().removesuffix("기자").strip() for n in re.split(r"[,·/]", text)}
    return frozenset({f"{n} {role}".strip() for n in names if n})


def author_ok(name: str, found: str | None, item: dict[str, Any]) -> bool:
    """Whether an extracted byline matches the truth or an allowed alternative."""
    allowed = {item.get("author")} | ALLOWED_AUTHORS.get(name, set())
    return author_key(found) in {author_key(a) for a in allowed}


def required_paragraphs(item: dict[str, Any]) -> list[str]:
    """Body paragraphs minus optional lines, normalised (NFKC, whitespace collapsed)."""
    optional = {normalize(x) for xs in item.get("optional_lines", {}).values() for x in xs}
    paras = (normalize(p) for p in item["body_paragraphs"])
    return [p for p in paras if p not in optional]


def published_ok(found: datetime | None, item: dict[str, Any]) -> bool:
    """Whether the publication instant equals the truth or an allowed alternative."""
    if found is None or found.tzinfo is None:
        return False
    options = [item["published"], *item.get("published_alternatives", [])]
    return any(found == datetime.fromisoformat(o) for o in options)


@dataclass(frozen=True, slots=True)
class KoreanPage:
    """One Korean article page with its truth entry."""

    name: str
    html: bytes
    item: dict[str, Any]


def load_korean(root: Path) -> list[KoreanPage]:
    """Every article page (not feeds) of the Korean set, into memory."""
    base = root / "korean-news-pages"
    truth = json.loads((base / "truth.json").read_text(encoding="utf-8"))
    pages = []
    for name, item in truth.items():
        if name.startswith("_") or item.get("page_type") != "article":
            continue
        pages.append(KoreanPage(name, (base / name).read_bytes(), item))
    return pages


@dataclass(slots=True)
class KoreanScore:
    """Counts of pages right on each Korean check."""

    pages: int = 0
    title: int = 0
    published: int = 0
    author: int = 0
    paragraphs: int = 0
    paragraphs_found: int = 0
    clean: int = 0


def score_korean(extractor: Extractor, pages: list[KoreanPage], verbose: bool) -> KoreanScore:
    """Run one extractor over the Korean pages and count what it got right."""
    score = KoreanScore()
    for page in pages:
        item = page.item
        got = extractor(page.html, item["url"])
        body = normalize(got.body)
        required = required_paragraphs(item)
        found = sum(p in body for p in required)
        leaked = [m for m in item["must_not"] if normalize(m) in body]
        checks = {
            "title": got.title is not None and normalize(got.title) == normalize(item["title"]),
            "published": published_ok(got.published, item),
            "author": author_ok(page.name, got.author, item),
        }
        score.pages += 1
        score.title += checks["title"]
        score.published += checks["published"]
        score.author += checks["author"]
        score.paragraphs += len(required)
        score.paragraphs_found += found
        score.clean += not leaked
        if verbose and (not all(checks.values()) or found < len(required) or leaked):
            wrong = [k for k, ok in checks.items() if not ok]
            print(
                f"    {page.name}: wrong={wrong} paragraphs={found}/{len(required)} "
                f"leaked={leaked[:3]} title={got.title!r} published={got.published} "
                f"author={got.author!r}"
            )
    return score


# ---------------------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------------------


def pages_per_second(extractor: Extractor, pages: list[tuple[bytes, str]], repeat: int) -> float:
    """Best-of-`repeat` throughput over pages held in memory."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for html, url in pages:
            extractor(html, url)
        best = min(best, time.perf_counter() - start)
    return len(pages) / best


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run every requested extractor on both data sets and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--extractors",
        default="monitor,trafilatura,naive-p",
        help=f"comma-separated: {', '.join(EXTRACTORS)}, or module:function for any other",
    )
    parser.add_argument("--repeat", type=int, default=2, help="timing passes (best is kept)")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages by F1")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Korean misses")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    for name in names:
        if name not in EXTRACTORS and ":" in name:
            EXTRACTORS[name] = load_plugin(name)
    unknown = [n for n in names if n not in EXTRACTORS]
    if unknown:
        parser.error(f"unknown extractor(s) {unknown}; known: {sorted(EXTRACTORS)}")
    root = data_dir()
    if not root.is_dir():
        print(f"data directory not found: {root} (set MONITOR_SHARED_DATA)", file=sys.stderr)
        return 2
    # A third-party extractor's warnings would bury the report; the scores are the point.
    warnings.simplefilter("ignore")

    bench = load_benchmark(root)
    korean = load_korean(root)
    print(f"data: {root}  ({len(bench)} benchmark pages, {len(korean)} Korean article pages)")
    print("timings share a busy 2-core machine: noisy; compare ratios within one run\n")

    f1s: dict[str, tuple[float, float, float]] = {}
    speeds: dict[str, float] = {}
    for name in names:
        extractor = EXTRACTORS[name]
        per_page = [(page_score(p.truth, extractor(p.html, p.url).body), p) for p in bench]
        f1s[name] = summarize([s for s, _p in per_page])
        p, r, f = f1s[name]
        print(f"[benchmark] {name:<12} F1={f:.3f}  precision={p:.3f}  recall={r:.3f}")
        if args.worst:
            ranked = sorted(per_page, key=lambda sp: summarize([sp[0]])[2])
            for s, page in ranked[: args.worst]:
                pp, rr, ff = summarize([s])
                print(f"    {ff:.2f} P={pp:.2f} R={rr:.2f} {page.key[:12]} {page.url[:90]}")

    print()
    for name in names:
        extractor = KOREAN_EXTRACTORS.get(name, EXTRACTORS[name])
        k = score_korean(extractor, korean, args.verbose)
        print(
            f"[korean]    {name:<12} title {k.title}/{k.pages}  published {k.published}/{k.pages}"
            f"  author {k.author}/{k.pages}  paragraphs {k.paragraphs_found}/{k.paragraphs}"
            f"  no-furniture {k.clean}/{k.pages}"
        )

    if not args.skip_speed:
        print()
        corpus = [(p.html, p.url) for p in bench] + [(p.html, p.item["url"]) for p in korean]
        for name in names:
            speeds[name] = pages_per_second(EXTRACTORS[name], corpus, args.repeat)
            mean_ms = 1000 / speeds[name]
            print(f"[speed]     {name:<12} {speeds[name]:7.1f} pages/s  ({mean_ms:.1f} ms/page)")

    if "monitor" in names and "trafilatura" in names:
        print()
        ours, theirs = f1s["monitor"], f1s["trafilatura"]
        print(
            f"[ratio]     monitor/trafilatura  F1 {ours[2] / theirs[2]:.3f}"
            f"  (F1 {ours[2]:.3f} vs {theirs[2]:.3f})"
        )
        if speeds:
            ratio = speeds["monitor"] / speeds["trafilatura"]
            print(f"[ratio]     monitor/trafilatura  speed {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
