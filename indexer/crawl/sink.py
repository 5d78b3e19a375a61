"""Where a crawl's pages go, as scrapy's item pipelines are where its items go: the crawler
fetches, extracts and decides; a sink remembers what each page was the last time, stores the
articles, keeps each site's template and records every page and every run. `ArchiveSink` is the
SQLite archive's; the crawler holds no connection of its own."""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Protocol

from indexer import store
from indexer.models import Article
from indexer.template import SiteTemplate

if TYPE_CHECKING:
    from indexer.crawl.crawler import CrawlReport
    from indexer.crawl.fetch import Response


class Sink(Protocol):
    def last_seen(self, url: str) -> sqlite3.Row | None: ...
    def record(self, url: str, source: str, status: str, reason: str | None = None, response: Response | None = None,
               content_hash: str | None = None, article_url: str | None = None) -> None: ...
    def store(self, article: Article, province: str | None) -> str: ...
    def template(self, source: str) -> SiteTemplate | None: ...
    def save_template(self, source: str, template: SiteTemplate) -> None: ...
    def begin(self, source: str, title: str | None) -> None: ...
    def finish(self, source: str, started: str, report: CrawlReport) -> None: ...


class ArchiveSink:
    """The archive as a crawl's sink: articles chunked into passages of `chunk_words` words."""

    def __init__(self, conn: sqlite3.Connection, chunk_words: int = 180, chunk_overlap: int = 30) -> None:
        self.conn, self.chunk_words, self.chunk_overlap = conn, chunk_words, chunk_overlap

    def last_seen(self, url: str) -> sqlite3.Row | None:
        """What the page was the last time: its status, validators and content hash."""
        return store.crawl_page(self.conn, url)

    def record(self, url: str, source: str, status: str, reason: str | None = None, response: Response | None = None,
               content_hash: str | None = None, article_url: str | None = None) -> None:
        """What became of a page, with its validators for the next conditional request."""
        headers = response.headers if response else {}
        store.record_crawl_page(self.conn, url, source, status, reason, headers.get("etag"),
                                headers.get("last-modified"), content_hash, article_url)

    def store(self, article: Article, province: str | None) -> str:
        """Store an article; its status ("new", "updated", "unchanged"). ForeignArticle refuses it."""
        return store.upsert_article(self.conn, article, self.chunk_words, self.chunk_overlap, province)[1]

    def template(self, source: str) -> SiteTemplate | None:
        saved = store.source_template(self.conn, source)
        return SiteTemplate.from_dict(saved) if saved else None

    def save_template(self, source: str, template: SiteTemplate) -> None:
        store.save_source_template(self.conn, source, template.as_dict())

    def begin(self, source: str, title: str | None) -> None:
        """A source's crawl begins: its configured title is its name from now on."""
        store.set_source_title(self.conn, source, title, configured=True)

    def finish(self, source: str, started: str, report: CrawlReport) -> None:
        """A source's crawl ended: the report learns which months and days the archive covers, and
        the run is recorded."""
        report.cover(store.source_months(self.conn, source), store.source_days(self.conn, source))
        store.record_crawl_run(self.conn, source, started, report.as_dict())
