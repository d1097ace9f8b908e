"""The docs stay true: every TOML example validates, and every command is documented."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import click
import pytest

from monitor import config
from monitor.cli import main
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(block, id=f"{path.name}#{i}")
    for path in DOCS
    for i, block in enumerate(
        re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    )
]


def with_referenced_names(raw: dict[str, Any]) -> dict[str, Any]:
    """A fragment may name a notifier or rule shown elsewhere in the docs: stand those in."""
    notifiers = {n["name"] for n in raw.get("notifiers", [])}
    wanted = {n for r in raw.get("rules", []) for n in r.get("notify", [])} - notifiers
    raw.setdefault("notifiers", []).extend(
        {"name": n, "kind": "webhook", "url": "https://hooks.example.kr/x"} for n in sorted(wanted)
    )
    rules = {r["name"] for r in raw.get("rules", [])}
    needed = {s["rule"] for s in raw.get("sources", []) if "rule" in s} - rules
    raw.setdefault("rules", []).extend({"name": n, "query": "평택"} for n in sorted(needed))
    return raw


@pytest.mark.parametrize("block", BLOCKS)
def test_every_toml_example_in_the_docs_validates(block: str) -> None:
    config.parse(with_referenced_names(tomllib.loads(block)))


def test_docs_have_toml_examples() -> None:
    assert len(BLOCKS) >= 8


def test_every_command_has_help_and_a_readme_row() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        assert command.help and command.help.strip(), f"monitor {name} has no --help text"
        assert f"`monitor {name}" in readme, f"monitor {name} is missing from the README"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"monitor {name} {param.opts[0]} has no help"


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:800]
    assert "make run" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_config_keys_are_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    keys = set(config.FetchSettings.__slots__) | {"allow_private", "ignore_robots", "interval"}
    for kind_keys in config.SOURCE_SETTINGS.values():
        keys |= kind_keys
    missing = sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}\b", text))
    assert not missing, f"config keys with no documentation: {missing}"


def test_readme_documents_every_table() -> None:
    from monitor.store import Store

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    store = Store(":memory:")
    try:
        names = [n for n in store.db.table_names() if not n.startswith(("articles_fts", "_"))]
        names += store.db.view_names()
    finally:
        store.close()
    missing = [n for n in names if f"`{n}`" not in readme]
    assert not missing, f"tables or views not described in the README: {missing}"
