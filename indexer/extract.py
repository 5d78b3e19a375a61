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

import re
from collections import Counter
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from indexer import extract_fields as fields
from indexer.dates import parse_datetime
from indexer.html_page import (
    BODY_SELECTORS,
    RELATED_HEADINGS,
    Block,
    ExtractionError,
    NotAnArticle,
    Page,
    Selectors,
    all_emphasised,
    meta_content,
    select_first,
    strip_noise,
    text_of,
    without_selected,
)
from indexer.models import Article, now_iso
from indexer.template import SiteTemplate, leaf_blocks
from indexer.text import clean, words

COPYRIGHT = re.compile(r"^(?:bản quyền|©|copyright|ghi rõ nguồn)", re.I)
MIN_BODY_CHARS = 80
# A link whose text has this many words names a story; a page whose body lies mostly in entries of
# at least LISTING_ENTRIES such links (a link and its summary, nothing else) is a listing.
STORY_LINK_WORDS = 5
LISTING_ENTRIES = 3
LISTING_SHARE = 0.5
MAX_ENTRY_CHARS = 600  # an entry is a title, a summary and a date, never a story's whole text
ENTRY_LINK_SHARE = 0.15  # of an entry's text, its link's at least
# A body container whose text trafilatura exceeds this many times over held only part of the article.
PARTIAL_CONTAINER = 1.5
# A container holding this many times the text trafilatura finds inside it holds furniture besides.
CLUTTERED_CONTAINER = 1.3


def _blocks_from_node(node: Tag) -> list[Block]:
    """Block-level text in reading order; captions kept, link lists dropped."""
    blocks = node.find_all(["p", "h2", "h3", "h4", "li", "figcaption", "blockquote", "td"])
    if not blocks:
        return [Block(t) for t in (clean(s) for s in node.get_text("\n").split("\n")) if t]
    out: list[Block] = []
    for block in blocks:
        if block.find(["p", "li", "td", "blockquote"]):  # a container: its children are listed
            continue
        text = text_of(block)
        if not text:
            continue
        links = sum(len(a.get_text(strip=True)) for a in block.find_all("a"))
        if block.name == "li" and links >= 0.8 * len(text):
            continue
        if not out or out[-1].text != text:
            out.append(Block(text, all_emphasised(block)))
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
        return _node_blocks(without_selected(node, selectors.remove)) if node is not None else []
    without_selected(page.soup, selectors.remove)
    node = select_first(page.soup, BODY_SELECTORS)
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
    strip_noise(node)
    for h1 in node.find_all("h1"):
        h1.decompose()
    return _blocks_from_node(node)


def _without_furniture(blocks: list[Block], title: str, tz: str) -> list[Block]:
    """Cut a 'related news' tail; drop the title, date lines and copyright lines."""
    out = []
    for block in blocks:
        if RELATED_HEADINGS.search(block.text) and len(block.text) < 60:
            break
        if block.text == title or COPYRIGHT.match(block.text) or fields.BREADCRUMB.match(block.text):
            continue
        if fields.is_date_line(block.text) and parse_datetime(block.text, tz):
            continue
        out.append(block)
    return out


def _split_lead(blocks: list[Block], lead: str) -> tuple[str, list[Block]]:
    """The lead (found already, or a bold or italic first paragraph) and the body without it."""
    if lead:
        return lead, [b for b in blocks if b.text != lead and not (len(b.text) > 20 and lead.startswith(b.text))]
    if blocks and blocks[0].emphasised and len(blocks[0].text) >= fields.MIN_LEAD_CHARS and len(blocks) > 1:
        return blocks[0].text, blocks[1:]
    return "", blocks


def _split_byline(blocks: list[Block]) -> tuple[str, list[Block]]:
    """A byline among the body's last two lines (and the body without it)."""
    for position in range(len(blocks) - 1, max(-1, len(blocks) - 3), -1):
        block = blocks[position]
        found = fields.byline_of(block.text)
        if found or (position == len(blocks) - 1 and fields.looks_like_name(block)):
            return found or block.text, blocks[:position] + blocks[position + 1:]
    return "", blocks


def _words(text: str) -> str:
    return " ".join(words(text.casefold()))


def _declared_lead(page: Page, blocks: list[Block]) -> tuple[str, list[Block]]:
    """The description the page declares (Open Graph, meta, JSON-LD) as the lead, and the body
    without it: the body's first paragraph where that is the description, else the description
    where the page shows it to its readers and the body does not hold it. A teaser only the
    metadata carries, or the first paragraph cut short ("…"), is not the article's text."""
    declared = clean(meta_content(page.soup, "og:description", "description") or str(page.ld.get("description") or ""))
    words = _words(declared.rstrip(". …"))
    if not words:
        return "", blocks
    if blocks and _words(blocks[0].text) == words:
        return blocks[0].text, blocks[1:]
    if words in _words(" ".join(b.text for b in blocks)) or words not in _words(text_of(page.soup.body or page.soup)):
        return "", blocks
    return declared, blocks


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
            text = text_of(node.parent)
            if len(text) > MAX_ENTRY_CHARS or link < ENTRY_LINK_SHARE * len(text):
                break
            node = node.parent
        groups.setdefault((node.name, tuple(node.get("class") or ())), {})[id(node)] = text_of(node)
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
        text = text_of(node)
        if not node.decomposed and template.is_boilerplate(text) and not fields.byline_of(text):
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
    title = fields.title_of(page, selectors)
    published = fields.published_of(page, selectors, tz)
    category = fields.category_of(page, selectors)
    author = fields.author_of(page, selectors)
    lead = fields.lead_of(page, selectors)
    _without_template(page, template)
    blocks = _without_furniture(_body_blocks(page, selectors), title, tz)
    listing = _listing_reason(page.soup, blocks)
    if listing:
        raise NotAnArticle(listing)
    lead, blocks = _split_lead(blocks, lead)
    byline, blocks = _split_byline(blocks)
    author = author or byline
    if not lead:
        lead, blocks = _declared_lead(page, blocks)
    body = "\n\n".join(b.text for b in blocks if b.text != lead)
    if not body and page.ld.get("articleBody"):
        body = clean(str(page.ld["articleBody"]))
    if len(body) < MIN_BODY_CHARS:
        raise ExtractionError(f"article body too short ({len(body)} characters)")
    if not title:
        raise ExtractionError("no title found")
    return Article(url=canonical_url, source=source, title=title, summary=lead, body=body,
                   author=author, published_at=published, category=category, fetched_at=now_iso(),
                   site_name=fields.portal_name(page))
