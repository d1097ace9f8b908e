"""Draining the outbox: every attempt recorded, exponential backoff, dead letters, digests."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from monitor.config import Notifier, Settings, parse_duration
from monitor.errors import NotifyError
from monitor.models import Delivery
from monitor.notify import get_notifier
from monitor.notify.base import Channel, Message
from monitor.notify.digest import (
    Renderer,
    idempotency_key,
    load_item,
    load_items,
    sample_item,
    timezone_of,
)
from monitor.store import Store, now_utc

log = logging.getLogger("monitor.notify")

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = 30.0  # seconds before the first retry; doubles each time
MAX_BACKOFF = 6 * 3600.0
ONCE_LINGER = 15.0  # `run --once` waits this long for retries that are due soon

Outcome = Literal["sent", "retry", "dead", "skipped"]


@dataclass
class DrainReport:
    """What one drain did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome, rows: int, error: str | None = None) -> None:
        """Add one attempt's outcome over `rows` deliveries."""
        if outcome == "sent":
            self.sent += rows
        elif outcome == "retry":
            self.retrying += rows
        elif outcome == "dead":
            self.dead += rows
        if error and outcome in {"retry", "dead"}:
            self.errors.append(error)

    def merge(self, other: DrainReport) -> None:
        """Add another report's counts."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.dead += other.dead
        self.errors.extend(other.errors)

    @property
    def empty(self) -> bool:
        """Whether nothing was attempted."""
        return not (self.sent or self.retrying or self.dead)


def retry_delay(notifier: Notifier, attempt: int) -> float:
    """Seconds before retrying after attempt number `attempt`: doubling, capped, jittered."""
    base = parse_duration(notifier.settings.get("backoff", DEFAULT_BACKOFF))
    delay = min(MAX_BACKOFF, base * 2.0 ** max(0, attempt - 1))
    # Whole seconds: the store keeps times to the second, and a retry must not round to now.
    return float(math.ceil(delay * random.uniform(1.0, 1.2)))


def max_attempts(notifier: Notifier) -> int:
    """How many attempts a delivery gets before it is dead."""
    return int(notifier.settings.get("max_attempts", DEFAULT_MAX_ATTEMPTS))


async def _attempt(
    store: Store,
    notifier: Notifier,
    channel: Channel,
    rows: Sequence[Delivery],
    make: Callable[[], Message],
) -> tuple[Outcome, str | None]:
    """Claim rows, send one message for them, record how it went."""
    now = now_utc()
    attempt = max(r.attempts for r in rows) + 1
    # The claim pushes next_attempt_at to where a retry would be, so a crash mid-send is
    # retried then (under the same key) and a second sender leaves these rows alone.
    claims = store.claim_deliveries(
        [r.id for r in rows], now, now + timedelta(seconds=retry_delay(notifier, attempt))
    )
    if not claims:
        return "skipped", None
    key = rows[0].key if len(rows) == 1 else f"{len(rows)} deliveries"
    try:
        message = make()
        await channel.send(message)
    except NotifyError as exc:
        error = str(exc)
        retry_after = exc.retry_after
        retry = exc.retry
    except Exception as exc:  # a library's surprise is recorded like any failure, not raised
        log.exception("notifier=%s key=%s: unexpected error", notifier.name, key)
        error = f"notifier {notifier.name!r}: unexpected {type(exc).__name__}: {exc}"
        retry_after, retry = None, True
    else:
        store.finish_deliveries(claims, "sent")
        log.info("notifier=%s key=%s: sent (attempt %d)", notifier.name, key, attempt)
        return "sent", None
    if not retry or attempt >= max_attempts(notifier):
        store.finish_deliveries(claims, "dead", error)
        log.error(
            "notifier=%s key=%s: gave up after %d attempts: %s", notifier.name, key, attempt, error
        )
        return "dead", error
    delay = max(1.0, math.ceil(retry_after)) if retry_after is not None else None
    delay = delay or retry_delay(notifier, attempt)
    store.finish_deliveries(claims, "retry", error, now_utc() + timedelta(seconds=delay))
    log.warning(
        "notifier=%s key=%s: attempt %d failed, next in %.0fs: %s",
        notifier.name,
        key,
        attempt,
        delay,
        error,
    )
    return "retry", error


async def _drain_immediate(
    store: Store, settings: Settings, notifier: Notifier, stop: asyncio.Event | None
) -> DrainReport:
    """Send a notifier's due deliveries one by one until one fails."""
    report = DrainReport()
    rows = store.due_deliveries(notifier.name, now_utc())
    if not rows:
        return report
    channel = get_notifier(notifier)
    renderer = Renderer(notifier, settings)
    tz = timezone_of(notifier, settings)
    for row in rows:
        if stop is not None and stop.is_set():
            break

        def make(row: Delivery = row) -> Message:
            item = load_item(store, row, tz)
            if item is None:
                raise NotifyError(f"article of {row.key} is no longer stored", retry=False)
            return renderer.alert(item, idempotency_key(notifier.name, row.key), now_utc())

        outcome, error = await _attempt(store, notifier, channel, [row], make)
        report.count(outcome, 1, error)
        if outcome == "retry":
            break  # the channel is failing: the rest wait for its next turn, in order
    return report


async def _send_batch(
    store: Store, settings: Settings, notifier: Notifier, batch: str
) -> tuple[Outcome, int, str | None]:
    """Send (or resend) one digest batch under its own key; returns (outcome, rows, error)."""
    rows = store.pending_deliveries(notifier.name, batch)
    if not rows:
        return "skipped", 0, None
    renderer = Renderer(notifier, settings)
    key = idempotency_key(notifier.name, f"digest:{batch}")

    def make() -> Message:
        items = load_items(store, rows, renderer.tz)
        # Dated when the batch was cut, so a resend after a crash reads as the first send did.
        return renderer.digest(items, key, _batch_time(batch) or now_utc())

    outcome, error = await _attempt(store, notifier, get_notifier(notifier), rows, make)
    return outcome, len(rows), error


def _batch_time(batch: str) -> datetime | None:
    """When a digest batch was cut (its name starts with the UTC time)."""
    try:
        return datetime.strptime(batch[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


async def drain(
    store: Store,
    settings: Settings,
    linger: float = 0.0,
    stop: asyncio.Event | None = None,
) -> DrainReport:
    """Send every due immediate delivery and retry due digest batches.

    With `linger`, wait for retries that fall due within that many seconds (for `run --once`).
    """
    immediate = [n for n in settings.notifiers if n.schedule is None]
    digests = [n for n in settings.notifiers if n.schedule is not None]
    report = DrainReport()
    deadline = time.monotonic() + linger
    while True:
        parts = await asyncio.gather(
            *(_drain_immediate(store, settings, n, stop) for n in immediate),
            *(_retry_digest(store, settings, n) for n in digests),
        )
        for part in parts:
            report.merge(part)
        if linger <= 0 or (stop is not None and stop.is_set()):
            return report
        nxt = store.next_delivery_at([n.name for n in immediate], [n.name for n in digests])
        if nxt is None:
            return report
        wait = max(0.0, (nxt - now_utc()).total_seconds()) + 0.05
        if time.monotonic() + wait > deadline:
            return report
        await asyncio.sleep(wait)


async def _retry_digest(store: Store, settings: Settings, notifier: Notifier) -> DrainReport:
    """Resend a digest batch whose earlier attempt failed or was cut short, once it is due."""
    report = DrainReport()
    batch = store.open_batch(notifier.name, due_by=now_utc())
    if batch is not None:
        outcome, rows, error = await _send_batch(store, settings, notifier, batch)
        report.count(outcome, rows, error)
    return report


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What sending one notifier's digest did."""

    notifier: str
    outcome: Outcome | Literal["empty"]
    deliveries: int = 0
    error: str | None = None


async def send_digest(
    store: Store, settings: Settings, notifier: Notifier, force: bool = False
) -> DigestResult:
    """Send a notifier's digest of everything pending now (an earlier unsent batch first)."""
    resent: DigestResult | None = None
    older = store.open_batch(notifier.name)
    if older is not None:
        # It may have arrived before a crash: resend it as it was, under its own key.
        outcome, rows, error = await _send_batch(store, settings, notifier, older)
        if outcome == "skipped":
            error = "an earlier digest is being sent or waits for its retry; it goes first"
        if outcome != "sent":
            return DigestResult(notifier.name, outcome, rows, error)
        resent = DigestResult(notifier.name, outcome, rows)
    now = now_utc()
    batch = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    if store.start_batch(notifier.name, batch) == 0:
        if resent is not None:
            return resent
        if not (force or notifier.settings.get("send_empty", False)):
            log.info("notifier=%s: nothing new, no digest sent", notifier.name)
            return DigestResult(notifier.name, "empty")
        # Nothing is owed, so nothing is recorded: a failure here loses nothing.
        message = Renderer(notifier, settings).digest(
            [], idempotency_key(notifier.name, f"empty:{batch}"), now
        )
        await get_notifier(notifier).send(message)
        return DigestResult(notifier.name, "sent")
    outcome, rows, error = await _send_batch(store, settings, notifier, batch)
    return DigestResult(notifier.name, outcome, rows, error)


def preview_digest(store: Store, settings: Settings, notifier: Notifier) -> Message:
    """The digest a notifier would get now, rendered; nothing is claimed or sent."""
    renderer = Renderer(notifier, settings)
    items = load_items(store, store.pending_deliveries(notifier.name), renderer.tz)
    return renderer.digest(items, "preview", now_utc())


async def send_test(settings: Settings, name: str) -> Message:
    """Send a made-up story through a notifier now, outside the outbox."""
    notifier = settings.notifier(name)
    now = now_utc()
    renderer = Renderer(notifier, settings)
    message = renderer.alert(
        sample_item(now.astimezone(renderer.tz)),
        idempotency_key(name, f"test:{now.isoformat()}"),
        now,
        kind="test",
    )
    await get_notifier(notifier).send(message)
    return message


def digest_notifiers(settings: Settings, names: Sequence[str] = ()) -> list[Notifier]:
    """The named notifiers (any), or every notifier that has a schedule."""
    if names:
        return [settings.notifier(n) for n in names]
    return [n for n in settings.notifiers if n.schedule is not None]


async def drain_config(settings: Settings, linger: float = ONCE_LINGER) -> DrainReport:
    """Open the configured store and drain it (what `monitor run --once` does at the end)."""
    store = Store(settings.db_path)
    try:
        return await drain(store, settings, linger=linger)
    finally:
        store.close()


def preview_bytes(notifier: Notifier, message: Message, suffix: str = "") -> bytes:
    """A rendered message as a file: .html the HTML part, .eml the email, .json the webhook body."""
    from monitor.notify.email import EmailChannel
    from monitor.notify.webhook import body_bytes

    suffix = suffix.lower()
    if suffix in {".html", ".htm"}:
        return message.html.encode("utf-8")
    if suffix == ".eml":
        return EmailChannel(notifier).build(message).as_bytes()
    if suffix == ".json":
        return body_bytes(message.data)
    return f"Subject: {message.subject}\n\n{message.text}".encode()


def check_sendable(notifier: Notifier) -> None:
    """Only a notifier with a schedule sends digests; the others send as matches come."""
    if notifier.schedule is None:
        raise NotifyError(
            f"notifier {notifier.name!r} has no schedule: it notifies as articles are found "
            "(monitor run), so it has no digest to send",
            retry=False,
        )
