"""One shared HTTP client: robots.txt, per-host limits, conditional GET, checked addresses.

Every hop of every request is checked in this order: the URL's scheme, the host's resolved
addresses (and the connection goes only to an address that was checked, so a DNS answer that
changes in between cannot lead us to a private host), robots.txt, then the host's turn (its
concurrency, its delay since the last request, and any pause it asked for with 429/503).
Bodies are streamed and decompressed here under a cap, so neither a 200 MB body nor a gzip
bomb is ever held in memory. The client is aiohttp: it costs a fraction of httpx's CPU per
request, and fetching is a large share of each article's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import ipaddress
import logging
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol
from urllib.parse import urljoin

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from monitor.config import FetchSettings
from monitor.errors import (
    BlockedURLError,
    BodyTooLargeError,
    FetchError,
    HTTPStatusError,
    MonitorError,
    NetworkError,
    RobotsDisallowedError,
    ThrottledError,
)
from monitor.models import CachedResponse, Page
from monitor.robots import MAX_BYTES as ROBOTS_MAX_BYTES
from monitor.robots import Robots, product_token

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]

_REDIRECTS = {301, 302, 303, 307, 308}
_THROTTLE_STATUS = {429, 503}
DNS_TTL = 300.0  # seconds a resolved (and checked) address list is reused
ROBOTS_TTL = 24 * 3600.0  # RFC 9309 2.4: a cached robots.txt is good for up to 24 hours
ROBOTS_RETRY = 600.0  # an unreachable robots.txt is asked for again after this
THROTTLE_DEFAULT = 60.0  # a 429/503 without Retry-After pauses the host this long
THROTTLE_MAX = 6 * 3600.0
TRIP_AFTER = 3  # network errors in a row that pause a host...
TRIP_FOR = 120.0  # ...for this long, so a dead host does not eat a whole run in timeouts
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay is honoured up to this
_KEEP = 2000  # hosts' addresses and robots.txt kept before expired ones are dropped
KEEPALIVE = 5.0  # seconds an idle connection is kept for the next request to its host
# What an aiohttp error means, for the ones whose own message says little.
_SAY = {
    "ServerDisconnectedError": "the server closed the connection before answering",
    "ClientPayloadError": "the connection was reset or closed mid-answer",
    "ClientConnectorDNSError": "cannot resolve the host",
    "ClientResponseError": "the server broke the HTTP protocol",
}
# A URL made only of these is sent byte for byte as the page wrote it, so the server sees the
# escapes it chose; any other character (or a non-ASCII host) is encoded first.
_NOT_AS_IS = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%\\^|]")


def is_public_address(address: str) -> bool:
    """Whether an IP address is a public unicast one (not private, loopback, link-local...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or not ip.is_global  # also shared address space (100.64.0.0/10) and the like
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "¹".isdigit() is true too
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver's addresses for a host, in its order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ResponseCache(Protocol):
    """Where what we know about a URL outlives the process (the store implements it)."""

    def cached_response(self, url: str) -> CachedResponse | None:
        """What was remembered about `url`, if anything."""
        ...

    def save_response(self, entry: CachedResponse) -> None:
        """Remember `entry` for its URL."""
        ...


class _Refused(Exception):
    """Raised inside the connector's resolver; the fetcher turns it into BlockedURLError."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} resolves to {address}")


class _Addresses:
    """Resolved addresses per host, reused for DNS_TTL: what was checked is what we connect to."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def get(self, host: str, port: int) -> list[str]:
        """The host's addresses (raises OSError when it does not resolve)."""
        hit = self._cache.get(host)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        addresses = list(await self._resolver(host, port))
        if not addresses:
            raise OSError(f"no address for {host}")
        if len(self._cache) > _KEEP:  # a daemon meets many hosts over months: forget stale ones
            self._cache = {h: v for h, v in self._cache.items() if v[0] > now}
        self._cache[host] = (now + DNS_TTL, addresses)
        return addresses


class _PinnedResolver(AbstractResolver):
    """The connector's only resolver: checked addresses from `_Addresses`, nothing else."""

    def __init__(self, addresses: _Addresses, allow_private: bool) -> None:
        self._addresses = addresses
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve, refuse any private address unless allowed; the socket goes to these only."""
        addresses = await self._addresses.get(host, port)  # OSError: aiohttp's DNS error
        if not self._allow_private:
            for address in addresses:
                if not is_public_address(address):
                    raise _Refused(host, address)
        # TLS SNI, certificate checks and the Host header still use the name from the URL:
        # only the socket's peer is pinned.
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: `_Addresses` belongs to the fetcher."""


class _Decoder:
    """Undoes Content-Encoding chunk by chunk, never making more bytes than it is asked for."""

    def __init__(self, encoding: str, url: str) -> None:
        codings = [c.strip() for c in encoding.lower().split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._url = url
        self._raw_fallback = False
        if not codings:
            self._wbits = 0
        elif codings in (["gzip"], ["x-gzip"]):
            self._wbits = 16 + zlib.MAX_WBITS
        elif codings == ["deflate"]:
            self._wbits = zlib.MAX_WBITS  # zlib-wrapped; raw deflate is tried when that fails
            self._raw_fallback = True
        else:
            raise NetworkError(f"unsupported Content-Encoding {encoding!r}", url)
        self._z = zlib.decompressobj(self._wbits) if self._wbits else None
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """At most `limit` decoded bytes of `data`; reaching the limit means the body is too big."""
        if self._z is None:
            return data
        out: list[bytes] = []
        made = 0
        try:
            while data and made < limit:
                try:
                    chunk = self._z.decompress(data, limit - made)
                except zlib.error:
                    if not (self._raw_fallback and not self._started):
                        raise
                    self._raw_fallback = False
                    self._wbits = -zlib.MAX_WBITS
                    self._z = zlib.decompressobj(self._wbits)
                    continue
                self._started = True
                out.append(chunk)
                made += len(chunk)
                if self._z.eof:
                    data = self._z.unused_data
                    if not data.startswith(b"\x1f\x8b"):
                        break  # trailing bytes after the last gzip member: ignored, as browsers do
                    self._z = zlib.decompressobj(self._wbits)  # another gzip member follows
                else:
                    data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise NetworkError(f"cannot decode the compressed body: {exc}", self._url) from exc
        return b"".join(out)


async def _read_body(r: aiohttp.ClientResponse, url: str, cap: int, truncate: bool) -> bytes:
    """The decoded body, streamed: more than `cap` bytes is an error (or cut, for robots.txt)."""
    declared = r.headers.get("content-length", "")
    if not truncate and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds {cap}", url)
    decoder = _Decoder(r.headers.get("content-encoding", ""), url)
    chunks: list[bytes] = []
    size = 0
    async for raw in r.content.iter_any():
        chunk = decoder.decode(raw, cap - size + 1)
        size += len(chunk)
        chunks.append(chunk)
        if size > cap:
            if truncate:
                return b"".join(chunks)[:cap]
            raise BodyTooLargeError(f"body exceeds {cap} bytes", url)
    return b"".join(chunks)


def _is_loopback(host: str) -> bool:
    """Whether a host name or literal is this machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


def _origin(u: URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, to tell when a redirect leaves the origin."""
    return (u.scheme, _key_of(u), u.port)


def _key_of(u: URL) -> str:
    """A URL's host as the connection sees it (lower case, IDNA), for per-host state."""
    return (u.raw_host or "").lower().rstrip(".")


def _host_key(host: str) -> str:
    """A host name as the connection sees it (lower case, IDNA), for per-host state."""
    try:
        return _key_of(URL(f"http://{host}/"))
    except ValueError:  # UnicodeError too
        return host.lower().rstrip(".")


def _parse(url: str) -> URL:
    """An http(s) URL, parsed as the connection will send it; anything else is refused."""
    try:
        # Korean paths, IDNA hosts, spaces: percent-encoded (and IDNA-encoded) by yarl.
        u = URL(url) if _NOT_AS_IS.search(url) else URL(url, encoded=True)
    except (ValueError, TypeError) as exc:
        raise BlockedURLError(f"not a valid URL: {exc}", url) from None
    if u.scheme not in {"http", "https"} or not u.raw_host:
        raise BlockedURLError(f"only http(s) URLs are fetched, got {u.scheme!r}", url)
    return u


def _say(exc: aiohttp.ClientError) -> str:
    """What an aiohttp error means, naming the error and what it said."""
    what = type(exc).__name__
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"timed out ({what})"
    # A protocol error's own message, without the URL that the FetchError adds anyway.
    detail = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    detail = " ".join(detail.split())
    meaning = next((_SAY[k.__name__] for k in type(exc).__mro__ if k.__name__ in _SAY), "")
    if meaning:
        return f"{what}: {meaning}" + (f" ({detail})" if detail else "")
    return f"{what}: {detail}".rstrip(": ")


def _ssl_context() -> ssl.SSLContext:
    """httpx's CA bundle (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), as the webhook notifier uses."""
    return httpx.create_ssl_context()


@dataclass
class _Host:
    """Politeness state for one host name."""

    name: str
    slots: asyncio.Semaphore
    delay: float  # seconds between request starts
    next_start: float = 0.0  # monotonic time the next request may start
    paused_until: float = 0.0  # monotonic: the host asked us to wait, or keeps failing
    pause_reason: str = ""
    pause_status: int | None = None  # None: paused by us, not by an answer
    failures: int = 0  # network errors in a row


@dataclass
class _RobotsState:
    """One origin's robots.txt as last read."""

    rules: Robots
    expires: float  # monotonic
    saved: CachedResponse | None = None


class Fetcher:
    """Fetches pages politely through one shared client; use as an async context manager."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        resolver: Resolver | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        self._deadline = s.timeout * 1.5  # a slow-drip body is cut here
        self._addresses = _Addresses(resolver or system_resolver)
        self._cache = cache
        self._agent = product_token(s.user_agent)
        self._host_limits = {_host_key(k): v for k, v in s.hosts.items()}
        # Sources that may reach private addresses get a session (and pool) of their own, so
        # a connection opened for one of them is never reused by a source that may not. Both
        # are made on first use: aiohttp wants a running event loop.
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, _RobotsState] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self.requests = 0

    def _session(self, allow_private: bool) -> aiohttp.ClientSession:
        """The strict session, or the one that may reach private addresses."""
        session = self._sessions.get(allow_private)
        if session is None:
            session = self._sessions[allow_private] = self._new_session(allow_private)
        return session

    def _new_session(self, allow_private: bool) -> aiohttp.ClientSession:
        """A session whose connections go only where the address policy allows."""
        s = self.settings
        own = [h.per_host for h in s.hosts.values() if h.per_host]
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(self._addresses, allow_private),
            use_dns_cache=False,  # `_Addresses` is the one cache: what was checked is used
            limit=s.concurrency,
            limit_per_host=max([s.per_host, *own]),  # the host's turn is the real limit
            keepalive_timeout=KEEPALIVE,
            ssl=_ssl_context(),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": s.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
                "application/rss+xml,application/atom+xml,*/*;q=0.8",
                "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5",
                # Only what _Decoder undoes, under the size cap.
                "Accept-Encoding": "gzip, deflate",
            },
            # `connect` also covers the wait for a free connection in the pool.
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=s.timeout,
                sock_connect=min(10.0, s.timeout),
                sock_read=s.timeout,
            ),
            auto_decompress=False,  # _Decoder inflates under the cap; a bomb never does more
            # A cookie jar per session, as a browser keeps; `unsafe`: IP-address hosts' too.
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            # Long Set-Cookie and CSP headers exist: 16 KiB lines, not aiohttp's 8 KiB.
            max_line_size=16384,
            max_field_size=16384,
        )
        # aiohttp sends a GET once more, at once, when its connection fails. `retries` is the
        # one place that decides that, and a host that keeps failing costs one request a try.
        # (No public switch for it; aiohttp's own test client sets the same attribute.)
        session._retry_connection = False
        return session

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the shared sessions and their connections."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
        headers: Mapping[str, str] | None = None,
        robots: bool = True,
    ) -> Page:
        """GET a URL (conditionally when validators are given); raise FetchError on failure.

        `headers` (an API's credentials, say) go only to the URL's own origin, never to a
        host it redirects to; `robots=False` is the source's explicit `ignore_robots`.
        """
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        return await self._follow(
            url,
            conditional,
            dict(headers or {}),
            allow_private,
            robots,
            self.settings.max_bytes,
            truncate=False,
        )

    def throttled_for(self, url: str) -> float:
        """Seconds until the URL's host may be asked again (0 when it is not paused)."""
        try:
            host = self._hosts.get(_key_of(URL(url)))
        except ValueError:  # UnicodeError too
            return 0.0
        return max(0.0, host.paused_until - time.monotonic()) if host else 0.0

    # -- one request, hop by hop ------------------------------------------------------------

    async def _follow(
        self,
        url: str,
        conditional: dict[str, str],
        private_headers: dict[str, str],
        allow_private: bool,
        robots: bool,
        cap: int,
        truncate: bool,
    ) -> Page:
        """Follow redirects by hand: each hop's scheme, address and robots.txt are checked."""
        current = url
        origin: tuple[str, str, int | None] | None = None
        for _hop in range(self.settings.max_redirects + 1):
            u = _parse(current)  # once per hop: every check below reads this parse
            await self._check_address(u, current, allow_private)
            if robots:
                await self._check_robots(u, current, allow_private)
            headers = dict(conditional)
            if private_headers:
                origin = origin or _origin(u)
                if _origin(u) == origin:
                    headers.update(private_headers)
            page, location = await self._fetch(
                self._host(u), u, current, headers, allow_private, cap, truncate
            )
            if location is None:
                return page
            current = urljoin(current, location)
        raise NetworkError(f"more than {self.settings.max_redirects} redirects", url)

    async def _fetch(
        self,
        host: _Host,
        u: URL,
        url: str,
        headers: dict[str, str],
        allow_private: bool,
        cap: int,
        truncate: bool,
    ) -> tuple[Page, str | None]:
        """One URL in the host's turn, under the deadline, retried on network errors."""
        attempts = self.settings.retries + 1
        err: FetchError = NetworkError("not fetched", url)
        for attempt in range(attempts):
            async with self._turn(host, url):
                try:
                    async with asyncio.timeout(self._deadline):
                        result = await self._request(
                            host, u, url, headers, allow_private, cap, truncate
                        )
                except TimeoutError:
                    err = NetworkError(f"timed out after {self._deadline:.0f}s", url)
                except NetworkError as exc:
                    err = exc
                except FetchError:
                    host.failures = 0  # the host answered: it is up, whatever it said
                    raise
                else:
                    host.failures = 0
                    return result
            host.failures += 1
            if host.failures >= TRIP_AFTER:
                self._pause(host, TRIP_FOR, None, f"{host.failures} network errors in a row")
                break
            if attempt + 1 < attempts:
                await asyncio.sleep(0.5 * (attempt + 1))
        raise err

    async def _request(
        self,
        host: _Host,
        u: URL,
        url: str,
        headers: dict[str, str],
        allow_private: bool,
        cap: int,
        truncate: bool,
    ) -> tuple[Page, str | None]:
        """One request; returns the page, or the redirect target."""
        self.requests += 1
        session = self._session(allow_private)
        try:
            async with session.get(u, headers=headers or None, allow_redirects=False) as r:
                status = r.status
                if status in _REDIRECTS and "Location" in r.headers:
                    return Page(url=url, status=status, body=b""), r.headers["Location"]
                if status == 304:
                    return Page(
                        url=url,
                        status=304,
                        body=b"",
                        etag=r.headers.get("ETag"),
                        last_modified=r.headers.get("Last-Modified"),
                        not_modified=True,
                    ), None
                if status in _THROTTLE_STATUS:
                    asked = parse_retry_after(r.headers.get("Retry-After"))
                    wait = self._pause(host, asked, status, f"HTTP {status}")
                    raise ThrottledError(
                        f"HTTP {status}: leaving {host.name} alone for {wait:.0f}s",
                        url,
                        wait,
                        status,
                        asked,
                    )
                if status >= 400:
                    raise HTTPStatusError(
                        status, url, parse_retry_after(r.headers.get("Retry-After"))
                    )
                body = await _read_body(r, url, cap, truncate)
                return Page(
                    url=url,
                    status=status,
                    body=body,
                    content_type=r.headers.get("Content-Type"),
                    etag=r.headers.get("ETag"),
                    last_modified=r.headers.get("Last-Modified"),
                ), None
        except _Refused as exc:
            raise BlockedURLError(
                f"{exc.host} resolves to {exc.address}, a private or loopback address "
                "(set allow_private = true on the source to allow it)",
                url,
            ) from None
        except aiohttp.InvalidURL as exc:
            raise BlockedURLError(f"not a valid URL: {exc}", url) from None
        except aiohttp.ClientError as exc:
            # Before the deadline's TimeoutError handler sees it: aiohttp's own timeouts are
            # TimeoutErrors too, and they are not the deadline.
            raise NetworkError(_say(exc), url) from exc

    # -- addresses ----------------------------------------------------------------------------

    async def _check_address(self, u: URL, url: str, allow_private: bool) -> None:
        """Unless allowed, refuse a host that resolves to a private or loopback address."""
        if allow_private:
            return
        host = u.raw_host or ""
        try:
            addresses = await self._addresses.get(host, u.port or 0)
        except OSError as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}", url) from exc
        for address in addresses:
            if not is_public_address(address):
                raise BlockedURLError(
                    f"{host} resolves to {address}, a private or loopback address "
                    "(set allow_private = true on the source to allow it)",
                    url,
                )

    # -- per-host turns -----------------------------------------------------------------------

    def _host(self, u: URL) -> _Host:
        """The politeness state of the URL's host, made on first use."""
        name = _key_of(u)
        host = self._hosts.get(name)
        if host is None:
            own = self._host_limits.get(name)
            delay = self.settings.host_delay
            if own is not None and own.host_delay is not None:
                delay = own.host_delay
            elif _is_loopback(name):
                delay = 0.0  # our own machine (the demo, tests): no one to be polite to
            per_host = own.per_host if own is not None and own.per_host else self.settings.per_host
            host = self._hosts[name] = _Host(name, asyncio.Semaphore(per_host), delay)
        return host

    @contextlib.asynccontextmanager
    async def _turn(self, host: _Host, url: str) -> AsyncIterator[None]:
        """Wait for the host's turn: a free slot, and its delay since the last request start."""
        self._raise_if_paused(host, url)
        async with host.slots:
            self._raise_if_paused(host, url)
            now = time.monotonic()
            start = max(now, host.next_start)
            host.next_start = start + host.delay
            if start > now:
                await asyncio.sleep(start - now)
                self._raise_if_paused(host, url)
            yield

    def _pause(self, host: _Host, seconds: float | None, status: int | None, reason: str) -> float:
        """Leave a host alone for a while (429/503, or too many failures); returns the wait."""
        wait = min(THROTTLE_MAX, max(1.0, THROTTLE_DEFAULT if seconds is None else seconds))
        until = time.monotonic() + wait
        if until > host.paused_until:
            host.paused_until = until
            host.pause_reason = reason
            host.pause_status = status
            log.warning("host=%s: %s; leaving it alone for %.0fs", host.name, reason, wait)
        return wait

    def _raise_if_paused(self, host: _Host, url: str) -> None:
        """Refuse, without a request, while the host is paused."""
        left = host.paused_until - time.monotonic()
        if left > 0:
            raise ThrottledError(
                f"not sent: {host.name} is paused for another {left:.0f}s ({host.pause_reason})",
                url,
                left,
                host.pause_status or 503,
            )

    # -- robots.txt ---------------------------------------------------------------------------

    async def _check_robots(self, u: URL, url: str, allow_private: bool) -> None:
        """Refuse a URL the host's robots.txt disallows; pause on an unreadable robots.txt."""
        if u.path == "/robots.txt":
            return  # always allowed (RFC 9309 2.2.2), and asking for it would fetch it twice
        origin = str(u.origin())
        try:
            state = await self._robots_for(origin, allow_private)
        except NetworkError as exc:
            reason = str(exc).removesuffix(f" ({exc.url})")
            raise NetworkError(f"{reason} (reading {exc.url})", url) from exc
        if state.rules.disallow_all:
            left = max(1.0, state.expires - time.monotonic())
            raise ThrottledError(
                f"not sent: {state.rules.reason}; asking again in {left:.0f}s "
                "(ignore_robots = true on the source skips robots.txt)",
                url,
                left,
            )
        if not state.rules.allowed(url, self._agent):
            raise RobotsDisallowedError(
                "disallowed by the host's robots.txt "
                "(set ignore_robots = true on the source to override)",
                url,
            )

    async def _robots_for(self, origin: str, allow_private: bool) -> _RobotsState:
        """The origin's robots.txt rules: from memory, the store, or the host (once at a time)."""
        state = self._robots.get(origin)
        if state is not None and state.expires > time.monotonic():
            return state
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            state = self._robots.get(origin)
            if state is None or state.expires <= time.monotonic():
                state = await self._load_robots(origin, allow_private, state)
                if len(self._robots) > _KEEP:
                    now = time.monotonic()
                    self._robots = {o: r for o, r in self._robots.items() if r.expires > now}
                self._robots[origin] = state
                delay = state.rules.delay(self._agent)
                if delay:
                    host = self._host(URL(origin))
                    host.delay = max(host.delay, min(delay, MAX_CRAWL_DELAY))
            return state

    async def _load_robots(
        self, origin: str, allow_private: bool, previous: _RobotsState | None
    ) -> _RobotsState:
        """Read robots.txt, conditionally when a copy is kept; RFC 9309 2.3.1 for failures."""
        url = origin + "/robots.txt"
        saved = previous.saved if previous is not None else self._cached(url)
        now = time.monotonic()
        if previous is None and saved is not None and saved.fetched_at is not None:
            age = (datetime.now(UTC) - saved.fetched_at).total_seconds()
            if 0 <= age < ROBOTS_TTL:
                return _RobotsState(_robots_of(saved), now + ROBOTS_TTL - age, saved)
        headers: dict[str, str] = {}
        if saved is not None and saved.status == 200:
            if saved.etag:
                headers["If-None-Match"] = saved.etag
            if saved.last_modified:
                headers["If-Modified-Since"] = saved.last_modified
        try:
            page = await self._follow(
                url, headers, {}, allow_private, False, ROBOTS_MAX_BYTES, True
            )
        except ThrottledError:
            raise
        except HTTPStatusError as exc:
            if exc.status >= 500:
                return self._robots_unreachable(url, f"HTTP {exc.status}", saved)
            # 4xx: "unavailable", so no rules at all (RFC 9309 2.3.1.3).
            entry = CachedResponse(url=url, status=exc.status, fetched_at=_now())
        except BlockedURLError:
            # A robots.txt redirected somewhere we may not go is as good as none.
            entry = CachedResponse(url=url, status=404, fetched_at=_now())
        except NetworkError:
            if saved is not None:
                return self._robots_unreachable(url, "network error", saved)
            # The host itself cannot be reached: say that, not "robots.txt", and keep no
            # verdict (after a few such errors in a row the host is paused anyway).
            raise
        except FetchError as exc:
            return self._robots_unreachable(url, str(exc).removesuffix(f" ({url})"), saved)
        else:
            if page.not_modified and saved is not None:
                entry = CachedResponse(
                    url=url,
                    status=200,
                    etag=saved.etag,
                    last_modified=saved.last_modified,
                    content_hash=saved.content_hash,
                    body=saved.body,
                    fetched_at=_now(),
                )
            else:
                entry = CachedResponse(
                    url=url,
                    status=200,
                    etag=page.etag,
                    last_modified=page.last_modified,
                    content_hash=hashlib.sha1(page.body).hexdigest(),
                    body=page.body,
                    fetched_at=_now(),
                )
        self._save(entry)
        return _RobotsState(_robots_of(entry), time.monotonic() + ROBOTS_TTL, entry)

    def _robots_unreachable(
        self, url: str, reason: str, saved: CachedResponse | None
    ) -> _RobotsState:
        """A robots.txt that cannot be read: keep the last copy, else assume full disallow."""
        retry = time.monotonic() + ROBOTS_RETRY
        if saved is not None:
            log.warning("url=%s: robots.txt unreachable (%s); using the copy kept", url, reason)
            return _RobotsState(_robots_of(saved), retry, saved)
        log.warning("url=%s: robots.txt unreachable (%s); fetching nothing there", url, reason)
        return _RobotsState(Robots.unreachable(f"robots.txt unreachable ({reason})"), retry)

    def _cached(self, url: str) -> CachedResponse | None:
        """What the cache remembers about a URL (nothing when it cannot say)."""
        if self._cache is None:
            return None
        try:
            return self._cache.cached_response(url)
        except MonitorError as exc:
            log.warning("url=%s: cache not read: %s", url, exc)
            return None

    def _save(self, entry: CachedResponse) -> None:
        """Remember an entry; a failing cache only costs a later request."""
        if self._cache is None:
            return
        try:
            self._cache.save_response(entry)
        except MonitorError as exc:
            log.warning("url=%s: cache not written: %s", entry.url, exc)


def _robots_of(entry: CachedResponse) -> Robots:
    """The rules a remembered robots.txt response stands for."""
    if entry.status == 200 and entry.body is not None:
        return Robots.parse(entry.body)
    return Robots()


def _now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
