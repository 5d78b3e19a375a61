"""Every candidate list a search fuses: passages matching the query's words (with diacritics, or
folded), whole articles matching them, and passages near the query vector; the BM25 weights; and
the word frequencies that decide which words are worth matching."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

import numpy as np

from indexer import text as vtext
from indexer.models import Candidate, Filters
from indexer.vectors import LoadedIndex
from service.search.query import ParsedQuery

# BM25 field weights of every FTS5 table: a title match counts three times a body match.
FTS_TITLE_WEIGHT, FTS_TEXT_WEIGHT = 3.0, 1.0


def _ranked_fts(table: str, restrict: str | None) -> str:
    """Top rows of an FTS5 table by weighted BM25 (higher is better), ranked before any join.

    Ordering inside FTS5 and joining only the rows kept is what keeps long OR queries fast;
    `restrict` is an extra condition on the rowid (filters), placed inside so the limit holds.
    """
    bm25 = f"bm25({table}, {FTS_TITLE_WEIGHT}, {FTS_TEXT_WEIGHT})"
    where = f"{table} MATCH ?" + (f" AND {restrict}" if restrict else "")
    return f"SELECT rowid AS id, -{bm25} AS score FROM {table} WHERE {where} ORDER BY {bm25} LIMIT ?"



def lexical_candidates(conn: sqlite3.Connection, match: str, filters: Filters,
                       limit: int, exact: bool = False) -> list[Candidate]:
    """(passage_id, article_id, bm25 score; higher is better) for an FTS5 MATCH expression,
    on folded text, or with `exact` on text that keeps its diacritics."""
    table = "passages_exact" if exact else "passages_fts"
    restrict, params = filters.published("rowid")
    if filters.active:
        where, where_params = filters.on_articles()
        restrict += f" AND rowid IN (SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id WHERE {where})"
        params += where_params
    rows = conn.execute(
        f"""SELECT m.id, p.article_id, m.score FROM ({_ranked_fts(table, restrict)}) m
            JOIN passages p ON p.id = m.id ORDER BY m.score DESC""",
        [match, *params, limit]).fetchall()
    return [Candidate(*r) for r in rows]



def article_candidates(conn: sqlite3.Connection, match: str, filters: Filters,
                       limit: int) -> list[Candidate]:
    """(first passage id, article_id, bm25 over the whole folded article) for an FTS5 MATCH."""
    restrict, params = None, []
    if filters.active:
        where, params = filters.on_articles()
        restrict = f"rowid IN (SELECT a.id FROM articles a WHERE {where})"
    published, newest = filters.published("p.id")
    rows = conn.execute(
        f"""SELECT p.id, m.id, m.score FROM ({_ranked_fts("articles_fts", restrict)}) m
            JOIN passages p ON p.article_id = m.id AND p.ordinal = 0 AND {published} ORDER BY m.score DESC""",
        [match, *params, limit, *newest]).fetchall()
    return [Candidate(*r) for r in rows]



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



def text_frequencies(conn: sqlite3.Connection, folded_words: Iterable[str]) -> dict[str, dict[str, int]]:
    """folded word → {written form: texts holding it}, from the vocabulary (B-tree lookups)."""
    words = list(dict.fromkeys(folded_words))
    out: dict[str, dict[str, int]] = {w: {} for w in words}
    if words:
        rows = conn.execute(f"SELECT folded, form, texts FROM vocab_unigrams WHERE folded IN "
                            f"({','.join('?' * len(words))})", words)
        for folded, form, texts in rows:
            out[folded][form] = texts
    return out


def dense_candidates(conn: sqlite3.Connection, index: LoadedIndex, query_vector: np.ndarray, filters: Filters,
                     depth: int) -> list[Candidate]:
    """Passages nearest to the query vector, by descending cosine, filters applied."""
    found = index.search(query_vector, depth)
    rows = passages_with_articles(conn, [pid for pid, _ in found], filters)
    return [Candidate(pid, rows[pid]["article_id"], score) for pid, score in found if pid in rows]


def common_words(conn: sqlite3.Connection, parsed: ParsedQuery, text_count: int, fraction: float,
                 keep: int | None = None) -> tuple[set[str], set[str]]:
    """(folded, exact) query words to leave out of the OR lists: those in more than `fraction` of
    the `text_count` texts and, with `keep`, all but the `keep` rarest.

    FTS5's BM25 gives a word in over half the rows an idf of ~0, yet its posting list is most of an
    OR query's cost (seconds at a million passages). Frequencies come from the vocabulary (a B-tree
    lookup; FTS5's own document counts would read the posting lists). When every word is that
    common, the rule leaves none out.
    """
    counts = text_frequencies(conn, [*parsed.terms, *map(vtext.fold_word, parsed.exact_words)])
    limit = fraction * text_count

    def left_out(words: tuple[str, ...], frequency: Callable[[str], int]) -> set[str]:
        found = {w for w in words if frequency(w) > limit}
        if len(found) == len(words):
            found = set()
        if keep is not None:
            found |= set(sorted(words, key=frequency)[keep:])
        return found

    return (left_out(parsed.terms, lambda w: sum(counts[w].values())),
            left_out(parsed.exact_words, lambda w: counts[vtext.fold_word(w)].get(w, 0)))
