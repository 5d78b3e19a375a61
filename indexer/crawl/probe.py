"""`python -m indexer probe URL`: what the crawler would discover on a page and extract from it.

A newsroom points it at a new portal's listing page or one of its articles and reads, field by
field, what a crawl would store, then tunes `article_pattern` or `selectors` before a full crawl
(as Scrapy's shell does). It fetches exactly one page (and robots.txt), and stores nothing.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from indexer.crawl.discover import page_links
from indexer.crawl.fetch import Fetcher, FetchError
from indexer.crawl.sources import Source, normalize_url
from indexer.decode import DecodeError
from indexer.extract import ExtractionError, NotAnArticle, Selectors
from indexer.models import Article
from indexer.page import html_to_article, page_text
from indexer.template import SiteTemplate, described

# A page with no article of its own that links to this many is read as a listing; a page with an
# article is shown as one whatever it links to (a menu, a "Tin khác" list).
LISTING_LINKS = 2


@dataclass
class Probe:
    url: str
    fetched: str = ""                  # status line, or why the page could not be fetched
    articles: list[str] = field(default_factory=list)
    listings: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    article: Article | None = None
    not_article: str = ""             # why extraction failed
    listing: str = ""                 # why its structure makes it a listing page
    template: SiteTemplate | None = None  # the source's, as its last crawl saved it


def site_source(url: str, selectors: Selectors | None = None) -> Source:
    """A source for a URL of a portal not in the sources file: its whole site, no pattern."""
    parts = urlsplit(url)
    return Source(name=parts.hostname or "probe", base_url=f"{parts.scheme}://{parts.netloc}/", start_urls=[url],
                  selectors=selectors or Selectors())


def probe(url: str, source: Source, fetcher: Fetcher, tz: str = "Asia/Ho_Chi_Minh",
          template: SiteTemplate | None = None) -> Probe:
    """What a crawl of `source` would find on the page; with the template its crawls learned, read
    through it as they read the source's pages."""
    url = normalize_url(url)
    result = Probe(url, template=template)
    try:
        response = fetcher.get(url)
        decoded = page_text(response.body, response.headers.get("content-type", ""))
    except (FetchError, DecodeError) as exc:
        result.fetched = f"not fetched: {exc}"
        return result
    result.fetched = (f"{response.status} {response.content_type or 'no content type'}, {len(response.body):,} bytes"
                      + (f", redirected to {response.url}" if normalize_url(response.url) != url else "")
                      + (f", {decoded.replaced} bad bytes replaced in {decoded.codec}" if decoded.replaced else ""))
    links = page_links(decoded.text, response.url, source)
    result.articles = list(dict.fromkeys(links.articles))
    result.listings = list(dict.fromkeys(item.key for item in links.listings))
    result.feeds = links.feeds
    result.sitemaps = [u for u in fetcher.robots(url).sitemaps() if source.same_site(u)]
    try:
        result.article = html_to_article(decoded.text, normalize_url(response.url), source.name, source.selectors,
                                         tz=source.timezone or tz, template=template)  # as the crawl would
    except NotAnArticle as exc:
        result.listing = str(exc)
    except ExtractionError as exc:
        result.not_article = str(exc)
    return result


def _listed(title: str, items: list[str], limit: int = 15) -> list[str]:
    lines = [f"  {title} ({len(items)})" + (":" if items else "")]
    lines += [f"    {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"    … and {len(items) - limit} more")
    return lines


def report(result: Probe) -> str:
    lines = [f"{result.url}", f"  {result.fetched}"]
    if result.fetched.startswith("not fetched"):
        return "\n".join(lines)
    lines += ["", "As a listing page:"]
    lines += _listed("article links", result.articles)
    lines += _listed("next listing pages", result.listings)
    lines += _listed("feeds it advertises", result.feeds)
    lines += _listed("sitemaps robots.txt names", result.sitemaps)
    lines += ["", "As an article:"]
    if result.template is not None:
        learned = described(result.template.fields) or "none"
        lines.append(f"  read through the site's template (learned from {result.template.pages} pages): "
                     f"{len(result.template.boilerplate)} repeated blocks left out; fields where its pages hold "
                     f"them: {learned}")
    a = result.article
    if a is None and (result.listing or len(result.articles) >= LISTING_LINKS):
        why = result.listing.removeprefix("a listing page: ") or \
            f"{len(result.articles)} article links, no article of its own"
        lines.append(f"  a listing page ({why}): a crawl follows its links and never stores it as an article")
        return "\n".join(lines)
    if a is None:
        lines.append(f"  not an article: {result.not_article}")
        return "\n".join(lines)
    paragraphs = a.body.split("\n\n")
    fields = [("url", a.url), ("title", a.title), ("date", a.published_at or "(none found)"),
              ("author", a.author or "(none found)"), ("category", a.category or "(none found)"),
              ("lead", a.summary or "(none found)"),
              ("body", f"{len(paragraphs)} paragraphs, {len(a.body):,} characters")]
    for name, value in fields:
        lines.append(textwrap.fill(value, width=100, initial_indent=f"  {name:<9} ", subsequent_indent=" " * 12))
    for paragraph in paragraphs[:2] + (["…", paragraphs[-1]] if len(paragraphs) > 3 else paragraphs[2:]):
        lines.append(textwrap.fill(paragraph, width=100, initial_indent=" " * 12, subsequent_indent=" " * 12,
                                   max_lines=3, placeholder=" …"))
    return "\n".join(lines)
