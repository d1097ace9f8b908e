"""The interface every source kind implements, and what a kind may use while it reads a poll.

A kind answers four questions about a source:

- ``request(source)``: what to GET for its listing (URL, headers, the daily quota it spends,
  whether an unchanged answer means nothing is new);
- ``links(source, page, poll)``: the article links the listing holds; ``poll`` fetches more
  (the next list page, a child sitemap, the next page of search results) and carries the
  cursor the last complete poll left (the newest entry seen);
- ``fields(source, page)``: article fields the source's own selectors read on an article page,
  overriding the extractor (empty for kinds without selectors);
- ``check(settings)``: problems with the kind's own config keys, as (key, message).

``Kind`` gives the defaults, so a simple kind writes only ``parse(source, page)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from html import unescape
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from monitor.errors import HTTPStatusError, SourceError
from monitor.models import Link, Page, Source

SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True, slots=True)
class Quota:
    """A daily budget of API calls, shared by every source that spends the same key."""

    key: str  # e.g. "naver:NAVER_CLIENT_ID": one application's credentials
    per_day: int
    zone: str = "Asia/Seoul"  # where the provider's day begins

    def day(self, now: datetime | None = None) -> str:
        """The provider's current day, as YYYY-MM-DD."""
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(self.zone)).date().isoformat()


@dataclass(frozen=True, slots=True)
class Request:
    """One GET a source kind asks for."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold credentials
    quota: Quota | None = None  # the daily budget this call spends
    conditional: bool = True  # an unchanged answer (304, the same bytes) means nothing is new
    hints: Mapping[int, str] = field(default_factory=dict)  # what an error status means here
    # robots.txt governs crawling; an API called with the application's own credentials is not.
    robots: bool = True


@dataclass(frozen=True, slots=True)
class Listing:
    """What a kind read from a listing."""

    links: list[Link]
    # Remembered once every link is handled and given back as Poll.cursor next time (the newest
    # entry seen); None leaves the remembered one as it is.
    cursor: str | None = None
    # Parts of the listing that could not be read (a child sitemap, a further page): the rest
    # is used, the poll reports them as errors, and the cursor stays where it was.
    problems: tuple[str, ...] = ()


class Getter(Protocol):
    """The shared fetcher, as a kind sees it."""

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
        """GET a URL."""
        ...


class CallCounter(Protocol):
    """The store's count of API calls per key and day."""

    def spend_call(self, key: str, day: str, limit: int) -> bool:
        """Count one call; False when the day's budget is already spent."""
        ...

    def use_up_calls(self, key: str, day: str, limit: int) -> None:
        """Mark the day's budget as spent (the provider said so)."""
        ...


@dataclass
class Poll:
    """What a kind may use while it reads one poll of one source."""

    fetcher: Getter
    source: Source
    calls: CallCounter | None = None  # None: no calls are counted (a preview)
    cursor: str | None = None  # what the last complete poll left
    first: bool = True  # no poll of this source has succeeded yet

    async def get(
        self, request: Request | str, etag: str | None = None, last_modified: str | None = None
    ) -> Page:
        """GET for this source: its headers, its address rules, its daily quota, its hints."""
        req = Request(request) if isinstance(request, str) else request
        quota = req.quota
        if quota is not None and self.calls is not None:
            day = quota.day()
            if not self.calls.spend_call(quota.key, day, quota.per_day):
                raise SourceError(
                    f"daily quota used up: {quota.per_day} calls for {quota.key} on {day} "
                    f"({quota.zone}); polling resumes after midnight there"
                )
        try:
            return await self.fetcher.get(
                req.url,
                etag=etag,
                last_modified=last_modified,
                allow_private=self.source.allow_private,
                headers=req.headers or None,
                robots=req.robots and not self.source.ignore_robots,
            )
        except HTTPStatusError as exc:
            slow_down = exc.retry_after is not None and exc.retry_after < 3600
            if exc.status == 429 and quota is not None and self.calls is not None and not slow_down:
                # The provider counts too: believe it, and spend no more calls today.
                self.calls.use_up_calls(quota.key, quota.day(), quota.per_day)
            hint = req.hints.get(exc.status)
            if hint:
                raise SourceError(f"{hint} (HTTP {exc.status} from {exc.url})") from exc
            raise


class SourceKind(Protocol):
    """Reads one kind of listing (feed, list page, sitemap, search API...) into article links."""

    any_site: bool  # its links go to any publisher's site (search results), not its own

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with the kind's own settings, as (key, message)."""
        ...

    def request(self, source: Source) -> Request:
        """What to GET for this source's listing."""
        ...

    async def links(self, source: Source, page: Page, poll: Poll) -> Listing:
        """The article links the listing holds, newest first where the listing says."""
        ...

    def fields(self, source: Source, page: Page) -> dict[str, object]:
        """Article fields the source's own selectors read on an article page."""
        ...


class Kind:
    """Defaults for a kind: the listing is the source URL, read in one page by parse()."""

    any_site: bool = False

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """No settings of its own to check."""
        return []

    def request(self, source: Source) -> Request:
        """The source URL itself."""
        return Request(source.url)

    async def links(self, source: Source, page: Page, poll: Poll) -> Listing:
        """The links parse() finds on the one listing page."""
        return Listing(self.parse(source, page))

    def parse(self, source: Source, page: Page) -> list[Link]:
        """The links on one listing page."""
        raise NotImplementedError

    def fields(self, source: Source, page: Page) -> dict[str, object]:
        """No selectors: the extractor decides."""
        return {}


# --------------------------------------------------------------------------- helpers


def secret(source: Source, key: str) -> str:
    """The value of the environment variable a setting names (`client_id_env`)."""
    name = source.settings.get(key)
    if not isinstance(name, str) or not name:
        raise SourceError(f"{key}: name the environment variable that holds it")
    value = os.environ.get(name, "").strip()
    if not value:
        raise SourceError(f"{key}: environment variable {name} is not set")
    return value


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env_name(settings: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    """A required setting naming an environment variable."""
    value = settings.get(key)
    if value is None:
        return [(key, "required: the name of the environment variable that holds it")]
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        return [(key, f"expected the name of an environment variable, got {value!r}")]
    return []


def check_int(
    settings: Mapping[str, Any], key: str, low: int = 1, high: int | None = None
) -> list[tuple[str, str]]:
    """An optional whole-number setting within bounds."""
    if key not in settings:
        return []
    value = settings[key]
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if ok and high is not None and value > high:
        ok = False
    if ok:
        return []
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    return [(key, f"expected a whole number {bounds}, got {value!r}")]


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Plain text of a short marked-up string: tags (<b>) dropped, entities decoded."""
    return _SPACE.sub(" ", unescape(_TAG.sub("", value))).strip()


_KOREAN_DATE = re.compile(
    r"(?P<y>\d{4})\s*[.\-/년]\s*(?P<m>\d{1,2})\s*[.\-/월]\s*(?P<d>\d{1,2})\s*일?\.?"
    r"(?:\s*(?:\([^)]{1,3}\))?\s*(?P<ampm>오전|오후|AM|PM|am|pm)?\s*"
    r"(?P<H>\d{1,2})\s*[:시]\s*(?P<M>\d{1,2})(?:\s*[:분]\s*(?P<S>\d{1,2}))?)?"
)


def parse_when(value: object, zone: tzinfo = SEOUL) -> datetime | None:
    """A timestamp as listings write it (ISO 8601, RFC 822, epoch, 2024.09.06 15:44), aware."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        stamp = float(value) / (1000 if value > 1e11 else 1)  # epoch milliseconds or seconds
        try:
            return datetime.fromtimestamp(stamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit() and len(text) in (10, 13):
        return parse_when(int(text), zone)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        parsed = None
    if parsed is not None:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    if re.match(r"^[A-Za-z]{3},|^\d{1,2} [A-Za-z]{3} \d{4}", text):
        try:
            rfc = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            rfc = None
        if rfc is not None:
            return rfc if rfc.tzinfo else rfc.replace(tzinfo=zone)
    m = _KOREAN_DATE.search(text)
    if not m:
        return None
    hour = int(m["H"] or 0)
    if (m["ampm"] or "").lower() in {"오후", "pm"} and hour < 12:
        hour += 12
    elif (m["ampm"] or "").lower() in {"오전", "am"} and hour == 12:
        hour = 0
    try:
        return datetime(
            int(m["y"]), int(m["m"]), int(m["d"]), hour, int(m["M"] or 0), int(m["S"] or 0),
            tzinfo=zone,
        )  # fmt: skip
    except ValueError:
        return None


def cursor_of(dates: list[datetime | None], old: str | None) -> str | None:
    """The newest of these dates and the old cursor, as an ISO 8601 UTC string."""
    known = [d for d in dates if d is not None]
    if old:
        previous = cursor_time(old)
        if previous is not None:
            known.append(previous)
    if not known:
        return None
    return max(known).astimezone(UTC).isoformat(timespec="seconds")


def cursor_time(cursor: str | None) -> datetime | None:
    """A cursor written by cursor_of() read back; None when absent or unreadable."""
    if not cursor:
        return None
    try:
        when = datetime.fromisoformat(cursor)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


__all__ = [
    "SEOUL",
    "CallCounter",
    "Getter",
    "Kind",
    "Listing",
    "Poll",
    "Quota",
    "Request",
    "SourceKind",
    "check_env_name",
    "check_int",
    "clean_text",
    "cursor_of",
    "cursor_time",
    "parse_when",
    "secret",
]
