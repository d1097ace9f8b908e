"""Email through a real SMTP server (aiosmtpd): the message a mail client reads, TLS, outages."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.notify.outbox import drain, send_digest
from monitor.store import Store
from tests.conftest import SMTPServer, free_port
from tests.unit.test_notify import add_article, attempts, make_settings, rows

PASSWORD = "pw-비밀-hunter2"


def desk(port: int, **extra: Any) -> dict[str, Any]:
    """An email notifier on the local SMTP server, plain (tests only)."""
    return {
        "name": "desk",
        "kind": "email",
        "to": ["desk@example.kr"],
        "from": "뉴스 모니터 <monitor@example.kr>",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "tls": "none",
        **extra,
    }


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class Auth:
    """An SMTP AUTH checker that records the logins it saw."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.seen: list[str] = []

    def __call__(
        self, server: Any, smtp_state: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append(data.login.decode())
        ok = data.login.decode() == self.user and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


def test_digest_is_a_korean_multipart_email_a_client_can_read(
    tmp_path: Path, store: Store, smtp_server: SMTPServer
) -> None:
    settings = make_settings(tmp_path, desk(smtp_server.port, schedule="0 8 * * *"))
    add_article(store, settings, 1, source="평택일보", title="평택시 <미래차> & 협약")
    add_article(store, settings, 2, story="a1", source="경기신문")
    result = asyncio.run(send_digest(store, settings, settings.notifier("desk")))
    assert result.outcome == "sent" and result.deliveries == 1

    (msg,) = smtp_server.messages
    raw = smtp_server.envelopes[0].original_content
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # headers are 7-bit: Korean goes in RFC 2047 encoded words
    assert b"=?utf-8?" in head
    assert msg["Subject"].startswith("[뉴스 모니터] ") and "pt-future-cars 1" in msg["Subject"]
    assert msg["From"].addresses[0].display_name == "뉴스 모니터"
    assert msg["To"] == "desk@example.kr" and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    plain, markup = text.get_content(), html.get_content()
    assert "평택시 <미래차> & 협약" in plain and "2개 기사 (평택일보, 경기신문)" in plain
    assert "평택시 &lt;미래차&gt; &amp; 협약" in markup and "<미래차>" not in markup
    assert "<mark>평택</mark>시는" in markup
    assert smtp_server.envelopes[0].rcpt_tos == ["desk@example.kr"]
    assert [r["status"] for r in rows(tmp_path / "m.db")] == ["sent"]


def test_a_title_cannot_add_headers_or_recipients(
    tmp_path: Path, store: Store, smtp_server: SMTPServer
) -> None:
    settings = make_settings(
        tmp_path, desk(smtp_server.port)
    )  # immediate: the title is the subject
    add_article(store, settings, 1, title="평택 미래차\r\nBcc: victim@example.com\nX-Evil: 1")
    assert asyncio.run(drain(store, settings)).sent == 1
    (msg,) = smtp_server.messages
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "[pt-future-cars] 평택 미래차 Bcc: victim@example.com X-Evil: 1"
    assert smtp_server.envelopes[0].rcpt_tos == ["desk@example.kr"]


def test_starttls_and_login_from_the_environment(
    tmp_path: Path, store: Store, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    auth = Auth("monitor@example.kr", PASSWORD)
    server = SMTPServer(
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
    )
    try:
        monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "monitor@example.kr")
        monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", PASSWORD)
        settings = make_settings(
            tmp_path,
            desk(server.port, tls="starttls", ca_file=str(cert),
                 username_env="MONITOR_TEST_SMTP_USER", password_env="MONITOR_TEST_SMTP_PASSWORD"),
        )  # fmt: skip
        add_article(store, settings, 1)
        assert asyncio.run(drain(store, settings)).sent == 1
        assert auth.seen == ["monitor@example.kr"] and len(server.messages) == 1
    finally:
        server.stop()


def test_implicit_ssl(tmp_path: Path, store: Store, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = SMTPServer(ssl_context=server_context(cert, key))
    try:
        settings = make_settings(tmp_path, desk(server.port, tls="ssl", ca_file=str(cert)))
        add_article(store, settings, 1)
        assert asyncio.run(drain(store, settings)).sent == 1
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused(
    tmp_path: Path, store: Store, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = SMTPServer(tls_context=server_context(cert, key), require_starttls=True)
    try:
        settings = make_settings(tmp_path, desk(server.port, tls="starttls"))  # no ca_file
        add_article(store, settings, 1)
        report = asyncio.run(drain(store, settings))
        assert report.retrying == 1 and server.messages == []
        assert "CERTIFICATE_VERIFY_FAILED" in rows(tmp_path / "m.db")[0]["last_error"]
    finally:
        server.stop()


def test_a_refused_login_is_kept_for_retry_and_the_password_never_shown(
    tmp_path: Path,
    store: Store,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cert, key = certificate
    server = SMTPServer(tls_context=server_context(cert, key), authenticator=Auth("x", "y"))
    try:
        monkeypatch.setenv("MONITOR_TEST_SMTP_USER", "monitor@example.kr")
        monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", PASSWORD)
        settings = make_settings(
            tmp_path,
            desk(server.port, tls="starttls", ca_file=str(cert),
                 username_env="MONITOR_TEST_SMTP_USER", password_env="MONITOR_TEST_SMTP_PASSWORD"),
        )  # fmt: skip
        add_article(store, settings, 1)
        with caplog.at_level(logging.DEBUG):
            report = asyncio.run(drain(store, settings))
        assert report.retrying == 1
        (row,) = rows(tmp_path / "m.db")
        assert row["status"] == "pending" and "535" in row["last_error"]
        assert "notifier 'desk': SMTP 127.0.0.1:" in row["last_error"]
        assert PASSWORD not in row["last_error"] and PASSWORD not in caplog.text
    finally:
        server.stop()


def test_missing_password_variable_is_named_not_guessed(
    tmp_path: Path, store: Store, smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TEST_SMTP_PASSWORD", raising=False)
    settings = make_settings(
        tmp_path, desk(smtp_server.port, password_env="MONITOR_TEST_SMTP_PASSWORD")
    )
    add_article(store, settings, 1)
    report = asyncio.run(drain(store, settings))
    assert report.errors == [
        "notifier 'desk': environment variable MONITOR_TEST_SMTP_PASSWORD (password_env) is not set"
    ]
    assert smtp_server.messages == [] and rows(tmp_path / "m.db")[0]["status"] == "pending"


def test_smtp_outage_leaves_deliveries_pending_and_they_go_out_later(
    tmp_path: Path, store: Store
) -> None:
    port = free_port()  # nothing listens: the server is down
    settings = make_settings(tmp_path, desk(port, backoff="1s"))
    add_article(store, settings, 1)
    add_article(store, settings, 2)
    report = asyncio.run(drain(store, settings))
    assert (report.sent, report.retrying) == (0, 1)  # the second waits behind the first
    first, second = rows(tmp_path / "m.db")
    assert first["status"] == second["status"] == "pending"
    assert f"SMTP 127.0.0.1:{port}" in first["last_error"] and "refused" in first["last_error"]
    assert second["attempts"] == 0

    server = SMTPServer(port=port)  # the server is back
    try:
        report = asyncio.run(drain(store, settings, linger=5))
        assert report.sent == 2
        assert sorted(m["Subject"] for m in server.messages) == [
            "[pt-future-cars] 평택시, 미래차 산업 육성 협약 체결 1",
            "[pt-future-cars] 평택시, 미래차 산업 육성 협약 체결 2",
        ]
    finally:
        server.stop()
    assert [a["outcome"] for a in attempts(tmp_path / "m.db")] == ["retry", "sent", "sent"]


def test_a_temporary_smtp_refusal_is_retried(tmp_path: Path, store: Store) -> None:
    server = SMTPServer(fail_first=1)
    try:
        settings = make_settings(tmp_path, desk(server.port, backoff="1s"))
        add_article(store, settings, 1)
        assert asyncio.run(drain(store, settings, linger=5)).sent == 1
        assert server.attempts == 2 and len(server.messages) == 1
        assert "451" in attempts(tmp_path / "m.db")[0]["error"]
    finally:
        server.stop()


def test_an_empty_digest_is_sent_only_when_asked(
    tmp_path: Path, store: Store, smtp_server: SMTPServer
) -> None:
    settings = make_settings(tmp_path, desk(smtp_server.port, schedule="0 8 * * *"))
    notifier = settings.notifier("desk")
    assert asyncio.run(send_digest(store, settings, notifier)).outcome == "empty"
    assert smtp_server.messages == []
    assert asyncio.run(send_digest(store, settings, notifier, force=True)).outcome == "sent"
    (msg,) = smtp_server.messages
    assert "새 기사 없음" in msg["Subject"]
    always = make_settings(tmp_path, desk(smtp_server.port, schedule="0 8 * * *", send_empty=True))
    asyncio.run(send_digest(store, always, always.notifier("desk")))
    assert len(smtp_server.messages) == 2


def test_each_digest_carries_only_what_is_new(
    tmp_path: Path, store: Store, smtp_server: SMTPServer
) -> None:
    settings = make_settings(tmp_path, desk(smtp_server.port, schedule="0 8 * * *"))
    notifier = settings.notifier("desk")
    add_article(store, settings, 1)
    asyncio.run(send_digest(store, settings, notifier))
    add_article(store, settings, 2)
    add_article(store, settings, 3, story="a1")  # joins the story already sent: not owed again
    asyncio.run(send_digest(store, settings, notifier))
    first, second = (m.get_body(("plain",)).get_content() for m in smtp_server.messages)  # type: ignore[union-attr]
    assert "협약 체결 1" in first and "협약 체결 2" not in first
    assert "협약 체결 2" in second and "협약 체결 1" not in second and "협약 체결 3" not in second
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(set(ids)) == 2
