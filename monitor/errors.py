"""The monitor's exceptions.

MonitorError
 ├── ConfigError         the config file is missing, malformed or invalid (lists every problem)
 ├── RuleError           a rule query cannot be parsed (carries the position)
 ├── FetchError          a URL could not be fetched (carries the URL)
 │    ├── HTTPStatusError       the server answered with an error status
 │    ├── BodyTooLargeError     the body exceeded the size cap
 │    ├── BlockedURLError       the URL or its resolved address is not allowed
 │    └── NetworkError          timeout, reset, DNS failure, too many redirects
 ├── SourceError         a source's listing (feed, sitemap, list page) cannot be read
 ├── ExtractError        a page holds no article we can read
 ├── StoreError          the database refused a write (locked, full, corrupt)
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


class NetworkError(FetchError):
    """Timeout, connection reset, DNS failure or too many redirects."""


class SourceError(MonitorError):
    """A source's listing could not be read."""


class ExtractError(MonitorError):
    """A page holds no article that extraction can read."""


class StoreError(MonitorError):
    """The database refused a write."""


class NotifyError(MonitorError):
    """A notifier could not deliver; `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool = True, retry_after: float | None = None) -> None:
        self.retry = retry
        self.retry_after = retry_after
        super().__init__(message)
