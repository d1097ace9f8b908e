"""Webhooks: signed, versioned JSON; per-notifier headers; timeouts; secret URLs stay secret."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.notify import webhook
from monitor.notify.outbox import drain, send_digest, send_test
from monitor.store import Store
from tests.conftest import LocalServer, Route
from tests.unit.conftest import SECRET
from tests.unit.test_notify import Receiver, add_article, hook, make_settings, rows


def test_the_body_is_signed_and_verifiable_as_documented(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env, headers={"X-Team": "desk"}))
    add_article(store, settings, 1)
    asyncio.run(drain(store, settings))
    ((_path, headers, body),) = server.posts
    assert receiver.calls[0]["verified"]
    # The receiver-side check that docs/notify.md shows agrees, and refuses tampering.
    ts, sig = headers["X-Monitor-Timestamp"], headers["X-Monitor-Signature"]
    assert webhook.verify(SECRET, ts, body, sig)
    assert not webhook.verify(SECRET, ts, body.replace(b"a1", b"a2"), sig)
    assert not webhook.verify("wrong", ts, body, sig)
    assert not webhook.verify(SECRET, str(int(ts) - 3600), body, sig)  # too old: a replay
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Team"] == "desk" and headers["X-Monitor-Event"] == "match"
    doc = json.loads(body)
    assert doc["id"] == headers["Idempotency-Key"] and doc["version"] == 1
    assert doc["item"]["article"]["title"] == "평택시, 미래차 산업 육성 협약 체결 1"
    assert "평택" in body.decode("utf-8")  # UTF-8, not \\u escapes


def test_unsigned_when_no_secret_is_configured(
    tmp_path: Path, server: LocalServer, store: Store
) -> None:
    receiver = Receiver(server, secret=None)
    settings = make_settings(tmp_path, hook(receiver.url))
    add_article(store, settings, 1)
    asyncio.run(drain(store, settings))
    assert "X-Monitor-Signature" not in receiver.calls[0]["headers"]


def test_a_slow_receiver_times_out_and_is_retried(
    tmp_path: Path, server: LocalServer, store: Store
) -> None:
    url = server.add("slow", Route(b"ok", delay=2.0))
    settings = make_settings(tmp_path, hook(url, timeout="1s"))
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings))
    assert report.retrying == 1
    (row,) = rows(tmp_path / "m.db")
    assert row["status"] == "pending" and "Timeout" in row["last_error"]


def test_redirects_are_not_followed(tmp_path: Path, server: LocalServer, store: Store) -> None:
    url = server.add("moved", Route(b"", status=301, headers={"Location": "/elsewhere"}))
    settings = make_settings(tmp_path, hook(url))
    add_article(store, settings, 1)
    asyncio.run(drain(store, settings))
    assert "HTTP 301" in rows(tmp_path / "m.db")[0]["last_error"]
    assert "/elsewhere" not in server.hits


def test_a_secret_url_never_appears_in_errors(
    tmp_path: Path, server: LocalServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.add("T0KEN-abcdef123456", Route(b"no", status=500))
    monkeypatch.setenv("MONITOR_TEST_HOOK_URL", url)
    settings = make_settings(
        tmp_path, {"name": "hook", "kind": "webhook", "url_env": "MONITOR_TEST_HOOK_URL"}
    )
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings))
    (error,) = report.errors
    assert error == "notifier 'hook': POST the URL in $MONITOR_TEST_HOOK_URL: HTTP 500: no"
    assert "T0KEN" not in rows(tmp_path / "m.db")[0]["last_error"]


def test_a_scheduled_webhook_gets_one_digest_document(
    tmp_path: Path, server: LocalServer, store: Store, secret_env: str
) -> None:
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env, schedule="0 * * * *"))
    add_article(store, settings, 1)
    add_article(store, settings, 2)
    add_article(store, settings, 3, story="a2")
    assert asyncio.run(drain(store, settings)).empty  # digests wait for their schedule
    assert asyncio.run(send_digest(store, settings, settings.notifier("hook"))).outcome == "sent"
    (call,) = receiver.calls
    doc = call["body"]
    assert doc["type"] == "digest" and call["headers"]["X-Monitor-Event"] == "digest"
    assert sorted((i["article"]["id"], i["story"]["size"]) for i in doc["items"]) == [
        ("a1", 1),
        ("a2", 2),
    ]


def test_test_notify_sends_a_sample(tmp_path: Path, server: LocalServer, secret_env: str) -> None:
    receiver = Receiver(server)
    settings = make_settings(tmp_path, hook(receiver.url, secret_env))
    message = asyncio.run(send_test(settings, "hook"))
    (call,) = receiver.calls
    assert call["verified"] and call["body"]["type"] == "test"
    assert call["body"]["item"]["story"]["size"] == 2
    assert message.subject.startswith("[시험]")
    assert not (tmp_path / "m.db").exists()  # nothing queued, nothing recorded
