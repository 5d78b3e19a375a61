"""The candidate lists that need the archive or a whole index version: passages near the query
vector (filters applied in SQLite), and the word frequencies that decide which words are worth
matching. The lexical lists themselves are the version's (indexer/lexical.py)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from indexer.lexical import LexicalIndex
from indexer.models import Candidate, Filters
from indexer.vectors import LoadedIndex
from service.search.query import ParsedQuery


def passages_with_articles(conn: sqlite3.Connection, passage_ids: Iterable[int],
                           filters: Filters | None = None) -> dict[int, sqlite3.Row]:
    """Passage rows (id, article id) that exist and pass the filters.

    Articles are joined only for filters on them: a passage's article always exists (foreign
    key), and the join is most of the cost (1.5 against 0.6 ms for 300 passages). The covering
    index halves what is left: a passage's row holds its text.
    """
    ids = list(passage_ids)
    if not ids:
        return {}
    filters = filters or Filters()
    where, params = filters.sql()
    join = " JOIN articles a ON a.id = p.article_id" if filters.active else ""
    rows = conn.execute(
        f"""SELECT p.id, p.article_id FROM passages p INDEXED BY passages_id_article{join}
            WHERE p.id IN ({','.join('?' * len(ids))}) AND {where}""", [*ids, *params]).fetchall()
    return {r["id"]: r for r in rows}



def dense_candidates(conn: sqlite3.Connection, index: LoadedIndex, query_vector: np.ndarray, filters: Filters,
                     depth: int) -> list[Candidate]:
    """Passages nearest to the query vector, by descending cosine, filters applied."""
    found = index.search(query_vector, depth)
    rows = passages_with_articles(conn, [pid for pid, _ in found], filters)
    return [Candidate(pid, rows[pid]["article_id"], score) for pid, score in found if pid in rows]


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
