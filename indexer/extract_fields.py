"""An article page's fields besides its body: headline, date, author, category, lead and byline,
each from a source's selector first, then what the page declares (meta tags, JSON-LD,
breadcrumbs), then the page's own lines (``Ngày đăng: 28/12/2020 | Chuyên mục: …``)."""
from __future__ import annotations

import re
from collections.abc import Iterator

from indexer.dates import parse_datetime
from indexer.html_page import (
    AUTHOR_SELECTORS,
    CATEGORY_SELECTORS,
    CRUMBS,
    DATE_SELECTORS,
    LEAD_SELECTORS,
    TITLE_SELECTORS,
    Block,
    Page,
    Selectors,
    meta_content,
    text_of,
)
from indexer.text import clean

MAX_LEAD_CHARS = 800
MAX_BYLINE_CHARS = 100
# A document title that names the site, not the story.
PORTAL_NAME = re.compile(r"^(cổng thông tin|cổng ttđt|trang thông tin|trang tin điện tử)\b", re.I)
SITE_NAME = re.compile(r"^(cổng thông tin|cổng ttđt|trang thông tin|trang chủ|website|ủy ban nhân dân|ubnd)\b", re.I)
CATEGORY_LINE = re.compile(r"(?:chuyên mục|danh mục|chủ đề|lĩnh vực)\s*:\s*([^|•\n]{2,60})", re.I)
DATE_META = ("article:published_time", "datePublished", "pubdate", "publishdate", "date", "DC.date.issued",
             "dcterms.created")
# Bylines written as the body's last line: "Tin, ảnh: Minh Anh", "Bài và ảnh: …", "PV", "Theo Báo …".
BYLINE_LABEL = re.compile(r"^(?:(?:tin|bài|ảnh|tin và ảnh|tin, ảnh|tin - ảnh|tin/ảnh|bài và ảnh|bài, ảnh|bài - ảnh|"
                          r"bài/ảnh|nhóm pv|phóng viên|tác giả|người viết|biên tập)\s*:|viết bởi|đăng bởi|bởi|by)"
                          r"\s*(.{2,60})$", re.I)
BYLINE_PV = re.compile(r"^(?:pv|ctv|btv|nhóm pv)(?:\s*\(.{0,40}\))?\.?$", re.I)
BYLINE_SOURCE = re.compile(r"^(?:theo|nguồn)\s*:?\s+[^.!?]{2,70}$", re.I)
DATE_LINE = re.compile(r"^(?:ngày đăng|đăng ngày|ngày|cập nhật|ngày cập nhật|ngày xuất bản|xuất bản|"
                       r"thời gian|đăng lúc|posted|thứ\s+\w+|chủ nhật)\b", re.I)
# A breadcrumb or menu line: "Trang chủ » Nông nghiệp", "Trang chủ | Tin tức".
BREADCRUMB = re.compile(r"^(?:trang chủ|home)\s*[»>/|›]", re.I)
BREADCRUMB_TEXT = re.compile(r"^\s*(?:trang chủ|home)\s*$|^\s*(?:trang chủ|home)\s*[»>/|›]", re.I)
MIN_LEAD_CHARS = 40


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


def portal_name(page: Page) -> str:
    """The portal's own name: og:site_name, JSON-LD's publisher, or the document title's part that
    reads as a portal's name ('Cổng thông tin điện tử huyện …', alone or after the headline)."""
    publisher = page.ld.get("publisher")
    named = page.site_name or (clean(str(publisher.get("name") or "")) if isinstance(publisher, dict) else "")
    if named or page.soup.title is None:
        return named
    title = text_of(page.soup.title)
    tails = [title.rsplit(sep, 1)[1].strip() for sep in (" | ", " - ", " – ", " :: ") if sep in title] + [title]
    return next((tail for tail in tails if PORTAL_NAME.match(tail) and len(tail) <= 120), "")


def title_of(page: Page, selectors: Selectors) -> str:
    """The selector's; else what meta tags, JSON-LD or a headline element say; else the document
    title without the site's name. A candidate that is the site's name is passed over."""
    soup = page.soup

    def candidates() -> Iterator[str]:  # in order of trust, each looked at only if those before fail
        if selectors.title:
            yield text_of(soup.select_one(selectors.title))
        yield _without_site_suffix(clean(meta_content(soup, "og:title")), page)
        yield clean(str(page.ld.get("headline") or ""))
        yield from (text_of(node) for selector in TITLE_SELECTORS[:2] for node in soup.select(selector)[:3])
        if soup.title:
            yield _without_site_suffix(text_of(soup.title), page)
        yield from (text_of(node) for selector in TITLE_SELECTORS[2:] for node in soup.select(selector)[:5])

    return next((t for t in candidates() if 4 <= len(t) <= 300 and not _is_site_name(t, page)), "")


def published_of(page: Page, selectors: Selectors, tz: str) -> str | None:
    soup = page.soup
    if selectors.date:
        node = soup.select_one(selectors.date)
        found = parse_datetime((node.get("datetime") or text_of(node)) if node else "", tz)
        if found:
            return found
    machine = [meta_content(soup, *DATE_META), str(page.ld.get("datePublished") or "")]
    machine += [node.get("datetime") or node.get("content") or "" for node in
                soup.select("time[datetime], [itemprop=datePublished]")[:3]]
    for candidate in machine:
        found = parse_datetime(candidate, tz) if candidate else None
        if found:
            return found
    for line in page.lines_after_headline:
        if is_date_line(line):
            found = parse_datetime(line, tz)
            if found:
                return found
    for selector in DATE_SELECTORS:  # every match, in order, until one holds a date
        for node in soup.select(selector)[:5]:
            for candidate in (node.get("datetime") or "", text_of(node)):
                found = parse_datetime(candidate, tz) if candidate else None
                if found:
                    return found
    if "<" not in page.html:  # htmldate would take a bare URL for one to download
        return None
    from htmldate import find_date

    found = find_date(page.html, url=page.url, original_date=True, extensive_search=False)
    return parse_datetime(found, tz) if found else None


def author_of(page: Page, selectors: Selectors) -> str:
    """The declared author; the byline element, if any, is taken out of the page."""
    ld_author = page.ld.get("author")
    if isinstance(ld_author, list):
        ld_author = ld_author[0] if ld_author else None
    if isinstance(ld_author, dict):
        ld_author = ld_author.get("name")
    author = clean(str(ld_author or "")) or clean(meta_content(page.soup, "author", "article:author"))
    if selectors.author:
        node = page.soup.select_one(selectors.author)
        if node is not None:
            text = text_of(node)
            author = byline_of(text) or text  # "Tin, ảnh: Minh Anh" names Minh Anh
            node.decompose()
        return author
    for selector in AUTHOR_SELECTORS:
        node = page.soup.select_one(selector)
        text = text_of(node)
        if node is not None and 2 <= len(text) <= MAX_BYLINE_CHARS:  # longer: a container, not a byline
            author = author or byline_of(text) or text
            node.decompose()  # a byline is metadata, not body text
            break
    return author


def category_of(page: Page, selectors: Selectors) -> str:
    """Selector, breadcrumb (marked up, or a 'Trang chủ » …' line), a 'Chuyên mục: …' line, meta
    tags, category links."""
    soup = page.soup
    if selectors.category:
        category = text_of(soup.select_one(selectors.category))
        if category:
            return category
    names = [text_of(c) for c in soup.select(CRUMBS)]
    names = [n for n in names if n and n.lower() not in ("trang chủ", "home", "trang chu")]
    if names:
        return names[-1]
    for string in soup.find_all(string=BREADCRUMB_TEXT):
        holder = string.find_parent(["div", "li", "ol", "ul", "td", "p", "nav", "span"]) or string.parent
        holder = holder.find_parent(["div", "ol", "ul", "td", "p", "nav"]) if holder.name == "li" else holder
        line = text_of(holder)
        parts = [p.strip() for p in re.split(r"\s*[»>/›]\s*", line) if p.strip()]
        if len(line) < 200 and len(parts) > 1 and BREADCRUMB.match(line):  # "|" separates menus, not crumbs
            return parts[-1]
    for line in page.lines_after_headline:
        match = CATEGORY_LINE.search(line)
        if match:
            return match.group(1).strip()
    category = clean(meta_content(soup, "article:section") or str(page.ld.get("articleSection") or ""))
    if category:
        return category
    for selector in CATEGORY_SELECTORS:
        for node in soup.select(selector)[:3]:
            text = CATEGORY_LINE.sub(r"\1", text_of(node)).strip()
            if 2 <= len(text) <= 60:
                return text
    return ""


def lead_of(page: Page, selectors: Selectors) -> str:
    """The lead from its own element (taken out of the page), or ''."""
    if selectors.lead:
        candidates = page.soup.select(selectors.lead)[:1]
    else:
        candidates = [node for selector in LEAD_SELECTORS for node in page.soup.select(selector)[:2]]
    for node in candidates:
        lead = text_of(node)
        links = sum(len(a.get_text(strip=True)) for a in node.find_all("a"))
        if selectors.lead or (MIN_LEAD_CHARS // 2 <= len(lead) <= MAX_LEAD_CHARS and links < 0.5 * len(lead)):
            node.decompose()
            return lead
    return ""


def byline_of(line: str) -> str:
    """The author a byline line names ('Tin, ảnh: Minh Anh' → 'Minh Anh'), or ''."""
    line = line.strip()
    match = BYLINE_LABEL.match(line)
    if match:
        return match.group(1).strip(" .")
    if BYLINE_PV.match(line) or BYLINE_SOURCE.match(line):
        return line.rstrip(" .")
    return ""


def looks_like_name(block: Block) -> bool:
    """A last line that is a byline ('Thanh Tâm'): short and emphasised, or two to four capitalised
    words, without sentence punctuation."""
    words = block.text.split()
    if re.search(r"[.!?:;,]$|\d", block.text):
        return False
    capitalised = 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words if w not in ("-", "–", "và"))
    return (block.emphasised and 1 <= len(words) <= 6) or capitalised


def is_date_line(line: str) -> bool:
    """A line that is a date and little else ('Ngày đăng: 28/12/2020 | Chuyên mục: Kinh tế'), not a
    sentence that starts with one ('Ngày 23/5/2021, hơn 95.000 cử tri …')."""
    if len(line) > 120:
        return False
    rest = CATEGORY_LINE.sub(" ", DATE_LINE.sub(" ", line))
    rest = re.sub(r"\d+|[/:.,|()\-–—]|\b(?:lúc|ngày|tháng|năm|giờ|sa|ch|am|pm|gmt|\+07)\b", " ", rest, flags=re.I)
    return len(rest.split()) <= 3
