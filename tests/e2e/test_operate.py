"""Running unattended: the daemon with --http (health, metrics, JSON logs), SIGHUP reloads,
`monitor serve`, and the progress line of a long `run --once` on a real terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LocalServer, Route, write_config

ARTICLE = """<html><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2024-09-06T15:44:00+09:00"></head>
<body><article><h1>{title}</h1>
<div id="article-view-content-div">
<p>{lead} 시는 이번 협약으로 관련 기업 유치에 속도를 낸다고 밝혔다. 관계자는 지역 산업의 체질을 바꾸는 계기가 될 것이라고 말했다.</p>
<p>협약에 참여한 기업들은 연구개발 거점을 두고 인력 양성 프로그램을 함께 운영하기로 했다. 기사 번호 {n}.</p>
</div></article></body></html>"""


def feed(server: LocalServer, path: str, items: list[tuple[str, str]]) -> str:
    """Serve one article page per (title, lead) and an RSS feed of them; returns its URL."""
    entries = ""
    for i, (title, lead) in enumerate(items):
        page = f"{path}/a{i}"
        body = ARTICLE.format(title=title, lead=lead, n=f"{path}-{i}")
        server.add(page, Route(body.encode()))
        entries += f"<item><title>{title}</title><link>{server.url(page)}</link></item>"
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'
    return server.add(f"{path}.xml", Route(rss.encode(), content_type="application/rss+xml"))


def config_text(db: Path, sources: list[tuple[str, str]], rules: list[tuple[str, str]]) -> str:
    text = f'[storage]\npath = "{db}"\n'
    for name, url in sources:
        text += (
            f'\n[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n'
            'interval = "1h"\nallow_private = true\n'
        )
    for name, query in rules:
        text += f'\n[[rules]]\nname = "{name}"\nquery = "{query}"\n'
    return text


class Proc:
    """A monitor process whose stderr is collected line by line on a thread."""

    def __init__(self, args: list[str]) -> None:
        env = {**os.environ, "MONITOR_LOG_FORMAT": ""}  # decide by the stream: a pipe -> JSON
        self.p = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.lines.append(line.rstrip("\n"))

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records so far."""
        return [json.loads(x) for x in list(self.lines) if x.startswith("{")]

    def url(self) -> str:
        """The base URL it announced it serves on."""
        assert wait_for(lambda: any(x.startswith("monitor:") for x in self.lines), 20), self.lines
        announced = [x for x in self.lines if x.startswith("monitor:") and "http://" in x]
        assert announced, self.lines
        line = announced[0]
        found = re.search(r"(http://[\d.]+:\d+)", line)
        assert found, line
        return found.group(1)

    def stop(self) -> int:
        self.p.send_signal(signal.SIGTERM)
        return self.close()

    def close(self) -> int:
        code = self.p.wait(timeout=20)
        self._reader.join(timeout=5)
        if self.p.stderr is not None:
            self.p.stderr.close()
        return code


def wait_for(pred: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except OSError:
        return 0, b""


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus exposition."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def daemon(server: LocalServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    one = feed(
        server, "one", [(f"평택 미래차 협약 소식 {i}", "평택시는 미래차 협약을") for i in range(3)]
    )
    cfg = write_config(
        tmp_path / "m.toml", config_text(tmp_path / "m.db", [("one", one)], [("pt", "평택 미래차")])
    )
    proc = Proc(["-v", "run", "--config", str(cfg), "--http", "127.0.0.1:0"])
    try:
        yield {"proc": proc, "cfg": cfg, "one": one, "db": tmp_path / "m.db"}
    finally:
        if proc.p.poll() is None:
            proc.p.kill()
        proc.close()


def test_daemon_serves_health_metrics_and_json_logs(daemon: dict[str, Any]) -> None:
    proc: Proc = daemon["proc"]
    base = proc.url()
    assert wait_for(lambda: fetch(base + "/healthz")[0] == 200, 20), proc.lines
    health = json.loads(fetch(base + "/healthz")[1])
    assert health["checks"]["scheduler"]["ok"] and health["checks"]["database"]["ok"]

    def stored() -> int:
        code, body = fetch(base + "/api/articles")
        return len(json.loads(body)["items"]) if code == 200 else 0

    assert wait_for(lambda: stored() == 3, 20), proc.lines
    text = fetch(base + "/metrics")[1].decode()
    assert metric(text, "monitor_articles_total", source="one") == 3
    assert metric(text, "monitor_matches_total", rule="pt") == 3
    assert metric(text, "monitor_fetches_total", kind="article", source="one") == 3
    assert metric(text, "monitor_stored", table="articles") == 3

    # Off a terminal every log line is JSON; the poll's lines name the source and its URL.
    summary = [r for r in proc.records() if r["message"].startswith("3 links, 3 new")]
    assert summary and summary[0]["source"] == "one" and summary[0]["url"] == daemon["one"]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in proc.records())

    assert proc.stop() == 0
    # A daemon that stopped on purpose leaves no heartbeat behind: serve now says unhealthy.
    served = Proc(["serve", "--config", str(daemon["cfg"]), "--http", "127.0.0.1:0"])
    try:
        url = served.url()
        code, body = fetch(url + "/healthz")
        assert code == 503
        assert json.loads(body)["checks"]["scheduler"]["detail"].startswith("no daemon")
        code, page = fetch(url + "/?q=%ED%8F%89%ED%83%9D")  # 평택
        assert code == 200 and page.count(b'class="item hit"') == 3
    finally:
        assert served.stop() == 0


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid(
    daemon: dict[str, Any], server: LocalServer
) -> None:
    proc: Proc = daemon["proc"]
    base = proc.url()

    def matches(rule: str) -> int:
        code, body = fetch(f"{base}/api/matches?rule={rule}")
        return len(json.loads(body)["items"]) if code == 200 else -1

    assert wait_for(lambda: matches("pt") == 3, 20), proc.lines

    # A new source and a new rule: applied without a restart; the store keeps what it had.
    two = feed(server, "two", [("평택항 자동차 수출 협약", "평택항은 자동차 수출 협약을")])
    daemon["cfg"].write_text(
        config_text(
            daemon["db"],
            [("one", daemon["one"]), ("two", two)],
            [("pt", "평택 미래차"), ("port", "평택항")],
        ),
        encoding="utf-8",
    )
    proc.p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: matches("port") == 1, 20), proc.lines
    assert matches("pt") == 3
    assert any(r["message"].startswith("config reloaded from") for r in proc.records())

    # A broken config: every problem is logged, the running config stays, the daemon lives.
    daemon["cfg"].write_text(
        config_text(daemon["db"], [("one", daemon["one"])], [("pt", "평택 미래차")])
        + '\n[[sources]]\nname = "bad"\nkind = "feed"\nurl = "ftp://x"\ninterval = "soon"\n'
        + "colour = 1\n",
        encoding="utf-8",
    )
    before = len(proc.lines)
    proc.p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: any("keeping the running config" in x for x in proc.lines[before:]), 10)
    problems = [
        r["message"] for r in proc.records()[-10:] if r["message"].startswith("config reload: ")
    ]
    assert any("sources[1].url: expected an http(s) URL" in p for p in problems), problems
    assert any('sources[1].interval: expected a duration like "30m"' in p for p in problems)
    assert any("colour: unknown key" in p for p in problems)
    code, body = fetch(base + "/api/stats")
    assert code == 200
    assert {r["rule"] for r in json.loads(body)["rules"]} == {"pt", "port"}
    assert fetch(base + "/healthz")[0] == 200
    assert proc.stop() == 0


def test_run_once_shows_progress_on_a_terminal(server: LocalServer, tmp_path: Path) -> None:
    urls = [feed(server, f"f{i}", [(f"평택 소식 {i}", "평택시는")]) for i in range(3)]
    server.add("broken.xml", Route(b"gone", status=500, content_type="text/plain"))
    sources = [(f"src{i}", u) for i, u in enumerate(urls)] + [("broken", server.url("broken.xml"))]
    cfg = write_config(tmp_path / "m.toml", config_text(tmp_path / "m.db", sources, []))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.communicate(timeout=30)[0]
    text = screen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "[0/4]" in text and "[4/4] ████████████████████ 100%" in text
    assert "3 new · 0 matched · 1 failed" in text
    assert re.search(r"✗ broken: HTTP 500 \(http://127\.0\.0\.1:\d+/broken\.xml\)", text)
    assert text.endswith("\r\x1b[K")  # the status line is erased before the summary prints
    assert "4 sources polled: 3 new articles, 0 matched, 1 failed" in out
