"""What a site's pages share: its template, learned from the pages themselves, not written as rules.

Pages of one portal are printed by one template. Text that repeats on most of a site's article
pages (a poll, a visit counter, the menu, a "Tin khác" heading, a footer) is the template's, not
any story's: it never enters a body, whatever element holds it. A block is compared by its
signature (lower case, digits as 0, spaces collapsed), so a visit counter that counts on from
page to page still repeats. A byline is never template, even when one reporter signs every story.

Where its pages agree, a template also knows which element holds each field: the headline, the
lead, the byline and the body, as a CSS path (tag and classes, up to three levels) that the
per-page extractor's own result points to on most of the sample, and that gives the same result
again when the sample is extracted with it. Every later page of the site is read through those
paths (a source's configured selectors still win); a page they do not fit is extracted alone.

`learn` reads a sample of a source's article pages, `learn_fields` what the extractor made of
them; the crawler stores the result per source (store.source_template) and passes it to the
extractor for every page of that source.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag

from indexer.text import clean

# Elements that start a block of their own: an element with none of these inside is a leaf block.
BLOCK_TAGS = frozenset(("p", "div", "td", "th", "li", "ul", "ol", "table", "tr", "tbody", "section", "article",
                        "main", "aside", "header", "footer", "nav", "h1", "h2", "h3", "h4", "h5", "h6",
                        "blockquote", "dl", "dd", "dt", "form", "figure", "figcaption", "center"))
SKIPPED = ("script", "style", "noscript", "template")
MIN_PAGES = 3            # a template is learned from at least this many pages
REPEATED_SHARE = 0.5     # a block on at least this share of them (and on MIN_PAGES) is the template's
MAX_BLOCKS = 2000        # signatures kept: a template is the site's furniture, never its archive
AGREEMENT = 0.75         # a field's path is learned where this share of the sample (and MIN_PAGES) agree on it
PATH_DEPTH = 3           # levels of a learned path: enough to be the site's, few enough to survive a redesign
# The Article attribute each learnable field fills (Selectors' names).
FIELDS = {"title": "title", "lead": "summary", "author": "author", "body": "body"}
_CSS_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


@dataclass(frozen=True)
class SiteTemplate:
    """The blocks a source's pages repeat, and how many pages showed it."""

    boilerplate: frozenset[str] = field(default_factory=frozenset)
    pages: int = 0
    fields: dict[str, str] = field(default_factory=dict)  # Selectors' field name → the CSS path learned

    def as_dict(self) -> dict:
        return {"boilerplate": sorted(self.boilerplate), "pages": self.pages, "fields": self.fields}

    @classmethod
    def from_dict(cls, data: dict) -> SiteTemplate:
        return cls(frozenset(data.get("boilerplate", ())), int(data.get("pages", 0)), dict(data.get("fields", {})))

    def is_boilerplate(self, text: str) -> bool:
        return signature(text) in self.boilerplate


def described(fields: dict[str, str]) -> str:
    """Fields read through a template, each with its path, as reports show them."""
    return ", ".join(f"{name} `{path}`" for name, path in fields.items())


def signature(text: str) -> str:
    """'Hôm nay: 1.234' and 'Hôm nay: 1.240' alike: lower case, digits as 0, spaces collapsed."""
    return re.sub(r"\d+", "0", clean(text).lower())


def leaf_blocks(soup: BeautifulSoup | Tag) -> list[Tag]:
    """Elements with text and no block-level element inside: the page's smallest blocks (one pass,
    descendants before their ancestors)."""
    nodes = soup.find_all(True)
    holds_block: dict[int, bool] = {}
    leaves = []
    for node in reversed(nodes):
        inner = any(child.name in BLOCK_TAGS or holds_block.get(id(child), False)
                    for child in node.children if isinstance(child, Tag))
        holds_block[id(node)] = inner
        if node.name in BLOCK_TAGS and not inner and node.get_text(strip=True):
            leaves.append(node)
    hidden = {id(inner) for name in SKIPPED for node in soup.find_all(name) for inner in node.find_all(True)}
    return [node for node in reversed(leaves) if id(node) not in hidden]


def page_signatures(html: str) -> set[str]:
    soup = BeautifulSoup(html, "html.parser")
    return {signature(node.get_text(" ", strip=True)) for node in leaf_blocks(soup)}


def learn(pages: list[str]) -> SiteTemplate | None:
    """The template of these pages of one site (their HTML), or None from fewer than MIN_PAGES."""
    if len(pages) < MIN_PAGES:
        return None
    seen = Counter(sig for html in pages for sig in page_signatures(html) if sig)
    needed = max(MIN_PAGES, REPEATED_SHARE * len(pages))
    repeated = [sig for sig, count in seen.most_common(MAX_BLOCKS) if count >= needed]
    return SiteTemplate(frozenset(repeated), len(pages))


def css_path(node: Tag) -> str:
    """The element as tag, id and classes, with up to PATH_DEPTH - 1 ancestors ('div.detail > h1');
    an id or class with a digit (a story's number) or a character CSS would need escaped is left out."""
    parts = []
    while node is not None and node.name not in ("body", "html", "[document]") and len(parts) < PATH_DEPTH:
        ident = node.get("id")
        names = [f"#{ident}"] if isinstance(ident, str) and _stable(ident) else []
        names += [f".{c}" for c in node.get("class") or () if _stable(c)]
        parts.append(node.name + "".join(names))
        node = node.parent
    return " > ".join(reversed(parts))


def _named(node: Tag) -> bool:
    """The element or its parent has an id or a class of its own: a lead or a byline is read only
    through an element the site names, never as "the first bold line" of the page, which a later
    story may print elsewhere."""
    return any(_stable(str(value)) for element in (node, node.parent) if element is not None
               for value in [element.get("id") or "", *(element.get("class") or ())])


def _stable(name: str) -> bool:
    return bool(_CSS_NAME.match(name)) and not any(ch.isdigit() for ch in name)


def _holder(soup: BeautifulSoup, name: str, value: str) -> Tag | None:
    """The element of the page that holds a field's value as the extractor found it: the innermost
    element whose text is the headline or the lead, or that holds the byline and little besides;
    for the body, the nearest element around its first and last paragraphs."""
    root = soup.body or soup
    if name == "body":
        paragraphs = {p for p in value.split("\n\n") if p}
        held = [node for node in leaf_blocks(root) if clean(node.get_text(" ", strip=True)) in paragraphs]
        if not held:
            return None
        around = {id(parent) for parent in held[-1].parents}
        return next((node for node in [held[0], *held[0].parents] if id(node) in around or node is held[-1]), None)
    found = None
    for node in root.find_all(True):  # document order: an element before the elements inside it
        text = clean(node.get_text(" ", strip=True))
        holds = value in text and len(text) <= len(value) + 40 if name == "author" else text == value
        if holds:
            found = node
            if node.find(True) is None:  # nothing further inside
                break
    return found


def _path(soup: BeautifulSoup, name: str, value: str) -> str:
    """The path of the field's holder on this page, where it names that element alone ('' else)."""
    node = _holder(soup, name, value) if value else None
    if node is None or (name in ("lead", "author") and not _named(node)):
        return ""
    path = css_path(node)
    return path if len(soup.select(path)) == 1 else ""


def learn_fields(pages: list[tuple[str, str]], extract: Callable[[str, str, dict[str, str]], object | None]
                 ) -> dict[str, str]:
    """The CSS path of each field that the sample pages ((url, html) each) agree on: `extract(url,
    html, paths)` is the page's article as the extractor makes it with these paths as selectors ({}
    for its own rules), or None where it finds none. A path is learned where it points at the
    field's holder on AGREEMENT of the pages, names that one element on each (a lead's or byline's
    element named by the site: `_named`), and extracting them through all the paths learned gives
    those fields again."""
    if len(pages) < MIN_PAGES:
        return {}
    needed = max(MIN_PAGES, AGREEMENT * len(pages))
    found = [(url, html, article) for url, html in pages if (article := extract(url, html, {})) is not None]
    soups = [BeautifulSoup(html, "html.parser") for _, html, _ in found]
    candidates = {}
    for name, attribute in FIELDS.items():
        paths = Counter(path for soup, (_, _, article) in zip(soups, found)
                        if (path := _path(soup, name, getattr(article, attribute))))
        path, count = paths.most_common(1)[0] if paths else ("", 0)
        if count >= needed:
            candidates[name] = path
    agreed = Counter()
    for url, html, article in found:
        again = extract(url, html, candidates) if candidates else None
        for name, attribute in FIELDS.items():
            if name in candidates and again is not None and getattr(again, attribute) == getattr(article, attribute):
                agreed[name] += 1
    return {name: path for name, path in candidates.items() if agreed[name] >= needed}
