"""Shared test fixtures: a real local HTTP server that can misbehave, and the reference data."""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MONITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))
KOREAN_PAGES = SHARED_DATA / "korean-news-pages"


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between body bytes (slow-drip)
    reset: bool = False  # close the connection without an answer
    gzip: bool = False
    etag: bool = True  # answer If-None-Match with 304
    fail_first: int = 0  # answer 500 this many times first


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose routes tests set."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[BaseHTTPRequestHandler], Route]] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base + "/" + path.lstrip("/")

    def add(self, path: str, route: Route | Callable[[BaseHTTPRequestHandler], Route]) -> str:
        """Serve `route` at `path`; returns its URL."""
        self.routes["/" + path.lstrip("/")] = route
        return self.url(path)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                query = urlsplit(self.path).query
                key = path + ("?" + query if query and path + "?" + query in server.routes else "")
                with server._lock:
                    server.hits[key] = server.hits.get(key, 0) + 1
                    n = server.hits[key]
                    server.requests.append((self.path, dict(self.headers.items())))
                spec = server.routes.get(key)
                if spec is None:
                    self._send(Route(b"not found", status=404, content_type="text/plain"))
                    return
                route = spec(self) if callable(spec) else spec
                if route.fail_first >= n:
                    self._send(Route(b"server error", status=500, content_type="text/plain"))
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                self._send(route)

            def _send(self, route: Route) -> None:
                body = route.body
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if route.etag and route.status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.gzip:
                    body = gzip.compress(body)
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                if route.gzip:
                    self.send_header("Content-Encoding", "gzip")
                if route.etag and route.status == 200:
                    self.send_header("ETag", etag)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if route.drip:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(route.drip)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh local HTTP server for one test."""
    s = LocalServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def korean_pages() -> Path:
    """The real Korean pages with ground truth; skipped when the data set is absent."""
    if not (KOREAN_PAGES / "truth.json").is_file():
        pytest.skip(f"reference data not found at {KOREAN_PAGES} (set MONITOR_SHARED_DATA)")
    return KOREAN_PAGES


def write_config(path: Path, text: str) -> Path:
    """Write a TOML config file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path
