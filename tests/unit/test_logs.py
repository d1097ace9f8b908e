"""Structured logs (JSON off a terminal, fields from the task's context) and the progress line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from monitor import logs
from monitor.models import RunResult


class Tty(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, restored after the test."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    try:
        yield logger
    finally:
        for h in list(logger.handlers):
            if h not in handlers:
                logger.removeHandler(h)
        logger.setLevel(level)


def test_json_lines_off_a_terminal_carry_source_and_url(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_LOG_FORMAT", raising=False)
    out = io.StringIO()
    logs.setup(verbose=1, stream=out)
    log = logging.getLogger("monitor.pipeline")
    with logs.bind(source="pt-news", url="https://news.example.kr/rss"):
        log.info("%d links, %d new", 12, 3)
        with logs.bind(url="https://news.example.kr/a/1"):
            log.warning("no article: %s", "empty body", extra={"status": 200})
    log.info("daemon stopped")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["message"] for r in lines] == [
        "12 links, 3 new",
        "no article: empty body",
        "daemon stopped",
    ]
    assert lines[0]["source"] == "pt-news" and lines[0]["url"] == "https://news.example.kr/rss"
    assert lines[1]["url"] == "https://news.example.kr/a/1" and lines[1]["status"] == 200
    assert lines[1]["level"] == "warning" and lines[1]["logger"] == "monitor.pipeline"
    assert "source" not in lines[2]  # outside the block nothing is bound
    assert lines[0]["time"].endswith("+00:00")


def test_text_on_a_terminal_with_fields_appended(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_LOG_FORMAT", raising=False)
    out = Tty()
    logs.setup(verbose=1, stream=out)
    with logs.bind(source="hani", url="https://www.hani.co.kr/rss/"):
        logging.getLogger("monitor.pipeline").warning("poll failed: %s", "HTTP 503")
    line = out.getvalue().strip()
    assert line.endswith(
        "WARNING monitor.pipeline: poll failed: HTTP 503  source=hani url=https://www.hani.co.kr/rss/"
    )


def test_format_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_LOG_FORMAT", "json")
    assert logs.resolve_format(None, Tty()) == "json"
    assert logs.resolve_format("text", io.StringIO()) == "text"
    monkeypatch.delenv("MONITOR_LOG_FORMAT")
    assert logs.resolve_format(None, Tty()) == "text"
    assert logs.resolve_format(None, io.StringIO()) == "json"


def test_exceptions_are_one_json_line(root: logging.Logger) -> None:
    out = io.StringIO()
    logs.setup(stream=out, fmt="json")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("monitor.web").exception("request failed")
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "request failed" and "ValueError: broken" in record["error"]


def test_bound_fields_stay_in_their_own_task(root: logging.Logger) -> None:
    out = io.StringIO()
    logs.setup(verbose=1, stream=out, fmt="json")
    log = logging.getLogger("monitor.pipeline")

    async def poll(name: str, delay: float) -> None:
        with logs.bind(source=name, url=f"https://{name}.example.kr/"):
            await asyncio.sleep(delay)
            log.info("polled")

    async def both() -> None:
        await asyncio.gather(poll("first", 0.02), poll("second", 0.01))

    asyncio.run(both())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {(r["source"], r["url"]) for r in records} == {
        ("first", "https://first.example.kr/"),
        ("second", "https://second.example.kr/"),
    }


# -- progress ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_counts_and_estimates() -> None:
    out, clock = Tty(), Clock()
    p = logs.Progress(4, stream=out, columns=200, now=clock)
    p.start()
    clock.now += 10
    p.update(RunResult("yonhap", links=20, new=5, matched=2), 1, 4)
    line = p.render()
    assert line.startswith("[1/4] █████░░░░░░░░░░░░░░░  25%")
    assert "0:10, ~0:30 left" in line and "5 new · 2 matched" in line
    assert line.endswith("· yonhap: 5 new")
    clock.now += 10
    p.update(RunResult("hani", not_modified=True), 2, 4)
    assert "1 unchanged" in p.render()
    p.close()


def test_progress_prints_failures_and_keeps_log_lines_above(root: logging.Logger) -> None:
    out = Tty()
    logs.setup(stream=out, fmt="text")
    p = logs.Progress(2, stream=out, columns=120)
    p.start()
    logging.getLogger("monitor.pipeline").warning("slow host")
    p.update(RunResult("khan", errors=("HTTP 503 (https://www.khan.co.kr/rss)",)), 1, 2)
    p.close()
    text = out.getvalue()
    # The status line is erased before the log line and drawn again after it.
    assert re.search(
        r"0 matched\r\x1b\[K[\d:]+ WARNING monitor.pipeline: slow host\n\r\x1b\[K\[0/2]", text
    )
    assert "  ✗ khan: HTTP 503 (https://www.khan.co.kr/rss)\n" in text
    assert text.endswith("\r\x1b[K")  # closed: the line is erased


def test_fit_counts_wide_characters() -> None:
    assert logs.display_width("평택 news") == 9
    cut = logs.fit("평택미래차클러스터", 9)
    assert cut == "평택미래…" and logs.display_width(cut) <= 9
    assert logs.clock(3725) == "1:02:05" and logs.clock(59.6) == "1:00"


def test_text_logs_escape_control_characters_from_scraped_text() -> None:
    import logging

    from monitor.logs import TextFormatter

    record = logging.LogRecord(
        "monitor", logging.WARNING, __file__, 1, "title %s", ("evil\x1b[2J\rtitle",), None
    )
    record.url = "http://x.kr/\x1b]0;pwned\x07"
    line = TextFormatter().format(record)
    assert "\x1b" not in line and "\r" not in line and "\x07" not in line
    assert "\\x1b[2J" in line and "url=http://x.kr/" in line
