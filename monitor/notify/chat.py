"""Chat and other services through apprise (Slack, Discord, Telegram, Teams, ...)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from monitor.errors import NotifyError
from monitor.notify.base import (
    Channel,
    Check,
    Message,
    Problem,
    is_env_name,
    one_line,
    redact,
    url_or_env,
)

# apprise reports failures through its logger; captures must not interleave across threads.
_CAPTURE = threading.Lock()
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S*$")


def is_apprise_urls(value: Any) -> str | None:
    """One apprise URL (scheme://...) or several separated by spaces or commas."""
    if not isinstance(value, str) or not value.strip():
        return f"expected an apprise URL such as 'json://host/path', got {value!r}"
    for part in re.split(r"[\s,]+", value.strip()):
        if not _URL.match(part):
            return f"expected an apprise URL such as 'json://host/path', got {part!r}"
    return None


class AppriseChannel(Channel):
    """Sends the subject as the title and the text part as the body to apprise URLs."""

    kind = "apprise"
    keys: ClassVar[dict[str, Check]] = {
        "url": is_apprise_urls,  # for URLs that hold no secret
        "url_env": is_env_name,  # most service URLs hold a token: keep them in the environment
    }

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> list[Problem]:
        """Exactly one of url and url_env."""
        return url_or_env(settings)

    async def send(self, message: Message) -> None:
        """Notify every URL; any failure raises NotifyError with apprise's reason, redacted."""
        if self.settings.get("url"):
            urls, shown, secrets = str(self.settings["url"]), str(self.settings["url"]), []
        else:
            urls = self.env("url_env") or ""
            shown, secrets = f"the URLs in ${self.settings['url_env']}", [urls]
            if is_apprise_urls(urls) is not None:
                raise NotifyError(
                    f"notifier {self.name!r}: ${self.settings['url_env']} holds no apprise URL"
                )
        await asyncio.to_thread(self._notify, urls, shown, secrets, message)

    def _notify(self, urls: str, shown: str, secrets: list[str], message: Message) -> None:
        """The blocking apprise call (run in a worker thread)."""
        import apprise  # loads ~100 service plugins: only when something is sent

        where = f"notifier {self.name!r}: apprise"
        ap = apprise.Apprise()
        if not ap.add(urls):
            schemes = sorted({u.split("://", 1)[0] for u in re.split(r"[\s,]+", urls.strip())})
            raise NotifyError(f"{where} does not understand {shown} (scheme {', '.join(schemes)})")
        with _CAPTURE, apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = ap.notify(
                title=one_line(message.subject, 250),
                body=message.text,
                body_format=apprise.NotifyFormat.TEXT,
            )
            log_text = captured.getvalue()
        if not ok:
            reasons = [line.split(" - ", 2)[-1] for line in log_text.splitlines() if line.strip()]
            detail = redact(one_line("; ".join(reasons)), secrets) or "failed"
            raise NotifyError(f"{where} ({shown}): {detail}")
