"""The `monitor` command: a thin layer over the library; domain errors become one clear line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from monitor import config as config_mod
from monitor import demo as demo_mod
from monitor import export as export_mod
from monitor import logs, pipeline
from monitor.errors import ConfigError, MonitorError
from monitor.models import Article, RunResult

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $MONITOR_CONFIG, else config/monitor.toml).",
)


def _setup_logging(verbose: int, quiet: bool, fmt: str | None = None) -> None:
    """Log to stderr (JSON lines unless it is a terminal); -v for detail, -q for errors only."""
    logs.setup(verbose, quiet, fmt)


def handle_errors(fn: F) -> F:
    """Turn a MonitorError into one clear line on stderr and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            where = f"{exc.path}: " if exc.path else ""
            if len(exc.problems) == 1:
                click.echo(f"error: {where}{exc.problems[0]}", err=True)
            else:
                click.echo(f"error: {where}{len(exc.problems)} problems in the config:", err=True)
                for p in exc.problems:
                    click.echo(f"  {p}", err=True)
            sys.exit(2)
        except MonitorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only log errors.")
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default=None,
    help="Log lines as JSON or text (default: $MONITOR_LOG_FORMAT, else text on a terminal, "
    "JSON otherwise).",
)
@click.version_option(package_name="monitor")
def main(verbose: int, quiet: bool, log_format: str | None) -> None:
    """Korean-first news monitor: poll portals, extract articles, flag rules, keep it in SQLite."""
    _setup_logging(verbose, quiet, log_format)


def _print_results(results: list[RunResult]) -> None:
    """A line per source, then totals."""
    for r in sorted(results, key=lambda r: r.source):
        if r.not_modified:
            status = "unchanged"
        elif r.errors and not r.links:
            status = "FAILED: " + r.errors[0]
        else:
            status = f"{r.links} links, {r.new} new, {r.matched} matched, {r.duplicates} dup"
            if r.errors:
                status += f", {len(r.errors)} errors"
        click.echo(f"  {r.source:<24} {status}")
    new = sum(r.new for r in results)
    matched = sum(r.matched for r in results)
    failed = sum(1 for r in results if r.errors and not r.links)
    click.echo(
        f"{len(results)} sources polled: {new} new articles, {matched} matched, {failed} failed"
    )


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Poll every source once, then exit.")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--http",
    "http_address",
    default=None,
    metavar="ADDR",
    help="Daemon only: also serve /healthz, /metrics, the JSON API and the web page on ADDR "
    "(e.g. 127.0.0.1:8080).",
)
@handle_errors
def run(
    config_path: str | None, once: bool, sources: tuple[str, ...], http_address: str | None
) -> None:
    """Run the monitor: a daemon polling each source on its interval, or one pass with --once.

    The daemon stops on SIGINT/SIGTERM after finishing the articles in hand, and re-reads its
    config on SIGHUP (a config with problems is logged and the running one kept).
    """
    settings = config_mod.load(config_path)
    for name in sources:
        settings.source(name)
    if once and http_address:
        raise click.UsageError("--http serves beside the daemon; it cannot go with --once")
    if http_address:
        _serve_daemon(settings, http_address)
        return
    if once:
        results = asyncio.run(_run_once(settings, list(sources) or None))
        _print_results(results)
        _drain_outbox(settings)
        return
    from monitor.schedule import Daemon

    click.echo(
        f"monitor: polling {len(settings.sources)} sources into {settings.db_path}; Ctrl-C stops",
        err=True,
    )
    asyncio.run(Daemon(settings).run())


def _serve_daemon(settings: config_mod.Settings, address: str) -> None:
    """The daemon with the read-only HTTP server beside it, fed the pipeline's metrics."""
    from monitor import web
    from monitor.schedule import Daemon
    from monitor.store import Store

    Store(settings.db_path).close()  # create and migrate before the first request reads it
    daemon = Daemon(settings)
    server = web.WebServer(lambda: daemon.settings, address)
    daemon.metrics = server.metrics
    with server:
        click.echo(
            f"monitor: polling {len(settings.sources)} sources into {settings.db_path}; "
            f"serving {server.url}; Ctrl-C stops",
            err=True,
        )
        asyncio.run(daemon.run())


def _drain_outbox(settings: config_mod.Settings) -> None:
    """Send the immediate notifications a pass queued; digests keep their schedule."""
    if not settings.notifiers:
        return
    from monitor.notify.outbox import drain_config

    report = asyncio.run(drain_config(settings))
    if not report.empty:
        counts = f"{report.sent} sent, {report.retrying} to retry, {report.dead} given up"
        click.echo(f"notifications: {counts}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


async def _run_once(settings: config_mod.Settings, names: list[str] | None) -> list[RunResult]:
    """One forced pass over the given (or all) sources, with a progress line on a terminal."""
    if not sys.stderr.isatty():
        async with pipeline.session(settings) as ctx:
            return await pipeline.run_due(ctx, names, force=True)
    progress = logs.Progress(len(names) if names else len(settings.sources))
    progress.start()
    ticker = asyncio.ensure_future(progress.tick())
    try:
        async with pipeline.session(settings) as ctx:
            return await pipeline.run_due(ctx, names, force=True, progress=progress.update)
    finally:
        ticker.cancel()
        progress.close()


@main.command()
@click.option("--port", default=0, type=int, help="Port for the sample portal (default: any free).")
@click.option(
    "--db",
    "db_path",
    default="data/demo.db",
    type=click.Path(dir_okay=False),
    help="SQLite file to fill (recreated).",
)
@handle_errors
def demo(port: int, db_path: str) -> None:
    """Serve a bundled Korean sample portal on 127.0.0.1 and run the real pipeline on it."""
    db = Path(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with demo_mod.serve(port=port) as base:
        settings = demo_mod.settings(base, db)
        click.echo(f"Sample portal at {base}/ ; database {db}")
        for label in ("First pass", "Second pass (nothing should be new)"):
            click.echo(f"\n{label}:")
            _print_results(asyncio.run(_run_once(settings, None)))
        from monitor.store import Store

        store = Store(db)
        try:
            click.echo("\nStored articles:")
            for row in store.export_rows():
                flag = f"  <- {', '.join(row['rules'])}" if row["rules"] else ""
                click.echo(f"  [{row['source']}] {row['title']}{flag}")
            click.echo("\nFlagged (a copy of a story already flagged would not notify again):")
            seen_stories: set[str] = set()
            for row in store.export_rows(matched=True):
                copy = row["story_id"] in seen_stories
                seen_stories.add(row["story_id"])
                for m in store.matches_for(row["id"]):
                    note = "  (same story as above)" if copy else ""
                    click.echo(f"  {m['rule']}: {row['title']}{note}")
                    if not copy:
                        click.echo(f"      {m['snippet']}")
        finally:
            store.close()
    if db == Path("data/demo.db"):  # the database config/demo.toml names
        click.echo("\nExplore it:")
        for command in ("stories", "search 평택", "export --matched", "serve"):
            click.echo(f"  .venv/bin/monitor {command} --config {demo_mod.CONFIG_HINT}")


@main.command("check-config")
@config_option
@handle_errors
def check_config(config_path: str | None) -> None:
    """Validate the config; print every problem with its key path (exit status 2 if any)."""
    path = config_mod.config_path(config_path)
    settings = config_mod.load(path)
    click.echo(
        f"{path}: OK: {len(settings.sources)} sources, {len(settings.rules)} rules, "
        f"{len(settings.notifiers)} notifiers; database {settings.db_path}"
    )


@main.command()
@config_option
@click.argument("url")
@click.option("--name", default=None, help="Name of the new source (default: from the host).")
@click.option("--yes", "-y", is_flag=True, help="Add the best find without asking.")
@handle_errors
def add(config_path: str | None, url: str, name: str | None, yes: bool) -> None:
    """Find a site's feeds and sitemaps, show them, and add one to the config as a source."""
    from monitor import discover as discover_mod

    path = config_mod.config_path(config_path)
    name = name or discover_mod.default_name(url)
    discover_mod.check_new(path, name)  # before any request: a taken name is refused at once
    found = asyncio.run(discover_mod.discover(url, discover_mod.fetch_settings(path)))
    if not found:
        raise MonitorError(f"no feed or sitemap found for {url}")
    for i, cand in enumerate(found, 1):
        click.echo(f"  [{i}] {cand.describe()}")
    if yes:
        pick = discover_mod.best(found)
        if pick is None:
            raise MonitorError(f"every feed and sitemap found for {url} is empty")
    else:
        number = click.prompt("Add which one?", type=click.IntRange(1, len(found)), default=1)
        pick = found[number - 1]
    entry = discover_mod.entry_text(pick, name)
    click.echo(entry)
    if not yes:
        click.confirm(f"Append this to {path}?", default=True, abort=True)
    discover_mod.append_source(path, entry, name, pick.url)
    click.echo(f"Added source {name!r} to {path}; try it: monitor test-source {name}")


@main.command("test-source")
@config_option
@click.argument("name")
@click.option("--limit", default=5, show_default=True, help="Articles to fetch and extract.")
@handle_errors
def test_source(config_path: str | None, name: str, limit: int) -> None:
    """Show what one source yields now (links and extracted articles); nothing is stored."""
    settings = config_mod.load(config_path)
    source = settings.source(name)
    preview = asyncio.run(pipeline.preview_source(settings, source, limit))
    click.echo(json.dumps(preview, ensure_ascii=False, indent=2, default=str))


def _article_json(article: Article) -> dict[str, Any]:
    """An Article as JSON-ready data."""
    data = asdict(article)
    for key in ("published_at", "modified_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


@main.command()
@click.argument("target")
@handle_errors
def extract(target: str) -> None:
    """Extract the article from a URL or a saved HTML file; print it as JSON."""
    article = asyncio.run(pipeline.extract_target(target))
    click.echo(json.dumps(_article_json(article), ensure_ascii=False, indent=2))


@main.command()
@config_option
@click.argument("rule")
@click.argument("target")
@handle_errors
def explain(config_path: str | None, rule: str, target: str) -> None:
    """Show why an article (URL or file) matches RULE or not; exit 0 if it matches, 1 if not."""
    settings = config_mod.load(config_path)
    settings.rule(rule)
    article = asyncio.run(pipeline.extract_target(target))
    explanation = pipeline.make_matcher(settings).explain(rule, article)
    for line in explanation.lines:
        click.echo(line)
    sys.exit(0 if explanation.matched else 1)


@main.command("export")
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export_mod.FORMATS),
    default="ndjson",
    show_default=True,
    help="ndjson: one JSON object a line; csv: rules joined by ';'; json: one array.",
)
@click.option("--matched", is_flag=True, help="Only articles that matched a rule.")
@click.option("--rule", default=None, help="Only articles that matched this rule.")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write here instead of stdout.",
)
@handle_errors
def export_cmd(
    config_path: str | None, fmt: str, matched: bool, rule: str | None, output: Any
) -> None:
    """Export stored articles with the rules each matched."""
    settings = config_mod.load(config_path)
    if rule:
        settings.rule(rule)
    from monitor.store import Store

    store = Store(settings.db_path)
    try:
        for chunk in export_mod.render(
            store.export_rows(matched, rule), fmt, ZoneInfo(settings.timezone)
        ):
            output.write(chunk)
    finally:
        store.close()


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@handle_errors
def stats(config_path: str | None, as_json: bool) -> None:
    """Per source: last success, failures, next poll or retry, articles, matches; per rule."""
    settings = config_mod.load(config_path)
    from monitor.sources import quotas
    from monitor.store import Store

    store = Store(settings.db_path)
    try:
        data = store.stats()
        data["quotas"] = [
            {
                "key": q.key,
                "day": q.day(),
                "used": store.calls_on(q.key, q.day()),
                "per_day": q.per_day,
            }
            for q in quotas(settings.sources)
        ]
    finally:
        store.close()
    configured = {r.name for r in settings.rules}
    counted = {r["rule"]: r for r in data["rules"]}
    none = {"matches": 0, "last_matched_at": None}
    data["rules"] = [
        {**none, **counted.get(name, {}), "rule": name, "configured": name in configured}
        for name in sorted(configured | set(counted))
    ]
    tz = ZoneInfo(settings.timezone)
    if as_json:
        click.echo(json.dumps(_local_times(data, tz), ensure_ascii=False, indent=2))
        return
    _print_stats(data, tz)


def _local_times(data: Any, tz: ZoneInfo) -> Any:
    """Stored UTC times (keys ending in _at) in the configured zone, recursively."""
    if isinstance(data, list):
        return [_local_times(x, tz) for x in data]
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            local = k.endswith("_at") and isinstance(v, str)
            out[k] = export_mod.to_local(v, tz) if local else _local_times(v, tz)
        return out
    return data


def _print_stats(data: dict[str, Any], tz: ZoneInfo) -> None:
    """`monitor stats` as tables for a person."""
    from monitor.store import now_utc, parse_iso

    now = now_utc()

    def when(value: str | None) -> str:
        at = parse_iso(value)
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "never"

    def relative(value: str | None) -> str:
        at = parse_iso(value)
        if at is None:
            return "now"
        seconds = (at - now).total_seconds()
        if seconds <= 0:
            return "now"
        return f"in {logs.clock(seconds)} ({at.astimezone(tz).strftime('%H:%M')})"

    head = f"{'source':<24} {'articles':>8} {'matches':>8} {'fails':>5}  {'last success':<16}  next"
    click.echo(head)
    for r in data["sources"]:
        nxt = ("retry " if r["failures"] else "poll ") + relative(r["next_due_at"])
        counts = f"{r['articles']:>8} {r['matches']:>8} {r['failures']:>5}"
        click.echo(f"{r['name']:<24} {counts}  {when(r['last_success_at']):<16}  {nxt}")
        if r["last_error"]:
            click.echo(f"{'':<24} last error: {r['last_error']}")
    click.echo("")
    for r in data["rules"]:
        last = f"  last {when(r['last_matched_at'])}" if r["last_matched_at"] else ""
        note = "" if r["configured"] else "  (not in the config)"
        click.echo(f"rule {r['rule']:<24} {r['matches']:>6} matches{last}{note}")
    by_notifier: dict[str, list[str]] = {}
    for d in data["deliveries"]:
        by_notifier.setdefault(d["notifier"], []).append(f"{d['count']} {d['status']}")
    for name, parts in by_notifier.items():
        click.echo(f"notifier {name:<20} {', '.join(parts)}")
    for q in data["quotas"]:
        click.echo(f"quota {q['key']:<23} {q['used']:>6} of {q['per_day']} API calls on {q['day']}")
    for hb in data["heartbeats"]:
        age = (now - (parse_iso(hb["beat_at"]) or now)).total_seconds()
        click.echo(
            f"{hb['name']}: last tick {logs.clock(age)} ago (pid {hb['pid']} on {hb['host']})"
        )
    totals = data["totals"]
    click.echo(
        f"\n{totals['articles']} articles, {totals['stories']} stories, {totals['matches']} matches"
    )


@main.command()
@config_option
@click.option("--since", default=None, help='Only stories updated since: "6h", "2d" or 2024-09-06.')
@click.option("--rule", default=None, help="Only stories with an article that matched this rule.")
@click.option("--min-size", default=1, show_default=True, help="Only stories this big.")
@click.option("--limit", default=50, show_default=True, help="At most this many stories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a list.")
@handle_errors
def stories(
    config_path: str | None,
    since: str | None,
    rule: str | None,
    min_size: int,
    limit: int,
    as_json: bool,
) -> None:
    """List stories: near-duplicate articles grouped, with how many portals carried each."""
    settings = config_mod.load(config_path)
    if rule:
        settings.rule(rule)
    try:
        when = config_mod.parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    from monitor.store import Store

    store = Store(settings.db_path)
    tz = ZoneInfo(settings.timezone)
    try:
        found = store.stories(when, rule, min_size, limit)
    finally:
        store.close()
    for s in found:
        for key in ("first_seen_at", "updated_at"):
            s[key] = export_mod.to_local(s[key], tz)
        for m in s["members"]:
            for key in ("published_at", "first_seen_at"):
                m[key] = export_mod.to_local(m[key], tz)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for s in found:
        rules = f"  [{', '.join(s['rules'])}]" if s["rules"] else ""
        click.echo(f"{s['size']:>3} articles, {s['portals']} portals: {s['title']}{rules}")
        for m in s["members"]:
            click.echo(f"      {(m['published_at'] or '')[:16]:<16}  {m['source']:<16} {m['url']}")
    if not found:
        click.echo("no stories yet" + (" for these filters" if since or rule else ""))


@main.command()
@config_option
@click.option(
    "--preview", "mode", flag_value="preview", default=True, help="Render it; send nothing."
)
@click.option("--send", "mode", flag_value="send", help="Send it now.")
@click.option(
    "--notifier",
    "names",
    multiple=True,
    help="Only this notifier (repeatable; default: every notifier with a schedule).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the preview here: .html the HTML part, .eml the whole email, .json the "
    "webhook body, else the text.",
)
@click.option("--force", is_flag=True, help="Send even when nothing is new.")
@handle_errors
def digest(
    config_path: str | None, mode: str, names: tuple[str, ...], output: str | None, force: bool
) -> None:
    """Preview or send the digest of matches not yet sent, grouped by rule and story."""
    settings = config_mod.load(config_path)
    from monitor.notify import outbox
    from monitor.store import Store

    notifiers = outbox.digest_notifiers(settings, names)
    if not notifiers:
        raise ConfigError("no notifier has a schedule; name one with --notifier")
    if output and len(notifiers) > 1:
        raise ConfigError("--output writes one digest: name its notifier with --notifier")
    store = Store(settings.db_path)
    failed = False
    try:
        for n in notifiers:
            if mode == "preview":
                message = outbox.preview_digest(store, settings, n)
                data = outbox.preview_bytes(n, message, Path(output).suffix if output else "")
                if output:
                    Path(output).write_bytes(data)
                    click.echo(f"{n.name}: digest written to {output}", err=True)
                else:
                    if len(notifiers) > 1:
                        click.echo(f"== {n.name} ({n.kind}) ==")
                    click.echo(data.decode("utf-8"))
                continue
            outbox.check_sendable(n)
            result = asyncio.run(outbox.send_digest(store, settings, n, force=force))
            if result.outcome == "empty":
                click.echo(f"{n.name}: nothing new; not sent (--force sends it anyway)")
            elif result.outcome == "sent":
                click.echo(f"{n.name}: digest sent ({result.deliveries} stories)")
            else:
                failed = True
                state = "kept for a retry" if result.outcome != "dead" else "given up"
                click.echo(f"error: {result.error or n.name + ': not sent'} ({state})", err=True)
    finally:
        store.close()
    if failed:
        sys.exit(2)


@main.command("test-notify")
@config_option
@click.argument("name")
@handle_errors
def test_notify(config_path: str | None, name: str) -> None:
    """Send a sample notification through notifier NAME now (nothing is queued)."""
    settings = config_mod.load(config_path)
    from monitor.notify.outbox import send_test

    message = asyncio.run(send_test(settings, name))
    click.echo(f"{name}: sample sent: {message.subject}")


@main.command()
@config_option
@click.option(
    "--status",
    type=click.Choice(["pending", "sent", "dead"]),
    default=None,
    help="Only deliveries in this state.",
)
@click.option("--notifier", default=None, help="Only this notifier.")
@click.option("--limit", default=50, show_default=True, help="At most this many deliveries.")
@click.option("--requeue", is_flag=True, help="Give dead deliveries a fresh set of attempts.")
@handle_errors
def deliveries(
    config_path: str | None, status: str | None, notifier: str | None, limit: int, requeue: bool
) -> None:
    """List the outbox (newest first): pending, sent and dead deliveries with the last error."""
    settings = config_mod.load(config_path)
    if notifier:
        settings.notifier(notifier)
    from monitor.store import Store

    store = Store(settings.db_path)
    try:
        if requeue:
            click.echo(f"{store.requeue_dead(notifier)} dead deliveries queued again")
            return
        for r in store.delivery_rows(status, notifier, limit):
            when = r["sent_at"] if r["status"] == "sent" else r["next_attempt_at"]
            click.echo(
                f"{r['id']:>6} {r['notifier']:<16} {r['status']:<7} {r['attempts']:>2} tries  "
                f"{when}  {r['key']}"
            )
            if r["last_error"] and r["status"] != "sent":
                click.echo(f"{'':>6} last error: {r['last_error']}")
    finally:
        store.close()


@main.command(context_settings={"ignore_unknown_options": True})
@config_option
@click.argument("query", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--since", default=None, help='Only articles first seen since: "2d", "12h", 2024-09-06.'
)
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--rule", default=None, help="Only articles that matched this rule.")
@click.option("--story", default=None, help="Only articles of this story (its id).")
@click.option(
    "--sort",
    type=click.Choice(["rank", "new"]),
    default="rank",
    show_default=True,
    help="Best match first, or newest first.",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="At most this many results.",
)
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def search(
    config_path: str | None,
    query: tuple[str, ...],
    since: str | None,
    sources: tuple[str, ...],
    rule: str | None,
    story: str | None,
    sort: str,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Search stored articles: `평택 미래차` (all terms), "exact phrase", A OR B, -exclude.

    Any substring is found, Korean two-letter words included. Exit status 1 when nothing
    matches, as grep.
    """
    from monitor import search as search_mod
    from monitor.store import Store, now_utc

    settings = config_mod.load(config_path)
    for name in sources:
        settings.source(name)
    if rule:
        settings.rule(rule)
    tz = ZoneInfo(settings.timezone)
    parsed = search_mod.parse(" ".join(query))
    when = search_mod.parse_since(since, now_utc(), tz) if since else None
    store = Store(settings.db_path)
    try:
        hits = store.search(
            parsed,
            sources=sources,
            rule=rule,
            story=story,
            since=when,
            order="new" if sort == "new" else "rank",
            limit=limit,
            offset=offset,
        )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(_local_times(hits, tz), ensure_ascii=False, indent=2))
    else:
        _print_hits(hits, tz, offset)
    if not hits:
        sys.exit(1)


def _print_hits(hits: list[dict[str, Any]], tz: ZoneInfo, offset: int) -> None:
    """Search results as a table: number, date, source, title; the snippet below each."""
    from monitor import search as search_mod
    from monitor.store import parse_iso

    if not hits:
        click.echo("no articles match", err=True)
        return
    width = max(logs.display_width(h["source"]) for h in hits)
    num = len(str(offset + len(hits)))
    indent = " " * (num + 2 + 16 + 2 + width + 2)
    hit_on, hit_off = "\x1b[1;33m", "\x1b[0m"  # bold yellow; click drops it when piped
    click.echo(f"{'#':>{num}}  {'published':<16}  {'source':<{width}}  title")
    for i, h in enumerate(hits, offset + 1):
        at = parse_iso(h["published_at"] or h["first_seen_at"])
        day = at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else ""
        pad = " " * (width - logs.display_width(h["source"]))
        title = search_mod.mark(h["title"], h["title_highlights"], hit_on, hit_off)
        rules = f"  [{', '.join(h['rules'])}]" if h["rules"] else ""
        click.echo(f"{i:>{num}}  {day:<16}  {h['source']}{pad}  {title}{rules}")
        snippet = search_mod.mark(h["snippet"], h["highlights"], hit_on, hit_off)
        click.echo(f"{indent}{snippet}")
        click.echo(f"{indent}{h['url']}")


@main.command()
@config_option
@click.option(
    "--http",
    "address",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="ADDR",
    help="Address to listen on (0.0.0.0:8080 for every interface).",
)
@handle_errors
def serve(config_path: str | None, address: str) -> None:
    """Serve the store read-only over HTTP: web page, JSON API, /healthz, /metrics.

    It polls nothing (`monitor run --http ADDR` does both). SIGHUP re-reads the config.
    """
    import signal
    import threading

    from monitor import web
    from monitor.schedule import reread
    from monitor.store import Store

    settings = config_mod.load(config_path)
    Store(settings.db_path).close()  # create and migrate, so readers find the tables
    current = [settings]
    done = threading.Event()

    def reload(*_: object) -> None:
        new = reread(current[0])
        if new is not None:
            current[0] = new

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    signal.signal(signal.SIGHUP, reload)
    with web.WebServer(lambda: current[0], address) as server:
        click.echo(
            f"monitor: serving {settings.db_path} read-only on {server.url}; Ctrl-C stops",
            err=True,
        )
        while not done.wait(0.5):
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
