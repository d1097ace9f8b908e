"""Webhook: a signed JSON POST (HMAC-SHA256 over timestamp and body) with an idempotency key."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from monitor import __version__
from monitor.config import parse_duration
from monitor.errors import NotifyError
from monitor.notify.base import (
    Channel,
    Check,
    Message,
    Problem,
    is_duration,
    is_env_name,
    is_headers,
    is_http_url,
    one_line,
    url_or_env,
)

SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"
KEY_HEADER = "Idempotency-Key"
MAX_RETRY_AFTER = 24 * 3600.0


def body_bytes(data: Mapping[str, Any]) -> bytes:
    """The JSON body exactly as it is signed and sent."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: v1= HMAC-SHA256 of "v1:{timestamp}:" + body, in hex."""
    mac = hmac.new(secret.encode("utf-8"), f"v1:{timestamp}:".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance: float = 300.0
) -> bool:
    """Whether a received webhook is ours and recent (what a receiver runs; see docs/notify.md)."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    expected = sign(secret, timestamp, body)
    return age <= tolerance and hmac.compare_digest(expected, signature)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_RETRY_AFTER)


class WebhookChannel(Channel):
    """POSTs each message's JSON document to a URL, signed when a secret is configured."""

    kind = "webhook"
    keys: ClassVar[dict[str, Check]] = {
        "url": is_http_url,
        "url_env": is_env_name,  # for URLs that are themselves secrets (chat incoming hooks)
        "secret_env": is_env_name,
        "headers": is_headers,
        "timeout": is_duration,
    }

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> list[Problem]:
        """Exactly one of url and url_env."""
        return url_or_env(settings)

    def _target(self) -> tuple[str, str]:
        """The URL, and how to name it in errors without revealing a secret one."""
        if self.settings.get("url"):
            url = str(self.settings["url"])
            parts = urlsplit(url)
            port = f":{parts.port}" if parts.port else ""
            # No user:password@ and no query string: either may carry a token.
            return url, f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
        url = self.env("url_env") or ""
        if not url.startswith(("http://", "https://")):
            var = self.settings["url_env"]
            raise NotifyError(f"notifier {self.name!r}: {var} does not hold an http(s) URL")
        return url, f"the URL in ${self.settings['url_env']}"

    async def send(self, message: Message) -> None:
        """POST the message; a non-2xx answer or a network error raises NotifyError."""
        url, shown = self._target()
        secret = self.env("secret_env")
        body = body_bytes(message.data)
        timestamp = str(int(time.time()))  # per attempt, so receivers can refuse replays
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"monitor/{__version__} webhook",
            KEY_HEADER: message.key,
            "X-Monitor-Event": str(message.data.get("type", "")),
            TIMESTAMP_HEADER: timestamp,
            **dict(self.settings.get("headers") or {}),
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        timeout = parse_duration(self.settings.get("timeout", "10s"))
        where = f"notifier {self.name!r}: POST {shown}"
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            detail = one_line(str(exc).replace(url, shown)) or type(exc).__name__
            raise NotifyError(f"{where}: {detail}") from None
        if 200 <= response.status_code < 300:
            return
        excerpt = one_line(response.text[:200]) if response.content else ""
        raise NotifyError(
            f"{where}: HTTP {response.status_code}" + (f": {excerpt}" if excerpt else ""),
            retry=True,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
