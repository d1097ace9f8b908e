"""Pure text helpers shared by the stages: decoding bytes and normalising Korean text."""

from __future__ import annotations

import codecs
import re
import unicodedata

# Korean pages labelled EUC-KR routinely use CP949's extra syllables (똠, 햏, ...).
_ALIASES = {
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "euckr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "korean": "cp949",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "ms949": "cp949",
    "uhc": "cp949",
    # WHATWG: these labels mean windows-1252 on the web.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_SINGLE_BYTE = {"cp1252"}

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 16384


def codec_for(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None when unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    # codecs.lookup("euc-kr") is a distinct codec; the page almost always means CP949.
    if canonical in {"euc_kr", "ksc5601"}:
        return "cp949"
    if canonical in {"latin_1", "iso8859-1", "ascii"}:
        return "cp1252"
    return canonical


def declared_charset(body: bytes, content_type: str | None = None) -> tuple[str | None, str]:
    """Return (codec, where) from the HTTP header, a BOM, or a <meta>/XML declaration."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, "bom"
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        header = codec_for(m.group(1)) if m else None
        if header:
            return header, "header"
    head = body[:_SNIFF_BYTES]
    m2 = _XML_ENCODING.search(head[:200]) or _META_CHARSET.search(head)
    meta = codec_for(m2.group(1).decode("ascii", "replace")) if m2 else None
    if meta:
        return meta, "meta"
    return None, "none"


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page: header, then BOM/<meta>, then detection. Returns (text, codec used)."""
    codec, _where = declared_charset(body, content_type)
    if codec == "utf-8" and body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    if codec and codec not in _SINGLE_BYTE:
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            pass  # the label lies; fall through to detection
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # A single-byte label on valid UTF-8 with non-ASCII bytes is almost always a mislabel.
        return text, "utf-8"
    if codec in _SINGLE_BYTE:
        return body.decode(codec, errors="replace"), codec
    return _detect(body)


def _detect(body: bytes) -> tuple[str, str]:
    """Guess the encoding of unlabelled (or mislabelled) bytes."""
    try:
        return body.decode("cp949"), "cp949"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # imported lazily: only odd pages need it

    best = from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        codec = codec_for(best.encoding) or best.encoding
        return body.decode(codec, errors="replace"), codec
    return body.decode("utf-8", errors="replace"), "utf-8"


_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC-normalise and collapse whitespace; the form every comparison uses."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (a feed item's description), one line per block."""
    from selectolax.lexbor import LexborHTMLParser

    # Mark block boundaries before parsing, so inline tags do not split lines.
    tree = LexborHTMLParser("<div>" + _BLOCK_END.sub("\\g<0>\n", html) + "</div>")
    for node in tree.css("script, style"):
        node.decompose()
    root = tree.body or tree.root
    text = root.text(separator="") if root is not None else ""
    lines = (normalize(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|li|h[1-6]|tr|blockquote|section|article)\s*>", re.I)
