"""What a person reads of a result: a snippet with the query's words marked, and an article's
text as paragraphs with the matched passage flagged."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import accumulate
from operator import sub

from indexer import text as vtext
from service.search.query import parse_query

SNIPPET_WORDS = 45
_TOKEN = re.compile(r"(\w+)")


def highlight(text: str, terms: set[str], max_words: int | None = SNIPPET_WORDS, exact: bool = False) -> str:
    """Escaped text with matched words in <mark>; cut to the densest window of max_words.

    `terms` are canonical words when `exact`, folded words otherwise. Ten of these run for every
    result page, after the query vector: hence one split and no match objects.
    """
    key = vtext.canonical_word if exact else vtext.fold_word
    parts = _TOKEN.split(text)  # separators at even positions, words at odd ones
    hits = [i for i, form in enumerate(map(key, parts[1::2])) if form in terms]
    count = len(parts) // 2
    first, last, lo, hi = 0, count, 0, len(parts)  # the window: in words, and in parts
    prefix = suffix = ""
    if max_words and count > max_words:
        # The window of max_words words holding the most matches (prefix sums; first one wins).
        flags = [0] * count
        for i in hits:
            flags[i] = 1
        running = [0, *accumulate(flags)]
        matches = list(map(sub, running[max_words:], running))
        first = matches.index(max(matches))
        last = first + max_words
        lo, hi = 2 * first + 1, 2 * last
        prefix = "… " if first > 0 else ""
        suffix = " …" if last < count else ""
    out, cursor = [prefix], lo
    for i in hits:
        if first <= i < last:
            at = 2 * i + 1
            out.append(html.escape("".join(parts[cursor:at])))
            out.append(f"<mark>{parts[at]}</mark>")  # a word: nothing in it to escape
            cursor = at + 1
    out.append(html.escape("".join(parts[cursor:hi])))
    out.append(suffix)
    return "".join(out).strip()


@dataclass
class ArticleView:
    article: dict
    paragraphs: list[tuple[str, bool]]  # (HTML, overlaps the matched passage)


def article_view(article: dict, passage: dict | None, query_text: str = "") -> ArticleView:
    """The article's text as paragraphs, query words marked and the matched passage flagged."""
    parsed = parse_query(query_text) if query_text.strip() else None
    terms = parsed.highlight_terms if parsed else set()
    span = (passage["start"], passage["end"]) if passage is not None and passage["article_id"] == article["id"] \
        else None
    doc = vtext.document_text(article["summary"], article["body"])
    paragraphs, offset = [], 0
    for part in doc.split("\n\n"):
        start = doc.index(part, offset)
        end = offset = start + len(part)
        in_match = bool(span and start < span[1] and end > span[0])
        paragraphs.append((highlight(part, terms, max_words=None, exact=bool(parsed and parsed.exact)), in_match))
    return ArticleView(article, paragraphs)
