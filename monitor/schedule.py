"""APScheduler glue: one ticker job that runs due sources; state lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Notifier, Settings, load
from monitor.errors import ConfigError, MonitorError, StoreError
from monitor.notify.cron import cron_trigger
from monitor.notify.digest import timezone_of
from monitor.notify.outbox import drain, send_digest
from monitor.pipeline import Context, make_matcher, run_due, session
from monitor.store import HEARTBEAT, now_utc

if TYPE_CHECKING:
    from monitor.web import Metrics

log = logging.getLogger("monitor.schedule")

TICK_SECONDS = 15.0
T = TypeVar("T")


class Daemon:
    """Polls due sources on a tick until asked to stop, then finishes the work in hand."""

    def __init__(self, settings: Settings, tick: float = TICK_SECONDS) -> None:
        self.settings = settings
        self.tick = tick
        self.stopping = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.scheduler: AsyncIOScheduler | None = None
        self.metrics: Metrics | None = None  # fed from the pipeline when set (--http)
        self.started_at = now_utc()

    def request_stop(self) -> None:
        """Ask the daemon to stop after the articles in hand."""
        self.stopping.set()

    async def run(self, ready: Callable[[Context], Awaitable[None] | None] | None = None) -> None:
        """Run the scheduler until request_stop() (or SIGINT/SIGTERM)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Signal handlers only exist on the main thread's loop (not in tests' threads).
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        tz = ZoneInfo(self.settings.timezone)
        async with session(self.settings) as ctx:
            scheduler = AsyncIOScheduler(timezone=tz)
            scheduler.add_job(
                self._tick,
                "interval",
                args=[ctx],
                seconds=self.tick,
                id="ticker",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(tz),
            )
            # A job of its own, so a long poll does not stop the beat that /healthz reads.
            scheduler.add_job(
                self._beat,
                "interval",
                args=[ctx],
                seconds=self.tick,
                id="heartbeat",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(tz),
            )
            self._schedule_digests(scheduler, ctx)
            if self.metrics is not None:
                ctx.on_result = self.metrics.on_result
                ctx.on_article = self.metrics.on_article
            self.scheduler = scheduler
            scheduler.start()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, self.reload, ctx)
            log.info(
                "daemon started: %d sources, tick %.0fs", len(self.settings.sources), self.tick
            )
            if ready is not None:
                result = ready(ctx)
                if result is not None:
                    await result
            try:
                await self.stopping.wait()
            finally:
                log.info("stopping: finishing the articles in hand")
                scheduler.pause()
                ctx.stop.set()
                # The executor cancels its futures on shutdown, so the tick runs in a task of
                # ours that we wait for before shutting the scheduler down.
                if self._running:
                    await asyncio.gather(*self._running, return_exceptions=True)
                scheduler.shutdown(wait=False)
                with contextlib.suppress(StoreError):
                    ctx.store.end_beat(HEARTBEAT)  # stopped on purpose: /healthz says so
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(sig)
        log.info("daemon stopped")

    async def _tick(self, ctx: Context) -> None:
        """One tick: run the sources that are due, then send what they queued."""
        if ctx.stop.is_set():
            return
        try:
            await self._guarded(self._cycle(ctx))
        finally:
            if self.metrics is not None:
                self.metrics.on_tick()

    async def _beat(self, ctx: Context) -> None:
        """Write the heartbeat: the scheduler fires and the database takes writes."""
        try:
            ctx.store.beat(HEARTBEAT, self.tick, self.started_at)
        except StoreError as exc:
            log.error("heartbeat not written: %s", exc)

    def _schedule_digests(self, scheduler: AsyncIOScheduler, ctx: Context) -> None:
        """(Re)create one cron job per notifier with a digest schedule."""
        for job in scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for notifier in self.settings.notifiers:
            if notifier.schedule is None:
                continue  # immediate: drained after every tick
            scheduler.add_job(
                self._digest,
                cron_trigger(notifier.schedule, timezone_of(notifier, self.settings)),
                args=[ctx, notifier],
                id=f"digest:{notifier.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,  # a digest an hour late beats one a day late
            )

    def reload(self, ctx: Context) -> bool:
        """Re-read the config (SIGHUP) and apply it if valid; the database state stays as is.

        Sources, rules and notifiers change at once (a new source is due now; the poll in
        hand finishes as it began). A config with problems is logged, every problem on its
        own line, and the running config is kept.
        """
        new = reread(self.settings)
        if new is None:
            return False
        try:
            matcher = make_matcher(new)  # a rule can parse yet not compile (synonym clashes)
            ctx.store.sync_sources(new.sources)
        except ConfigError as exc:
            _log_problems(exc, new.path)
            return False
        except MonitorError as exc:
            log.error("config reload: not applied, keeping the running config: %s", exc)
            return False
        self.settings = new
        ctx.settings = new
        ctx.matcher = matcher
        if self.scheduler is not None:
            self._schedule_digests(self.scheduler, ctx)
            # Tick now, so a new source is polled at once (skipped if a tick is running).
            self.scheduler.modify_job("ticker", next_run_time=datetime.now(self.scheduler.timezone))
        log.info(
            "config reloaded from %s: %d sources, %d rules, %d notifiers",
            new.path,
            len(new.sources),
            len(new.rules),
            len(new.notifiers),
        )
        return True

    async def _cycle(self, ctx: Context) -> None:
        """Poll due sources, then drain the outbox of immediate notifications and retries."""
        await run_due(ctx)
        if ctx.stop.is_set():
            return  # what is queued is in the database: the next start sends it
        try:
            await drain(ctx.store, self.settings, stop=ctx.stop)
        except MonitorError as exc:
            log.error("outbox not drained: %s", exc)

    async def _digest(self, ctx: Context, notifier: Notifier) -> None:
        """A notifier's scheduled digest."""
        if ctx.stop.is_set():
            return
        try:
            result = await self._guarded(send_digest(ctx.store, self.settings, notifier))
        except MonitorError as exc:
            log.error("notifier=%s: digest not sent: %s", notifier.name, exc)
            return
        log.info("notifier=%s: digest %s", notifier.name, result.outcome)

    async def _guarded(self, work: Coroutine[Any, Any, T]) -> T:
        """Run work in a task of ours that shutdown waits for (the executor would cancel it)."""
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        self._running.add(task)
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._running.discard(task)
            else:
                task.add_done_callback(self._running.discard)


def reread(current: Settings) -> Settings | None:
    """The running config's file, read and validated again; None (problems logged) keeps it.

    Settings that only take effect on a restart (storage path, time zone, [fetch]) keep
    their running values, with a warning.
    """
    path = current.path
    if path is None:
        log.error("config reload: the running config was not read from a file")
        return None
    try:
        new = load(path)
    except ConfigError as exc:
        _log_problems(exc, path)
        return None
    restart = {
        "storage.path": (current.db_path, new.db_path),
        "timezone": (current.timezone, new.timezone),
        "fetch": (current.fetch, new.fetch),
    }
    for key, (old, changed) in restart.items():
        if old != changed:
            log.warning("config reload: %s changes on the next restart; keeping %s", key, old)
    return replace(new, db_path=current.db_path, timezone=current.timezone, fetch=current.fetch)


def _log_problems(exc: ConfigError, path: object) -> None:
    """Every problem of a config that cannot be used, one line each, then the verdict."""
    for problem in exc.problems:
        log.error("config reload: %s", problem, extra={"config": str(path)})
    log.error(
        "config reload: %d problem(s) in %s; keeping the running config",
        len(exc.problems),
        path,
        extra={"config": str(path)},
    )
