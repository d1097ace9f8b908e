"""Rule-matching throughput for 10, 1,000 and 10,000 rules against a naive per-rule loop.

Run: .venv/bin/python bench/match.py [--seconds 1.0] [--dense] [--false-positives]

Articles are the Korean pages' ground-truth bodies in ../shared/data (override the folder
with MONITOR_SHARED_DATA), or the fixture articles when that data is absent. Rules are
generated: real words from the articles (so rules do fire) mixed with random syllables.
`--false-positives` instead counts what short forms and spacing add, for docs/rules.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.match import PARTICLES, compile_rules, fold, is_short_form_candidate  # noqa: E402
from monitor.models import Article, Rule  # noqa: E402
from monitor.text import normalize  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "match" / "articles.json"
LEXICON = Path("/usr/share/hunspell/ko.dic")  # Debian package hunspell-ko, optional


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words of a data block."""
    return tuple(text.split())


NEWS_TERMS = _words(
    "미래차 전기차 자율차 수소차 친환경차 중고차 화물차 경찰차 소방차 구급차 승용차 지자체 "
    "공기업 대기업 이차전지 반도체 국토부 산업부 과기부 교육청 전기료 택배차 무인차 생산량 "
    "수출액 관광객 연구소 발전소 정유사 제약사 보험사 건설사 증권사 카드사 항공사 통신사 "
    "조선소 공무원 의료진"
)


def shared_data() -> Path:
    """The shared reference data folder: $MONITOR_SHARED_DATA or ../shared/data."""
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def korean_articles() -> list[Article]:
    """Ground-truth articles of the Korean pages, or [] when the data is not there."""
    truth = shared_data() / "korean-news-pages" / "truth.json"
    if not truth.exists():
        return []
    data = json.loads(truth.read_text(encoding="utf-8"))
    return [
        Article(url=v.get("url") or k, title=v["title"], body="\n".join(v["body_paragraphs"]))
        for k, v in data.items()
        if isinstance(v, dict) and v.get("body_paragraphs")
    ]


def fixture_articles() -> list[Article]:
    """The hand-written fixture articles."""
    items = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return [Article(url=a["url"], title=a["title"], body="\n".join(a["body"])) for a in items]


def generate_rules(n: int, text: str, dense: bool = False, seed: int = 1) -> list[Rule]:
    """n rules: 10 about real topics in the articles, the rest of look-alike words.

    Look-alike terms are two to four syllables drawn by how often each syllable occurs in
    the articles, so the automaton meets the near misses it meets in real text. With
    `dense`, a third of all terms are real words from the articles instead, so the number
    of matching rules grows with the rule count (the cost of building Matches dominates).
    """
    rng = random.Random(seed)
    words = sorted(set(re.findall(r"[가-힣]{2,}", text)))
    syllables = re.findall(r"[가-힣]", text)
    topics = [w for w in words if len(w) >= 3]
    rules = []
    for i in range(n):
        real_share = 0.33 if dense else (1.0 if i < 10 else 0.0)
        terms = []
        for _ in range(rng.choice((1, 2, 2, 3))):
            if rng.random() < real_share:
                terms.append(rng.choice(topics))
            else:
                terms.append("".join(rng.choice(syllables) for _ in range(rng.choice((2, 3, 4)))))
        query = " ".join(terms)
        if rng.random() < 0.1:
            query += " -" + rng.choice(words)
        rules.append(Rule(f"r{i}", query))
    return rules


def naive_matcher(rules: Sequence[Rule]) -> Callable[[Article], int]:
    """A per-rule loop: one word-start regex per term, every rule tried on every article."""
    compiled = []
    for rule in rules:
        pos: list[re.Pattern[str]] = []
        neg: list[re.Pattern[str]] = []
        for word in rule.query.split():
            target = neg if word.startswith("-") else pos
            target.append(re.compile(r"(?<![가-힣A-Za-z0-9])" + re.escape(fold(word.lstrip("-")))))
        compiled.append((pos, neg))

    def run(article: Article) -> int:
        text = fold(normalize(article.title + "\n" + article.body))
        hits = 0
        for pos, neg in compiled:
            if all(p.search(text) for p in pos) and not any(p.search(text) for p in neg):
                hits += 1
        return hits

    return run


def throughput(
    run: Callable[[Article], object], articles: Sequence[Article], budget: float
) -> float:
    """MB/s of article text (UTF-8) processed within about `budget` seconds."""
    done = 0
    start = time.perf_counter()
    while True:
        for article in articles:
            run(article)
            done += len(article.title.encode()) + len(article.body.encode())
            if time.perf_counter() - start > budget:
                return done / (time.perf_counter() - start) / 1e6


def bench(budget: float, dense: bool) -> None:
    """Print the throughput table and whether 10,000 rules keep a third of 10-rule speed."""
    articles = korean_articles() or fixture_articles()
    text = " ".join(a.title + " " + a.body for a in articles)
    size = sum(len(a.title.encode()) + len(a.body.encode()) for a in articles)
    mode = "dense rules" if dense else "10 topic rules + look-alikes"
    print(f"{len(articles)} articles, {size / 1e3:.0f} kB; {mode}; {budget:.1f} s per measurement")
    print(
        f"{'rules':>6} {'compile s':>9} {'matches/article':>15} {'matcher MB/s':>13}"
        f" {'naive MB/s':>11} {'speed-up':>9}"
    )
    speeds = {}
    for n in (10, 1000, 10000):
        rules = generate_rules(n, text, dense)
        t0 = time.perf_counter()
        matcher = compile_rules(rules)
        built = time.perf_counter() - t0
        per_article = sum(len(matcher.match(a)) for a in articles) / len(articles)
        fast = throughput(matcher.match, articles, budget)
        slow = throughput(naive_matcher(rules), articles, budget)
        speeds[n] = fast
        print(
            f"{n:>6} {built:>9.2f} {per_article:>15.1f} {fast:>13.2f} {slow:>11.3f}"
            f" {fast / slow:>8.1f}x"
        )
    kept = speeds[10000] / speeds[10]
    verdict = "meets" if kept >= 1 / 3 else "MISSES"
    print(f"10,000 rules run at {kept:.2f} of the 10-rule throughput ({verdict} the 1/3 target)")


# ---------------------------------------------------------------------------
# False positives of the Korean-aware rules
# ---------------------------------------------------------------------------


def extra_hits(terms: Sequence[str], articles: Sequence[Article]) -> list[tuple[str, str, str]]:
    """(term, text found, article) hits that exist only because of short forms."""
    rules_on = [Rule(t, t) for t in terms]
    rules_off = [Rule(t, t, short_forms=False) for t in terms]
    on = compile_rules(rules_on, default_synonyms=False)
    off_matcher = compile_rules(rules_off, default_synonyms=False)
    out = []
    for article in articles:
        with_on = {(m.rule, h.field, h.start, h.text) for m in on.match(article) for h in m.hits}
        with_off = {
            (m.rule, h.field, h.start, h.text) for m in off_matcher.match(article) for h in m.hits
        }
        out += [(r[0], r[3], article.url) for r in sorted(with_on - with_off)]
    return out


def lexicon() -> tuple[list[str], list[str]]:
    """(3-syllable nouns, nouns of 4+ syllables) from hunspell-ko, or empty lists."""
    if not LEXICON.exists():
        return [], []
    nouns = [
        unicodedata.normalize("NFC", line.split("/")[0])
        for line in LEXICON.read_text(encoding="utf-8").splitlines()[1:]
        if line.endswith("/25")  # the dictionary's flag for plain nouns
    ]
    terms = sorted({w for w in nouns if re.fullmatch(r"[가-힣]{3}", w)})
    long_words = sorted({w for w in nouns if re.fullmatch(r"[가-힣]{4,}", w)})
    return [t for t in terms if is_short_form_candidate(t)], long_words


def false_positives() -> None:
    """Print what short forms add on the Korean pages, the fixtures and a noun lexicon."""
    corpora = {"korean-news-pages": korean_articles(), "fixtures": fixture_articles()}
    for name, articles in corpora.items():
        if not articles:
            print(f"{name}: not found")
            continue
        text = " ".join(a.title + " " + a.body for a in articles)
        words = re.findall(r"[가-힣]+", text)
        stems = sorted({_stem(w) for w in words if len(_stem(w)) >= 3})
        print(f"\n== {name}: {len(articles)} articles, {len(words)} Hangul words")
        for label, terms in (("news terms", NEWS_TERMS), ("every word stem", stems)):
            extra = extra_hits(terms, articles)
            print(f"short forms, {label} ({len(terms)} terms): {len(extra)} extra hits")
            for term, found, url in extra:
                print(f"    {term} -> {found}  ({url})")
    terms, long_words = lexicon()
    if not terms:
        print("\nlexicon: install the Debian package hunspell-ko to run this part")
        return
    lex = [
        Article("lexicon", "", " ".join(long_words[i : i + 2000])) for i in range(0, 99999, 2000)
    ]
    lex = [a for a in lex if a.body]
    for label, pool in (("news terms", NEWS_TERMS), ("every 3-syllable noun", terms)):
        pairs = sorted({(t, f) for t, f, _ in extra_hits(pool, lex)})
        print(f"\n== lexicon, {label} ({len(pool)} terms x {len(long_words)} long nouns):")
        print(f"{len(pairs)} short-form pairs from {len({t for t, _ in pairs})} terms")
        for term, found in pairs:
            print(f"    {term} -> {found}")


def _stem(word: str) -> str:
    """A word without a trailing particle (roughly: the longest listed particle that fits)."""
    for n in (3, 2, 1):
        if len(word) - n >= 2 and word[-n:] in PARTICLES:
            return word[:-n]
    return word


def main() -> None:
    """Parse the command line and run the benchmark or the false-positive count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--dense", action="store_true", help="a third of terms are real words")
    parser.add_argument("--false-positives", action="store_true", help="count extra hits")
    args = parser.parse_args()
    if args.false_positives:
        false_positives()
    else:
        bench(args.seconds, args.dense)


if __name__ == "__main__":
    main()
