"""The crawl of one source: discover its articles, fetch the new and changed ones, store them, report.

Every page ends with a recorded outcome and reason (crawl_pages); a page that fails never stops
the crawl nor touches stored articles. Each crawl ends with a completeness report per source
(crawl_runs): listing pages visited, articles found, stored and failed, the dates covered and the
months without an article, so a newsroom sees at once when something is being missed.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from indexer import models, store
from indexer.crawl.discover import Listing, absolute, feed_pages, page_links
from indexer.crawl.fetch import HTML_TYPES, Fetcher, FetchError, NotHTML, Response, RobotsDisallowed
from indexer.crawl.sink import ArchiveSink, Sink
from indexer.crawl.sources import Source, normalize_url
from indexer.decode import Decoded, DecodeError
from indexer.extract import ExtractionError, NotAnArticle, extract_article
from indexer.models import Article, ForeignArticle
from indexer.page import html_to_article, learned_selectors, page_text
from indexer.template import SiteTemplate, described, learn, learn_fields

# A page linked from this share of a source's listing pages is in its menu: the site's own page
# (about, contact) unless it is dated like a story.
SITE_PAGE_SHARE = 0.6
SAMPLE_PAGES = 8  # article pages a crawl reads before it learns the site's template from them


@dataclass
class CrawlReport:
    """Counts and failures of one crawl of one source, and how complete its archive looks."""

    source: str
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # pages that are no articles, and why
    only_in_feeds: list[str] = field(default_factory=list)  # articles no listing page showed
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
    template_learned: bool = False    # this crawl learned the site's template (else used the saved one)
    template_pages: int = 0           # pages the template in use was learned from
    template_blocks: int = 0          # blocks it holds as the site's own (never a body's)
    template_fields: dict[str, str] = field(default_factory=dict)  # the fields read through it: their paths
    template_dropped: bool = False    # it left most of the pages it was tried on no article: not used

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
        skipped = f", no article {counts['not_articles']}" if counts["not_articles"] else ""
        lines = [f"  listing pages visited {self.listings_visited}{repeated}{left}, "
                 f"feeds and sitemaps read {self.feeds_read}",
                 f"  articles found {self.articles_found}, stored or current {stored}, "
                 f"failed {counts['failed']}{robots}{skipped}"]
        gap = self.articles_found - stored - counts["not_articles"]
        if gap > 0:
            lines.append(f"  GAP: {gap} of the {self.articles_found} articles known are not in the archive "
                         "(failures above)")
        if self.only_in_feeds:
            lines.append(f"  LISTING PAGES MISSED {len(self.only_in_feeds)} articles that only sitemaps or feeds "
                         f"list, e.g. {self.only_in_feeds[0]}")
        if self.template_pages:
            how = "learned now" if self.template_learned else "as learned before"
            misfits = counts["template_misfits"]
            lines.append(f"  site template ({how}, from {self.template_pages} pages): {self.template_blocks} "
                         "repeated blocks" + (
                             f"; DROPPED: it left {misfits} of the pages it was tried on no article (their stories "
                             "share their text), every page extracted alone" if self.template_dropped else
                             " kept out of every body" +
                             (f"; {misfits} pages it left no article, extracted alone" if misfits else "")))
            if self.template_fields and not self.template_dropped:
                lines.append("  fields read where the site's pages hold them: "
                             + described(self.template_fields))
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
                "failures": [list(f) for f in self.failures[:200]], "skipped": [list(f) for f in self.skipped[:200]],
                "source_failed": self.source_failed, "listings_visited": self.listings_visited,
                "listings_left": self.listings_left, "listings_repeated": self.listings_repeated,
                "feeds_read": self.feeds_read, "only_in_feeds": self.only_in_feeds[:200],
                "articles_found": self.articles_found, "oldest": self.oldest, "newest": self.newest,
                "template_learned": self.template_learned, "template_pages": self.template_pages,
                "template_blocks": self.template_blocks, "template_fields": self.template_fields,
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
    """Fetches a source's pages (`fetcher`) and hands what becomes of each to `sink` (the archive:
    sink.ArchiveSink), as a scrapy spider yields items to its pipelines."""

    def __init__(self, sink: Sink, fetcher: Fetcher, default_tz: str = "Asia/Ho_Chi_Minh", progress: bool = False):
        self.sink, self.fetcher = sink, fetcher
        self.site_pages: set[str] = set()  # article-like links every listing page of this source shows
        self.default_tz, self.progress = default_tz, progress

    def _fail(self, report: CrawlReport, url: str, source: str, problem: Exception, reason: str | None = None) -> None:
        """Record a page that was not stored: its reason (`reason`, else the problem's message), and
        its kind, the problem's class, counted in the report (robots.txt's refusals apart)."""
        reason = reason or str(problem)
        if isinstance(problem, RobotsDisallowed):
            report.counts["skipped_robots"] += 1
            self.sink.record(url, source, "robots", reason)
        else:
            report.counts["failed"] += 1
            report.refusals[type(problem).__name__] += 1
            report.failures.append((url, reason))
            self.sink.record(url, source, "failed", reason)

    def _skip(self, report: CrawlReport, url: str, source: str, reason: str, response: Response) -> None:
        """Record a page that is no article (a listing, a page of the site's own) and why."""
        report.counts["not_articles"] += 1
        report.skipped.append((url, reason))
        self.sink.record(url, source, "skipped", reason, response=response, content_hash=response.digest)

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
        shown: Counter = Counter()  # how many listing pages link to each page
        feeds = [normalize_url(f, source.base_url) for f in (source.sitemap, source.rss) if f]
        feeds += [u for u in self.fetcher.robots(source.base_url).sitemaps() if source.same_site(u)]
        guessed = set() if feeds else {u for u in (normalize_url("sitemap.xml", source.base_url),
                                                     normalize_url("/sitemap.xml", source.base_url))
                                       if source.same_site(u)}  # sitemaps nothing names, tried all the same
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
            shown.update(listed)
            articles.update(dict.fromkeys(links.articles))
            queue.extend(item for item in links.listings if item.key not in seen)
            feeds += [f for f in links.feeds if f not in feeds]
        listed_articles = set(articles)
        pending = deque(dict.fromkeys([*feeds, *sorted(guessed)]))
        while pending:
            feed = pending.popleft()
            if feed in seen:
                continue
            if budget <= 0:
                report.listings_left += len({feed, *pending} - seen - guessed)  # a guess is not a page left
                break
            budget -= 1
            seen.add(feed)
            pages, children = self._read_feed(feed, source, report, guessed=feed in guessed)
            pending.extend(child for child in children if child not in seen)
            for url in pages:
                if source.is_article_url(url):
                    articles.setdefault(url)
        found = [url for url in articles if url not in listing_urls]  # a listing page is never an article
        report.only_in_feeds = [url for url in found if url not in listed_articles]
        pages = len(pages_seen)
        self.site_pages = {url for url, n in shown.items() if pages >= 2 and n >= max(2, SITE_PAGE_SHARE * pages)}
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
        self.sink.record(listing.key, source.name, "listing", _replaced_reason(decoded.replaced), response=response)
        return decoded.text

    def _read_feed(self, url: str, source: Source, report: CrawlReport,
                   guessed: bool = False) -> tuple[list[str], list[str]]:
        """(page URLs, child sitemaps) of a sitemap (an index, gzipped or not) or an RSS/Atom feed. A
        `guessed` sitemap that is not there (or is no sitemap) is no failure: most sites have none."""
        try:
            response = self.fetcher.get(url)
            report.counts["fetched"] += 1
            pages, children = feed_pages(response.body)
        except (FetchError, ValueError, OSError) as exc:  # OSError: a corrupt gzip stream
            if not guessed:
                self._fail(report, url, source.name, exc)
            return [], []
        if guessed and not (pages or children):
            return [], []
        report.feeds_read += 1
        return absolute(pages, url), [u for u in absolute(children, url) if source.same_site(u)]

    # --- articles -----------------------------------------------------------------------
    def fetch_page(self, url: str, source: Source, report: CrawlReport) -> tuple[Response, Decoded] | None:
        """The article page and its text when it is new or changed; None when it is current (a 304,
        the same bytes as stored) or failed (undecodable bytes too), either recorded."""
        state = self.sink.last_seen(url)
        validators = {"etag": state["etag"], "last_modified": state["last_modified"]} if state else None
        try:
            response = self.fetcher.get(url, validators=validators)
        except FetchError as exc:
            self._fail(report, url, source.name, exc)
            return None
        report.counts["fetched"] += 1
        if response.status == 304:
            report.counts["not_modified"] += 1
            self.sink.record(url, source.name, "not_modified", response=response)
            return None
        if response.content_type not in HTML_TYPES:
            self._fail(report, url, source.name, NotHTML(f"not HTML ({response.content_type or 'no content type'})"))
            return None
        if state and state["content_hash"] == response.digest:
            if state["status"] in ("stored", "unchanged"):
                report.counts["unchanged"] += 1
                self.sink.record(url, source.name, "unchanged", response=response)
                return None
            if state["status"] == "skipped":  # the same page that was no article last time
                report.counts["not_articles"] += 1
                return None
        try:
            return response, page_text(response.body, response.headers.get("content-type", ""))
        except DecodeError as exc:
            self._fail(report, url, source.name, exc, f"undecodable: {exc}")
            return None

    def store_page(self, url: str, response: Response, decoded: Decoded, source: Source, report: CrawlReport,
                   template: SiteTemplate | None) -> None:
        """Extract the page (with the site's template) and store its article, or record why not."""
        try:
            article = html_to_article(decoded.text, normalize_url(response.url), source.name, source.selectors,
                                      tz=source.timezone or self.default_tz, template=template,
                                      misfit=lambda reason: report.counts.update(("template_misfits",)))
        except NotAnArticle as exc:
            self._skip(report, url, source.name, str(exc), response)
            return
        except ExtractionError as exc:
            self._fail(report, url, source.name, exc, f"extraction: {exc}")
            return
        if url in self.site_pages and not article.published_at:
            self._skip(report, url, source.name, "a page of the site itself: linked from every listing page, "
                       "and it has no date", response)
            return
        # The canonical URL counts only on the source's own site: elsewhere (another portal's
        # article, a javascript: link) the page keeps the address it was fetched from.
        canonical = normalize_url(article.url)
        article.url = canonical if source.same_site(canonical) else normalize_url(response.url)
        try:
            status = self.sink.store(article, source.province)
        except ForeignArticle as exc:
            self._fail(report, url, source.name, exc, f"refused: {exc}")
            return
        report.counts[status] += 1
        report.replaced(decoded.replaced)
        self.sink.record(url, source.name, "stored" if status != "unchanged" else "unchanged",
                     _replaced_reason(decoded.replaced), response=response, content_hash=response.digest,
                     article_url=article.url)

    def fetch_article(self, url: str, source: Source, report: CrawlReport,
                      template: SiteTemplate | None = None) -> None:
        """Fetch one article page and store it if it is new or changed."""
        fetched = self.fetch_page(url, source, report)
        if fetched is not None:
            self.store_page(url, *fetched, source, report, template)

    def _learn(self, source: Source, texts: list[str], report: CrawlReport) -> SiteTemplate | None:
        """The source's template from these pages' texts when they are enough (saved once it fits
        them: _store_waiting), else the one saved before; the report says which."""
        template = learn(texts)
        if template is not None:
            report.template_learned = True
        else:
            template = self.sink.template(source.name)
        if template is not None:
            report.template_pages, report.template_blocks = template.pages, len(template.boilerplate)
            report.template_fields = template.fields
        return template

    def _sample(self, source: Source, template: SiteTemplate, url: str, html: str,
                paths: dict[str, str]) -> Article | None:
        """A sample page's article through the template's blocks and these paths (learn_fields)."""
        try:
            return extract_article(html, url, source.name, learned_selectors(source.selectors, paths),
                                   tz=source.timezone or self.default_tz, template=template)
        except ExtractionError:
            return None

    def crawl_articles(self, urls: list[str], source: Source, report: CrawlReport) -> None:
        """Fetch every article page; the first SAMPLE_PAGES that need extracting wait until the
        site's template is learned from them, then all are extracted with it."""
        from tqdm import tqdm

        waiting: list[tuple[str, Response, Decoded]] = []
        template: SiteTemplate | None = None
        learned = False
        for url in tqdm(urls, unit="page", desc=source.name, disable=not self.progress):
            try:
                if learned:
                    self.fetch_article(url, source, report, template)
                    continue
                fetched = self.fetch_page(url, source, report)
                if fetched is not None:
                    waiting.append((url, *fetched))
            except Exception as exc:  # one bad page never stops the crawl
                self._unexpected(report, url, source, exc)
            if not learned and len(waiting) >= SAMPLE_PAGES:
                template, learned = self._store_waiting(waiting, source, report), True
        if not learned:
            self._store_waiting(waiting, source, report)

    def _store_waiting(self, waiting: list[tuple[str, Response, Decoded]], source: Source,
                       report: CrawlReport) -> SiteTemplate | None:
        """Learn the template from the pages waiting, then store them with it; the template for the
        pages after them (saved, when learned now), or None when it left most of these no article:
        a site whose stories repeat their own text would only have every page extracted twice."""
        template = self._learn(source, [decoded.text for _, _, decoded in waiting], report)
        if template is not None and report.template_learned:
            learned = learn_fields([(normalize_url(response.url), decoded.text) for _, response, decoded in waiting],
                                   lambda url, html, paths: self._sample(source, template, url, html, paths))
            template = replace(template, fields={name: path for name, path in learned.items()
                                                 if not getattr(source.selectors, name)})  # configured ones win
            report.template_fields = template.fields
        misfits = report.counts["template_misfits"]
        for url, response, decoded in waiting:
            try:
                self.store_page(url, response, decoded, source, report, template)
            except Exception as exc:
                self._unexpected(report, url, source, exc)
        if template is not None and 2 * (report.counts["template_misfits"] - misfits) > len(waiting):
            report.template_dropped = True
            return None
        if template is not None and report.template_learned:
            self.sink.save_template(source.name, template)
        return template

    def _unexpected(self, report: CrawlReport, url: str, source: Source, exc: Exception) -> None:
        self._fail(report, url, source.name, exc, f"{type(exc).__name__}: {exc}")

    def crawl(self, source: Source, max_pages: int | None = None) -> CrawlReport:
        report = CrawlReport(source.name)
        started = models.now_iso()
        self.fetcher.delay, self.fetcher.scope = source.delay_seconds, source.in_scope
        self.sink.begin(source.name, source.title)
        try:
            urls = self.discover(source, report, max_pages or source.max_pages)
            self.crawl_articles(urls, source, report)
        except Exception as exc:  # nor does one source stop the others: the crawl ends with the reason
            report.source_failed = f"crawl stopped: {type(exc).__name__}: {exc}"
        finally:
            self.fetcher.scope = None
        self.sink.finish(source.name, started, report)
        return report


def crawl_sources(settings, sources: list[Source], progress: bool = False, max_pages: int | None = None,
                  after: Callable[[Source, CrawlReport], None] | None = None) -> list[CrawlReport]:
    """Crawl each source into the settings' archive, one after another (a source that fails ends
    with its reason and the next goes on); `after` sees each source's report as it ends. The one
    crawl `crawl`, `update` and the nightly job all run."""
    conn = store.connect(settings.db_path)
    try:
        crawler = Crawler(ArchiveSink(conn, settings.chunk_words, settings.chunk_overlap), Fetcher(),
                          settings.timezone, progress=progress)
        reports = []
        for source in sources:
            reports.append(crawler.crawl(source, max_pages=max_pages))
            if after is not None:
                after(source, reports[-1])
        return reports
    finally:
        conn.close()
