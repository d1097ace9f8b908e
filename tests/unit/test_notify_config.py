"""Notifier settings: every key checked with its path; crontab schedules as cron means them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from monitor import config
from monitor.cli import main
from monitor.errors import ConfigError
from monitor.notify.cron import cron_trigger, weekdays
from tests.conftest import write_config

SEOUL = ZoneInfo("Asia/Seoul")

BASE = """
[storage]
path = "{db}"

[[rules]]
name = "pt"
query = "평택 미래차"
notify = {notify}
"""

GOOD = """
[[notifiers]]
name = "desk"
kind = "email"
to = ["desk@example.kr", "홍길동 <hong@example.kr>"]
from = "뉴스 모니터 <monitor@example.kr>"
schedule = "0 8 * * 1-5"
smtp_host = "smtp.example.kr"
smtp_port = 587
tls = "starttls"
username_env = "MONITOR_SMTP_USER"
password_env = "MONITOR_SMTP_PASSWORD"
timezone = "Asia/Seoul"
max_attempts = 5
backoff = "1m"

[[notifiers]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.kr/monitor"
secret_env = "MONITOR_WEBHOOK_SECRET"
headers = { "X-Team" = "desk" }
timeout = "5s"

[[notifiers]]
name = "chat"
kind = "apprise"
url_env = "MONITOR_SLACK_URL"
"""


def load(tmp_path: Path, notifiers: str, notify: str = "[]") -> config.Settings:
    text = BASE.format(db=tmp_path / "m.db", notify=notify) + notifiers
    return config.load(write_config(tmp_path / "m.toml", text))


def problems(tmp_path: Path, notifiers: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, notifiers)
    return err.value.problems


def test_good_notifiers_load(tmp_path: Path) -> None:
    s = load(tmp_path, GOOD, '["desk", "hook", "chat"]')
    desk, hook, chat = s.notifiers
    assert desk.schedule == "0 8 * * 1-5" and desk.settings["tls"] == "starttls"
    assert hook.schedule is None and hook.settings["headers"] == {"X-Team": "desk"}
    assert chat.settings == {"url_env": "MONITOR_SLACK_URL"}


def test_every_bad_key_is_named_with_its_path(tmp_path: Path) -> None:
    bad = """
[[notifiers]]
name = "desk"
kind = "email"
to = "not-an-address"
smtp_hots = "smtp.example.kr"
smtp_port = 70000
tls = "maybe"
schedule = "0 25 * * *"
timezone = "Mars/Olympus"
max_attempts = 0
backoff = "soon"
templates = "/no/such/dir"

[[notifiers]]
name = "hook"
kind = "webhook"
url = "ftp://hooks.example.kr"
headers = { "Bad Header" = "x" }
secret_env = "lower case"

[[notifiers]]
name = "chat"
kind = "apprise"
token = "xoxb-123"
"""
    found = "\n".join(problems(tmp_path, bad))
    for expected in [
        "notifiers[0].to: expected an email address, got 'not-an-address'",
        "notifiers[0].smtp_hots: unknown key (allowed: ",
        "notifiers[0].smtp_host: required",
        "notifiers[0].smtp_port: expected a port number (1-65535), got 70000",
        "notifiers[0].tls: expected one of starttls, ssl, none, got 'maybe'",
        "notifiers[0].schedule: invalid cron expression '0 25 * * *'",
        "notifiers[0].timezone: unknown time zone 'Mars/Olympus'",
        "notifiers[0].max_attempts: expected a positive whole number, got 0",
        "notifiers[0].backoff: expected a duration like \"30m\", got 'soon'",
        "notifiers[0].templates: no such directory: '/no/such/dir'",
        "notifiers[1].url: expected an http(s) URL, got 'ftp://hooks.example.kr'",
        "notifiers[1].headers: invalid header name 'Bad Header'",
        "notifiers[1].secret_env: expected the name of an environment variable, got 'lower case'",
        "notifiers[2].token: secrets come from the environment",
        "notifiers[2].url: required (or url_env naming an environment variable)",
    ]:
        assert expected in found, f"missing: {expected}\n{found}"
    # config.py's own secret check already covers `token`: it is not also called unknown.
    assert "notifiers[2].token: unknown key" not in found


def test_webhook_needs_exactly_one_url(tmp_path: Path) -> None:
    both = '[[notifiers]]\nname = "hook"\nkind = "webhook"\nurl = "https://x.example.kr"\nurl_env = "HOOK_URL"\n'
    assert "notifiers[0].url_env: give url or url_env, not both" in problems(tmp_path, both)


def test_header_injection_in_configured_headers_is_refused(tmp_path: Path) -> None:
    text = '[[notifiers]]\nname = "hook"\nkind = "webhook"\nurl = "https://x.example.kr"\nheaders = { "X-A" = "a\\r\\nX-B: b" }\n'
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("notifiers[0].headers: header 'X-A': expected a single line")


def test_template_syntax_errors_are_reported_at_check_time(tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "digest.txt").write_text("{% for x in %}\n", encoding="utf-8")
    text = f'[[notifiers]]\nname = "desk"\nkind = "email"\nto = "d@example.kr"\nsmtp_host = "h"\ntemplates = "{templates}"\n'
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("notifiers[0].templates: digest.txt line 1:")


def test_check_config_prints_notifier_problems(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "m.toml",
        BASE.format(db=tmp_path / "m.db", notify='["desk"]')
        + '[[notifiers]]\nname = "desk"\nkind = "email"\nto = "d@example.kr"\nsmtp_host = "h"\ntls = "tls"\n',
    )
    result = CliRunner().invoke(main, ["check-config", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "notifiers[0].tls: expected one of starttls, ssl, none, got 'tls'" in result.output


@pytest.mark.parametrize(
    ("field", "aps"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("6,0", "sat,sun"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
    ],
)
def test_crontab_weekdays_are_translated_for_apscheduler_3(field: str, aps: str) -> None:
    # APScheduler 3 counts 0 as Monday; crontab counts 0 (and 7) as Sunday.
    assert weekdays(field) == aps


@pytest.mark.parametrize(
    ("expr", "after", "fires"),
    [
        # Friday 09:00 -> the next weekday 08:00 is Monday.
        (
            "0 8 * * 1-5",
            datetime(2024, 9, 6, 9, 0, tzinfo=SEOUL),
            datetime(2024, 9, 9, 8, 0, tzinfo=SEOUL),
        ),
        # Sunday is 0 in crontab.
        (
            "30 7 * * 0",
            datetime(2024, 9, 6, 9, 0, tzinfo=SEOUL),
            datetime(2024, 9, 8, 7, 30, tzinfo=SEOUL),
        ),
        (
            "0 * * * *",
            datetime(2024, 9, 6, 9, 10, tzinfo=SEOUL),
            datetime(2024, 9, 6, 10, 0, tzinfo=SEOUL),
        ),
    ],
)
def test_cron_schedules_fire_in_seoul_time(expr: str, after: datetime, fires: datetime) -> None:
    trigger = cron_trigger(expr, SEOUL)
    assert trigger.get_next_fire_time(None, after) == fires


def test_bad_weekday_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid day of week '8'"):
        cron_trigger("0 8 * * 8", SEOUL)
