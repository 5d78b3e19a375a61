"""Opening the archive: the pragmas every caller needs, the schema (schema.sql for a new archive,
migrations.py for an older one), transactions, and the file's own settings."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.files import readable_sqlite

SCHEMA_FILE = Path(__file__).with_name("schema.sql")  # a new archive's schema (migrations.py: older ones)


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every caller needs; read-only for what only reads it. A file that
    is no readable database is CorruptFile."""
    return readable_sqlite(Path(path), "crawl and ingest again (the archive starts empty)",
                           lambda: _connect(Path(path), readonly))


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        if not path.exists():
            raise FileNotFoundError(f"archive database not found: {path} (run `python -m indexer build`)")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
        migrate(conn)
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring an archive to the current schema: a new one gets schema.sql whole, an older one each
    step it lacks (migrations.py); returns the schema version."""
    if schema_version(conn) == 0 and conn.execute("SELECT 1 FROM sqlite_master").fetchone() is None:
        with conn:
            conn.executescript("BEGIN;" + SCHEMA_FILE.read_text(encoding="utf-8"))
        return schema_version(conn)
    from indexer.store import migrations  # they store articles through the package: imported at their one use

    return migrations.upgrade(conn)


def marks(values: list) -> str:
    """One `?` per value, for `IN (…)`."""
    return ",".join("?" * len(values))


def database_file(conn: sqlite3.Connection) -> Path | None:
    """The file the connection's archive is (None for one in memory)."""
    name = next(row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    return Path(name) if name else None


def keep_in_memory(conn: sqlite3.Connection, kib: int) -> None:
    """Let this connection cache up to `kib` KiB of the archive's pages (SQLite's default is 2 MiB)."""
    conn.execute(f"PRAGMA cache_size = -{int(kib)}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One transaction; inside a caller's (a batch of stores), a savepoint of it: what fails is
    undone alone, and the batch commits the rest."""
    if not conn.in_transaction:
        with conn:
            yield
        return
    conn.execute("SAVEPOINT store")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO store")
        raise
    finally:
        conn.execute("RELEASE store")
