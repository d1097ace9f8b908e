"""Decoding: HTTP header, then BOM/<meta>, then detection; EUC-KR read as CP949."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.text import codec_for, decode, html_to_text, normalize

KO = "평택시는 미래자동차 클러스터를 조성한다. 똠방각하"  # 똠 exists only in CP949, not EUC-KR


def test_euc_kr_label_is_read_as_cp949() -> None:
    body = f'<html><head><meta charset="euc-kr"></head><body>{KO}</body></html>'.encode("cp949")
    text, codec = decode(body, "text/html")
    assert codec == "cp949"
    assert KO in text


def test_header_charset_wins_over_meta() -> None:
    body = f'<meta charset="utf-8"><p>{KO}</p>'.encode("cp949")
    text, codec = decode(body, "text/html; charset=EUC-KR")
    assert codec == "cp949" and KO in text


def test_lying_label_falls_back_to_detection() -> None:
    body = f'<meta charset="euc-kr"><p>{KO}</p>'.encode()
    text, codec = decode(body, None)
    assert codec == "utf-8" and KO in text


def test_latin1_header_on_utf8_body_is_treated_as_mislabel() -> None:
    body = f"<p>{KO}</p>".encode()
    text, _ = decode(body, "text/html; charset=iso-8859-1")
    assert KO in text


def test_unlabelled_cp949_is_detected() -> None:
    body = f"<html><body><p>{KO}</p></body></html>".encode("cp949")
    text, codec = decode(body, "text/html")
    assert codec == "cp949" and KO in text


def test_bom_wins() -> None:
    body = b"\xef\xbb\xbf" + f"<p>{KO}</p>".encode()
    text, codec = decode(body, "text/html; charset=euc-kr")
    assert codec == "utf-8" and text.startswith("<p>")


@pytest.mark.parametrize(
    ("label", "codec"),
    [("EUC-KR", "cp949"), ("ks_c_5601-1987", "cp949"), ("UTF8", "utf-8"), ("latin1", "cp1252"),
     ("no-such-charset", None)],
)  # fmt: skip
def test_codec_labels(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_real_euc_kr_pages_decode(korean_pages: Path) -> None:
    for name in ("chosun-1.html", "khan-1.html"):
        text, codec = decode((korean_pages / name).read_bytes(), "text/html")
        assert codec == "cp949", name
        assert "\ufffd" not in text, name


def test_normalize_nfkc_and_spaces() -> None:
    assert normalize("  평택\u3000 ＡＩ\n\t미래차 ") == "평택 AI 미래차"


def test_html_to_text_keeps_lines() -> None:
    assert html_to_text("<p>첫 줄</p><p>둘째 <b>줄</b><br>셋째</p><script>x()</script>") == (
        "첫 줄\n둘째 줄\n셋째"
    )
