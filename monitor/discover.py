"""`monitor add URL`: find a site's feeds and sitemaps, and add one to the config as a source.

Where it looks, in order: the address itself (it may be a feed already), the home page's
<link rel="alternate"> feeds, the paths feeds usually live at (the common Korean news CMS
serves /rss/allArticle.xml), then sitemaps named in robots.txt and /sitemap.xml. Each find is
fetched and read, so what is shown (title, item count) is what a poll would see.

The new source is appended to the config file as text, so the user's comments and layout
survive; the whole file is validated with the config loader before it is written.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from monitor import config as config_mod
from monitor.config import FetchSettings
from monitor.errors import ConfigError, FetchError, SourceError
from monitor.fetch import Fetcher, is_public_address
from monitor.models import Page
from monitor.sources.feed import parse_feed
from monitor.sources.sitemap import parse_sitemap
from monitor.text import decode

COMMON_FEEDS = ("/rss", "/rss.xml", "/feed", "/rss/allArticle.xml", "/atom.xml")
COMMON_SITEMAPS = ("/sitemap.xml",)
FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "text/xml",
    "application/xml",
}
INTERVALS = {"feed": "15m", "sitemap": "30m"}
_SLD = {"co", "or", "go", "ne", "re", "ac", "pe", "kg", "es", "ms", "hs", "sc", "mil"}
_SKIP_LABELS = {"www", "m", "news", "rss", "feeds", "feed", "mobile"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed or sitemap found for a site, as a poll would read it."""

    kind: str  # feed | sitemap
    url: str  # where it was finally read (after redirects)
    title: str | None
    items: int  # items of a feed, entries of a sitemap, child sitemaps of an index
    found: str  # how it was found
    index: bool = False  # a sitemap index (items counts its child sitemaps)

    def describe(self) -> str:
        """One line for the list shown to the user."""
        what = f"{self.items} child sitemaps" if self.index else f"{self.items} items"
        title = f" {self.title!r}" if self.title else ""
        return f"{self.kind:<7} {self.url}{title} ({what}; {self.found})"


def normalize_address(url: str) -> str:
    """An address typed as www.example.kr becomes https://www.example.kr/."""
    url = url.strip()
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url
    return url if urlsplit(url).path else url + "/"


def default_name(url: str) -> str:
    """A source name from the site's host: https://www.joongboo.com/ -> joongboo."""
    host = (urlsplit(normalize_address(url)).hostname or "source").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    labels = [label for label in host.split(".") if label]
    while len(labels) > 2 and labels[0] in _SKIP_LABELS:
        labels = labels[1:]
    if len(labels) >= 3 and labels[-2] in _SLD and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


def read_candidate(page: Page, found: str) -> Candidate | None:
    """What a fetched URL is: a feed, a sitemap, or neither (None)."""
    parsed = parse_feed(page)
    if parsed.get("version"):
        entries = [e for e in parsed.get("entries") or [] if e.get("link")]
        title = (parsed.get("feed") or {}).get("title") or None
        return Candidate("feed", page.url, title, len(entries), found)
    try:
        sitemap = parse_sitemap(page.body)
    except SourceError:
        return None
    if sitemap.children:
        return Candidate("sitemap", page.url, None, len(sitemap.children), found, index=True)
    return Candidate("sitemap", page.url, None, len(sitemap.entries), found)


def feed_links(home: Page) -> list[str]:
    """Feeds the home page announces with <link rel="alternate" type="...">."""
    tree = LexborHTMLParser(decode(home.body, home.content_type)[0])
    base_tag = tree.css_first("base[href]")
    base = urljoin(home.url, base_tag.attributes.get("href") or "") if base_tag else home.url
    out = []
    for node in tree.css("link[rel][href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            out.append(urljoin(base, (node.attributes.get("href") or "").strip()))
    return out


def robots_sitemaps(body: bytes, base: str) -> list[str]:
    """The Sitemap: lines of a robots.txt."""
    text = body.decode("utf-8", errors="replace")
    found = re.findall(r"^\s*sitemap\s*:\s*(\S+)", text, re.I | re.M)
    return [urljoin(base, url) for url in found]


async def discover(url: str, settings: FetchSettings | None = None) -> list[Candidate]:
    """Every feed and sitemap found for a site, in the order they are worth offering."""
    address = normalize_address(url)
    async with Fetcher(settings) as fetcher:
        # The user named this site: its address may be a private one (an intranet portal).
        async def get(target: str) -> Page | None:
            try:
                return await fetcher.get(target, allow_private=True)
            except FetchError:
                return None

        try:
            home = await fetcher.get(address, allow_private=True)
        except FetchError as exc:
            raise SourceError(f"cannot read {address}: {exc}") from exc
        itself = read_candidate(home, "the address itself")
        root = urljoin(home.url, "/")
        looks: list[tuple[str, str]] = [(u, "<link rel=alternate>") for u in feed_links(home)]
        looks += [(urljoin(root, p), "common feed path") for p in COMMON_FEEDS]
        robots = await get(urljoin(root, "/robots.txt"))
        if robots is not None:
            looks += [(u, "robots.txt") for u in robots_sitemaps(robots.body, root)]
        looks += [(urljoin(root, p), "common sitemap path") for p in COMMON_SITEMAPS]
        first: dict[str, str] = {}
        for target, how in looks:
            first.setdefault(target, how)  # where it was first found says most

        async def check(target: str, how: str) -> Candidate | None:
            page = await get(target)
            return read_candidate(page, how) if page is not None else None

        checked = await asyncio.gather(
            *(check(u, how) for u, how in first.items() if u != home.url)
        )
    out: list[Candidate] = []
    seen: set[str] = set()
    for cand in [itself, *checked]:
        if cand is not None and cand.url not in seen:
            seen.add(cand.url)
            out.append(cand)
    # Feeds before sitemaps; within each, the order they were found in.
    return sorted(out, key=lambda c: c.kind != "feed")


def best(found: list[Candidate]) -> Candidate | None:
    """The find to add without asking: the first feed with items, else the first sitemap."""
    return next((c for c in found if c.items > 0), None)


def is_private_host(url: str) -> bool:
    """Whether a URL's host is (or resolves to) a loopback or private address."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return False
        return any(not is_public_address(str(info[4][0])) for info in infos)
    return not is_public_address(host)


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def entry_text(found: Candidate, name: str) -> str:
    """The [[sources]] table to append, with a comment saying what it is."""
    what = "sitemap index" if found.index else found.kind
    title = re.sub(r"\s+", " ", found.title or "").strip()
    lines = [
        "",
        f"# {title + ' — ' if title else ''}{what} found by `monitor add` on {date.today()}",
        "[[sources]]",
        f"name = {_toml(name)}",
        f"kind = {_toml(found.kind)}",
        f"url = {_toml(found.url)}",
        f"interval = {_toml(INTERVALS.get(found.kind, '30m'))}",
    ]
    if is_private_host(found.url):
        lines.append("allow_private = true                   # the site is on a private address")
    return "\n".join(lines) + "\n"


def _read(path: Path) -> tuple[str, dict[str, object]]:
    """A config file's text and its TOML (an absent file is an empty config)."""
    if not path.exists():
        return "", {}
    text = path.read_text(encoding="utf-8")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", str(path)) from None


def check_new(path: Path, name: str, url: str | None = None) -> None:
    """Refuse a name (or a URL) a source in the config already has."""
    _text, raw = _read(path)
    tables = raw.get("sources")
    for table in tables if isinstance(tables, list) else []:
        if not isinstance(table, dict):
            continue
        if table.get("name") == name:
            raise ConfigError(
                f"a source named {name!r} is already in the config; choose another with --name",
                str(path),
            )
        if url is not None and table.get("url") == url:
            raise ConfigError(
                f"{url} is already configured as source {table.get('name')!r}", str(path)
            )


def fetch_settings(path: Path) -> FetchSettings | None:
    """The config's [fetch] settings, so discovery is as polite as polling; None: defaults."""
    try:
        return config_mod.load(path).fetch
    except ConfigError:
        return None


def append_source(path: Path, entry: str, name: str, url: str) -> None:
    """Append a [[sources]] table to the config, after validating the whole result."""
    check_new(path, name, url)
    text, _raw = _read(path)
    new = text + ("\n" if text and not text.endswith("\n") else "") + entry
    try:
        config_mod.parse(tomllib.loads(new), path=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the new source would not be valid TOML: {exc}", str(path)) from None
    # Written beside the file and renamed over it: a crash leaves the old config whole.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(new)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
