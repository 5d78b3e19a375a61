"""What building an index version reads from the archive: the passages to embed, the rows of the
lexical indexes, the words joined for phrase tests, what suggestions complete, and the vocabulary's
counts (written into a version's own files by SQLite itself)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from indexer import prepare, vocabulary
from indexer.store.articles import ROWID_RANGE, existing_range
from indexer.store.connection import database_file, marks


def iter_passages_for_index(conn: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """(id, content_hash) of every passage: what an index version is built from. Texts are read
    only for the passages whose vectors must be computed (`embedding_text`)."""
    yield from conn.execute("SELECT id, content_hash FROM passages ORDER BY id")


def embedding_text(conn: sqlite3.Connection, passage_id: int) -> str:
    row = conn.execute("""SELECT a.title, p.text FROM passages p JOIN articles a ON a.id = p.article_id
                          WHERE p.id = ?""", (passage_id,)).fetchone()
    if row is None:
        raise RuntimeError(f"passage {passage_id} was removed while the index was being built: build again")
    return prepare.passage_embedding_text(row["title"], row["text"])


def count_rows(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        "articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
        "passages": conn.execute("SELECT count(*) FROM passages").fetchone()[0],
    }


def article_word_texts(conn: sqlite3.Connection, article_ids: Iterable[int], exact: bool,
                       max_passage_id: int | None = None) -> dict[int, str]:
    """Each article's words joined by single spaces, padded with one, title and passages apart on
    lines of their own, with their diacritics or folded: "these two words in a row" is then a
    substring test. passage_words stores the words already joined."""
    ids = existing_range(article_ids)
    if not ids:
        return {}
    form = "exact" if exact else "folded"
    newest = max_passage_id if max_passage_id is not None else ROWID_RANGE[1]
    rows = conn.execute(f"""SELECT p.article_id, w.{form}_title, w.{form}_text FROM passages p
                            JOIN passage_words w ON w.id = p.id
                            WHERE p.article_id IN ({marks(ids)}) AND p.id <= ?
                            ORDER BY p.article_id, p.ordinal""", [*ids, newest])
    parts: dict[int, list[str]] = {}
    for aid, title, text in rows:
        parts.setdefault(aid, [title]).append(text)
    return {aid: " " + " \n ".join(texts) + " " for aid, texts in parts.items()}


_PLACES = "(SELECT group_concat(place, ' ') FROM article_places WHERE article_id = a.id)"


def _among(column: str, ids: list[int] | None) -> str:
    return f"AND {column} IN ({marks(ids)})" if ids is not None else ""


def passage_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> sqlite3.Cursor:
    """Each published passage (all, or these ids) with its article's day, source and places, and
    the words passage_words stores for it."""
    return conn.execute(
        f"""SELECT p.id AS pid, p.article_id AS aid, a.published_day, a.published_at, a.source,
                   {_PLACES} AS places, p.ordinal, p.start, p."end", p.text,
                   w.folded_title, w.folded_text, w.exact_title, w.exact_text
            FROM passages p JOIN articles a ON a.id = p.article_id JOIN passage_words w ON w.id = p.id
            WHERE p.id <= ? {_among("p.id", ids)}""", [max_passage_id, *(ids or [])])


def article_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int,
                 fields: Sequence[str]) -> sqlite3.Cursor:
    """Each article with a published passage (all, or these ids), with these fields, its day,
    source and places, and its first passage's id (`pid`)."""
    return conn.execute(
        f"""SELECT p.id AS pid, a.id AS aid, a.published_day, a.source, {_PLACES} AS places,
                   {", ".join(f"a.{name}" for name in fields)}
            FROM articles a JOIN passages p ON p.article_id = a.id AND p.ordinal = 0
            WHERE p.id <= ? {_among("a.id", ids)}""", [max_passage_id, *(ids or [])])


def articles_of_passages(conn: sqlite3.Connection, passage_ids: list[int]) -> set[int]:
    return {aid for (aid,) in conn.execute(
        f"SELECT DISTINCT article_id FROM passages WHERE id IN ({marks(passage_ids)})", passage_ids)}


def titles(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT title FROM articles")]


def place_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(place key, articles that mention it)."""
    return [(place, n) for place, n in conn.execute("SELECT place, count(*) FROM article_places GROUP BY place")]


def _file(archive: sqlite3.Connection) -> Path:
    found = database_file(archive)
    if found is None:
        raise ValueError("a version's vocabulary is written from an archive on disk, not one in memory")
    return found


def write_vocabulary_file(path: Path, archive: sqlite3.Connection, earlier: list[Path]) -> int:
    """Write the archive's counts less those the `earlier` files sum to (all of them when there
    are none); returns how many rows it holds. SQLite does the sums and the comparison, over the
    files attached read-only: a province's pair table has millions of rows."""
    out = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rwc", uri=True)
    try:
        out.executescript(vocabulary.FILE_SCHEMA)
        out.execute("ATTACH DATABASE ? AS archive", (f"{_file(archive).resolve().as_uri()}?mode=ro",))
        for number, earlier_file in enumerate(earlier):
            out.execute(f"ATTACH DATABASE ? AS earlier{number}", (f"{earlier_file.resolve().as_uri()}?immutable=1",))
        rows = 0
        for table in vocabulary.TABLES:
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
            rows += out.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0]
        out.commit()
        return rows
    finally:
        out.close()
