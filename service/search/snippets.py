"""What a person reads of a result: a snippet with the query's words marked, and an article's
text as paragraphs with the matched passage flagged."""
from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate
from operator import sub

from indexer import text as vtext
from service.search.query import Marks

SNIPPET_WORDS = 45
_TOKEN = re.compile(r"(\w+)")
_RUN_BREAK = re.compile(r"[.,;:!?()\[\]\"“”]")  # a phrase matched whole never runs across these


def highlight(text: str, marks: Marks, max_words: int | None = SNIPPET_WORDS) -> str:
    """Escaped text with what matched in <mark> (a run matched whole in one mark); cut to the
    window of max_words words holding the most marked words."""
    parts = _TOKEN.split(text)  # separators at even positions, words at odd ones
    marked, joined = _marked(parts, marks)
    count = len(marked)
    first, last, lo, hi = 0, count, 0, len(parts)  # the window: in words, and in parts
    prefix = suffix = ""
    if max_words and count > max_words:
        # The window of max_words words holding the most marks (prefix sums; first one wins).
        running = [0, *accumulate(map(int, marked))]
        matches = list(map(sub, running[max_words:], running))
        first = matches.index(max(matches))
        last = first + max_words
        lo, hi = 2 * first + 1, 2 * last
        prefix = "… " if first > 0 else ""
        suffix = " …" if last < count else ""
    out = [prefix, html.escape("".join(parts[lo:2 * first + 1]))]
    for i in range(first, last):
        opens = marked[i] and not (joined[i] and i > first)
        closes = marked[i] and not (i + 1 < last and joined[i + 1])
        out.append(("<mark>" if opens else "") + html.escape(parts[2 * i + 1]) + ("</mark>" if closes else ""))
        if i + 1 < last:
            out.append(html.escape(parts[2 * i + 2]))
    out.append(html.escape("".join(parts[2 * last:hi])) if hi > 2 * last else "")
    out.append(suffix)
    return "".join(out).strip()


def _marked(parts: list[str], marks: Marks) -> tuple[list[bool], list[bool]]:
    """(each word marked, each word's mark continuing the one before it): runs first, each only
    whole and within a sentence part; then single words, except one alone inside a name the text
    writes (its neighbour in the name not a query word too) unless the query writes it capitalised."""
    words = parts[1::2]
    folded = [vtext.fold_word(w) for w in words]
    spelled = [vtext.canonical_word(w) for w in words] if marks.exact else folded
    marked, joined = [False] * len(words), [False] * len(words)
    starts: dict[bool, dict[str, list[int]]] = {}  # where each word stands, folded or as spelled
    for keys, as_typed in marks.runs:
        seq, size = (spelled if as_typed else folded), len(keys)
        if as_typed not in starts:
            starts[as_typed] = defaultdict(list)
            for i, key in enumerate(seq):
                starts[as_typed][key].append(i)
        for i in starts[as_typed].get(keys[0], ()):
            if tuple(seq[i:i + size]) == keys and \
                    not any(_RUN_BREAK.search(parts[2 * j]) for j in range(i + 1, i + size)):
                marked[i:i + size] = [True] * size
                joined[i + 1:i + size] = [True] * (size - 1)
    # A restored spelling the text never writes is marked as it folds instead (loose).
    unwritten = {vtext.fold_word(w): w for w in marks.words - set(spelled)} if marks.loose else {}
    found = [not marked[i] and (key in marks.words or folded[i] in unwritten) for i, key in enumerate(spelled)]
    names = vtext.in_names(parts) if any(f and words[i][:1].isupper() for i, f in enumerate(found)) else None
    for i, hit in enumerate(found):
        if hit and names and names[i] and spelled[i] not in marks.proper \
                and not any(0 <= j < len(words) and found[j] and names[j] for j in (i - 1, i + 1)):
            continue  # one word lifted out of a name the text writes ("Thiên" of "Thừa Thiên Huế")
        marked[i] = marked[i] or hit
    return marked, joined


@dataclass
class ArticleView:
    article: dict
    paragraphs: list[tuple[str, bool]]  # (HTML, overlaps the matched passage)


def article_view(article: dict, passage: dict | None, marks: Marks | None = None) -> ArticleView:
    """The article's text as paragraphs, what the query matched marked (`marks`: the query as the
    search read it) and the matched passage flagged."""
    marks = marks or Marks((), frozenset())
    span = (passage["start"], passage["end"]) if passage is not None and passage["article_id"] == article["id"] \
        else None
    doc = vtext.document_text(article["summary"], article["body"])
    paragraphs, offset = [], 0
    for part in doc.split("\n\n"):
        start = doc.index(part, offset)
        end = offset = start + len(part)
        in_match = bool(span and start < span[1] and end > span[0])
        paragraphs.append((highlight(part, marks, max_words=None), in_match))
    return ArticleView(article, paragraphs)
