"""A parsed page and the markup every extraction step reads (extract.py, extract_fields.py): the
selectors of well-known CMS markup, a source's own selectors, the page's meta tags and JSON-LD,
the furniture taken out before a body is read, and the errors a page that is no article raises."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

from bs4 import BeautifulSoup, Tag

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
HEADLINE_LINES = 40  # lines after the headline searched for a date or category line
DATE_SELECTORS = ("time[datetime]", "[itemprop=datePublished]", ".date", ".post-date", ".publish-date",
                  ".ngaydang", ".news-date", ".entry-date", ".meta-date", ".posted-on", ".entry-meta",
                  "[class*=date]", "[class*=time]", "[class*=ngay]", ".meta")
AUTHOR_SELECTORS = ("[itemprop=author]", ".author", ".byline", ".tacgia", ".post-author", "[rel=author]",
                    "[class*=author]", "[class*=tacgia]", "[class*=tac-gia]")
# Elements whose text is the story's headline, when no meta tag or <h1> gives it.
TITLE_SELECTORS = ("[itemprop=headline]", "h1", "[class*=title] b", "[class*=title]", "[class*=tieude]",
                   "[class*=headline]", "h2")
CATEGORY_SELECTORS = ("a[rel~=category]", ".cat-links a", ".category a", "[itemprop=articleSection]",
                      "[itemprop=genre]", "[class*=category] a", "[class*=category]", "[class*=chuyenmuc]",
                      "[class*=chuyen-muc]")
CRUMBS = (".breadcrumb a, .breadcrumbs a, .duongdan a, .path a, .breadcrumb-item a, "
          "[itemtype$=BreadcrumbList] [itemprop=name]")


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

    def overridden(self, selectors: dict[str, str], remove: list[str]) -> Selectors:
        """These selectors with some replaced (`probe --selector field=css`) and more elements to
        take out; ValueError names a field that is none of them."""
        names = [f.name for f in fields(self) if f.name != "remove"]
        unknown = sorted(set(selectors) - set(names))
        if unknown:
            raise ValueError(f"unknown selector(s) {', '.join(unknown)}: use {', '.join(names)} (and --remove)")
        return replace(self, **selectors, remove=[*self.remove, *remove])


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
        return cls(html, url, soup, _json_ld(soup), meta_content(soup, "og:site_name"))


def text_of(node: Tag | None) -> str:
    if node is None:
        return ""
    return clean(node.get_text(" ", strip=True))


def meta_content(soup: BeautifulSoup, *names: str) -> str:
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


def select_first(root: BeautifulSoup | Tag, selectors: tuple[str, ...] | list[str]) -> Tag | None:
    for selector in selectors:
        node = root.select_one(selector)
        if node is not None and node.get_text(strip=True):
            return node
    return None


def _is_noise(node: Tag) -> bool:
    marker = " ".join(node.get("class", [])) + " " + (node.get("id") or "")
    return bool(NOISE_PATTERN.search(marker))


def without_selected(root: Tag, selectors: list[str]) -> Tag:
    """The root with the elements these CSS selectors match taken out (a source's `remove`)."""
    for selector in selectors:
        for node in root.select(selector):
            node.decompose()
    return root


def strip_noise(root: Tag) -> None:
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


def all_emphasised(node: Tag) -> bool:
    """All of the node's text is inside bold or italic markup."""
    text = node.get_text("", strip=True)
    marked = "".join(n.get_text("", strip=True) for n in node.find_all(["b", "strong", "i", "em"])
                     if not n.find_parent(["b", "strong", "i", "em"]) or n.parent is node)
    return bool(text) and len(marked) >= 0.9 * len(text)
