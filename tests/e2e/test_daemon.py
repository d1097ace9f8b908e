"""The daemon as a real process: it polls, and SIGTERM mid-cycle loses nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import LocalServer, Route, write_config

ARTICLE = """<html><head><meta charset="utf-8"><title>{title} - 평택미래신문</title>
<meta property="article:published_time" content="2024-09-06T15:44:00+09:00"></head>
<body><nav><a href="/">홈</a> <a href="/s">사회</a></nav>
<article><h1>{title}</h1><p class="byline">홍길동 기자</p>
<div id="article-view-content-div">
<p>평택시는 {n}일 미래자동차 산업 육성을 위한 협약을 체결했다고 밝혔다. 시는 이번 협약으로 관련 기업 유치에 속도를 낸다.</p>
<p>시 관계자는 "지역 산업의 체질을 바꾸는 계기가 될 것"이라며 "시민 일자리 창출에도 힘쓰겠다"고 말했다.</p>
<p>협약에 참여한 기업들은 연구개발 거점을 평택에 두고 인력 양성 프로그램을 함께 운영하기로 했다. 기사 번호 {n}.</p>
</div></article><footer>Copyright 평택미래신문</footer></body></html>"""


def articles(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def serve_portal(server: LocalServer, n: int, delay: float = 0.0) -> None:
    items = ""
    for i in range(n):
        title = f"평택 미래차 협약 소식 {i}"
        server.add(f"a/{i}", Route(ARTICLE.format(title=title, n=i).encode(), delay=delay))
        items += f"<item><title>{title}</title><link>{server.url(f'a/{i}')}</link></item>"
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    server.add("rss.xml", Route(feed.encode(), content_type="application/rss+xml"))


def config(tmp_path: Path, server: LocalServer) -> Path:
    return write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"

[fetch]
per_host = 1

[[sources]]
name = "local"
kind = "feed"
url = "{server.url("rss.xml")}"
interval = "1h"
allow_private = true

[[rules]]
name = "pt"
query = "평택 미래차"
""",
    )


def start(cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "-v", "run", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(pred: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_daemon_polls_then_stops_cleanly_on_sigint(server: LocalServer, tmp_path: Path) -> None:
    serve_portal(server, 3)
    proc = start(config(tmp_path, server))
    try:
        assert wait_for(lambda: articles(tmp_path / "m.db") == 3, 30), "daemon stored nothing"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "daemon stopped" in out


def test_sigterm_mid_cycle_finishes_articles_in_hand_and_loses_nothing(
    server: LocalServer, tmp_path: Path
) -> None:
    serve_portal(server, 8, delay=0.6)  # one connection per host: ~5 s for the whole feed
    cfg = config(tmp_path, server)
    db = tmp_path / "m.db"
    proc = start(cfg)
    try:
        assert wait_for(lambda: articles(db) >= 1, 30), "nothing stored before SIGTERM"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    stored = articles(db)
    assert 1 <= stored < 8, out
    with sqlite3.connect(db) as conn:
        # Every stored article is whole: its match row was written in the same transaction.
        assert conn.execute("SELECT count(*) FROM matches").fetchone()[0] == stored
    # The next pass picks up exactly the rest.
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert articles(db) == 8
    assert f"{8 - stored} new articles" in done.stdout
