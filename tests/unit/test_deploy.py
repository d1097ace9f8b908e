"""Dockerfile, docker-compose.yml and the Datasette metadata agree with the code and config/.

No Docker engine runs here, so the files are parsed and checked against what they name:
commands parse with the real CLI, ports and paths line up between the files, the config
they point at is valid, and every canned query runs against a real, migrated store.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest
import yaml

from monitor import config as config_mod
from monitor.cli import main
from monitor.models import Match, StoredArticle
from monitor.store import HEARTBEAT, Outbox, Store, now_utc
from monitor.web import WebServer, parse_address

ROOT = Path(__file__).resolve().parents[2]


# -- reading the files ------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage."""
    steps = dockerfile()
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def one(steps: list[tuple[str, str]], op: str) -> str:
    found = [args for o, args in steps if o == op]
    assert len(found) == 1, f"expected one {op}, found {found}"
    return found[0]


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) instruction argument."""
    assert args.startswith("["), f"use the exec form (a JSON array): {args}"
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(x, str) for x in value)
    return value


def env(steps: list[tuple[str, str]]) -> dict[str, str]:
    """ENV key=value pairs of a stage."""
    out: dict[str, str] = {}
    for op, args in steps:
        if op == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                out[key] = value
    return out


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def metadata() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "datasette" / "metadata.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def image_has_no_registry_host(image: str) -> bool:
    """`python:3.11-slim` or `owner/name`, never `host.tld/...` or `host:5000/...`."""
    first, sep, _ = image.partition("/")
    return not sep or not ("." in first or ":" in first or first == "localhost")


def run_args(argv: list[str]) -> dict[str, Any]:
    """Parse `monitor run ...` with the real CLI; returns the run command's parameters."""
    assert argv[:2] == ["monitor", "run"], argv
    ctx = main.commands["run"].make_context("run", argv[2:])
    return dict(ctx.params)


# -- the Dockerfile ---------------------------------------------------------------------------


def test_images_are_plain_names() -> None:
    froms = [args.split()[0] for op, args in dockerfile() if op == "FROM"]
    assert froms == ["python:3.11-slim", "python:3.11-slim"]
    for service in compose()["services"].values():
        if "image" in service:
            assert image_has_no_registry_host(service["image"]), service["image"]
    assert not image_has_no_registry_host("ghcr.io/x/y")  # the check itself can say no


def test_runs_as_an_unprivileged_user_before_its_command() -> None:
    steps = final_stage()
    ops = [op for op, _ in steps]
    user = one(steps, "USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    assert ops.index("USER") < ops.index("CMD")
    assert any(op == "RUN" and "useradd" in a and user in a for op, a in steps)


def test_command_parses_and_its_port_is_exposed_and_health_checked() -> None:
    steps = final_stage()
    cmd = exec_form(one(steps, "CMD"))
    params = run_args(cmd)
    host, port = parse_address(params["http_address"])
    assert host == "0.0.0.0" and not params["once"]
    assert one(steps, "EXPOSE") == str(port)
    check = one(steps, "HEALTHCHECK")
    probe = exec_form(check[check.index("CMD") + 3 :].strip())
    assert f"http://127.0.0.1:{port}/healthz" in probe[-1]


def test_health_check_command_exits_0_only_when_healthy(tmp_path: Path) -> None:
    # The very command the image runs, aimed at a real server: healthy, then not.
    check = one(final_stage(), "HEALTHCHECK")
    probe = exec_form(check[check.index("CMD") + 3 :].strip())
    assert probe[:2] == ["python", "-c"]
    db = tmp_path / "m.db"
    store = Store(db)
    settings = config_mod.parse({"storage": {"path": str(db)}})
    with WebServer(lambda: settings, "127.0.0.1:0") as server:
        port = server.url.rsplit(":", 1)[1]
        code = probe[2].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        assert code != probe[2]

        def status() -> int:
            return subprocess.run(
                [sys.executable, "-c", code], capture_output=True, timeout=30
            ).returncode

        assert status() != 0  # no daemon has beaten: 503
        store.beat(HEARTBEAT, 15.0, now_utc())
        assert status() == 0
    store.close()


def test_config_path_and_database_volume_line_up() -> None:
    steps = final_stage()
    variables = env(steps)
    workdir = PurePosixPath(one(steps, "WORKDIR"))
    config_in_image = PurePosixPath(variables["MONITOR_CONFIG"])
    # COPY config ./config puts the repository's config/ at WORKDIR/config.
    assert ("COPY", "config ./config") in steps
    repo_config = ROOT / config_in_image.relative_to(workdir)
    settings = config_mod.load(repo_config)  # the shipped config is valid
    db_in_image = workdir / PurePosixPath(settings.db_path.as_posix())
    volume = PurePosixPath(exec_form(one(steps, "VOLUME"))[0])
    assert db_in_image.parent == volume, (db_in_image, volume)
    assert any(op == "RUN" and f"chown monitor:monitor {volume.name}" in a for op, a in steps)
    assert variables["MONITOR_LOG_FORMAT"] == "json"


def test_build_context_has_what_the_build_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, args in dockerfile():
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for src in sources:
                assert (ROOT / src).exists(), src
                assert src.rstrip("/") not in ignored, f"{src} is in .dockerignore"
    for heavy in (".venv", ".git", "data", "test-artifacts"):
        assert heavy in ignored


def test_installed_package_carries_templates_and_demo_site() -> None:
    # The image installs the package (not editable): every data file must be package data.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["monitor"]
    pkg = ROOT / "monitor"
    needed = [*pkg.glob("templates/**/*"), *pkg.glob("demo/site/**/*")]
    # setuptools expands package-data patterns as recursive globs.
    shipped = {f for g in globs for f in glob.glob(g, root_dir=pkg, recursive=True)}
    for path in (p for p in needed if p.is_file()):
        rel = path.relative_to(pkg).as_posix()
        assert rel in shipped, f"{rel} is not package data"
    assert "templates/web/index.html" in shipped


# -- docker-compose.yml -----------------------------------------------------------------------


def published(ports: list[str]) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port) from "127.0.0.1:8080:8080" entries."""
    out = {}
    for entry in ports:
        host, hport, cport = str(entry).rsplit(":", 2)
        out[int(cport)] = (host, int(hport))
    return out


def test_compose_monitor_service_matches_the_image() -> None:
    doc = compose()
    svc = doc["services"]["monitor"]
    assert svc["build"] == "." and (ROOT / "Dockerfile").exists()
    steps = final_stage()
    assert svc["command"] == exec_form(one(steps, "CMD"))
    _, port = parse_address(run_args(svc["command"])["http_address"])
    assert published(svc["ports"]) == {port: ("127.0.0.1", port)}
    assert svc["environment"]["MONITOR_CONFIG"] == env(steps)["MONITOR_CONFIG"]
    mounts = dict(v.split(":", 1) for v in svc["volumes"])
    assert mounts["data"] == exec_form(one(steps, "VOLUME"))[0]
    assert "data" in doc["volumes"]
    # ./config is mounted read-only where the image expects it, and holds the config.
    assert mounts["./config"] == "/app/config:ro"
    inside = PurePosixPath(svc["environment"]["MONITOR_CONFIG"]).relative_to("/app/config")
    config_mod.load(ROOT / "config" / inside)


def test_compose_datasette_reads_the_same_file_with_the_metadata() -> None:
    doc = compose()
    svc = doc["services"]["datasette"]
    command = svc["command"]
    assert command[:2] == ["datasette", "serve"]
    db_file = PurePosixPath(command[2])
    mounts = dict(v.split(":", 1) for v in svc["volumes"])
    # The same named volume, and the same file name the config stores in it.
    shipped = config_mod.load(ROOT / "config" / "monitor.toml")
    assert PurePosixPath(mounts["data"]) / shipped.db_path.name == db_file
    meta_in = next(a.split("=", 1)[1] for a in command if a.startswith("--metadata="))
    source = next(k for k, v in mounts.items() if v.split(":")[0] == meta_in)
    assert (ROOT / source).resolve() == ROOT / "datasette" / "metadata.yml"
    assert set(metadata()["databases"]) == {db_file.stem}
    port = int(next(a.split("=", 1)[1] for a in command if a.startswith("--port=")))
    assert published(svc["ports"]) == {port: ("127.0.0.1", port)}
    assert svc["depends_on"]["monitor"]["condition"] == "service_healthy"


def test_compose_mail_catcher_and_the_documented_notifier_agree() -> None:
    doc = compose()
    mailpit = doc["services"]["mailpit"]
    assert published(mailpit["ports"]) == {8025: ("127.0.0.1", 8025)}
    # The notifier block in docs/operate.md is valid with the shipped config and points at it.
    text = (ROOT / "docs" / "operate.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[\[notifiers]].*?)```", text, re.S)
    assert block, "docs/operate.md lost its mail catcher notifier"
    shipped = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8")
    # parse() checks the email notifier's own keys too: a typo in the docs fails here.
    settings = config_mod.parse(tomllib.loads(shipped + "\n" + block.group(1)))
    notifier = settings.notifier("mailpit")
    assert notifier.settings["smtp_host"] in doc["services"]
    assert notifier.settings["smtp_port"] == 1025 and notifier.settings["tls"] == "none"


# -- Datasette metadata and views -------------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A migrated store with an article, a match, a story of two and a failing source."""
    db = tmp_path / "monitor.db"
    store = Store(db)
    settings = config_mod.load(ROOT / "config" / "monitor.toml")
    store.sync_sources(settings.sources[:2])
    for aid, story in (("a1", None), ("a2", "a1")):
        art = StoredArticle(
            id=aid,
            url=f"https://news.example.kr/{aid}",
            canonical_url=f"https://news.example.kr/{aid}",
            source=settings.sources[0].name,
            title="평택 미래차 협약",
            body="평택시는 미래차 협약을 맺었다.",
            content_hash="h" + aid,
            published_at=now_utc(),
            author=None,
            story_id=story,
        )
        matches = [Match("pt-future-cars", ("평택",), (), "평택시는", ((0, 2),))]
        store.save_new(art, [], matches, [Outbox("desk", f"story:{aid}", {"a": aid})])
    store.record_failure(settings.sources[1].name, "HTTP 503", now_utc())
    store.close()
    return db


def test_views_answer_the_usual_questions(filled: Path) -> None:
    store = Store(filled, readonly=True)
    try:
        today = store.db.execute("SELECT rule, title FROM matches_today").fetchall()
        assert today == [("pt-future-cars", "평택 미래차 협약")] * 2
        stories = store.db.execute(
            "SELECT id, size, sources, matches FROM stories_by_size"
        ).fetchall()
        assert stories == [("a1", 2, 1, 2)]
        failing = store.db.execute("SELECT name, failures, last_error FROM failing_sources")
        assert [r[1:] for r in failing] == [(1, "HTTP 503")]
    finally:
        store.close()


def test_every_canned_query_runs_and_every_described_column_exists(filled: Path) -> None:
    meta = metadata()["databases"]["monitor"]
    conn = Store(filled, readonly=True).db.conn
    try:
        samples = {"word": "평택", "rule": "pt-future-cars", "days": "1", "story": "a1"}
        for name, query in meta["queries"].items():
            params = set(re.findall(r"(?<![\w'%]):([A-Za-z_]\w*)", query["sql"]))
            rows = conn.execute(query["sql"], {p: samples[p] for p in params}).fetchall()
            assert rows, f"canned query {name} found nothing in a store that has data"
        for table, info in meta["tables"].items():
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            assert columns, f"{table} is not a table or view"
            assert set(info.get("columns", {})) <= columns, table
            for key in ("sort", "sort_desc"):
                if key in info:
                    assert info[key] in columns
    finally:
        conn.close()


def test_click_knows_every_command_the_files_name() -> None:
    # `monitor serve` and `monitor run --http` as docs/operate.md and the files write them.
    for argv in (["serve", "--http", "0.0.0.0:8080"], ["run", "--http", "127.0.0.1:8080"]):
        cmd = main.commands[argv[0]]
        assert isinstance(cmd, click.Command)
        assert cmd.make_context(argv[0], argv[1:]).params[
            "http_address" if argv[0] == "run" else "address"
        ]
