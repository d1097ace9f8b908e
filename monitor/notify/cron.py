"""Crontab expressions as APScheduler 3 triggers, with crontab's weekday numbers."""

from __future__ import annotations

from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) = Sunday
_APS_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(token: str) -> int:
    """A crontab weekday (0-7 or a name) as 0-6 with 0 = Sunday."""
    t = token.strip().lower()
    if t.isdigit() and 0 <= int(t) <= 7:
        return int(t) % 7
    if t[:3] in _DAYS and len(t) == 3:
        return _DAYS.index(t)
    raise ValueError(f"invalid day of week {token!r}")


def weekdays(field: str) -> str:
    """Translate crontab's day-of-week field into APScheduler 3's, which counts 0 = Monday."""
    if field in {"*", "?"}:
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        rng, _, step_s = item.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError(f"invalid step in {item!r}")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _day(a), _day(b)
            if b.strip() == "7":
                hi = 7  # 5-7 is Friday to Sunday
        else:
            lo = hi = _day(rng)
            if step_s:
                hi = 6  # 1/2 means every second day from Monday
        if hi < lo:
            raise ValueError(f"invalid range {rng!r}")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(d for d in _APS_ORDER if _DAYS.index(d) in days)


def cron_trigger(expr: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a 5-field crontab expression (minute hour day month weekday)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected a 5-field cron expression, got {expr!r}")
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=weekdays(dow),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
