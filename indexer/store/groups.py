"""The archive's near-duplicate bookkeeping (duplicates.py says what a near-duplicate is): each
article's MinHash bands (`article_bands`), the pairs whose exact Jaccard similarity reaches
duplicates.JACCARD_MIN (`duplicate_pairs`), and the groups they connect (`article_groups`), named
by their smallest article id. Everything follows each store and delete, so a nightly run keeps
the groups current without a pass over the archive."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from indexer import duplicates
from indexer.store.connection import marks


def _shingles(conn: sqlite3.Connection, article_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = list(article_ids)
    rows = conn.execute(f"SELECT id, summary, body FROM articles WHERE id IN ({marks(ids)})", ids)
    return {aid: duplicates.shingles(summary, body) for aid, summary, body in rows}


def index_article(conn: sqlite3.Connection, article_id: int, summary: str, body: str,
                  keys: list[tuple[int, int]]) -> None:
    """Find a stored or updated article's near-duplicates (`keys`: the band_keys of its shingles,
    none for a text too short) and regroup what it touches; runs inside the caller's transaction."""
    before = neighbours(conn, [article_id])
    conn.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM duplicate_pairs WHERE article_id = ? OR other_id = ?", (article_id, article_id))
    copies: list[tuple[int, float]] = []
    if keys:
        candidates = {aid for (aid,) in conn.execute(  # CROSS JOIN: the bands' primary key for each key
            f"""SELECT b.article_id FROM (VALUES {','.join(['(?, ?)'] * len(keys))}) v
                CROSS JOIN article_bands b ON b.band = v.column1 AND b.key = v.column2
                WHERE b.article_id != ? GROUP BY b.article_id ORDER BY count(*) DESC, b.article_id DESC
                LIMIT ?""", [*(v for k in keys for v in k), article_id, duplicates.MAX_CANDIDATES])}
        if candidates:  # few articles have any: their shingles are found again here, not carried along
            found = duplicates.shingles(summary, body)
            copies = [(aid, score) for aid, other in _shingles(conn, candidates).items()
                      if (score := duplicates.jaccard(found, other)) >= duplicates.JACCARD_MIN]
        conn.executemany("INSERT INTO article_bands (band, key, article_id) VALUES (?, ?, ?)",
                         [(band, key, article_id) for band, key in keys])
    conn.executemany("INSERT INTO duplicate_pairs (article_id, other_id, jaccard) VALUES (?, ?, ?)",
                     [pair for aid, score in copies for pair in ((article_id, aid, score), (aid, article_id, score))])
    regroup(conn, {article_id, *before, *(aid for aid, _ in copies)})


def neighbours(conn: sqlite3.Connection, article_ids: Iterable[int]) -> set[int]:
    ids = list(article_ids)
    return {other for (other,) in conn.execute(
        f"SELECT other_id FROM duplicate_pairs WHERE article_id IN ({marks(ids)})", ids)}


def regroup(conn: sqlite3.Connection, article_ids: set[int]) -> None:
    """Recompute the groups of these articles (and of every article connected to them): a group
    is a connected set of near-duplicate pairs, named by its smallest id; a lone article has none."""
    pending = set(article_ids)
    while pending:
        component, frontier = set(), {pending.pop()}
        while frontier:
            component |= frontier
            frontier = neighbours(conn, frontier) - component
        pending -= component
        ids = sorted(component)
        conn.execute(f"DELETE FROM article_groups WHERE article_id IN ({marks(ids)})", ids)
        if len(ids) > 1:
            conn.executemany("INSERT INTO article_groups (article_id, group_id) VALUES (?, ?)",
                             [(aid, ids[0]) for aid in ids])


def snapshot(conn: sqlite3.Connection) -> dict[int, int]:
    """Every grouped article's group: what an index version records when it is built, so that
    the version it serves collapses the same copies until the next one is published."""
    return dict(conn.execute("SELECT article_id, group_id FROM article_groups"))
