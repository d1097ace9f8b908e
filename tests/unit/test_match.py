"""Rule matching: the query language, Korean-aware matching, snippets and explanations."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError, RuleError
from monitor.match import (
    And,
    Atom,
    Not,
    Or,
    _loose_spots,
    _verify,
    compile_rules,
    parse_query,
    prepare,
)
from monitor.models import Article, Rule
from monitor.synonyms import default_groups, merge_groups
from monitor.text import normalize

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("title", "body")
FIXTURES = ROOT / "tests" / "fixtures" / "match" / "articles.json"


def shared_data() -> Path:
    """The shared reference data: $MONITOR_SHARED_DATA or ../shared/data beside the repo."""
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def article(body: str = "", title: str = "", url: str = "https://news.example.kr/a/1") -> Article:
    """An article with just the fields matching reads."""
    return Article(url=url, title=title, body=body)


def matches(
    query: str,
    body: str = "",
    title: str = "",
    *,
    synonyms: Mapping[str, Sequence[str]] | None = None,
    default_synonyms: bool = True,
    source: str = "",
    url: str = "https://news.example.kr/a/1",
    **options: Any,
) -> bool:
    """Whether one rule with `options` matches one article."""
    matcher = compile_rules([Rule("r", query, **options)], synonyms, default_synonyms)
    return bool(matcher.match(article(body, title, url), source))


# ---------------------------------------------------------------------------
# Verdicts: rules x texts, each feature with its false-positive guard
# ---------------------------------------------------------------------------

VERDICTS: list[tuple[str, str, str, dict[str, Any], bool]] = [
    # id, query, body, options, expected
    ("and-all", "평택 미래차", "평택시는 미래차 산업을 키운다", {}, True),
    ("and-one-missing", "평택 미래차", "평택시는 반도체 산업을 키운다", {}, False),
    ("and-keyword", "평택 AND 미래차", "평택 미래차", {}, True),
    ("or-either", "전기차 OR 수소차", "수소차 보급 확대", {}, True),
    ("or-neither", "전기차 OR 수소차", "버스 노선 개편", {}, False),
    ("or-binds-tighter", "평택 미래차 OR 전기차", "전기차 보급 확대", {}, False),
    ("or-binds-tighter-2", "평택 미래차 OR 전기차", "평택 전기차 보급", {}, True),
    ("parentheses", "(평택 OR 수원) 관광객", "수원에 관광객이 몰렸다", {}, True),
    ("exclude-present", "평택 -중고", "평택 중고차 시장", {}, False),
    ("exclude-absent", "평택 -중고", "평택 신차 시장", {}, True),
    ("exclude-group", "평택 -(중고 OR 폐차)", "평택 폐차장", {}, False),
    ("phrase-exact", '"자동차 산업"', "국내 자동차 산업 전망", {}, True),
    ("phrase-spacing-strict", '"자동차 산업"', "국내 자동차산업 전망", {}, False),
    ("phrase-order", '"자동차 산업"', "산업 자동차", {}, False),
    ("phrase-particle", '"평택 항만"', "평택 항만에서", {}, True),
    ("regex", "/20[0-9]{2}년/", "2024년 예산", {}, True),
    ("regex-miss", "/20[0-9]{2}년/", "내년 예산", {}, False),
    ("case-folding", "samsung", "SAMSUNG Electronics", {}, True),
    ("nfkc-text", "AI", "ＡＩ 반도체", {}, True),
    ("nfkc-query", "ＡＩ", "AI 반도체", {}, True),
    ("latin-particle", "AI", "AI가 바꾼 일상", {}, True),
    ("latin-after-hangul", "AI", "생성형AI 확산", {}, True),
    ("latin-inside-word", "AI", "Thai food", {}, False),
    ("latin-prefix-of-word", "AI", "AIR index", {}, False),
    ("particle-si", "평택", "평택시는 밝혔다", {}, True),
    ("particle-eseo", "평택", "평택에서 열린 행사", {}, True),
    ("suffix-hang", "평택", "평택항 물동량", {}, True),
    ("word-start-guard", "평택", "대평택 시대", {}, False),
    ("after-punctuation", "평택", '"평택"이라는 이름', {}, True),
    ("after-digits", "세대", "2030세대 설문", {}, True),
    ("particles-off", "평택", "평택시는 밝혔다", {"particles": False}, False),
    ("particles-off-bare", "평택", "평택, 수원", {"particles": False}, True),
    ("compound-3-syllables", "위원회", "원자력안전위원회가 밝혔다", {}, True),
    ("compound-2-syllables", "화재", "문화재청 발표", {}, False),
    ("spacing-text-spaced", "미래자동차", "미래 자동차 산업", {}, True),
    ("spacing-one-syllable-guard", "이사회", "이 사회는 변했다", {}, False),
    ("spacing-latin-guard", '"new york"', "newyork", {}, False),
    ("spacing-mid-word-guard", "미래자동차", "신미래 자동차", {}, False),
    ("spacing-and", "미래 자동차", "미래자동차", {}, True),
    ("short-form-mirae", "미래차", "미래자동차를 개발", {"default_synonyms": False}, True),
    ("short-form-guard", "미래차", "가까운 미래에 차를 산다", {}, False),
    ("short-form-ev", "전기차", "전기자동차 보급", {"default_synonyms": False}, True),
    ("short-form-autonomous", "자율차", "자율주행차 시험", {"default_synonyms": False}, True),
    ("short-form-long", "자율차", "자율주행자동차가 달린다", {"default_synonyms": False}, True),
    ("short-form-word-end", "전기차", "전기요금차등제 시행", {}, False),
    (
        "short-form-off",
        "미래차",
        "미래자동차",
        {"short_forms": False, "default_synonyms": False},
        False,
    ),
    ("short-form-spaced-guard", "전기차", "전기 차량 화재", {}, False),
    ("synonym-default", "AI", "인공지능 기술", {}, True),
    ("synonym-defaults-off", "AI", "인공지능 기술", {"default_synonyms": False}, False),
    ("synonym-region", "평택시", "평택 지역 경제", {}, True),
    ("synonym-ministry", "산업부", "산업통상자원부는 밝혔다", {}, True),
    ("synonym-not-shipped", "예산군", "예산 편성", {}, False),
    ("synonym-user", "LG", "엘지전자 실적", {"synonyms": {"LG": ["엘지"]}}, True),
    (
        "synonym-user-no-defaults",
        "LG",
        "엘지",
        {"synonyms": {"LG": ["엘지"]}, "default_synonyms": False},
        True,
    ),
    ("min-count-met", "평택", "평택에서 평택으로", {"min_count": 2}, True),
    ("min-count-short", "평택", "평택에서 수원으로", {"min_count": 2}, False),
    ("min-count-overlap-once", "평택", "평택시", {"min_count": 2}, False),
    ("proximity-near", "평택 미래차", "평택에서 미래차 행사", {"proximity": 20}, True),
    ("proximity-far", "평택 미래차", "평택에서 " + "가" * 50 + " 미래차", {"proximity": 20}, False),
]


@pytest.mark.parametrize(
    ("query", "body", "options", "expected"),
    [pytest.param(q, b, o, e, id=i) for i, q, b, o, e in VERDICTS],
)
def test_verdicts(query: str, body: str, options: dict[str, Any], expected: bool) -> None:
    assert matches(query, body, **options) is expected


@pytest.mark.parametrize(
    ("query", "title", "body", "expected"),
    [
        ("title:평택", "평택시 소식", "다른 이야기", True),
        ("title:평택", "다른 소식", "평택시 이야기", False),
        ("body:평택", "평택시 소식", "다른 이야기", False),
        ("title:(평택 OR 수원) 축제", "수원 소식", "축제가 열렸다", True),
        ("평택 미래차", "평택시 소식", "미래차 산업", True),  # terms may sit in different fields
    ],
)
def test_field_prefixes(query: str, title: str, body: str, expected: bool) -> None:
    assert matches(query, body, title) is expected


def test_proximity_does_not_span_fields() -> None:
    assert not matches("평택 미래차", "미래차 산업", "평택", proximity=50)


def test_source_and_url_prefixes() -> None:
    assert matches("source:pt-news 평택", "평택시", source="pt-news")
    assert not matches("source:pt-news 평택", "평택시", source="other")
    assert matches("url:local 평택", "평택시", url="https://local.example.kr/news/1")
    assert not matches("url:local 평택", "평택시", url="https://news.example.kr/1")


def test_other_article_fields_are_never_searched() -> None:
    matcher = compile_rules([Rule("r", "평택")])
    described = Article(url="https://x.kr/평택", title="", body="수원", description="평택")
    assert matcher.match(described) == []


def test_only_satisfied_rules_come_back_in_rule_order() -> None:
    rules = [Rule("b", "수원"), Rule("a", "평택"), Rule("c", "미래차")]
    found = compile_rules(rules).match(article("평택과 미래차"))
    assert [m.rule for m in found] == ["a", "c"]


# ---------------------------------------------------------------------------
# The shipped fixture articles and the real Korean pages
# ---------------------------------------------------------------------------


def fixture_articles() -> dict[str, Article]:
    """The hand-written fixture articles by id."""
    items = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return {a["id"]: Article(a["url"], a["title"], "\n".join(a["body"])) for a in items}


@pytest.mark.parametrize(
    ("query", "options", "expected"),
    [
        ("평택 미래차", {}, {"pt-future-car"}),
        ("미래차", {}, {"pt-future-car", "council"}),
        ("자율차", {}, {"pt-future-car", "council"}),
        ("화재", {}, {"used-cars"}),
        ("이사회", {}, {"board"}),
        ("AI", {}, {"ai-chips"}),
        ("평택", {"min_count": 2}, {"pt-future-car"}),
        ("한전", {}, {"board"}),
        ("지자체", {}, {"pt-future-car", "heritage", "council"}),
        ("수원시", {}, {"suwon"}),
        ("중고차 -전기차", {}, set()),
    ],
)
def test_fixture_articles(query: str, options: dict[str, Any], expected: set[str]) -> None:
    matcher = compile_rules([Rule("r", query, **options)])
    got = {key for key, art in fixture_articles().items() if matcher.match(art)}
    assert got == expected


def korean_pages() -> dict[str, Article]:
    """Ground-truth bodies of the real Korean pages, keyed by file name."""
    truth = shared_data() / "korean-news-pages" / "truth.json"
    if not truth.exists():
        pytest.skip("shared Korean pages not available")
    data = json.loads(truth.read_text(encoding="utf-8"))
    return {
        k: Article(v.get("url") or k, v["title"], "\n".join(v["body_paragraphs"]))
        for k, v in data.items()
        if isinstance(v, dict) and v.get("body_paragraphs")
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("제주 흉기", {"donga-3.html", "hani-2.html"}),
        ("단통법", {"khan-1.html"}),
        ("BTS OR 아미", {"daum-1.html", "naver-2.html"}),
        ("title:제주", {"donga-3.html", "hani-1.html", "hani-2.html"}),
        ("지진 -북한", {"chosun-2.html", "donga-2.html"}),
        ("원자력안전위원회", {"chosun-1.html", "chosun-2.html"}),
        ("경찰 압수수색", {"naver-1.html"}),
    ],
)
def test_real_korean_pages(query: str, expected: set[str]) -> None:
    matcher = compile_rules([Rule("r", query)])
    got = {key for key, art in korean_pages().items() if matcher.match(art)}
    assert got == expected


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("평택 (미래차 OR 전기차", "unbalanced parenthesis", 3),
        ("평택) 미래차", "unbalanced parenthesis", 2),
        ("((평택)", "unbalanced parenthesis", 0),
        ('"평택 항', "unterminated phrase", 0),
        ('평택 "', "unterminated phrase", 3),
        ("/평택", "unterminated regex", 0),
        ("평택 /a(/", "invalid regex", 5),
        ("OR 평택", "OR needs a term on each side", 0),
        ("평택 OR", "OR needs a term on each side", 3),
        ("평택 OR OR 수원", "OR needs a term on each side", 3),
        ("평택 AND", "AND needs a term on each side", 3),
        ("- 평택", "nothing to exclude", 0),
        ("평택 -", "nothing to exclude", 3),
        ("title: 평택", "nothing after field prefix", 0),
        ("평택 ()", "empty parentheses", 3),
        ('평택 ""', "empty phrase", 3),
        ("평택 //", "empty regex", 3),
        ("-평택", "no term that must match", 0),
        ("   ", "empty query", 0),
        ("!!!", "no letters or digits", 0),
        ("(" * 60 + "평택" + ")" * 60, "nested too deeply", 51),
    ],
)
def test_parse_errors_carry_positions(query: str, message: str, position: int) -> None:
    with pytest.raises(RuleError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.query == query


def test_compile_rules_raises_the_rule_error() -> None:
    with pytest.raises(RuleError) as caught:
        compile_rules([Rule("ok", "평택"), Rule("bad", "평택 (미래차")])
    assert caught.value.position == 3


def test_parse_tree_shape() -> None:
    root = parse_query("평택 미래차 OR 전기차 -title:중고").root
    assert isinstance(root, And)
    first, either, excluded = root.children
    assert first == Atom("term", "평택", FIELDS, 0)
    assert either == Or((Atom("term", "미래차", FIELDS, 3), Atom("term", "전기차", FIELDS, 10)))
    assert excluded == Not(Atom("term", "중고", ("title",), 21))


def test_field_prefix_applies_to_a_group() -> None:
    atoms = parse_query("title:(평택 OR 수원) 축제").atoms()
    assert [(a.text, a.fields, positive) for a, positive in atoms] == [
        ("평택", ("title",), True),
        ("수원", ("title",), True),
        ("축제", ("title", "body"), True),
    ]


def test_full_width_brackets_and_quotes_count() -> None:
    assert matches("（평택 OR 수원）　＂미래 자동차＂", "수원 미래 자동차")


def test_regex_escaped_slash_and_field() -> None:
    assert parse_query(r"/a\/b/").atoms()[0][0].text == "a/b"
    assert matches("title:/평택[시군]/", "평택시", "평택시 소식")
    assert not matches("title:/평택[시군]/", "평택시", "수원 소식")


def test_terms_keep_inner_punctuation() -> None:
    atoms = parse_query("K-팝 http://x.kr/a 3.5%").atoms()
    assert [a.text for a, _ in atoms] == ["K-팝", "http://x.kr/a", "3.5%"]


QUERY_CHARS = st.sampled_from(
    list('()"/-: ORANDtilebodysurc평택미래차가\\*+?[]{}|^$.,!\t\u3000（）＂')
)


@settings(max_examples=300, deadline=None)
@given(st.lists(QUERY_CHARS, max_size=30).map("".join))
def test_parse_query_only_raises_rule_error(query: str) -> None:
    try:
        parsed = parse_query(query)
    except RuleError as exc:
        assert 0 <= exc.position <= len(query)
    else:
        assert any(positive for _atom, positive in parsed.atoms())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_query_any_text(query: str) -> None:
    try:
        parse_query(query)
    except RuleError as exc:
        assert 0 <= exc.position <= len(query)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(QUERY_CHARS, max_size=20).map("".join),
    st.text(alphabet='평택시미래자동차에서 대ai-AI("/.2', max_size=40),
)
def test_any_parsed_query_compiles_matches_and_explains(query: str, body: str) -> None:
    try:
        parse_query(query)
    except RuleError:
        return
    matcher = compile_rules([Rule("r", query, min_count=1, proximity=15)])
    art = article(body, title=body[:5])
    found = matcher.match(art)
    assert matcher.explain("r", art).matched is bool(found)


# ---------------------------------------------------------------------------
# The automaton finds exactly what the rules accept
# ---------------------------------------------------------------------------

TEXT_CHARS = st.sampled_from(list('평택시미래자동차에서는 대이사회  ai-("2가'))
TERMS = ["평택", "미래자동차", "미래차", "이사회", "ai", "평택시", "자동차", "AI가", "미래 자동차"]


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT_CHARS, max_size=40).map("".join))
def test_automaton_agrees_with_a_plain_search(body: str) -> None:
    """Every place the rules accept (found by brute force) is what match() reports."""
    rules = [Rule(f"r{i}", f'"{t}"' if " " in t else t) for i, t in enumerate(TERMS)]
    matcher = compile_rules(rules, default_synonyms=False)
    by_rule = {m.rule: m for m in matcher.match(article(body))}
    f = prepare("body", body)
    for i, _term in enumerate(TERMS):
        crule = matcher._by_name[f"r{i}"]
        atom_id = crule.positives[0]
        expected: set[tuple[int, int]] = set()
        for probe in matcher._atom_probes[atom_id]:
            for ns, ne in _loose_spots(f, probe.key):
                verdict = _verify(probe, matcher._atoms[atom_id], f, ns, ne)
                if not isinstance(verdict, str):
                    expected.add(verdict)
        got = {(h.start, h.end) for h in by_rule[f"r{i}"].hits} if f"r{i}" in by_rule else set()
        # Overlapping places count once (the longest), so compare coverage, not spans.
        assert bool(got) == bool(expected)
        assert got <= expected


# ---------------------------------------------------------------------------
# Hits, snippets and highlights
# ---------------------------------------------------------------------------

LONG_BODY = (
    "경기도는 올해 지역 산업 지원 계획을 발표했다. " * 8
    + "평택시는 미래자동차 부품 클러스터를 조성한다고 밝혔다. "
    + "시는 관련 기업을 유치할 계획이다. " * 8
)


def test_hit_offsets_point_into_normalised_fields() -> None:
    art = article("평택시는\n\n미래  자동차를   키운다", title="ＡＩ와 평택")
    (found,) = compile_rules([Rule("r", "평택 미래자동차 AI")]).match(art)
    for hit in found.hits:
        text = normalize(art.title if hit.field == "title" else art.body)
        assert text[hit.start : hit.end] == hit.text
    assert {h.text for h in found.hits} >= {"미래 자동차", "AI", "평택"}
    assert found.terms == ("평택", "미래자동차", "AI")


def test_snippet_surrounds_the_first_body_hit() -> None:
    (found,) = compile_rules([Rule("r", "평택 미래차")]).match(article(LONG_BODY, "도정 소식"))
    assert found.snippet.startswith("…") and found.snippet.endswith("…")
    assert 120 <= len(found.snippet) <= 170
    assert "평택시는 미래자동차" in found.snippet
    marked = [found.snippet[s:e] for s, e in found.highlights]
    assert marked == ["평택시", "미래자동차"]  # the synonym 평택시 is the longer hit there


def test_highlights_cover_every_body_hit_in_the_snippet() -> None:
    body = "평택에서 평택으로, 평택항까지"
    (found,) = compile_rules([Rule("r", "평택")]).match(article(body))
    assert found.snippet == body
    assert [found.snippet[s:e] for s, e in found.highlights] == ["평택"] * 3


def test_snippet_falls_back_to_the_title() -> None:
    (found,) = compile_rules([Rule("r", "title:평택")]).match(article("본문", "평택시 소식"))
    assert found.snippet == "평택시 소식"
    assert [found.snippet[s:e] for s, e in found.highlights] == ["평택시"]


def test_excluded_terms_are_not_evidence() -> None:
    (found,) = compile_rules([Rule("r", "평택 -중고")]).match(article("평택 신차"))
    assert found.terms == ("평택",)
    assert all(h.term == "평택" for h in found.hits)


# ---------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------

EXPLAIN_BODY = "대평택 시대. 평택에서 미래자동차 클러스터를 만든다. 인공지능 연구소도 들어선다."


def explain(query: str, body: str = EXPLAIN_BODY, **options: Any) -> tuple[bool, str]:
    """(matched, all lines joined) for one rule."""
    matcher = compile_rules([Rule("r", query, **options)], default_synonyms=True)
    result = matcher.explain("r", article(body, "평택시 소식"))
    return result.matched, "\n".join(result.lines)


def test_explain_names_the_korean_rule_behind_each_hit() -> None:
    matched, text = explain("평택 미래차 AI")
    assert matched
    assert "particle 에서" in text
    assert "inside a longer word" in text and "대평택" in text
    assert "synonym 인공지능" in text
    assert "synonym 미래자동차" in text or "short form" in text
    assert text.endswith("MATCHED")


def test_explain_short_form() -> None:
    matcher = compile_rules([Rule("r", "미래차")], default_synonyms=False)
    text = "\n".join(matcher.explain("r", article(EXPLAIN_BODY)).lines)
    assert "short form (미래차 for 미래자동차)" in text


def test_explain_says_what_excluded() -> None:
    matched, text = explain("평택 -클러스터")
    assert not matched
    assert "excluded 클러스터: found 1 time(s)" in text
    assert text.endswith("NOT MATCHED: excluded by 클러스터")


def test_explain_missing_term() -> None:
    matched, text = explain("평택 반도체")
    assert not matched
    assert "term 반도체: not found" in text
    assert text.endswith("NOT MATCHED: not found: 반도체")


def test_explain_min_count_and_proximity() -> None:
    assert explain("미래자동차", min_count=3)[1].endswith(
        "NOT MATCHED: fewer than 3 occurrences of 미래자동차 (1)"
    )
    matched, text = explain("평택 연구소", proximity=10)
    assert not matched and text.endswith("the terms are not within 10 characters")


def test_explain_particles_off() -> None:
    matcher = compile_rules([Rule("r", "평택", particles=False)], default_synonyms=False)
    result = matcher.explain("r", article("평택시는 밝혔다"))
    text = "\n".join(result.lines)
    assert not result.matched
    assert "particles are off for this rule" in text


def test_explain_agrees_with_match() -> None:
    matcher = compile_rules([Rule("a", "평택 미래차"), Rule("b", "수원 -평택")])
    art = article(EXPLAIN_BODY)
    matched = {m.rule for m in matcher.match(art)}
    for name in ("a", "b"):
        assert matcher.explain(name, art).matched is (name in matched)


def test_explain_unknown_rule() -> None:
    matcher = compile_rules([Rule("a", "평택")])
    with pytest.raises(ConfigError, match="no rule named 'zz'"):
        matcher.explain("zz", article("평택"))


# ---------------------------------------------------------------------------
# Synonym groups
# ---------------------------------------------------------------------------


def test_user_groups_extend_shipped_ones() -> None:
    merged = merge_groups({"인공지능": ["머신러닝"]})
    assert {"AI", "인공지능", "머신러닝"} <= set(merged["인공지능"])
    assert merge_groups({"X": ["Y"]}, with_defaults=False) == {"X": ("X", "Y")}


def test_shipped_groups_leave_out_everyday_words() -> None:
    members = {m for group in default_groups().values() for m in group}
    assert "평택" in members and "평택시" in members
    for word in ("화성", "경주", "양산", "예산", "음성", "경기", "칩"):
        assert word not in members
