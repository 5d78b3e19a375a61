"""The sources file (``data/sources.toml``): one [[source]] table a portal, validated with line numbers."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from indexer import places
from indexer.extract import Selectors
from indexer.models import web_origin

TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|zarsrc|_ga|_gl|mc_cid|mc_eid|ref|refid)$", re.I)
# Listing pages of a paginated list: ?page=2, ?p=2, /page/2/, /trang-2, Liferay's …_cur=2, Joomla's
# limitstart=10, DotNetNuke's /currentpage/2/.
PAGINATION_URL = re.compile(
    r"([?&](page|trang|p|paged|pg|pageindex|pagenumber|page_no|pageno|currentpage|start|limitstart|offset)=\d+"
    r"|[?&][\w-]*_cur=\d+|/(page|trang|p)[/-]\d+/?$|/trang-\d+(\.html?)?$|/currentpage/\d+)", re.I)
LISTING_PATH = re.compile(r"/(category|categories|tags?|chuyen-muc|danh-muc|chu-de|author|tac-gia|page|trang)/", re.I)
NON_HTML_SUFFIX = re.compile(r"\.(pdf|docx?|xlsx?|pptx?|zip|rar|7z|jpe?g|png|gif|webp|svg|mp3|mp4|avi|xml|rss|gz)$",
                             re.I)


class SourcesError(ValueError):
    """The sources file is invalid; the message names the file, line and key."""


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


DEFAULT_PORTS = {("http", 80), ("https", 443)}


def is_pagination_url(url: str) -> bool:
    return bool(PAGINATION_URL.search(url))


@dataclass
class Source:
    name: str
    base_url: str
    start_urls: list[str]
    title: str | None = None  # the portal's own name, shown in place of `name` (else its pages' og:site_name)
    sitemap: str | None = None
    rss: str | None = None
    article_pattern: str | None = None
    max_pages: int = 200
    delay_seconds: float = 1.0
    timezone: str | None = None
    province: str | None = None  # where the source reports from: resolves place names many units share
    # Other hosts ("host" or "host:port") the crawl may request: a CDN for sitemaps, an old domain.
    allowed_hosts: list[str] = field(default_factory=list)
    selectors: Selectors = field(default_factory=Selectors)

    def in_scope(self, url: str) -> bool:
        """A URL the crawl of this source may request: http(s) on base_url's host and port (the
        move between http on 80 and https on 443 allowed), or on one of `allowed_hosts`."""
        origin = web_origin(url)
        if origin is None:
            return False
        base = web_origin(self.base_url)
        scheme, host, port = origin
        if base and host == base[1] and (port == base[2] or {(scheme, port), (base[0], base[2])} <= DEFAULT_PORTS):
            return True
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    def same_site(self, url: str) -> bool:
        """The URL lies on base_url's site and below its path (sites sharing a host stay apart)."""
        if not self.in_scope(url):
            return False
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if parts.hostname != base.hostname or not base.path.strip("/"):  # an allowed host, or a whole host
            return True
        return (parts.path or "/").startswith(base.path.rstrip("/") + "/")

    def is_article_url(self, url: str) -> bool:
        """A page of this source that looks like one story (never a listing page)."""
        parts = urlsplit(url)
        if not self.same_site(url) or NON_HTML_SUFFIX.search(parts.path):
            return False
        if self.article_pattern:
            return re.search(self.article_pattern, parts.path + ("?" + parts.query if parts.query else "")) is not None
        # Without a pattern: a path that looks like a story (a long slug, a numeric id, or .html),
        # and not like a category, tag, author or page listing.
        if LISTING_PATH.search(parts.path) or is_pagination_url(url):
            return False
        tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return (tail.count("-") >= 3 or bool(re.search(r"\d{3,}", tail + parts.query))
                or (tail.endswith((".html", ".htm", ".aspx")) and tail.count("-") >= 1))


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


def _source(table: dict, raw: str, index: int, where: str) -> Source:
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
    hosts = table.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h and "/" not in h for h in hosts):
        raise SourcesError(f"{where}: allowed_hosts must be a list of host names (\"cdn.example.vn\" or "
                           f"\"example.vn:8080\"), without scheme or path")
    table["allowed_hosts"] = [h.lower() for h in hosts]
    if not isinstance(table["base_url"], str) or web_origin(table["base_url"]) is None:
        raise SourcesError(f"{where}: base_url must be an http(s) URL")
    if table.get("province") and not places.is_province(table["province"]):
        raise SourcesError(f"{where}: province {table['province']!r} names no Vietnamese province")
    if "max_pages" in table and (not isinstance(table["max_pages"], int) or table["max_pages"] < 1):
        raise SourcesError(f"{where}: max_pages must be a whole number of at least 1")
    if "title" in table and (not isinstance(table["title"], str) or not table["title"].strip()):
        raise SourcesError(f"{where}: title must be the portal's name as text")
    return Source(**table, selectors=Selectors(**selectors))


def load_sources(path: Path) -> list[Source]:
    raw = Path(path).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: {exc}") from None
    unknown_top = set(data) - {"source"}
    if unknown_top:
        raise SourcesError(f"{path}: unknown top-level key(s) {sorted(unknown_top)}; use [[source]] tables")
    sources = [_source(table, raw, index, f"{path}, source #{index + 1}")
               for index, table in enumerate(data.get("source", []))]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise SourcesError(f"{path}: source names must be unique")
    return sources
