"""Export rows as NDJSON, CSV or JSON, with timestamps in the user's time zone (pure)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

FORMATS = ("ndjson", "csv", "json")
FIELDS = (
    "id",
    "url",
    "canonical_url",
    "source",
    "title",
    "published_at",
    "author",
    "body",
    "content_hash",
    "story_id",
    "rules",
    "first_seen_at",
    "fetched_at",
)
_TIMES = ("published_at", "first_seen_at", "fetched_at")


def to_local(value: str | None, tz: ZoneInfo) -> str | None:
    """A stored UTC timestamp as ISO 8601 with the user's offset (+09:00 for Asia/Seoul)."""
    return datetime.fromisoformat(value).astimezone(tz).isoformat() if value else value


def localize(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """An export row with only the export fields, its times in the user's zone."""
    out = {k: row.get(k) for k in FIELDS}
    for key in _TIMES:
        out[key] = to_local(out[key], tz)
    return out


def render(rows: Iterable[dict[str, Any]], fmt: str, tz: ZoneInfo) -> Iterator[str]:
    """Yield the export text chunk by chunk, so large stores stream."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    local = (localize(r, tz) for r in rows)
    if fmt == "ndjson":
        for r in local:
            yield json.dumps(r, ensure_ascii=False) + "\n"
    elif fmt == "json":
        yield "["
        for i, r in enumerate(local):
            yield ("," if i else "") + "\n  " + json.dumps(r, ensure_ascii=False)
        yield "\n]\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in local:
            r["rules"] = ";".join(r["rules"] or [])
            writer.writerow(r)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()
