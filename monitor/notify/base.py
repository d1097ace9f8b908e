"""The one-method interface every notifier kind implements, and what kinds share."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config import Notifier, parse_duration
from monitor.errors import NotifyError

# A problem with one settings key: (key, message); config.py adds the key path.
Problem = tuple[str, str]
Check = Callable[[Any], str | None]  # the message when the value is wrong, else None

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, rendered for every kind: each channel sends the parts it needs."""

    key: str  # idempotency key: the same for every attempt at one delivery
    subject: str  # one line, no control characters
    text: str  # plain-text body (email text part, chat message)
    html: str  # HTML body (email HTML part)
    data: dict[str, Any] = field(default_factory=dict)  # JSON document (webhook body)


class Channel(ABC):
    """A configured notifier that can deliver a Message."""

    kind: ClassVar[str]
    # Keys this kind understands beyond the common ones, each with its value check.
    keys: ClassVar[dict[str, Check]] = {}
    required: ClassVar[tuple[str, ...]] = ()

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.name = notifier.name
        self.settings = notifier.settings

    @abstractmethod
    async def send(self, message: Message) -> None:
        """Deliver one message or raise NotifyError (whose `retry` says if trying again helps)."""

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> list[Problem]:
        """Problems with this kind's keys that need more than one key to see."""
        return []

    def env(self, key: str, required: bool = True) -> str | None:
        """The secret in the environment variable that settings[key] names (never logged)."""
        var = self.settings.get(key)
        if not var:
            return None
        value = os.environ.get(str(var))
        if value is None or (required and not value):
            raise NotifyError(
                f"notifier {self.name!r}: environment variable {var} ({key}) is not set",
                retry=True,
            )
        return value


def url_or_env(settings: Mapping[str, Any]) -> list[Problem]:
    """A URL given as `url` or, when it holds a token, as `url_env`: exactly one of them."""
    if "url" in settings and "url_env" in settings:
        return [("url_env", "give url or url_env, not both")]
    if "url" not in settings and "url_env" not in settings:
        return [("url", "required (or url_env naming an environment variable)")]
    return []


def one_line(text: str, limit: int = 250) -> str:
    """A header-safe single line: control characters and line breaks become spaces."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret (and each long part of a secret URL) in text with ***."""
    parts: set[str] = set()
    for s in secrets:
        if not s:
            continue
        parts.add(s)
        parts.update(p for p in re.split(r"[/:@?&=#,\s]+", s) if len(p) >= 6)
    for p in sorted(parts, key=len, reverse=True):
        text = text.replace(p, "***")
    return text


# -- value checks used by the kinds' key tables -------------------------------------------------


def is_str(value: Any) -> str | None:
    """A non-empty string."""
    return None if isinstance(value, str) and value.strip() else f"expected text, got {value!r}"


def is_bool(value: Any) -> str | None:
    """true or false."""
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def is_positive_int(value: Any) -> str | None:
    """A whole number of at least 1."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else f"expected a positive whole number, got {value!r}"


def is_port(value: Any) -> str | None:
    """A TCP port."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536
    return None if ok else f"expected a port number (1-65535), got {value!r}"


def is_duration(value: Any) -> str | None:
    """A duration such as "30s" or a number of seconds."""
    try:
        parse_duration(value)
    except ValueError as exc:
        return str(exc)
    return None


def is_env_name(value: Any) -> str | None:
    """The name of an environment variable (config.py itself rejects an empty or non-text one)."""
    if not isinstance(value, str) or not value:
        return None
    ok = isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) is not None
    return None if ok else f"expected the name of an environment variable, got {value!r}"


def is_http_url(value: Any) -> str | None:
    """An http(s) URL."""
    ok = isinstance(value, str) and re.match(r"^https?://[^/\s]+", value) is not None
    return None if ok else f"expected an http(s) URL, got {value!r}"


def is_timezone(value: Any) -> str | None:
    """An IANA time zone name such as Asia/Seoul."""
    if not isinstance(value, str) or not value:
        return f"expected a time zone such as 'Asia/Seoul', got {value!r}"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r} (expected a name such as 'Asia/Seoul')"
    return None


def is_dir(value: Any) -> str | None:
    """An existing directory."""
    if not isinstance(value, str) or not value:
        return f"expected a directory, got {value!r}"
    return None if os.path.isdir(value) else f"no such directory: {value!r}"


def is_file(value: Any) -> str | None:
    """An existing file."""
    if not isinstance(value, str) or not value:
        return f"expected a file path, got {value!r}"
    return None if os.path.isfile(value) else f"no such file: {value!r}"


def one_of(*choices: str) -> Check:
    """One of a few words."""

    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"expected one of {', '.join(choices)}, got {value!r}"

    return check


def is_headers(value: Any) -> str | None:
    """A table of HTTP header names to single-line values."""
    if not isinstance(value, dict):
        return f"expected a table of header names and values, got {value!r}"
    for k, v in value.items():
        if not _HEADER_NAME.match(k):
            return f"invalid header name {k!r}"
        if not isinstance(v, str) or _CONTROL.search(v):
            return f"header {k!r}: expected a single line of text, got {v!r}"
    return None


def is_addresses(value: Any) -> str | None:
    """One email address or a list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return f"expected an address or a list of addresses, got {value!r}"
    for a in items:
        if not isinstance(a, str) or _CONTROL.search(a) or "@" not in a:
            return f"expected an email address, got {a!r}"
    return None


def is_address(value: Any) -> str | None:
    """One email address, optionally with a display name."""
    if not isinstance(value, str) or _CONTROL.search(value) or "@" not in value:
        return f"expected an email address, got {value!r}"
    return None
