"""Storing an article: its row, its passages and their normalised words, its places, its
near-duplicates and the vocabulary counts, in one transaction; deleting one; reading one back.
A bulk import prepares articles in worker processes (prepare.py) and stores them here in batches."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict

from indexer import prepare
from indexer.diacritics import Ngrams
from indexer.models import Article, ForeignArticle, now_iso
from indexer.store import groups
from indexer.store.connection import marks, transaction
from indexer.store.sources import set_source_title


def _write_vocabulary(conn: sqlite3.Connection, found: Ngrams, capitals: bool = True) -> None:
    write_vocabulary_rows(conn, prepare.vocabulary_rows(found), capitals)


def write_vocabulary_rows(conn: sqlite3.Connection, rows: prepare.VocabularyRows, capitals: bool = True) -> None:
    """Add these signed counts to the vocabulary; a form whose count falls to nothing is removed."""
    # Migration steps from before the capitalised column existed count without it.
    width = 4 if capitals else 3
    columns, marks = ", ".join(["folded", "form", "count", "capitalised"][:width]), ", ".join("?" * width)
    also = ", capitalised = capitalised + excluded.capitalised" if capitals else ""
    for table, counts in (("vocab_unigrams", rows.unigrams), ("vocab_bigrams", rows.bigrams)):
        conn.executemany(f"""INSERT INTO {table} ({columns}) VALUES ({marks})
                             ON CONFLICT (folded, form) DO UPDATE SET count = count + excluded.count{also}""",
                         counts if capitals else (row[:3] for row in counts))
        fallen = [row[:2] for row in counts if row[2] < 0]
        if fallen:
            conn.executemany(f"DELETE FROM {table} WHERE folded = ? AND form = ? AND count <= 0", fallen)


def recount_vocabulary(conn: sqlite3.Connection, capitals: bool = True) -> None:
    """Count every passage and title afresh (the base the incremental counts start from)."""
    conn.execute("DELETE FROM vocab_unigrams")
    conn.execute("DELETE FROM vocab_bigrams")
    texts = conn.execute("SELECT text FROM passages UNION ALL SELECT title FROM articles")
    _write_vocabulary(conn, prepare.vocabulary_of(r[0] for r in texts), capitals)


def store_places(conn: sqlite3.Connection, article_id: int, found: dict[str, int]) -> None:
    conn.execute("DELETE FROM article_places WHERE article_id = ?", (article_id,))
    conn.executemany("INSERT INTO article_places (article_id, place, mentions) VALUES (?, ?, ?)",
                     [(article_id, place, n) for place, n in found.items()])


class Batch:
    """Stores in one transaction (`batch`): the vocabulary counts of the articles stored in it are
    summed and written once, at its end, where each store wrote its own hundreds of rows."""

    def __init__(self) -> None:
        self.vocabulary = prepare.no_counts()
        self.rows: list[prepare.VocabularyRows] = []  # counted elsewhere (a bulk import's workers)

    def add(self, found: Ngrams) -> None:
        prepare.add_counts(self.vocabulary, found)


@contextmanager
def batch(conn: sqlite3.Connection) -> Iterator[Batch]:
    """Stores in one transaction, committed at the end, an error's included: each store inside is a
    savepoint (transaction), so a failed one is undone and those before it are kept."""
    conn.execute("BEGIN")
    stored = Batch()
    try:
        yield stored
    finally:
        for rows in stored.rows:
            write_vocabulary_rows(conn, rows)
        _write_vocabulary(conn, stored.vocabulary)
        conn.commit()


def upsert_article(conn: sqlite3.Connection, article: Article, chunk_words: int = 180,
                   chunk_overlap: int = 30, home_province: str | None = None,
                   stored: Batch | None = None) -> tuple[int, str]:
    """Store an article, its passages, near-duplicates and places in one transaction (in a batch
    `stored`, a savepoint of its transaction); the source's `home_province` resolves place names
    many units share. Returns (id, new|updated|unchanged)."""
    article = prepare.cleaned(article)
    row = _stored_row(conn, article)
    if row and row["content_hash"] == article.content_hash():
        return row["id"], "unchanged"
    return _write(conn, prepare.prepare(article, chunk_words, chunk_overlap, home_province), row, stored)


def store_prepared(conn: sqlite3.Connection, prepared: prepare.Prepared, stored: Batch) -> tuple[int, str]:
    """upsert_article for an article already prepared (prepare.prepare, in a worker process), in a
    batch that holds its vocabulary counts already: the caller takes them back out of `stored`
    when this finds it unchanged or fails."""
    row = _stored_row(conn, prepared.article)
    if row and row["content_hash"] == prepared.digest:
        return row["id"], "unchanged"
    return _write(conn, prepared, row, stored, counted=True)


def _row_at(conn: sqlite3.Connection, url: str) -> sqlite3.Row | None:
    return conn.execute("SELECT id, source, content_hash FROM articles WHERE url = ?", (url,)).fetchone()


def stored_hash(conn: sqlite3.Connection, url: str) -> str | None:
    """The content hash of the article stored at this address, or None."""
    row = _row_at(conn, url)
    return row["content_hash"] if row else None


def _stored_row(conn: sqlite3.Connection, article: Article) -> sqlite3.Row | None:
    """The article's row as stored (None for a new one); ForeignArticle when another source owns
    its address. The portal's own name, where the page gives one, is kept."""
    row = _row_at(conn, article.url)
    if row and row["source"] != article.source:
        raise ForeignArticle(f"{article.url} is an article of source {row['source']!r}: only it may replace it")
    if article.site_name:
        set_source_title(conn, article.source, article.site_name, configured=False)
    return row


def _write(conn: sqlite3.Connection, prepared: prepare.Prepared, row: sqlite3.Row | None,
           stored: Batch | None, counted: bool = False) -> tuple[int, str]:
    values = asdict(prepared.article)
    values.update(content_hash=prepared.digest, updated_at=now_iso(), published_day=prepared.published_day)
    removed = prepare.no_counts()
    with transaction(conn):
        if row:
            article_id, status = row["id"], "updated"
            _delete_passages(conn, article_id, removed)
            conn.execute(
                """UPDATE articles SET source=:source, title=:title, summary=:summary, body=:body,
                   author=:author, published_at=:published_at, published_day=:published_day,
                   category=:category, content_hash=:content_hash, fetched_at=:fetched_at,
                   updated_at=:updated_at WHERE url=:url""", values)
        else:
            status = "new"
            article_id = conn.execute(
                """INSERT INTO articles (url, source, title, summary, body, author, published_at,
                   published_day, category, content_hash, fetched_at, updated_at)
                   VALUES (:url, :source, :title, :summary, :body, :author, :published_at,
                   :published_day, :category, :content_hash, :fetched_at, :updated_at)""",
                values).lastrowid
        _insert_passages(conn, article_id, prepared)
        groups.index_article(conn, article_id, prepared.article.summary, prepared.article.body,
                             prepared.band_keys)
        store_places(conn, article_id, prepared.places)
        added = prepare.no_counts() if counted else prepare.vocabulary([prepared])
        if stored is None:
            prepare.add_counts(added, removed)
            _write_vocabulary(conn, added)
    if stored is not None:  # counted once the article is stored: a failed one counts nothing
        stored.add(removed)
        stored.add(added)
    return article_id, status


def _delete_passages(conn: sqlite3.Connection, article_id: int, vocabulary: Ngrams) -> None:
    """Remove an article's passages; their words and title leave the `vocabulary` counts."""
    texts = [r[0] for r in conn.execute("SELECT text FROM passages WHERE article_id = ? UNION ALL "
                                        "SELECT title FROM articles WHERE id = ?", (article_id, article_id))]
    prepare.add_counts(vocabulary, prepare.vocabulary_of(texts, -1))
    conn.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))  # passage_words cascade


def _insert_passages(conn: sqlite3.Connection, article_id: int, prepared: prepare.Prepared) -> None:
    for ordinal, passage in enumerate(prepared.passages):
        passage_id = conn.execute(
            "INSERT INTO passages (article_id, ordinal, start, end, text, content_hash) VALUES (?,?,?,?,?,?)",
            (article_id, ordinal, passage.start, passage.end, passage.text, passage.content_hash)).lastrowid
        conn.execute("INSERT INTO passage_words VALUES (?, ?, ?, ?, ?)",
                     (passage_id, prepared.folded_title, passage.folded_words, prepared.exact_title,
                      passage.exact_words))


def delete_article(conn: sqlite3.Connection, article_id: int) -> None:
    with conn:
        copies, vocabulary = groups.neighbours(conn, [article_id]), prepare.no_counts()
        _delete_passages(conn, article_id, vocabulary)
        _write_vocabulary(conn, vocabulary)
        conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))  # its bands, pairs, group cascade
        groups.regroup(conn, copies)


# SQLite's INTEGER range: an id from a URL outside it names no row (and sqlite3 would raise).
ROWID_RANGE = (-(2 ** 63), 2 ** 63 - 1)


def existing_range(ids: Iterable[int]) -> list[int]:
    return [i for i in ids if ROWID_RANGE[0] <= i <= ROWID_RANGE[1]]


def _rows_by_id(conn: sqlite3.Connection, table: str, ids: Iterable[int],
                columns: str = "*") -> dict[int, sqlite3.Row]:
    ids = existing_range(ids)
    if not ids:
        return {}
    rows = conn.execute(f"SELECT {columns} FROM {table} WHERE id IN ({marks(ids)})", ids)
    return {r[0]: r for r in rows}  # id comes first in each table


# What a result list shows of an article: never the body, which ranking hundreds of them would read.
def get_article(conn: sqlite3.Connection, article_id: int) -> sqlite3.Row | None:
    return _rows_by_id(conn, "articles", [article_id]).get(article_id)


def article_passage_ids(conn: sqlite3.Connection, article_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM passages WHERE article_id = ? ORDER BY ordinal",
                                       (article_id,))]


def find_article(conn: sqlite3.Connection, ref: str) -> sqlite3.Row | None:
    """The article an id or a URL names."""
    number = int(ref) if ref.isdigit() and len(ref) < 19 else -1
    return conn.execute("SELECT * FROM articles WHERE id = ? OR url = ?", (number, ref)).fetchone()


def articles_for_export(conn: sqlite3.Connection, where: str, params: list, columns: Iterable[str]) -> sqlite3.Cursor:
    """The articles `where` (a condition the caller builds of fixed clauses, values in `params`)
    selects, oldest stored first, with these columns."""
    return conn.execute(f"SELECT {', '.join(columns)} FROM articles WHERE {where} ORDER BY id", params)


