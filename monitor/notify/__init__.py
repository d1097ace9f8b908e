"""Notifier kinds, registered in one explicit dict; an unknown kind lists the known ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import Notifier
from monitor.errors import NotifyError
from monitor.notify.base import (
    Channel,
    Check,
    Message,
    Problem,
    is_bool,
    is_dir,
    is_duration,
    is_positive_int,
    is_timezone,
)
from monitor.notify.chat import AppriseChannel
from monitor.notify.cron import cron_trigger
from monitor.notify.email import EmailChannel
from monitor.notify.webhook import WebhookChannel

KINDS: dict[str, type[Channel]] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "apprise": AppriseChannel,
}

# Keys every kind understands (besides name, kind, schedule and enabled, which config.py reads).
COMMON_KEYS: dict[str, Check] = {
    "timezone": is_timezone,  # for the schedule and the times shown; default [timezone]
    "templates": is_dir,  # a directory whose templates replace the shipped ones
    "max_attempts": is_positive_int,  # give up (status dead) after this many attempts
    "backoff": is_duration,  # the first retry's delay; it doubles up to 6 hours
    "send_empty": is_bool,  # digest: send one even when nothing matched
}

_SECRETS = {"password", "secret", "token", "api_key"}


def get_notifier(notifier: Notifier) -> Channel:
    """The channel for a configured notifier; an unknown kind lists the known ones."""
    try:
        cls = KINDS[notifier.kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise NotifyError(
            f"notifier {notifier.name!r}: unknown kind {notifier.kind!r} (known: {known})",
            retry=False,
        ) from None
    return cls(notifier)


def check(
    kind: str, schedule: str | None, settings: Mapping[str, Any], timezone: str = "Asia/Seoul"
) -> list[Problem]:
    """Every problem with a notifier's kind-specific keys and schedule, as (key, message)."""
    cls = KINDS.get(kind)
    if cls is None:
        return []  # config.py reports the unknown kind itself
    allowed = COMMON_KEYS | cls.keys
    problems: list[Problem] = []
    for key, value in settings.items():
        fn = allowed.get(key)
        if key in _SECRETS:
            continue  # config.py already says to name an environment variable instead
        if fn is None:
            problems.append((key, f"unknown key (allowed: {', '.join(sorted(allowed))})"))
        elif (msg := fn(value)) is not None:
            problems.append((key, msg))
    problems.extend((key, "required") for key in cls.required if key not in settings)
    problems.extend(cls.check(settings))
    templates = settings.get("templates")
    if isinstance(templates, str) and is_dir(templates) is None:
        from monitor.notify.digest import check_templates  # Jinja2 only when there are any

        problems.extend(("templates", p) for p in check_templates(templates))
    if schedule is not None and len(schedule.split()) == 5:
        tz = settings.get("timezone", timezone)
        try:
            cron_trigger(schedule, ZoneInfo(tz if is_timezone(tz) is None else "UTC"))
        except ValueError as exc:
            problems.append(("schedule", str(exc)))
    return problems


__all__ = ["COMMON_KEYS", "KINDS", "Channel", "Message", "check", "get_notifier"]
