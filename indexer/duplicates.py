"""Near-duplicate articles: the same story republished by the province's portal, the provincial
paper and aggregators. Each article's text becomes a set of word shingles; MinHash (datasketch)
signs it, and locality-sensitive hashing in SQLite (`article_bands`) finds the articles that may
share most of them. A candidate joins only if the exact Jaccard similarity of the two shingle
sets reaches JACCARD_MIN (`duplicate_pairs`), and the connected articles form a group
(`article_groups`), named by its smallest article id. Everything follows each store and delete,
so a nightly run keeps the groups current without a pass over the archive.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
from datasketch import MinHash

from indexer import text as vtext

SHINGLE_WORDS = 5   # w-shingles of folded words (Broder's choice for near-duplicate web pages)
JACCARD_MIN = 0.8   # shared shingles over all shingles: a republished copy, not a related story
BANDS, ROWS = 20, 5  # 100 MinHash values; a pair at Jaccard 0.8 shares a band with p = 1 - (1 - 0.8^5)^20 > 0.999
MIN_SHINGLES = 8     # texts shorter than this (a caption, a one-line notice) are never grouped
# Candidates compared exactly per stored article, those sharing the most bands first: a portal's
# thousand copies of one template would otherwise make each store compare against all of them.
# A group stays connected through the ones compared.
MAX_CANDIDATES = 100


def shingles(summary: str, body: str) -> set[str]:
    """The article's text (lead and body, folded) as overlapping runs of SHINGLE_WORDS words."""
    words = vtext.words(vtext.fold(vtext.document_text(summary, body)))
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def jaccard(first: Set[str], second: Set[str]) -> float:
    return len(first & second) / len(first | second) if first and second else 0.0


def band_keys(found: Set[str]) -> list[tuple[int, int]]:
    """(band, key) of the shingle set's MinHash: sets that share a key are candidates (a set of
    fewer than MIN_SHINGLES is never grouped: it has none)."""
    if len(found) < MIN_SHINGLES:
        return []
    signature = MinHash(num_perm=BANDS * ROWS, seed=1)
    signature.update_batch([s.encode() for s in sorted(found)])
    values = np.asarray(signature.hashvalues, dtype=np.uint64)
    return [(band, int.from_bytes(hashlib.blake2b(values[band * ROWS:(band + 1) * ROWS].tobytes(),
                                                  digest_size=8).digest(), "big", signed=True))
            for band in range(BANDS)]


def _texts(conn: sqlite3.Connection, article_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = list(article_ids)
    rows = conn.execute(f"SELECT id, summary, body FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {aid: shingles(summary, body) for aid, summary, body in rows}


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
                LIMIT ?""", [*(v for k in keys for v in k), article_id, MAX_CANDIDATES])}
        if candidates:  # few articles have any: their shingles are found again here, not carried along
            found = shingles(summary, body)
            copies = [(aid, score) for aid, other in _texts(conn, candidates).items()
                      if (score := jaccard(found, other)) >= JACCARD_MIN]
        conn.executemany("INSERT INTO article_bands (band, key, article_id) VALUES (?, ?, ?)",
                         [(band, key, article_id) for band, key in keys])
    conn.executemany("INSERT INTO duplicate_pairs (article_id, other_id, jaccard) VALUES (?, ?, ?)",
                     [pair for aid, score in copies for pair in ((article_id, aid, score), (aid, article_id, score))])
    regroup(conn, {article_id, *before, *(aid for aid, _ in copies)})


def neighbours(conn: sqlite3.Connection, article_ids: Iterable[int]) -> set[int]:
    ids = list(article_ids)
    return {other for (other,) in conn.execute(
        f"SELECT other_id FROM duplicate_pairs WHERE article_id IN ({','.join('?' * len(ids))})", ids)}


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
        conn.execute(f"DELETE FROM article_groups WHERE article_id IN ({','.join('?' * len(ids))})", ids)
        if len(ids) > 1:
            conn.executemany("INSERT INTO article_groups (article_id, group_id) VALUES (?, ?)",
                             [(aid, ids[0]) for aid in ids])


def collapse(order: list[int], groups: dict[int, int]) -> list[int]:
    """The ranking with each group's copies after its first (best ranked) one left out."""
    seen: set[int] = set()
    kept = []
    for aid in order:
        group = groups.get(aid)
        if group is None or group not in seen:
            kept.append(aid)
            if group is not None:
                seen.add(group)
    return kept


def snapshot(conn: sqlite3.Connection) -> dict[int, int]:
    """Every grouped article's group: what an index version records when it is built, so that
    the version it serves collapses the same copies until the next one is published."""
    return dict(conn.execute("SELECT article_id, group_id FROM article_groups"))


@dataclass(frozen=True)
class Groups:
    """A version's groups, both ways: an article's group, and a group's members."""

    of: dict[int, int] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def from_snapshot(cls, recorded: dict) -> Groups:
        """From a snapshot as a manifest holds it (JSON: the article ids are text)."""
        of = {int(aid): group for aid, group in recorded.items()}
        members: dict[int, list[int]] = {}
        for aid, group in sorted(of.items()):
            members.setdefault(group, []).append(aid)
        return cls(of, members)


class Dated(Protocol):
    """A row copies() can order: an article as a version lists it (ServedVersion.summaries)."""

    @property
    def published_at(self) -> str | None: ...


Row = TypeVar("Row", bound=Dated)


def copies(rows_of: Callable[[list[int]], dict[int, Row]], article_ids: Iterable[int],
           groups: Groups) -> dict[int, list[Row]]:
    """Each article's copies in `groups` (a version's): the other members of its group that the
    version serves (`rows_of` reads them: ServedVersion.summaries), oldest first."""
    grouped = [aid for aid in article_ids if aid in groups.of]
    ids = sorted({member for aid in grouped for member in groups.members[groups.of[aid]]})
    if not ids:
        return {}
    found = rows_of(ids)
    rows = {aid: found[aid] for aid in sorted(found, key=lambda a: (found[a].published_at is None,
                                                                  found[a].published_at or "", a))}
    return {aid: [rows[other] for other in rows if other != aid and groups.of.get(other) == groups.of[aid]]
            for aid in grouped}
