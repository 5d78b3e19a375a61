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
import uuid
from pathlib import Path

from indexer import text as vtext
from indexer.files import link_or_copy

VOCABULARY_DIR = "vocabulary"
TABLES = ("vocab_unigrams", "vocab_bigrams")
MAX_FILES = 8  # a base and up to seven deltas (a lookup asks each: microseconds)
# Deltas holding more rows than the base: a new base. The base (a tenth of a version) is then
# written again only after several nightlies, not at each (bench/README.md: replicas).
DELTA_SHARE_MAX = 1.0
_SCHEMA = "".join(f"""CREATE TABLE {table} (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL,
                                            capitalised INTEGER NOT NULL, PRIMARY KEY (folded, form))
                      WITHOUT ROWID;""" for table in TABLES)


class VocabularyUnavailable(RuntimeError):
    """A version's vocabulary that is missing or unreadable."""


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False)


def _rows(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def write(version_dir: Path, archive: sqlite3.Connection, entry: dict | None = None,
          previous_dir: Path | None = None) -> dict:
    """Write a version's vocabulary from the archive's counts; returns its manifest entry. With
    the previous version's entry (Manifest.vocabulary) and directory, its files are linked and a
    delta is added, unless a new base is due."""
    folder = Path(version_dir) / VOCABULARY_DIR
    folder.mkdir()
    name = uuid.uuid4().hex[:12]  # unique: a file name never means two contents
    if entry and previous_dir is not None and len(entry["files"]) < MAX_FILES:
        for file in entry["files"]:
            link_or_copy(Path(previous_dir) / VOCABULARY_DIR / file, folder / file)
        delta = folder / f"{len(entry['files'])}-{name}-delta.sqlite3"
        rows = _write_file(delta, archive, [folder / f for f in entry["files"]])
        if entry["delta_rows"] + rows <= DELTA_SHARE_MAX * entry["base_rows"]:
            return {"files": [*entry["files"], delta.name], "base_rows": entry["base_rows"],
                    "delta_rows": entry["delta_rows"] + rows}
        for path in folder.iterdir():  # a new base is due: start again
            path.unlink()
    base = folder / f"0-{name}-base.sqlite3"
    return {"files": [base.name], "base_rows": _write_file(base, archive, []), "delta_rows": 0}


def _write_file(path: Path, archive: sqlite3.Connection, earlier: list[Path]) -> int:
    """Write the archive's counts less those the `earlier` files sum to (all of them when there
    are none); returns how many rows it holds. SQLite does the sums and the comparison, over the
    files attached read-only: a province's pair table has millions of rows."""
    archive_file = next(row[2] for row in archive.execute("PRAGMA database_list") if row[1] == "main")
    out = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rwc", uri=True)
    try:
        out.executescript(_SCHEMA)
        out.execute("ATTACH DATABASE ? AS archive", (f"{Path(archive_file).resolve().as_uri()}?mode=ro",))
        for number, earlier_file in enumerate(earlier):
            out.execute(f"ATTACH DATABASE ? AS earlier{number}", (f"{earlier_file.resolve().as_uri()}?immutable=1",))
        rows = 0
        for table in TABLES:
            out.execute("""CREATE TEMP TABLE before (folded TEXT, form TEXT, count INTEGER, capitalised INTEGER,
                                                      PRIMARY KEY (folded, form)) WITHOUT ROWID""")
            if earlier:
                union = " UNION ALL ".join(f"SELECT folded, form, count, capitalised FROM earlier{n}.{table}"
                                           for n in range(len(earlier)))
                out.execute(f"""INSERT INTO before SELECT folded, form, sum(count), sum(capitalised)
                                FROM ({union}) GROUP BY folded, form""")
            # Rows whose counts changed or that are new, then those no longer in the archive at all.
            out.execute(f"""INSERT INTO main.{table}
                            SELECT a.folded, a.form, a.count - coalesce(b.count, 0),
                                   a.capitalised - coalesce(b.capitalised, 0)
                            FROM archive.{table} a LEFT JOIN before b USING (folded, form)
                            WHERE a.count != coalesce(b.count, 0) OR a.capitalised != coalesce(b.capitalised, 0)""")
            out.execute(f"""INSERT INTO main.{table} SELECT b.folded, b.form, -b.count, -b.capitalised FROM before b
                            WHERE (b.count != 0 OR b.capitalised != 0) AND NOT EXISTS (
                                SELECT 1 FROM archive.{table} a WHERE a.folded = b.folded AND a.form = b.form)""")
            out.execute("DROP TABLE before")
            rows += _rows(out, f"main.{table}")
        out.commit()
        return rows
    finally:
        out.close()


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
