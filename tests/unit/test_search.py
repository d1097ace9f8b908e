"""Search: the query language, exact answers over a real SQLite store, snippets, the command."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import search
from monitor.cli import main
from monitor.errors import SearchError
from monitor.models import Match, StoredArticle
from monitor.store import Store
from tests.conftest import write_config

SEOUL = ZoneInfo("Asia/Seoul")

# (id, title, body): the cases that break a naive trigram search, each on purpose.
ARTICLES = [
    ("a1", "평택 미래차 협약", "평택시는 미래자동차 산업을 육성한다."),
    ("a2", "수원 미래차 소식", "미래차 클러스터가 수원에 들어선다."),
    ("a3", "전기차 수출 늘어", "항만 물동량 통계는 평택"),  # 평택 ends the body: no trigram
    ("a4", "평택", "짧은 제목"),  # a title of two characters has no trigram at all
    ("a5", "AI 산업 동향", "미래차와 ai. 평택항에서 수출"),
    ("a6", "평택시 예산 편성", "미래차 관련 예산은 없다"),
    ("a7", "수소차 충전소", "평 택 이라고 띄어 쓴 글"),  # 평 택: not 평택
    ("a8", 'FTS "문법" AND NEAR*', "따옴표와 100% 할인_행사"),
]


def add(store: Store, aid: str, title: str, body: str, source: str = "s1", rules=()) -> None:
    """Store one article (and matches for `rules`) as the pipeline does."""
    art = StoredArticle(
        id=aid,
        url=f"https://news.example.kr/{aid}",
        canonical_url=f"https://news.example.kr/{aid}",
        source=source,
        title=title,
        body=body,
        content_hash="h-" + aid,
        published_at=datetime(2024, 9, 6, 6, 0, tzinfo=UTC),
        author=None,
    )
    matches = [Match(rule=r, terms=("t",), hits=(), snippet=body[:40]) for r in rules]
    assert store.save_new(art, [art.url], matches)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "m.db")
    for i, (aid, title, body) in enumerate(ARTICLES):
        add(s, aid, title, body, source="s1" if i % 2 else "s2", rules=("pt",) if i < 3 else ())
    s.index_pending()  # as the pipeline does at the end of a poll
    try:
        yield s
    finally:
        s.close()


def ids(store: Store, text: str, **kw: object) -> set[str]:
    return {h["id"] for h in store.search(search.parse(text), limit=1000, **kw)}  # type: ignore[arg-type]


# -- the query language -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, groups, excluded",
    [
        ("평택 미래차", [["평택"], ["미래차"]], []),
        ("  평택   미래차 ", [["평택"], ["미래차"]], []),
        ('"미래 자동차" 평택', [["미래 자동차"], ["평택"]], []),
        ("전기차 OR 수소차 평택", [["전기차", "수소차"], ["평택"]], []),
        ("미래차 -평택 -중고", [["미래차"]], ["평택", "중고"]),
        ('미래차 -"평택 항"', [["미래차"]], ["평택 항"]),
        ("미래차 or 평택", [["미래차"], ["or"], ["평택"]], []),  # OR only in capitals
        ('"미래 자동차', [["미래 자동차"]], []),  # an unclosed phrase runs to the end
        ("ＡＩ 평택", [["AI"], ["평택"]], []),  # full-width letters are NFKC-folded
        ("평택 - 미래차", [["평택"], ["미래차"]], []),  # a lone minus is no exclusion
    ],
)
def test_parse(text: str, groups: list[list[str]], excluded: list[str]) -> None:
    q = search.parse(text)
    assert [list(g) for g in q.groups] == groups
    assert list(q.excluded) == excluded


@pytest.mark.parametrize("text", ["", "   ", "-평택", '""', "OR"])
def test_parse_rejects_a_search_with_nothing_to_find(text: str) -> None:
    with pytest.raises(SearchError):
        search.parse(text)


def test_query_split_between_index_and_checks() -> None:
    q = search.parse("평택 미래차 전기차 OR 수원")
    assert search.fts_expression(q) == '"미래차"'
    assert search.checked_groups(q) == (("평택",), ("전기차", "수원"))
    assert search.fts_expression(search.parse('a"b 미래차')) == '"a""b" AND "미래차"'


# -- exact answers over a real store -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected, strategy",
    [
        ("평택", {"a1", "a3", "a4", "a5", "a6"}, "expanded"),  # a3, a4: no trigram holds them
        ("평택 미래차", {"a1", "a5", "a6"}, "index+check"),
        ("미래차", {"a1", "a2", "a5", "a6"}, "index"),
        ("미래차 -평택", {"a2"}, "index"),
        ("평택 OR 수원", {"a1", "a2", "a3", "a4", "a5", "a6"}, "expanded"),
        ("ai", {"a5"}, "expanded"),  # case-insensitive, in the title and the body
        ("평", {"a1", "a3", "a4", "a5", "a6", "a7"}, "scan"),
        ('"평 택"', {"a7"}, "index"),
        ('"문법" AND', {"a8"}, "index+check"),  # FTS5 syntax in a query is just text
        ("NEAR*", {"a8"}, "index"),
        ("100%", {"a8"}, "index"),
        ("0%", {"a8"}, "expanded"),  # LIKE wildcards are escaped, not wild
        ("_행", {"a8"}, "expanded"),
    ],
)
def test_search_returns_exactly_the_articles_holding_the_terms(
    store: Store, text: str, expected: set[str], strategy: str
) -> None:
    assert ids(store, text) == expected
    assert store.search_strategy(search.parse(text)) == strategy


def test_a_naive_fts_query_would_drop_the_short_term(store: Store) -> None:
    # Why search.py exists: FTS5 ignores 평택 and answers as if the query were 미래차 alone.
    naive = store.db.execute(
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '평택 미래차'"
    ).fetchone()[0]
    assert naive == len(ids(store, "미래차")) > len(ids(store, "평택 미래차"))


def test_filters_source_rule_story_since(store: Store) -> None:
    assert ids(store, "평택", sources=["s1"]) == {"a4", "a6"}
    assert ids(store, "평택", rule="pt") == {"a1", "a3"}
    assert ids(store, "평택", story="a5") == {"a5"}
    assert ids(store, "평택", since=datetime.now(UTC) + timedelta(hours=1)) == set()
    assert ids(store, "평택", since=datetime.now(UTC) - timedelta(hours=1)) == {
        "a1",
        "a3",
        "a4",
        "a5",
        "a6",
    }


def test_results_page_and_order(store: Store) -> None:
    q = search.parse("평택")
    every = [h["id"] for h in store.search(q, limit=100)]
    paged = [h["id"] for off in range(0, 6, 2) for h in store.search(q, limit=2, offset=off)]
    assert paged == every
    newest = [h["id"] for h in store.search(q, order="new", limit=100)]
    assert newest == ["a6", "a5", "a4", "a3", "a1"]  # stored in that order, newest first
    # The title counts more: an article with the term in its title ranks above one without.
    ranked = [h["id"] for h in store.search(search.parse("미래차"), limit=100)]
    assert set(ranked[:2]) == {"a1", "a2"}


def test_hits_carry_snippet_highlights_and_rules(store: Store) -> None:
    [hit] = store.search(search.parse("평택항에서"))
    assert hit["id"] == "a5" and hit["rules"] == []
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == "평택항에서"
    [hit] = store.search(search.parse("수원 미래차"))
    assert hit["rules"] == ["pt"]
    assert [hit["title"][s:e] for s, e in hit["title_highlights"]] == ["수원", "미래차"]


def test_search_works_on_a_read_only_connection(store: Store, tmp_path: Path) -> None:
    ro = Store(tmp_path / "m.db", readonly=True)
    try:
        assert {h["id"] for h in ro.search(search.parse("평택"), limit=50)} == ids(store, "평택")
    finally:
        ro.close()


# Random texts over a tiny alphabet, so terms meet each other, field ends and spaces often.
_ALPHABET = "평택미래차 Aa"
_TEXT = st.text(alphabet=_ALPHABET, min_size=0, max_size=12)
_TERM = st.text(alphabet="평택미래차Aa", min_size=1, max_size=4)


@pytest.fixture(scope="module")
def random_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list]]:
    rng = random.Random(5)
    s = Store(tmp_path_factory.mktemp("rand") / "r.db")
    docs = []
    for i in range(400):
        title = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 8))).strip() or "x"
        body = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 30)))
        add(s, f"r{i}", title, body)
        docs.append((f"r{i}", title, body))
    try:
        yield s, docs
    finally:
        s.close()


@settings(max_examples=150, deadline=None)
@given(
    groups=st.lists(st.lists(_TERM, min_size=1, max_size=2), min_size=1, max_size=3),
    excluded=st.lists(_TERM, max_size=1),
)
def test_search_agrees_with_substring_truth(
    random_store: tuple[Store, list], groups: list[list[str]], excluded: list[str]
) -> None:
    store, docs = random_store
    text = " ".join(" OR ".join(f'"{t}"' for t in g) for g in groups) + "".join(
        f' -"{t}"' for t in excluded
    )
    q = search.parse(text)

    def holds(title: str, body: str, term: str) -> bool:
        return term.lower() in title.lower() or term.lower() in body.lower()

    expected = {
        aid
        for aid, title, body in docs
        if all(any(holds(title, body, t) for t in g) for g in q.groups)
        and not any(holds(title, body, t) for t in q.excluded)
    }
    assert {h["id"] for h in store.search(q, limit=10_000)} == expected


# -- snippets and spans -------------------------------------------------------------------------


def test_snippet_centres_on_the_terms_and_marks_the_cut() -> None:
    body = "앞 문장입니다. " * 40 + "평택시는 미래차 산업을 키운다. " + "뒷 문장입니다. " * 40
    text, spans = search.snippet(body, ["평택", "미래차"], width=80)
    assert text.startswith("…") and text.endswith("…")
    assert len(text) <= 82
    assert [text[s:e] for s, e in spans] == ["평택", "미래차"]


def test_snippet_without_a_hit_is_the_start() -> None:
    assert search.snippet("첫 줄\n둘째 줄", ["없는말"]) == ("첫 줄 둘째 줄", [])


def test_spans_ignore_case_and_merge_overlaps() -> None:
    assert search.spans("AI와 ai, 미래차", ["ai"]) == [(0, 2), (4, 6)]
    assert search.spans("미래자동차", ["미래", "래자동"]) == [(0, 4)]
    assert search.mark("평택 미래차", [(0, 2)], "[", "]") == "[평택] 미래차"


def test_parse_since() -> None:
    now = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)
    assert search.parse_since("2d", now, SEOUL) == now - timedelta(days=2)
    assert search.parse_since("2024-09-01", now, SEOUL) == datetime(2024, 9, 1, tzinfo=SEOUL)
    with pytest.raises(SearchError, match="--since"):
        search.parse_since("지난주", now, SEOUL)


# -- the command -------------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path, store: Store) -> Path:
    return write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"

[[sources]]
name = "s1"
kind = "feed"
url = "https://news.example.kr/rss"

[[sources]]
name = "s2"
kind = "feed"
url = "https://news2.example.kr/rss"

[[rules]]
name = "pt"
query = "평택"
""",
    )


def test_search_command_prints_a_table(cfg: Path) -> None:
    result = CliRunner().invoke(main, ["search", "--config", str(cfg), "평택", "미래차"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["#", "published", "source", "title"]
    titles = [line for line in lines[1:] if line.lstrip()[:1].isdigit()]
    assert len(titles) == 3
    assert any("평택 미래차 협약" in t and "[pt]" in t for t in titles)
    assert "https://news.example.kr/a1" in result.output
    assert "\x1b[" not in result.output  # no colour codes when not on a terminal


def test_search_command_json_and_exclusion(cfg: Path) -> None:
    result = CliRunner().invoke(
        main, ["search", "--config", str(cfg), "--json", "미래차", "-평택", "--sort", "new"]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert [h["id"] for h in hits] == ["a2"]
    assert hits[0]["published_at"] == "2024-09-06T15:00:00+09:00"  # the configured zone


def test_search_command_exit_status_and_errors(cfg: Path) -> None:
    runner = CliRunner()
    nothing = runner.invoke(main, ["search", "--config", str(cfg), "없는단어"])
    assert nothing.exit_code == 1
    bad = runner.invoke(main, ["search", "--config", str(cfg), "--source", "nope", "평택"])
    assert bad.exit_code == 2 and "known: s1, s2" in bad.output
    empty = runner.invoke(main, ["search", "--config", str(cfg), "-평택"])
    assert empty.exit_code == 2 and "not excluded" in empty.output
    since = runner.invoke(main, ["search", "--config", str(cfg), "--since", "soon", "평택"])
    assert since.exit_code == 2 and "--since" in since.output
