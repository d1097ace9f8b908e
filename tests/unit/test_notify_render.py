"""What notifications say: grouped by rule and story, escaped, highlighted, overridable."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main
from monitor.notify.digest import Renderer, load_items, safe_url
from monitor.notify.outbox import preview_digest
from monitor.store import Store
from tests.conftest import write_config
from tests.unit.test_notify import add_article, make_settings

DESK = {"name": "desk", "kind": "email", "to": "desk@example.kr", "smtp_host": "127.0.0.1"}
DIGEST = DESK | {"schedule": "0 8 * * *"}


def test_digest_groups_by_rule_and_counts_a_story_once(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, DIGEST)
    # One press release on three portals: one story, carried three times.
    add_article(store, settings, 1, source="평택일보")
    add_article(store, settings, 2, story="a1", source="경기신문")
    add_article(store, settings, 3, story="a1", source="평택시민신문")
    # Another story, flagged by both rules.
    add_article(store, settings, 4, rules=("pt-future-cars", "pt-port"), title="평택항 자동차 수출")

    msg = preview_digest(store, settings, settings.notifier("desk"))
    text = msg.text
    assert text.count("평택시, 미래차 산업 육성 협약 체결 1") == 1
    assert "평택시, 미래차 산업 육성 협약 체결 2" not in text  # the copies are counted, not listed
    assert "3개 기사 (평택일보, 경기신문, 평택시민신문)" in text
    # Grouped by rule in config order; the two-rule story appears under each.
    future, port = (
        text.index("■ pt-future-cars (평택 미래차) — 2건"),
        text.index("■ pt-port (평택항) — 1건"),
    )
    assert future < port
    assert text.count("평택항 자동차 수출") == 2
    assert "*평택*시는 6일 *미래자동차* 산업" in text
    assert "평택일보 · 2024-09-06 15:45" in text  # Seoul time (06:45 UTC)
    assert "https://news1.example.kr/news/articleView.html?idxno=1" in text
    assert msg.subject.startswith("[뉴스 모니터] ") and "새 기사 2건" in msg.subject
    assert "\n" not in msg.subject


def test_scraped_text_is_escaped_in_html_and_links_must_be_http(
    tmp_path: Path, store: Store
) -> None:
    settings = make_settings(tmp_path, DIGEST)
    add_article(
        store,
        settings,
        1,
        title='<script>alert("x")</script> 평택 & 미래차',
        source="<b>portal</b>",
        url="javascript:alert(1)",
        snippet="평택<img src=x onerror=alert(1)> 미래자동차",
    )
    html = preview_digest(store, settings, settings.notifier("desk")).html
    assert "<script>" not in html and "<img" not in html and "<b>portal" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 평택 &amp; 미래차" in html
    assert "&lt;b&gt;portal&lt;/b&gt;" in html
    assert "javascript:" not in html  # no link rather than a script link
    assert "<mark>평택</mark>&lt;img s" in html  # marks cut the snippet, escaping holds
    assert safe_url("https://news.example.kr/a?b=1") == "https://news.example.kr/a?b=1"
    assert safe_url("data:text/html,hi") == ""


def test_alert_names_the_story_size_and_members(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, DESK)
    add_article(store, settings, 1, source="평택일보")
    add_article(store, settings, 2, story="a1", source="경기신문")
    (row,) = store.pending_deliveries("desk")
    renderer = Renderer(settings.notifier("desk"), settings)
    (item,) = load_items(store, [row], renderer.tz)
    msg = renderer.alert(item, "k1", item.published_at)  # type: ignore[arg-type]
    assert msg.subject == "[pt-future-cars] 평택시, 미래차 산업 육성 협약 체결 1 (2개 기사)"
    assert (
        "같은 기사 2건:" in msg.text
        and "- 경기신문: 평택시, 미래차 산업 육성 협약 체결 2" in msg.text
    )
    assert "규칙: pt-future-cars (평택 미래차)" in msg.text
    doc = msg.data
    assert doc["version"] == 1 and doc["type"] == "match" and doc["id"] == "k1"
    it = doc["item"]
    assert (
        it["article"]["id"] == "a1" and it["article"]["published_at"] == "2024-09-06T15:45:00+09:00"
    )
    assert it["rule"] == "pt-future-cars" and it["terms"] == ["평택", "미래차"]
    assert it["snippet"].startswith("평택시는") and it["highlights"] == [[0, 2], [8, 13]]
    assert it["story"]["id"] == "a1" and it["story"]["size"] == 2
    assert it["story"]["sources"] == ["평택일보", "경기신문"]
    json.dumps(doc)  # serialisable as is


def test_users_override_templates_by_directory(tmp_path: Path, store: Store) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "digest.subject.txt").write_text("오늘의 평택 소식 {{ stories }}건\n", encoding="utf-8")
    (tpl / "digest.html").write_text(
        "{% for g in groups %}{% for i in g.items %}<p>{{ i.title }}</p>{% endfor %}{% endfor %}",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path, DIGEST | {"templates": str(tpl)})
    add_article(store, settings, 1, title="평택 <미래차>")
    msg = preview_digest(store, settings, settings.notifier("desk"))
    assert msg.subject == "오늘의 평택 소식 1건"
    assert msg.html == "<p>평택 &lt;미래차&gt;</p>"  # the user's HTML is autoescaped too
    assert "뉴스 모니터 다이제스트" in msg.text  # templates not overridden are ours


def test_a_template_error_names_the_notifier_and_template(tmp_path: Path, store: Store) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "digest.txt").write_text("{{ no_such_thing.title }}", encoding="utf-8")
    settings = make_settings(tmp_path, DIGEST | {"templates": str(tpl)})
    add_article(store, settings, 1)
    try:
        preview_digest(store, settings, settings.notifier("desk"))
    except Exception as exc:
        assert "notifier 'desk': template digest.txt:" in str(exc)
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("an undefined name must fail loudly")


def test_digest_preview_command_writes_text_html_and_eml(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, DIGEST)
    add_article(store, settings, 1)
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[[rules]]
name = "pt-future-cars"
query = "평택 미래차"
notify = ["desk"]
[[notifiers]]
name = "desk"
kind = "email"
to = "desk@example.kr"
smtp_host = "127.0.0.1"
schedule = "0 8 * * *"
""",
    )
    out = CliRunner().invoke(main, ["digest", "--preview", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("Subject: [뉴스 모니터]")
    assert "평택시, 미래차 산업 육성 협약 체결 1" in out.output
    for name, needle in [("d.html", b"<mark>"), ("d.eml", b"Content-Type: multipart/alternative")]:
        result = CliRunner().invoke(
            main, ["digest", "--config", str(cfg), "--output", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        assert needle in (tmp_path / name).read_bytes()
    # Previewing claims nothing: the delivery is still owed.
    assert [d.status for d in store.pending_deliveries("desk")] == ["pending"]


def test_digest_send_refuses_a_notifier_without_a_schedule(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "m.toml",
        f"""
[storage]
path = "{tmp_path / "m.db"}"
[[notifiers]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
""",
    )
    result = CliRunner().invoke(
        main, ["digest", "--send", "--notifier", "hook", "--config", str(cfg)]
    )
    assert result.exit_code == 2
    assert "notifier 'hook' has no schedule" in result.output
    none = CliRunner().invoke(main, ["digest", "--preview", "--config", str(cfg)])
    assert none.exit_code == 2 and "no notifier has a schedule" in none.output
