"""APScheduler glue: one ticker job that runs due sources; state lives in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.pipeline import Context, run_due, session

log = logging.getLogger("monitor.schedule")

TICK_SECONDS = 15.0


class Daemon:
    """Polls due sources on a tick until asked to stop, then finishes the work in hand."""

    def __init__(self, settings: Settings, tick: float = TICK_SECONDS) -> None:
        self.settings = settings
        self.tick = tick
        self.stopping = asyncio.Event()
        self.ticks = 0
        self.last_tick_at: datetime | None = None
        self._running: set[asyncio.Task[object]] = set()

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
            scheduler.start()
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
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(sig)
        log.info("daemon stopped")

    async def _tick(self, ctx: Context) -> None:
        """One tick: run the sources that are due."""
        if ctx.stop.is_set():
            return
        task: asyncio.Task[object] = asyncio.ensure_future(run_due(ctx))
        self._running.add(task)
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._running.discard(task)
            else:
                task.add_done_callback(self._running.discard)
            self.ticks += 1
            self.last_tick_at = datetime.now(ZoneInfo(self.settings.timezone))
