"""Every source kind through the real pipeline: a local portal serving realistic answers (a
sitemap index with a gzip child, the Naver search API, a Google News search, a JSON API,
paginated list pages), a temporary SQLite file, the `monitor` command, twice."""

from __future__ import annotations

import gzip
import json
import tomllib
import unicodedata
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import monitor.demo
from monitor.cli import main
from monitor.config import load
from tests.conftest import LocalServer, Route, write_config
from tests.unit.test_source_kinds import FIXTURES, google_feed

DEMO = Path(monitor.demo.__file__).parent / "site"
RULES = """
[[rules]]
name = "pt-future-cars"
query = "평택 미래차"

[[rules]]
name = "pt-port"
query = "평택항"
"""
NAVER_ID, NAVER_SECRET = "Xk2_test-client-id", "never-shown-9f8e7d"


def host(server: LocalServer) -> str:
    return f"127.0.0.1:{server.port}"


def fixture(server: LocalServer, name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"{host}", host(server).encode())


def serve_articles(server: LocalServer) -> None:
    """The sample portal's article pages (real ND-style markup, Korean text)."""
    for page in sorted((DEMO / "news").glob("articleView-*.html")):
        server.add(
            "news/" + page.name, Route(page.read_bytes().replace(b"{host}", host(server).encode()))
        )


def nfkc(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def demo_rules(number: int) -> list[str]:
    """The rules of RULES a sample-portal article satisfies, from its ground truth."""
    manifest = json.loads((DEMO / "MANIFEST.json").read_text(encoding="utf-8"))
    (article,) = [a for a in manifest["articles"] if a["idxno"] == number]
    return sorted(set(article["expected_rules"]) & {"pt-future-cars", "pt-port"})


def demo_title(number: int) -> str:
    """The headline of a sample-portal article (NFKC, as its ground truth is compared)."""
    manifest = json.loads((DEMO / "MANIFEST.json").read_text(encoding="utf-8"))
    (article,) = [a for a in manifest["articles"] if a["idxno"] == number]
    return nfkc(article["title"])


def config(tmp_path: Path, sources: str, rules: str = RULES) -> Path:
    return write_config(
        tmp_path / "monitor.toml",
        f'[storage]\npath = "{tmp_path / "monitor.db"}"\n{sources}\n{rules}',
    )


def cli(*args: str, code: int = 0, input: str | None = None, stdout: bool = False) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.stdout if stdout else result.output  # output: stdout and stderr (the logs)


def run_once(cfg: Path) -> str:
    return cli("run", "--once", "--config", str(cfg))


def export(cfg: Path) -> list[dict[str, Any]]:
    out = cli("export", "--config", str(cfg), "--format", "ndjson", stdout=True)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def line_of(output: str, source: str) -> str:
    return next(line for line in output.splitlines() if line.strip().startswith(source + " "))


# --------------------------------------------------------------------------- sitemap


def sitemap_portal(server: LocalServer) -> None:
    serve_articles(server)
    server.add(
        "sitemap_index.xml",
        Route(fixture(server, "sitemap_index.xml"), content_type="application/xml"),
    )
    # A .xml.gz served as a file: gzip bytes, no Content-Encoding.
    server.add(
        "sitemap-news.xml.gz",
        Route(
            gzip.compress(fixture(server, "sitemap-news.xml")), content_type="application/x-gzip"
        ),
    )
    server.add(
        "sitemap-2024-08.xml",
        Route(fixture(server, "sitemap-2024-08.xml"), content_type="text/xml; charset=utf-8"),
    )
    server.add(
        "sitemap-sections.xml",
        Route(fixture(server, "sitemap-sections.xml"), content_type="application/xml"),
    )


SITEMAP_SOURCE = """
[[sources]]
name = "pt-sitemap"
kind = "sitemap"
url = "{url}"
link_pattern = "articleView"
allow_private = true
"""


def test_sitemap_index_with_a_gzip_child_lists_only_newer_entries(
    server: LocalServer, tmp_path: Path
) -> None:
    sitemap_portal(server)
    cfg = config(tmp_path, SITEMAP_SOURCE.format(url=server.url("sitemap_index.xml")))

    assert "5 links, 5 new" in line_of(run_once(cfg), "pt-sitemap")
    rows = {r["url"].rsplit("/", 1)[1]: r for r in export(cfg)}
    assert sorted(rows) == [f"articleView-{n}.html" for n in (1001, 1002, 1004, 1008, 1009)]
    assert nfkc(rows["articleView-1009.html"]["title"]) == demo_title(1009)
    assert (
        rows["articleView-1009.html"]["rules"] == demo_rules(1009) == ["pt-future-cars", "pt-port"]
    )
    assert rows["articleView-1009.html"]["published_at"] == "2024-09-06T16:20:00+09:00"

    # Second poll: the index is read again, but no child whose lastmod is not newer than the
    # newest entry seen, and nothing is new.
    assert "0 new" in line_of(run_once(cfg), "pt-sitemap")
    assert server.hits["/sitemap_index.xml"] == 2
    assert server.hits["/sitemap-news.xml.gz"] == 1
    assert server.hits["/sitemap-2024-08.xml"] == 1

    # A new article: the news sitemap and its lastmod in the index change.
    news = fixture(server, "sitemap-news.xml").replace(
        b"<url>",
        f"""<url><loc>http://{host(server)}/news/articleView-1003.html</loc><news:news>
        <news:publication><news:name>평택미래신문</news:name><news:language>ko</news:language></news:publication>
        <news:publication_date>2024-09-06T17:00:00+09:00</news:publication_date>
        <news:title>평택 브레인시티 자율주행 실증단지</news:title></news:news></url><url>""".encode(),
        1,
    )
    server.add("sitemap-news.xml.gz", Route(gzip.compress(news), content_type="application/x-gzip"))
    server.add(
        "sitemap_index.xml",
        Route(
            fixture(server, "sitemap_index.xml").replace(
                b"2024-09-06T16:20:00", b"2024-09-06T17:00:00"
            ),
            content_type="application/xml",
        ),
    )
    assert "1 new" in line_of(run_once(cfg), "pt-sitemap")
    assert [r["url"].rsplit("/", 1)[1] for r in export(cfg)][-1] == "articleView-1003.html"


def test_a_broken_child_sitemap_is_named_and_loses_nothing(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sitemap_portal(server)
    server.add(
        "sitemap-news.xml.gz",
        Route(b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
    )
    cfg = config(tmp_path, SITEMAP_SOURCE.format(url=server.url("sitemap_index.xml")))

    # The other children are read; the broken one is reported by URL.
    out = line_of(run_once(cfg), "pt-sitemap")
    assert "2 links, 2 new" in out and "1 errors" in out
    child = server.url("sitemap-news.xml.gz")
    assert f"child sitemap {child}: not a sitemap: the root element is <html>" in caplog.text

    # Its entries are not skipped for good: the position did not move past them.
    sitemap_portal(server)  # the portal is fixed
    assert "5 links, 3 new" in line_of(run_once(cfg), "pt-sitemap")
    assert len(export(cfg)) == 5


def test_a_sitemap_whose_children_all_fail_fails_the_poll(
    server: LocalServer, tmp_path: Path
) -> None:
    server.add(
        "sitemap_index.xml",
        Route(fixture(server, "sitemap_index.xml"), content_type="application/xml"),
    )
    cfg = config(tmp_path, SITEMAP_SOURCE.format(url=server.url("sitemap_index.xml")))
    out = line_of(run_once(cfg), "pt-sitemap")
    assert f"FAILED: child sitemap {server.url('sitemap-news.xml.gz')}: HTTP 404" in out
    assert "last error: child sitemap" in cli("stats", "--config", str(cfg))

    server.add(
        "broken.xml",
        Route(b"<?xml version='1.0'?><urlset><url><loc>http://x", content_type="application/xml"),
    )
    cfg = config(
        tmp_path,
        SITEMAP_SOURCE.format(url=server.url("broken.xml")).replace("pt-sitemap", "pt-broken"),
    )
    assert "FAILED: not a sitemap" not in line_of(
        run_once(cfg), "pt-broken"
    )  # recovered: one odd entry


# --------------------------------------------------------------------------- naver


def naver_api(
    server: LocalServer, answers: list[tuple[int, bytes]] | None = None
) -> list[dict[str, list[str]]]:
    """The search API on the local server; returns the query strings it was asked."""
    serve_articles(server)
    body = fixture(server, "naver-news.json").replace(
        b"https:\\/\\/n.news.naver.com\\/", f"http:\\/\\/{host(server)}\\/naver\\/".encode()
    )
    asked: list[dict[str, list[str]]] = []

    def answer(handler: BaseHTTPRequestHandler) -> Route:
        asked.append(parse_qs(urlsplit(handler.path).query))
        if answers:
            status, payload = answers.pop(0)
            return Route(payload, status=status, content_type="application/json")
        if (
            handler.headers.get("X-Naver-Client-Id"),
            handler.headers.get("X-Naver-Client-Secret"),
        ) != (NAVER_ID, NAVER_SECRET):
            return Route(
                fixture(server, "naver-error-401.json"), status=401, content_type="application/json"
            )
        return Route(body, content_type="application/json; charset=UTF-8", etag=False)

    server.add("v1/search/news.json", answer)
    server.add(
        "members-only/article-77.html", Route(b"<html><body>members only</body></html>", status=403)
    )
    page = (
        (DEMO / "news" / "articleView-1006.html")
        .read_bytes()
        .replace(b"{host}", host(server).encode())
    )
    server.add("naver/mnews/article/003/0012771234", Route(page))
    return asked


def naver_source(server: LocalServer, extra: str = "") -> str:
    return f"""
[[sources]]
name = "naver-pt"
kind = "naver"
url = "{server.url("v1/search/news.json")}"
query = "평택 미래차"
client_id_env = "TEST_NAVER_ID"
client_secret_env = "TEST_NAVER_SECRET"
allow_private = true
{extra}
"""


@pytest.fixture
def naver_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NAVER_ID", NAVER_ID)
    monkeypatch.setenv("TEST_NAVER_SECRET", NAVER_SECRET)


@pytest.mark.usefixtures("naver_env")
def test_naver_search_results_become_full_articles(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    asked = naver_api(server)
    cfg = config(tmp_path, naver_source(server))

    out = run_once(cfg)
    assert "4 links, 4 new" in line_of(out, "naver-pt")
    assert asked[0] == {
        "query": ["평택 미래차"],
        "display": ["100"],
        "start": ["1"],
        "sort": ["date"],
    }
    rows = {r["url"].split(host(server), 1)[1]: r for r in export(cfg)}
    # Publishers' pages were fetched for the full article...
    assert nfkc(rows["/news/articleView-1009.html"]["title"]) == demo_title(1009)
    assert len(rows["/news/articleView-1009.html"]["body"]) > 500
    # ...except the one that forbids it: the API's own text is kept, without its <b> marks.
    locked = rows["/members-only/article-77.html"]
    assert locked["title"] == "[단독] 평택 포승 <미래차 클러스터> 부지 보상 착수"
    assert locked["body"].startswith(
        "평택시가 포승지구 미래차 클러스터 부지의 토지 보상 절차에 들어갔다."
    )
    assert "<b>" not in locked["body"] and locked["published_at"] == "2024-09-06T11:02:00+09:00"
    assert locked["rules"] == ["pt-future-cars"]
    assert "/naver/mnews/article/003/0012771234?sid=102" in rows  # no originallink: Naver's copy

    assert "0 new" in line_of(run_once(cfg), "naver-pt")
    stats = cli("stats", "--config", str(cfg))
    assert "quota naver:TEST_NAVER_ID" in stats and "2 of 25000 API calls" in stats
    # The secret travels only in the request header.
    assert NAVER_SECRET not in out + stats + caplog.text
    assert NAVER_SECRET.encode() not in (tmp_path / "monitor.db").read_bytes()


@pytest.mark.usefixtures("naver_env")
def test_naver_bad_credentials_are_named_and_nothing_is_stored(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    naver_api(server)
    monkeypatch.setenv("TEST_NAVER_SECRET", "wrong")
    cfg = config(tmp_path, naver_source(server))
    out = line_of(run_once(cfg), "naver-pt")
    assert (
        "FAILED: Naver API authentication failed: check the client id and secret in $TEST_NAVER_ID / $TEST_NAVER_SECRET"
        in out
    )
    assert "HTTP 401" in out and "wrong" not in out
    assert export(cfg) == []

    monkeypatch.delenv("TEST_NAVER_ID")
    out = line_of(run_once(cfg), "naver-pt")
    assert "FAILED: client_id_env: environment variable TEST_NAVER_ID is not set" in out
    assert server.hits["/v1/search/news.json"] == 1  # no call without credentials


@pytest.mark.usefixtures("naver_env")
def test_naver_daily_quota_is_kept_and_a_429_spends_the_day(
    server: LocalServer, tmp_path: Path
) -> None:
    naver_api(server)
    cfg = config(tmp_path, naver_source(server, "daily_quota = 1"))
    assert "4 new" in line_of(run_once(cfg), "naver-pt")
    assert "FAILED: daily quota used up: 1 calls for naver:TEST_NAVER_ID" in line_of(
        run_once(cfg), "naver-pt"
    )
    assert server.hits["/v1/search/news.json"] == 1

    other = tmp_path / "other"
    other.mkdir()
    naver_api(server, answers=[(429, fixture(server, "naver-error-429.json"))])
    cfg = config(other, naver_source(server))
    assert "FAILED: the Naver API limit is reached" in line_of(run_once(cfg), "naver-pt")
    assert "daily quota used up" in line_of(run_once(cfg), "naver-pt")  # the provider said so
    assert server.hits["/v1/search/news.json"] == 2


# --------------------------------------------------------------------------- google news


def google_news(server: LocalServer) -> list[dict[str, list[str]]]:
    serve_articles(server)
    feed = google_feed(gn=server.base, host=host(server))
    # The same 경기일보 article under another Google id in the other search.
    other = feed.replace(b"CBMiVkFVX3lxTHJp", b"CBMiVkFVX3lxTZZZ")
    asked: list[dict[str, list[str]]] = []

    def answer(handler: BaseHTTPRequestHandler) -> Route:
        query = parse_qs(urlsplit(handler.path).query)
        asked.append(query)
        return Route(
            other if query["q"] == ["평택항"] else feed,
            content_type="application/xml; charset=utf-8",
        )

    server.add("rss/search", answer)
    return asked


def test_google_news_search_from_a_rule(server: LocalServer, tmp_path: Path) -> None:
    asked = google_news(server)
    cfg = config(
        tmp_path,
        f"""
[[sources]]
name = "gnews-rule"
kind = "google-news"
url = "{server.url("rss/search")}"
rule = "pt-future-cars"
allow_private = true

[[sources]]
name = "gnews-port"
kind = "google-news"
url = "{server.url("rss/search")}"
query = "평택항"
allow_private = true
""",
    )
    out = cli("run", "--once", "--source", "gnews-rule", "--config", str(cfg))
    assert "4 links, 4 new" in line_of(out, "gnews-rule")
    out = cli("run", "--once", "--source", "gnews-port", "--config", str(cfg))
    assert "0 new, 0 matched, 1 dup" in line_of(out, "gnews-port")
    assert {"q": ["평택 미래차"], "hl": ["ko"], "gl": ["KR"], "ceid": ["KR:ko"]} in asked

    rows = export(cfg)
    assert len(rows) == 4
    resolved = next(r for r in rows if r["url"].endswith("/news/articleView-1009.html"))
    assert nfkc(resolved["title"]) == demo_title(1009) and len(resolved["body"]) > 500
    named = next(r for r in rows if "경기일보" not in r["url"] and r["title"].startswith('"평택항'))
    assert named["canonical_url"].startswith("https://news.google.com/search?")
    assert "site%3Awww.kyeonggi.com" in named["canonical_url"]
    assert named["rules"] == ["pt-future-cars", "pt-port"]
    # Google's own pages are never fetched: they resolve only by script.
    assert not any(path.startswith("/rss/articles/") for path in server.hits)
    assert server.hits["/news/articleView-1009.html"] == 1

    assert "unchanged" in line_of(run_once(cfg), "gnews-rule")  # the same answer: not re-read


# --------------------------------------------------------------------------- json


def test_json_api_listing_and_an_api_error_body(server: LocalServer, tmp_path: Path) -> None:
    serve_articles(server)
    server.add(
        "api/articles", Route(fixture(server, "json-api.json"), content_type="application/json")
    )
    server.add(
        "api/broken",
        Route(
            b'{"result": "fail", "code": 401, "message": "invalid api key"}',
            content_type="application/json",
        ),
    )
    source = """
[[sources]]
name = "{name}"
kind = "json"
url = "{url}"
items = "data.items"
fields = {{url = "link", title = "headline", published_at = "date", summary = "excerpt", author = "reporter.name"}}
allow_private = true
"""
    cfg = config(
        tmp_path,
        source.format(name="pt-api", url=server.url("api/articles?page=1"))
        + source.format(name="pt-api-broken", url=server.url("api/broken")),
    )
    out = run_once(cfg)
    assert "3 links, 3 new" in line_of(out, "pt-api")
    assert (
        "FAILED: items = 'data.items' is not in the answer: it has keys result, code, message "
        "(message: invalid api key)" in line_of(out, "pt-api-broken")
    )
    titles = {nfkc(r["title"]) for r in export(cfg)}
    assert titles == {demo_title(1008), demo_title(1005), demo_title(1010)}


# --------------------------------------------------------------------------- html


def list_pages(server: LocalServer) -> None:
    serve_articles(server)
    polls = {"count": 0}

    def answer(handler: BaseHTTPRequestHandler) -> Route:
        number = parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0]
        body = fixture(server, f"list-page-{number}.html")
        if number == "1":
            polls["count"] += 1  # the front page changes between polls, as real ones do
            body += f"<!-- served {polls['count']} -->".encode()
        return Route(body)

    server.add("news/articleList.html", answer)


def test_list_pages_are_followed_on_the_first_poll_only(
    server: LocalServer, tmp_path: Path
) -> None:
    list_pages(server)
    cfg = config(
        tmp_path,
        f"""
[[sources]]
name = "pt-list"
kind = "html"
url = "{server.url("news/articleList.html?page=1")}"
max_pages = 2
allow_private = true
""",
    )
    assert "7 links, 7 new" in line_of(run_once(cfg), "pt-list")
    pages = [path for path, _ in server.requests if path.startswith("/news/articleList.html")]
    assert [parse_qs(urlsplit(p).query)["page"] for p in pages] == [["1"], ["2"]]
    # The ranking box and the menu's breaking-news link are not in the list.
    assert not {"articleView-1001.html"} & {r["url"].rsplit("/", 1)[1] for r in export(cfg)}

    assert "4 links, 0 new" in line_of(run_once(cfg), "pt-list")
    pages = [path for path, _ in server.requests if path.startswith("/news/articleList.html")]
    assert len(pages) == 3  # page 1 again, and nothing further


def test_field_selectors_override_the_extractor(server: LocalServer, tmp_path: Path) -> None:
    server.add(
        "custom/list.html",
        Route(
            '<html><body><ul class="list"><li><a href="/custom/view.html?no=77">송탄산단 입주기업 설문</a></li></ul></body></html>'.encode()
        ),
    )
    server.add(
        "custom/view.html",
        Route((FIXTURES / "custom-article.html").read_bytes(), content_type="text/html"),
    )
    cfg = config(
        tmp_path,
        f"""
[[sources]]
name = "pttimes"
kind = "html"
url = "{server.url("custom/list.html")}"
link_selector = "ul.list a"
title_selector = "h2.vtitle"
body_selector = "#CmAdContent"
date_selector = ".wdate"
author_selector = ".writer"
allow_private = true
""",
    )
    assert "1 new, 1 matched" in line_of(run_once(cfg), "pttimes")
    (row,) = export(cfg)
    assert row["title"] == '평택 송탄산단 입주기업 35% "미래차 부품 전환 계획 있다"'
    assert row["author"] == "이순신 기자"
    assert row["published_at"] == "2024-09-06T15:44:00+09:00"
    assert (
        row["body"].count("\n") == 2
        and "많이 본 뉴스" not in row["body"]
        and "adSlot" not in row["body"]
    )


# --------------------------------------------------------------------------- test-source


@pytest.mark.usefixtures("naver_env")
def test_test_source_works_for_every_kind(server: LocalServer, tmp_path: Path) -> None:
    sitemap_portal(server)
    naver_api(server)
    google_news(server)
    list_pages(server)
    server.add(
        "api/articles", Route(fixture(server, "json-api.json"), content_type="application/json")
    )
    server.add(
        "rss.xml",
        Route(
            (DEMO / "rss.xml").read_bytes().replace(b"{host}", host(server).encode()),
            content_type="application/rss+xml",
        ),
    )
    cfg = config(
        tmp_path,
        SITEMAP_SOURCE.format(url=server.url("sitemap_index.xml"))
        + naver_source(server)
        + f"""
[[sources]]
name = "gnews"
kind = "google-news"
url = "{server.url("rss/search")}"
rule = "pt-future-cars"
allow_private = true

[[sources]]
name = "pt-api"
kind = "json"
url = "{server.url("api/articles")}"
items = "data.items"
fields = {{url = "link", title = "headline"}}
allow_private = true

[[sources]]
name = "pt-list"
kind = "html"
url = "{server.url("news/articleList.html?page=1")}"
allow_private = true

[[sources]]
name = "pt-feed"
kind = "feed"
url = "{server.url("rss.xml")}"
allow_private = true
""",
    )
    for name in ("pt-sitemap", "naver-pt", "gnews", "pt-api", "pt-list", "pt-feed"):
        preview = json.loads(
            cli("test-source", name, "--limit", "1", "--config", str(cfg), stdout=True)
        )
        assert preview["source"] == name and preview["links"] >= 3, preview
        (article,) = preview["articles"]
        assert "error" not in article and article["title"], preview
    assert export(cfg) == []  # a preview stores nothing


# --------------------------------------------------------------------------- monitor add


CONFIG_WITH_COMMENTS = """# 평택시청 언론 모니터링
# 여기 주석은 `monitor add` 뒤에도 남아 있어야 한다.

[storage]
path = "{db}"   # 데이터베이스

[[sources]]
name = "yonhap-local"          # 연합뉴스 지역
kind = "feed"
url = "https://www.yna.co.kr/rss/local.xml"
"""


def add_portal(server: LocalServer) -> None:
    serve_articles(server)
    sitemap_portal(server)
    server.add("/", Route(fixture(server, "home.html")))
    server.add("robots.txt", Route(fixture(server, "robots.txt"), content_type="text/plain"))
    rss = (DEMO / "rss.xml").read_bytes().replace(b"{host}", host(server).encode())
    server.add("rss/allArticle.xml", Route(rss, content_type="application/rss+xml"))
    one_item = (
        rss.split(b"<item>")[0]
        + b"<item>"
        + rss.split(b"<item>")[1].split(b"</item>")[0]
        + b"</item></channel></rss>"
    )
    server.add("rss/S1N2.xml", Route(one_item, content_type="application/rss+xml"))
    server.add("feed", Route(b"<html><body>page not found</body></html>"))  # a soft 404


def test_add_finds_feeds_and_sitemaps_and_appends_a_source(
    server: LocalServer, tmp_path: Path
) -> None:
    add_portal(server)
    original = CONFIG_WITH_COMMENTS.format(db=tmp_path / "monitor.db")
    cfg = write_config(tmp_path / "monitor.toml", original)

    out = cli("add", server.url("/"), "--name", "ptmirae", "--yes", "--config", str(cfg))
    lines = [line for line in out.splitlines() if line.startswith("  [")]
    assert lines[0].split()[1:3] == ["feed", server.url("rss/allArticle.xml")]
    assert "'평택미래신문 전체기사' (10 items; <link rel=alternate>)" in lines[0]
    assert "(1 items; <link rel=alternate>)" in lines[1]
    assert "sitemap" in lines[2] and "(3 child sitemaps; robots.txt)" in lines[2]
    assert len(lines) == 3  # the soft 404 at /feed and the missing paths are not offered

    text = cfg.read_text(encoding="utf-8")
    assert text.startswith(original)  # comments and layout survive
    added = tomllib.loads(text)["sources"][-1]
    assert added == {
        "name": "ptmirae",
        "kind": "feed",
        "url": server.url("rss/allArticle.xml"),
        "interval": "15m",
        "allow_private": True,
    }
    assert load(cfg).source("ptmirae").kind == "feed"
    preview = json.loads(
        cli("test-source", "ptmirae", "--limit", "1", "--config", str(cfg), stdout=True)
    )
    assert preview["links"] == 10

    # Asked, the user picks the sitemap index.
    cli("add", server.url("/"), "--name", "ptmirae-sitemap", "--config", str(cfg), input="3\ny\n")
    added = tomllib.loads(cfg.read_text(encoding="utf-8"))["sources"][-1]
    assert (added["kind"], added["url"]) == ("sitemap", server.url("sitemap_index.xml"))


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["--name", "yonhap-local", "--yes"],
            None,
            2,
            "a source named 'yonhap-local' is already in the config",
        ),
        (["--name", "bad name!", "--yes"], None, 2, "expected a name of letters, digits"),
        (["--name", "ptmirae"], "1\nn\n", 1, "Aborted"),
    ],
)
def test_add_refuses_without_touching_the_config(
    server: LocalServer, tmp_path: Path, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    add_portal(server)
    original = CONFIG_WITH_COMMENTS.format(db=tmp_path / "monitor.db")
    cfg = write_config(tmp_path / "monitor.toml", original)
    out = cli("add", server.url("/"), *args, "--config", str(cfg), code=code, input=stdin)
    assert message in out
    assert cfg.read_text(encoding="utf-8") == original


def test_add_with_nothing_to_find_says_so(server: LocalServer, tmp_path: Path) -> None:
    server.add("/", Route(b"<html><head><title>empty</title></head><body>hello</body></html>"))
    cfg = write_config(tmp_path / "monitor.toml", CONFIG_WITH_COMMENTS.format(db=tmp_path / "m.db"))
    out = cli("add", server.url("/"), "--yes", "--config", str(cfg), code=2)
    assert f"no feed or sitemap found for {server.url('/')}" in out
