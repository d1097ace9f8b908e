"""Logging and terminal progress: JSON lines for machines, text for people, context on every line.

- `setup()` logs to stderr: one JSON object a line when stderr is not a terminal (a service,
  a container, a pipe), readable text when it is; `MONITOR_LOG_FORMAT=json|text` overrides.
- `bind(source=..., url=...)` tags every record made inside it, in that asyncio task only, so
  every line about a source carries `source` and `url` fields, whichever module logs it.
- `Progress` draws one status line for long runs on a terminal; log lines print above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from monitor.models import RunResult

FORMATS = ("auto", "json", "text")
CONTEXT_FIELDS = ("source", "url")

_source: ContextVar[str | None] = ContextVar("monitor_log_source", default=None)
_url: ContextVar[str | None] = ContextVar("monitor_log_url", default=None)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_active: Progress | None = None  # the progress line currently drawn on stderr, if any


@contextlib.contextmanager
def bind(source: str | None = None, url: str | None = None) -> Iterator[None]:
    """Tag every log record made inside the block (in this task) with a source and URL."""
    tokens = []
    if source is not None:
        tokens.append((_source, _source.set(source)))
    if url is not None:
        tokens.append((_url, _url.set(url)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copy the bound source and URL onto each record that does not carry its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the fields; never drops a record."""
        if getattr(record, "source", None) is None:
            record.source = _source.get()
        if getattr(record, "url", None) is None:
            record.url = _url.get()
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: source and URL first, then any `extra=` keys."""
    out: dict[str, Any] = {}
    for key in CONTEXT_FIELDS:
        value = getattr(record, key, None)
        if value is not None:
            out[key] = value
    for key, value in record.__dict__.items():
        known = key in _STANDARD or key in out or key in CONTEXT_FIELDS
        if not known and not key.startswith("_"):
            out[key] = value
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message  source=... url=...` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record with its fields appended as key=value."""
        line = super().format(record)
        extra = " ".join(f"{k}={_printable(v)}" for k, v in fields(record).items())
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        head = _printable(head)  # scraped titles and URLs must not drive the terminal
        return f"{head}  {extra}{sep}{tail}" if extra else f"{head}{sep}{tail}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: object) -> str:
    """Text with control characters (ANSI escapes, carriage returns) shown as escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), str(value))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stderr (tests swap it) and keeps a progress line below."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream is not None

    def emit(self, record: logging.LogRecord) -> None:
        """Clear the progress line, write the record, draw the progress line again."""
        if not self._fixed:
            self.stream = sys.stderr
        progress = _active if _active is not None and _active.stream is self.stream else None
        if progress is not None:
            progress.clear()
        super().emit(record)
        if progress is not None:
            progress.draw()


def resolve_format(fmt: str | None, stream: TextIO) -> str:
    """json or text: the one asked for, else $MONITOR_LOG_FORMAT, else by whether it is a tty."""
    choice = (fmt or os.environ.get("MONITOR_LOG_FORMAT") or "auto").lower()
    if choice not in FORMATS:
        choice = "auto"
    if choice == "auto":
        return "text" if _isatty(stream) else "json"
    return choice


def setup(
    verbose: int = 0, quiet: bool = False, fmt: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Log to stderr: -v for per-source lines, -vv for debug, quiet for errors only."""
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_monitor", False)]:
        root.removeHandler(old)
    handler = _StderrHandler(stream)
    handler._monitor = True  # type: ignore[attr-defined]
    kind = resolve_format(fmt, stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if kind == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' chatter is not the monitor's news.
    for name in ("httpx", "httpcore", "aiohttp", "apscheduler"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler


def _isatty(stream: TextIO) -> bool:
    """Whether a stream is a terminal (False for anything without isatty)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# -- progress on a terminal -------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a string takes on a terminal (Hangul and other wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit(text: str, columns: int) -> str:
    """Cut a string to at most `columns` terminal columns, marking the cut with "…"."""
    if display_width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > columns - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def clock(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss past an hour."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """One status line for a run over many sources: done/total, a bar, counts, time left.

    Failures are printed as lines of their own above it, so none scrolls away unseen.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        columns: int | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.new = 0
        self.matched = 0
        self.unchanged = 0
        self.failed = 0
        self.last = ""
        self.stream = stream or sys.stderr
        self._columns = columns
        self._now = now
        self._started = now()
        self._drawn = False

    def start(self) -> None:
        """Show the line and make log output print above it."""
        global _active
        _active = self
        self.draw()

    def update(self, result: RunResult, done: int, total: int) -> None:
        """Take one finished source (the pipeline's progress callback)."""
        self.done, self.total = done, total
        failed = bool(result.errors) and not result.links and not result.not_modified
        if failed:
            self.failed += 1
            self.clear()
            self.stream.write(f"  ✗ {result.source}: {result.errors[0]}\n")
            state = "failed"
        elif result.not_modified:
            self.unchanged += 1
            state = "unchanged"
        else:
            self.new += result.new
            self.matched += result.matched
            state = f"{result.new} new"
        self.last = f"{result.source}: {state}"
        self.draw()

    def render(self) -> str:
        """The status line's text (without terminal control characters)."""
        total = max(self.total, 1)
        share = min(1.0, self.done / total)
        bar_width = 20
        filled = int(share * bar_width)
        bar = "█" * filled + "░" * (bar_width - filled)
        elapsed = self._now() - self._started
        timing = clock(elapsed)
        if 0 < self.done < self.total:
            timing += f", ~{clock(elapsed / self.done * (self.total - self.done))} left"
        counts = f"{self.new} new · {self.matched} matched"
        if self.unchanged:
            counts += f" · {self.unchanged} unchanged"
        if self.failed:
            counts += f" · {self.failed} failed"
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {bar} {share:>4.0%}  {timing}  {counts}"
        if self.last:
            line += f"  · {self.last}"
        return line

    def draw(self) -> None:
        """Write the line over the current terminal line."""
        columns = self._columns or shutil.get_terminal_size((100, 24)).columns
        self.stream.write("\r\x1b[K" + fit(self.render(), max(20, columns - 1)))
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the line (before other output)."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    async def tick(self, every: float = 1.0) -> None:
        """Redraw every second, so elapsed time moves while slow sources work."""
        while True:
            await asyncio.sleep(every)
            self.draw()

    def close(self) -> None:
        """Erase the line and stop printing logs around it."""
        global _active
        self.clear()
        if _active is self:
            _active = None
