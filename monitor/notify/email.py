"""Email over SMTP (STARTTLS, SSL or plain): a text and an HTML part, UTF-8 throughout."""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any, ClassVar

from monitor.config import parse_duration
from monitor.errors import NotifyError
from monitor.notify.base import (
    Channel,
    Check,
    Message,
    is_address,
    is_addresses,
    is_duration,
    is_env_name,
    is_file,
    is_port,
    is_str,
    one_line,
    one_of,
    redact,
)

log = logging.getLogger("monitor.notify")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _addresses(value: Any) -> list[str]:
    """A configured address or list of addresses as a list."""
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """SMTP AUTH; credentials outside ASCII go as UTF-8 in AUTH PLAIN (RFC 4616)."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    # smtplib encodes credentials as ASCII only, so a Korean password would never work.
    smtp.ehlo_or_helo_if_needed()
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode()
    code, answer = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


class EmailChannel(Channel):
    """Sends each message as one email through the configured SMTP server."""

    kind = "email"
    keys: ClassVar[dict[str, Check]] = {
        "to": is_addresses,
        "cc": is_addresses,
        "from": is_address,
        "reply_to": is_address,
        "smtp_host": is_str,
        "smtp_port": is_port,
        "tls": one_of("starttls", "ssl", "none"),
        "username_env": is_env_name,
        "password_env": is_env_name,
        "ca_file": is_file,  # a CA bundle for a server whose certificate a private CA signed
        "timeout": is_duration,
    }
    required = ("to", "smtp_host")

    def build(self, message: Message, username: str | None = None) -> EmailMessage:
        """The MIME message: headers on one line each, a text part and an HTML alternative."""
        s = self.settings
        sender = s.get("from") or (username if username and "@" in username else None)
        sender = sender or "monitor@localhost"
        msg = EmailMessage()
        msg["Subject"] = one_line(message.subject, 400)
        msg["From"] = one_line(sender)
        msg["To"] = ", ".join(one_line(a) for a in _addresses(s.get("to")))
        if s.get("cc"):
            msg["Cc"] = ", ".join(one_line(a) for a in _addresses(s.get("cc")))
        if s.get("reply_to"):
            msg["Reply-To"] = one_line(s["reply_to"])
        msg["Date"] = format_datetime(datetime.now().astimezone())
        domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        # The idempotency key is the Message-ID: a resend after a crash is the same message.
        msg["Message-ID"] = f"<{message.key}@{one_line(domain)}>"
        msg["X-Monitor-Key"] = message.key
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        # base64: Korean text survives servers without 8BITMIME and lines over 998 bytes.
        msg.set_content(message.text, subtype="plain", charset="utf-8", cte="base64")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
        return msg

    async def send(self, message: Message) -> None:
        """Send one email; SMTP and network failures raise NotifyError naming the server."""
        username = self.env("username_env")
        password = self.env("password_env")
        if password and not username:
            username = parseaddr(str(self.settings.get("from") or ""))[1] or None
        msg = self.build(message, username)
        await asyncio.to_thread(self._deliver, msg, username, password)

    def _deliver(self, msg: EmailMessage, username: str | None, password: str | None) -> None:
        """The blocking SMTP conversation (run in a worker thread)."""
        s = self.settings
        tls = s.get("tls", "starttls")
        host = s["smtp_host"]
        port = int(s.get("smtp_port") or DEFAULT_PORTS[tls])
        timeout = parse_duration(s.get("timeout", "30s"))
        where = f"notifier {self.name!r}: SMTP {host}:{port}"
        recipients = [a for _, a in getaddresses(_addresses(s.get("to")) + _addresses(s.get("cc")))]
        secrets = [x for x in (username, password) if x]
        try:
            context = ssl.create_default_context(cafile=s.get("ca_file"))
            smtp: smtplib.SMTP
            if tls == "ssl":
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            with smtp:
                if tls == "starttls":
                    smtp.starttls(context=context)
                if username and password:
                    _login(smtp, username, password)
                refused = smtp.send_message(msg, to_addrs=recipients)
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error or b""
            detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            raise NotifyError(
                redact(f"{where} answered {exc.smtp_code} {one_line(detail)}", secrets)
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(
                f"{where} refused every recipient: {sorted(exc.recipients)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            text = one_line(str(exc)) or type(exc).__name__
            raise NotifyError(redact(f"{where}: {text}", secrets)) from None
        if refused:
            # The others have it: retrying would send them a second copy.
            log.warning("%s refused some recipients: %s", where, sorted(refused))
