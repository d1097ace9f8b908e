"""Chat through apprise, tested through its json:// and form:// schemes to a local server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from monitor.notify.outbox import drain
from monitor.store import Store
from tests.conftest import LocalServer, Route
from tests.unit.test_notify import add_article, make_settings, rows


def chat(**extra: str) -> dict[str, str]:
    return {"name": "chat", "kind": "apprise", **extra}


def test_json_scheme_carries_title_and_text(
    tmp_path: Path, server: LocalServer, store: Store
) -> None:
    server.add("chat", Route(b"ok"))
    settings = make_settings(tmp_path, chat(url=f"json://127.0.0.1:{server.port}/chat"))
    add_article(store, settings, 1, source="평택일보")
    add_article(store, settings, 2, story="a1", source="경기신문")
    assert asyncio.run(drain(store, settings)).sent == 1
    ((path, _headers, body),) = server.posts
    doc = json.loads(body)
    assert path == "/chat"
    assert doc["title"] == "[pt-future-cars] 평택시, 미래차 산업 육성 협약 체결 1 (2개 기사)"
    assert "*평택*시는" in doc["message"] and "경기신문" in doc["message"]


def test_form_scheme_from_an_environment_variable(
    tmp_path: Path, server: LocalServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("form", Route(b"ok"))
    monkeypatch.setenv("MONITOR_TEST_CHAT_URL", f"form://127.0.0.1:{server.port}/form")
    settings = make_settings(tmp_path, chat(url_env="MONITOR_TEST_CHAT_URL"))
    add_article(store, settings, 1)
    assert asyncio.run(drain(store, settings)).sent == 1
    ((_path, _headers, body),) = server.posts
    fields = parse_qs(body.decode("utf-8"))
    assert fields["title"] == ["[pt-future-cars] 평택시, 미래차 산업 육성 협약 체결 1"]


def test_a_failing_service_is_retried_and_its_token_not_shown(
    tmp_path: Path, server: LocalServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("hooks/T0KEN-abcdef123456", Route(b"down", status=500))
    monkeypatch.setenv(
        "MONITOR_TEST_CHAT_URL", f"json://127.0.0.1:{server.port}/hooks/T0KEN-abcdef123456"
    )
    settings = make_settings(tmp_path, chat(url_env="MONITOR_TEST_CHAT_URL"))
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings))
    assert report.retrying == 1
    (row,) = rows(tmp_path / "m.db")
    assert row["status"] == "pending"
    assert row["last_error"].startswith(
        "notifier 'chat': apprise (the URLs in $MONITOR_TEST_CHAT_URL): "
    )
    assert "500" in row["last_error"] and "T0KEN" not in row["last_error"]


def test_an_unknown_scheme_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, chat(url="pigeon://loft/7"))
    add_article(store, settings, 1)
    (error,) = asyncio.run(drain(store, settings)).errors
    assert error == "notifier 'chat': apprise does not understand pigeon://loft/7 (scheme pigeon)"
