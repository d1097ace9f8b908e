"""One shared httpx.AsyncClient: limits, conditional GET, redirects checked hop by hop."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.config import FetchSettings
from monitor.errors import (
    BlockedURLError,
    BodyTooLargeError,
    FetchError,
    HTTPStatusError,
    NetworkError,
)
from monitor.models import Page

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], "asyncio.Future[list[str]] | object"]
_REDIRECTS = {301, 302, 303, 307, 308}


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
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher:
    """Fetches pages politely through one shared client; use as an async context manager."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        s = self.settings
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # we follow by hand so every hop is checked
            timeout=httpx.Timeout(s.timeout, connect=min(10.0, s.timeout)),
            # Small pools: httpcore polls every pooled socket per request.
            limits=httpx.Limits(
                max_connections=s.concurrency, max_keepalive_connections=s.concurrency
            ),
            headers={
                "User-Agent": s.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
                "application/rss+xml,application/atom+xml,*/*;q=0.8",
                "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5",
            },
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._checked: dict[str, bool] = {}
        self.requests = 0

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
        """Close the shared client."""
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
    ) -> Page:
        """GET a URL (conditionally when validators are given); raise FetchError on failure."""
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            try:
                async with asyncio.timeout(self.settings.timeout * 1.5):
                    return await self._get(url, etag, last_modified, allow_private)
            except TimeoutError:
                err: FetchError = NetworkError(
                    f"timed out after {self.settings.timeout * 1.5:.0f}s", url
                )
            except NetworkError as exc:
                err = exc
            if attempt + 1 < attempts:
                await asyncio.sleep(0.5 * (attempt + 1))
        raise err

    async def _get(
        self, url: str, etag: str | None, last_modified: str | None, allow_private: bool
    ) -> Page:
        """Follow redirects by hand, checking each hop's scheme and address."""
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            await self._check_url(current, allow_private)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            host = urlsplit(current).netloc.lower()
            sem = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
            async with sem:
                page, location = await self._request(current, headers)
            if location is None:
                return page
            current = urljoin(current, location)
        raise NetworkError(f"more than {self.settings.max_redirects} redirects", url)

    async def _request(self, url: str, headers: dict[str, str]) -> tuple[Page, str | None]:
        """One request; returns the page, or the redirect target."""
        cap = self.settings.max_bytes
        self.requests += 1
        try:
            async with self._client.stream("GET", url, headers=headers) as r:
                if r.status_code in _REDIRECTS and "location" in r.headers:
                    return Page(url=url, status=r.status_code, body=b""), r.headers["location"]
                if r.status_code == 304:
                    return Page(
                        url=url,
                        status=304,
                        body=b"",
                        etag=r.headers.get("etag"),
                        last_modified=r.headers.get("last-modified"),
                        not_modified=True,
                    ), None
                if r.status_code >= 400:
                    raise HTTPStatusError(
                        r.status_code, url, parse_retry_after(r.headers.get("retry-after"))
                    )
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise BodyTooLargeError(f"body of {declared} bytes exceeds {cap}", url)
                chunks: list[bytes] = []
                size = 0
                # aiter_bytes yields decompressed bytes, so the cap also stops gzip bombs.
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise BodyTooLargeError(f"body exceeds {cap} bytes", url)
                    chunks.append(chunk)
                return Page(
                    url=url,
                    status=r.status_code,
                    body=b"".join(chunks),
                    content_type=r.headers.get("content-type"),
                    etag=r.headers.get("etag"),
                    last_modified=r.headers.get("last-modified"),
                ), None
        except httpx.TooManyRedirects as exc:
            raise NetworkError("too many redirects", url) from exc
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timed out ({type(exc).__name__})", url) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}".rstrip(": "), url) from exc

    async def _check_url(self, url: str, allow_private: bool) -> None:
        """Refuse non-HTTP schemes and, unless allowed, hosts resolving to private addresses."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise BlockedURLError(f"only http(s) URLs are fetched, got {parts.scheme!r}", url)
        if allow_private:
            return
        host = parts.hostname
        if host in self._checked:
            if not self._checked[host]:
                raise BlockedURLError("host resolves to a private or loopback address", url)
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host,
                parts.port or (443 if parts.scheme == "https" else 80),
                type=socket.SOCK_STREAM,
            )
        except OSError as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}", url) from exc
        ok = bool(infos) and all(is_public_address(str(info[4][0])) for info in infos)
        self._checked[host] = ok
        if not ok:
            raise BlockedURLError(
                "host resolves to a private or loopback address (set allow_private = true "
                "on the source to allow it)",
                url,
            )
