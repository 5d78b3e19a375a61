"""HTML page → Article, with beautifulsoup4: generic rules first, per-source CSS selectors second.

Generic rules cover what district portals publish: Open Graph and article meta tags, JSON-LD
NewsArticle, <article>, common CMS class names (sapo, detail-content, …), and text density as
the last resort. An article whose body cannot be found is an ExtractionError, never half-stored.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from indexer.dates import parse_datetime
from indexer.store import Article, now_iso
from indexer.text import clean

NOISE_TAGS = ("script", "style", "noscript", "iframe", "form", "nav", "footer", "header", "aside",
              "button", "select", "svg", "template")
# Class/id fragments of page furniture: menus, share bars, related lists, comments, footers.
NOISE_PATTERN = re.compile(
    r"(^|[-_ ])(nav|menu|breadcrumb|share|social|related|lienquan|tin-?lien-?quan|comment|binh-?luan|"
    r"footer|sidebar|banner|advert|quang-?cao|toolbar|print|tags?|pagination|paging|rating|widget|tin-?khac|"
    r"sharedaddy|sd-sharing|addtoany|a2a_kit|jp-relatedposts|post-navigation)"
    r"($|[-_ ])", re.I)
RELATED_HEADINGS = re.compile(r"^(tin|bài)\s+(liên quan|khác|cùng chuyên mục)|^các tin khác", re.I)
BODY_SELECTORS = ("[itemprop=articleBody]", ".detail-content", ".article-content", ".article-body",
                  ".news-content", ".entry-content", ".post-content", ".noidung", ".content-detail",
                  ".journal-content-article", "article", "#content", ".content")
LEAD_SELECTORS = (".sapo", ".summary", ".lead", ".article-sapo", ".chapeau", ".mota", ".tomtat",
                  "[itemprop=description]", ".excerpt")
DATE_SELECTORS = ("time[datetime]", "[itemprop=datePublished]", ".date", ".post-date", ".publish-date",
                  ".ngaydang", ".news-date", ".entry-date", ".meta-date", ".posted-on", ".entry-meta",
                  "[class*=date]", "[class*=time]", "[class*=ngay]", ".meta")
AUTHOR_SELECTORS = ("[itemprop=author]", ".author", ".byline", ".tacgia", ".post-author",
                    "[rel=author]")
MIN_BODY_CHARS = 80


class ExtractionError(ValueError):
    """The page is not an article we can store (the reason is the message)."""


@dataclass
class Selectors:
    """Per-source CSS selectors that override the generic rules (from the sources file)."""

    title: str | None = None
    date: str | None = None
    body: str | None = None
    lead: str | None = None
    author: str | None = None
    category: str | None = None
    remove: list[str] = field(default_factory=list)


def _text(node: Tag | None) -> str:
    if node is None:
        return ""
    return clean(node.get_text(" ", strip=True))


def _meta(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        node = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name}) \
            or soup.find("meta", attrs={"itemprop": name})
        if node and node.get("content", "").strip():
            return node["content"].strip()
    return ""


def _json_ld(soup: BeautifulSoup) -> dict:
    """The first NewsArticle/Article object in the page's JSON-LD, if any."""
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(script.string or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(k in ("NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle") for k in kinds):
                return item
            stack.extend(item.get("@graph", []))
    return {}


def _select_first(root: BeautifulSoup | Tag, selectors: tuple[str, ...] | list[str]) -> Tag | None:
    for selector in selectors:
        node = root.select_one(selector)
        if node is not None and node.get_text(strip=True):
            return node
    return None


def _is_noise(node: Tag) -> bool:
    marker = " ".join(node.get("class", [])) + " " + (node.get("id") or "")
    return bool(NOISE_PATTERN.search(marker))


def _strip_noise(root: Tag, extra: list[str]) -> None:
    for name in NOISE_TAGS:
        for node in root.find_all(name):
            node.decompose()
    for selector in extra:
        for node in root.select(selector):
            node.decompose()
    for node in list(root.find_all(True)):
        if not node.decomposed and node.name not in ("html", "body") and _is_noise(node):
            node.decompose()
    for heading in root.find_all(re.compile(r"^h[2-6]$")):
        if RELATED_HEADINGS.search(heading.get_text(" ", strip=True)):
            for sibling in list(heading.find_next_siblings()):
                sibling.decompose()
            heading.decompose()


def _densest_block(soup: BeautifulSoup) -> Tag | None:
    """The element whose direct paragraphs hold the most text: the body of an unknown layout."""
    best, best_score = None, 0
    for node in soup.find_all(["div", "td", "section", "article", "main"]):
        paragraphs = node.find_all(["p"], recursive=False)
        score = sum(len(p.get_text(strip=True)) for p in paragraphs)
        if not paragraphs:
            score = len(node.find(string=True, recursive=False) or "")
        if score > best_score:
            best, best_score = node, score
    return best


def _paragraphs(node: Tag) -> list[str]:
    """Block-level text in reading order; captions kept, link lists dropped."""
    blocks = node.find_all(["p", "h2", "h3", "h4", "li", "figcaption", "blockquote", "td"])
    out: list[str] = []
    if not blocks:
        return [t for t in (clean(s) for s in node.get_text("\n").split("\n")) if t]
    for block in blocks:
        if block.find(["p", "li", "td", "blockquote"]):  # a container: its children are listed
            continue
        text = _text(block)
        if not text:
            continue
        links = sum(len(a.get_text(strip=True)) for a in block.find_all("a"))
        if block.name == "li" and links >= 0.8 * len(text):
            continue
        if not out or out[-1] != text:
            out.append(text)
    return out


def _clean_title(title: str, site_name: str) -> str:
    for sep in (" | ", " - ", " – ", " :: "):
        if sep in title:
            head, tail = title.rsplit(sep, 1)
            if (site_name and site_name.lower() in tail.lower()) or "cổng thông tin" in tail.lower():
                return head.strip()
    return title.strip()


def extract_article(html: str, url: str, source: str, selectors: Selectors | None = None,
                    tz: str = "Asia/Ho_Chi_Minh") -> Article:
    """Parse one article page; raises ExtractionError with the reason when it is not one."""
    selectors = selectors or Selectors()
    soup = BeautifulSoup(html, "html.parser")
    ld = _json_ld(soup)
    site_name = _meta(soup, "og:site_name")

    canonical = soup.find("link", attrs={"rel": "canonical"})
    canonical_url = urljoin(url, canonical["href"]) if canonical and canonical.get("href") else url

    title = ""
    if selectors.title:
        title = _text(soup.select_one(selectors.title))
    title = title or clean(_meta(soup, "og:title") or str(ld.get("headline") or ""))
    if not title:
        title = _text(soup.find("h1"))
    if not title and soup.title:
        title = _text(soup.title)
    title = _clean_title(title, site_name)

    published = None
    candidates = []
    if selectors.date:
        node = soup.select_one(selectors.date)
        candidates.append(node.get("datetime") or _text(node) if node else "")
    candidates += [_meta(soup, "article:published_time", "datePublished", "pubdate", "date"),
                   str(ld.get("datePublished") or "")]
    for selector in DATE_SELECTORS:  # every match, in order, until one holds a date
        for node in soup.select(selector)[:5]:
            candidates += [node.get("datetime") or "", _text(node)]
    for candidate in candidates:
        published = parse_datetime(candidate, tz) if candidate else None
        if published:
            break

    ld_author = ld.get("author")
    if isinstance(ld_author, list):
        ld_author = ld_author[0] if ld_author else None
    if isinstance(ld_author, dict):
        ld_author = ld_author.get("name")
    author = clean(str(ld_author or "")) or clean(_meta(soup, "author", "article:author"))
    author_node = soup.select_one(selectors.author) if selectors.author else _select_first(soup, AUTHOR_SELECTORS)
    if author_node is not None:
        author = _text(author_node) if selectors.author else author or _text(author_node)
        author_node.decompose()  # a byline is metadata, not body text

    category = ""
    if selectors.category:
        category = _text(soup.select_one(selectors.category))
    if not category:
        crumbs = soup.select(".breadcrumb a, .breadcrumbs a, .duongdan a, .path a, "
                             "[itemtype$=BreadcrumbList] [itemprop=name]")
        names = [_text(c) for c in crumbs if _text(c) and _text(c).lower() not in ("trang chủ", "home")]
        category = names[-1] if names else clean(_meta(soup, "article:section") or str(ld.get("articleSection") or ""))
    if not category:  # WordPress-style category links
        category = _text(_select_first(soup, ("a[rel~=category]", ".cat-links a", ".category a",
                                              "[itemprop=articleSection]")))

    lead_node = soup.select_one(selectors.lead) if selectors.lead else _select_first(soup, LEAD_SELECTORS)
    lead = _text(lead_node)
    if lead_node is not None:
        lead_node.decompose()
    lead = lead or clean(_meta(soup, "og:description", "description") or str(ld.get("description") or ""))

    body_node = soup.select_one(selectors.body) if selectors.body else None
    if body_node is None:
        body_node = _select_first(soup, BODY_SELECTORS)
    if body_node is None:
        body_node = _densest_block(soup)
    if body_node is None:
        raise ExtractionError("no article body found")
    _strip_noise(body_node, selectors.remove)
    for h1 in body_node.find_all("h1"):
        h1.decompose()
    paragraphs = [p for p in _paragraphs(body_node) if p != lead and p != title]
    # Date and byline lines inside the body are metadata, not text.
    paragraphs = [p for p in paragraphs if not (len(p) < 60 and parse_datetime(p, tz))]
    body = "\n\n".join(paragraphs)
    if not body and ld.get("articleBody"):
        body = clean(str(ld["articleBody"]))
    if len(body) < MIN_BODY_CHARS:
        raise ExtractionError(f"article body too short ({len(body)} characters)")
    if not title:
        raise ExtractionError("no title found")
    return Article(url=canonical_url, source=source, title=title, summary=lead, body=body,
                   author=author, published_at=published, category=category, fetched_at=now_iso())
