"""Delivery end to end: real portals, real pipeline, real receivers, real crashes.

Nothing flagged is lost and nothing arrives twice: a process killed between sending and
recording resends under the same idempotency key, and every delivery ends recorded once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from monitor import config
from monitor.cli import main
from monitor.pipeline import Context
from monitor.schedule import Daemon
from tests.conftest import LocalServer, Route, SMTPServer, write_config
from tests.unit.test_notify import SECRET, Receiver, attempts, rows

ENV_SECRET = "MONITOR_E2E_HOOK_SECRET"

PAGE = """<html><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2024-09-06T15:44:00+09:00"></head>
<body><nav><a href="/">홈</a></nav><article><h1>{title}</h1><p class="byline">홍길동 기자</p>
<div id="article-view-content-div">{body}</div></article><footer>Copyright</footer></body></html>"""

STORIES = {
    "cars": (
        "평택시, 미래차 산업 육성 협약 체결",
        [
            "평택시는 6일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다. 시는 이번 협약으로 관련 기업 유치에 속도를 낸다.",
            '시 관계자는 "지역 산업의 체질을 바꾸는 계기가 될 것"이라며 "시민 일자리 창출에도 힘쓰겠다"고 말했다.',
            "협약에 참여한 기업들은 연구개발 거점을 평택에 두고 인력 양성 프로그램을 함께 운영하기로 했다.",
        ],
    ),
    "parts": (
        "평택 미래차 부품 기업 300억 투자",
        [
            "전기차 구동 부품을 만드는 한 중견기업이 평택 포승산업단지에 300억 원을 들여 새 공장을 짓는다.",
            "회사는 미래차 전환에 맞춰 배터리 냉각 모듈 생산 라인을 두 배로 늘릴 계획이라고 설명했다.",
            "공장이 완공되면 지역 청년 120명을 새로 채용할 예정이며 협력업체 물량도 함께 늘어난다.",
        ],
    ),
    "port": (
        "평택항 미래차 수출 역대 최대",
        [
            "경기평택항만공사는 올해 평택항 자동차 처리 물량이 지난해보다 12% 늘어 역대 최대를 기록했다고 밝혔다.",
            "특히 하이브리드와 수소차 같은 미래차 수출이 크게 늘어 전용 부두 증설 논의가 본격화됐다.",
            "공사는 내년까지 야적장을 넓히고 선적 대기 시간을 줄이는 물류 시스템을 도입하기로 했다.",
        ],
    ),
}


def page(key: str, copy: bool = False) -> bytes:
    title, paras = STORIES[key]
    if copy:  # the same press release as another portal runs it: lightly edited
        paras = [*paras[:-1], paras[-1] + " 이 소식은 지역 업계에서도 큰 관심을 모았다."]
    body = "".join(f"<p>{p}</p>" for p in paras)
    return PAGE.format(title=title, body=body).encode()


def feed(server: LocalServer, path: str, links: list[str]) -> None:
    items = "".join(f"<item><title>{p}</title><link>{server.url(p)}</link></item>" for p in links)
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    server.add(path, Route(rss.encode(), content_type="application/rss+xml"))


def portal(server: LocalServer, a: list[str], b: list[str] = ()) -> None:  # type: ignore[assignment]
    """Portal A carries the stories `a`; portal B carries copies of the stories `b`."""
    for key in STORIES:
        server.add(f"a/{key}", Route(page(key)))
        server.add(f"b/{key}", Route(page(key, copy=True)))
    feed(server, "a.xml", [f"a/{k}" for k in a])
    feed(server, "b.xml", [f"b/{k}" for k in b])


def make_config(tmp_path: Path, server: LocalServer, notifiers: str, notify: str) -> Path:
    return write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"

[fetch]
per_host = 1

[[sources]]
name = "portal-a"
kind = "feed"
url = "{server.url("a.xml")}"
allow_private = true

[[sources]]
name = "portal-b"
kind = "feed"
url = "{server.url("b.xml")}"
allow_private = true

[[rules]]
name = "pt-future-cars"
query = "평택 미래차"
notify = {notify}
{notifiers}
""",
    )


def hook_table(url: str) -> str:
    return f"""
[[notifiers]]
name = "hook"
kind = "webhook"
url = "{url}"
secret_env = "{ENV_SECRET}"
backoff = "1s"
"""


def run_once(cfg: Path) -> str:
    env = {**os.environ, ENV_SECRET: SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(cfg)],
        capture_output=True, text=True, timeout=90, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_one_notification_per_story_and_none_for_later_copies(
    tmp_path: Path, server: LocalServer
) -> None:
    receiver = Receiver(server)
    portal(server, a=["cars", "parts"], b=["cars"])
    cfg = make_config(tmp_path, server, hook_table(receiver.url), '["hook"]')

    out = run_once(cfg)
    assert "notifications: 2 sent, 0 to retry, 0 given up" in out
    assert all(c["verified"] for c in receiver.calls)
    by_title = {c["body"]["item"]["article"]["title"]: c["body"]["item"] for c in receiver.calls}
    assert set(by_title) == {
        "평택시, 미래차 산업 육성 협약 체결",
        "평택 미래차 부품 기업 300억 투자",
    }
    cars = by_title["평택시, 미래차 산업 육성 협약 체결"]
    # Two portals, one story: one notification, with its size and both members.
    assert cars["story"]["size"] == 2
    assert sorted(m["source"] for m in cars["story"]["members"]) == ["portal-a", "portal-b"]

    # Later, a third portal... here portal B, picks up the parts story: it joins, and
    # nobody is told again; nor does an unchanged second pass notify anyone.
    feed(server, "b.xml", ["b/cars", "b/parts"])
    out = run_once(cfg)
    assert "1 new articles" in out and "notifications:" not in out
    assert len(receiver.calls) == 2
    with sqlite3.connect(tmp_path / "m.db") as conn:
        sizes = dict(conn.execute("SELECT title, size FROM stories"))
    assert sizes["평택 미래차 부품 기업 300억 투자"] == 2
    assert [r["status"] for r in rows(tmp_path / "m.db")] == ["sent", "sent"]


def test_killed_between_send_and_record_loses_nothing_and_repeats_only_the_key(
    tmp_path: Path, server: LocalServer
) -> None:
    portal(server, a=["cars", "parts", "port"])
    victim: list[subprocess.Popen[str]] = []
    receiver = Receiver(server)
    accept = receiver.answer

    def answer_then_die(handler: Any) -> Route:
        route = accept(handler)
        if len(receiver.calls) == 2:
            # The receiver has the second notification; the sender dies before it hears so.
            victim[0].send_signal(signal.SIGKILL)
            victim[0].wait(timeout=10)
        return route

    server.add("hook", answer_then_die)
    cfg = make_config(tmp_path, server, hook_table(receiver.url), '["hook"]')
    env = {**os.environ, ENV_SECRET: SECRET}
    victim.append(
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--once", "--config", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    )
    victim[0].communicate(timeout=90)
    assert victim[0].returncode == -signal.SIGKILL
    db = tmp_path / "m.db"
    state = [(r["status"], r["attempts"]) for r in rows(db)]
    assert state == [("sent", 1), ("pending", 1), ("pending", 0)]
    assert [a["outcome"] for a in attempts(db)] == ["sent", None]  # the second: interrupted

    out = run_once(cfg)  # the restart
    assert "notifications: 2 sent" in out
    first, second, third = rows(db)
    assert [r["status"] for r in (first, second, third)] == ["sent", "sent", "sent"]
    keys = receiver.keys
    # The receiver saw the interrupted one twice, under the same key; the others once.
    assert len(keys) == 4 and len(set(keys)) == 3
    assert keys[1] in keys[2:]
    assert sorted(keys.count(k) for k in set(keys)) == [1, 1, 2]
    # One row per story, each recorded sent once; its attempts tell the story.
    assert second["attempts"] == 2
    assert [a["outcome"] for a in attempts(db) if a["delivery_id"] == second["id"]] == [
        None,
        "sent",
    ]
    # A receiver that drops repeated keys has had each story exactly once.
    titles = {c["body"]["item"]["article"]["title"] for c in receiver.calls}
    assert len(titles) == 3


class DyingSMTPServer(SMTPServer):
    """Accepts a message, then kills the sender before answering 250."""

    victim: subprocess.Popen[str] | None = None

    async def handle_DATA(self, server: Any, smtp_state: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, smtp_state, envelope)
        if self.victim is not None:
            self.victim.send_signal(signal.SIGKILL)
            self.victim.wait(timeout=10)
            self.victim = None
        return answer


def test_digest_killed_after_sending_is_resent_with_the_same_message_id(
    tmp_path: Path, server: LocalServer
) -> None:
    portal(server, a=["cars", "parts"], b=["cars"])
    smtp = DyingSMTPServer()
    try:
        desk = f"""
[[notifiers]]
name = "desk"
kind = "email"
to = "desk@example.kr"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
tls = "none"
schedule = "0 8 * * *"
backoff = "1s"
"""
        cfg = make_config(tmp_path, server, desk, '["desk"]')
        out = run_once(cfg)
        assert "notifications:" not in out  # a digest waits for its schedule
        send = [sys.executable, "-m", "monitor", "digest", "--send", "--config", str(cfg)]
        smtp.victim = subprocess.Popen(send, stdout=subprocess.PIPE, text=True)
        proc = smtp.victim
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert len(smtp.messages) == 1
        assert {r["status"] for r in rows(tmp_path / "m.db")} == {"pending"}

        time.sleep(2.2)  # the interrupted attempt's retry falls due
        again = subprocess.run(send, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert "desk: digest sent (2 stories)" in again.stdout
        first, second = smtp.messages
        assert first["Message-ID"] == second["Message-ID"]
        assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "2개 기사 (portal-a, portal-b)" in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert [r["status"] for r in rows(tmp_path / "m.db")] == ["sent", "sent"]

        # Nothing new since: no digest, unless forced.
        done = CliRunner().invoke(main, ["digest", "--send", "--config", str(cfg)])
        assert "desk: nothing new; not sent" in done.output and len(smtp.messages) == 2
    finally:
        smtp.stop()


def test_test_notify_names_a_missing_variable_and_sends_when_set(
    tmp_path: Path, server: LocalServer
) -> None:
    receiver = Receiver(server)
    portal(server, a=[])
    cfg = make_config(tmp_path, server, hook_table(receiver.url), '["hook"]')
    env = {k: v for k, v in os.environ.items() if k != ENV_SECRET}
    cmd = [sys.executable, "-m", "monitor", "test-notify", "hook", "--config", str(cfg)]
    missing = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"error: notifier 'hook': environment variable {ENV_SECRET} (secret_env) is not set"
    )
    ok = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={**env, ENV_SECRET: SECRET}
    )
    assert ok.returncode == 0, ok.stderr
    assert "hook: sample sent: [시험]" in ok.stdout
    assert receiver.calls[-1]["verified"] and receiver.calls[-1]["body"]["type"] == "test"


def test_daemon_sends_immediately_and_digests_on_schedule(
    tmp_path: Path, server: LocalServer, smtp_server: SMTPServer, monkeypatch: Any
) -> None:
    monkeypatch.setenv(ENV_SECRET, SECRET)
    receiver = Receiver(server)
    portal(server, a=["cars", "port"])
    desk = f"""
[[notifiers]]
name = "desk"
kind = "email"
to = "desk@example.kr"
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
tls = "none"
schedule = "0 8 * * *"
"""
    cfg = make_config(tmp_path, server, hook_table(receiver.url) + desk, '["hook", "desk"]')
    settings = config.load(cfg)
    daemon = Daemon(settings, tick=3600)
    seoul = ZoneInfo("Asia/Seoul")

    async def until(pred: Any, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.05)

    async def scenario(ctx: Context) -> None:
        assert daemon.scheduler is not None
        job = daemon.scheduler.get_job("digest:desk")
        # The digest's next run is 08:00 Seoul time.
        assert job.next_run_time.tzinfo is not None
        assert job.next_run_time.astimezone(seoul).strftime("%H:%M") == "08:00"
        await until(lambda: len(receiver.calls) == 2)  # the first tick stored and drained
        assert smtp_server.messages == []  # the digest waits for 08:00 ...
        job.modify(next_run_time=datetime.now(seoul))  # ... which we make now
        await until(lambda: len(smtp_server.messages) == 1)
        daemon.request_stop()

    asyncio.run(daemon.run(ready=scenario))
    (msg,) = smtp_server.messages
    assert "pt-future-cars 2" in msg["Subject"]
    assert {r["notifier"]: r["status"] for r in rows(tmp_path / "m.db")} == {
        "hook": "sent",
        "desk": "sent",
    }
