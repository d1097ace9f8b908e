"""A bundled sample portal served on 127.0.0.1, so the real pipeline can run with no internet."""

from __future__ import annotations

import hashlib
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from monitor.config import Settings, parse
from monitor.errors import ConfigError

SITE = Path(str(resources.files("monitor.demo") / "site"))
_TYPES = {
    ".html": "text/html",  # no charset on purpose: pages declare it in <meta>, as many portals do
    ".xml": "application/rss+xml",
    ".json": "application/json",
    ".css": "text/css",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    """A request handler serving `root`, with {host} replaced and ETags for conditional GET."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "demo-portal/1.0"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path.lstrip("/") or "index.html"
            target = (root / path).resolve()
            if root.resolve() not in target.parents or not target.is_file():
                self.send_error(404)
                return
            body = target.read_bytes()
            if target.suffix in {".html", ".xml"}:
                host = self.headers.get("Host") or "127.0.0.1"
                body = body.replace(b"{host}", host.encode("ascii"))
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(target.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: the demo prints its own summary."""

    return Handler


@contextmanager
def serve(root: Path = SITE, port: int = 0) -> Iterator[str]:
    """Serve a static site on 127.0.0.1 in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(root))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CONFIG_HINT = "config/demo.toml"
_DEMO_PORT = "http://127.0.0.1:8765"


def _demo_config() -> Path:
    """config/demo.toml from the working directory or the source checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / CONFIG_HINT
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{CONFIG_HINT} not found (run the demo from the project folder)")


def settings(base_url: str, db_path: Path) -> Settings:
    """The demo config, pointed at the running sample portal and the given database."""
    path = _demo_config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8").replace(_DEMO_PORT, base_url))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", str(path)) from None
    raw.setdefault("storage", {})["path"] = str(db_path)
    return parse(raw, path=path)
