"""Fetching against a real local server that misbehaves on purpose."""

from __future__ import annotations

import asyncio

import pytest

from monitor.config import FetchSettings
from monitor.errors import BlockedURLError, BodyTooLargeError, HTTPStatusError, NetworkError
from monitor.fetch import Fetcher, is_public_address, parse_retry_after
from monitor.models import Page
from tests.conftest import LocalServer, Route

FAST = FetchSettings(timeout=2.0, max_bytes=100_000, max_redirects=3, retries=0)


def get(url: str, settings: FetchSettings = FAST, **kw: object) -> Page:
    async def go() -> Page:
        async with Fetcher(settings) as f:
            return await f.get(url, allow_private=True, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


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


def test_error_status_carries_retry_after(server: LocalServer) -> None:
    server.add("busy", Route(b"slow down", status=429, headers={"Retry-After": "120"}))
    with pytest.raises(HTTPStatusError) as err:
        get(server.url("busy"))
    assert err.value.status == 429 and err.value.retry_after == 120.0


def test_body_over_cap_is_refused(server: LocalServer) -> None:
    server.add("big", Route(b"x" * 200_000))
    with pytest.raises(BodyTooLargeError):
        get(server.url("big"))


def test_gzip_bomb_is_stopped_by_decompressed_size(server: LocalServer) -> None:
    server.add("bomb", Route(b"\0" * 5_000_000, gzip=True))
    with pytest.raises(BodyTooLargeError):
        get(server.url("bomb"))


def test_connection_reset_is_a_network_error(server: LocalServer) -> None:
    server.add("reset", Route(reset=True))
    with pytest.raises(NetworkError):
        get(server.url("reset"))


def test_slow_drip_body_hits_the_overall_deadline(server: LocalServer) -> None:
    server.add("drip", Route(b"x" * 200, drip=0.05))
    with pytest.raises(NetworkError, match="timed out"):
        get(server.url("drip"), FetchSettings(timeout=1.0, retries=0))


def test_transient_failure_is_retried(server: LocalServer) -> None:
    server.add("flaky", Route(b"ok", fail_first=0, reset=False))
    # A reset on the first try and success on the second, through a callable route.
    calls = {"n": 0}

    def flaky(_h: object) -> Route:
        calls["n"] += 1
        return Route(reset=True) if calls["n"] == 1 else Route(b"ok")

    server.add("flaky2", flaky)
    p = get(server.url("flaky2"), FetchSettings(timeout=2.0, retries=1))
    assert p.body == b"ok" and calls["n"] == 2


def test_loopback_is_refused_unless_allowed(server: LocalServer) -> None:
    url = server.add("a.html", Route(b"ok"))

    async def go() -> None:
        async with Fetcher(FAST) as f:
            await f.get(url)

    with pytest.raises(BlockedURLError, match="allow_private"):
        asyncio.run(go())
    assert server.hits == {}


def test_redirect_to_loopback_is_refused_after_the_hop() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/secret"})

    async def go() -> None:
        async with Fetcher(FAST, transport=httpx.MockTransport(handler)) as f:
            f._checked["public.example.kr"] = True  # no DNS here: pretend the name is public
            await f.get("http://public.example.kr/a")

    with pytest.raises(BlockedURLError):
        asyncio.run(go())


def test_non_http_scheme_is_refused() -> None:
    with pytest.raises(BlockedURLError, match="only http"):
        get("file:///etc/passwd")


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False),
     ("169.254.169.254", False), ("::1", False), ("::ffff:127.0.0.1", False), ("0.0.0.0", False),
     ("2001:4860:4860::8888", True)],
)  # fmt: skip
def test_public_address_check(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
