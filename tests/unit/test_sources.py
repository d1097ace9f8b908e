"""Source kinds: feeds (RSS 2.0, Atom, RDF) and list pages yield the right links."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import SourceError
from monitor.models import Page, Source
from monitor.sources import KINDS, get_kind
from monitor.sources.feed import FeedSource
from monitor.sources.html import HtmlSource, discover_links

FEED = Source("f", "feed", "https://news.example.kr/rss.xml")


def page(
    body: str | bytes, url: str = "https://news.example.kr/rss.xml", ct: str | None = None
) -> Page:
    data = body.encode() if isinstance(body, str) else body
    return Page(url=url, status=200, body=data, content_type=ct)


def test_unknown_kind_lists_known_ones() -> None:
    with pytest.raises(
        SourceError,
        match=r"unknown source kind 'rss' \(known: feed, google-news, html, json, naver, sitemap\)",
    ):
        get_kind("rss")
    assert set(KINDS) == {"feed", "html", "sitemap", "naver", "google-news", "json"}


def test_rss2_real_korean_feed(korean_pages: Path) -> None:
    truth = json.loads((korean_pages / "truth.json").read_text(encoding="utf-8"))["khan-rss-1.xml"]
    links = FeedSource().parse(
        Source("khan", "feed", "http://www.khan.co.kr/rss", settings={"max_items": 1000}),
        page((korean_pages / "khan-rss-1.xml").read_bytes(), "http://www.khan.co.kr/rss"),
    )
    # The feed lists three articles twice; each link is kept once.
    assert len(links) == len({i["link"] for i in truth["items"]}) == truth["item_count"] - 3
    first = truth["items"][0]
    assert links[0].url == first["link"]
    assert links[0].title == first["title"]
    assert links[0].published_at == datetime.fromisoformat(first["published"])


def test_rss2_other_real_feed(korean_pages: Path) -> None:
    truth = json.loads((korean_pages / "truth.json").read_text(encoding="utf-8"))[
        "chosun-rss-1.xml"
    ]
    links = FeedSource().parse(FEED, page((korean_pages / "chosun-rss-1.xml").read_bytes()))
    assert [link.url for link in links] == [i["link"] for i in truth["items"]]


def test_atom_feed_with_relative_links() -> None:
    atom = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>평택뉴스</title>
<entry><title>평택항 전기차 수출 최대</title><link href="/news/1"/><id>tag:1</id>
<published>2024-09-06T15:44:00+09:00</published><author><name>홍길동</name></author>
<summary>요약</summary></entry></feed>"""
    links = FeedSource().parse(FEED, page(atom))
    assert len(links) == 1
    assert links[0].url == "https://news.example.kr/news/1"
    assert links[0].published_at == datetime(2024, 9, 6, 6, 44, tzinfo=UTC)
    assert links[0].author == "홍길동"


def test_rdf_feed() -> None:
    rdf = """<?xml version="1.0" encoding="euc-kr"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example.kr/"><title>뉴스</title><link>https://news.example.kr/</link></channel>
<item rdf:about="https://news.example.kr/a/2"><title>평택시 미래차 클러스터</title>
<link>https://news.example.kr/a/2</link><dc:date>2024-09-06T15:44:00+09:00</dc:date></item>
</rdf:RDF>""".encode("cp949")
    links = FeedSource().parse(FEED, page(rdf))
    assert [(x.url, x.title) for x in links] == [
        ("https://news.example.kr/a/2", "평택시 미래차 클러스터")
    ]


@pytest.mark.parametrize(
    "body", ["<html><body>not a feed</body></html>", "<rss><channel><item>", ""]
)
def test_broken_feed_is_a_source_error(body: str) -> None:
    with pytest.raises(SourceError):
        FeedSource().parse(FEED, page(body))


def test_max_items_caps_a_huge_feed() -> None:
    items = "".join(
        f"<item><title>기사 {i}</title><link>https://news.example.kr/a/{i}</link></item>"
        for i in range(10000)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    src = Source("f", "feed", FEED.url, settings={"max_items": 50})
    assert len(FeedSource().parse(src, page(body))) == 50


LIST_PAGE = """<html><head><meta charset="utf-8"></head><body>
<div id="gnb"><a href="/news/articleList.html?sc_section_code=S1N1">정치 뉴스 전체보기</a></div>
<nav><a href="/news/articleView.html?idxno=9001">메뉴에 있는 기사 링크입니다</a></nav>
<section class="article-list">
  <h4><a href="/news/articleView.html?idxno=1001">평택시, 미래자동차 클러스터 조성 본격화</a></h4>
  <h4><a href="/news/articleView.html?idxno=1002#comments">평택항 전기차 수출 역대 최대 기록</a></h4>
  <h4><a href="https://other.example.com/news/articleView.html?idxno=5">다른 사이트의 기사 링크입니다</a></h4>
  <h4><a href="/news/articleView.html?idxno=1001">평택시, 미래자동차 클러스터 조성 본격화</a></h4>
</section>
<aside class="side-box"><h3>많이 본 뉴스</h3>
  <a href="/news/articleView.html?idxno=777">평택 미래차 많이 본 뉴스 기사</a></aside>
<div class="footer"><a href="/company/about.html">회사소개 페이지로 이동</a></div>
</body></html>"""


def test_automatic_link_discovery_skips_menus_sidebars_and_other_hosts() -> None:
    links = discover_links(LIST_PAGE, "https://news.example.kr/index.html")
    assert [x.url for x in links] == [
        "https://news.example.kr/news/articleView.html?idxno=1001",
        "https://news.example.kr/news/articleView.html?idxno=1002",
    ]
    assert links[0].title == "평택시, 미래자동차 클러스터 조성 본격화"


def test_css_selector_picks_exactly_what_it_says() -> None:
    links = discover_links(LIST_PAGE, "https://news.example.kr/", selector="aside.side-box a")
    assert [x.url for x in links] == ["https://news.example.kr/news/articleView.html?idxno=777"]


def test_selector_matching_nothing_is_an_error() -> None:
    src = Source("h", "html", "https://news.example.kr/", settings={"link_selector": "div.none a"})
    with pytest.raises(SourceError, match="matched no links"):
        HtmlSource().parse(src, page(LIST_PAGE, "https://news.example.kr/"))


def test_html_source_decodes_euc_kr_list_page() -> None:
    body = LIST_PAGE.replace('charset="utf-8"', 'charset="euc-kr"').encode("cp949")
    src = Source("h", "html", "https://news.example.kr/")
    links = HtmlSource().parse(src, page(body, "https://news.example.kr/", "text/html"))
    assert links[1].title == "평택항 전기차 수출 역대 최대 기록"


def _feedparser_links(page: Page) -> list[tuple[object, ...]]:
    """What the feedparser path reads from a feed, for comparison."""
    from monitor.sources.feed import parse_feed, when_of

    out = []
    for e in parse_feed(page).entries:
        out.append(
            (
                e.get("link", "").strip(),
                (e.get("title") or "").strip() or None,
                when_of(e.get("published_parsed") or e.get("updated_parsed")),
                e.get("id") or None,
            )
        )
    return out


def _feeds() -> list[tuple[str, bytes]]:
    from monitor.demo import SITE
    from tests.conftest import KOREAN_PAGES

    feeds = [("demo", (SITE / "rss.xml").read_bytes().replace(b"{host}", b"127.0.0.1:8765"))]
    feeds += [(p.name, p.read_bytes()) for p in sorted(KOREAN_PAGES.glob("*.xml"))]
    return feeds


@pytest.mark.parametrize(("name", "body"), _feeds(), ids=[n for n, _ in _feeds()])
def test_fast_feed_path_reads_what_feedparser_reads(name: str, body: bytes) -> None:
    from monitor.sources.feed import fast_links

    p = page(body, "http://www.example.kr/rss")
    fast = fast_links(p)
    assert fast is not None, f"{name}: a well-formed feed must take the fast path"
    assert [(x.url, x.title, x.published_at, x.guid) for x in fast] == _feedparser_links(p)


@pytest.mark.parametrize(
    "body",
    [b"<rss><channel><item><title>t</title>", b"<html><body>x</body></html>", b"",
     b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel><item><link>&a;</link></item></channel></rss>'],
)  # fmt: skip
def test_fast_feed_path_declines_what_it_cannot_vouch_for(body: bytes) -> None:
    from monitor.sources.feed import fast_links

    links = fast_links(page(body))
    assert links is None or all("aaaa" not in x.url for x in links)
