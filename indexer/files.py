"""File operations a version's writers and readers share: checksums, durable renames, sharing an
immutable file between versions, and opening a SQLite file that may be damaged."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    for folder, _, files in os.walk(path):
        for name in files:
            with open(Path(folder) / name, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(folder))


def link_or_copy(source: Path, target: Path) -> None:
    """Share an immutable file with another version: a hard link, or a copy where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class CorruptFile(RuntimeError):
    """A SQLite file of the data dir that cannot be read; the message names it and what to do."""


def readable_sqlite(path: Path, what: str, open_: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    """`open_()`'s connection once its file has proved readable, else CorruptFile naming `path`
    and `what` restores it."""
    try:
        conn = open_()
        conn.execute("PRAGMA schema_version").fetchone()  # reads the header: garbage fails here
        return conn
    except sqlite3.DatabaseError as exc:
        raise CorruptFile(f"{path} is not a readable SQLite database ({exc}): restore it from a backup, "
                          f"or move it away and {what}") from None
