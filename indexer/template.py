"""What a site's pages share: its template, learned from the pages themselves, not written as rules.

Pages of one portal are printed by one template. Text that repeats on most of a site's article
pages (a poll, a visit counter, the menu, a "Tin khác" heading, a footer) is the template's, not
any story's: it never enters a body, whatever element holds it. A block is compared by its
signature (lower case, digits as 0, spaces collapsed), so a visit counter that counts on from
page to page still repeats. A byline is never template, even when one reporter signs every story.

`learn` reads a sample of a source's article pages; the crawler stores the result per source
(store.source_template) and passes it to the extractor for every page of that source.
"""
from __future__ import annotations

import re
from collections import Counter
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


@dataclass(frozen=True)
class SiteTemplate:
    """The blocks a source's pages repeat, and how many pages showed it."""

    boilerplate: frozenset[str] = field(default_factory=frozenset)
    pages: int = 0

    def as_dict(self) -> dict:
        return {"boilerplate": sorted(self.boilerplate), "pages": self.pages}

    @classmethod
    def from_dict(cls, data: dict) -> SiteTemplate:
        return cls(frozenset(data.get("boilerplate", ())), int(data.get("pages", 0)))

    def is_boilerplate(self, text: str) -> bool:
        return signature(text) in self.boilerplate


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
