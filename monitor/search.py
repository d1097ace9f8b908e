"""Search queries over stored articles: parsing, the FTS/short-term split, snippets (pure).

The articles' FTS5 index uses the trigram tokenizer, so any run of three or more characters is
found as a substring (`미래차` finds `평택미래차클러스터`). A shorter term has no trigram of its
own and FTS5 silently drops it: `평택 미래차` would match every 미래차 article. So a query is
split here:

- terms of three or more characters go to the index as one FTS5 expression;
- shorter terms are checked on the candidate rows with `instr` (exact substring);
- a query made only of short terms is driven by the index all the same: every occurrence of a
  two-character term is the start of some trigram (`평택시`, `평택 `, `평택항` ...) unless it
  ends its field, so the index's own vocabulary lists the trigrams to OR together, and an
  expression index on the last two characters of each field finds the rest.

Query language (the rules' language, minus fields and regexes)::

    평택 미래차            every term, anywhere in the title or body
    "미래 자동차"          an exact phrase, spaces included
    전기차 OR 수소차        either term (OR binds tighter than the space)
    -중고                  no article containing the term

Matching ignores case for Latin letters; text is NFKC-normalised as stored articles are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from monitor.config import parse_duration
from monitor.errors import SearchError

MIN_INDEXED = 3  # the trigram tokenizer's unit: shorter terms are invisible to MATCH
TAIL = 2  # a two-character term at the very end of a field starts no trigram
MAX_EXPANSION = 2000  # trigrams one short term may expand to before a scan is cheaper
SNIPPET_WIDTH = 160

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: every group must hold; a group holds when any of its terms occurs."""

    text: str
    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """Every positive term, in query order, without repeats (for highlighting)."""
        return tuple(dict.fromkeys(t for g in self.groups for t in g))


def normalize_term(text: str) -> str:
    """NFKC and collapsed spaces, the form stored article text is in."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """(term, negated, quoted) for each token; a quote opens a phrase only at a token's start."""
    out: list[tuple[str, bool, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        if text[i] == '"':
            close = text.find('"', i + 1)
            close = n if close == -1 else close  # an unclosed phrase runs to the end
            out.append((text[i + 1 : close], negated, True))
            i = close + 1
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            out.append((text[i:j], negated, False))
            i = j
    return out


def parse(text: str) -> SearchQuery:
    """Parse a search query; raise SearchError when nothing positive is left to search for."""
    items: list[tuple[str, bool, bool]] = []  # (term, negated, is the OR keyword)
    for raw, negated, quoted in _tokens(unicodedata.normalize("NFKC", text)):
        if raw == "-" and not quoted:
            continue
        if raw == "OR" and not quoted and not negated:
            items.append(("OR", False, True))
            continue
        term = normalize_term(raw)
        if term:
            items.append((term, negated, False))

    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for term, negated, is_or in items:
        if is_or:
            join_next = bool(groups)
            continue
        if negated:
            excluded.append(term)
            join_next = False
        elif join_next and groups:
            groups[-1].append(term)
            join_next = False
        else:
            groups.append([term])
    if not groups:
        if excluded:
            raise SearchError("a search needs at least one term that is not excluded (-term)")
        raise SearchError("empty search: give at least one term")
    return SearchQuery(
        text=text,
        groups=tuple(tuple(dict.fromkeys(g)) for g in groups),
        excluded=tuple(dict.fromkeys(excluded)),
    )


def indexed(term: str) -> bool:
    """Whether the trigram index can find this term by itself."""
    return len(term) >= MIN_INDEXED


def fold(term: str) -> str:
    """Lower-case ASCII letters only, as SQLite's lower() does (so `instr` agrees with it)."""
    return term.translate(_ASCII_UPPER)


def like_pattern(term: str) -> str:
    """A LIKE pattern (escape character \\) finding the term anywhere."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(term: str) -> str:
    """A term as an FTS5 string (quoted, so FTS5 syntax in it means nothing)."""
    return '"' + term.replace('"', '""') + '"'


def _fts_group(terms: Sequence[str]) -> str:
    """One group as FTS5: a phrase, or alternatives in parentheses."""
    phrases = [fts_phrase(t) for t in terms]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def fts_expression(query: SearchQuery) -> str | None:
    """The FTS5 MATCH expression for the groups the index can answer alone, or None."""
    parts = [_fts_group(g) for g in query.groups if all(indexed(t) for t in g)]
    return " AND ".join(parts) if parts else None


def checked_groups(query: SearchQuery) -> tuple[tuple[str, ...], ...]:
    """Groups with a term too short for the index: checked with `instr` on each candidate."""
    return tuple(g for g in query.groups if not all(indexed(t) for t in g))


def driver_group(query: SearchQuery) -> tuple[str, ...] | None:
    """For a query of short terms only: a group the index can still narrow by (no 1-char term)."""
    for group in query.groups:
        if all(len(t) >= TAIL for t in group):
            return group
    return None


def prefix_range(term: str) -> tuple[str, str]:
    """Bounds [low, high) of the index terms that start with `term` (as the index folds case)."""
    low = term.lower()
    return low, low[:-1] + chr(ord(low[-1]) + 1)


def expanded_expression(group: Sequence[str], trigrams: Mapping[str, Sequence[str]]) -> str | None:
    """An FTS5 expression finding a group's short terms through the trigrams that begin with them.

    `trigrams[term]` lists the index's trigrams starting with each two-character term; longer
    terms are searched as themselves. Returns None when the index holds none of them.
    """
    phrases: list[str] = []
    for term in group:
        if indexed(term):
            phrases.append(fts_phrase(term))
        else:
            phrases.extend(fts_phrase(t) for t in trigrams.get(term, ()))
    return " OR ".join(dict.fromkeys(phrases)) or None


def tail_terms(group: Sequence[str]) -> tuple[str, ...]:
    """The group's two-character terms, folded, as the tail indexes hold field endings."""
    return tuple(fold(t) for t in group if len(t) == TAIL)


# -- highlighting -----------------------------------------------------------------------------


def spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where any of the terms occurs in the text, case-insensitively; sorted, merged."""
    found: list[tuple[int, int]] = []
    for term in terms:
        if not term:
            continue
        found.extend(m.span() for m in re.finditer(re.escape(term), text, re.IGNORECASE))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(
    text: str, terms: Sequence[str], width: int = SNIPPET_WIDTH
) -> tuple[str, list[tuple[int, int]]]:
    """A window of `text` around the hits that show the most distinct terms, with their spans.

    The text is flattened to one line; "…" marks where it was cut.
    """
    flat = " ".join(text.split())
    hits = spans(flat, terms)
    if not hits:
        cut = flat[:width]
        return (cut + "…" if len(flat) > width else cut), []
    lowered = flat.lower()
    best_start, best_score = hits[0][0], -1
    for start, _ in hits:
        window = lowered[start : start + width]
        score = sum(1 for t in terms if t and t.lower() in window)
        if score > best_score:
            best_start, best_score = start, score
    # Show a little of what comes before the first hit, starting at a word boundary.
    begin = max(0, best_start - width // 4)
    if begin:
        space = flat.find(" ", begin, best_start)
        begin = space + 1 if space != -1 else begin
    end = min(len(flat), begin + width)
    if end < len(flat):
        space = flat.rfind(" ", best_start, end)
        end = space if space > best_start else end
    prefix = "…" if begin else ""
    suffix = "…" if end < len(flat) else ""
    shown = flat[begin:end]
    inner = [
        (max(s, begin) - begin + len(prefix), min(e, end) - begin + len(prefix))
        for s, e in hits
        if s < end and e > begin
    ]
    return prefix + shown + suffix, inner


def parts(text: str, marks: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_hit) pieces, for renderers that escape each piece."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in marks:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def mark(text: str, marks: Sequence[tuple[int, int]], before: str, after: str) -> str:
    """The text with each hit wrapped in `before`/`after` (terminal colours, brackets)."""
    return "".join(before + p + after if hit else p for p, hit in parts(text, marks))


# -- filters ----------------------------------------------------------------------------------


def parse_since(value: str, now: datetime, tz: tzinfo) -> datetime:
    """`--since`: a duration back from now ("2d", "12h") or a date/time in the zone `tz`."""
    text = value.strip()
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SearchError(
            f'--since: expected a duration like "2d" or a date like 2024-09-01, got {value!r}'
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=tz)
