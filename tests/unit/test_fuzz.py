"""Fuzzing what users and servers feed us: only the documented exceptions, and no hangs.

Each parser gets inputs built from the pieces real documents are made of (tags, entities,
encodings, CDATA, truncation) as well as plain random bytes. The rule language is fuzzed in
test_match.py. The whole module stays around 30 seconds; each test is also cut off by a
timer, so a hang fails the test instead of stalling the run.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import config as config_mod
from monitor.errors import ConfigError, ExtractError, NetworkError, SourceError
from monitor.extract import extract_article
from monitor.fetch import _Decoder, parse_retry_after
from monitor.models import Article, Page, Source
from monitor.robots import Robots
from monitor.sources.feed import FeedSource
from monitor.sources.html import HtmlSource
from monitor.text import declared_charset, decode

HANG_SECONDS = 20  # far above any test's budget: only a real hang trips it
SLOW_SECONDS = 5.0  # per input
FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


class Hang(Exception):
    """A fuzz test ran past HANG_SECONDS."""


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail a test that runs too long (a parser stuck on some input) instead of waiting."""

    def alarm(_sig: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {HANG_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pieces(*fragments: str) -> st.SearchStrategy[str]:
    """Documents glued from fragments, free text and long runs of one fragment (backtracking)."""
    free = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
    runs = st.tuples(st.sampled_from(fragments), st.integers(50, 800)).map(lambda fn: fn[0] * fn[1])
    part = st.one_of(st.sampled_from(fragments), free, runs)
    return st.lists(part, max_size=60).map("".join)


def quick(started: float) -> None:
    """No single input may take seconds: that is a hang in the making (catastrophic regex)."""
    assert time.monotonic() - started < SLOW_SECONDS


ENCODINGS = ["utf-8", "cp949", "euc-kr", "utf-16", "latin-1", "shift_jis"]


def encoded(text: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Text in one of the encodings Korean portals use (or misuse), or raw random bytes."""
    as_bytes = st.tuples(text, st.sampled_from(ENCODINGS)).map(
        lambda te: te[0].encode(te[1], errors="replace")
    )
    return st.one_of(as_bytes, st.binary(max_size=400))


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "text/html",
            "text/html; charset=utf-8",
            "text/html; charset=euc-kr",
            "text/html; charset=ks_c_5601-1987",
            "text/html; charset=bogus",
            "text/html; charset=",
            'application/rss+xml; charset="utf-8',
            "application/xml; charset=utf-16",
        ]
    ),
    st.text(max_size=30),
)

FEED = pieces(
    '<?xml version="1.0" encoding="euc-kr"?>',
    '<?xml version="1.0"?>',
    '<rss version="2.0">',
    "<channel>",
    "</channel>",
    "<item>",
    "</item>",
    "<title>평택 미래차</title>",
    "<link>https://news.example.kr/a/1</link>",
    "<link>javascript:alert(1)</link>",
    "<guid>g1</guid>",
    "<description><![CDATA[<p>본문</p>",
    "]]></description>",
    "<pubDate>Fri, 06 Sep 2024 15:44:00 +0900</pubDate>",
    "<pubDate>2024-13-45</pubDate>",
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    '<entry><link href="https://news.example.kr/a/2"/>',
    "</entry>",
    "&amp;",
    "&#0;",
    "&nbsp;",
    "&bogus;",
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
    "&a;",
    "</rss>",
)

HTML = pieces(
    "<!doctype html>",
    "<html>",
    '<meta charset="euc-kr">',
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
    "<title>평택시, 미래차 협약 - 신문</title>",
    '<meta property="article:published_time" content="2024-09-06T15:44:00+09:00">',
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "제목"',
    "</script>",
    "<article>",
    "</article>",
    "<h1>",
    "</h1>",
    "<p>",
    "</p>",
    '<div id="article-view-content-div">',
    "</div>",
    "<nav><a href='/'>홈</a></nav>",
    '<a href="https://news.example.kr/news/articleView.html?idxno=1">평택시 미래차 소식 기사</a>',
    "평택시는 6일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다.",
    "홍길동 기자",
    "입력 2024.09.06 15:44",
    "<br>",
    "<table><tr><td>",
    "<!--",
    "-->",
    "<",
    "&#xD55C;",
)

SOURCE = Source("fuzz", "feed", "https://news.example.kr/rss")


@settings(FUZZ, max_examples=800)
@given(body=encoded(FEED), content_type=CONTENT_TYPES)
def test_feed_parser_raises_only_source_error(body: bytes, content_type: str | None) -> None:
    page = Page(url="https://news.example.kr/rss", status=200, body=body, content_type=content_type)
    started = time.monotonic()
    try:
        links = FeedSource().parse(SOURCE, page)
    except SourceError:
        return
    finally:
        quick(started)
    assert all(link.url.startswith(("http://", "https://")) for link in links)


@settings(FUZZ, max_examples=800)
@given(body=encoded(HTML), content_type=CONTENT_TYPES)
def test_list_page_parser_raises_only_source_error(body: bytes, content_type: str | None) -> None:
    source = Source("fuzz", "html", "https://news.example.kr/list")
    page = Page(url=source.url, status=200, body=body, content_type=content_type)
    started = time.monotonic()
    try:
        links = HtmlSource().parse(source, page)
    except SourceError:
        return
    finally:
        quick(started)
    assert all(link.url.startswith(("http://", "https://")) for link in links)


@settings(FUZZ, max_examples=1000)
@given(body=encoded(HTML), content_type=CONTENT_TYPES)
def test_extraction_raises_only_extract_error(body: bytes, content_type: str | None) -> None:
    started = time.monotonic()
    try:
        article = extract_article(body, "https://news.example.kr/a/1", content_type)
    except ExtractError:
        return
    finally:
        quick(started)
    assert isinstance(article, Article) and isinstance(article.body, str)
    assert article.published_at is None or article.published_at.tzinfo is not None


@settings(FUZZ, max_examples=600)
@given(body=encoded(HTML), content_type=CONTENT_TYPES)
def test_charset_decoder_always_gives_text(body: bytes, content_type: str | None) -> None:
    started = time.monotonic()
    text, codec = decode(body, content_type)
    quick(started)
    assert isinstance(text, str) and codec
    declared, where = declared_charset(body, content_type)
    assert where in {"bom", "header", "meta", "none"} and (declared is None) == (where == "none")


TOML_VALUE = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=True),
        st.text(max_size=20),
        st.sampled_from(["10m", "1h30m", "0s", "soon", "https://news.example.kr/rss", "평택 미래차",
                         "(", '"', "feed", "html", "email", "0 8 * * *", "starttls", "http://"]),
        st.datetimes(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=12,
)  # fmt: skip

KEYS = {
    "": ["storage", "sources", "rules", "notifiers", "fetch", "synonyms", "timezone"],
    "sources": ["name", "kind", "url", "interval", "allow_private", "ignore_robots", "enabled",
                "max_items", "link_selector", "link_pattern", "allowed_hosts", "fetch_articles"],
    "rules": ["name", "query", "notify", "min_count", "proximity", "short_forms", "particles"],
    "notifiers": ["name", "kind", "to", "url", "schedule", "password_env", "secret_env", "tls"],
    "fetch": ["user_agent", "timeout", "max_bytes", "per_host", "host_delay", "hosts", "retries"],
}  # fmt: skip


def table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A TOML table whose keys are mostly real ones, with values of any TOML type."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.dictionaries(key, TOML_VALUE, max_size=8)


CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "storage": st.fixed_dictionaries({}, optional={"path": TOML_VALUE}),
        "sources": st.lists(table(KEYS["sources"]), max_size=3),
        "rules": st.lists(table(KEYS["rules"]), max_size=3),
        "notifiers": st.lists(table(KEYS["notifiers"]), max_size=2),
        "fetch": table(KEYS["fetch"]),
        "synonyms": st.dictionaries(st.text(max_size=6), TOML_VALUE, max_size=3),
        "timezone": TOML_VALUE,
    },
).flatmap(lambda d: st.just(d) | st.just({**d, "sources": TOML_VALUE}))


@settings(FUZZ, max_examples=600)
@given(raw=CONFIG)
def test_config_raises_only_config_error(raw: dict[str, Any]) -> None:
    try:
        config_mod.parse(raw)
    except ConfigError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


TOML_TEXT = pieces(
    "[storage]\n",
    'path = "x.db"\n',
    "[[sources]]\n",
    'name = "a"\n',
    'kind = "feed"\n',
    'url = "https://news.example.kr/rss"\n',
    'interval = "10m"\n',
    "[[rules]]\n",
    'query = "평택 미래차"\n',
    "[fetch]\n",
    "per_host = 0\n",
    '[fetch.hosts."news.example.kr"]\n',
    "host_delay = 2\n",
    "= \n",
    '"""\n',
    "[[sources]\n",
    "\x00",
)


@settings(FUZZ, max_examples=300, suppress_health_check=list(HealthCheck))
@given(text=TOML_TEXT)
def test_config_file_raises_only_config_error(scratch: Path, text: str) -> None:
    path = scratch / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config_mod.load(path)
    except ConfigError as exc:
        assert str(path) in str(exc) or "config file" in str(exc)


ROBOTS = pieces(
    "User-agent: *\n",
    "User-agent: monitor\n",
    "User-agent: mon*\n",
    "Disallow: /\n",
    "Disallow: /private/\n",
    "Allow: /private/ok$\n",
    "Disallow: /*.php$\n",
    "Disallow: /%E2%82%AC\n",
    "Crawl-delay: 4\n",
    "Crawl-delay: -1\n",
    "Crawl-delay: nan\n",
    "Request-rate: 10/1m\n",
    "Request-rate: 0/0s\n",
    "Visit-time: 0600-0845\n",
    "Sitemap: https://news.example.kr/sitemap.xml\n",
    "# comment\n",
    "\ufeff",
    ":",
    "\n",
)


@settings(FUZZ, max_examples=400)
@given(body=encoded(ROBOTS), path=st.text(max_size=20))
def test_robots_parser_never_raises(body: bytes, path: str) -> None:
    started = time.monotonic()
    rules = Robots.parse(body)
    quick(started)
    assert isinstance(rules.allowed(f"https://news.example.kr/{path}", "monitor"), bool)
    delay = rules.delay("monitor")
    assert delay is None or isinstance(delay, float)


@settings(FUZZ, max_examples=200)
@given(value=st.one_of(st.text(max_size=40), st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT",
       "Mon, 99 Foo 2015 99:99:99 GMT", "999999999999999999999", "-5", "1e3"])))  # fmt: skip
def test_retry_after_never_raises(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0


@settings(FUZZ, max_examples=200)
@given(
    encoding=st.sampled_from(["gzip", "deflate", "x-gzip", "identity", "", "gzip, gzip", "br"]),
    body=st.binary(max_size=300),
    limit=st.integers(min_value=1, max_value=1000),
)
def test_body_decoder_raises_only_network_error(encoding: str, body: bytes, limit: int) -> None:
    try:
        out = _Decoder(encoding, "https://news.example.kr/a").decode(body, limit)
    except NetworkError:
        return
    assert len(out) <= max(limit, len(body) if encoding in {"", "identity"} else limit)
