"""The Naver News Search API (/v1/search/news.json): newest results for a query, credentials
from the environment, every call counted against the application's daily quota."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from monitor.errors import FetchError, SourceError
from monitor.models import Link, Page, Source
from monitor.sources.base import (
    Kind,
    Listing,
    Poll,
    Quota,
    Request,
    check_env_name,
    check_int,
    clean_text,
    cursor_of,
    cursor_time,
    parse_when,
    secret,
)

API_URL = "https://openapi.naver.com/v1/search/news.json"
DAILY_QUOTA = 25_000  # calls a day per application, for all of its search APIs together
MAX_DISPLAY = 100  # results per call
MAX_START = 1000  # the API reads no further into the results
DEFAULT_MAX_PAGES = 3  # calls per poll when every result is newer than the last poll's
log = logging.getLogger("monitor.sources")


def quota_of(source: Source) -> Quota:
    """The daily budget a Naver source spends: one per client id variable."""
    per_day = int(source.settings.get("daily_quota", DAILY_QUOTA))
    return Quota(f"naver:{source.settings.get('client_id_env', '')}", per_day)


def _hints(source: Source) -> dict[int, str]:
    """What the API's error statuses mean, naming the settings to look at."""
    s = source.settings
    names = f"${s.get('client_id_env')} / ${s.get('client_secret_env')}"
    return {
        400: "the Naver API refused the request (check query and display)",
        401: f"Naver API authentication failed: check the client id and secret in {names} "
        "and that the application has the search API",
        403: "the Naver API refused the call: this application may not use the search API",
        429: "the Naver API limit is reached (the daily quota, or calls too close together)",
    }


class NaverSource(Kind):
    """Naver News search results, newest first."""

    any_site = True  # results come from every publisher

    def check(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """query, the two credential variables, display, daily_quota and max_pages."""
        problems: list[tuple[str, str]] = []
        query = settings.get("query")
        if not isinstance(query, str) or not query.strip():
            problems.append(("query", f"required: the search words, got {query!r}"))
        problems += check_env_name(settings, "client_id_env")
        problems += check_env_name(settings, "client_secret_env")
        problems += check_int(settings, "display", 1, MAX_DISPLAY)
        problems += check_int(settings, "daily_quota", 1)
        problems += check_int(settings, "max_pages", 1, MAX_START // MAX_DISPLAY)
        return problems

    def request(self, source: Source, start: int = 1) -> Request:
        """One page of results, newest first, with the credentials from the environment."""
        s = source.settings
        headers = {
            "X-Naver-Client-Id": secret(source, "client_id_env"),
            "X-Naver-Client-Secret": secret(source, "client_secret_env"),
            "Accept": "application/json",
        }
        params = urlencode(
            {
                "query": s.get("query", ""),
                "display": int(s.get("display", MAX_DISPLAY)),
                "start": start,
                "sort": "date",
            }
        )
        base = source.url or API_URL
        url = f"{base}{'&' if '?' in base else '?'}{params}"
        # conditional=False: each answer carries a fresh lastBuildDate, so bytes never repeat.
        return Request(
            url, headers, quota_of(source), conditional=False, hints=_hints(source), robots=False
        )

    async def links(self, source: Source, page: Page, poll: Poll) -> Listing:
        """Results of the first page, and of later ones while every result is new."""
        display = int(source.settings.get("display", MAX_DISPLAY))
        max_pages = int(source.settings.get("max_pages", DEFAULT_MAX_PAGES))
        since = cursor_time(poll.cursor)
        links = self.parse(source, page)
        start, pages = 1, 1
        last = links
        # Catch up after a busy spell: a full page newer than the last poll's newest result
        # means more may follow. The first poll takes one page and does not dig into the past.
        while (
            since is not None
            and pages < max_pages
            and len(last) >= display
            and all(link.published_at and link.published_at > since for link in last)
            and start + display <= MAX_START
        ):
            start += display
            pages += 1
            try:
                last = self.parse(source, await poll.get(self.request(source, start)))
            except (FetchError, SourceError) as exc:
                # The first page was read: keep it; the cursor stays, so the gap is read later.
                problem = f"results from {start}: {exc}"
                log.warning("%s", problem)
                return Listing(links, problems=(problem,))
            links.extend(last)
        return Listing(links, cursor_of([link.published_at for link in links], poll.cursor))

    def parse(self, source: Source, page: Page) -> list[Link]:
        """One page of API results as links to the publishers' articles."""
        try:
            data = json.loads(page.body.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            raise SourceError(f"the Naver API answered with something not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SourceError("the Naver API answered with JSON that is not an object")
        if "errorCode" in data or "errorMessage" in data:
            raise SourceError(
                f"Naver API error {data.get('errorCode', '?')}: {data.get('errorMessage', '')}"
            )
        items = data.get("items")
        if not isinstance(items, list):
            raise SourceError("the Naver API answer has no 'items' list")
        links: list[Link] = []
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, dict):
                continue
            original = str(item.get("originallink") or "").strip()
            naver = str(item.get("link") or "").strip()
            # The publisher's page is the article; Naver's copy only when there is no other.
            url = original if original.startswith(("http://", "https://")) else naver
            if not url.startswith(("http://", "https://")) or url in seen:
                continue
            seen.add(url)
            links.append(
                Link(
                    url=url,
                    title=clean_text(str(item.get("title") or "")) or None,
                    published_at=parse_when(item.get("pubDate")),
                    guid=naver or None,
                    # Kept as the API sends it (<b> marks, entities): read as HTML when it is
                    # the article's body of last resort.
                    summary=str(item.get("description") or "") or None,
                )
            )
        return links
