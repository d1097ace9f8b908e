"""Fixtures the notifier tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Store

SECRET = "s3cret-꼭-지켜"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The webhook secret, in the environment as a real deployment has it."""
    monkeypatch.setenv("MONITOR_TEST_HOOK_SECRET", SECRET)
    return "MONITOR_TEST_HOOK_SECRET"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite file, closed after the test."""
    s = Store(tmp_path / "m.db")
    try:
        yield s
    finally:
        s.close()
