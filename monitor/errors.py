"""The monitor's exceptions.

MonitorError
 ├── ConfigError         the config file is missing, malformed or invalid (lists every problem)
 ├── RuleError           a rule query cannot be parsed (carries the position)
 ├── FetchError          a URL could not be fetched (carries the URL)
 │    ├── HTTPStatusError       the server answered with an error status
 │    │    └── ThrottledError   the host is left alone for a while: it answered 429/503,
 │    │                         keeps failing, or its robots.txt cannot be read
 │    ├── BodyTooLargeError     the body exceeded the size cap
 │    ├── BlockedURLError       the URL or its resolved address is not allowed
 │    │    └── RobotsDisallowedError   the host's robots.txt disallows it
 │    └── NetworkError          timeout, reset, DNS failure, too many redirects
 ├── SourceError         a source's listing (feed, sitemap, list page) cannot be read
 ├── ExtractError        a page holds no article we can read
 ├── StoreError          the database refused a write (locked, full, corrupt)
 ├── SearchError         a search query or its filters cannot be used
 └── NotifyError         a notifier could not deliver (carries whether to retry)

"Not modified" and "nothing new" are return values, never exceptions.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; `problems` holds one line per problem, each with its key."""

    def __init__(self, problems: list[str] | str, path: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


class RuleError(MonitorError):
    """A rule query is malformed at `position` (0-based character offset)."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position} in {query!r}")


class FetchError(MonitorError):
    """A URL could not be fetched."""

    def __init__(self, message: str, url: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, status: int, url: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}", url)


class BodyTooLargeError(FetchError):
    """The response body exceeded the configured cap."""


class BlockedURLError(FetchError):
    """The URL's scheme, host or resolved address is not allowed for this source."""


class RobotsDisallowedError(BlockedURLError):
    """The host's robots.txt disallows the URL (or cannot be read, which counts as disallow)."""


class ThrottledError(HTTPStatusError):
    """The host is left alone for `wait` seconds; nothing about the URL itself is wrong.

    It answered 429 or 503 (`status`; `retry_after` is its Retry-After, None when absent), or
    it is paused by us (status 503): it keeps failing, or its robots.txt cannot be read. Try
    the URL again later without counting it as failed.
    """

    def __init__(
        self,
        message: str,
        url: str,
        wait: float,
        status: int = 503,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, url, retry_after)
        self.wait = wait
        self.args = (f"{message} ({url})",)


class NetworkError(FetchError):
    """Timeout, connection reset, DNS failure or too many redirects."""


class SourceError(MonitorError):
    """A source's listing could not be read."""


class ExtractError(MonitorError):
    """A page holds no article that extraction can read."""


class StoreError(MonitorError):
    """The database refused a write."""


class SearchError(MonitorError):
    """A search query or one of its filters cannot be used (says which, and why)."""


class NotifyError(MonitorError):
    """A notifier could not deliver; `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool = True, retry_after: float | None = None) -> None:
        self.retry = retry
        self.retry_after = retry_after
        super().__init__(message)
