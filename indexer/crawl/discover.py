"""What a listing page, a sitemap or a feed points at: article links, the next listing pages, feeds.

Pagination comes in the forms portals write: ``rel=next``; next-page words with or without arrows
(``Trang sau ›``, ``Tiếp »``, ``Xem tiếp``, ``»``, ``Cuối``); numbered page lists; page URLs
(``?page=``, ``?p=``, ``/page/N/``, ``/trang-N``, Liferay's ``…_cur=N``); and ASP.NET WebForms
``__doPostBack`` links, which are followed by posting the page's form back; "load more" buttons
whose next items come from a URL in a ``data-*`` attribute (``data-url``, ``data-href`` …); and page
URLs a listing's own script names (an infinite scroll's endpoint, ``…?page=2``).
"""
from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from indexer.crawl.sources import Source, is_pagination_url, normalize_url

# Link text of a "next", "more" or "last" page, arrows allowed on either side, or a page number.
NEXT_WORDS = re.compile(r"^[\s«»‹›<>→…]*(trang sau|trang tiếp|trang kế|tiếp theo|tiếp|kế tiếp|xem tiếp|xem thêm|"
                        r"sau|cuối|trang cuối|next|more|last|older posts|bài cũ hơn|tin cũ hơn)?[\s«»‹›<>→…]*$", re.I)
# Of those, the words that can only mean another page of the list (never "read more").
PAGE_WORDS = re.compile(r"^(trang sau|trang tiếp|trang kế|cuối|trang cuối|last|older posts|bài cũ hơn|tin cũ hơn)$",
                        re.I)
PAGE_NUMBER = re.compile(r"^\s*\[?\s*(?:trang\s+)?\d{1,4}\s*\]?\s*$", re.I)
# Class or id of an element that holds a list's page links.
PAGER = re.compile(r"pag(?:ing|ination|er|e-?nav|e-?numbers|elist)|phan-?trang|chuyen-?trang|nav-links", re.I)
POSTBACK = re.compile(r"__doPostBack\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)")
# Text, class or id of a control that loads the next items of a list in place.
LOAD_MORE = re.compile(r"xem thêm|tải thêm|xem tiếp|tin cũ hơn|load[-_ ]?more|show[-_ ]?more|more|next|infinite", re.I)
# A quoted same-site address in a script.
SCRIPT_URL = re.compile(r"""["']((?:https?://|/)[^"'\s<>]+)["']""")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/xml", "text/xml")
MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps protocol's own limit for an uncompressed file


@dataclass(frozen=True)
class Listing:
    """A listing page to visit: a URL, or a form posted back to it (ASP.NET pagination)."""

    url: str
    form: tuple[tuple[str, str], ...] | None = None

    @property
    def key(self) -> str:
        if self.form is None:
            return self.url
        fields = dict(self.form)
        return f"{self.url} ⟵ postback {fields.get('__EVENTTARGET', '')}:{fields.get('__EVENTARGUMENT', '')}"


@dataclass
class Links:
    """What one listing page points at."""

    articles: list[str] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)


def _is_pagination_text(text: str) -> bool:
    text = text.strip()
    return bool(text) and (bool(PAGE_NUMBER.match(text)) or bool(NEXT_WORDS.match(text)))


def _in_pager(anchor: Tag) -> bool:
    """The link sits in a pager: an element whose class or id says so."""
    for parent in anchor.parents:
        if parent.name in ("body", "html", None):
            return False
        marker = " ".join(parent.get("class") or []) + " " + (parent.get("id") or "")
        if PAGER.search(marker):
            return True
    return False


def _is_next_link(anchor: Tag, url: str, text: str, rel: list[str], source: Source) -> bool:
    """A link to another page of the same list."""
    if "next" in rel:
        return True
    if is_pagination_url(url) or (_in_pager(anchor) and not source.is_article_url(url)):
        return not text or _is_pagination_text(text)
    # A page URL of a form we do not know (/tin-tuc/p2.html): its words must say "next page" or
    # "last page"; "xem tiếp" and "tiếp" also mean "read more", so with them it must be no story.
    words = NEXT_WORDS.match(text) if text else None
    if not (words and words.group(1)):
        return False
    return bool(PAGE_WORDS.match(words.group(1))) or not source.is_article_url(url)


def _postback_form(soup: BeautifulSoup, page_url: str, target: str, argument: str) -> Listing | None:
    """The form post that an ASP.NET pager link makes: the page's hidden fields and the event."""
    form = soup.find("form")
    if form is None:
        return None
    fields = {node["name"]: node.get("value", "") for node in form.find_all("input", attrs={"type": "hidden"})
              if node.get("name")}
    fields.update({"__EVENTTARGET": target, "__EVENTARGUMENT": argument})
    action = normalize_url(form.get("action") or page_url, page_url)
    return Listing(action, tuple(sorted(fields.items())))


def _load_more(soup: BeautifulSoup, page_url: str, source: Source) -> list[Listing]:
    """Listing pages that "load more" controls fetch: a URL in a data-* attribute of an element whose
    text, class or id says "more", and pagination URLs the page's scripts name."""
    found = []
    for node in soup.find_all(True):
        values = [v for k, v in node.attrs.items() if k.startswith("data-") and isinstance(v, str)
                  and v.strip().startswith(("/", "http://", "https://", "?", "./"))]
        if not values:
            continue
        marker = " ".join([node.get_text(" ", strip=True)[:40], *(node.get("class") or []), node.get("id") or ""])
        if LOAD_MORE.search(marker):
            found += [Listing(normalize_url(v.strip(), page_url)) for v in values]
    for script in soup.find_all("script"):
        for match in SCRIPT_URL.finditer(script.string or ""):
            url = normalize_url(match.group(1), page_url)
            if is_pagination_url(url):
                found.append(Listing(url))
    return [listing for listing in found if source.same_site(listing.url) and not source.is_article_url(listing.url)]


def page_links(html: str, page_url: str, source: Source) -> Links:
    """Article links, next listing pages and advertised feeds of one listing page."""
    soup = BeautifulSoup(html, "html.parser")
    found = Links(listings=_load_more(soup, page_url, source))
    for node in soup.find_all("link", href=True):
        rel = [r.lower() for r in node.get("rel") or []]
        url = normalize_url(node["href"], page_url)
        if not source.same_site(url):
            continue
        if "next" in rel:
            found.listings.append(Listing(url))
        elif "alternate" in rel and (node.get("type") or "").lower() in FEED_TYPES:
            found.feeds.append(url)
    for anchor in soup.find_all("a", href=True):
        href, text = anchor["href"].strip(), anchor.get_text(" ", strip=True)
        rel = [r.lower() for r in anchor.get("rel") or []]
        postback = POSTBACK.search(href) or POSTBACK.search(anchor.get("onclick") or "")
        if postback:
            titled = anchor.get("title", "").lower().startswith(("trang", "page"))
            if "next" in rel or _is_pagination_text(text) or titled:
                listing = _postback_form(soup, page_url, *postback.groups())
                if listing is not None and source.same_site(listing.url):
                    found.listings.append(listing)
            continue
        if href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        url = normalize_url(href, page_url)
        if not source.same_site(url):
            continue
        if _is_next_link(anchor, url, text, rel, source):
            found.listings.append(Listing(url))
        elif source.is_article_url(url):
            found.articles.append(url)
    return found


def _unpacked(body: bytes) -> bytes:
    """A gzipped sitemap (sitemap.xml.gz) unpacked, bounded; other bodies as they are."""
    if body[:2] != b"\x1f\x8b":
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as handle:
        data = handle.read(MAX_SITEMAP_BYTES + 1)
    if len(data) > MAX_SITEMAP_BYTES:
        raise ValueError(f"gzipped sitemap larger than {MAX_SITEMAP_BYTES} bytes unpacked")
    return data


def feed_pages(body: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap or sitemap index (gzipped or not), or of an RSS
    or Atom feed (no children); a gzipped body is unpacked once."""
    data = _unpacked(body)
    head = data[:4096]
    if b"<urlset" in head or b"<sitemapindex" in head:
        return _sitemap_entries(data)
    return _feed_entries(data), []


def _sitemap_entries(data: bytes) -> tuple[list[str], list[str]]:
    from lxml import etree

    try:
        root = etree.fromstring(data, etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                                      huge_tree=False))
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        return [], []
    kind = etree.QName(root).localname.lower()
    locs = [(el.text or "").strip() for el in root.iter() if isinstance(el.tag, str)
            and etree.QName(el).localname == "loc" and (el.text or "").strip()]
    return ([], locs) if kind == "sitemapindex" else (locs, [])


def _feed_entries(body: bytes) -> list[str]:
    """Links of an RSS or Atom feed's items (feedparser copes with the malformed feeds portals serve)."""
    import feedparser

    parsed = feedparser.parse(body)
    links = []
    for entry in parsed.entries:
        link = entry.get("link") or next((x.get("href") for x in entry.get("links", []) if x.get("href")), None)
        if link:
            links.append(link.strip())
    return links


def absolute(urls: list[str], base: str) -> list[str]:
    return [normalize_url(urljoin(base, u)) for u in urls]
