"""Source kinds beyond feeds: sitemaps, the Naver search API, Google News, JSON APIs, list-page
pagination and field selectors, as a user's config and a portal's real answers shape them."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from monitor.config import parse
from monitor.errors import ConfigError, SourceError
from monitor.fetch import Fetcher
from monitor.models import Page, Source
from monitor.sources import quotas
from monitor.sources.base import Poll, Quota, Request, clean_text, parse_when
from monitor.sources.google_news import (
    GoogleNewsSource,
    decode_article_url,
    identity_url,
    search_terms,
)
from monitor.sources.html import HtmlSource, next_page_url
from monitor.sources.jsonapi import JsonSource, dig
from monitor.sources.naver import NaverSource
from monitor.sources.sitemap import SitemapSource, gunzip, parse_sitemap
from monitor.store import Store
from tests.conftest import LocalServer, Route

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
KST = timezone(timedelta(hours=9))
HOST = "www.ptmirae.example"


def fixture(name: str, host: str = HOST) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"{host}", host.encode())


def page(body: bytes | str, url: str = f"http://{HOST}/", ct: str | None = None) -> Page:
    return Page(
        url=url, status=200, body=body.encode() if isinstance(body, str) else body, content_type=ct
    )


def old_id(url: str) -> str:
    """A Google News article id of the older kind, which carries the article URL."""
    raw = url.encode()
    return (
        base64.urlsafe_b64encode(b"\x08\x13\x22" + bytes([len(raw)]) + raw + b"\xd2\x01\x00")
        .decode()
        .rstrip("=")
    )


def google_feed(gn: str = "https://news.google.com", host: str = HOST) -> bytes:
    text = (FIXTURES / "google-news-search.xml").read_text(encoding="utf-8")
    text = text.replace(
        "{old:/news/articleView-1009.html}", old_id(f"http://{host}/news/articleView-1009.html")
    )
    return text.replace("{gn}", gn).replace("{host}", host).encode()


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-06T15:44:00+09:00", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("2024-09-06T06:44:00Z", datetime(2024, 9, 6, 6, 44, tzinfo=UTC)),
        ("2024-09-06", datetime(2024, 9, 6, tzinfo=KST)),
        ("Fri, 06 Sep 2024 16:20:00 +0900", datetime(2024, 9, 6, 16, 20, tzinfo=KST)),
        ("2024.09.06 15:44", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("2024-09-06 14:00:00", datetime(2024, 9, 6, 14, 0, tzinfo=KST)),
        ("입력 2024.09.06 오후 3:44", datetime(2024, 9, 6, 15, 44, tzinfo=KST)),
        ("2024년 9월 6일 오전 12:05", datetime(2024, 9, 6, 0, 5, tzinfo=KST)),
        (1725600600000, datetime(2024, 9, 6, 5, 30, tzinfo=UTC)),
        ("1725600600", datetime(2024, 9, 6, 5, 30, tzinfo=UTC)),
        ("어제", None),
        ("", None),
        (None, None),
        (True, None),
        ("2024.13.45 10:00", None),
    ],
)
def test_listing_timestamps_are_read_as_portals_write_them(
    value: object, expected: datetime | None
) -> None:
    assert parse_when(value) == expected


def test_clean_text_drops_naver_markup_and_entities() -> None:
    assert clean_text(
        "[단독] <b>평택</b> 포승 &lt;<b>미래차</b> 클러스터&gt; &quot;착수&quot;&hellip;"
    ) == ('[단독] 평택 포승 <미래차 클러스터> "착수"…')


# --------------------------------------------------------------------------- sitemaps


def test_news_sitemap_entries_carry_title_and_publication_time() -> None:
    sitemap = parse_sitemap(fixture("sitemap-news.xml"))
    assert [e.url for e in sitemap.entries] == [
        f"http://{HOST}/news/articleView-1009.html",
        f"http://{HOST}/news/articleView-1008.html",
        f"http://{HOST}/news/articleView-1002.html",
    ]
    first, _, third = sitemap.entries
    assert first.title == "평택시, 미래차 부품 5개사와 1850억 투자협약…일자리 420개 기대"
    assert first.published_at == datetime(2024, 9, 6, 16, 20, tzinfo=KST)
    assert third.title == "평택항 전기차 수출 상반기 8만대 돌파…'미래차 수출 전진기지' 굳힌다"
    assert sitemap.children == []


def test_sitemap_index_lists_children_with_lastmod() -> None:
    index = parse_sitemap(fixture("sitemap_index.xml"))
    assert index.entries == []
    assert index.children == [
        (f"http://{HOST}/sitemap-news.xml.gz", datetime(2024, 9, 6, 16, 20, tzinfo=KST)),
        (f"http://{HOST}/sitemap-2024-08.xml", datetime(2024, 8, 31, 23, 50, tzinfo=KST)),
        (f"http://{HOST}/sitemap-sections.xml", None),
    ]


def test_gzip_sitemap_served_as_a_file_is_inflated() -> None:
    sitemap = parse_sitemap(gzip.compress(fixture("sitemap-news.xml")))
    assert len(sitemap.entries) == 3


def test_gzip_bomb_sitemap_is_refused() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (3 * 1024 * 1024))
    with pytest.raises(SourceError, match="inflates past"):
        gunzip(bomb, limit=1024 * 1024)


def test_sitemap_without_namespace_and_with_a_stray_ampersand_still_reads() -> None:
    body = b"<urlset><url><loc>http://x.example/a?id=1&page=2</loc><lastmod>2024-09-06</lastmod></url></urlset>"
    (entry,) = parse_sitemap(body).entries
    assert entry.url.startswith("http://x.example/a?id=1")
    assert entry.lastmod == datetime(2024, 9, 6, tzinfo=KST)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Page not found</body></html>", "the root element is <html>"),
        (b"", "the answer is empty"),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip"),
        (b'<?xml version="1.0"?><rss><channel></channel></rss>', "the root element is <rss>"),
    ],
)
def test_what_is_not_a_sitemap_says_what_it_is(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_sitemap(body)


def test_sitemap_entries_newer_than_the_cursor_only(server: LocalServer) -> None:
    source = Source("sm", "sitemap", server.url("sitemap-news.xml"), allow_private=True)
    listing_page = page(fixture("sitemap-news.xml"), source.url)

    async def read(cursor: str | None) -> Any:
        async with Fetcher() as fetcher:
            return await SitemapSource().links(
                source, listing_page, Poll(fetcher, source, cursor=cursor)
            )

    first = asyncio.run(read(None))
    assert len(first.links) == 3
    assert first.cursor == "2024-09-06T07:20:00+00:00"  # the newest entry, in UTC
    later = asyncio.run(read("2024-09-06T05:00:00+00:00"))  # 14:00 KST
    assert [link.url.rsplit("/", 1)[1] for link in later.links] == ["articleView-1009.html"]
    assert asyncio.run(read(first.cursor)).links == []


# --------------------------------------------------------------------------- naver


NAVER = Source(
    "naver-pt",
    "naver",
    "",
    settings={
        "query": "평택 미래차",
        "client_id_env": "TEST_NAVER_ID",
        "client_secret_env": "TEST_NAVER_SECRET",
    },
)


def test_naver_results_are_clean_links_to_the_publishers() -> None:
    body = fixture("naver-news.json")
    links = NaverSource().parse(NAVER, page(body, "https://openapi.naver.com/v1/search/news.json"))
    assert [link.title for link in links] == [
        "평택시, 미래차 부품 5개사와 1850억 투자협약…일자리 420개 기대",
        '평택항 전기차 수출 상반기 8만대 돌파…"미래차 수출 전진기지" 굳힌다',
        "[단독] 평택 포승 <미래차 클러스터> 부지 보상 착수",
        "경기도, 평택·화성 미래차 부품 실증 예산 120억 편성",
    ]
    # originallink is the article; Naver's own copy only when there is no other.
    assert links[0].url == f"http://{HOST}/news/articleView-1009.html"
    assert links[3].url == "https://n.news.naver.com/mnews/article/003/0012771234?sid=102"
    assert links[0].published_at == datetime(2024, 9, 6, 16, 20, tzinfo=KST)
    assert links[0].summary is not None and "<b>평택</b>" in links[0].summary  # read as HTML later


def test_naver_request_sends_credentials_as_headers_never_in_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_NAVER_ID", "id-123")
    monkeypatch.setenv("TEST_NAVER_SECRET", "s3cr3t-value")
    request = NaverSource().request(NAVER)
    assert request.url == (
        "https://openapi.naver.com/v1/search/news.json?query=%ED%8F%89%ED%83%9D+%EB%AF%B8%EB%9E%98%EC%B0%A8"
        "&display=100&start=1&sort=date"
    )
    assert request.headers["X-Naver-Client-Id"] == "id-123"
    assert request.headers["X-Naver-Client-Secret"] == "s3cr3t-value"
    assert "s3cr3t" not in repr(request)
    assert request.quota == Quota("naver:TEST_NAVER_ID", 25_000)
    assert request.robots is False


def test_naver_missing_environment_variable_names_key_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_NAVER_ID", "id-123")
    monkeypatch.delenv("TEST_NAVER_SECRET", raising=False)
    with pytest.raises(
        SourceError, match="client_secret_env: environment variable TEST_NAVER_SECRET is not set"
    ):
        NaverSource().request(NAVER)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            fixture("naver-error-401.json"),
            r"Naver API error 024: Not Exist Client ID : Authentication failed",
        ),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"total": 0}', "no 'items' list"),
    ],
)
def test_naver_error_bodies_are_reported(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        NaverSource().parse(NAVER, page(body))


def test_quotas_are_one_per_credential_with_the_smallest_limit() -> None:
    other = Source("naver-2", "naver", "", settings={**NAVER.settings, "daily_quota": 1000})
    assert quotas([NAVER, other, Source("f", "feed", "http://x.example/rss")]) == [
        Quota("naver:TEST_NAVER_ID", 1000)
    ]


def test_call_budget_stops_at_the_limit_and_can_be_used_up(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    try:
        assert [store.spend_call("naver:K", "2024-09-06", 2) for _ in range(3)] == [
            True,
            True,
            False,
        ]
        assert store.calls_on("naver:K", "2024-09-06") == 2
        assert store.spend_call("naver:K", "2024-09-07", 2)  # a new day, a new budget
        store.use_up_calls("naver:K", "2024-09-07", 2)
        assert not store.spend_call("naver:K", "2024-09-07", 2)
    finally:
        store.close()


def test_a_spent_quota_makes_no_request(server: LocalServer, tmp_path: Path) -> None:
    url = server.add(
        "v1/search/news.json", Route(fixture("naver-news.json"), content_type="application/json")
    )
    source = Source("n", "naver", url, allow_private=True, settings=NAVER.settings)
    quota = Quota("naver:TEST_NAVER_ID", 1)
    store = Store(tmp_path / "m.db")

    async def call() -> Page:
        async with Fetcher() as fetcher:
            return await Poll(fetcher, source, store).get(Request(url, quota=quota))

    try:
        assert asyncio.run(call()).status == 200
        with pytest.raises(
            SourceError, match=r"daily quota used up: 1 calls for naver:TEST_NAVER_ID"
        ):
            asyncio.run(call())
    finally:
        store.close()
    assert server.hits["/v1/search/news.json"] == 1


# --------------------------------------------------------------------------- google news


def test_older_google_news_ids_carry_the_article_url() -> None:
    url = "https://www.kyeonggi.com/article/20240906580123"
    assert decode_article_url(f"https://news.google.com/rss/articles/{old_id(url)}?oc=5") == url
    assert decode_article_url(f"https://news.google.com/articles/{old_id(url)}") == url


@pytest.mark.parametrize(
    "link",
    [
        # Newer ids hold an opaque token, resolved only by script on Google's page.
        "https://news.google.com/rss/articles/CBMiVkFVX3lxTHJpR3BfNThXQW0tZFgzYTVJRG5PZGNkYldCMmRDNF9EU0RDNkxjMW14THBRMnlNS19ZZTlGWjF3VVZsNG51WVYtZDhmTll2dkRiekRaU1Q2?oc=5",
        "https://news.google.com/rss/articles/not*base64",
        "https://news.google.com/rss/articles/AAAAAAAAAAAA",
        "https://news.google.com/topstories?hl=ko",
    ],
)
def test_google_news_links_without_a_url_inside_are_not_resolved(link: str) -> None:
    assert decode_article_url(link) is None


def test_google_news_items_resolved_or_named_by_title_and_publisher() -> None:
    source = Source("gn", "google-news", "", settings={"query": "평택 미래차"})
    links = GoogleNewsSource().parse(
        source, page(google_feed(), "https://news.google.com/rss/search?q=x")
    )
    assert len(links) == 4
    resolved, port, *_ = links
    assert resolved.url == f"http://{HOST}/news/articleView-1009.html"
    assert resolved.fetch and resolved.canonical_url is None
    assert (
        resolved.title == "평택시, 미래차 부품 5개사와 1850억 투자협약…일자리 420개 기대"
    )  # no " - 평택미래신문"
    assert resolved.published_at == datetime(2024, 9, 6, 7, 20, tzinfo=UTC)
    assert port.url.startswith("https://news.google.com/rss/articles/CBMiVkFVX3lxTHJp")
    assert not port.fetch  # Google's page is a script, not the article
    assert port.title == '"평택항, 미래차 수출 전진기지로" 전기차 선적 상반기 8만대'
    assert port.canonical_url == identity_url(port.title, "경기일보", "https://www.kyeonggi.com")
    assert "site%3Awww.kyeonggi.com" in port.canonical_url


@pytest.mark.parametrize(
    ("rule", "google"),
    [
        ("평택 미래차", "평택 미래차"),
        ("평택 논란 OR 반발 OR 민원", "평택 논란 OR 반발 OR 민원"),
        ('title:평택 "자동차 산업" -중고', 'intitle:평택 "자동차 산업" -중고'),
        ("(평택 OR 수원) 관광객 source:pt-news url:local", "(평택 OR 수원) 관광객"),
        ("title:(평택 OR 수원) /20[0-9]{2}년/ 미래차", "(평택 OR 수원) 미래차"),
        ("body:반도체 -title:중고", "반도체 -intitle:중고"),
        ('평택 -"중고 거래"', '평택 -"중고 거래"'),
    ],
)
def test_rule_terms_become_a_google_search(rule: str, google: str) -> None:
    assert search_terms(rule) == google


def test_google_news_request_is_the_korean_edition_search() -> None:
    source = Source(
        "gn", "google-news", "", settings={"rule": "pt-port", "rule_query": "평택항 -중고"}
    )
    assert GoogleNewsSource().request(source).url == (
        "https://news.google.com/rss/search?q=%ED%8F%89%ED%83%9D%ED%95%AD+-%EC%A4%91%EA%B3%A0&hl=ko&gl=KR&ceid=KR%3Ako"
    )


# --------------------------------------------------------------------------- json


JSON_SOURCE = Source(
    "api",
    "json",
    f"http://{HOST}/api/articles?page=1",
    settings={
        "items": "data.items",
        "fields": {
            "url": "link",
            "title": "headline",
            "published_at": "date",
            "summary": "excerpt",
            "author": "reporter.name",
        },
    },
)


def test_json_listing_read_through_paths() -> None:
    links = JsonSource().parse(
        JSON_SOURCE, page(fixture("json-api.json"), JSON_SOURCE.url, "application/json")
    )
    assert [(link.url, link.author) for link in links] == [
        (f"http://{HOST}/news/articleView-1008.html", "홍길동 기자"),
        (f"http://{HOST}/news/articleView-1005.html", "김민지 기자"),
        (f"http://{HOST}/news/articleView-1010.html", None),  # "reporter": null
    ]  # the ad with "link": null is skipped
    assert links[1].title == "통복시장 청년몰 새단장 마치고 재개장…점포 12곳 새 주인 맞아"
    assert [link.published_at for link in links] == [
        datetime(2024, 9, 6, 14, 0, tzinfo=KST),
        datetime(2024, 9, 4, 11, 30, tzinfo=KST),
        datetime(2024, 9, 6, 5, 30, tzinfo=UTC),
    ]
    assert links[2].summary is None  # an empty excerpt is no summary


def test_json_url_template_builds_links_from_ids() -> None:
    source = Source("api", "json", JSON_SOURCE.url, settings={
        "items": "data.items", "fields": {"url": "/news/articleView.html?idxno={articleId}", "title": "headline"},
    })  # fmt: skip
    links = JsonSource().parse(source, page(fixture("json-api.json"), JSON_SOURCE.url))
    assert links[0].url == f"http://{HOST}/news/articleView.html?idxno=1008"
    assert len(links) == 4  # the ad has an id, so its templated URL exists too


def test_json_paths_take_list_positions() -> None:
    data = {"data": [{"items": [{"a": {"b": 1}}]}]}
    assert dig(data, "data.0.items.0.a.b") == 1
    assert dig(data, "") is data


@pytest.mark.parametrize(
    ("body", "settings", "message"),
    [
        (
            b'{"result": "fail", "message": "invalid api key"}',
            {},
            r"items = 'data.items' is not in the answer: it has keys result, message \(message: invalid api key\)",
        ),
        (b'{"data": {"items": {"a": 1}}}', {}, "leads to a dict, not a list"),
        (b"<html>maintenance</html>", {}, "not JSON: Expecting value at line 1 column 1"),
        (
            b'{"data": {"items": [{"href": "/a"}]}}',
            {},
            r"fields.url = 'link' gave no URL in any of the 1 items",
        ),
    ],
)
def test_json_errors_say_what_came_instead(
    body: bytes, settings: dict[str, Any], message: str
) -> None:
    source = Source("api", "json", JSON_SOURCE.url, settings={**JSON_SOURCE.settings, **settings})
    with pytest.raises(SourceError, match=message):
        JsonSource().parse(source, page(body, JSON_SOURCE.url))


# --------------------------------------------------------------------------- html


def test_list_page_finds_next_by_rel_or_selector() -> None:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(fixture("list-page-1.html").decode())
    url = f"http://{HOST}/news/articleList.html?page=1"
    expected = f"http://{HOST}/news/articleList.html?page=2&total=214&view_type=sm"
    assert next_page_url(tree, url, None) == expected
    assert next_page_url(tree, url, "li.pagination-next a") == expected
    last = LexborHTMLParser(fixture("list-page-3.html").decode())
    assert next_page_url(last, url, None) is None


def test_ranking_box_headed_as_such_is_not_part_of_the_list() -> None:
    links = HtmlSource().parse(
        Source("h", "html", f"http://{HOST}/"),
        page(fixture("list-page-1.html"), f"http://{HOST}/news/articleList.html"),
    )
    assert [link.url.rsplit("-", 1)[1] for link in links] == [
        "1009.html",
        "1008.html",
        "1010.html",
        "1007.html",
    ]


def test_field_selectors_read_an_euc_kr_article_page() -> None:
    source = Source("h", "html", f"http://{HOST}/", settings={
        "title_selector": "h2.vtitle", "body_selector": "#CmAdContent",
        "date_selector": ".wdate", "author_selector": ".writer",
    })  # fmt: skip
    fields = HtmlSource().fields(source, page(fixture("custom-article.html"), ct="text/html"))
    assert fields["title"] == '평택 송탄산단 입주기업 35% "미래차 부품 전환 계획 있다"'
    assert fields["published_at"] == datetime(2024, 9, 6, 15, 44, tzinfo=KST)
    assert fields["author"] == "이순신 기자"
    body = str(fields["body"]).split("\n")
    assert len(body) == 3 and body[0].startswith("평택 송탄일반산업단지")
    assert "adSlot" not in fields["body"]
    assert HtmlSource().fields(Source("h", "html", f"http://{HOST}/"), page("<p>x</p>")) == {}


# --------------------------------------------------------------------------- config


def load(sources: str, rules: str = "") -> Any:
    import tomllib

    return parse(tomllib.loads(sources + rules))


def problems(sources: str, rules: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(sources, rules)
    return info.value.problems


def test_every_kind_loads_from_a_documented_config() -> None:
    settings = load(
        """
[[sources]]
name = "pt-sitemap"
kind = "sitemap"
url = "https://www.ptmirae.example/sitemap_index.xml"
link_pattern = "articleView"
max_sitemaps = 3

[[sources]]
name = "naver-pt"
kind = "naver"
query = "평택 미래차"
client_id_env = "NAVER_CLIENT_ID"
client_secret_env = "NAVER_CLIENT_SECRET"
display = 100

[[sources]]
name = "gnews-pt"
kind = "google-news"
rule = "pt-future-cars"

[[sources]]
name = "pt-api"
kind = "json"
url = "https://www.ptmirae.example/api/articles"
items = "data.items"
fields = {url = "link", title = "headline", published_at = "date"}

[[sources]]
name = "pt-list"
kind = "html"
url = "https://www.ptmirae.example/news/articleList.html"
next_selector = "li.pagination-next a"
max_pages = 3
body_selector = "#article-view-content-div"
""",
        """
[[rules]]
name = "pt-future-cars"
query = "평택 미래차"
""",
    )
    gnews = settings.source("gnews-pt")
    assert gnews.settings["rule_query"] == "평택 미래차"
    assert [s.kind for s in settings.sources] == ["sitemap", "naver", "google-news", "json", "html"]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[sources]]\nname = "s"\nkind = "sitemap"\nurl = "https://x.example/s.xml"\nmax_sitemap = 3\n',
            "sources[0].max_sitemap: unknown key",
        ),
        (
            '[[sources]]\nname = "n"\nkind = "naver"\nquery = "평택"\nclient_secret_env = "S"\n',
            "sources[0].client_id_env: required",
        ),
        (
            '[[sources]]\nname = "n"\nkind = "naver"\nquery = "평택"\nclient_id_env = "my id"\nclient_secret_env = "S"\n',
            "sources[0].client_id_env: expected the name of an environment variable",
        ),
        (
            '[[sources]]\nname = "n"\nkind = "naver"\nquery = "평택"\nclient_id_env = "I"\nclient_secret_env = "S"\ndisplay = 500\n',
            "sources[0].display: expected a whole number from 1 to 100",
        ),
        (
            '[[sources]]\nname = "n"\nkind = "naver"\nclient_id_env = "I"\nclient_secret_env = "S"\n',
            "sources[0].query: required",
        ),
        (
            '[[sources]]\nname = "g"\nkind = "google-news"\nrule = "nope"\n',
            "sources[0].rule: no rule named 'nope'",
        ),
        (
            '[[sources]]\nname = "g"\nkind = "google-news"\nrule = "r"\nquery = "q"\n',
            "sources[0].query: give `query` or `rule`, not both",
        ),
        ('[[sources]]\nname = "g"\nkind = "google-news"\n', "sources[0].rule: required"),
        (
            '[[sources]]\nname = "j"\nkind = "json"\nurl = "https://x.example/api"\nfields = {title = "t"}\n',
            "sources[0].fields.url: required",
        ),
        (
            '[[sources]]\nname = "j"\nkind = "json"\nurl = "https://x.example/api"\nfields = {url = "u", headline = "t"}\n',
            "sources[0].fields.headline: unknown field",
        ),
        (
            '[[sources]]\nname = "h"\nkind = "html"\nurl = "https://x.example/"\nbody_selector = "div[["\n',
            "sources[0].body_selector: invalid CSS selector",
        ),
        (
            '[[sources]]\nname = "h"\nkind = "html"\nurl = "https://x.example/"\nmax_pages = 0\n',
            "sources[0].max_pages: expected a whole number from 1 to 50",
        ),
    ],
)
def test_bad_source_settings_name_their_key_path(toml: str, expected: str) -> None:
    found = problems(toml, '[[rules]]\nname = "r"\nquery = "평택"\n')
    assert any(p.startswith(expected) for p in found), found


def test_source_settings_serialise_for_the_store() -> None:
    settings = load(
        '[[sources]]\nname = "j"\nkind = "json"\nurl = "https://x.example/api"\nfields = {url = "u"}\n'
    )
    assert json.loads(json.dumps(settings.sources[0].settings)) == {"fields": {"url": "u"}}


def test_every_config_example_in_the_sources_doc_loads() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.S)
    kinds = set()
    for block in blocks:
        settings = load(block, '\n[[rules]]\nname = "pt-future-cars"\nquery = "평택 미래차"\n')
        kinds.update(s.kind for s in settings.sources)
    assert kinds == {"feed", "html", "sitemap", "naver", "google-news", "json"}


def test_naver_reads_further_pages_only_to_catch_up(server: LocalServer) -> None:
    """A full page newer than the last poll's newest result: the next page is read too."""
    items = json.loads(fixture("naver-news.json"))["items"]
    older = {**json.loads(fixture("naver-news.json")), "start": 5, "items": [
        {**items[0], "originallink": f"http://{HOST}/news/old-1.html", "pubDate": "Wed, 04 Sep 2024 10:00:00 +0900"},
    ]}  # fmt: skip
    asked: list[str] = []

    def answer(handler: Any) -> Route:
        asked.append(handler.path)
        return Route(json.dumps(older).encode(), content_type="application/json")

    url = server.add("v1/search/news.json", answer)
    source = Source(
        "n", "naver", url, allow_private=True, settings={**NAVER.settings, "display": 4}
    )
    first = page(fixture("naver-news.json"), url)

    async def read(cursor: str | None) -> Any:
        async with Fetcher() as fetcher:
            return await NaverSource().links(source, first, Poll(fetcher, source, cursor=cursor))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEST_NAVER_ID", "id")
        mp.setenv("TEST_NAVER_SECRET", "secret")
        assert len(asyncio.run(read(None)).links) == 4 and asked == []  # a first poll: one page
        caught_up = asyncio.run(read("2024-09-04T00:00:00+00:00"))
        assert [link.url for link in caught_up.links][-1] == f"http://{HOST}/news/old-1.html"
        assert asked == [
            "/v1/search/news.json?query=%ED%8F%89%ED%83%9D+%EB%AF%B8%EB%9E%98%EC%B0%A8&display=4&start=5&sort=date"
        ]
        assert caught_up.cursor == "2024-09-06T07:20:00+00:00"
        assert len(asyncio.run(read("2024-09-06T00:00:00+00:00")).links) == 4  # not all newer: stop
        assert len(asked) == 1


def test_a_next_page_that_fails_keeps_page_one_and_says_why(server: LocalServer) -> None:
    url = server.url("news/articleList.html?page=1")
    source = Source("h", "html", url, allow_private=True, settings={"max_pages": 3})

    async def read() -> Any:
        async with Fetcher() as fetcher:
            return await HtmlSource().links(
                source, page(fixture("list-page-1.html"), url), Poll(fetcher, source)
            )

    listing = asyncio.run(read())
    assert len(listing.links) == 4
    (problem,) = listing.problems
    assert problem.startswith(
        f"list page {server.base}/news/articleList.html?page=2&total=214&view_type=sm: HTTP 404"
    )


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("https://www.joongboo.com/", "joongboo"),
        ("www.pttimes.com", "pttimes"),
        ("https://news.example.co.kr/index.html", "example"),
        ("https://rss.donga.com/total.xml", "donga"),
        ("http://127.0.0.1:8765/", "127.0.0.1"),
    ],
)
def test_monitor_add_names_a_source_after_its_site(address: str, name: str) -> None:
    from monitor.discover import default_name

    assert default_name(address) == name
