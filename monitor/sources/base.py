"""The one-method interface every source kind implements."""

from __future__ import annotations

from typing import Protocol

from monitor.models import Link, Page, Source


class SourceKind(Protocol):
    """Reads a source's fetched listing (feed, list page, sitemap...) into article links."""

    def listing_url(self, source: Source) -> str:
        """The URL to fetch for this source's listing."""
        ...

    def links(self, source: Source, page: Page) -> list[Link]:
        """The article links the listing holds, newest first where the listing says."""
        ...
