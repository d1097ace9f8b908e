"""Config loading: valid files load; every problem is reported at once with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import config
from monitor.errors import ConfigError
from tests.conftest import ROOT, write_config

GOOD = """
[storage]
path = "data/x.db"

[[sources]]
name = "pt-news"
kind = "feed"
url = "https://news.example.kr/rss/allArticle.xml"
interval = "10m"

[[sources]]
name = "local-list"
kind = "html"
url = "http://127.0.0.1:8000/list.html"
interval = 90
allow_private = true
link_selector = "ul.list a"

[[rules]]
name = "pt-future-cars"
query = "평택 미래차"
notify = ["desk"]

[[notifiers]]
name = "desk"
kind = "email"
to = ["desk@example.kr"]
schedule = "0 8 * * *"
smtp_host = "smtp.example.kr"
password_env = "MONITOR_SMTP_PASSWORD"
"""


def test_valid_config_loads_frozen_settings(tmp_path: Path) -> None:
    s = config.load(write_config(tmp_path / "m.toml", GOOD))
    assert [x.name for x in s.sources] == ["pt-news", "local-list"]
    assert s.sources[0].interval == 600.0 and s.sources[1].interval == 90.0
    assert s.sources[1].allow_private and not s.sources[0].allow_private
    assert s.sources[1].settings == {"link_selector": "ul.list a"}
    assert s.rules[0].query == "평택 미래차" and s.rules[0].notify == ("desk",)
    assert s.notifiers[0].schedule == "0 8 * * *"
    assert s.db_path == Path("data/x.db")
    with pytest.raises(AttributeError):
        s.sources[0].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172800), (45, 45), ("1h 5m", 3900)],
)
def test_durations(value: object, seconds: float) -> None:
    assert config.parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "0m", -5, True, "10 minutes"])
def test_bad_durations_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        config.parse_duration(value)


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    bad = """
[storage]
path = "data/x.db"
colour = "blue"

[[sources]]
name = "a"
kind = "rss"
url = "news.example.kr"

[[sources]]
name = "a"
kind = "feed"
url = "https://x.example.kr/rss"
interval = "soon"
max_items = 0

[[rules]]
name = "r1"
query = "(평택 미래차"
notify = ["nobody"]

[[notifiers]]
name = "mail"
kind = "pigeon"
password = "hunter2"
"""
    with pytest.raises(ConfigError) as err:
        config.load(write_config(tmp_path / "bad.toml", bad))
    problems = "\n".join(err.value.problems)
    assert "storage.colour: unknown key" in problems
    assert "sources[0].kind: unknown kind 'rss' (known: feed, html" in problems
    assert "sources[0].url: expected an http(s) URL" in problems
    assert "sources[1].name: duplicate name 'a'" in problems
    assert "sources[1].interval: expected a duration like \"30m\", got 'soon'" in problems
    assert "sources[1].max_items: expected a positive whole number" in problems
    assert "rules[0].query:" in problems and "position" in problems
    assert "rules[0].notify[0]: no notifier named 'nobody'" in problems
    assert "notifiers[0].kind: unknown kind 'pigeon'" in problems
    assert "notifiers[0].password: secrets come from the environment" in problems
    assert len(err.value.problems) >= 10


def test_unknown_key_in_a_source_is_named(tmp_path: Path) -> None:
    text = GOOD.replace('interval = "10m"', 'interval = "10m"\nintervall = "5m"')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.intervall: unknown key"):
        config.load(write_config(tmp_path / "m.toml", text))


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "broken.toml", "[[sources]\nname = ")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        config.load(path)
    assert err.value.path == str(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor.toml")
    assert config.config_path("x.toml") == Path("x.toml")
    assert config.config_path(None) == Path("/etc/monitor.toml")
    monkeypatch.delenv("MONITOR_CONFIG")
    assert config.config_path(None) == Path("config/monitor.toml")


@pytest.mark.parametrize("name", ["monitor.toml", "demo.toml"])
def test_shipped_configs_are_valid(name: str) -> None:
    path = ROOT / "config" / name
    if not path.exists():
        pytest.fail(f"config/{name} is missing")
    settings = config.load(path)
    assert settings.sources and settings.rules


def test_unknown_time_zone_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timezone: unknown time zone 'Asia/Pyongtaek'"):
        config.load(write_config(tmp_path / "m.toml", 'timezone = "Asia/Pyongtaek"\n' + GOOD))
