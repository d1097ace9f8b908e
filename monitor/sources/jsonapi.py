"""A generic JSON endpoint: a dotted path to the list of items, and a path to each field.

    items = "data.items"
    fields = {url = "link", title = "headline", published_at = "date"}

A path is keys joined by dots, with numbers for list positions (``data.0.items``); an empty
``items`` means the answer is the list itself. A field given as a template with ``{path}``
placeholders builds the value (``url = "/news/articleView.html?idxno={id}"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from monitor.errors import SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import Kind, check_int, clean_text, parse_when
from monitor.text import decode

DEFAULT_MAX_ITEMS = 100
FIELDS = ("url", "title", "published_at", "summary", "author")
_MISSING = object()
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# Keys an API uses to explain a refusal in its body.
_ERROR_KEYS = ("error", "errors", "message", "errorMessage", "error_message", "msg", "detail")


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (keys, and numbers for list positions), or _MISSING."""
    cur = data
    for part in path.split(".") if path else []:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _value(item: Any, spec: str) -> Any:
    """A field of one item: a path, or a template of paths."""
    if "{" not in spec:
        return dig(item, spec)
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        value = dig(item, m.group(1).strip())
        if value is _MISSING or value is None or isinstance(value, dict | list):
            missing = True
            return ""
        return str(value)

    text = _PLACEHOLDER.sub(fill, spec)
    return _MISSING if missing else text


def _what_it_holds(data: Any) -> str:
    """A short description of an answer, for an error that must say what came instead."""
    if isinstance(data, dict):
        said = [f"{k}: {str(data[k])[:120]}" for k in _ERROR_KEYS if data.get(k)]
        keys = ", ".join(list(data)[:12]) or "none"
        return f"it has keys {keys}" + (f" ({'; '.join(said)})" if said else "")
    return f"it is a {type(data).__name__}"


class JsonSource(Kind):
    """An API-driven list of articles."""

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """`items` is a path; `fields` maps known field names to paths and includes url."""
        problems: list[tuple[str, str]] = []
        items = settings.get("items", "")
        if not isinstance(items, str):
            problems.append(("items", f"expected a dotted path like 'data.items', got {items!r}"))
        fields = settings.get("fields")
        if not isinstance(fields, dict):
            problems.append(("fields", 'required: a table like {url = "link", title = "title"}'))
            return problems
        for name, spec in fields.items():
            if name not in FIELDS:
                problems.append((f"fields.{name}", f"unknown field (allowed: {', '.join(FIELDS)})"))
            elif not isinstance(spec, str) or not spec.strip():
                problems.append((f"fields.{name}", f"expected a path like 'link', got {spec!r}"))
        if "url" not in fields:
            problems.append(("fields.url", "required: the path to each item's article URL"))
        return problems + check_int(settings, "max_items", 1)

    def parse(self, source: Source, page: Page) -> list[Link]:
        """The items at `items`, each read through `fields`."""
        s = source.settings
        text, _codec = decode(page.body, page.content_type)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        path = str(s.get("items", ""))
        items = dig(data, path)
        if items is _MISSING:
            raise SourceError(f"items = {path!r} is not in the answer: {_what_it_holds(data)}")
        if not isinstance(items, list):
            raise SourceError(f"items = {path!r} leads to a {type(items).__name__}, not a list")
        fields: dict[str, str] = dict(s.get("fields") or {})
        limit = int(s.get("max_items", DEFAULT_MAX_ITEMS))
        out: list[Link] = []
        seen: set[str] = set()
        for item in items:
            raw = _value(item, fields["url"])
            if raw is _MISSING or not isinstance(raw, str | int) or not str(raw).strip():
                continue
            url = urljoin(page.url, str(raw).strip()).split("#", 1)[0]
            if not url.startswith(("http://", "https://")) or url in seen:
                continue
            seen.add(url)
            got = {name: _value(item, spec) for name, spec in fields.items() if name != "url"}
            title = got.get("title")
            author = got.get("author")
            summary = got.get("summary")
            out.append(
                Link(
                    url=url,
                    title=clean_text(title) or None if isinstance(title, str) else None,
                    published_at=parse_when(got.get("published_at")),
                    summary=summary if isinstance(summary, str) and summary.strip() else None,
                    author=clean_text(author) or None if isinstance(author, str) else None,
                )
            )
            if len(out) >= limit:
                break
        if items and not out:
            raise SourceError(
                f"fields.url = {fields['url']!r} gave no URL in any of the {len(items)} items"
            )
        return out
