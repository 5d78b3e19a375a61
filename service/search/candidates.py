"""The candidate lists that need a whole index version: passages near the query vector (filters
applied by the lexical index's fields), and the word frequencies that decide which words are
worth matching. The lexical lists themselves are the version's (indexer/version/lexical.py)."""
from __future__ import annotations

import numpy as np

from indexer.models import Candidate, Filters
from indexer.version.lexical import LexicalIndex
from indexer.version.reader import ServedVersion
from service.search.query import ParsedQuery


def dense_candidates(index: ServedVersion, query_vector: np.ndarray, filters: Filters, depth: int) -> list[Candidate]:
    """Passages nearest to the query vector, by descending cosine, filters applied."""
    found = index.search(query_vector, depth)
    owners = index.lexical.passage_articles([pid for pid, _ in found], filters if filters.active else None)
    return [Candidate(pid, owners[pid], score) for pid, score in found if pid in owners]


def common_words(lexical: LexicalIndex, parsed: ParsedQuery, fraction: float,
                 keep: int | None = None) -> tuple[set[str], set[str]]:
    """(folded, exact) query words to leave out of the OR lists: those in more than `fraction` of
    the version's passages and, with `keep`, all but the `keep` rarest.

    Such a word's posting list is most of an OR query's cost and, on long queries, its BM25
    weight more noise than signal (docs/ranking.md). The counts are the served version's own.
    When every word is that common, the rule leaves none out.
    """
    limit = fraction * lexical.passage_count

    def left_out(words: tuple[str, ...], exact: bool) -> set[str]:
        frequency = {w: lexical.document_frequency(w, exact) for w in words}
        found = {w for w in words if frequency[w] > limit}
        if len(found) == len(words):
            found = set()
        if keep is not None:
            found |= set(sorted(words, key=frequency.__getitem__)[keep:])
        return found

    return left_out(parsed.terms, False), left_out(parsed.exact_words, True)
