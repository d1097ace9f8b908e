"""TOML config -> validated, frozen settings; every problem is reported with its key path."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.errors import ConfigError, RuleError
from monitor.models import Rule, Source

DEFAULT_PATH = "config/monitor.toml"
SOURCE_KINDS = ("feed", "html", "sitemap", "naver", "google-news", "json")
NOTIFIER_KINDS = ("email", "webhook", "apprise")
DEFAULT_USER_AGENT = "monitor/0.1 (news monitor)"

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9가-힣][\w.\-가-힣]*$")


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How the shared HTTP client behaves."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 10  # connections across all hosts
    per_host: int = 2  # connections to one host at once
    retries: int = 1  # for transient network errors only
    host_delay: float = 1.0  # seconds between request starts to one host (loopback: none)
    hosts: Mapping[str, HostLimits] = field(default_factory=dict)  # per-host overrides


@dataclass(frozen=True, slots=True)
class HostLimits:
    """[fetch.hosts."name"]: one host's own delay and concurrency (None: the [fetch] value)."""

    host_delay: float | None = None
    per_host: int | None = None


@dataclass(frozen=True, slots=True)
class Notifier:
    """A configured notifier; kind-specific keys stay in `settings`."""

    name: str
    kind: str
    schedule: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration."""

    db_path: Path
    sources: tuple[Source, ...]
    rules: tuple[Rule, ...]
    notifiers: tuple[Notifier, ...] = ()
    fetch: FetchSettings = FetchSettings()
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_synonyms: bool = True
    timezone: str = "Asia/Seoul"
    path: Path | None = None

    def source(self, name: str) -> Source:
        """Return the source called `name` or raise ConfigError listing the known ones."""
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (known: {known})")

    def rule(self, name: str) -> Rule:
        """Return the rule called `name` or raise ConfigError listing the known ones."""
        for r in self.rules:
            if r.name == name:
                return r
        known = ", ".join(r.name for r in self.rules) or "none"
        raise ConfigError(f"no rule named {name!r} (known: {known})")

    def notifier(self, name: str) -> Notifier:
        """Return the notifier called `name` or raise ConfigError listing the known ones."""
        for n in self.notifiers:
            if n.name == name:
                return n
        known = ", ".join(n.name for n in self.notifiers) or "none"
        raise ConfigError(f"no notifier named {name!r} (known: {known})")


def parse_duration(value: object) -> float:
    """Turn "90s", "10m", "1h30m", "2d" or a number of seconds into seconds."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration like "30m", got {value!r}')
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"expected a positive duration, got {value!r}")
        return float(value)
    if isinstance(value, str) and value.strip() and (m := _DURATION.match(value)):
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        total = d * 86400 + h * 3600 + mi * 60 + s
        if total > 0:
            return float(total)
    raise ValueError(f'expected a duration like "30m", got {value!r}')


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """A --since value: a duration back from now ("6h", "2d") or an ISO 8601 date or time."""
    try:
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f'expected a duration like "6h" or a date like 2024-09-06, got {value!r}'
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo("Asia/Seoul"))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the config path: --config, else $MONITOR_CONFIG, else config/monitor.toml."""
    return Path(explicit or os.environ.get("MONITOR_CONFIG") or DEFAULT_PATH)


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate a config file; raise ConfigError listing every problem."""
    p = config_path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", str(p)) from None
    # A relative storage path is relative to the working directory, as the README's commands run.
    return parse(raw, path=p)


class _Checker:
    """Collects problems with their key paths while reading a raw TOML mapping."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(self, raw: object, key: str) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.add(key, f"expected a table, got {type(raw).__name__}")
            return {}
        return raw

    def unknown(self, raw: Mapping[str, Any], key: str, allowed: set[str]) -> None:
        for k in raw:
            if k not in allowed:
                hint = ", ".join(sorted(allowed))
                self.add(f"{key}.{k}" if key else k, f"unknown key (allowed: {hint})")

    def get(
        self,
        raw: Mapping[str, Any],
        key: str,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        required: bool = False,
    ) -> Any:
        if name not in raw:
            if required:
                self.add(f"{key}.{name}", "required")
            return default
        value = raw[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = False if isinstance(value, bool) and bool not in kinds else isinstance(value, kinds)
        if not ok:
            want = " or ".join(k.__name__ for k in kinds)
            self.add(f"{key}.{name}", f"expected {want}, got {value!r}")
            return default
        return value

    def convert(self, key: str, value: Any, fn: Callable[[Any], Any], default: Any) -> Any:
        try:
            return fn(value)
        except ValueError as exc:
            self.add(key, str(exc))
            return default


_SOURCE_KEYS = {"name", "kind", "url", "interval", "allow_private", "ignore_robots", "enabled"}
# Keys each kind understands beyond the common ones; kinds validate their values themselves.
SOURCE_SETTINGS: dict[str, set[str]] = {
    "feed": {"fetch_articles", "max_items", "allowed_hosts"},
    "html": {
        "link_selector", "link_pattern", "max_links", "allowed_hosts", "next_selector",
        "max_pages", "title_selector", "body_selector", "date_selector", "author_selector",
    },
    "sitemap": {"max_items", "allowed_hosts", "max_sitemaps", "link_pattern", "fetch_articles"},
    "naver": {
        "query", "display", "client_id_env", "client_secret_env", "fetch_articles",
        "daily_quota", "max_pages", "allowed_hosts",
    },
    "google-news": {"query", "rule", "fetch_articles", "max_items", "allowed_hosts"},
    "json": {"items", "fields", "max_items", "allowed_hosts", "fetch_articles"},
}  # fmt: skip
_RULE_KEYS = {"name", "query", "notify", "min_count", "proximity", "short_forms", "particles"}
_NOTIFIER_KEYS = {"name", "kind", "schedule", "enabled"}
_FETCH_KEYS = set(FetchSettings.__slots__)


def parse(raw: Mapping[str, Any], base: Path | None = None, path: Path | None = None) -> Settings:
    """Validate a raw config mapping; raise ConfigError listing every problem."""
    c = _Checker()
    c.unknown(
        raw, "", {"storage", "sources", "rules", "notifiers", "fetch", "synonyms", "timezone"}
    )
    storage = c.table(raw.get("storage"), "storage")
    c.unknown(storage, "storage", {"path"})
    db = c.get(storage, "storage", "path", str, "data/monitor.db")
    db_path = Path(db)
    if base is not None and not db_path.is_absolute():
        db_path = base / db_path

    fetch = _parse_fetch(c, c.table(raw.get("fetch"), "fetch"))
    sources = _parse_sources(c, raw.get("sources", []))
    notifiers = _parse_notifiers(c, raw.get("notifiers", []))
    rules = _parse_rules(c, raw.get("rules", []), {n.name for n in notifiers})
    sources = _bind_rules(c, raw.get("sources", []), sources, rules)

    syn_raw = c.table(raw.get("synonyms"), "synonyms")
    synonyms: dict[str, tuple[str, ...]] = {}
    default_synonyms = True
    for k, v in syn_raw.items():
        if k == "defaults":
            if isinstance(v, bool):
                default_synonyms = v
            else:
                c.add("synonyms.defaults", f"expected true or false, got {v!r}")
        elif isinstance(v, list) and v and all(isinstance(x, str) and x.strip() for x in v):
            synonyms[k] = tuple(v)
        else:
            c.add(f"synonyms.{k}", f"expected a list of words, got {v!r}")
    tz = c.get(raw, "", "timezone", str, "Asia/Seoul")
    try:
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        c.add("timezone", f'unknown time zone {tz!r} (e.g. "Asia/Seoul")')
        tz = "Asia/Seoul"

    if c.problems:
        raise ConfigError(c.problems, str(path) if path else None)
    return Settings(
        db_path=db_path,
        sources=tuple(sources),
        rules=tuple(rules),
        notifiers=tuple(notifiers),
        fetch=fetch,
        synonyms=synonyms,
        default_synonyms=default_synonyms,
        timezone=tz,
        path=path,
    )


def _parse_fetch(c: _Checker, raw: dict[str, Any]) -> FetchSettings:
    """Validate the [fetch] table."""
    c.unknown(raw, "fetch", _FETCH_KEYS)
    d = FetchSettings()
    ua = c.get(raw, "fetch", "user_agent", str, d.user_agent)
    timeout = c.get(raw, "fetch", "timeout", (str, int, float), d.timeout)
    timeout = c.convert("fetch.timeout", timeout, parse_duration, d.timeout)
    ints = {}
    for name in ("max_bytes", "max_redirects", "concurrency", "per_host", "retries"):
        v = c.get(raw, "fetch", name, int, getattr(d, name))
        least = 0 if name in {"max_redirects", "retries"} else 1
        if v < least:
            c.add(f"fetch.{name}", f"must be at least {least}, got {v}")
            v = getattr(d, name)
        ints[name] = v
    delay = c.get(raw, "fetch", "host_delay", (str, int, float), d.host_delay)
    delay = c.convert("fetch.host_delay", delay, _delay, d.host_delay)
    hosts: dict[str, HostLimits] = {}
    for host, table in c.table(raw.get("hosts"), "fetch.hosts").items():
        key = f'fetch.hosts."{host}"'
        if not host.strip() or any(ch in host for ch in " /@\t"):
            c.add(key, "expected a host name such as news.example.kr")
        limits = c.table(table, key)
        c.unknown(limits, key, {"host_delay", "per_host"})
        h_delay = c.get(limits, key, "host_delay", (str, int, float), None)
        if h_delay is not None:
            h_delay = c.convert(f"{key}.host_delay", h_delay, _delay, None)
        h_per_host = c.get(limits, key, "per_host", int, None)
        if h_per_host is not None and h_per_host < 1:
            c.add(f"{key}.per_host", f"must be at least 1, got {h_per_host}")
            h_per_host = None
        hosts[host.strip().lower().rstrip(".")] = HostLimits(h_delay, h_per_host)
    return FetchSettings(user_agent=ua, timeout=timeout, host_delay=delay, hosts=hosts, **ints)


def _delay(value: object) -> float:
    """A delay between requests: 0 for none, seconds, or a duration such as "2s"."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    return parse_duration(value)


def _list_of_tables(c: _Checker, raw: object, key: str) -> list[dict[str, Any]]:
    """Check that a [[array]] of tables is one."""
    if not isinstance(raw, list):
        c.add(key, f"expected an array of tables ([[{key}]]), got {type(raw).__name__}")
        return []
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            out.append(item)
        else:
            c.add(f"{key}[{i}]", "expected a table")
            out.append({})
    return out


def _check_name(c: _Checker, key: str, name: object, seen: set[str]) -> str:
    """Validate a unique name."""
    if not isinstance(name, str) or not _NAME.match(name):
        if name is not None:
            c.add(
                f"{key}.name", f"expected a name of letters, digits, '-', '_' or '.', got {name!r}"
            )
        return f"#{key}"
    if name in seen:
        c.add(f"{key}.name", f"duplicate name {name!r}")
    seen.add(name)
    return name


def _parse_sources(c: _Checker, raw: object) -> list[Source]:
    """Validate [[sources]]."""
    out: list[Source] = []
    seen: set[str] = set()
    for i, s in enumerate(_list_of_tables(c, raw, "sources")):
        key = f"sources[{i}]"
        name = _check_name(c, key, c.get(s, key, "name", str, None, required=True), seen)
        key_named = f"{key}"
        kind = c.get(s, key_named, "kind", str, "feed", required=True)
        if kind not in SOURCE_KINDS:
            c.add(f"{key}.kind", f"unknown kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")
            extra: set[str] = set()
        else:
            extra = SOURCE_SETTINGS.get(kind, set())
        c.unknown(s, key, _SOURCE_KEYS | extra)
        url = c.get(s, key, "url", str, "", required=kind not in {"naver", "google-news"})
        if url and not re.match(r"^https?://[^/\s]+", url):
            c.add(f"{key}.url", f"expected an http(s) URL, got {url!r}")
        interval = c.convert(f"{key}.interval", s.get("interval", "10m"), parse_duration, 600.0)
        allow_private = c.get(s, key, "allow_private", bool, False)
        ignore_robots = c.get(s, key, "ignore_robots", bool, False)
        if not c.get(s, key, "enabled", bool, True):
            continue
        settings = {k: v for k, v in s.items() if k in extra}
        _check_source_settings(c, key, kind, settings)
        out.append(
            Source(
                name=name,
                kind=kind,
                url=url,
                interval=interval,
                allow_private=allow_private,
                ignore_robots=ignore_robots,
                settings=settings,
            )
        )
    return out


def _check_source_settings(c: _Checker, key: str, kind: str, s: dict[str, Any]) -> None:
    """Type-check the kind-specific source keys we know about."""
    for name in ("max_items", "max_links", "display"):
        if name in s and (not isinstance(s[name], int) or isinstance(s[name], bool) or s[name] < 1):
            c.add(f"{key}.{name}", f"expected a positive whole number, got {s[name]!r}")
    for name in ("fetch_articles",):
        if name in s and not isinstance(s[name], bool):
            c.add(f"{key}.{name}", f"expected true or false, got {s[name]!r}")
    if "allowed_hosts" in s and not (
        isinstance(s["allowed_hosts"], list) and all(isinstance(h, str) for h in s["allowed_hosts"])
    ):
        c.add(f"{key}.allowed_hosts", f"expected a list of host names, got {s['allowed_hosts']!r}")
    if "link_selector" in s:
        sel = s["link_selector"]
        if not isinstance(sel, str) or not sel.strip():
            c.add(f"{key}.link_selector", f"expected a CSS selector, got {sel!r}")
        else:
            try:
                from selectolax.lexbor import LexborHTMLParser

                LexborHTMLParser("<p></p>").css(sel)
            except Exception as exc:  # selectolax raises plain exceptions for bad selectors
                c.add(f"{key}.link_selector", f"invalid CSS selector {sel!r}: {exc}")
    if "link_pattern" in s:
        try:
            re.compile(s["link_pattern"])
        except (re.error, TypeError) as exc:
            c.add(f"{key}.link_pattern", f"invalid regular expression: {exc}")
    from monitor.sources import check_settings  # each kind knows its own settings

    for name, message in check_settings(kind, s):
        c.add(f"{key}.{name}", message)


def _bind_rules(c: _Checker, raw: object, sources: list[Source], rules: list[Rule]) -> list[Source]:
    """Give a source that names a rule (google-news `rule = "..."`) that rule's query."""
    queries = {r.name: r.query for r in rules}
    where = {t.get("name"): i for i, t in enumerate(raw if isinstance(raw, list) else [])
             if isinstance(t, dict) and isinstance(t.get("name"), str)}  # fmt: skip
    out = []
    for source in sources:
        name = source.settings.get("rule")
        if isinstance(name, str) and name.strip():
            if name in queries:
                source = replace(source, settings={**source.settings, "rule_query": queries[name]})
            else:
                known = ", ".join(sorted(queries)) or "none"
                c.add(
                    f"sources[{where.get(source.name, '?')}].rule",
                    f"no rule named {name!r} (known: {known})",
                )
        out.append(source)
    return out


def _parse_rules(c: _Checker, raw: object, notifier_names: set[str]) -> list[Rule]:
    """Validate [[rules]], including each query's syntax."""
    out: list[Rule] = []
    seen: set[str] = set()
    for i, r in enumerate(_list_of_tables(c, raw, "rules")):
        key = f"rules[{i}]"
        c.unknown(r, key, _RULE_KEYS)
        name = _check_name(c, key, c.get(r, key, "name", str, None, required=True), seen)
        query = c.get(r, key, "query", str, "", required=True)
        if "query" in r and isinstance(query, str):
            _check_query(c, f"{key}.query", query)
        notify = c.get(r, key, "notify", list, [])
        for j, n in enumerate(notify):
            if not isinstance(n, str):
                c.add(f"{key}.notify[{j}]", f"expected a notifier name, got {n!r}")
            elif n not in notifier_names:
                known = ", ".join(sorted(notifier_names)) or "none configured"
                c.add(f"{key}.notify[{j}]", f"no notifier named {n!r} (known: {known})")
        min_count = c.get(r, key, "min_count", int, 1)
        if min_count < 1:
            c.add(f"{key}.min_count", f"must be at least 1, got {min_count}")
            min_count = 1
        proximity = c.get(r, key, "proximity", int, None)
        if proximity is not None and proximity < 1:
            c.add(f"{key}.proximity", f"must be a positive number of characters, got {proximity}")
            proximity = None
        out.append(
            Rule(
                name=name,
                query=query,
                notify=tuple(n for n in notify if isinstance(n, str)),
                min_count=min_count,
                proximity=proximity,
                short_forms=c.get(r, key, "short_forms", bool, True),
                particles=c.get(r, key, "particles", bool, True),
            )
        )
    return out


def _check_query(c: _Checker, key: str, query: str) -> None:
    """Report a rule query's syntax error with its position."""
    from monitor.match import parse_query  # the rule language lives with the matcher

    try:
        parse_query(query)
    except RuleError as exc:
        c.add(key, f"{exc.message} at position {exc.position}")


def _parse_notifiers(c: _Checker, raw: object) -> list[Notifier]:
    """Validate [[notifiers]]; kind-specific keys are checked by the notifier itself."""
    out: list[Notifier] = []
    seen: set[str] = set()
    for i, n in enumerate(_list_of_tables(c, raw, "notifiers")):
        key = f"notifiers[{i}]"
        name = _check_name(c, key, c.get(n, key, "name", str, None, required=True), seen)
        kind = c.get(n, key, "kind", str, "", required=True)
        if kind and kind not in NOTIFIER_KINDS:
            c.add(f"{key}.kind", f"unknown kind {kind!r} (known: {', '.join(NOTIFIER_KINDS)})")
        schedule = c.get(n, key, "schedule", str, None)
        if schedule is not None and len(schedule.split()) != 5:
            c.add(f"{key}.schedule", f"expected a 5-field cron expression, got {schedule!r}")
        if not c.get(n, key, "enabled", bool, True):
            continue
        settings = {k: v for k, v in n.items() if k not in _NOTIFIER_KEYS}
        for k, v in settings.items():
            if k.endswith("_env") and not (isinstance(v, str) and v):
                c.add(f"{key}.{k}", f"expected the name of an environment variable, got {v!r}")
            if k in {"password", "secret", "token", "api_key"}:
                c.add(f"{key}.{k}", f'secrets come from the environment: use {k}_env = "VAR"')
        if kind in NOTIFIER_KINDS:
            _check_notifier(c, key, kind, schedule, settings)
        out.append(Notifier(name=name, kind=kind, schedule=schedule, settings=settings))
    return out


def _check_notifier(
    c: _Checker, key: str, kind: str, schedule: str | None, settings: dict[str, Any]
) -> None:
    """Report problems with a notifier's kind-specific keys and its schedule."""
    from monitor import notify  # each notifier kind knows its keys, as the matcher its queries

    for k, message in notify.check(kind, schedule, settings):
        c.add(f"{key}.{k}", message)
