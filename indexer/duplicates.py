"""Near-duplicate articles: the same story republished by the province's portal, the provincial
paper and aggregators. Each article's text becomes a set of word shingles; MinHash (datasketch)
signs it, and locality-sensitive hashing on its bands finds the articles that may share most of
them. A candidate joins only if the exact Jaccard similarity of the two shingle sets reaches
JACCARD_MIN, and the connected articles form a group named by its smallest article id. The
archive keeps the bands, pairs and groups (store/groups.py); a version records the groups, and
search collapses each group's copies (`collapse`, `Groups`).
"""
from __future__ import annotations

import hashlib
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
