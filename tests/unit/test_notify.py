"""The outbox: retries with backoff, Retry-After, every attempt recorded, dead letters, registry.

What is defined here (a store with stories in it, a signature-checking webhook receiver) is used
by the other test_notify_* files and by tests/e2e/test_delivery*.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor import config
from monitor.cli import main
from monitor.config import Settings
from monitor.errors import NotifyError
from monitor.models import Match, StoredArticle
from monitor.notify import KINDS, get_notifier
from monitor.notify.outbox import drain, retry_delay
from monitor.store import Outbox, Store
from tests.conftest import LocalServer, Route, write_config
from tests.unit.conftest import SECRET

SNIPPET = "평택시는 6일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다."
HIGHLIGHTS = ((0, 2), (8, 13))


def make_settings(tmp_path: Path, *notifiers: dict[str, Any], **top: Any) -> Settings:
    """Settings with two rules that notify every given notifier."""
    names = [n["name"] for n in notifiers]
    raw = {
        "storage": {"path": str(tmp_path / "m.db")},
        "rules": [
            {"name": "pt-future-cars", "query": "평택 미래차", "notify": names},
            {"name": "pt-port", "query": "평택항", "notify": names},
        ],
        "notifiers": list(notifiers),
        **top,
    }
    return config.parse(raw)


def add_article(
    store: Store,
    settings: Settings,
    n: int,
    story: str | None = None,
    rules: Sequence[str] = ("pt-future-cars",),
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    snippet: str = SNIPPET,
) -> StoredArticle:
    """Store one matched article and its outbox rows, one per (notifier, story) as the pipeline does."""
    story_id = story or f"a{n}"
    article = StoredArticle(
        id=f"a{n}",
        url=url or f"https://news{n}.example.kr/news/articleView.html?idxno={n}",
        canonical_url=url or f"https://news{n}.example.kr/news/articleView.html?idxno={n}",
        source=source or f"portal-{n}",
        title=title or f"평택시, 미래차 산업 육성 협약 체결 {n}",
        body=SNIPPET,
        content_hash=f"hash{n}",
        published_at=datetime(2024, 9, 6, 6, 44, tzinfo=UTC) + timedelta(minutes=n),
        author="홍길동 기자",
        story_id=story_id,
    )
    matches = [Match(r, ("평택", "미래차"), (), snippet, HIGHLIGHTS) for r in rules]
    owed: dict[str, list[str]] = {}
    for r in rules:
        for name in settings.rule(r).notify:
            owed.setdefault(name, []).append(r)
    outbox = [
        Outbox(
            name, f"story:{story_id}", {"article_id": article.id, "rules": rs, "story_id": story_id}
        )
        for name, rs in owed.items()
    ]
    assert store.save_new(article, [article.url], matches, outbox)
    return article


def rows(db: Path) -> list[dict[str, Any]]:
    """Every deliveries row, oldest first."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM deliveries ORDER BY id")]


def attempts(db: Path) -> list[dict[str, Any]]:
    """Every recorded attempt, first first."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM delivery_attempts ORDER BY id")]


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify a webhook as docs/notify.md tells receivers to, without the monitor's code."""
    ts = headers.get("X-Monitor-Timestamp", "")
    expected = hmac.new(secret.encode(), f"v1:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
    return fresh and hmac.compare_digest("v1=" + expected, headers.get("X-Monitor-Signature", ""))


@dataclass
class Receiver:
    """A webhook receiver on a LocalServer: checks signatures, can fail its first answers."""

    server: LocalServer
    path: str = "hook"
    secret: str | None = SECRET
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.url = self.server.add(self.path, self.answer)

    def answer(self, handler: BaseHTTPRequestHandler) -> Route:
        """Record the call; fail it, or accept it when its signature is good."""
        headers = dict(handler.headers.items())
        body: bytes = handler.body  # type: ignore[attr-defined]
        verified = self.secret is None or signature_ok(self.secret, headers, body)
        call = {
            "headers": headers,
            "body": json.loads(body),
            "verified": verified,
            "at": time.time(),
        }
        self.calls.append(call)
        if not verified:
            return Route(b"bad signature", status=401, content_type="text/plain")
        if len(self.calls) <= self.fail_first:
            extra = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Route(b"busy", status=self.fail_status, headers=extra, content_type="text/plain")
        call["accepted"] = True
        return Route(b"ok", content_type="text/plain")

    @property
    def keys(self) -> list[str]:
        """The Idempotency-Key of every call, in order."""
        return [c["headers"]["Idempotency-Key"] for c in self.calls]

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The calls answered 2xx."""
        return [c for c in self.calls if c.get("accepted")]


def hook(url: str, secret_env: str | None = None, **extra: Any) -> dict[str, Any]:
    """A webhook notifier table."""
    table: dict[str, Any] = {"name": "hook", "kind": "webhook", "url": url, **extra}
    if secret_env:
        table["secret_env"] = secret_env
    return table


# -- registry ------------------------------------------------------------------------------------


def test_registry_matches_the_config_kinds() -> None:
    assert tuple(KINDS) == config.NOTIFIER_KINDS


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(
        NotifyError, match=r"unknown kind 'pigeon' \(known: apprise, email, webhook\)"
    ):
        get_notifier(config.Notifier("carrier", "pigeon"))


# -- draining ------------------------------------------------------------------------------------


def test_each_delivery_is_sent_once_and_every_attempt_recorded(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env))
    add_article(store, settings, 1)
    add_article(store, settings, 2)

    report = asyncio.run(drain(store, settings))
    assert (report.sent, report.retrying, report.dead) == (2, 0, 0)
    assert all(c["verified"] for c in receiver.calls)
    assert [c["body"]["item"]["article"]["id"] for c in receiver.calls] == ["a1", "a2"]
    assert len(set(receiver.keys)) == 2

    again = asyncio.run(drain(store, settings))
    assert again.empty and len(receiver.calls) == 2
    assert [r["status"] for r in rows(tmp_path / "m.db")] == ["sent", "sent"]
    assert [a["outcome"] for a in attempts(tmp_path / "m.db")] == ["sent", "sent"]


def test_failures_are_retried_with_backoff_under_the_same_key(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server, fail_first=2, fail_status=503)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env, backoff="1s"))
    add_article(store, settings, 1)

    first = asyncio.run(drain(store, settings))
    assert (first.sent, first.retrying) == (0, 1)
    (row,) = rows(tmp_path / "m.db")
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "HTTP 503" in row["last_error"] and "notifier 'hook'" in row["last_error"]

    report = asyncio.run(drain(store, settings, linger=10))
    assert report.sent == 1
    assert len(receiver.calls) == 3 and len(set(receiver.keys)) == 1
    # Exponential: the second wait is about twice the first.
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.calls, receiver.calls[1:], strict=False)]
    assert 0.9 <= gaps[0] < 2.5 and gaps[1] >= 1.9, gaps
    assert [a["outcome"] for a in attempts(tmp_path / "m.db")] == ["retry", "retry", "sent"]
    (row,) = rows(tmp_path / "m.db")
    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str, status: int
) -> None:
    receiver = Receiver(server, fail_first=1, fail_status=status, retry_after="2")
    # The configured backoff alone would wait an hour: the server's 2 seconds win.
    settings = make_settings(tmp_path, hook(receiver.url, secret_env, backoff="1h"))
    add_article(store, settings, 1)
    asyncio.run(drain(store, settings))
    (row,) = rows(tmp_path / "m.db")
    wait = datetime.fromisoformat(row["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=0) < wait <= timedelta(seconds=3)
    assert f"HTTP {status}" in row["last_error"]

    assert asyncio.run(drain(store, settings, linger=5)).sent == 1
    assert receiver.calls[1]["at"] - receiver.calls[0]["at"] >= 1.5
    assert receiver.keys[0] == receiver.keys[1]


def test_gives_up_after_max_attempts_leaving_a_dead_letter(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server, fail_first=99, fail_status=500)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env, backoff="1s", max_attempts=2))
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings, linger=10))
    assert (report.sent, report.dead) == (0, 1)
    assert len(receiver.calls) == 2
    (row,) = rows(tmp_path / "m.db")
    assert row["status"] == "dead" and row["attempts"] == 2 and "HTTP 500" in row["last_error"]
    assert [a["outcome"] for a in attempts(tmp_path / "m.db")] == ["retry", "dead"]

    # Dead letters stay visible, and can be given another round once the receiver is fixed.
    cfg = tmp_path / "m.toml"
    write_config(
        cfg,
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[[rules]]
name = "pt-future-cars"
query = "평택 미래차"
notify = ["hook"]
[[notifiers]]
name = "hook"
kind = "webhook"
url = "{receiver.url}"
secret_env = "{secret_env}"
""",
    )
    listed = CliRunner().invoke(main, ["deliveries", "--config", str(cfg), "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    assert "dead" in listed.output and "story:a1" in listed.output and "HTTP 500" in listed.output
    requeued = CliRunner().invoke(main, ["deliveries", "--config", str(cfg), "--requeue"])
    assert "1 dead deliveries queued again" in requeued.output
    receiver.fail_first = 0
    assert asyncio.run(drain(store, settings)).sent == 1
    assert rows(tmp_path / "m.db")[0]["status"] == "sent"


def test_one_failing_notifier_does_not_hold_up_another(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    good = Receiver(server, path="good")
    bad = Receiver(server, path="bad", fail_first=99)
    settings = make_settings(
        tmp_path,
        hook(good.url, secret_env) | {"name": "good"},
        hook(bad.url, secret_env) | {"name": "bad"},
    )
    for n in (1, 2, 3):
        add_article(store, settings, n)
    report = asyncio.run(drain(store, settings))
    assert report.sent == 3 and report.retrying == 1
    # The failing one stops at its first failure: the rest wait in order for its next turn.
    assert len(good.calls) == 3 and len(bad.calls) == 1


def test_a_claimed_delivery_is_not_sent_by_a_second_sender(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env))
    add_article(store, settings, 1)
    (row,) = store.due_deliveries("hook", datetime.now(UTC))
    now = datetime.now(UTC)
    assert store.claim_deliveries([row.id], now, now + timedelta(minutes=5))
    # Another process draining now finds nothing due: the row is in flight.
    other = Store(tmp_path / "m.db")
    try:
        assert asyncio.run(drain(other, settings)).empty
    finally:
        other.close()
    assert receiver.calls == []
    (attempt,) = attempts(tmp_path / "m.db")
    assert attempt["outcome"] is None  # begun, never finished: visible as interrupted


def test_missing_secret_variable_names_notifier_and_variable(
    tmp_path: Path, server: LocalServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TEST_UNSET", raising=False)
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, "MONITOR_TEST_UNSET"))
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings))
    assert report.retrying == 1 and receiver.calls == []
    assert report.errors == [
        "notifier 'hook': environment variable MONITOR_TEST_UNSET (secret_env) is not set"
    ]
    assert rows(tmp_path / "m.db")[0]["status"] == "pending"


def test_retry_delay_doubles_and_is_capped() -> None:
    n = config.Notifier("hook", "webhook", settings={"backoff": "10s"})
    delays = [retry_delay(n, a) for a in (1, 2, 3, 4)]
    for d, base in zip(delays, (10, 20, 40, 80), strict=True):
        assert base <= d <= base * 1.2 + 1
    assert retry_delay(n, 40) <= 6 * 3600 * 1.2 + 1
