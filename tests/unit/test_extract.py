"""Article extraction: real Korean pages against their truth file, plus small hand-written cases."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.errors import ExtractError
from monitor.extract import (
    _ALWAYS_DROP,
    _CAPTION,
    _COPYRIGHT,
    _DATE,
    _EN_DATE,
    _TAG_IDS,
    _TAGS,
    _YEAR,
    _ends_sentence,
    _may_be_caption,
    _may_be_copyright,
    _may_drop,
    extract_article,
    find_landmarks,
    linearize,
)
from monitor.models import Article
from monitor.text import normalize

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MONITOR_SHARED_DATA") or REPO.parent / "shared" / "data")
KOREAN = DATA / "korean-news-pages"
KST = timezone(timedelta(hours=9))


def _truth() -> dict[str, dict[str, Any]]:
    """Article entries of truth.json, or nothing when the shared data is absent."""
    path = KOREAN / "truth.json"
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: item
        for name, item in entries.items()
        if not name.startswith("_") and item.get("page_type") == "article"
    }


TRUTH = _truth()
PAGES: list[Any] = sorted(TRUTH) or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"shared Korean pages not found at {KOREAN}"))
]

# Pages that show a modification time distinct from publication.
MODIFIED: list[Any] = [name for name in sorted(TRUTH) if TRUTH[name].get("modified")] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"shared Korean pages not found at {KOREAN}"))
]
# Alternatives the truth file's notes accept for `author`.
ALLOWED_AUTHORS: dict[str, set[str | None]] = {
    "chosun-2.html": {None, "조선일보"},
    "hani-2.html": {None, "연합뉴스"},
    "yonhaptv-1.html": {None, "연합뉴스TV"},
    "daum-1.html": {"김이영"},
}
# Pages that state no canonical URL (no <link rel=canonical>, no og:url).
NO_CANONICAL = {"donga-1.html"}


@cache
def extracted(name: str) -> Article:
    """Extract one Korean page (served as bytes with no charset, as a fetcher would see it)."""
    return extract_article((KOREAN / name).read_bytes(), TRUTH[name]["url"], "text/html")


def byline_key(author: str | None) -> frozenset[str] | None:
    """Names plus role, ignoring order and spacing: '박성민, 이권효, 최지연 기자'."""
    if not author or not author.strip():
        return None
    text = normalize(author)
    m = re.search(r"\s*((?:선임|수석|전문|객원|인턴|수습)?기자|특파원|논설위원)$", text)
    role = m.group(1) if m else ""
    names = re.split(r"[,·/]", text[: m.start()] if m else text)
    return frozenset(f"{n.strip()} {role}".strip() for n in names if n.strip())


def required(item: dict[str, Any]) -> list[str]:
    """Body paragraphs that must be recalled: all but the optional lines, normalised."""
    optional = {normalize(x) for xs in item.get("optional_lines", {}).values() for x in xs}
    paragraphs = (normalize(p) for p in item["body_paragraphs"])
    return [p for p in paragraphs if p not in optional]


# ---------------------------------------------------------------------------------------------
# Real pages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_title_is_the_headline_without_site_name(name: str) -> None:
    assert extracted(name).title == TRUTH[name]["title"]


@pytest.mark.parametrize("name", PAGES)
def test_publication_instant(name: str) -> None:
    item = TRUTH[name]
    found = extracted(name).published_at
    assert found is not None and found.tzinfo is not None
    allowed = [
        datetime.fromisoformat(v)
        for v in [item["published"], *item.get("published_alternatives", [])]
    ]
    assert found in allowed


@pytest.mark.parametrize("name", MODIFIED)
def test_modification_time_is_kept_apart_from_publication(name: str) -> None:
    article = extracted(name)
    assert article.modified_at == datetime.fromisoformat(TRUTH[name]["modified"])
    assert article.published_at != article.modified_at


@pytest.mark.parametrize("name", PAGES)
def test_author(name: str) -> None:
    allowed = {TRUTH[name].get("author")} | ALLOWED_AUTHORS.get(name, set())
    assert byline_key(extracted(name).author) in {byline_key(a) for a in allowed}


@pytest.mark.parametrize("name", PAGES)
def test_body_recalls_every_required_paragraph(name: str) -> None:
    body = normalize(extracted(name).body)
    missing = [p[:60] for p in required(TRUTH[name]) if p not in body]
    assert missing == []


@pytest.mark.parametrize("name", PAGES)
def test_body_holds_no_page_furniture(name: str) -> None:
    body = normalize(extracted(name).body)
    leaked = [m for m in TRUTH[name]["must_not"] if normalize(m) in body]
    assert leaked == []


@pytest.mark.parametrize("name", PAGES)
def test_canonical_url_and_language(name: str) -> None:
    article = extracted(name)
    expected = None if name in NO_CANONICAL else TRUTH[name]["url"]
    assert article.canonical_url == expected
    assert article.lang == "ko"


# ---------------------------------------------------------------------------------------------
# Hand-written pages: one per date format and byline form
# ---------------------------------------------------------------------------------------------

PROSE = (
    "평택시는 미래차 산업 육성을 위해 올해 예산을 크게 늘리기로 했다고 밝혔다. "
    "시 관계자는 관련 기업 유치와 인력 양성에 힘쓰겠다고 말했다."
)


def page(
    head: str = "",
    header: str = "",
    body: str = "",
    title: str = "평택 미래차 예산 확대",
    lang: str = "ko",
) -> str:
    """A small article page in the usual Korean CMS shape."""
    paragraphs = body or f"<p>{PROSE}</p><p>{PROSE}</p>"
    return (
        f'<html lang="{lang}"><head><title>{title} - 예시일보</title>{head}</head><body>'
        '<nav><a href="/">홈</a> <a href="/news">뉴스</a></nav>'
        f'<div class="article-head"><h1>{title}</h1>{header}</div>'
        f'<div id="article_body">{paragraphs}</div>'
        "<footer>Copyright ⓒ 예시일보. 무단전재 및 재배포 금지</footer></body></html>"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("등록 2024-09-06 15:44:44", datetime(2024, 9, 6, 15, 44, 44, tzinfo=KST)),
        ("입력 2024.09.06 오후 3:44", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("입력 2024.09.06 오전 12:05", datetime(2024, 9, 6, 0, 5, tzinfo=KST)),
        ("입력 2024.09.06. 오후 12:22", datetime(2024, 9, 6, 12, 22, tzinfo=KST)),
        ("입력 : 2016.09.17 18:59", datetime(2016, 9, 17, 18, 59, tzinfo=KST)),
        ("승인 2024.09.06 15:44", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("기사입력 2013-10-24 03:00:00", datetime(2013, 10, 24, 3, 0, tzinfo=KST)),
        ("송고시간 | 2016/09/17 11:35", datetime(2016, 9, 17, 11, 35, tzinfo=KST)),
        ("입력 2024년 9월 6일 15시 44분", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("기사입력 :[ 2018-08-25 15:24 ]", datetime(2018, 8, 25, 15, 24, tzinfo=KST)),
        ("2026. 3. 21. 21:43", datetime(2026, 3, 21, 21, 43, tzinfo=KST)),
    ],
)
def test_visible_korean_date_lines(line: str, expected: datetime) -> None:
    article = extract_article(
        page(header=f'<p class="date">{line}</p>'), "https://news.example.kr/1"
    )
    assert article.published_at == expected
    assert article.published_at is not None and article.published_at.utcoffset() == timedelta(
        hours=9
    )
    assert line not in article.body


def test_published_and_modified_lines_are_kept_apart() -> None:
    header = (
        '<div class="byline"><em>입력 : 2016.09.26 22:18:01</em>'
        "<em>수정 : 2016.09.26 22:20:08</em></div>"
    )
    article = extract_article(page(header=header), "https://news.example.kr/2")
    assert article.published_at == datetime(2016, 9, 26, 22, 18, 1, tzinfo=KST)
    assert article.modified_at == datetime(2016, 9, 26, 22, 20, 8, tzinfo=KST)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (
            '<meta property="article:published_time" content="2023-04-18T06:04:06Z">',
            datetime(2023, 4, 18, 6, 4, 6, tzinfo=UTC),
        ),
        (
            '<meta property="og:regDate" content="20230915153012">',
            datetime(2023, 9, 15, 15, 30, 12, tzinfo=KST),
        ),
        (
            '<meta name="article:published_time" content="2023-04-05T01:57:54.555Z">',
            datetime(2023, 4, 5, 10, 57, 54, tzinfo=KST),
        ),
        (
            '<meta property="article:published_time" content="2016-09-17T11:35+09:00">',
            datetime(2016, 9, 17, 11, 35, tzinfo=KST),
        ),
        (
            '<meta name="DC.date.issued" content="2024-09-06">',
            datetime(2024, 9, 6, tzinfo=KST),
        ),
        (
            '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
            '{"@type":"WebPage","datePublished":"2001-01-01T00:00:00Z"},'
            '{"@type":"NewsArticle","headline":"x","datePublished":"2024-09-06T15:44:44+09:00",'
            '"dateModified":"2024-09-06T16:00:00+09:00"}]}</script>',
            datetime(2024, 9, 6, 15, 44, 44, tzinfo=KST),
        ),
    ],
)
def test_machine_dates(meta: str, expected: datetime) -> None:
    article = extract_article(page(head=meta), "https://news.example.kr/3")
    assert article.published_at == expected


def test_json_ld_keeps_modified_apart() -> None:
    ld = (
        '<script type="application/ld+json">{"@type":"NewsArticle",'
        '"headline":"평택 미래차 예산 확대",'
        '"datePublished":"2024-09-06T15:44:44+09:00","dateModified":"2024-09-07T09:00:00+09:00",'
        '"author":{"@type":"Person","name":"홍길동"}}</script>'
    )
    article = extract_article(page(head=ld), "https://news.example.kr/4")
    assert article.published_at == datetime(2024, 9, 6, 15, 44, 44, tzinfo=KST)
    assert article.modified_at == datetime(2024, 9, 7, 9, 0, tzinfo=KST)
    assert article.author == "홍길동"


def test_site_clocks_and_weather_bars_are_not_publication_dates() -> None:
    html = page(header='<p class="date">입력 2024.09.06 15:44</p>').replace(
        "<nav>",
        '<div class="top"><span>최종업데이트 2024-09-07 07:04:37</span>'
        "<span>2024.09.07(토) 서울 맑음 23℃</span><span>조회수 2024</span></div><nav>",
    )
    article = extract_article(html, "https://news.example.kr/5")
    assert article.published_at == datetime(2024, 9, 6, 15, 44, tzinfo=KST)
    assert article.modified_at is None


def test_utc_clock_labelled_with_korean_offset_yields_to_the_visible_line() -> None:
    meta = '<meta property="article:published_time" content="2023-04-18T06:04:06+09:00">'
    html = page(head=meta, header="<ul class='info'><li>송고시간 2023-04-18 15:04:06</li></ul>")
    article = extract_article(html, "https://news.example.kr/6")
    assert article.published_at == datetime(2023, 4, 18, 15, 4, 6, tzinfo=KST)


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ('<p class="byline">홍길동 기자 hong@example.kr</p>', "", "홍길동 기자"),
        (
            '<p class="repoter">박성민기자 , 이권효기자 , 최지연기자 </p>',
            "",
            "박성민, 이권효, 최지연 기자",
        ),
        ("", f"<p>[헤럴드경제=홍길동 기자] {PROSE}</p><p>{PROSE}</p>", "홍길동 기자"),
        ("", f"<p>(서울=연합뉴스) 홍길동 기자 = {PROSE}</p><p>{PROSE}</p>", "홍길동 기자"),
        (
            "",
            f"<p>{PROSE}</p><p>{PROSE}</p><p>이창곤 선임기자 goni@example.kr</p>",
            "이창곤 선임기자",
        ),
        ("", f"<p>{PROSE}</p><p>{PROSE}</p>", None),
    ],
)
def test_korean_bylines(header: str, body: str, expected: str | None) -> None:
    article = extract_article(page(header=header, body=body), "https://news.example.kr/7")
    assert article.author == expected


def test_publisher_name_in_meta_is_not_an_author() -> None:
    head = (
        '<meta property="article:author" content="예시일보">'
        '<meta property="og:site_name" content="예시일보">'
    )
    article = extract_article(page(head=head), "https://news.example.kr/8")
    assert article.author is None


def test_title_loses_site_suffix_and_falls_back_past_a_site_only_title() -> None:
    article = extract_article(page(), "https://news.example.kr/9")
    assert article.title == "평택 미래차 예산 확대"
    html = page().replace(
        "<title>평택 미래차 예산 확대 - 예시일보</title>", "<title>예시일보</title>"
    )
    html = html.replace(
        "<head>", '<head><meta property="og:title" content="평택 미래차 예산 확대">'
    )
    assert extract_article(html, "https://news.example.kr/9").title == "평택 미래차 예산 확대"


def test_body_drops_furniture_inside_the_story_container() -> None:
    body = (
        f"<p>{PROSE}</p>"
        '<div class="photo"><img src="a.jpg"><p class="caption">행사 모습. /예시일보DB</p></div>'
        f"<p>{PROSE} 두번째.</p>"
        '<div class="related_news"><h4>관련기사</h4>'
        '<ul><li><a href="/a">다른 기사 제목 하나</a></li>'
        '<li><a href="/b">다른 기사 제목 둘</a></li></ul></div>'
        '<div class="sns_share"><a href="#">페이스북 공유하기</a>'
        '<a href="#">트위터 공유하기</a></div>'
        "<p>홍길동 기자 hong@example.kr</p>"
        "<p>[저작권자(c) 예시일보, 무단 전재-재배포 금지]</p>"
    )
    article = extract_article(page(body=body), "https://news.example.kr/10")
    lines = article.body.split("\n")
    assert lines[:2] == [PROSE, f"{PROSE} 두번째."]
    for furniture in ("예시일보DB", "관련기사", "다른 기사", "공유하기", "무단 전재"):
        assert furniture not in article.body


@pytest.mark.parametrize(
    "caption",
    [
        "빈소에 놓인 영정. [연합]",
        "AS모나코전 당시 손흥민[AP=연합뉴스 자료사진]",
        "행사장 전경. /예시일보DB",
        "(사진=예시시청 제공) 시장이 인사말을 하고 있다",
        "Protesters have worn masks to protect their identities (Image: GETTY )",
    ],
)
def test_captions_known_by_their_credit_line(caption: str) -> None:
    body = f"<p>{PROSE}</p><div>{caption}</div><p>{PROSE} 끝.</p>"
    article = extract_article(page(body=body), "https://news.example.kr/19")
    assert article.body.split("\n") == [PROSE, f"{PROSE} 끝."]


def test_the_label_of_a_link_list_goes_with_it() -> None:
    links = "".join(f'<li><a href="/r{n}">다른 기사 제목 {n}번입니다</a></li>' for n in range(4))
    body = f"<p>{PROSE}</p><p>{PROSE} 끝.</p><h4>많이 본 뉴스</h4><ul>{links}</ul>"
    article = extract_article(page(body=body), "https://news.example.kr/20")
    assert article.body.split("\n") == [PROSE, f"{PROSE} 끝."]


def test_tip_lines_close_the_story_but_a_last_sentence_about_tips_stays() -> None:
    last = "경찰은 시민 제보를 받아 용의자를 찾고 있으며, 유튜브 구독자도 늘었다고 밝혔다."
    trailer = (
        "<p>※ '당신의 제보가 뉴스가 됩니다'</p><p>[카카오톡] 예시일보 검색해 채널 추가</p>"
        "<p>[전화] 02-398-8585</p><p>#평택 #미래차</p>"
    )
    body = f"<p>{PROSE}</p><p>{last}</p>{trailer}"
    article = extract_article(page(body=body), "https://news.example.kr/21")
    assert article.body.split("\n") == [PROSE, last]


def test_an_ad_script_inside_a_word_does_not_split_it() -> None:
    ad = '<script type="text/javascript">show_ad("x");</script>'
    body = f"<p>{PROSE} 서둘러 도{ad}입하던 당시였다.</p>"
    article = extract_article(page(body=body + f"<p>{PROSE}</p>"), "https://news.example.kr/11")
    assert "서둘러 도입하던 당시였다." in article.body


def test_paragraphs_separated_by_line_breaks() -> None:
    body = f"<div>{PROSE}<br><br>{PROSE} 둘째 문단.<br><br>{PROSE} 셋째 문단.</div>"
    article = extract_article(page(body=body), "https://news.example.kr/12")
    assert article.body.split("\n") == [PROSE, f"{PROSE} 둘째 문단.", f"{PROSE} 셋째 문단."]


def test_body_read_from_inline_json_state() -> None:
    state = {
        "headlines": {"basic": "평택 미래차 예산 확대"},
        "first_publish_date": "2023-04-05T02:52:50.165Z",
        "last_updated_date": "2023-04-05T07:45:16.098Z",
        "credits": {
            "by": [
                {
                    "name": "길동 홍",
                    "additional_properties": {"original": {"byline": "홍길동 기자"}},
                }
            ]
        },
        "content_elements": [
            {"type": "text", "content": PROSE},
            {"type": "image", "caption": "사진 설명. /예시경찰청"},
            {"type": "text", "content": f"{PROSE} <b>둘째</b> 문단."},
        ],
    }
    html = (
        "<html><head><title>평택 미래차 예산 확대 - 예시일보</title></head><body>"
        '<div id="fusion-app"><figure><img src="a.jpg">'
        "<figcaption>사진 설명. /예시경찰청</figcaption>"
        "</figure></div><script>Fusion=window.Fusion||{};Fusion.globalContent="
        + json.dumps(state, ensure_ascii=False)
        + ";Fusion.globalContentConfig={};</script></body></html>"
    )
    article = extract_article(html, "https://news.example.kr/13")
    assert article.body.split("\n") == [PROSE, f"{PROSE} 둘째 문단."]
    assert article.published_at == datetime(2023, 4, 5, 11, 52, 50, tzinfo=KST)
    assert article.modified_at == datetime(2023, 4, 5, 16, 45, 16, tzinfo=KST)
    assert article.author == "홍길동 기자"


def test_euc_kr_declared_only_in_meta() -> None:
    html = page().replace("<head>", '<head><meta charset="euc-kr">')
    article = extract_article(html.encode("cp949"), "https://news.example.kr/14")
    assert article.title == "평택 미래차 예산 확대"
    assert PROSE in article.body


@pytest.mark.parametrize(
    ("content_type", "encoding", "meta"),
    [
        ("text/html; charset=utf-8", "cp949", "euc-kr"),  # the header lies
        ("text/html; charset=iso-8859-1", "cp949", "euc-kr"),  # a server default, not the page's
        ("text/html", "utf-8", "euc-kr"),  # the <meta> lies
        (None, "cp949", "utf-8"),
    ],
)
def test_a_lying_charset_declaration(content_type: str | None, encoding: str, meta: str) -> None:
    html = page().replace("<head>", f'<head><meta charset="{meta}">')
    article = extract_article(html.encode(encoding), "https://news.example.kr/15", content_type)
    assert article.title == "평택 미래차 예산 확대"
    assert PROSE in article.body


def test_canonical_url_is_made_absolute() -> None:
    html = page(head='<link rel="canonical" href="/news/16">')
    article = extract_article(html, "https://news.example.kr/news/16?utm_source=x")
    assert article.canonical_url == "https://news.example.kr/news/16"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Published Nov. 19, 2019, 9:02 AM EST", datetime(2019, 11, 19, 14, 2, tzinfo=UTC)),
        ("Posted on 19 Nov 2019 07:09 GMT", datetime(2019, 11, 19, 7, 9, tzinfo=UTC)),
        ("Published: Monday, November 18th, 2019", datetime(2019, 11, 18, tzinfo=UTC)),
        ("November 20, 2019, 10:54 am", datetime(2019, 11, 20, 10, 54, tzinfo=UTC)),
    ],
)
def test_visible_english_date_lines(line: str, expected: datetime) -> None:
    body = "<p>" + "The council approved the budget for electric vehicles on Monday. " * 3 + "</p>"
    html = page(header=f"<p>{line}</p>", body=body, title="Budget approved", lang="en")
    assert extract_article(html, "https://x.example/2").published_at == expected


def test_json_ld_that_does_not_parse_is_salvaged() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "평택 미래차",'
        '"description": "the "best" plan", "datePublished": "2024-09-06T15:44:44+09:00",'
        '"author": {"@type": "Person", "name": "홍길동"}, "keywords": ["a", ],}</script>'
    )
    article = extract_article(page(head=ld), "https://news.example.kr/17")
    assert article.published_at == datetime(2024, 9, 6, 15, 44, 44, tzinfo=KST)


def test_a_web_page_date_serves_when_no_article_object_has_one() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "ClaimReview",'
        '"datePublished": "2019-11-18T10:15:00+00:00"}</script>'
    )
    article = extract_article(page(head=ld), "https://news.example.kr/18")
    assert article.published_at == datetime(2019, 11, 18, 10, 15, tzinfo=UTC)


def test_portal_date_attributes() -> None:
    header = (
        '<span class="media_end_head_info_datestamp_time _ARTICLE_DATE_TIME" '
        'data-date-time="2023-09-07 12:22:02">2023.09.07. 오후 12:22</span>'
        '<span class="_ARTICLE_MODIFY_DATE_TIME" '
        'data-modify-date-time="2023-09-07 13:03:01">2023.09.07. 오후 1:03</span>'
    )
    article = extract_article(page(header=header), "https://n.news.example.kr/1")
    assert article.published_at == datetime(2023, 9, 7, 12, 22, 2, tzinfo=KST)
    assert article.modified_at == datetime(2023, 9, 7, 13, 3, 1, tzinfo=KST)


def test_a_story_split_over_several_boxes_is_read_whole_without_the_teasers() -> None:
    para = "The council approved the budget for electric vehicles, the mayor said on Monday. "
    teaser = (
        '<li><a href="/t{n}">Another headline number {n} here</a>'
        "<p>A teaser blurb that is long enough to look like prose, with a comma, too.</p></li>"
    )
    body = (
        '<div class="body-part"><p>One. ' + para * 2 + "</p><p>" + para + "</p></div>"
        '<div class="ad-slot"><a href="/ad">Buy now</a></div>'
        '<div class="body-part"><p>Two. ' + para * 2 + "</p><p>" + para + "</p></div>"
        "<ul>" + "".join(teaser.format(n=n) for n in range(8)) + "</ul>"
    )
    article = extract_article(page(body=body, title="Budget", lang="en"), "https://x.example/3")
    assert article.body.startswith("One.")
    assert "Two." in article.body
    assert "teaser blurb" not in article.body
    assert "Buy now" not in article.body


def test_english_page_gets_utc_for_offsetless_times() -> None:
    body = "<p>" + "The council approved the budget for electric vehicles on Monday. " * 3 + "</p>"
    head = '<meta property="article:published_time" content="2024-09-06T15:44:44">'
    article = extract_article(
        page(head=head, body=body, title="Budget approved", lang="en"), "https://x.example/1"
    )
    assert article.published_at == datetime(2024, 9, 6, 15, 44, 44, tzinfo=UTC)
    assert article.lang == "en"


@pytest.mark.parametrize(
    "html",
    [
        b"",
        "<html><body></body></html>",
        "<html><head><title></title></head><body>"
        "<nav><a href='/a'>홈</a><a href='/b'>뉴스</a></nav></body></html>",
    ],
)
def test_no_article_raises(html: bytes | str) -> None:
    with pytest.raises(ExtractError):
        extract_article(html, "https://news.example.kr/empty")


# ---------------------------------------------------------------------------------------------
# The walk: text blocks as a reader sees them
# ---------------------------------------------------------------------------------------------


def blocks(body: str) -> list[tuple[str, int, bool]]:
    """(text, link characters, inside furniture) per text block of a page body."""
    tree = LexborHTMLParser(f"<html><body>{body}</body></html>")
    page = linearize(tree, find_landmarks(tree).images)
    return [(b.text, b.links, b.buried) for b in page.blocks]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p><b>Jane</b> <i>Doe</i></p>", [("Jane Doe", 0, False)]),
        ("<p><b>Jane</b><i>Doe</i></p>", [("JaneDoe", 0, False)]),
        # Only whitespace right before an element separates words.
        ("<p><b>Jane</b> <!-- c --><i>Doe</i></p>", [("JaneDoe", 0, False)]),
        ("<p>a<b> </b>b</p>", [("ab", 0, False)]),
        ("<p>a<my-tag>b</my-tag> <my-tag>c</my-tag></p>", [("ab c", 0, False)]),
        ("<p><a href=x>a</a> <a href=y>b</a> c</p>", [("a b c", 2, False)]),
        ("<div>one<script>x</script>two</div>", [("onetwo", 0, False)]),
        ("<div>one<nav><a href=x>menu</a></nav>two</div>", [("one", 0, False), ("two", 0, False)]),
        ("<div>one<br>two</div>", [("one", 0, False), ("two", 0, False)]),
        ("<p>x<svg><text>y</text></svg>z<img src=a.jpg>w</p>", [("xzw", 0, False)]),
        (
            "<article><p>story</p><footer>By Jane</footer></article><footer>site</footer>",
            [("story", 0, False), ("By Jane", 0, True)],
        ),
        ("<p>&nbsp;</p><p>\u3000x\u00a0 y </p>", [("", 0, False), ("x y", 0, False)]),
        ("<div>" * 3000 + "deep" + "</div>" * 3000, [("deep", 0, False)]),
    ],
)
def test_text_blocks(body: str, expected: list[tuple[str, int, bool]]) -> None:
    assert blocks(body) == expected


def test_tag_ids_name_the_tags_of_parsed_pages() -> None:
    names = sorted(_TAG_IDS.keys() - {"-text"})
    tree = LexborHTMLParser("<body>" + "".join(f"<{n}>x</{n}>" for n in names) + "</body>")
    root = tree.root
    assert root is not None
    known = [node for node in root.traverse(include_text=True) if node.tag_id in _TAGS]
    assert all(_TAGS[node.tag_id][1] == node.tag for node in known)
    assert {"p", "div", "a", "span", "-text", "svg"} <= {node.tag for node in known}


def test_one_query_finds_what_separate_queries_find() -> None:
    html = (
        '<html><head><script type="Application/LD+JSON">{}</script>'
        '<link rel="Canonical" href="/a"><meta name="a" content="1"></head><body>'
        "<svg><title>s</title><h1>x</h1><script>y</script></svg><math><mi><img></mi></math>"
        '<p><meta itemprop="b" content="2"><img src="c.jpg"></p><h1>t</h1>'
        '<link rel="canonical stylesheet" href="/b"><template><img><meta name="c"></template>'
        "</body></html>"
    )
    tree = LexborHTMLParser(html)
    found = find_landmarks(tree)
    for nodes, query in [
        (found.metas, "meta"),
        (found.ld_scripts, 'script[type="application/ld+json"]'),
        (found.canonicals, 'link[rel="canonical"]'),
        (found.headings, "h1"),
        (found.images, "body img"),
        (found.foreign, "svg, math"),
    ]:
        assert [n.mem_id for n in nodes] == [n.mem_id for n in tree.css(query)], query


def test_inline_state_in_a_script_inside_svg_is_read() -> None:
    # Inside <svg> a script is parsed as markup, so its marker need not appear in the source.
    state = {"content_elements": [{"type": "text", "content": PROSE}]}
    html = (
        "<html><head><title>평택 미래차 예산 확대 - 예시일보</title></head><body>"
        "<div><h1>평택 미래차 예산 확대</h1></div><svg><script>Fusion&#46;globalContent="
        + json.dumps(state, ensure_ascii=False).replace("&", "&amp;").replace("<", "&lt;")
        + ";</script></svg></body></html>"
    )
    assert extract_article(html, "https://news.example.kr/30").body == PROSE


# ---------------------------------------------------------------------------------------------
# Cheap pre-tests never turn away a line their pattern matches
# ---------------------------------------------------------------------------------------------

# Letters re.I matches to non-ASCII ones, and non-ASCII letters lower() turns into ASCII.
TRICKY = ["ı", "İ", "K", "ſ", "Ⓒ", "ⓒ", "\u00a0", "\u3000", "\n", " ", ".", "(", ")", "[", "]"]
LINE_PARTS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "copyright",
                "COPYRIGHT",
                "All Rights Reserved",
                "(c) 2024",
                "(C) 예시",
                "©",
                "저작권자",
                "무단 전재",
                "재배포 금지",
                "AI 학습 및 활용 금지",
                "(Photo: AP)",
                "(images: x)",
                "photo by Jane",
                "Image Courtesy of x",
                "/연합뉴스",
                "= 뉴스1",
                "= 예시DB",
                "[사진=연합뉴스]",
                "[자료사진]",
                "[예시 제공]",
                "(사진=예시)",
                "사진 : 예시",
                "브라우저가 video 태그를",
                "다른 브라우저를 사용",
                "본문배너",
                "광고",
                "advertisement",
                "SPONSORED",
                "Loading...",
                "재생 중 오류",
                "Nov. 19, 2019, 9:02 AM EST",
                "2024.09.06 15:44",
                "입력",
                "다.",
                "”",
            ]
        ),
        st.sampled_from(TRICKY),
        st.text(max_size=6),
    ),
    max_size=6,
).map("".join)


@given(LINE_PARTS)
@example("Loading....................")
@example("\u3000 Advertisement \n")
@example("ⒸCOPYRİGHT")
@example("(image: x) ")
@example("사진 예시DB")
@settings(max_examples=1500, deadline=None, database=None)
def test_pre_tests_pass_every_matching_line(line: str) -> None:
    low = line.lower()
    if _ALWAYS_DROP.search(line):
        assert _may_drop(line)
    if _COPYRIGHT.search(line):
        assert _may_be_copyright(line, low)
    if _CAPTION.search(line):
        assert _may_be_caption(line, low)
    if _DATE.search(line) or _EN_DATE.search(line):
        assert _YEAR.search(line)
    assert _ends_sentence(line) == bool(re.search(r"[.!?。…\"'”’)\]다요죠까음함임]\s*$", line))
