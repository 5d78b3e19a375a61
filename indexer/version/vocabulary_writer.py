"""A version's vocabulary files (vocabulary.py reads them), written from the archive's counts: the
previous version's files linked and a delta added, or a new base."""
from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from indexer import store
from indexer.files import link_or_copy
from indexer.vocabulary import VOCABULARY_DIR

MAX_FILES = 8  # a base and up to seven deltas (a lookup asks each: microseconds)
# Deltas holding more rows than the base: a new base. The base (a tenth of a version) is then
# written again only after several nightlies, not at each (bench/README.md: replicas).
DELTA_SHARE_MAX = 1.0


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
        rows = store.write_vocabulary_file(delta, archive, [folder / f for f in entry["files"]])
        if entry["delta_rows"] + rows <= DELTA_SHARE_MAX * entry["base_rows"]:
            return {"files": [*entry["files"], delta.name], "base_rows": entry["base_rows"],
                    "delta_rows": entry["delta_rows"] + rows}
        for path in folder.iterdir():  # a new base is due: start again
            path.unlink()
    base = folder / f"0-{name}-base.sqlite3"
    return {"files": [base.name], "base_rows": store.write_vocabulary_file(base, archive, []), "delta_rows": 0}
