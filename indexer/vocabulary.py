"""The vocabulary a published version restores diacritics and capitals from: the archive's
syllable and syllable-pair counts, as they were when the version was built.

It lives in the version (the service reads nothing outside it) as immutable SQLite files, opened
with `immutable=1` (no locks, no journal: safe on any filesystem)::

    <version>/vocabulary/<name>.sqlite3    a base: every count; or a delta: the changes since

A nightly adds a little news and changes few counts, and the pair table is the size of a
tenth of a version: rewriting it every night would be most of what a replica pulls. So a build
links the previous version's files and writes only a delta (count and capitals changes, rows
that sum to zero dropped), and a reader sums a form's rows over the files. A new base is written
when the deltas outgrow it, or too many files would be asked per word.
"""
from __future__ import annotations

import functools
import sqlite3
import threading
from pathlib import Path

from indexer import text as vtext

VOCABULARY_DIR = "vocabulary"
TABLES = ("vocab_unigrams", "vocab_bigrams")
FILE_SCHEMA = "".join(f"""CREATE TABLE {table} (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL,
                                            capitalised INTEGER NOT NULL, PRIMARY KEY (folded, form))
                      WITHOUT ROWID;""" for table in TABLES)


class VocabularyUnavailable(RuntimeError):
    """A version's vocabulary that is missing or unreadable."""


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False)


class Vocabulary:
    """A version's vocabulary files, read-only: each lookup sums a form's rows over them.

    The files are opened at once and kept open, so a version pruned from disk while a worker
    still serves it reads on (as FAISS in memory and tantivy's mapped files do); one lock makes
    the shared connections safe across a worker's threads (a lookup takes microseconds).
    """

    def __init__(self, paths: list[Path]) -> None:
        self._connections = [_open(path) for path in paths]
        self._lock = threading.Lock()

    @classmethod
    def open(cls, version_dir: Path) -> Vocabulary:
        folder = Path(version_dir) / VOCABULARY_DIR
        paths = sorted(folder.glob("*.sqlite3")) if folder.is_dir() else []
        if not paths:
            raise VocabularyUnavailable(f"no vocabulary in {folder}")
        try:
            found = cls(paths)
            found.forms("vocab_unigrams", "")
        except sqlite3.Error as exc:
            raise VocabularyUnavailable(f"unreadable vocabulary in {folder}: {exc}") from exc
        return found

    def _sum(self, table: str, where: str, params: tuple) -> dict[str, tuple[int, int]]:
        if table not in TABLES:
            raise ValueError(table)
        out: dict[str, tuple[int, int]] = {}
        with self._lock:
            rows = [row for conn in self._connections for row in conn.execute(
                f"SELECT form, count, capitalised FROM {table} WHERE {where}", params)]
        for form, count, capitalised in rows:
            seen, caps = out.get(form, (0, 0))
            out[form] = (seen + count, caps + capitalised)
        return {form: pair for form, pair in out.items() if pair[0] > 0}

    def forms(self, table: str, folded: str) -> dict[str, int]:
        """{written form: times seen} of a folded syllable or pair."""
        return {form: count for form, (count, _) in self._sum(table, "folded = ?", (folded,)).items()}

    @functools.cached_property
    def folded_unigrams(self) -> frozenset[str]:
        """Every folded syllable the version has seen (read once: a province's are tens of thousands),
        for testing many spelling candidates without a query each."""
        with self._lock:
            return frozenset(row[0] for conn in self._connections
                             for row in conn.execute("SELECT DISTINCT folded FROM vocab_unigrams"))

    def casing(self, table: str, form: str) -> tuple[int, int]:
        """(times seen, times capitalised) of a syllable or pair as written, in lower case."""
        return self._sum(table, "folded = ? AND form = ?", (vtext.fold(form), form)).get(form, (0, 0))
