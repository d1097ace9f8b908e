"""Rule language -> one compiled automaton -> Match with highlighted snippets (pure).

Grammar (whitespace separates tokens; `OR` and `AND` are keywords only in capitals)::

    query    := conj EOF
    conj     := disj ( ["AND"] disj )*          adjacent items are ANDed
    disj     := unary ( "OR" unary )*           OR binds tighter than AND
    unary    := "-" unary                       exclude
              | FIELD ":" unary                 title: body: source: url:
              | "(" conj ")"
              | '"' PHRASE '"'                  exact words, exact spacing
              | "/" REGEX "/"                   Python regex, case-insensitive
              | TERM                            any run of characters but space ( ) "

So `평택 미래차 OR 전기차 -중고` means 평택 AND (미래차 OR 전기차) AND NOT 중고.

How matching stays fast with many rules: every spelling a term may take (synonyms, spacing
variants, the head of a short form) is one key of a single Aho-Corasick automaton. The text
it scans carries a mark before every word start, so keys that must start a word carry the
mark too and never fire inside a word. Raw hits are verified (`_verify`, the one place the
Korean rules live) only for rules whose every required term was seen.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import ahocorasick_rs

from monitor.errors import ConfigError, RuleError
from monitor.models import Article, Hit, Match, Rule
from monitor.synonyms import merge_groups
from monitor.text import normalize

FIELDS = ("title", "body", "source", "url")
TEXT_FIELDS = ("title", "body")
_MAX_DEPTH = 50
_SNIPPET = 160


# ---------------------------------------------------------------------------
# Query syntax tree
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Atom:
    """A leaf of a query: a term, an exact phrase or a regex, limited to some fields."""

    kind: str  # term | phrase | regex
    text: str  # as the rule wrote it (without quotes or slashes)
    fields: tuple[str, ...]
    position: int  # where it starts in the query


@dataclass(frozen=True, slots=True)
class And:
    """All children must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child must not hold anywhere in the article."""

    child: Node


Node = Atom | And | Or | Not


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed rule query."""

    text: str
    root: Node

    def atoms(self) -> list[tuple[Atom, bool]]:
        """Every leaf with whether it is positive (not under an odd number of exclusions)."""
        out: list[tuple[Atom, bool]] = []
        _collect(self.root, True, out)
        return out


def _collect(node: Node, positive: bool, out: list[tuple[Atom, bool]]) -> None:
    """Walk the tree, flipping polarity under each Not."""
    if isinstance(node, Atom):
        out.append((node, positive))
    elif isinstance(node, Not):
        _collect(node.child, not positive, out)
    else:
        for child in node.children:
            _collect(child, positive, out)


# ---------------------------------------------------------------------------
# Tokenizer and parser
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ( ) OR AND - FIELD PHRASE REGEX TERM
    value: str
    pos: int


_SPECIAL = {"(": "(", ")": ")", '"': '"', "/": "/", "-": "-", ":": ":"}
_FIELD_PREFIX = re.compile(r"(title|body|source|url):")


def _user_regex(pattern: str) -> re.Pattern[str]:
    """Compile a rule's /regex/ without re's FutureWarnings (e.g. "nested set")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern, re.IGNORECASE)


def _canonical_chars(query: str) -> str:
    """Map full-width punctuation to ASCII one character at a time, so positions stay put."""
    out = []
    for ch in query:
        if ch.isspace():
            out.append(" ")
            continue
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if folded in _SPECIAL else ch)
    return "".join(out)


def _tokenize(query: str) -> list[_Token]:
    """Split a query into tokens; raise RuleError on unterminated phrases and regexes."""
    q = _canonical_chars(query)
    tokens: list[_Token] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        if ch == " ":
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise RuleError("unterminated phrase", query, i)
            tokens.append(_Token("PHRASE", query[i + 1 : end], i))
            i = end + 1
        elif ch == "/":
            end = _regex_end(q, i)
            if end < 0:
                raise RuleError("unterminated regex", query, i)
            tokens.append(_Token("REGEX", query[i + 1 : end].replace("\\/", "/"), i))
            i = end + 1
        elif ch == "-" and (i + 1 >= n or q[i + 1] == " "):
            raise RuleError("nothing to exclude after '-'", query, i)
        elif ch == "-":
            tokens.append(_Token("-", ch, i))
            i += 1
        elif m := _FIELD_PREFIX.match(q, i):
            if m.end() >= n or q[m.end()] in " )":
                raise RuleError(f"nothing after field prefix '{m.group(0)}'", query, i)
            tokens.append(_Token("FIELD", m.group(1), i))
            i = m.end()
        else:
            j = i
            while j < n and q[j] not in ' ()"':
                j += 1
            word = query[i:j]
            kind = word if word in ("OR", "AND") else "TERM"
            tokens.append(_Token(kind, word, i))
            i = j
    return tokens


def _regex_end(q: str, start: int) -> int:
    """Index of the slash closing the regex opened at `start`, or -1."""
    i = start + 1
    while i < len(q):
        if q[i] == "\\":
            i += 2
            continue
        if q[i] == "/":
            return i
        i += 1
    return -1


class _Parser:
    """Recursive descent over the token list; every error names a query position."""

    def __init__(self, query: str, tokens: list[_Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        """The next token, or None at the end."""
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, message: str, pos: int) -> RuleError:
        """A RuleError at `pos` of this query."""
        return RuleError(message, self.query, pos)

    def conj(self, depth: int, fields: tuple[str, ...]) -> Node:
        """conj := disj (["AND"] disj)*"""
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind != ")":
            if tok.kind == "AND":
                if not items:
                    raise self.fail("AND needs a term on each side", tok.pos)
                self.i += 1
                nxt = self.peek()
                if nxt is None or nxt.kind in (")", "OR", "AND"):
                    raise self.fail("AND needs a term on each side", tok.pos)
                continue
            items.append(self.disj(depth, fields))
        if not items:
            tok = self.peek()
            raise self.fail("empty query", tok.pos if tok else len(self.query))
        return items[0] if len(items) == 1 else And(tuple(items))

    def disj(self, depth: int, fields: tuple[str, ...]) -> Node:
        """disj := unary ("OR" unary)*"""
        tok = self.peek()
        if tok is not None and tok.kind == "OR":
            raise self.fail("OR needs a term on each side", tok.pos)
        items = [self.unary(depth, fields)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise self.fail("OR needs a term on each side", tok.pos)
            items.append(self.unary(depth, fields))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def unary(self, depth: int, fields: tuple[str, ...]) -> Node:
        """unary := "-" unary | FIELD unary | "(" conj ")" | atom"""
        tok = self.peek()
        assert tok is not None  # callers check for the end first
        if depth > _MAX_DEPTH:
            raise self.fail("query nested too deeply", tok.pos)
        self.i += 1
        if tok.kind == "-":
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise self.fail("nothing to exclude after '-'", tok.pos)
            return Not(self.unary(depth + 1, fields))
        if tok.kind == "FIELD":
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise self.fail(f"nothing after field prefix '{tok.value}:'", tok.pos)
            return self.unary(depth + 1, (tok.value,))
        if tok.kind == "(":
            nxt = self.peek()
            if nxt is not None and nxt.kind == ")":
                raise self.fail("empty parentheses", tok.pos)
            if nxt is None:
                raise self.fail("unbalanced parenthesis", tok.pos)
            inner = self.conj(depth + 1, fields)
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.fail("unbalanced parenthesis", tok.pos)
            self.i += 1
            return inner
        if tok.kind == ")":
            raise self.fail("unbalanced parenthesis", tok.pos)
        return self.atom(tok, fields)

    def atom(self, tok: _Token, fields: tuple[str, ...]) -> Atom:
        """Build a leaf and check that it can ever match."""
        if tok.kind == "REGEX":
            if not tok.value:
                raise self.fail("empty regex", tok.pos)
            try:
                _user_regex(tok.value)
            except re.error as exc:
                offset = exc.pos if exc.pos is not None else 0
                raise self.fail(f"invalid regex: {exc.msg}", tok.pos + 1 + offset) from None
            except (OverflowError, RecursionError, ValueError) as exc:
                raise self.fail(f"invalid regex: {exc}", tok.pos + 1) from None
            return Atom("regex", tok.value, fields, tok.pos)
        if tok.kind == "PHRASE":
            if not any(c.isalnum() for c in tok.value):
                raise self.fail("empty phrase", tok.pos)
            return Atom("phrase", tok.value, fields, tok.pos)
        if not any(c.isalnum() for c in tok.value):
            raise self.fail("term has no letters or digits", tok.pos)
        return Atom("term", tok.value, fields, tok.pos)


def parse_query(query: str) -> Query:
    """Parse a rule query; raise RuleError(message, query, position) on bad syntax."""
    if not query.strip():
        raise RuleError("empty query", query, 0)
    tokens = _tokenize(query)
    parser = _Parser(query, tokens)
    root = parser.conj(0, TEXT_FIELDS)
    tok = parser.peek()
    if tok is not None:  # only a stray ")" stops conj early
        raise RuleError("unbalanced parenthesis", query, tok.pos)
    parsed = Query(query, root)
    if not any(positive for _atom, positive in parsed.atoms()):
        raise RuleError("query has no term that must match", query, 0)
    return parsed


# ---------------------------------------------------------------------------
# Text preparation
# ---------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower-case Latin (and other cased scripts) without changing the length."""
    low = text.lower()
    if len(low) == len(text):
        return low  # lower() never shrinks, so equal length means one-to-one
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in text)


def is_hangul(ch: str) -> bool:
    """A Hangul syllable or jamo."""
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_alnum_other(ch: str) -> bool:
    """A letter or digit that is not Hangul (Latin, digits, Hanja...)."""
    return ch.isalnum() and not is_hangul(ch)


MARK = "\x01"  # stands before every word start in the text the automaton scans
_H = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"
# Word starts that no space precedes: Hangul after a non-Hangul character, or a letter or
# digit after Hangul or punctuation (2030세대, AI가, "평택). Spaces become marks directly.
# Matches the character before such a start (lookahead only: faster than a lookbehind).
_GLUED_START = re.compile(
    rf"[^\s\x01{_H}](?=[{_H}])|[{_H}_](?=[^\W_{_H}])|[^\w\s\x01](?=[^\W_{_H}])"
)


def word_start(prev: str, ch: str) -> bool:
    """Whether `ch` starts a word after `prev` (the same test the marks encode)."""
    if is_hangul(ch):
        return not is_hangul(prev)
    return _is_alnum_other(ch) and not _is_alnum_other(prev)


@dataclass(slots=True)
class _Field:
    """One article field prepared for matching: normalised, folded and marked forms."""

    name: str
    norm: str  # normalize(text): offsets of hits refer to this
    folded: str  # same length as norm
    marked: str  # what the automaton scans: MARK + folded, spaces as MARK, MARK at word starts
    inserted: list[int]  # indexes in `marked` of the marks that replace no space

    def to_norm(self, j: int) -> int:
        """Offset in norm of the character at index j of `marked`."""
        return j - 1 - bisect_left(self.inserted, j)


def prepare(name: str, text: str) -> _Field:
    """Normalise a field and build the marked form the automaton scans."""
    norm = normalize(text)
    folded = fold(norm)
    if MARK in folded:  # keep the mark unambiguous; the length stays the same
        folded = folded.replace(MARK, "\ufffd")
    spaced = folded.replace(" ", MARK)
    starts = [m.end() for m in _GLUED_START.finditer(spaced)]
    if not starts:
        return _Field(name, norm, folded, MARK + spaced, [])
    pieces = [MARK]
    last = 0
    for pos in starts:
        pieces += (spaced[last:pos], MARK)
        last = pos
    pieces.append(spaced[last:])
    inserted = [pos + 1 + k for k, pos in enumerate(starts)]
    return _Field(name, norm, folded, "".join(pieces), inserted)


def _squeeze(text: str) -> tuple[str, frozenset[int]]:
    """A written term without spaces, and where its spaces were (as squeezed indices)."""
    folded = fold(normalize(text)).replace(MARK, "\ufffd")
    gaps: list[int] = []
    for word in folded.split(" ")[:-1]:
        gaps.append((gaps[-1] if gaps else 0) + len(word))
    return folded.replace(" ", ""), frozenset(gaps)


_MAX_BRIDGES = 2  # spaces a text may add inside a term (미래 자동차 for 미래자동차)


def marked_keys(bare: str, gaps: frozenset[int], strict: bool, at_start: bool) -> list[str]:
    """Every marked spelling under which `_verify` can accept a term, for the automaton."""
    options: list[tuple[str, ...]] = []
    for k in range(1, len(bare)):
        a, b = bare[k - 1], bare[k]
        if word_start(a, b):
            options.append((MARK,))  # the text is marked here whatever its spacing
        elif strict:
            options.append((MARK,) if k in gaps else ("",))
        elif _is_alnum_other(a) and _is_alnum_other(b):
            options.append((MARK,) if k in gaps else ("",))  # Latin words keep their spaces
        elif k in gaps:
            options.append(("", MARK))
        else:
            options.append(("", "+") if at_start else ("",))  # "+": a space the term lacks
    out: list[str] = []
    _expand(bare, options, 0, [], [0], out)
    prefix = MARK if at_start else ""
    return [prefix + key for key in out]


def _expand(
    bare: str,
    options: Sequence[tuple[str, ...]],
    k: int,
    chosen: list[str],
    cuts: list[int],
    out: list[str],
) -> None:
    """Depth-first product of the boundary options, pruned by the bridging rules."""
    if k == len(options):
        if len(cuts) > 1 and len(bare) - cuts[-1] < 2:
            return
        pieces = [bare[0]]
        for i, sep in enumerate(chosen):
            pieces += (MARK if sep == "+" else sep, bare[i + 1])
        out.append("".join(pieces))
        return
    for sep in options[k]:
        if sep == "+":
            if len(cuts) > _MAX_BRIDGES or k + 1 - cuts[-1] < 2:
                continue
            _expand(bare, options, k + 1, [*chosen, sep], [*cuts, k + 1], out)
        else:
            _expand(bare, options, k + 1, [*chosen, sep], cuts, out)


# ---------------------------------------------------------------------------
# Compilation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CAtom:
    """A compiled leaf shared by every rule that writes the same thing the same way."""

    kind: str  # term | phrase | regex | source | url
    text: str  # as written
    fields: tuple[str, ...]
    particles: bool
    short_forms: bool


@dataclass(frozen=True, slots=True)
class _Probe:
    """One string the automaton looks for, and which atom it stands for."""

    atom: int
    key: str  # folded, without spaces (the automaton gets its marked spellings)
    gaps: frozenset[int]  # where the written form had spaces
    strict: bool  # phrases: spacing must be exactly as written
    via: str  # "" for the term itself, else how it was derived (synonym ...)
    inner_ok: bool = False  # starts with 3+ Hangul syllables: may match inside a compound
    short_last: str = ""  # short-form probe: key is the head, this the final syllable


@dataclass(frozen=True, slots=True)
class _CRule:
    """A rule with its tree rewritten over compiled atom ids."""

    rule: Rule
    root: CNode
    positives: tuple[int, ...]  # atom ids in query order, deduplicated
    triggers: frozenset[int] | None  # one of these must hit; None: always evaluate
    slow: tuple[int, ...]  # regex, source: and url: atoms, looked up per article


@dataclass(frozen=True, slots=True)
class CAnd:
    """All children hold."""

    children: tuple[CNode, ...]


@dataclass(frozen=True, slots=True)
class COr:
    """One child holds."""

    children: tuple[CNode, ...]


@dataclass(frozen=True, slots=True)
class CNot:
    """The child does not hold."""

    child: CNode


CNode = int | CAnd | COr | CNot


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a rule matched an article or not, as lines a person reads."""

    matched: bool
    lines: list[str] = field(default_factory=list)


_Scan = Mapping[int, list[Hit]]


class Matcher:
    """All rules compiled into one automaton; `match` costs about the same for 10 or 10,000."""

    def __init__(
        self,
        rules: Sequence[Rule],
        synonyms: Mapping[str, Sequence[str]] | None = None,
        default_synonyms: bool = True,
    ) -> None:
        self._atoms: list[_CAtom] = []
        self._atom_ids: dict[_CAtom, int] = {}
        self._probes: list[list[tuple[_Probe, int]]] = []  # per key: (probe, mark length)
        self._key_ids: dict[str, int] = {}
        self._atom_probes: dict[int, list[_Probe]] = {}  # for explain
        self._atom_keys: dict[int, list[int]] = {}  # atom id -> automaton keys that find it
        self._slow_set: set[int] = set()  # atoms the automaton cannot find (regex, source, url)
        self._rules: list[_CRule] = []
        self._by_name: dict[str, _CRule] = {}
        self._triggered: dict[int, list[int]] = {}  # atom id -> rules it may trigger alone
        self._required_by: dict[int, list[int]] = {}  # atom id -> rules that need it
        self._need: list[int] = []  # per rule: required atoms (0: uses triggers instead)
        self._always: list[int] = []  # rules that must be evaluated on every article
        self._key_atoms: list[tuple[int, ...]] = []  # per key: atoms it may find
        self._regex: dict[int, re.Pattern[str]] = {}
        self._synonyms = _synonym_table(synonyms, default_synonyms)
        for rule in rules:
            self._add_rule(rule)
        keys = list(self._key_ids)
        self._key_atoms = [tuple(dict.fromkeys(p.atom for p, _ in ps)) for ps in self._probes]
        self._automaton = ahocorasick_rs.AhoCorasick(keys) if keys else None

    # -- compilation --------------------------------------------------------

    def _add_rule(self, rule: Rule) -> None:
        """Parse a rule and register its atoms and triggers."""
        query = parse_query(rule.query)
        positives: list[int] = []
        root = self._compile_node(query.root, rule, True, positives)
        triggers = _triggers(root, self._atoms)
        slow = tuple(a for a in dict.fromkeys(_atom_ids(root)) if a in self._slow_set)
        crule = _CRule(rule, root, tuple(dict.fromkeys(positives)), triggers, slow)
        index = len(self._rules)
        self._rules.append(crule)
        self._by_name[rule.name] = crule
        # Most rules are ANDs of terms: evaluate one only when every term was seen.
        required = _required(root, self._atoms)
        self._need.append(len(required))
        if required:
            for atom_id in required:
                self._required_by.setdefault(atom_id, []).append(index)
        elif triggers is None:
            self._always.append(index)
        else:
            for atom_id in triggers:
                self._triggered.setdefault(atom_id, []).append(index)

    def _compile_node(self, node: Node, rule: Rule, positive: bool, out: list[int]) -> CNode:
        """Rewrite a query node over compiled atom ids."""
        if isinstance(node, Atom):
            atom_id = self._atom(node, rule)
            if positive:
                out.append(atom_id)
            return atom_id
        if isinstance(node, Not):
            return CNot(self._compile_node(node.child, rule, not positive, out))
        kids = tuple(self._compile_node(c, rule, positive, out) for c in node.children)
        return CAnd(kids) if isinstance(node, And) else COr(kids)

    def _atom(self, node: Atom, rule: Rule) -> int:
        """Id of the compiled atom for a leaf, creating it and its probes on first sight."""
        kind = node.kind
        if kind != "regex" and node.fields[0] in ("source", "url"):
            kind = node.fields[0]
        catom = _CAtom(kind, node.text, node.fields, rule.particles, rule.short_forms)
        if catom in self._atom_ids:
            return self._atom_ids[catom]
        atom_id = len(self._atoms)
        self._atoms.append(catom)
        self._atom_ids[catom] = atom_id
        if kind == "regex":
            self._regex[atom_id] = _user_regex(node.text)
            self._slow_set.add(atom_id)
        elif kind in ("source", "url"):
            self._slow_set.add(atom_id)
        else:
            for probe in self._probes_for(atom_id, catom):
                self._add_probe(probe)
        return atom_id

    def _probes_for(self, atom_id: int, catom: _CAtom) -> list[_Probe]:
        """The strings that find an atom: itself, and for terms its synonyms."""
        key, gaps = _squeeze(catom.text)
        if catom.kind == "phrase":
            return [_Probe(atom_id, key, gaps, True, "", _inner_ok(key))]
        probes = [_Probe(atom_id, key, gaps, False, "", _inner_ok(key))]
        for variant in self._synonyms.get(key, ()):
            vkey, vgaps = _squeeze(variant)
            if vkey != key:
                via = f"synonym {variant}"
                probes.append(_Probe(atom_id, vkey, vgaps, False, via, _inner_ok(vkey)))
        if catom.short_forms and is_short_form_candidate(key):
            probes.append(
                _Probe(atom_id, key[:-1], frozenset(), False, "short form", False, key[-1])
            )
        return probes

    def _add_probe(self, probe: _Probe) -> None:
        """Register every marked spelling of a probe as an automaton key."""
        if probe.short_last:
            keys = [MARK + probe.key]
        else:
            keys = marked_keys(probe.key, probe.gaps, probe.strict, at_start=True)
            if probe.inner_ok:  # also inside compounds, but then spaced only as written
                inner = marked_keys(probe.key, probe.gaps, probe.strict, at_start=False)
                keys = inner + [k for k in keys if k[1:] not in inner]
        self._atom_probes.setdefault(probe.atom, []).append(probe)
        for key in keys:
            key_id = self._key_ids.setdefault(key, len(self._key_ids))
            if key_id == len(self._probes):
                self._probes.append([])
            self._probes[key_id].append((probe, 1 if key.startswith(MARK) else 0))
            atom_keys = self._atom_keys.setdefault(probe.atom, [])
            if key_id not in atom_keys:
                atom_keys.append(key_id)

    # -- matching -----------------------------------------------------------

    def match(self, article: Article, source: str = "") -> list[Match]:
        """One Match per rule the article satisfies, in rule order."""
        fields = {"title": prepare("title", article.title), "body": prepare("body", article.body)}
        found = _Hits(self, fields, article, source)
        out: list[Match] = []
        for index in sorted(self._candidates(found.seen_atoms())):
            crule = self._rules[index]
            if _holds(crule, found):
                out.append(_build_match(crule, self._atoms, found, fields))
        return out

    def _candidates(self, seen: set[int]) -> set[int]:
        """Rules worth evaluating: all their required terms, or one trigger, were seen."""
        out = set(self._always)
        counts: dict[int, int] = {}
        for atom_id in seen:
            for index in self._required_by.get(atom_id, ()):
                counts[index] = counts.get(index, 0) + 1
            out.update(self._triggered.get(atom_id, ()))
        out.update(index for index, n in counts.items() if n == self._need[index])
        return out

    def _raw(self, fields: Mapping[str, _Field]) -> dict[int, list[tuple[_Field, int, int]]]:
        """Automaton hits per key over title and body, not yet verified."""
        raw: dict[int, list[tuple[_Field, int, int]]] = {}
        if self._automaton is None:
            return raw
        for f in fields.values():
            for key_id, s, e in self._automaton.find_matches_as_indexes(f.marked, overlapping=True):
                raw.setdefault(key_id, []).append((f, s, e))
        return raw

    def _verified(
        self, atom_id: int, raw: Mapping[int, list[tuple[_Field, int, int]]]
    ) -> list[Hit]:
        """The hits of one atom among the raw automaton hits."""
        catom = self._atoms[atom_id]
        hits: list[Hit] = []
        seen: set[tuple[str, int, int]] = set()
        for key_id in self._atom_keys.get(atom_id, ()):
            for f, s, e in raw.get(key_id, ()):
                if f.name not in catom.fields:
                    continue
                for probe, skip in self._probes[key_id]:
                    if probe.atom != atom_id:
                        continue
                    verdict = _verify(probe, catom, f, f.to_norm(s + skip), f.to_norm(e - 1) + 1)
                    if isinstance(verdict, str) or (f.name, *verdict) in seen:
                        continue
                    seen.add((f.name, *verdict))
                    vs, ve = verdict
                    hits.append(Hit(catom.text, f.name, vs, ve, f.norm[vs:ve]))
        return _drop_overlaps(hits)

    # -- explaining --------------------------------------------------------

    def explain(self, rule_name: str, article: Article, source: str = "") -> Explanation:
        """Why one rule matches an article or not: each term, where it was found and how."""
        crule = self._by_name.get(rule_name)
        if crule is None:
            known = ", ".join(self._by_name) or "none"
            raise ConfigError(f"no rule named {rule_name!r} (known: {known})")
        fields = {"title": prepare("title", article.title), "body": prepare("body", article.body)}
        lazy = _Hits(self, fields, article, source)
        found = {atom_id: lazy[atom_id] for atom_id in _atom_ids(crule.root)}
        matched = _holds(crule, found)
        rule = crule.rule
        lines = [
            f"rule {rule.name}: {rule.query}",
            f"options: particles {_onoff(rule.particles)}, short forms {_onoff(rule.short_forms)}"
            f", min_count {rule.min_count}, proximity "
            + (f"{rule.proximity} characters" if rule.proximity is not None else "off"),
        ]
        for atom_id, positive in _polarities(crule.root):
            lines.extend(self._explain_atom(atom_id, positive, found, fields))
        lines.append(_verdict(crule, self._atoms, found, matched))
        return Explanation(matched, lines)

    def _explain_atom(
        self, atom_id: int, positive: bool, found: _Scan, fields: Mapping[str, _Field]
    ) -> list[str]:
        """Lines for one term: its hits with the Korean rule that made each match, and misses."""
        catom = self._atoms[atom_id]
        hits = found.get(atom_id, [])
        label = ("term" if positive else "excluded") + f" {_show(catom)}"
        out = [f"{label}: " + (f"found {len(hits)} time(s)" if hits else "not found")]
        accepted: dict[tuple[str, int, int], _Probe] = {}
        misses: dict[tuple[str, int, int, str], None] = {}
        for probe in self._atom_probes.get(atom_id, []):
            for f in fields.values():
                if f.name not in catom.fields:
                    continue
                for ns, ne in _loose_spots(f, probe.key):
                    verdict = _verify(probe, catom, f, ns, ne)
                    if isinstance(verdict, str):
                        if not (probe.short_last and hits):  # failed expansions: noise
                            misses[(f.name, ns, ne, verdict)] = None
                    else:
                        accepted.setdefault((f.name, *verdict), probe)
        for h in hits:
            via = accepted.get((h.field, h.start, h.end))
            how = f": {_how(via, catom, fields[h.field], h.start, h.end)}" if via else ""
            out.append(f"  {h.field} {h.start}-{h.end} {h.text!r}{how}")
        for name, ns, ne, reason in misses:
            if any(h.field == name and h.start < ne and ns < h.end for h in hits):
                continue  # the same place counted under another spelling
            word = _word_around(fields[name].norm, ns, ne)
            out.append(f"  not counted: {name} {ns}-{ne} in {word!r}: {reason}")
        if not hits and catom.fields != TEXT_FIELDS:
            out.append(f"  (looked only in {', '.join(catom.fields)})")
        return out


class _Hits(Mapping[int, list[Hit]]):
    """Hits per atom for one article, verified the first time a rule asks for them."""

    def __init__(
        self, matcher: Matcher, fields: Mapping[str, _Field], article: Article, source: str
    ) -> None:
        self._matcher = matcher
        self._fields = fields
        self._article = article
        self._source = source
        self._raw = matcher._raw(fields)
        self._done: dict[int, list[Hit]] = {}

    def seen_atoms(self) -> set[int]:
        """Atoms with at least one unverified automaton hit."""
        atoms = self._matcher._key_atoms
        return {a for key_id in self._raw for a in atoms[key_id]}

    def __getitem__(self, atom_id: int) -> list[Hit]:
        hits = self._done.get(atom_id)
        if hits is None:
            m = self._matcher
            catom = m._atoms[atom_id]
            if catom.kind in ("regex", "source", "url"):
                regex = m._regex.get(atom_id)
                hits = _slow_hits(catom, regex, self._fields, self._article, self._source)
            else:
                hits = m._verified(atom_id, self._raw)
            self._done[atom_id] = hits
        return hits

    def __iter__(self) -> Iterator[int]:
        return iter(self._done)

    def __len__(self) -> int:
        return len(self._done)


def _required(root: CNode, atoms: Sequence[_CAtom]) -> tuple[int, ...]:
    """Automaton atoms that must all be present for the rule to hold (an AND's plain terms)."""
    children = root.children if isinstance(root, CAnd) else (root,)
    found = [c for c in children if isinstance(c, int) and atoms[c].kind in ("term", "phrase")]
    return tuple(dict.fromkeys(found))


def compile_rules(
    rules: Sequence[Rule],
    synonyms: Mapping[str, Sequence[str]] | None = None,
    default_synonyms: bool = True,
) -> Matcher:
    """Compile every rule into one Matcher; raise RuleError for the first bad query."""
    return Matcher(rules, synonyms, default_synonyms)


def _synonym_table(
    synonyms: Mapping[str, Sequence[str]] | None, default_synonyms: bool
) -> dict[str, tuple[str, ...]]:
    """Squeezed form of every group member -> all members of its groups."""
    table: dict[str, list[str]] = {}
    for key, members in merge_groups(synonyms, default_synonyms).items():
        group = list(dict.fromkeys((key, *members)))
        for member in group:
            table.setdefault(_squeeze(member)[0], []).extend(group)
    return {k: tuple(dict.fromkeys(v)) for k, v in table.items()}


def _inner_ok(key: str) -> bool:
    """Whether a key starts with 3+ Hangul syllables, long enough to match inside a compound."""
    return len(key) >= 3 and all(is_hangul(c) for c in key[:3])


def is_short_form_candidate(key: str) -> bool:
    """A single Hangul word of 3+ syllables (미래차) may stand for a longer one (미래자동차)."""
    if len(key) < 3 or not all("\uac00" <= c <= "\ud7a3" for c in key):
        return False
    # A final particle or verb ending (기업이, 이르다) would find 기업들이, 이르렀다.
    return key[-1] not in _GRAMMATICAL


# ---------------------------------------------------------------------------
# Verification of one automaton hit
# ---------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words of a data block."""
    return tuple(text.split())


# Josa and endings that attach to a noun; used to end a short form and to explain hits.
PARTICLES = frozenset(
    _words(
        """이 가 은 는 을 를 의 에 에서 에게 께 께서 한테 도 만 와 과 로 으로 랑 이랑 까지 부터
    보다 처럼 마다 조차 밖에 뿐 이나 나 이며 며 이다 다 였다 이었다 이고 고 인 일 임 이라 라
    이란 란 이라는 라는 이라고 라고 으로서 로서 으로써 로써 에는 에서는 으로는 로는 에도
    에서도 으로도 로도 과의 와의 으로의 로의 에서의 에게는 까지는 부터는 만의 만이 만을 과는
    와는 들 들이 들은 들을 들의 들과 들도 들에 들에게 들로"""
    )
)
# Nouns that name a place or body by adding one of these: 평택시, 평택항, 경찰청.
SUFFIXES = (
    "시",
    "군",
    "구",
    "도",
    "읍",
    "면",
    "동",
    "리",
    "항",
    "역",
    "청",
    "측",
    "권",
    "형",
    "용",
)
# Syllables that end words as grammar, not as nouns: never the last syllable of a short form.
_GRAMMATICAL = frozenset("이가은는을를의에도만와과로서다고며나인일임라란랑께뿐들요죠")
_SHORT_MAX_INSERT = 4  # 자율(주행자동)차: four dropped syllables is the longest common case


def _verify(probe: _Probe, catom: _CAtom, f: _Field, ns: int, ne: int) -> tuple[int, int] | str:
    """Span in norm when a hit obeys the Korean-aware rules, else the reason it does not."""
    text = f.folded
    prev = text[ns - 1] if ns else " "
    first = text[ns]
    mid_word = not word_start(prev, first) and first.isalnum()
    if mid_word and (probe.short_last or not probe.inner_ok):
        if is_hangul(first):
            return "inside a longer word (terms under three syllables must start a word)"
        return "inside a longer word"
    if probe.short_last:
        return _verify_short(probe, catom, text, ns, ne)
    nxt = text[ne] if ne < len(text) else " "
    last = text[ne - 1]
    if _is_alnum_other(last) and _is_alnum_other(nxt):
        return "inside a longer word"
    if not catom.particles and last.isalnum() and nxt.isalnum():
        return "followed by more letters (particles are off for this rule)"
    if probe.gaps or " " in text[ns:ne]:
        reason = _spacing(probe, text[ns:ne], mid_word)
        if reason:
            return reason
    return ns, ne


def _verify_short(
    probe: _Probe, catom: _CAtom, text: str, ns: int, ne: int
) -> tuple[int, int] | str:
    """미래차 as 미래자동차: head, 1-4 more syllables, the final syllable, then the word ends."""
    if " " in text[ns:ne]:
        return "short form: the head is split by a space"
    if ne < len(text) and text[ne] == probe.short_last:
        return "written in full, not a short form"
    word_end = _word_end(text, ne)
    limit = min(word_end, ne + _SHORT_MAX_INSERT + 1)
    for j in range(ne + 1, limit):
        if text[j] != probe.short_last:
            continue
        rest = text[j + 1 : word_end]
        if not rest or (catom.particles and rest in PARTICLES):
            return ns, j + 1
    return "short form: no longer word here ends with " + probe.short_last


def _drop_overlaps(hits: list[Hit]) -> list[Hit]:
    """One hit per place: 평택 and 평택시 at the same spot count once (the longer is kept)."""
    if len(hits) < 2:
        return hits
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (_FIELD_ORDER[h.field], h.start, h.start - h.end)):
        if kept and kept[-1].field == hit.field and hit.start < kept[-1].end:
            continue
        kept.append(hit)
    return kept


def _word_end(text: str, i: int) -> int:
    """Index just past the run of Hangul starting at i."""
    n = len(text)
    while i < n and is_hangul(text[i]):
        i += 1
    return i


def describe_continuation(rest: str) -> str:
    """Name what follows a term inside its word: particle 에서, suffix 시 + particle 는, ..."""
    if not rest:
        return ""
    if rest in PARTICLES:
        return f"particle {rest}"
    for suffix in SUFFIXES:
        if rest == suffix:
            return f"suffix {suffix}"
        if rest.startswith(suffix) and rest[len(suffix) :] in PARTICLES:
            return f"suffix {suffix} + particle {rest[len(suffix) :]}"
    return f"longer word (+{rest})"


def _spacing(probe: _Probe, span: str, mid_word: bool) -> str:
    """Why the spaces inside a hit differ unacceptably from the written term ('' if fine)."""
    squeezed = span.replace(" ", "")
    present: set[int] = set()
    for piece in span.split(" ")[:-1]:
        present.add((max(present) if present else 0) + len(piece))
    bridged = sorted(present - probe.gaps)
    for k in present ^ probe.gaps:
        if probe.strict:
            return "spacing differs from the exact phrase"
        if _is_alnum_other(squeezed[k - 1]) and _is_alnum_other(squeezed[k]):
            return "spacing splits a Latin word"
    if not bridged:
        return ""
    if mid_word:
        return "spacing ignored only for a term that starts a word"
    if len(bridged) > _MAX_BRIDGES:
        return f"spacing ignored for at most {_MAX_BRIDGES} spaces"
    # One-syllable pieces are usually words of their own: 이사회 is not "이 사회" (this society).
    cuts = [0, *bridged, len(squeezed)]
    if any(b - a < 2 for a, b in pairwise(cuts)):
        return "spacing ignored only between pieces of two or more syllables"
    return ""


def _slow_hits(
    catom: _CAtom,
    pattern: re.Pattern[str] | None,
    fields: Mapping[str, _Field],
    article: Article,
    source: str,
) -> list[Hit]:
    """Hits of a regex, source: or url: atom."""
    if catom.kind == "source":
        name = fold(normalize(source))
        return (
            [Hit(catom.text, "source", 0, len(source), source)]
            if name == fold(normalize(catom.text)) and name
            else []
        )
    if catom.kind == "url":
        idx = article.url.lower().find(fold(normalize(catom.text)))
        if idx < 0:
            return []
        end = idx + len(normalize(catom.text))
        return [Hit(catom.text, "url", idx, end, article.url[idx:end])]
    assert pattern is not None
    hits: list[Hit] = []
    for name in catom.fields:
        if name in fields:
            text = fields[name].norm
        elif name == "url":
            text = article.url
        else:
            text = source
        for m in pattern.finditer(text):
            if m.end() > m.start():
                hits.append(Hit(catom.text, name, m.start(), m.end(), m.group(0)))
    return hits


# ---------------------------------------------------------------------------
# Rule evaluation
# ---------------------------------------------------------------------------


def _atom_ids(node: CNode) -> list[int]:
    """Every atom id under a node."""
    if isinstance(node, int):
        return [node]
    if isinstance(node, CNot):
        return _atom_ids(node.child)
    return [a for child in node.children for a in _atom_ids(child)]


def _triggers(node: CNode, atoms: Sequence[_CAtom]) -> frozenset[int] | None:
    """Atoms of which at least one must be found for the node to hold (None: unknown)."""
    if isinstance(node, int):
        return frozenset([node]) if atoms[node].kind in ("term", "phrase") else None
    if isinstance(node, CNot):
        return None
    if isinstance(node, COr):
        union: set[int] = set()
        for child in node.children:
            sub = _triggers(child, atoms)
            if sub is None:
                return None
            union |= sub
        return frozenset(union)
    best: frozenset[int] | None = None
    for child in node.children:
        sub = _triggers(child, atoms)
        if sub is not None and (best is None or len(sub) < len(best)):
            best = sub
    return best


def _holds(crule: _CRule, found: _Scan) -> bool:
    """Whether the rule's tree holds given the hits found (counts, then proximity)."""
    if not _eval(crule.root, found, crule.rule.min_count, False):
        return False
    if crule.rule.proximity is None:
        return True
    return _within(crule, found, crule.rule.proximity)


def _within(crule: _CRule, found: _Scan, width: int) -> bool:
    """Whether some window of `width` characters in one field holds the positive hits needed."""
    everything = {atom_id: found.get(atom_id, []) for atom_id in _atom_ids(crule.root)}
    for name in TEXT_FIELDS:
        spots = sorted(
            (h.start, h.end, atom_id)
            for atom_id in crule.positives
            for h in everything[atom_id]
            if h.field == name
        )
        for i, (start, _end, _atom) in enumerate(spots):
            window: dict[int, list[Hit]] = {}
            for s2, e2, atom_id in spots[i:]:
                if s2 >= start + width:
                    break
                if e2 <= start + width:
                    window.setdefault(atom_id, []).append(Hit("", name, s2, e2, ""))
            view = dict(everything)
            for atom_id in crule.positives:
                # Hits outside title and body (source:, url:) have no position: keep them.
                view[atom_id] = window.get(atom_id, []) + [
                    h for h in everything[atom_id] if h.field not in TEXT_FIELDS
                ]
            if _eval(crule.root, view, 1, False):
                return True
    return False


def _eval(node: CNode, found: _Scan, min_count: int, negated: bool) -> bool:
    """Evaluate a compiled tree; under an exclusion one occurrence is enough."""
    if isinstance(node, int):
        need = 1 if negated else min_count
        return len(found.get(node, ())) >= need
    if isinstance(node, CNot):
        return not _eval(node.child, found, min_count, not negated)
    if isinstance(node, CAnd):
        return all(_eval(c, found, min_count, negated) for c in node.children)
    return any(_eval(c, found, min_count, negated) for c in node.children)


# ---------------------------------------------------------------------------
# Building the Match: hits, snippet, highlights
# ---------------------------------------------------------------------------

_FIELD_ORDER = {"title": 0, "body": 1, "source": 2, "url": 3}


def _build_match(
    crule: _CRule, atoms: Sequence[_CAtom], found: _Scan, fields: Mapping[str, _Field]
) -> Match:
    """The Match for a rule that holds: its positive hits, a snippet and highlights."""
    hits: list[Hit] = []
    terms: list[str] = []
    for atom_id in crule.positives:
        atom_hits = found.get(atom_id, [])
        if atom_hits:
            if atoms[atom_id].text not in terms:
                terms.append(atoms[atom_id].text)
            hits.extend(atom_hits)
    hits.sort(key=lambda h: (_FIELD_ORDER[h.field], h.start, h.end))
    unique = tuple(dict.fromkeys(hits))
    snippet, highlights = make_snippet(unique, fields["title"].norm, fields["body"].norm)
    return Match(crule.rule.name, tuple(terms), unique, snippet, highlights)


def make_snippet(
    hits: Sequence[Hit], title: str, body: str, width: int = _SNIPPET
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About `width` characters of body around the first body hit (else the title)."""
    body_hits = [h for h in hits if h.field == "body"]
    if not body_hits:
        spans = [(h.start, h.end) for h in hits if h.field == "title"]
        text, start, end = _window(title, 0, width)
        return _cut(text, start, end, spans)
    first = body_hits[0]
    # Put the first hit about a third of the way in: some context before, more after.
    start = max(0, first.start - width // 3)
    text, start, end = _window(body, start, width)
    return _cut(text, start, end, [(h.start, h.end) for h in body_hits])


def _window(text: str, start: int, width: int) -> tuple[str, int, int]:
    """Widen [start, start+width) to whole words, trimming at most 20 characters each side."""
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, start + 20)
        if space >= 0:
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", max(start, end - 20), end)
        if space > start:
            end = space
    return text, start, end


def _cut(
    text: str, start: int, end: int, spans: Sequence[tuple[int, int]]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Slice text[start:end] with ellipses and move spans into snippet coordinates."""
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    snippet = prefix + text[start:end] + suffix
    shift = len(prefix) - start
    out = []
    for s, e in spans:
        if s >= start and e <= end:
            out.append((s + shift, e + shift))
    return snippet, tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------
# Explanation: formatting what verification found
# ---------------------------------------------------------------------------


def _onoff(flag: bool) -> str:
    """'on' or 'off'."""
    return "on" if flag else "off"


def _show(catom: _CAtom) -> str:
    """A term as the query wrote it, with its quotes, slashes or field prefix."""
    text = {"phrase": f'"{catom.text}"', "regex": f"/{catom.text}/"}.get(catom.kind, catom.text)
    if catom.fields != TEXT_FIELDS:
        text = f"{catom.fields[0]}:{text}"
    return text


def _polarities(node: CNode, positive: bool = True) -> list[tuple[int, bool]]:
    """Distinct atom ids in query order with whether each must match (True) or exclude."""
    if isinstance(node, int):
        return [(node, positive)]
    if isinstance(node, CNot):
        return _polarities(node.child, not positive)
    out: list[tuple[int, bool]] = []
    for child in node.children:
        for item in _polarities(child, positive):
            if item not in out:
                out.append(item)
    return out


def _word_around(text: str, start: int, end: int) -> str:
    """The space-delimited word (or words) covering [start, end)."""
    left = text.rfind(" ", 0, start) + 1
    right = text.find(" ", end)
    return text[left : right if right >= 0 else len(text)]


def _loose_spots(f: _Field, key: str) -> list[tuple[int, int]]:
    """Every place `key` occurs in a field when spaces are ignored, as norm spans."""
    squeezed = f.folded.replace(" ", "")
    gaps = [pos - k for k, pos in enumerate(i for i, c in enumerate(f.folded) if c == " ")]
    spots = []
    i = squeezed.find(key)
    while i >= 0 and key:
        end = i + len(key) - 1
        spots.append((i + bisect_right(gaps, i), end + bisect_right(gaps, end) + 1))
        i = squeezed.find(key, i + 1)
    return spots


def _how(probe: _Probe, catom: _CAtom, f: _Field, start: int, end: int) -> str:
    """Which Korean-aware rule made an accepted hit match."""
    notes: list[str] = []
    if probe.short_last:
        notes.append(f"short form ({catom.text} for {f.norm[start:end]})")
    elif probe.via:
        notes.append(probe.via)
    if start > 0 and is_hangul(f.folded[start - 1]) and is_hangul(f.folded[start]):
        notes.append(f"inside the compound {_word_around(f.norm, start, end)!r}")
    found_text = f.norm[start:end]
    if not probe.short_last and found_text.count(" ") != len(probe.gaps):
        notes.append("spacing ignored")
    rest = f.folded[end : _word_end(f.folded, end)] if is_hangul(f.folded[end - 1]) else ""
    if rest:
        notes.append(describe_continuation(rest))
    if not notes and fold(found_text) != found_text:
        notes.append("case ignored")
    return ", ".join(notes) or "as written"


def _verdict(crule: _CRule, atoms: Sequence[_CAtom], found: _Scan, matched: bool) -> str:
    """The last line of an explanation: matched, or the first reason it did not."""
    if matched:
        return "MATCHED"
    polar = _polarities(crule.root)
    excluded = [a for a, positive in polar if not positive and found.get(a)]
    without_exclusions = {k: v for k, v in found.items() if k not in excluded}
    if excluded and _eval(crule.root, without_exclusions, crule.rule.min_count, False):
        names = ", ".join(_show(atoms[a]) for a in excluded)
        return f"NOT MATCHED: excluded by {names}"
    if _eval(crule.root, found, 1, False) and crule.rule.min_count > 1:
        short = [
            f"{_show(atoms[a])} ({len(found[a])})"
            for a, positive in polar
            if positive and 0 < len(found.get(a, ())) < crule.rule.min_count
        ]
        return f"NOT MATCHED: fewer than {crule.rule.min_count} occurrences of " + ", ".join(short)
    if _eval(crule.root, found, crule.rule.min_count, False):
        return f"NOT MATCHED: the terms are not within {crule.rule.proximity} characters"
    missing = [a for a, positive in polar if positive and not found.get(a)]
    return "NOT MATCHED: not found: " + ", ".join(_show(atoms[a]) for a in missing)
