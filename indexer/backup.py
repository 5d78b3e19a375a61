"""A consistent copy of a data dir (the archive, the served index version, and with `vectors` the
passage-vector cache), safe to take while a nightly job writes; and its restore.

The archive is copied with SQLite's online backup API, which copies a snapshot of the database
even while another process writes to it. An index version never changes once published, so
the served one is copied as files and checked against its manifest. `backup.json`, written last,
says what the copy holds: a folder without it is an unfinished backup.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from indexer import store
from indexer.config import Settings
from indexer.files import fsync_tree
from indexer.locks import data_dir_lock
from indexer.version import layout, writer

BACKUP_FILE = "backup.json"
ARCHIVE_FILE = "archive.sqlite3"
VECTORS_FILE = "vectors.sqlite3"
PAGES_PER_STEP = 4096  # the backup API copies this many pages, then lets writers go on


class BackupError(RuntimeError):
    """A backup that cannot be taken or restored; the message says why."""


def _copy_database(source: Path, target: Path, journal: str = "WAL") -> None:
    """A snapshot of a SQLite database (its WAL included) into `target`, checked; a backup's copy
    is one self-contained file (journal DELETE), an archive put back is in WAL mode again."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=PAGES_PER_STEP)
        dst.execute(f"PRAGMA journal_mode={journal}")
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's integrity check")
    finally:
        dst.close()
        src.close()


def _copy_version(index_root: Path, target_root: Path) -> str | None:
    """The served version's files into `target_root` (versions/NAME and CURRENT), checked against
    its manifest; its name, or None when nothing is published."""
    for _ in range(3):  # a nightly may publish and prune while this copies: then copy the newer one
        name = layout.current_version(index_root)
        if name is None:
            return None
        copy = layout.versions_dir(target_root) / name
        shutil.rmtree(copy, ignore_errors=True)
        try:
            shutil.copytree(layout.versions_dir(index_root) / name, copy)
        except (FileNotFoundError, shutil.Error):
            continue
        layout.check_files(copy, layout.load_manifest(copy).files)
        (target_root / layout.CURRENT_FILE).write_text(name + "\n")
        return name
    raise BackupError("the served version changed three times during the copy: try again")


def backup(settings: Settings, target: Path, with_vectors: bool = False) -> dict:
    """Copy the data dir's archive and served version (and with `with_vectors` the vector cache)
    into `target`, a new or empty folder; returns what backup.json says."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder")
    if not settings.db_path.exists():
        raise BackupError(f"no archive at {settings.db_path}: nothing to back up")
    target.mkdir(parents=True, exist_ok=True)
    _copy_database(settings.db_path, target / ARCHIVE_FILE, journal="DELETE")
    cache = settings.cache_dir / VECTORS_FILE
    if with_vectors and cache.exists():
        _copy_database(cache, target / VECTORS_FILE, journal="DELETE")
    version = _copy_version(settings.index_root, target / "index")
    conn = sqlite3.connect(f"{(target / ARCHIVE_FILE).resolve().as_uri()}?mode=ro", uri=True)
    try:
        counts, schema = store.count_rows(conn), store.schema_version(conn)
    finally:
        conn.close()
    info = {"created_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "data_dir": str(settings.data_dir),
            "schema_version": schema, "articles": counts["articles"], "passages": counts["passages"],
            "index_version": version, "vectors": with_vectors and cache.exists()}
    fsync_tree(target)
    (target / BACKUP_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return info


def restore(settings: Settings, source: Path, force: bool = False) -> dict:
    """Put a backup back into the data dir, under its lock (no build or nightly meanwhile): the
    archive, the vector cache if the backup holds it, and its index version, published."""
    source = Path(source)
    try:
        info = json.loads((source / BACKUP_FILE).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{source} holds no finished backup ({BACKUP_FILE} missing or unreadable)") from None
    with data_dir_lock(settings.data_dir, "restore"):
        if settings.db_path.exists() and not force:
            raise BackupError(f"{settings.db_path} exists: restore over it with --force")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _copy_database(source / ARCHIVE_FILE, settings.db_path)
        if (source / VECTORS_FILE).exists():
            settings.cache_dir.mkdir(parents=True, exist_ok=True)
            _copy_database(source / VECTORS_FILE, settings.cache_dir / VECTORS_FILE)
        name = info.get("index_version")
        if name:
            saved = layout.versions_dir(source / "index") / name
            layout.check_files(saved, layout.load_manifest(saved).files)
            placed = layout.versions_dir(settings.index_root) / name
            if not placed.exists():
                shutil.copytree(saved, placed)
                fsync_tree(placed)
            layout.check_files(placed, layout.load_manifest(placed).files)
            writer.publish(settings.index_root, placed)
    return info
