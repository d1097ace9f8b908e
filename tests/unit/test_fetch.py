"""Fetching against a real local server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import fetch as fetch_mod
from monitor.config import FetchSettings, HostLimits
from monitor.errors import (
    BlockedURLError,
    BodyTooLargeError,
    HTTPStatusError,
    NetworkError,
    RobotsDisallowedError,
    ThrottledError,
)
from monitor.fetch import Fetcher, is_public_address, parse_retry_after
from monitor.models import CachedResponse, Page, Source
from monitor.pipeline import MAX_BACKOFF, backoff, link_allowed, site_of
from monitor.robots import Robots, product_token
from monitor.store import Store
from tests.conftest import LocalServer, Route

FAST = FetchSettings(timeout=2.0, max_bytes=100_000, max_redirects=3, retries=0, host_delay=0)


def get(url: str, settings: FetchSettings = FAST, **kw: Any) -> Page:
    """One GET through a fresh fetcher; robots.txt is skipped unless the test asks for it."""
    kw.setdefault("allow_private", True)
    kw.setdefault("robots", False)

    async def go() -> Page:
        async with Fetcher(settings) as f:
            return await f.get(url, **kw)

    return asyncio.run(go())


def resolve_to_loopback(calls: list[str] | None = None) -> fetch_mod.Resolver:
    """A resolver that sends every name to 127.0.0.1 (so tests name hosts without DNS)."""

    async def resolver(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return ["127.0.0.1"]

    return resolver


def paths(server: LocalServer) -> list[str]:
    return [p for p, _h in server.requests]


# -- plain requests ---------------------------------------------------------------------------


def test_plain_get_sends_user_agent(server: LocalServer) -> None:
    url = server.add("a.html", Route("<p>안녕</p>".encode(), content_type="text/html"))
    p = get(url)
    assert p.status == 200 and p.body == "<p>안녕</p>".encode()
    assert p.content_type == "text/html" and p.etag
    assert "monitor/" in server.requests[0][1]["User-Agent"]


def test_conditional_get_returns_not_modified(server: LocalServer) -> None:
    url = server.add("feed.xml", Route(b"<rss/>", content_type="application/rss+xml"))
    first = get(url)
    second = get(url, etag=first.etag)
    assert second.not_modified and second.body == b""
    assert server.requests[1][1].get("If-None-Match") == first.etag


def test_redirects_are_followed_and_final_url_kept(server: LocalServer) -> None:
    target = server.add("final.html", Route(b"ok"))
    server.add("go", Route(status=301, headers={"Location": "/final.html"}))
    p = get(server.url("go"))
    assert p.url == target and p.body == b"ok"


def test_redirect_loop_is_a_network_error(server: LocalServer) -> None:
    server.add("loop", Route(status=302, headers={"Location": "/loop"}))
    with pytest.raises(NetworkError, match="more than 3 redirects"):
        get(server.url("loop"))
    assert server.hits["/loop"] == 4


def test_error_status_is_an_http_error(server: LocalServer) -> None:
    server.add("gone", Route(b"gone", status=410))
    with pytest.raises(HTTPStatusError) as err:
        get(server.url("gone"))
    assert err.value.status == 410 and "HTTP 410" in str(err.value)


def test_connection_reset_is_a_network_error(server: LocalServer) -> None:
    server.add("reset", Route(reset=True))
    with pytest.raises(NetworkError):
        get(server.url("reset"))


def test_slow_drip_body_hits_the_overall_deadline(server: LocalServer) -> None:
    server.add("drip", Route(b"x" * 200, drip=0.05))
    started = time.monotonic()
    with pytest.raises(NetworkError, match="timed out"):
        get(server.url("drip"), FetchSettings(timeout=1.0, retries=0))
    assert time.monotonic() - started < 3.0  # 1.5 x timeout, not 200 x 0.05 s


def test_transient_failure_is_retried(server: LocalServer) -> None:
    calls = {"n": 0}

    def flaky(_h: object) -> Route:
        calls["n"] += 1
        return Route(reset=True) if calls["n"] == 1 else Route(b"ok")

    server.add("flaky", flaky)
    p = get(server.url("flaky"), FetchSettings(timeout=2.0, retries=1))
    assert p.body == b"ok" and calls["n"] == 2


# -- bodies: size cap, streaming, decompression ----------------------------------------------


def test_declared_body_over_cap_is_refused_before_reading(server: LocalServer) -> None:
    server.add("big", Route(size=200_000_000, content_type="text/html"))
    with pytest.raises(BodyTooLargeError, match="200000000 bytes exceeds 100000"):
        get(server.url("big"))
    assert server.sent.get("/big", 0) < 20_000_000  # a 200 MB body, stopped early


def test_undeclared_200_mb_body_is_cut_at_the_cap(server: LocalServer) -> None:
    server.add("big", Route(size=200_000_000, declare=False))
    with pytest.raises(BodyTooLargeError, match="exceeds 100000 bytes"):
        get(server.url("big"))
    assert server.sent.get("/big", 0) < 20_000_000


def test_gzip_bomb_stops_at_the_cap_without_inflating_in_memory(server: LocalServer) -> None:
    server.add("bomb", Route(size=200_000_000, gzip=True))  # 200 MB of zeros, ~200 KB sent
    settings = FetchSettings(timeout=5.0, max_bytes=2_000_000, retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLargeError):
            get(server.url("bomb"), settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # One 64 KiB network read of this bomb inflates to ~64 MB if decoded unbounded.
    assert peak < 12_000_000, peak


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress("평택 미래차".encode() * 50)),
        ("deflate", zlib.compress("평택 미래차".encode() * 50)),
        ("deflate", zlib.compress("평택 미래차".encode() * 50)[2:-4]),  # raw deflate
        ("gzip", gzip.compress("평택 ".encode() * 25) + gzip.compress("미래차".encode() * 50)),
        ("identity", "평택 미래차".encode() * 50),
    ],
    ids=["gzip", "zlib", "raw-deflate", "two-members", "identity"],
)
def test_compressed_bodies_are_decoded(server: LocalServer, encoding: str, packed: bytes) -> None:
    server.add("z", Route(packed, headers={"Content-Encoding": encoding}))
    body = get(server.url("z")).body
    assert body.decode().count("미래차") == 50


def test_unknown_or_broken_encoding_is_a_clear_error(server: LocalServer) -> None:
    server.add("br", Route(b"\x1b\x00", headers={"Content-Encoding": "br"}))
    server.add("bad", Route(b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(NetworkError, match="unsupported Content-Encoding 'br'"):
        get(server.url("br"))
    with pytest.raises(NetworkError, match="cannot decode"):
        get(server.url("bad"))


# -- per-host politeness ----------------------------------------------------------------------


def test_host_delay_spaces_requests_to_one_host(server: LocalServer) -> None:
    starts: list[float] = []

    def stamp(_h: object) -> Route:
        starts.append(time.monotonic())
        return Route(b"ok")

    server.add("p", stamp)
    settings = FetchSettings(
        timeout=2.0, retries=0, per_host=4, hosts={"127.0.0.1": HostLimits(host_delay=0.25)}
    )

    async def go() -> None:
        async with Fetcher(settings) as f:
            await asyncio.gather(*(f.get(server.url("p"), allow_private=True) for _ in range(4)))

    asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4 and min(gaps) >= 0.2, gaps


def test_loopback_has_no_default_delay_but_other_hosts_do(server: LocalServer) -> None:
    server.add("p", Route(b"ok"))
    settings = FetchSettings(timeout=2.0, retries=0, host_delay=0.4)

    async def go(host: str) -> float:
        async with Fetcher(settings, resolver=resolve_to_loopback()) as f:
            started = time.monotonic()
            for _ in range(3):
                await f.get(f"http://{host}:{server.port}/p", allow_private=True, robots=False)
            return time.monotonic() - started

    assert asyncio.run(go("127.0.0.1")) < 0.3
    assert asyncio.run(go("portal.test")) >= 0.75


def test_per_host_concurrency_from_the_config(server: LocalServer) -> None:
    active = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow(_h: object) -> Route:
        with lock:
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
        time.sleep(0.1)
        with lock:
            active["now"] -= 1
        return Route(b"ok")

    server.add("s", slow)
    settings = FetchSettings(timeout=2.0, retries=0, hosts={"127.0.0.1": HostLimits(per_host=1)})

    async def go() -> None:
        async with Fetcher(settings) as f:
            await asyncio.gather(*(f.get(server.url("s"), allow_private=True) for _ in range(4)))

    asyncio.run(go())
    assert active["most"] == 1


def test_429_pauses_that_host_only(server: LocalServer) -> None:
    server.add("busy", Route(b"slow down", status=429, headers={"Retry-After": "120"}))
    server.add("ok", Route(b"ok"))

    async def go() -> tuple[ThrottledError, ThrottledError, Page, float]:
        async with Fetcher(FAST, resolver=resolve_to_loopback()) as f:
            a = f"http://busy.test:{server.port}"
            with pytest.raises(ThrottledError) as first:
                await f.get(a + "/busy", allow_private=True, robots=False)
            with pytest.raises(ThrottledError) as second:
                await f.get(a + "/ok", allow_private=True, robots=False)
            other = await f.get(f"http://calm.test:{server.port}/ok", allow_private=True)
            return first.value, second.value, other, f.throttled_for(a + "/x")

    first, second, other, left = asyncio.run(go())
    assert first.status == 429 and first.retry_after == 120.0 and first.wait == 120.0
    assert isinstance(first, HTTPStatusError)  # callers that look at the status still can
    assert "not sent: busy.test is paused" in str(second) and second.status == 429
    assert other.body == b"ok" and 110 < left <= 120
    # The paused host got no request after the 429; the other host was served.
    assert [p for p in paths(server) if p != "/robots.txt"] == ["/busy", "/ok"]


def test_503_without_retry_after_pauses_a_minute(server: LocalServer) -> None:
    server.add("down", Route(b"maintenance", status=503))
    with pytest.raises(ThrottledError) as err:
        get(server.url("down"))
    assert err.value.wait == fetch_mod.THROTTLE_DEFAULT and err.value.retry_after is None


def test_retry_after_is_capped(server: LocalServer) -> None:
    server.add("busy", Route(status=429, headers={"Retry-After": "99999999"}))
    with pytest.raises(ThrottledError) as err:
        get(server.url("busy"))
    assert err.value.wait == fetch_mod.THROTTLE_MAX


def test_a_host_that_keeps_failing_is_paused(server: LocalServer) -> None:
    server.add("reset", Route(reset=True))

    async def go() -> list[Exception]:
        errors: list[Exception] = []
        async with Fetcher(FAST) as f:
            for _ in range(fetch_mod.TRIP_AFTER + 1):
                try:
                    await f.get(server.url("reset"), allow_private=True, robots=False)
                except (NetworkError, ThrottledError) as exc:
                    errors.append(exc)
        return errors

    errors = asyncio.run(go())
    assert all(isinstance(e, NetworkError) for e in errors[:-1])
    assert isinstance(errors[-1], ThrottledError) and "network errors in a row" in str(errors[-1])
    assert server.hits["/reset"] == fetch_mod.TRIP_AFTER


# -- robots.txt -------------------------------------------------------------------------------


ROBOTS = b"""User-agent: *
Disallow: /private/

User-agent: monitor
Disallow: /drafts/
Allow: /drafts/public
"""


def robots_run(server: LocalServer, urls: Iterable[str], **kw: Any) -> list[object]:
    """GET each URL with robots.txt honoured; returns pages and errors in order."""

    async def go() -> list[object]:
        out: list[object] = []
        async with Fetcher(FAST, **kw) as f:
            for url in urls:
                try:
                    out.append(await f.get(server.url(url), allow_private=True))
                except Exception as exc:  # collected for the assertions below
                    out.append(exc)
        return out

    return asyncio.run(go())


def test_robots_txt_is_honoured_for_our_product_token(server: LocalServer) -> None:
    server.add("robots.txt", Route(ROBOTS, content_type="text/plain"))
    for p in ("private/a", "drafts/a", "drafts/public", "news/1"):
        server.add(p, Route(b"ok"))
    out = robots_run(server, ["news/1", "drafts/a", "drafts/public", "private/a"])
    assert isinstance(out[0], Page) and isinstance(out[2], Page)
    assert isinstance(out[1], RobotsDisallowedError) and "ignore_robots" in str(out[1])
    # The "monitor" group applies to us, not the "*" group.
    assert isinstance(out[3], Page)
    assert paths(server).count("/robots.txt") == 1
    assert "/drafts/a" not in paths(server)


def test_robots_false_skips_robots_txt(server: LocalServer) -> None:
    server.add("robots.txt", Route(b"User-agent: *\nDisallow: /\n"))
    server.add("a", Route(b"ok"))
    assert get(server.url("a"), robots=False).body == b"ok"
    assert "/robots.txt" not in paths(server)


def test_missing_robots_txt_allows_everything(server: LocalServer) -> None:
    server.add("a", Route(b"ok"))
    out = robots_run(server, ["a", "a"])
    assert all(isinstance(o, Page) for o in out)
    assert paths(server) == ["/robots.txt", "/a", "/a"]


def test_unreachable_robots_txt_fetches_nothing_and_says_why(server: LocalServer) -> None:
    server.add("robots.txt", Route(b"oops", status=500))
    server.add("a", Route(b"ok"))
    out = robots_run(server, ["a", "a"])
    assert all(isinstance(o, ThrottledError) for o in out)
    assert "robots.txt unreachable (HTTP 500)" in str(out[0])
    assert paths(server) == ["/robots.txt"]  # asked once, then left alone for a while


def test_robots_crawl_delay_spaces_requests(server: LocalServer) -> None:
    server.add("robots.txt", Route(b"User-agent: *\nCrawl-delay: 0.3\n"))
    server.add("a", Route(b"ok"))
    started = time.monotonic()
    out = robots_run(server, ["a", "a", "a"])
    assert all(isinstance(o, Page) for o in out)
    assert time.monotonic() - started >= 0.6


def test_huge_robots_txt_is_read_up_to_512_kib(server: LocalServer) -> None:
    body = b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 200_000  # 2 MB
    server.add("robots.txt", Route(body))
    server.add("private/a", Route(b"ok"))
    out = robots_run(server, ["private/a"])
    assert isinstance(out[0], RobotsDisallowedError)


def test_robots_txt_is_kept_in_the_store_and_revalidated(
    server: LocalServer, tmp_path: Path
) -> None:
    server.add("robots.txt", Route(ROBOTS))
    server.add("drafts/a", Route(b"ok"))
    store = Store(tmp_path / "m.db")
    try:
        first = robots_run(server, ["drafts/a"], cache=store)
        second = robots_run(server, ["drafts/a"], cache=store)  # a new process, say
        assert isinstance(first[0], RobotsDisallowedError)
        assert isinstance(second[0], RobotsDisallowedError)
        assert paths(server).count("/robots.txt") == 1
        # A day later the kept copy is checked with its ETag and, unchanged, used again.
        robots_url = server.url("robots.txt")
        kept = store.cached_response(robots_url)
        assert kept is not None and kept.etag and kept.body == ROBOTS
        old = datetime.now(UTC) - timedelta(hours=25)
        store.save_response(CachedResponse(**{**_fields(kept), "fetched_at": old}))
        third = robots_run(server, ["drafts/a"], cache=store)
        assert isinstance(third[0], RobotsDisallowedError)
        last = [h for p, h in server.requests if p == "/robots.txt"][-1]
        assert last.get("If-None-Match") == kept.etag
    finally:
        store.close()


def _fields(entry: CachedResponse) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in CachedResponse.__slots__}


def test_robots_rules_and_product_token() -> None:
    rules = Robots.parse(ROBOTS)
    assert product_token("monitor/0.1 (news monitor; +mailto:desk@example.kr)") == "monitor"
    assert not rules.allowed("https://a.kr/drafts/x", "monitor")
    assert rules.allowed("https://a.kr/private/x", "monitor")
    assert not rules.allowed("https://a.kr/private/x", "otherbot")
    assert Robots.parse(b"User-agent: *\nRequest-rate: 1/5s\n").delay("monitor") == 5.0
    assert not Robots.unreachable("down").allowed("https://a.kr/", "monitor")


# -- addresses: private hosts, DNS rebinding, SNI, credentials on redirects ---------------------


def test_loopback_is_refused_unless_allowed(server: LocalServer) -> None:
    url = server.add("a.html", Route(b"ok"))
    with pytest.raises(BlockedURLError, match="allow_private"):
        get(url, allow_private=False, robots=True)
    assert server.hits == {}


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]"])
def test_other_spellings_of_loopback_are_refused(server: LocalServer, host: str) -> None:
    with pytest.raises(BlockedURLError, match="private or loopback"):
        get(f"http://{host}:{server.port}/a", allow_private=False)
    assert server.hits == {}


def pretend_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1 pass as a public address, so the local server can play a public host.

    No test may reach a real public host; 127.0.0.2 and the rest of loopback stay refused.
    """
    real = fetch_mod.is_public_address
    monkeypatch.setattr(fetch_mod, "is_public_address", lambda a: a == "127.0.0.1" or real(a))


def test_redirect_to_loopback_is_refused_after_the_hop(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_public(monkeypatch)
    server.add("a", Route(status=302, headers={"Location": "http://127.0.0.2:9/secret"}))

    async def public(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "public.example.kr" else [host]

    async def go() -> None:
        async with Fetcher(FAST, resolver=public) as f:
            await f.get(f"http://public.example.kr:{server.port}/a", robots=False)

    with pytest.raises(BlockedURLError, match=r"127\.0\.0\.2"):
        asyncio.run(go())
    assert paths(server) == ["/a"]


def test_connection_goes_to_the_address_that_was_checked(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: an allowed answer when checked, loopback a moment later. Had the
    # connection looked the name up again, it would have been refused or gone nowhere.
    pretend_public(monkeypatch)
    server.add("secret", Route(b"the checked host"))
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    async def go() -> Page:
        async with Fetcher(FAST, resolver=rebinding) as f:
            return await f.get(f"http://rebind.test:{server.port}/secret", robots=False)

    assert asyncio.run(go()).body == b"the checked host"
    assert lookups == ["rebind.test"]
    assert server.requests[0][1]["Host"] == f"rebind.test:{server.port}"


def test_an_address_resolved_again_at_connect_is_checked_again(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_mod, "DNS_TTL", 0.0)  # the checked answer expires at once
    pretend_public(monkeypatch)
    server.add("secret", Route(b"the checked host"))
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    async def go() -> None:
        async with Fetcher(FAST, resolver=rebinding) as f:
            await f.get(f"http://rebind.test:{server.port}/secret", robots=False)

    # Refused by the connector's own check, before any socket: a connection to 127.0.0.2
    # would have failed with a NetworkError instead.
    with pytest.raises(BlockedURLError, match=r"rebind\.test resolves to 127\.0\.0\.2"):
        asyncio.run(go())
    assert server.hits == {}


def test_pinned_connections_keep_the_host_header_and_resolve_once(server: LocalServer) -> None:
    server.add("a", Route(b"ok", headers={"Connection": "close"}))  # a new connection each time
    lookups: list[str] = []

    async def go() -> None:
        async with Fetcher(FAST, resolver=resolve_to_loopback(lookups)) as f:
            for _ in range(3):
                await f.get(f"http://portal.test:{server.port}/a", allow_private=True)

    asyncio.run(go())
    assert lookups == ["portal.test"]
    assert {h["Host"] for p, h in server.requests if p == "/a"} == {f"portal.test:{server.port}"}


def test_tls_names_the_host_not_the_pinned_address() -> None:
    hellos: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            hellos.append(conn.recv(4096))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with pytest.raises(NetworkError):
            _resolved_get(f"https://portal.test:{port}/")
    finally:
        thread.join(5)
        listener.close()
    # The ClientHello reached 127.0.0.1 and carries the name for SNI (and certificate checks).
    assert hellos and hellos[0][:1] == b"\x16" and b"portal.test" in hellos[0]


def _resolved_get(url: str, **kw: Any) -> Page:
    async def go() -> Page:
        async with Fetcher(FAST, resolver=resolve_to_loopback()) as f:
            return await f.get(url, allow_private=True, robots=False, **kw)

    return asyncio.run(go())


def test_credentials_headers_are_not_sent_to_another_origin(server: LocalServer) -> None:
    other = LocalServer()
    try:
        other.add("landing", Route(b"ok"))
        server.add("api", Route(status=302, headers={"Location": other.url("landing")}))
        page = _resolved_get(server.url("api"), headers={"X-Client-Secret": "s3cret"})
        assert page.body == b"ok"
        assert server.requests[0][1].get("X-Client-Secret") == "s3cret"
        assert "X-Client-Secret" not in other.requests[0][1]
    finally:
        other.close()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "http://"]
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedURLError):
        get(url)


def test_redirect_to_a_file_url_is_refused(server: LocalServer) -> None:
    server.add("go", Route(status=302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(BlockedURLError, match="only http"):
        get(server.url("go"))


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False),
     ("169.254.169.254", False), ("::1", False), ("::ffff:127.0.0.1", False), ("0.0.0.0", False),
     ("fe80::1%eth0", False), ("fc00::1", False), ("100.64.0.1", False), ("224.0.0.1", False),
     ("2001:4860:4860::8888", True), ("not an address", False)],
)  # fmt: skip
def test_public_address_check(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    later = datetime.now(UTC) + timedelta(seconds=90)
    assert 80 < (parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT")) or 0) <= 90


# -- the pipeline's side: which links are followed, how long a failing source waits ------------

SOURCE = Source("pt", "feed", "https://news.example.kr/rss")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("https://news.example.kr/a/1", True), ("https://www.example.kr/a/1", True),
     ("https://evil.kr/a/1", False), ("https://news.example.kr@evil.kr/a", False),
     ("https://example.kr.evil.kr/a", False), ("http://10.0.0.1/a", False)],
)  # fmt: skip
def test_links_stay_on_the_source_site(url: str, allowed: bool) -> None:
    assert link_allowed(url, SOURCE) is allowed


def test_an_ip_address_is_its_own_site() -> None:
    local = Source("l", "feed", "http://127.0.0.1:8000/rss", allow_private=True)
    assert link_allowed("http://127.0.0.1:8000/a", local)
    assert not link_allowed("http://10.0.0.1/a", local)  # shares the last two numbers, not a site
    assert site_of("192.168.0.1") == "192.168.0.1" and site_of("www.hani.co.kr") == "hani.co.kr"


def test_allowed_hosts_replace_the_own_site_rule() -> None:
    src = Source("s", "feed", "https://news.example.kr/rss", settings={"allowed_hosts": ["cdn.kr"]})
    assert link_allowed("https://img.cdn.kr/a", src)
    assert not link_allowed("https://news.example.kr/a", src)
    assert not link_allowed("https://evilcdn.kr/a", src)


def test_backoff_grows_is_capped_and_jittered() -> None:
    delays = [backoff(600, n) for n in range(1, 12)]
    assert 480 <= delays[0] <= 720
    assert all(d <= MAX_BACKOFF * 1.2 for d in delays)
    assert delays[-1] >= MAX_BACKOFF * 0.8
    assert len({round(backoff(600, 3)) for _ in range(20)}) > 1  # jitter: no thundering herd
    assert backoff(600, 10**6) <= MAX_BACKOFF * 1.2  # months of failures do not overflow
    assert backoff(2 * 86400, 5) >= 2 * 86400 * 0.8  # never sooner than a slow source's interval
