"""Article identity and near-duplicate grouping: canonical URL, content hash, story keys (pure).

Three questions, three keys:

- Is this the same page? ``article_id(canonical_url(url, declared))``: the SHA-1 of the URL the
  article names itself by, with tracking params and portal wrappers normalised away.
- Is this the same text? ``content_hash(body)``: the SHA-1 of ``normalize_body(body)``, which
  drops wire datelines, bylines, e-mail addresses and copyright footers, so one text under two
  URLs hashes equal. An empty body hashes equal to every other empty body: skip it.
- Is this the same story? ``features(body, title)`` gives band keys for the candidate lookup
  and ``similar(new, old)`` verifies a candidate. Copies of one press release or wire story
  (other dateline, byline, footer, headline, reordered opening, trimmed or extended) group;
  independent reports of one event, one template refilled with other facts (next quarter's
  notice, another city's water cut, tomorrow's weather) do not.

How the story test works. Text is NFKC-normalised, reduced to letters and digits, and cut
into 4-character shingles (hashed, NumPy-vectorised: about 0.35 ms for an 800-character
article). Candidates: winnowing picks anchor shingles wherever text is shared, hashes of
neighbouring anchor pairs are the keys, and the 12 smallest are kept (a bottom-k sketch), so
two texts that share a run of text share a key even when one holds only a third of the
other. Verification: the longer text must hold 65% of the shorter one's shingles, and fewer
than 10% of the shorter one's digit-bearing shingles may recur in the longer only with other
digits, in the same 10-character context (a rewrite keeps the figures; a template refill
changes them).

Why the keys come from the text, not from the 64-bit fingerprint: a trimmed copy holding
half the text differs from the original in about a quarter of its SimHash bits, and no
banding of 64 bits finds that without returning a large share of the store. ``fingerprint``
(64-bit SimHash, signed) is still worth keeping in ``articles.fingerprint`` for display and
analysis, but grouping does not use it.

The store keeps one table (keys of every article, under the story it joined)::

    CREATE TABLE IF NOT EXISTS story_keys (
        key INTEGER NOT NULL,
        story_id TEXT NOT NULL,
        PRIMARY KEY (key, story_id)
    ) WITHOUT ROWID;

and, for each new article ``f = features(article.body, article.title)``, runs::

    SELECT story_id, COUNT(*) AS shared
    FROM story_keys
    WHERE key IN ({marks})
    GROUP BY story_id
    ORDER BY shared DESC, story_id
    LIMIT 5;

with one ``?`` per key of ``f.keys`` (at most 12; none means the text is empty: start a story).
A story's id is the id of the article that started it, so for each candidate in order it
loads that article (``SELECT title, body FROM articles WHERE id = :story_id``) and joins the
first one where ``similar(f, features(body, title))`` holds; if none does, the article starts
a story whose id is its own id. Either way it then records its keys, in the same transaction
as the article row::

    INSERT OR IGNORE INTO story_keys (key, story_id) VALUES (?, ?);

The primary key is the index the lookup uses (an equality probe per key), so the cost per
new article stays flat as the store grows: see bench/dedupe.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

from monitor.text import normalize

# --------------------------------------------------------------------------- canonical URL

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Pure click/campaign tracking: never part of an article's identity.
_TRACKING = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "ocid", "cmpid", "spm", "mkt_tok",
        "twclid", "ttclid", "li_fat_id", "s_cid", "rtm", "sns", "share", "outlink",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "hmb_")

# Referrer-style params Korean portals append (?ref=naver, ?from=kakao); dropped only when the
# value is a bare word, since "from=20240101" on a listing page is a real filter.
_REFERRER = frozenset({"ref", "ref_src", "ref_url", "referer", "referrer", "from", "fr", "inflow"})
_BARE_WORD = re.compile(r"^[A-Za-z_.-]{0,30}$")

# Params that identify an article in Korean CMSes (ndsoft articleView idxno, khan artid, ...).
_ARTICLE_IDS = frozenset(
    {
        "idxno", "aid", "oid", "artid", "art_id", "article_id", "articleid", "newsid",
        "news_id", "nnewsnumb", "idx", "no", "num", "seq", "arcid", "ctcd", "nkey",
    }
)  # fmt: skip
# Listing context that article pages carry along (ndsoft sc_*, paging); noise once an id is present.
_LISTING_CONTEXT = frozenset(
    {"page", "total", "view_type", "replyall", "box_idxno", "reporteremail", "sm", "list_type"}
)

_NAVER_HOSTS = frozenset(
    {
        "news.naver.com", "n.news.naver.com", "m.news.naver.com", "sports.news.naver.com",
        "m.sports.naver.com", "sports.naver.com", "entertain.naver.com", "m.entertain.naver.com",
    }
)  # fmt: skip
_NAVER_PATH = re.compile(r"/(?:mnews/)?(?:article|news)/(?:\w+/)?(\d{3})/(\d{10})(?:$|/)")
_DAUM_HOSTS = frozenset({"v.daum.net", "m.v.daum.net", "news.v.daum.net", "m.news.v.daum.net"})
_DAUM_PATH = re.compile(r"^/v/(\d{17}|[A-Za-z0-9]{10,})/?$")

_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def canonical_url(url: str, declared: str | None = None) -> str:
    """Return the URL that names this article: the declared canonical if plausible, normalised."""
    chosen = url.strip()
    if declared and (resolved := _plausible_declared(chosen, declared.strip())):
        chosen = resolved
    return _normalize_url(chosen)


def _plausible_declared(url: str, declared: str) -> str | None:
    """Resolve a declared canonical against the page URL; None when it cannot be trusted."""
    resolved = urljoin(url, declared) if declared.startswith("/") else declared
    parts = urlsplit(resolved)
    page = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return None
    if not _plausible_host(parts.hostname, page.hostname):
        return None
    # Some CMSes declare the home page as canonical on every article: that names no article.
    if parts.path.strip("/") == "" and not parts.query and page.path.strip("/") != "":
        return None
    return resolved


def _plausible_host(host: str | None, page_host: str | None) -> bool:
    """A public-looking host name, or the page's own host (for local and demo sites)."""
    if not host:
        return False
    if host == page_host:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return False  # a bare IP is a staging or local address, not where the story lives
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and host not in {"localhost"} and not labels[-1].isdigit()


def _normalize_url(url: str) -> str:
    """Lower-case scheme/host, drop default port, fragment and tracking params, sort the query."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "http"
    host = _ascii_host(parts.hostname or "")
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    netloc = f"{host}:{port}" if port else host
    path = _normalize_path(parts.path)
    # Latin-1 maps bytes to characters one to one, so an EUC-KR escape (%B0%A1) survives the
    # round trip instead of decoding to U+FFFD; raw non-ASCII is UTF-8-escaped first.
    raw_query = quote(parts.query, safe=_QUERY_SAFE)
    params = parse_qsl(raw_query, keep_blank_values=True, encoding="latin-1")
    portal = _portal_url(host, path, params)
    if portal:
        return portal
    kept = sorted(_keep_params(params))
    query = urlencode(kept, quote_via=quote, safe="-._~", encoding="latin-1")
    return urlunsplit((scheme, netloc, path, query, ""))


def _ascii_host(host: str) -> str:
    """Lower-case a host and punycode an internationalised one (한국.kr)."""
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _normalize_path(path: str) -> str:
    """Percent-encode raw non-ASCII and upper-case escapes, so both spellings compare equal."""
    encoded = quote(path or "/", safe=_PATH_SAFE)
    return re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), encoded)


def _keep_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop tracking params, referrer tags, and listing context next to an article id."""
    has_id = any(k.lower() in _ARTICLE_IDS and v for k, v in params)
    kept = []
    for key, value in params:
        k = key.lower()
        if k in _TRACKING or k.startswith(_TRACKING_PREFIXES):
            continue
        if k in _REFERRER and _BARE_WORD.match(value):
            continue
        if has_id and (k in _LISTING_CONTEXT or k.startswith("sc_")):
            continue
        kept.append((key, value))
    return kept


def _portal_url(host: str, path: str, params: list[tuple[str, str]]) -> str | None:
    """Map Naver/Daum wrapper URLs (desktop, mobile, legacy read.nhn) onto one form per id."""
    if host in _NAVER_HOSTS:
        m = _NAVER_PATH.search(path)
        if m:
            return f"https://n.news.naver.com/article/{m.group(1)}/{m.group(2)}"
        q = {k.lower(): v for k, v in params}
        oid, aid = q.get("oid", ""), q.get("aid", "")
        if oid.isdigit() and aid.isdigit():
            return f"https://n.news.naver.com/article/{oid}/{aid}"
    if host in _DAUM_HOSTS and (m := _DAUM_PATH.match(path)):
        return f"https://v.daum.net/v/{m.group(1)}"
    return None


def article_id(canonical: str) -> str:
    """Stable id of an article: the first 20 hex digits of SHA-1 over its canonical URL."""
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:20]


# --------------------------------------------------------------------------- content hash

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Wire datelines and bylines heading a story: [평택=뉴시스]홍길동 기자 = , (서울=연합뉴스) ...
_DATELINE = re.compile(
    r"^\s*[\[(【<]\s*[^\]\)】>\n]{1,30}?=\s*[^\]\)】>\n]{1,20}?[\])】>]\s*"
    r"(?:[가-힣]{2,5}(?:\s*[·,\s]\s*[가-힣]{2,5})*\s*(?:기자|특파원|통신원|객원기자|인턴기자|선임기자)\s*=\s*)?"
)
# "[아시아경제 홍길동 기자]", "[헤럴드경제=홍길동 기자]" at the head of a story.
_BRACKET_BYLINE = re.compile(r"^\s*[\[(【<][^\]\)】>\n]{0,25}?(?:기자|특파원|통신원)\s*[\])】>]\s*")
_REPORTER_WORD = r"(?:기자|특파원|통신원|객원기자|인턴기자|선임기자|논설위원|편집위원|칼럼니스트)"
# A sign-off line: "홍길동 기자", "/홍길동 기자", "평택=홍길동 기자", "글·사진=홍길동 기자".
_SIGNOFF = re.compile(
    r"^[\[(【<▶/\s]*(?:[가-힣·ㆍ]{1,8}\s*=\s*)?[가-힣]{2,5}(?:\s*[·ㆍ,\s]\s*[가-힣]{2,5}){0,3}\s*"
    + _REPORTER_WORD
    + r"\s*[\])】>]?\s*$"
)
# Lines are NFKC'd first, which turns ⓒ into a plain "c": "ⓒ 연합뉴스" reads "c 연합뉴스".
# Only a lower-case c: "C형 간염" opens story text.
_COPYRIGHT = re.compile(
    r"(?:copyright|©|\(c\)|저작권자|무단\s*전재|재배포\s*금지|AI\s*학습)|^[<\[(]?\s*(?-i:c)\s*[가-힣]",
    re.IGNORECASE,
)
_PROMO_LINE = re.compile(r"^\s*(?:[▶☞◆■▷→※]|\[?관련\s*기사)")
# Photo/graphic credits inline: (사진=평택시 제공), [그래픽=홍길동 기자]
# (Run over the whole text, so no part of it may cross a line: [^\S\n] is \s without "\n".)
_CREDIT = re.compile(
    r"[\[(][^\S\n]*(?:사진|자료|그래픽|영상|자료사진|편집)[^\S\n]*[=:][^\])\n]{0,40}[\])]"
)
# Typographic variants portals swap freely; folding them lets copies hash equal.
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"', "‘": "'", "’": "'", "′": "'",
                       "ㆍ": "·", "•": "·", "∙": "·", "–": "-", "—": "-", "―": "-"})  # fmt: skip
# str.translate() walks a Korean text character by character; most texts hold none of these.
_FOLDABLE = re.compile("[" + "".join(chr(c) for c in _FOLD) + "]")


def normalize_body(body: str) -> str:
    """The body as every copy prints it: NFKC, bylines/emails/footers gone, spaces collapsed."""
    text = unicodedata.normalize("NFKC", body)
    if _FOLDABLE.search(text):
        text = text.translate(_FOLD)
    # Lines rejoined with "\n" alone, so the whole-text substitutions below see the lines
    # splitlines() sees; neither pattern can match across a line.
    text = "\n".join(text.splitlines())
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    text = _CREDIT.sub(" ", text)
    kept: list[str] = []
    for raw in text.split("\n"):
        line = _clean_line(raw, first=not kept)
        if line:
            kept.append(line)
    joined = " ".join(kept)
    # Removing a line's head can leave a combining mark first: normalise again only then.
    if not unicodedata.is_normalized("NFKC", joined):
        joined = unicodedata.normalize("NFKC", joined)
    return " ".join(joined.split())


def _clean_line(line: str, *, first: bool) -> str:
    """Strip a line's boilerplate; return "" when nothing of the story is left."""
    line = line.strip()
    if first:
        line = _BRACKET_BYLINE.sub("", _DATELINE.sub("", line)).strip()
    if not line or _SIGNOFF.match(line) or _PROMO_LINE.match(line):
        return ""
    if len(line) < 120 and _COPYRIGHT.search(line):
        return ""  # a short line that names copyright is the site's footer, not the story
    return line


def content_hash(body: str) -> str:
    """SHA-1 hex of the normalised body: the same text under two URLs hashes equal."""
    return hash_normalized(normalize_body(body))


def hash_normalized(normalized: str) -> str:
    """content_hash() of a body already passed through normalize_body()."""
    return hashlib.sha1(normalized.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- stories

SHINGLE = 4  # characters per shingle; 4 Hangul syllables is about one and a half words
WINDOW = 24  # winnowing window: any shared run of WINDOW + SHINGLE - 1 characters shares an anchor
KEYS = 12  # band keys kept per article (the smallest pair hashes: a bottom-k sketch)
OVERLAP = 0.65  # share of the shorter text's shingles the longer must hold
CONFLICT = 0.1  # share of digit-bearing shingles that may differ only in their digits
MIN_SHINGLES = 30  # below this a text is too short for overlap to mean much
_REACH = SHINGLE - 1  # context characters on each side of a shingle
CONTEXT = SHINGLE + 2 * _REACH  # a shingle with its neighbours: a fragment of a sentence

_U64 = np.uint64
_ROLL = _U64(1_000_003)
_PAIR = _U64(0x9E3779B97F4A7C15)
_NON_WORD = re.compile(r"[\W_]+")
_DIGIT_0, _DIGIT_9 = ord("0"), ord("9")

U64Array = npt.NDArray[np.uint64]


class StoryFeatures:
    """What grouping needs from one text; each part is computed on first use, then kept.

    Verifying a candidate usually stops at the shingle overlap, so the digit contexts (and,
    for a candidate, the keys and fingerprint) are mostly never computed.
    """

    __slots__ = ("_codes", "_digits", "_fingerprint", "_keys", "sequence", "shingles")

    def __init__(self, codes: U64Array) -> None:
        # Kept for the figures check, at half the size: code points fit 32 bits.
        self._codes: npt.NDArray[np.uint32] = codes.astype(np.uint32)
        self.sequence: U64Array = _ngram_hashes(codes, SHINGLE)  # shingle hashes in text order
        self.shingles: U64Array = _sorted_unique(self.sequence)
        self._keys: tuple[int, ...] | None = None
        self._fingerprint: int | None = None
        self._digits: _Digits | None = None

    @property
    def keys(self) -> tuple[int, ...]:
        """Band keys, signed 64-bit."""
        if self._keys is None:
            self._keys = _band_keys(self.sequence)
        return self._keys

    @property
    def fingerprint(self) -> int:
        """64-bit SimHash, signed."""
        if self._fingerprint is None:
            self._fingerprint = _simhash(self.shingles)
        return self._fingerprint

    @property
    def digits(self) -> _Digits:
        """Where the digits are, for the figures check."""
        if self._digits is None:
            self._digits = _digits_of(self._codes)
        return self._digits


@dataclass(frozen=True, slots=True)
class _Digits:
    """The figures check's view of a text."""

    has_digit: npt.NDArray[np.bool_]  # per shingle in text order: holds a digit
    contexts: U64Array  # per position: hash of the CONTEXT characters from there, digits as 0
    context_set: U64Array  # sorted unique contexts


def features(body: str, title: str = "") -> StoryFeatures:
    """Shingles, band keys and fingerprint of an article (title optional)."""
    return features_normalized(normalize_body(body), title)


def features_normalized(text: str, title: str = "") -> StoryFeatures:
    """features() of a body already passed through normalize_body(): normalise once, use twice."""
    if title:
        text = normalize(title) + " " + text
    return StoryFeatures(_codes(text))


def _digits_of(codes: npt.NDArray[np.uint32]) -> _Digits:
    """Digit flags per shingle and digit-blind context hashes per position."""
    digits = (codes >= _DIGIT_0) & (codes <= _DIGIT_9)
    contexts = _ngram_hashes(np.where(digits, _U64(_DIGIT_0), codes), CONTEXT)
    return _Digits(_windows_any(digits), contexts, _sorted_unique(contexts))


def _sorted_unique(values: U64Array) -> U64Array:
    """np.unique() without its overhead, for the short arrays one article gives."""
    if len(values) < 2:
        return values.copy()
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _codes(text: str) -> U64Array:
    """Code points of the letters and digits only: spacing and punctuation vary between copies."""
    letters = _NON_WORD.sub("", text).lower()
    if 0 < len(letters) < SHINGLE:
        letters = letters.ljust(SHINGLE, "\0")  # a one-word text still makes one shingle
    return np.frombuffer(letters.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _ngram_hashes(codes: U64Array, n: int) -> U64Array:
    """Mixed polynomial hash of every n-character window, in text order."""
    count = len(codes) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = codes[:count].copy()
    for j in range(1, n):
        h *= _ROLL
        h += codes[j : j + count]  # uint64 arrays wrap: the hash is mod 2**64
    return _mix(h)


def _windows_any(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """For each shingle window, whether any of its characters is flagged."""
    count = len(flags) - SHINGLE + 1
    if count <= 0:
        return np.zeros(0, dtype=bool)
    out = flags[:count].copy()
    for j in range(1, SHINGLE):
        out |= flags[j : j + count]
    return out


def _mix(x: U64Array) -> U64Array:
    """SplitMix64 finaliser: spreads polynomial hashes over all 64 bits (in place)."""
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


def _band_keys(raw: U64Array) -> tuple[int, ...]:
    """The KEYS smallest hashes of consecutive winnowing-anchor pairs, as signed 64-bit ints."""
    if len(raw) == 0:
        return ()
    if len(raw) <= WINDOW:
        anchors = raw[[int(np.argmin(raw))]]
    else:
        windows = np.lib.stride_tricks.sliding_window_view(raw, WINDOW)
        # A window's minimum never lies left of the previous window's: positions only grow,
        # so dropping repeats leaves each anchor once, in text order.
        positions = np.arange(len(windows)) + windows.argmin(axis=1)
        new = np.empty(len(positions), dtype=bool)
        new[0] = True
        np.not_equal(positions[1:], positions[:-1], out=new[1:])
        anchors = raw[positions[new]]
    # A pair of neighbouring anchors needs a longer shared run than one anchor, so stock
    # phrases that every article repeats rarely make a key.
    pairs = _mix(anchors[:-1] * _PAIR + anchors[1:]) if len(anchors) > 1 else anchors
    smallest = _sorted_unique(pairs)[:KEYS]
    return tuple(int(k) for k in smallest.view(np.int64))


def _simhash(shingles: U64Array) -> int:
    """64-bit SimHash of a shingle set, as a signed int (fits SQLite INTEGER)."""
    if len(shingles) == 0:
        return 0
    # One byte per bit, not a uint64 per bit: row i holds the 64 bits of hash i, lowest first.
    bits = np.unpackbits(shingles.astype("<u8").view(np.uint8), bitorder="little").reshape(-1, 64)
    majority = bits.sum(axis=0, dtype=np.uint32) * 2 > len(shingles)
    value = int(np.packbits(majority, bitorder="little").view("<u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def fingerprint(text: str) -> int:
    """64-bit SimHash of a text's shingles (signed); near-identical texts differ in few bits."""
    return features(text).fingerprint


def band_keys(text: str) -> list[int]:
    """LSH band keys of a text: copies of one story share at least one of them."""
    return list(features(text).keys)


def similar(a: StoryFeatures, b: StoryFeatures) -> bool:
    """Whether two texts are copies of one story: high containment, the same figures."""
    small = min(len(a.shingles), len(b.shingles))
    if small == 0:
        return False
    shared = np.intersect1d(a.shingles, b.shingles, assume_unique=True).size
    if small < MIN_SHINGLES:
        # Headline-sized texts: only near-equality says anything.
        return shared / (len(a.shingles) + len(b.shingles) - shared) >= 0.9
    if shared / small < OVERLAP:
        return False
    # Only the shorter text is (nearly) inside the other; the longer one's extra paragraphs
    # would match masked shingles by chance.
    inner, outer = (a, b) if len(a.shingles) <= len(b.shingles) else (b, a)
    return _conflict(inner, outer) < CONFLICT


def _conflict(a: StoryFeatures, b: StoryFeatures) -> float:
    """Share of a's digit-bearing shingles that b holds only with other digits."""
    ad, bd = a.digits, b.digits
    positions = np.flatnonzero(ad.has_digit)
    if len(positions) == 0:
        return 0.0
    # Next quarter's notice, tomorrow's weather: the same sentences with new dates and
    # figures. A rewrite keeps the figures; a template refill changes them. A refill shows
    # as a digit shingle whose surrounding CONTEXT characters, digits aside, recur in b
    # while the shingle itself does not; a shingle that merely spans an edit has no such
    # context in b.
    starts = positions - _REACH
    inside = (starts >= 0) & (starts < len(ad.contexts))
    positions, starts = positions[inside], starts[inside]
    refilled = np.isin(ad.contexts[starts], bd.context_set) & ~np.isin(
        a.sequence[positions], b.shingles
    )
    return float(refilled.sum()) / int(ad.has_digit.sum())


def same_story(a: str, b: str) -> bool:
    """Whether two article bodies are copies of one story (see similar())."""
    return similar(features(a), features(b))
