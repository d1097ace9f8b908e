"""The `monitor` command: a thin layer over the library; domain errors become one clear line."""

from __future__ import annotations

import asyncio
import json
import logging
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
from monitor import pipeline
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


def _setup_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr; -v for detail, -q for errors only."""
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


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
@click.version_option(package_name="monitor")
def main(verbose: int, quiet: bool) -> None:
    """Korean-first news monitor: poll portals, extract articles, flag rules, keep it in SQLite."""
    _setup_logging(verbose, quiet)


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
@handle_errors
def run(config_path: str | None, once: bool, sources: tuple[str, ...]) -> None:
    """Run the monitor: a daemon polling each source on its interval, or one pass with --once.

    The daemon stops on SIGINT/SIGTERM after finishing the articles in hand.
    """
    settings = config_mod.load(config_path)
    for name in sources:
        settings.source(name)
    if once:
        results = asyncio.run(_run_once(settings, list(sources) or None))
        _print_results(results)
        return
    from monitor.schedule import Daemon

    click.echo(
        f"monitor: polling {len(settings.sources)} sources into {settings.db_path}; Ctrl-C stops",
        err=True,
    )
    asyncio.run(Daemon(settings).run())


def _progress(result: RunResult, done: int, total: int) -> None:
    """A progress line per finished source, on a terminal only."""
    state = "unchanged" if result.not_modified else f"{result.new} new"
    if result.errors and not result.links:
        state = "failed"
    click.echo(f"\r\x1b[K[{done}/{total}] {result.source}: {state}", err=True, nl=done == total)


async def _run_once(settings: config_mod.Settings, names: list[str] | None) -> list[RunResult]:
    """One forced pass over the given (or all) sources."""
    show = _progress if sys.stderr.isatty() else None
    async with pipeline.session(settings) as ctx:
        return await pipeline.run_due(ctx, names, force=True, progress=show)


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
            click.echo("\nFlagged:")
            for row in store.export_rows(matched=True):
                for m in store.matches_for(row["id"]):
                    click.echo(f"  {m['rule']}: {row['title']}")
                    click.echo(f"      …{m['snippet']}…")
        finally:
            store.close()
    click.echo(
        f"\nExplore it: monitor export --config {demo_mod.CONFIG_HINT} --format ndjson --matched"
    )


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
    "--format", "fmt", type=click.Choice(export_mod.FORMATS), default="ndjson", show_default=True
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
@handle_errors
def stats(config_path: str | None) -> None:
    """Per source: last success, failures, articles, matches; per rule: match counts."""
    settings = config_mod.load(config_path)
    from monitor.store import Store

    store = Store(settings.db_path)
    tz = ZoneInfo(settings.timezone)
    try:
        rows = store.source_rows()
        click.echo(f"{'source':<24} {'articles':>8} {'matches':>8} {'fails':>5}  last success")
        for r in rows:
            last = export_mod.to_local(r["last_success_at"], tz)
            counts_col = f"{r['articles']:>8} {r['matches']:>8} {r['failures']:>5}"
            click.echo(f"{r['name']:<24} {counts_col}  {last or 'never'}")
            if r["last_error"]:
                click.echo(f"{'':<24} last error: {r['last_error']}")
        click.echo("")
        counts = store.rule_counts()
        for rule in settings.rules:
            click.echo(f"rule {rule.name:<24} {counts.get(rule.name, 0):>6} matches")
        totals = store.counts()
        click.echo(
            f"\n{totals['articles']} articles, {totals['stories']} stories, "
            f"{totals['matches']} matches"
        )
    finally:
        store.close()


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


if __name__ == "__main__":  # pragma: no cover
    main()
