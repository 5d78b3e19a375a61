"""HTML page → Article: per-source CSS selectors first, then well-known CMS markup, then trafilatura.

Metadata comes from what pages declare (Open Graph and article meta tags, JSON-LD, breadcrumbs),
then from the page's own lines (``Ngày đăng: 28/12/2020 | Chuyên mục: …`` after the headline),
then htmldate. The body comes from a per-source selector, a well-known CMS body container
(``.detail-content``, ``.entry-content``, Liferay's ``.journal-content-article`` …), or else from
trafilatura's main-text extraction, which generalises to layouts nobody wrote rules for. On top
of any of them run the Vietnamese rules: a lead in a ``sapo``/``tomtat``/``mota`` block or a bold
or italic first paragraph, bylines (``Tin, ảnh: …``, ``PV``, ``Theo …``, a short bold last line),
date lines, and "related news" tails. An article whose body cannot be found is an
ExtractionError, never half-stored.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from indexer.dates import parse_datetime
from indexer.models import Article, now_iso
from indexer.template import SiteTemplate, leaf_blocks
from indexer.text import clean

NOISE_TAGS = ("script", "style", "noscript", "iframe", "form", "nav", "footer", "header", "aside",
              "button", "select", "svg", "template")
# Class/id fragments of page furniture: menus, share bars, related lists, comments, footers.
NOISE_PATTERN = re.compile(
    r"(^|[-_ ])(nav|menu|breadcrumb|share|social|related|lienquan|tin-?lien-?quan|comment|binh-?luan|"
    r"footer|sidebar|banner|advert|quang-?cao|toolbar|print|tags?|pagination|paging|rating|widget|tin-?khac|"
    r"sharedaddy|sd-sharing|addtoany|a2a_kit|jp-relatedposts|post-navigation)"
    r"($|[-_ ])", re.I)
# A heading or short line after which a page lists other articles, not this one's text.
RELATED_HEADINGS = re.compile(r"^(tin|bài|các tin|các bài)\s+(liên quan|khác|cùng chuyên mục|đã đưa)|"
                              r"^(xem thêm|đọc thêm)\s*:?$|^các tin khác", re.I)
# Body containers that Vietnamese portal CMSs name this way; a generic <article> or #content is
# left to trafilatura, which finds the text inside it better than taking all of it.
BODY_SELECTORS = ("[itemprop=articleBody]", ".detail-content", ".article-content", ".article-body",
                  ".news-content", ".entry-content", ".post-content", ".noidung", ".content-detail",
                  ".journal-content-article", ".chitiet-noidung", ".news-detail-content", ".ArticleContent",
                  ".detail__content", ".fck_detail", ".box-content-detail")
LEAD_SELECTORS = (".sapo", ".summary", ".lead", ".article-sapo", ".chapeau", ".mota", ".tomtat", ".trichdan",
                  ".description",
                  "[itemprop=description]", ".excerpt", "[class*=sapo]", "[class*=tomtat]", "[class*=tom-tat]",
                  "[class*=mo-ta]", "[class*=summary]", "[id*=sapo]", "[id*=summary]",
                  "[id*=tomtat]")
MAX_LEAD_CHARS = 800
MAX_BYLINE_CHARS = 100
HEADLINE_LINES = 40  # lines after the headline searched for a date or category line
DATE_SELECTORS = ("time[datetime]", "[itemprop=datePublished]", ".date", ".post-date", ".publish-date",
                  ".ngaydang", ".news-date", ".entry-date", ".meta-date", ".posted-on", ".entry-meta",
                  "[class*=date]", "[class*=time]", "[class*=ngay]", ".meta")
AUTHOR_SELECTORS = ("[itemprop=author]", ".author", ".byline", ".tacgia", ".post-author", "[rel=author]",
                    "[class*=author]", "[class*=tacgia]", "[class*=tac-gia]")
# Elements whose text is the story's headline, when no meta tag or <h1> gives it.
TITLE_SELECTORS = ("[itemprop=headline]", "h1", "[class*=title] b", "[class*=title]", "[class*=tieude]",
                   "[class*=headline]", "h2")
# A document title that names the site, not the story.
PORTAL_NAME = re.compile(r"^(cổng thông tin|cổng ttđt|trang thông tin|trang tin điện tử)\b", re.I)
SITE_NAME = re.compile(r"^(cổng thông tin|cổng ttđt|trang thông tin|trang chủ|website|ủy ban nhân dân|ubnd)\b", re.I)
CATEGORY_SELECTORS = ("a[rel~=category]", ".cat-links a", ".category a", "[itemprop=articleSection]",
                      "[itemprop=genre]", "[class*=category] a", "[class*=category]", "[class*=chuyenmuc]",
                      "[class*=chuyen-muc]")
CATEGORY_LINE = re.compile(r"(?:chuyên mục|danh mục|chủ đề|lĩnh vực)\s*:\s*([^|•\n]{2,60})", re.I)
DATE_META = ("article:published_time", "datePublished", "pubdate", "publishdate", "date", "DC.date.issued",
             "dcterms.created")
CRUMBS = (".breadcrumb a, .breadcrumbs a, .duongdan a, .path a, .breadcrumb-item a, "
          "[itemtype$=BreadcrumbList] [itemprop=name]")
# Bylines written as the body's last line: "Tin, ảnh: Minh Anh", "Bài và ảnh: …", "PV", "Theo Báo …".
BYLINE_LABEL = re.compile(r"^(?:(?:tin|bài|ảnh|tin và ảnh|tin, ảnh|tin - ảnh|tin/ảnh|bài và ảnh|bài, ảnh|bài - ảnh|"
                          r"bài/ảnh|nhóm pv|phóng viên|tác giả|người viết|biên tập)\s*:|viết bởi|đăng bởi|bởi|by)"
                          r"\s*(.{2,60})$", re.I)
BYLINE_PV = re.compile(r"^(?:pv|ctv|btv|nhóm pv)(?:\s*\(.{0,40}\))?\.?$", re.I)
BYLINE_SOURCE = re.compile(r"^(?:theo|nguồn)\s*:?\s+[^.!?]{2,70}$", re.I)
DATE_LINE = re.compile(r"^(?:ngày đăng|đăng ngày|ngày|cập nhật|ngày cập nhật|ngày xuất bản|xuất bản|"
                       r"thời gian|đăng lúc|posted|thứ\s+\w+|chủ nhật)\b", re.I)
COPYRIGHT = re.compile(r"^(?:bản quyền|©|copyright|ghi rõ nguồn)", re.I)
# A breadcrumb or menu line: "Trang chủ » Nông nghiệp", "Trang chủ | Tin tức".
BREADCRUMB = re.compile(r"^(?:trang chủ|home)\s*[»>/|›]", re.I)
BREADCRUMB_TEXT = re.compile(r"^\s*(?:trang chủ|home)\s*$|^\s*(?:trang chủ|home)\s*[»>/|›]", re.I)
MIN_BODY_CHARS = 80
# A link whose text has this many words names a story; a page whose body lies mostly in entries of
# at least LISTING_ENTRIES such links (a link and its summary, nothing else) is a listing.
STORY_LINK_WORDS = 5
LISTING_ENTRIES = 3
LISTING_SHARE = 0.5
MAX_ENTRY_CHARS = 600  # an entry is a title, a summary and a date, never a story's whole text
ENTRY_LINK_SHARE = 0.15  # of an entry's text, its link's at least
MIN_LEAD_CHARS = 40
# A body container whose text trafilatura exceeds this many times over held only part of the article.
PARTIAL_CONTAINER = 1.5
# A container holding this many times the text trafilatura finds inside it holds furniture besides.
CLUTTERED_CONTAINER = 1.3


def any_case(selectors: tuple[str, ...] | str) -> tuple[str, ...] | str:
    """The selectors matching class names and attribute values in any case, as portals write them
    (``NewsAuthor``, ``BreadCrumb``): ``.x`` → ``[class~=x i]``, ``[a*=x]`` → ``[a*=x i]``."""
    if isinstance(selectors, tuple):
        return tuple(dict.fromkeys(any_case(selector) for selector in selectors))
    selectors = re.sub(r"\.([A-Za-z_][\w-]*)", r"[class~=\1 i]", selectors)
    return re.sub(r"\[([\w-]+)([*$^~|]?=)([^\]\s]+)\]", r"[\1\2\3 i]", selectors)


BODY_SELECTORS, LEAD_SELECTORS, DATE_SELECTORS, AUTHOR_SELECTORS, TITLE_SELECTORS, CATEGORY_SELECTORS, CRUMBS = (
    any_case(selectors) for selectors in (BODY_SELECTORS, LEAD_SELECTORS, DATE_SELECTORS, AUTHOR_SELECTORS,
                                          TITLE_SELECTORS, CATEGORY_SELECTORS, CRUMBS))


class ExtractionError(ValueError):
    """The page is not an article we can store (the reason is the message)."""


class NotAnArticle(ExtractionError):
    """The page is something else by its structure (a listing, a page of the site's own): skipped."""


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


@dataclass
class Block:
    """A paragraph of body text, and whether all of it is bold or italic (leads, bylines)."""

    text: str
    emphasised: bool = False


@dataclass
class Page:
    """One parsed page and what every field helper reads from it."""

    html: str
    url: str
    soup: BeautifulSoup
    ld: dict
    site_name: str

    @cached_property
    def lines_after_headline(self) -> list[str]:
        """Short text lines that follow the headline: where portals print 'Ngày đăng: …'."""
        headline = self.soup.find("h1") or self.soup.find(class_=re.compile(r"title", re.I))
        if headline is None:
            return []
        lines = []
        for string in headline.find_all_next(string=True, limit=HEADLINE_LINES * 3):
            text = clean(str(string))
            if not text or string.parent.name in ("script", "style"):
                continue
            if len(text) <= 120:
                lines.append(text)
            if len(lines) >= HEADLINE_LINES:
                break
        return lines

    @cached_property
    def body_text(self) -> str:
        """The page's visible text, as it was before any element was taken out."""
        return self.soup.body.get_text(" ", strip=True) if self.soup.body else ""

    @classmethod
    def parse(cls, html: str, url: str) -> Page:
        soup = BeautifulSoup(html, "html.parser")
        return cls(html, url, soup, _json_ld(soup), _meta(soup, "og:site_name"))


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


def _without(root: Tag, selectors: list[str]) -> Tag:
    """The root with the elements these CSS selectors match taken out (a source's `remove`)."""
    for selector in selectors:
        for node in root.select(selector):
            node.decompose()
    return root


def _strip_noise(root: Tag) -> None:
    for name in NOISE_TAGS:
        for node in root.find_all(name):
            node.decompose()
    for node in list(root.find_all(True)):
        if not node.decomposed and node.name not in ("html", "body") and _is_noise(node):
            node.decompose()
    for heading in root.find_all(re.compile(r"^h[2-6]$")):
        if RELATED_HEADINGS.search(heading.get_text(" ", strip=True)):
            for sibling in list(heading.find_next_siblings()):
                sibling.decompose()
            heading.decompose()


def _emphasised(node: Tag) -> bool:
    """All of the node's text is inside bold or italic markup."""
    text = node.get_text("", strip=True)
    marked = "".join(n.get_text("", strip=True) for n in node.find_all(["b", "strong", "i", "em"])
                     if not n.find_parent(["b", "strong", "i", "em"]) or n.parent is node)
    return bool(text) and len(marked) >= 0.9 * len(text)


# --- fields ---------------------------------------------------------------------------------
def _is_site_name(text: str, page: Page) -> bool:
    return bool(SITE_NAME.match(text)) or (bool(page.site_name) and text.lower() == page.site_name.lower())


def _without_site_suffix(title: str, page: Page) -> str:
    """'Story | Site' → 'Story': the tail names the site, or only the head is the page's headline."""
    body_text = page.body_text
    if title in body_text:
        return title
    for sep in (" | ", " - ", " – ", " :: ", " > ", " » "):
        if sep in title:
            head, tail = (part.strip() for part in title.rsplit(sep, 1))
            if _is_site_name(tail, page) or (page.site_name and page.site_name.lower() in tail.lower()) \
                    or (len(head) > 15 and head in body_text):
                return head
    return title.strip()


def _portal_name(page: Page) -> str:
    """The portal's own name: og:site_name, JSON-LD's publisher, or the document title's part that
    reads as a portal's name ('Cổng thông tin điện tử huyện …', alone or after the headline)."""
    publisher = page.ld.get("publisher")
    named = page.site_name or (clean(str(publisher.get("name") or "")) if isinstance(publisher, dict) else "")
    if named or page.soup.title is None:
        return named
    title = _text(page.soup.title)
    tails = [title.rsplit(sep, 1)[1].strip() for sep in (" | ", " - ", " – ", " :: ") if sep in title] + [title]
    return next((tail for tail in tails if PORTAL_NAME.match(tail) and len(tail) <= 120), "")


def _title(page: Page, selectors: Selectors) -> str:
    """The selector's; else what meta tags, JSON-LD or a headline element say; else the document
    title without the site's name. A candidate that is the site's name is passed over."""
    soup = page.soup

    def candidates() -> Iterator[str]:  # in order of trust, each looked at only if those before fail
        if selectors.title:
            yield _text(soup.select_one(selectors.title))
        yield _without_site_suffix(clean(_meta(soup, "og:title")), page)
        yield clean(str(page.ld.get("headline") or ""))
        yield from (_text(node) for selector in TITLE_SELECTORS[:2] for node in soup.select(selector)[:3])
        if soup.title:
            yield _without_site_suffix(_text(soup.title), page)
        yield from (_text(node) for selector in TITLE_SELECTORS[2:] for node in soup.select(selector)[:5])

    return next((t for t in candidates() if 4 <= len(t) <= 300 and not _is_site_name(t, page)), "")


def _published(page: Page, selectors: Selectors, tz: str) -> str | None:
    soup = page.soup
    if selectors.date:
        node = soup.select_one(selectors.date)
        found = parse_datetime((node.get("datetime") or _text(node)) if node else "", tz)
        if found:
            return found
    machine = [_meta(soup, *DATE_META), str(page.ld.get("datePublished") or "")]
    machine += [node.get("datetime") or node.get("content") or "" for node in
                soup.select("time[datetime], [itemprop=datePublished]")[:3]]
    for candidate in machine:
        found = parse_datetime(candidate, tz) if candidate else None
        if found:
            return found
    for line in page.lines_after_headline:
        if _is_date_line(line):
            found = parse_datetime(line, tz)
            if found:
                return found
    for selector in DATE_SELECTORS:  # every match, in order, until one holds a date
        for node in soup.select(selector)[:5]:
            for candidate in (node.get("datetime") or "", _text(node)):
                found = parse_datetime(candidate, tz) if candidate else None
                if found:
                    return found
    if "<" not in page.html:  # htmldate would take a bare URL for one to download
        return None
    from htmldate import find_date

    found = find_date(page.html, url=page.url, original_date=True, extensive_search=False)
    return parse_datetime(found, tz) if found else None


def _author(page: Page, selectors: Selectors) -> str:
    """The declared author; the byline element, if any, is taken out of the page."""
    ld_author = page.ld.get("author")
    if isinstance(ld_author, list):
        ld_author = ld_author[0] if ld_author else None
    if isinstance(ld_author, dict):
        ld_author = ld_author.get("name")
    author = clean(str(ld_author or "")) or clean(_meta(page.soup, "author", "article:author"))
    if selectors.author:
        node = page.soup.select_one(selectors.author)
        if node is not None:
            author = _text(node)
            node.decompose()
        return author
    for selector in AUTHOR_SELECTORS:
        node = page.soup.select_one(selector)
        text = _text(node)
        if node is not None and 2 <= len(text) <= MAX_BYLINE_CHARS:  # longer: a container, not a byline
            author = author or _byline(text) or text
            node.decompose()  # a byline is metadata, not body text
            break
    return author


def _category(page: Page, selectors: Selectors) -> str:
    """Selector, breadcrumb (marked up, or a 'Trang chủ » …' line), a 'Chuyên mục: …' line, meta
    tags, category links."""
    soup = page.soup
    if selectors.category:
        category = _text(soup.select_one(selectors.category))
        if category:
            return category
    names = [_text(c) for c in soup.select(CRUMBS)]
    names = [n for n in names if n and n.lower() not in ("trang chủ", "home", "trang chu")]
    if names:
        return names[-1]
    for string in soup.find_all(string=BREADCRUMB_TEXT):
        holder = string.find_parent(["div", "li", "ol", "ul", "td", "p", "nav", "span"]) or string.parent
        holder = holder.find_parent(["div", "ol", "ul", "td", "p", "nav"]) if holder.name == "li" else holder
        line = _text(holder)
        parts = [p.strip() for p in re.split(r"\s*[»>/›]\s*", line) if p.strip()]
        if len(line) < 200 and len(parts) > 1 and BREADCRUMB.match(line):  # "|" separates menus, not crumbs
            return parts[-1]
    for line in page.lines_after_headline:
        match = CATEGORY_LINE.search(line)
        if match:
            return match.group(1).strip()
    category = clean(_meta(soup, "article:section") or str(page.ld.get("articleSection") or ""))
    if category:
        return category
    for selector in CATEGORY_SELECTORS:
        for node in soup.select(selector)[:3]:
            text = CATEGORY_LINE.sub(r"\1", _text(node)).strip()
            if 2 <= len(text) <= 60:
                return text
    return ""


def _lead_node(page: Page, selectors: Selectors) -> str:
    """The lead from its own element (taken out of the page), or ''."""
    if selectors.lead:
        candidates = page.soup.select(selectors.lead)[:1]
    else:
        candidates = [node for selector in LEAD_SELECTORS for node in page.soup.select(selector)[:2]]
    for node in candidates:
        lead = _text(node)
        links = sum(len(a.get_text(strip=True)) for a in node.find_all("a"))
        if selectors.lead or (MIN_LEAD_CHARS // 2 <= len(lead) <= MAX_LEAD_CHARS and links < 0.5 * len(lead)):
            node.decompose()
            return lead
    return ""


def _byline(line: str) -> str:
    """The author a byline line names ('Tin, ảnh: Minh Anh' → 'Minh Anh'), or ''."""
    line = line.strip()
    match = BYLINE_LABEL.match(line)
    if match:
        return match.group(1).strip(" .")
    if BYLINE_PV.match(line) or BYLINE_SOURCE.match(line):
        return line.rstrip(" .")
    return ""


def _looks_like_name(block: Block) -> bool:
    """A last line that is a byline ('Thanh Tâm'): short and emphasised, or two to four capitalised
    words, without sentence punctuation."""
    words = block.text.split()
    if re.search(r"[.!?:;,]$|\d", block.text):
        return False
    capitalised = 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words if w not in ("-", "–", "và"))
    return (block.emphasised and 1 <= len(words) <= 6) or capitalised


# --- body -----------------------------------------------------------------------------------
def _blocks_from_node(node: Tag) -> list[Block]:
    """Block-level text in reading order; captions kept, link lists dropped."""
    blocks = node.find_all(["p", "h2", "h3", "h4", "li", "figcaption", "blockquote", "td"])
    if not blocks:
        return [Block(t) for t in (clean(s) for s in node.get_text("\n").split("\n")) if t]
    out: list[Block] = []
    for block in blocks:
        if block.find(["p", "li", "td", "blockquote"]):  # a container: its children are listed
            continue
        text = _text(block)
        if not text:
            continue
        links = sum(len(a.get_text(strip=True)) for a in block.find_all("a"))
        if block.name == "li" and links >= 0.8 * len(text):
            continue
        if not out or out[-1].text != text:
            out.append(Block(text, _emphasised(block)))
    return out


def _visible_length(text: str) -> int:
    return len("".join(text.split()))


def _blocks_from_trafilatura(html: str, url: str) -> list[Block]:
    """Main text as trafilatura finds it, formatting kept to tell bold leads and bylines."""
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(html, url=url or None, output_format="xml", include_formatting=True, favor_precision=True,
                              include_comments=False, include_tables=True, include_images=False,
                              deduplicate=False)
    if not xml:
        return []
    main = etree.fromstring(xml.encode()).find("main")
    if main is None:
        return []
    out: list[Block] = []
    for element in main.iter("p", "head", "item", "quote", "row", "hi"):
        if element.tag == "hi" and element.getparent().tag not in ("main", "cell"):
            continue  # inline emphasis: part of its paragraph
        if element.tag in ("p", "quote", "row") and \
                any(element.find(f".//{inner}") is not None for inner in ("row", "p", "head", "list", "quote")):
            continue  # a container: its parts are blocks of their own
        text = clean(" ".join(t.strip() for t in element.itertext()))
        if not text:
            continue
        marked = "".join("".join(h.itertext()) for h in element.iter("hi") if h.getparent().tag != "hi")
        emphasised = element.tag == "hi" or _visible_length(marked) >= 0.9 * _visible_length(text)
        out.append(Block(text, emphasised))
    return out


def _densest_block(soup: BeautifulSoup) -> Tag | None:
    """The element whose direct paragraphs hold the most text: the last resort of an unknown layout."""
    best, best_score = None, 0
    for node in soup.find_all(["div", "td", "section", "article", "main"]):
        paragraphs = node.find_all(["p"], recursive=False)
        score = sum(len(p.get_text(strip=True)) for p in paragraphs)
        if not paragraphs:
            score = len(node.find(string=True, recursive=False) or "")
        if score > best_score:
            best, best_score = node, score
    return best


def _text_length(blocks: list[Block]) -> int:
    return sum(len(b.text) for b in blocks)


def _body_blocks(page: Page, selectors: Selectors) -> list[Block]:
    """The source's selector; else a well-known body container, unless trafilatura finds far more
    text in more paragraphs (the container held only part of the article) or finds its text inside
    a container that holds far more (the rest is furniture); else trafilatura; else the densest block."""
    if selectors.body:
        node = page.soup.select_one(selectors.body)
        return _node_blocks(_without(node, selectors.remove)) if node is not None else []
    _without(page.soup, selectors.remove)
    node = _select_first(page.soup, BODY_SELECTORS)
    found = _blocks_from_trafilatura(str(page.soup), page.url)
    if node is not None:
        own = _node_blocks(node)
        partial = _text_length(found) > PARTIAL_CONTAINER * _text_length(own) and len(found) > len(own)
        cluttered = _text_length(own) > CLUTTERED_CONTAINER * _text_length(found) >= MIN_BODY_CHARS \
            and _share_inside(found, own) >= 0.9
        if not partial and not cluttered:
            return own
    if _text_length(found) >= MIN_BODY_CHARS:
        return found
    node = _densest_block(page.soup)
    return _node_blocks(node) if node is not None else []


def _share_inside(blocks: list[Block], container: list[Block]) -> float:
    """The share of these blocks' words that the container's text holds too."""
    inside = set(" ".join(b.text for b in container).lower().split())
    words = " ".join(b.text for b in blocks).lower().split()
    return sum(w in inside for w in words) / len(words) if words else 0.0


def _node_blocks(node: Tag) -> list[Block]:
    _strip_noise(node)
    for h1 in node.find_all("h1"):
        h1.decompose()
    return _blocks_from_node(node)


def _is_date_line(line: str) -> bool:
    """A line that is a date and little else ('Ngày đăng: 28/12/2020 | Chuyên mục: Kinh tế'), not a
    sentence that starts with one ('Ngày 23/5/2021, hơn 95.000 cử tri …')."""
    if len(line) > 120:
        return False
    rest = CATEGORY_LINE.sub(" ", DATE_LINE.sub(" ", line))
    rest = re.sub(r"\d+|[/:.,|()\-–—]|\b(?:lúc|ngày|tháng|năm|giờ|sa|ch|am|pm|gmt|\+07)\b", " ", rest, flags=re.I)
    return len(rest.split()) <= 3


def _without_furniture(blocks: list[Block], title: str, tz: str) -> list[Block]:
    """Cut a 'related news' tail; drop the title, date lines and copyright lines."""
    out = []
    for block in blocks:
        if RELATED_HEADINGS.search(block.text) and len(block.text) < 60:
            break
        if block.text == title or COPYRIGHT.match(block.text) or BREADCRUMB.match(block.text):
            continue
        if _is_date_line(block.text) and parse_datetime(block.text, tz):
            continue
        out.append(block)
    return out


def _split_lead(blocks: list[Block], lead: str) -> tuple[str, list[Block]]:
    """The lead (found already, or a bold or italic first paragraph) and the body without it."""
    if lead:
        return lead, [b for b in blocks if b.text != lead and not (len(b.text) > 20 and lead.startswith(b.text))]
    if blocks and blocks[0].emphasised and len(blocks[0].text) >= MIN_LEAD_CHARS and len(blocks) > 1:
        return blocks[0].text, blocks[1:]
    return "", blocks


def _split_byline(blocks: list[Block]) -> tuple[str, list[Block]]:
    """A byline among the body's last two lines (and the body without it)."""
    for position in range(len(blocks) - 1, max(-1, len(blocks) - 3), -1):
        block = blocks[position]
        found = _byline(block.text)
        if found or (position == len(blocks) - 1 and _looks_like_name(block)):
            return found or block.text, blocks[:position] + blocks[position + 1:]
    return "", blocks


def _story_links(node: Tag) -> list[Tag]:
    return [a for a in node.find_all("a", href=True) if len(a.get_text(" ", strip=True).split()) >= STORY_LINK_WORDS]


def _entries(soup: BeautifulSoup) -> list[str]:
    """Texts of the page's listing entries: for each story link, the largest element around it that
    holds no other story link and little text besides (a title, a summary and a date); kept where
    at least LISTING_ENTRIES entries are alike (the same tag and classes), as a listing repeats them."""
    groups: dict[tuple, dict[int, str]] = {}
    links = _story_links(soup)
    within: Counter = Counter(id(parent) for anchor in links for parent in anchor.parents)  # story links inside
    for anchor in links:
        node, link = anchor, len(anchor.get_text(" ", strip=True))
        while node.parent is not None and node.parent.name not in ("body", "html", "[document]") \
                and within[id(node.parent)] == 1:
            text = _text(node.parent)
            if len(text) > MAX_ENTRY_CHARS or link < ENTRY_LINK_SHARE * len(text):
                break
            node = node.parent
        groups.setdefault((node.name, tuple(node.get("class") or ())), {})[id(node)] = _text(node)
    return [text for group in groups.values() if len(group) >= LISTING_ENTRIES for text in group.values()]


def _listing_reason(soup: BeautifulSoup, blocks: list[Block]) -> str:
    """Why the page is a listing, not an article ('' when it is not): most of its body is alike
    entries that each link to another story."""
    entries = _entries(soup)
    inside = [b for b in blocks if any(b.text in entry for entry in entries)]
    share = _text_length(inside) / max(1, _text_length(blocks))
    if not entries or share < LISTING_SHARE:
        return ""
    return f"a listing page: {share:.0%} of its main text is {len(entries)} entries linking to other stories"


def _without_template(page: Page, template: SiteTemplate | None) -> int:
    """Take out of the page every block its site repeats on most pages (bylines kept); how many."""
    if template is None or not template.boilerplate:
        return 0
    dropped = 0
    for node in leaf_blocks(page.soup):
        text = _text(node)
        if not node.decomposed and template.is_boilerplate(text) and not _byline(text):
            node.decompose()
            dropped += 1
    return dropped


def extract_article(html: str, url: str, source: str, selectors: Selectors | None = None,
                    tz: str = "Asia/Ho_Chi_Minh", template: SiteTemplate | None = None) -> Article:
    """Parse one article page; raises ExtractionError with the reason when it is not one. With the
    site's `template`, the blocks it repeats on most pages never enter the body."""
    selectors = selectors or Selectors()
    page = Page.parse(html, url)
    canonical = page.soup.find("link", attrs={"rel": "canonical"})
    canonical_url = urljoin(url, canonical["href"]) if canonical and canonical.get("href") else url
    title = _title(page, selectors)
    published = _published(page, selectors, tz)
    category = _category(page, selectors)
    author = _author(page, selectors)
    lead = _lead_node(page, selectors)
    _without_template(page, template)
    blocks = _without_furniture(_body_blocks(page, selectors), title, tz)
    listing = _listing_reason(page.soup, blocks)
    if listing:
        raise NotAnArticle(listing)
    lead, blocks = _split_lead(blocks, lead)
    byline, blocks = _split_byline(blocks)
    author = author or byline
    lead = lead or clean(_meta(page.soup, "og:description", "description") or str(page.ld.get("description") or ""))
    body = "\n\n".join(b.text for b in blocks if b.text != lead)
    if not body and page.ld.get("articleBody"):
        body = clean(str(page.ld["articleBody"]))
    if len(body) < MIN_BODY_CHARS:
        raise ExtractionError(f"article body too short ({len(body)} characters)")
    if not title:
        raise ExtractionError("no title found")
    return Article(url=canonical_url, source=source, title=title, summary=lead, body=body,
                   author=author, published_at=published, category=category, fetched_at=now_iso(),
                   site_name=_portal_name(page))
