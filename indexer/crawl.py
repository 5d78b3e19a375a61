"""Crawler for district news portals: polite, incremental, and never losing what is stored.

A source (``data/sources.toml``) names listing pages; the crawler follows their pagination and
any sitemap or RSS feed, fetches article pages it has not seen or that changed (conditional GET
with ETag / Last-Modified), extracts them and stores them. A page that fails is recorded with
its reason; it never stops the crawl nor touches stored articles.
"""
from __future__ import annotations

import hashlib
import html as html_lib
import re
import sqlite3
import time
import tomllib
import urllib.error
import urllib.request
import urllib.robotparser
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

from bs4 import BeautifulSoup

from indexer import store
from indexer.extract import ExtractionError, Selectors, extract_article

USER_AGENT = "NewsArchiveSearchBot/0.1 (+newsroom archive indexer; respects robots.txt)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|zarsrc|_ga|_gl|mc_cid|mc_eid|ref|refid)$", re.I)
PAGINATION_TEXT = re.compile(r"^(\d{1,4}|trang sau|tiếp|sau|next|»|›|>>|>)$", re.I)
PAGINATION_URL = re.compile(r"([?&](page|trang|p|paged)=\d+|/(page|trang)[/-]\d+)", re.I)
LISTING_PATH = re.compile(r"/(category|categories|tags?|chuyen-muc|danh-muc|chu-de|author|tac-gia|page|trang)/", re.I)
NON_HTML_SUFFIX = re.compile(r"\.(pdf|docx?|xlsx?|pptx?|zip|rar|jpe?g|png|gif|webp|mp3|mp4|avi)$", re.I)


class SourcesError(ValueError):
    """The sources file is invalid; the message names the file, line and key."""


@dataclass
class Source:
    name: str
    base_url: str
    start_urls: list[str]
    sitemap: str | None = None
    rss: str | None = None
    article_pattern: str | None = None
    max_pages: int = 200
    delay_seconds: float = 1.0
    timezone: str | None = None
    selectors: Selectors = field(default_factory=Selectors)

    def is_article_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.hostname != urlsplit(self.base_url).hostname or NON_HTML_SUFFIX.search(parts.path):
            return False
        if self.article_pattern:
            return re.search(self.article_pattern, parts.path + ("?" + parts.query if parts.query else "")) is not None
        # Without a pattern: a path that looks like a story (a long slug, a numeric id, or .html),
        # and not like a category, tag, author or page listing.
        if LISTING_PATH.search(parts.path):
            return False
        tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return (tail.count("-") >= 3 or bool(re.search(r"\d{3,}", tail + parts.query))
                or (tail.endswith((".html", ".htm")) and tail.count("-") >= 1))


_SOURCE_KEYS = {f.name for f in fields(Source)}
_SELECTOR_KEYS = {f.name for f in fields(Selectors)}


def _key_line(raw: str, index: int, key: str) -> int | None:
    """Line number of `key` inside the index-th [[source]] table (for error messages)."""
    seen = -1
    for number, line in enumerate(raw.splitlines(), 1):
        if re.match(r"\s*\[\[\s*source\s*\]\]", line):
            seen += 1
        elif seen == index and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return None


def load_sources(path: Path) -> list[Source]:
    raw = Path(path).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: {exc}") from None
    unknown_top = set(data) - {"source"}
    if unknown_top:
        raise SourcesError(f"{path}: unknown top-level key(s) {sorted(unknown_top)}; use [[source]] tables")
    sources = []
    for index, table in enumerate(data.get("source", [])):
        where = f"{path}, source #{index + 1}"
        for key in table:
            if key not in _SOURCE_KEYS:
                line = _key_line(raw, index, key)
                raise SourcesError(f"{where}{f', line {line}' if line else ''}: unknown key {key!r} "
                                   f"(known: {', '.join(sorted(_SOURCE_KEYS))})")
        for key in ("name", "base_url", "start_urls"):
            if key not in table:
                raise SourcesError(f"{where}: missing required key {key!r}")
        selectors = table.pop("selectors", {})
        for key in selectors:
            if key not in _SELECTOR_KEYS:
                raise SourcesError(f"{where}: unknown selector {key!r} (known: {', '.join(sorted(_SELECTOR_KEYS))})")
        if not isinstance(table["start_urls"], list) or not table["start_urls"]:
            raise SourcesError(f"{where}: start_urls must be a non-empty list of URLs")
        if table.get("article_pattern"):
            try:
                re.compile(table["article_pattern"])
            except re.error as exc:
                raise SourcesError(f"{where}: article_pattern is not a valid regex: {exc}") from None
        sources.append(Source(**table, selectors=Selectors(**selectors)))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise SourcesError(f"{path}: source names must be unique")
    return sources


def normalize_url(url: str, base: str | None = None) -> str:
    """Absolute URL without fragment or tracking parameters, lower-case scheme and host."""
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not TRACKING_PARAMS.match(k)])
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


def decode_html(body: bytes, content_type: str = "") -> str:
    """Charset from the header, then <meta>, then detection; legacy encodings end up as text
    whose decomposed tone marks clean() composes to NFC."""
    candidates = []
    match = re.search(r"charset=([\w-]+)", content_type or "", re.I)
    if match:
        candidates.append(match.group(1))
    head = body[:4096].decode("ascii", errors="ignore")
    match = re.search(r"<meta[^>]+charset=[\"']?([\w-]+)", head, re.I)
    if match:
        candidates.append(match.group(1))
    for name in candidates:
        try:
            return body.decode(_codec(name))
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", errors="replace")


def _codec(name: str) -> str:
    name = name.lower()
    return {"windows-1258": "cp1258", "x-viet-vni": "cp1258"}.get(name, name)


@dataclass
class Response:
    url: str          # after redirects
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class FetchError(Exception):
    """A page could not be fetched; the message is the reason recorded."""


class Fetcher:
    """HTTP GET with timeouts, retries and backoff, per-host delay, robots.txt and a size limit."""

    def __init__(self, timeout: float = 20.0, retries: int = 3, backoff: float = 1.0, max_bytes: int = 5_000_000,
                 delay: float = 1.0, user_agent: str = USER_AGENT, sleep: Callable[[float], None] = time.sleep):
        self.timeout, self.retries, self.backoff, self.max_bytes = timeout, retries, backoff, max_bytes
        self.delay, self.user_agent, self.sleep = delay, user_agent, sleep
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.opener = urllib.request.build_opener(urllib.request.HTTPRedirectHandler())

    def _wait_turn(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is not None:
            remaining = self.delay - (time.monotonic() - last)
            if remaining > 0:
                self.sleep(remaining)
        self._last_request[host] = time.monotonic()

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            parser = urllib.robotparser.RobotFileParser()
            try:
                response = self.get(root + "/robots.txt", check_robots=False, retries=1)
                parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
            except FetchError as exc:
                # RFC 9309: an unavailable robots.txt (4xx) means no rules; an unreachable one
                # (5xx, timeout) means the whole site is disallowed until it can be read.
                if str(exc).startswith("HTTP 4"):
                    parser = None
                else:
                    parser.disallow_all = True
            self._robots[root] = parser
        parser = self._robots[root]
        return parser is None or parser.can_fetch(self.user_agent, url)

    def get(self, url: str, validators: dict[str, str] | None = None, check_robots: bool = True,
            retries: int | None = None) -> Response:
        """Fetch with conditional-GET validators; 304 comes back as a Response, errors as FetchError."""
        if check_robots and not self.allowed(url):
            raise FetchError("disallowed by robots.txt")
        headers = {"User-Agent": self.user_agent, "Accept-Language": "vi,en;q=0.5",
                   "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = validators["last_modified"]
        attempts = (self.retries if retries is None else retries)
        for attempt in range(attempts):
            self._wait_turn(urlsplit(url).netloc)
            try:
                with self.opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout) as resp:
                    body = resp.read(self.max_bytes + 1)
                    if len(body) > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes} bytes")
                    return Response(resp.geturl(), resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
            except urllib.error.HTTPError as exc:
                if exc.code == 304:
                    return Response(url, 304, {k.lower(): v for k, v in exc.headers.items()}, b"")
                retryable = exc.code == 429 or exc.code >= 500
                if not retryable or attempt == attempts - 1:
                    raise FetchError(f"HTTP {exc.code}") from None
                self.sleep(self._retry_after(exc.headers.get("Retry-After"), attempt))
            except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                text = "timed out" if isinstance(reason, TimeoutError) else str(reason)
                if attempt == attempts - 1:
                    raise FetchError(text) from None
                self.sleep(self.backoff * 2 ** attempt)
        raise FetchError("no attempt made")

    def _retry_after(self, value: str | None, attempt: int) -> float:
        """Honour Retry-After (seconds or an HTTP date), capped at a minute; else exponential."""
        if value:
            try:
                return min(60.0, float(value))
            except ValueError:
                try:
                    return min(60.0, max(0.0, parsedate_to_datetime(value).timestamp() - time.time()))
                except (TypeError, ValueError):
                    pass
        return self.backoff * 2 ** attempt


@dataclass
class CrawlReport:
    source: str
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)
    source_failed: str | None = None  # the reason, when nothing of the source could be read

    def summary(self) -> str:
        keys = ("fetched", "new", "updated", "unchanged", "not_modified", "skipped_robots", "failed")
        text = f"{self.source}: " + ", ".join(f"{k.replace('_', ' ')} {self.counts[k]}" for k in keys)
        return text + (f" — SOURCE FAILED: {self.source_failed}" if self.source_failed else "")


def _links(html: str, base: str) -> list[tuple[str, str, str]]:
    """(absolute URL, link text, rel) for every <a href> and <link rel=next>."""
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for a in soup.find_all(["a", "link"], href=True):
        if a.name == "link" and "next" not in (a.get("rel") or []):
            continue
        href = a["href"].strip()
        if href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        out.append((normalize_url(href, base), a.get_text(" ", strip=True), " ".join(a.get("rel") or [])))
    return out


def _feed_links(body: bytes) -> list[str]:
    """<loc> of a sitemap (or sitemap index) and the links of RSS/Atom items."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return [html_lib.unescape(u).strip() for u in re.findall(rb"<(?:loc|link)>([^<]+)</", body)
                for u in [u.decode("utf-8", "replace")]]
    urls = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "loc" and element.text:
            urls.append(element.text.strip())
        elif tag == "link":
            urls.append((element.get("href") or element.text or "").strip())
    return [u for u in urls if u]


class Crawler:
    def __init__(self, conn: sqlite3.Connection, fetcher: Fetcher, chunk_words: int = 180, chunk_overlap: int = 30,
                 default_tz: str = "Asia/Ho_Chi_Minh", progress: bool = False):
        self.conn, self.fetcher = conn, fetcher
        self.chunk_words, self.chunk_overlap, self.default_tz, self.progress = \
            chunk_words, chunk_overlap, default_tz, progress

    # --- crawl state ------------------------------------------------------------------
    def _state(self, url: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM crawl_pages WHERE url = ?", (url,)).fetchone()

    def _record(self, url: str, source: str, status: str, reason: str | None = None,
                response: Response | None = None, content_hash: str | None = None,
                article_url: str | None = None) -> None:
        previous = self._state(url)
        etag = (response.headers.get("etag") if response else None) or (previous["etag"] if previous else None)
        modified = (response.headers.get("last-modified") if response else None) or \
            (previous["last_modified"] if previous else None)
        with self.conn:
            self.conn.execute(
                """INSERT INTO crawl_pages (url, source, etag, last_modified, content_hash, status, reason,
                   article_url, fetched_at) VALUES (?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(url) DO UPDATE SET source=excluded.source, etag=excluded.etag,
                   last_modified=excluded.last_modified,
                   content_hash=coalesce(excluded.content_hash, crawl_pages.content_hash),
                   status=excluded.status, reason=excluded.reason,
                   article_url=coalesce(excluded.article_url, crawl_pages.article_url),
                   fetched_at=excluded.fetched_at""",
                (url, source, etag, modified, content_hash, status, reason, article_url, store.now_iso()))

    # --- discovery --------------------------------------------------------------------
    def discover(self, source: Source, report: CrawlReport, max_pages: int) -> list[str]:
        """Article URLs from listing pages (following pagination), the sitemap and the RSS feed."""
        articles: dict[str, None] = {}
        queue = [normalize_url(u, source.base_url) for u in source.start_urls]
        seen_listings: set[str] = set()
        readable = 0
        while queue and len(seen_listings) < max_pages:
            url = queue.pop(0)
            if url in seen_listings:
                continue
            seen_listings.add(url)
            try:
                response = self.fetcher.get(url)
            except FetchError as exc:
                self._fail(report, url, source.name, str(exc))
                continue
            report.counts["fetched"] += 1
            if response.content_type not in HTML_TYPES:
                self._fail(report, url, source.name, f"listing is {response.content_type or 'untyped'}, not HTML")
                continue
            readable += 1
            html = decode_html(response.body, response.headers.get("content-type", ""))
            for link, text, rel in _links(html, response.url):
                if source.is_article_url(link):
                    articles.setdefault(link)
                elif link not in seen_listings and self._is_next_listing(source, link, text, rel):
                    queue.append(link)
        for feed in (source.sitemap, source.rss):
            if not feed:
                continue
            for url in self._read_feed(normalize_url(feed, source.base_url), source, report):
                readable += 1
                if source.is_article_url(url):
                    articles.setdefault(url)
        if not readable:
            report.source_failed = "no listing page, sitemap or feed could be read"
        return list(articles)

    @staticmethod
    def _is_next_listing(source: Source, link: str, text: str, rel: str) -> bool:
        """A pagination link of the same site: rel=next, or a page URL whose text is a page number."""
        same_site = urlsplit(link).hostname == urlsplit(source.base_url).hostname
        return same_site and ("next" in rel or bool(PAGINATION_URL.search(link) and PAGINATION_TEXT.match(text or "")))

    def _read_feed(self, url: str, source: Source, report: CrawlReport, depth: int = 0) -> list[str]:
        try:
            response = self.fetcher.get(url)
        except FetchError as exc:
            self._fail(report, url, source.name, str(exc))
            return []
        report.counts["fetched"] += 1
        found = []
        for link in _feed_links(response.body):
            link = normalize_url(link, url)
            if link.endswith(".xml") and depth < 2:  # a sitemap index
                found += self._read_feed(link, source, report, depth + 1)
            else:
                found.append(link)
        return found

    def _fail(self, report: CrawlReport, url: str, source: str, reason: str) -> None:
        if reason == "disallowed by robots.txt":
            report.counts["skipped_robots"] += 1
            self._record(url, source, "robots", reason)
        else:
            report.counts["failed"] += 1
            report.failures.append((url, reason))
            self._record(url, source, "failed", reason)

    # --- articles -----------------------------------------------------------------------
    def fetch_article(self, url: str, source: Source, report: CrawlReport) -> None:
        state = self._state(url)
        validators = {"etag": state["etag"], "last_modified": state["last_modified"]} if state else None
        try:
            response = self.fetcher.get(url, validators=validators)
        except FetchError as exc:
            self._fail(report, url, source.name, str(exc))
            return
        report.counts["fetched"] += 1
        if response.status == 304:
            report.counts["not_modified"] += 1
            self._record(url, source.name, "not_modified", response=response)
            return
        if response.content_type not in HTML_TYPES:
            self._fail(report, url, source.name, f"not HTML ({response.content_type or 'no content type'})")
            return
        digest = hashlib.sha256(response.body).hexdigest()
        if state and state["content_hash"] == digest and state["status"] in ("stored", "unchanged"):
            report.counts["unchanged"] += 1
            self._record(url, source.name, "unchanged", response=response)
            return
        html = decode_html(response.body, response.headers.get("content-type", ""))
        try:
            article = extract_article(html, normalize_url(response.url), source.name, source.selectors,
                                      tz=source.timezone or self.default_tz)
        except ExtractionError as exc:
            self._fail(report, url, source.name, f"extraction: {exc}")
            return
        article.url = normalize_url(article.url)  # the canonical URL, cleaned
        _, status = store.upsert_article(self.conn, article, self.chunk_words, self.chunk_overlap)
        report.counts[status] += 1
        self._record(url, source.name, "stored" if status != "unchanged" else "unchanged",
                     response=response, content_hash=digest, article_url=article.url)

    def crawl(self, source: Source, max_pages: int | None = None) -> CrawlReport:
        from tqdm import tqdm

        report = CrawlReport(source.name)
        self.fetcher.delay = source.delay_seconds
        urls = self.discover(source, report, max_pages or source.max_pages)
        for url in tqdm(urls, unit="page", desc=source.name, disable=not self.progress):
            try:
                self.fetch_article(url, source, report)
            except Exception as exc:  # one bad page never stops the crawl
                self._fail(report, url, source.name, f"{type(exc).__name__}: {exc}")
        return report
