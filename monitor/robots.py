"""robots.txt (RFC 9309) read with protego: which URLs a host lets us fetch, and how often."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protego import Protego

MAX_BYTES = 512 * 1024  # RFC 9309 2.5: read at least 500 KiB; the rest may be ignored
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def product_token(user_agent: str) -> str:
    """The name robots.txt groups address us by: the User-Agent's first product token."""
    m = _TOKEN.match(user_agent.strip())
    return m.group(0).lower() if m else "*"


@dataclass(frozen=True, slots=True)
class Robots:
    """One origin's robots.txt, or what to do without one."""

    parser: Protego | None = None  # None: no rules, everything allowed
    disallow_all: bool = False  # robots.txt unreachable: RFC 9309 2.3.1.4 says assume disallow
    reason: str = ""  # why everything is disallowed, for the error message

    @classmethod
    def parse(cls, body: bytes) -> Robots:
        """Rules from a robots.txt body (UTF-8 per the RFC; undecodable bytes are replaced)."""
        text = body[:MAX_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
        return cls(parser=Protego.parse(text))

    @classmethod
    def unreachable(cls, reason: str) -> Robots:
        """robots.txt could not be read (5xx, network error): nothing may be fetched for now."""
        return cls(disallow_all=True, reason=reason)

    def allowed(self, url: str, agent: str) -> bool:
        """Whether `agent` may fetch `url`."""
        if self.disallow_all:
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, agent))

    def delay(self, agent: str) -> float | None:
        """Seconds to leave between requests (Crawl-delay, or Request-rate turned into one)."""
        if self.parser is None:
            return None
        crawl = self.parser.crawl_delay(agent)
        rate = self.parser.request_rate(agent)
        delays = [float(crawl)] if crawl else []
        if rate is not None and rate.requests > 0:
            delays.append(rate.seconds / rate.requests)
        return max(delays) if delays else None
