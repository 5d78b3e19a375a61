"""The crawl of one source: discover its articles, fetch the new and changed ones, store them, report.

Every page ends with a recorded outcome and reason (crawl_pages); a page that fails never stops
the crawl nor touches stored articles. Each crawl ends with a completeness report per source
(crawl_runs): listing pages visited, articles found, stored and failed, the dates covered and the
months without an article, so a newsroom sees at once when something is being missed.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from indexer import models, store
from indexer.crawl.discover import Listing, absolute, feed_pages, page_links
from indexer.crawl.fetch import HTML_TYPES, Fetcher, FetchError, NotHTML, Response, RobotsDisallowed
from indexer.crawl.sources import Source, normalize_url
from indexer.decode import DecodeError
from indexer.extract import ExtractionError
from indexer.page import html_to_article, page_text


@dataclass
class CrawlReport:
    """Counts and failures of one crawl of one source, and how complete its archive looks."""

    source: str
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)  # failed pages by kind (the problem's class)
    source_failed: str | None = None  # the reason, when nothing of the source could be read
    listings_visited: int = 0
    listings_left: int = 0            # pagination not followed: the source's max_pages was reached
    listings_repeated: int = 0        # listing pages that listed exactly what another one did
    feeds_read: int = 0
    articles_found: int = 0
    oldest: str | None = None         # publication days of everything stored for the source
    newest: str | None = None
    empty_months: list[str] = field(default_factory=list)

    def replaced(self, bad_bytes: int) -> None:
        """Count a page read with this many bad bytes replaced (none: nothing to count)."""
        if bad_bytes:
            self.counts["pages_with_bad_bytes"] += 1
            self.counts["bad_bytes_replaced"] += bad_bytes

    def summary(self) -> str:
        keys = ("fetched", "new", "updated", "unchanged", "not_modified", "skipped_robots", "failed")
        text = f"{self.source}: " + ", ".join(f"{k.replace('_', ' ')} {self.counts[k]}" for k in keys)
        return text + (f" — SOURCE FAILED: {self.source_failed}" if self.source_failed else "")

    def completeness(self) -> str:
        """The report a newsroom reads after a crawl: what was found, kept, lost, and the gaps."""
        counts = self.counts
        stored = counts["new"] + counts["updated"] + counts["unchanged"] + counts["not_modified"]
        left = f" (stopped at max_pages: {self.listings_left} more not followed)" if self.listings_left else ""
        robots = f", skipped by robots.txt {counts['skipped_robots']}" if counts["skipped_robots"] else ""
        repeated = f" ({self.listings_repeated} repeating another)" if self.listings_repeated else ""
        lines = [f"  listing pages visited {self.listings_visited}{repeated}{left}, "
                 f"feeds and sitemaps read {self.feeds_read}",
                 f"  articles found {self.articles_found}, stored or current {stored}, "
                 f"failed {counts['failed']}{robots}"]
        if counts["pages_with_bad_bytes"]:
            lines.append(f"  read with bad bytes replaced: {counts['pages_with_bad_bytes']} pages, "
                         f"{counts['bad_bytes_replaced']} bytes in all")
        if self.refusals:
            lines.append("  failures: " + ", ".join(f"{kind} {n}" for kind, n in self.refusals.most_common()))
        if self.oldest:
            lines.append(f"  published {self.oldest} … {self.newest}")
        if self.empty_months:
            shown = ", ".join(self.empty_months[:12]) + (" …" if len(self.empty_months) > 12 else "")
            lines.append(f"  MONTHS WITHOUT AN ARTICLE ({len(self.empty_months)}): {shown}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"counts": dict(self.counts), "refusals": dict(self.refusals),
                "failures": [list(f) for f in self.failures[:200]],
                "source_failed": self.source_failed, "listings_visited": self.listings_visited,
                "listings_left": self.listings_left, "listings_repeated": self.listings_repeated,
                "feeds_read": self.feeds_read,
                "articles_found": self.articles_found, "oldest": self.oldest, "newest": self.newest,
                "empty_months": self.empty_months}

    def cover(self, months: dict[str, int], days: tuple[str | None, str | None]) -> None:
        """Dates covered and the months between the first and last with no article."""
        self.oldest, self.newest = days
        if not months:
            return
        first, last = min(months), max(months)
        year, month = int(first[:4]), int(first[5:7])
        while f"{year:04d}-{month:02d}" <= last:
            key = f"{year:04d}-{month:02d}"
            if not months.get(key):
                self.empty_months.append(key)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _replaced_reason(bad_bytes: int) -> str | None:
    return f"decoded with {bad_bytes} bad bytes replaced" if bad_bytes else None


class Crawler:
    def __init__(self, conn: sqlite3.Connection, fetcher: Fetcher, chunk_words: int = 180, chunk_overlap: int = 30,
                 default_tz: str = "Asia/Ho_Chi_Minh", progress: bool = False):
        self.conn, self.fetcher = conn, fetcher
        self.chunk_words, self.chunk_overlap, self.default_tz, self.progress = \
            chunk_words, chunk_overlap, default_tz, progress

    def _record(self, url: str, source: str, status: str, reason: str | None = None,
                response: Response | None = None, content_hash: str | None = None,
                article_url: str | None = None) -> None:
        headers = response.headers if response else {}
        store.record_crawl_page(self.conn, url, source, status, reason, headers.get("etag"),
                                headers.get("last-modified"), content_hash, article_url)

    def _fail(self, report: CrawlReport, url: str, source: str, problem: Exception, reason: str | None = None) -> None:
        """Record a page that was not stored: its reason (`reason`, else the problem's message), and
        its kind, the problem's class, counted in the report (robots.txt's refusals apart)."""
        reason = reason or str(problem)
        if isinstance(problem, RobotsDisallowed):
            report.counts["skipped_robots"] += 1
            self._record(url, source, "robots", reason)
        else:
            report.counts["failed"] += 1
            report.refusals[type(problem).__name__] += 1
            report.failures.append((url, reason))
            self._record(url, source, "failed", reason)

    # --- discovery --------------------------------------------------------------------
    def discover(self, source: Source, report: CrawlReport, max_pages: int) -> list[str]:
        """Article URLs from listing pages (following pagination), sitemaps (the source's and those
        robots.txt names, and the sitemaps an index names) and feeds (the source's and those listing
        pages advertise). At most `max_pages` listing pages, sitemaps and feeds together are read: a
        trap (a calendar, endless pages, a sitemap index of sitemap indexes) stops there."""
        articles: dict[str, None] = {}
        queue = deque(Listing(normalize_url(u, source.base_url)) for u in source.start_urls)
        seen: set[str] = set()
        listing_urls: set[str] = set()
        pages_seen: set[frozenset[str]] = set()
        feeds = [normalize_url(f, source.base_url) for f in (source.sitemap, source.rss) if f]
        feeds += [u for u in self.fetcher.robots(source.base_url).sitemaps() if source.same_site(u)]
        budget = max_pages
        while queue:
            listing = queue.popleft()
            if listing.key in seen:
                continue
            if budget <= 0:
                report.listings_left = len({item.key for item in queue if item.key not in seen}) + 1
                break
            budget -= 1
            seen.add(listing.key)
            listing_urls.add(listing.url)
            html = self._listing(listing, source, report)
            if html is None:
                continue
            links = page_links(html, listing.url, source)
            listed = frozenset(links.articles)
            if listed and listed in pages_seen:  # the same page again (a post-back to page 1, a calendar)
                report.listings_repeated += 1
                continue
            pages_seen.add(listed)
            articles.update(dict.fromkeys(links.articles))
            queue.extend(item for item in links.listings if item.key not in seen)
            feeds += [f for f in links.feeds if f not in feeds]
        pending = deque(dict.fromkeys(feeds))
        while pending:
            feed = pending.popleft()
            if feed in seen:
                continue
            if budget <= 0:
                report.listings_left += len(set(pending) - seen) + 1
                break
            budget -= 1
            seen.add(feed)
            pages, children = self._read_feed(feed, source, report)
            pending.extend(child for child in children if child not in seen)
            for url in pages:
                if source.is_article_url(url):
                    articles.setdefault(url)
        found = [url for url in articles if url not in listing_urls]  # a listing page is never an article
        report.articles_found = len(found)
        if not report.listings_visited and not report.feeds_read:
            report.source_failed = "no listing page, sitemap or feed could be read"
        return found

    def _listing(self, listing: Listing, source: Source, report: CrawlReport) -> str | None:
        try:
            response = self.fetcher.get(listing.url, form=dict(listing.form) if listing.form else None)
            report.counts["fetched"] += 1
            if response.content_type not in HTML_TYPES:
                raise NotHTML(f"listing is {response.content_type or 'untyped'}, not HTML")
            decoded = page_text(response.body, response.headers.get("content-type", ""))
        except (FetchError, DecodeError) as exc:
            self._fail(report, listing.key, source.name, exc)
            return None
        report.listings_visited += 1
        report.replaced(decoded.replaced)
        self._record(listing.key, source.name, "listing", _replaced_reason(decoded.replaced), response=response)
        return decoded.text

    def _read_feed(self, url: str, source: Source, report: CrawlReport) -> tuple[list[str], list[str]]:
        """(page URLs, child sitemaps) of a sitemap (an index, gzipped or not) or an RSS/Atom feed."""
        try:
            response = self.fetcher.get(url)
            report.counts["fetched"] += 1
            pages, children = feed_pages(response.body)
        except (FetchError, ValueError, OSError) as exc:  # OSError: a corrupt gzip stream
            self._fail(report, url, source.name, exc)
            return [], []
        report.feeds_read += 1
        return absolute(pages, url), [u for u in absolute(children, url) if source.same_site(u)]

    # --- articles -----------------------------------------------------------------------
    def fetch_article(self, url: str, source: Source, report: CrawlReport) -> None:
        state = store.crawl_page(self.conn, url)
        validators = {"etag": state["etag"], "last_modified": state["last_modified"]} if state else None
        try:
            response = self.fetcher.get(url, validators=validators)
        except FetchError as exc:
            self._fail(report, url, source.name, exc)
            return
        report.counts["fetched"] += 1
        if response.status == 304:
            report.counts["not_modified"] += 1
            self._record(url, source.name, "not_modified", response=response)
            return
        if response.content_type not in HTML_TYPES:
            self._fail(report, url, source.name, NotHTML(f"not HTML ({response.content_type or 'no content type'})"))
            return
        digest = hashlib.sha256(response.body).hexdigest()
        if state and state["content_hash"] == digest and state["status"] in ("stored", "unchanged"):
            report.counts["unchanged"] += 1
            self._record(url, source.name, "unchanged", response=response)
            return
        try:
            decoded = page_text(response.body, response.headers.get("content-type", ""))
        except DecodeError as exc:
            self._fail(report, url, source.name, exc, f"undecodable: {exc}")
            return
        try:
            article = html_to_article(decoded.text, normalize_url(response.url), source.name, source.selectors,
                                      tz=source.timezone or self.default_tz)
        except ExtractionError as exc:
            self._fail(report, url, source.name, exc, f"extraction: {exc}")
            return
        # The canonical URL counts only on the source's own site: elsewhere (another portal's
        # article, a javascript: link) the page keeps the address it was fetched from.
        canonical = normalize_url(article.url)
        article.url = canonical if source.same_site(canonical) else normalize_url(response.url)
        try:
            _, status = store.upsert_article(self.conn, article, self.chunk_words, self.chunk_overlap,
                                             source.province)
        except store.ForeignArticle as exc:
            self._fail(report, url, source.name, exc, f"refused: {exc}")
            return
        report.counts[status] += 1
        report.replaced(decoded.replaced)
        self._record(url, source.name, "stored" if status != "unchanged" else "unchanged",
                     _replaced_reason(decoded.replaced), response=response, content_hash=digest,
                     article_url=article.url)

    def crawl(self, source: Source, max_pages: int | None = None) -> CrawlReport:
        from tqdm import tqdm

        report = CrawlReport(source.name)
        started = models.now_iso()
        self.fetcher.delay, self.fetcher.scope = source.delay_seconds, source.in_scope
        store.set_source_title(self.conn, source.name, source.title, configured=True)
        try:
            urls = self.discover(source, report, max_pages or source.max_pages)
            for url in tqdm(urls, unit="page", desc=source.name, disable=not self.progress):
                try:
                    self.fetch_article(url, source, report)
                except Exception as exc:  # one bad page never stops the crawl
                    self._fail(report, url, source.name, exc, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # nor does one source stop the others: the crawl ends with the reason
            report.source_failed = f"crawl stopped: {type(exc).__name__}: {exc}"
        finally:
            self.fetcher.scope = None
        report.cover(store.source_months(self.conn, source.name), store.source_days(self.conn, source.name))
        store.record_crawl_run(self.conn, source.name, started, report.as_dict())
        return report


def crawl_sources(settings, sources: list[Source], progress: bool = False, max_pages: int | None = None,
                  after: Callable[[Source, CrawlReport], None] | None = None) -> list[CrawlReport]:
    """Crawl each source into the settings' archive, one after another (a source that fails ends
    with its reason and the next goes on); `after` sees each source's report as it ends. The one
    crawl `crawl`, `update` and the nightly job all run."""
    conn = store.connect(settings.db_path)
    try:
        crawler = Crawler(conn, Fetcher(), settings.chunk_words, settings.chunk_overlap, settings.timezone,
                          progress=progress)
        reports = []
        for source in sources:
            reports.append(crawler.crawl(source, max_pages=max_pages))
            if after is not None:
                after(source, reports[-1])
        return reports
    finally:
        conn.close()
