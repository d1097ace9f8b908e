"""The web page in a real headless Chromium, used as a person would: load, type, submit, page.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port,
no extra library), with JavaScript switched off in the page, since the page must work
without it. Every host but 127.0.0.1 fails to resolve, so nothing leaves the machine.
A screenshot of the results is saved in test-artifacts/.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor.config import parse
from monitor.models import Match, StoredArticle
from monitor.store import Store
from monitor.web import WebServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--lang=ko-KR",
    "--window-size=1200,1000",
    # Any host name but the local server's address fails to resolve: no request can leave.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
]


def chromium() -> str:
    """The Chromium binary; fails in CI without it, skips elsewhere with the reason."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium is not installed (apt-get install chromium); .ci/run installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _high(fd: int) -> int:
    """The same pipe end on a descriptor number of 10 or more (the original is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """Chromium over the DevTools protocol: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        # bash puts the pipe ends on the fds Chromium reads (3) and writes (4); moved above 9
        # first, so that neither is one of those two already.
        to_chrome_r, from_chrome_w = (_high(fd) for fd in (to_chrome_r, from_chrome_w))
        script = 'exec "$0" "$@" 3<&"$CDP_IN" 4>&"$CDP_OUT"'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w),
            env={**os.environ, "CDP_IN": str(to_chrome_r), "CDP_OUT": str(from_chrome_w)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = ""

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cond:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cond.notify_all()

    def send(self, method: str, timeout: float = 20, **params: Any) -> dict[str, Any]:
        """Call a DevTools method (on the page's session once attached); returns its result."""
        self._next += 1
        ident = self._next
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no answer to {method} (chromium exited or hung)")
                self._cond.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def open_page(self) -> None:
        """A fresh tab, attached, with JavaScript off."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Emulation.setScriptExecutionDisabled", value=True)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1200,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )

    def loaded_after(self, mark: int, timeout: float = 20) -> None:
        """Wait for the page's load event after event number `mark`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(
                e.get("method") == "Page.loadEventFired" and e.get("sessionId") == self.session
                for e in self.events[mark:]
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the page did not finish loading")
                self._cond.wait(left)

    def goto(self, url: str) -> None:
        mark = len(self.events)
        self.send("Page.navigate", url=url)
        self.loaded_after(mark)

    def node(self, selector: str) -> int:
        root = self.send("DOM.getDocument", depth=0)["root"]["nodeId"]
        node = int(self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"])
        assert node, f"no element matches {selector!r}"
        return node

    def html(self) -> LexborHTMLParser:
        """The page as it is now (the DOM, not the bytes served)."""
        root = self.send("DOM.getDocument", depth=0)["root"]["nodeId"]
        return LexborHTMLParser(self.send("DOM.getOuterHTML", nodeId=root)["outerHTML"])

    def type_and_enter(self, selector: str, text: str) -> None:
        """Focus a field, type into it as a keyboard would, press Enter, wait for the page."""
        self.send("DOM.focus", nodeId=self.node(selector))
        self.send("Input.insertText", text=text)
        mark = len(self.events)
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                nativeVirtualKeyCode=13,
                **({"text": "\r"} if kind == "keyDown" else {}),
            )
        self.loaded_after(mark)

    def click(self, selector: str) -> None:
        """Click the middle of an element with the mouse, and wait for the next page."""
        node = self.node(selector)
        self.send("DOM.scrollIntoViewIfNeeded", nodeId=node)
        quad = self.send("DOM.getBoxModel", nodeId=node)["model"]["content"]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        mark = len(self.events)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        self.loaded_after(mark)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def close(self) -> None:
        try:
            os.write(self._out, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._out)
        self._reader.join(timeout=5)
        os.close(self._in)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The web server over a store of 26 평택 articles, one of them hostile."""
    db = tmp_path / "m.db"
    store = Store(db)
    for i in range(25):
        title = f"평택 미래차 협약 {i}호" if i % 5 == 0 else f"평택항 물동량 {i}월 집계"
        body = f"평택시는 {i}일 미래자동차 산업 육성 계획을 밝혔다. 평택항 수출도 늘었다."
        url = f"https://news.example.kr/{i}"
        art = StoredArticle(
            id=f"a{i:02d}",
            url=url,
            canonical_url=url,
            source="pt-news" if i % 2 else "gg-news",
            title=title,
            body=body,
            content_hash=f"h{i}",
            published_at=datetime(2024, 9, 1 + i % 28, 1, 0, tzinfo=UTC),
            author=None,
        )
        hits = [Match("pt", ("평택",), (), body[:30], ((0, 2),))] if i % 5 == 0 else []
        store.save_new(art, [url], hits)
    evil = StoredArticle(
        id="evil",
        url="javascript:alert(1)",
        canonical_url="https://evil.example/x",
        source="pt-news",
        title='<script>document.title="pwned"</script>평택 <b>속보</b>',
        body="<img src=x onerror=\"document.title='pwned'\"> 평택 소식",
        content_hash="evil",
        published_at=None,
        author=None,
    )
    store.save_new(evil, [], [Match("pt", ("평택",), (), "<img src=x onerror=alert(1)> 평택", ())])
    store.index_pending()  # as the pipeline does at the end of a poll
    store.close()
    settings = parse(
        {
            "storage": {"path": str(db)},
            "sources": [{"name": "pt-news", "kind": "feed", "url": "https://news.example.kr/r"}],
            "rules": [{"name": "pt", "query": "평택"}],
        }
    )
    with WebServer(lambda: settings, "127.0.0.1:0") as server:
        yield server.url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(chromium(), tmp_path / "profile")
    try:
        b.open_page()
        yield b
    finally:
        b.close()


def test_search_in_a_real_browser(site: str, browser: Browser) -> None:
    browser.goto(site + "/")
    front = browser.html()
    assert front.css_first("h1").text() == "monitor"
    assert len(front.css("#matches li.match")) == 6
    assert front.css("script") == [] and front.css("#matches img") == []
    assert "pwned" not in (front.css_first("title").text())

    # A person types two words, one of them two syllables, and presses Enter.
    browser.type_and_enter("input[name=q]", "평택 미래차")
    results = browser.html()
    assert results.css_first("input[name=q]").attributes["value"] == "평택 미래차"
    hits = results.css("#results li.hit")
    assert len(hits) == 5  # the five 미래차 articles; not every 평택 article
    assert all("미래차" in h.css_first(".title").text() for h in hits)
    assert {m.text() for h in hits for m in h.css(".title mark")} == {"평택", "미래차"}
    browser.screenshot(ARTIFACTS / "web-search.png")

    # A broader search pages: the second page is reached with a click on "Next".
    browser.goto(site + "/")
    browser.type_and_enter("input[name=q]", "평택")
    first = browser.html()
    assert len(first.css("#results li.hit")) == 20
    browser.click("nav.pages a[rel=next]")
    second = browser.html()
    rest = second.css("#results li.hit")
    assert len(rest) == 6  # 26 in all
    assert "Results 21–26" in second.css_first("#results h2").text()
    # The hostile article shows its markup as text; nothing of it runs or loads.
    evil = [h for h in first.css("#results li.hit") + rest if "속보" in h.text()]
    assert len(evil) == 1
    assert '<script>document.title="pwned"</script>' in evil[0].css_first(".title").text()
    assert evil[0].css(".title a") == []  # its URL is javascript:, so it is no link
    assert first.css("script") == [] and second.css("script") == []
    assert browser.send("Runtime.evaluate", expression="1")  # the DevTools link is still up
    assert "pwned" not in second.css_first("title").text()
    assert (ARTIFACTS / "web-search.png").stat().st_size > 10_000
