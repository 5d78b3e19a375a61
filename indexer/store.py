"""The SQLite archive: its schema (schema.sql; migrations.py upgrades older archives) and its queries.

Articles, their passages and the passages' normalised words live here: the indexer's working
store. What a search matches is in each published index version (indexer/version/);
the service opens this file read-only for what results show, through the helpers at the bottom.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from indexer import duplicates, prepare
from indexer.diacritics import Ngrams
from indexer.files import readable_sqlite
from indexer.models import Article, ForeignArticle, now_iso

SCHEMA_FILE = Path(__file__).with_name("schema.sql")  # a new archive's schema (migrations.py: older ones)


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every caller needs; read-only for the service. A file that
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
    step it lacks (indexer/migrations.py); returns the schema version."""
    if schema_version(conn) == 0 and conn.execute("SELECT 1 FROM sqlite_master").fetchone() is None:
        with conn:
            conn.executescript("BEGIN;" + SCHEMA_FILE.read_text(encoding="utf-8"))
        return schema_version(conn)
    from indexer import migrations  # they build on this module's helpers: imported at their one use

    return migrations.upgrade(conn)


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


def _stored_row(conn: sqlite3.Connection, article: Article) -> sqlite3.Row | None:
    """The article's row as stored (None for a new one); ForeignArticle when another source owns
    its address. The portal's own name, where the page gives one, is kept."""
    row = conn.execute("SELECT id, source, content_hash FROM articles WHERE url = ?", (article.url,)).fetchone()
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
        duplicates.index_article(conn, article_id, prepared.article.summary, prepared.article.body,
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
        copies, vocabulary = duplicates.neighbours(conn, [article_id]), prepare.no_counts()
        _delete_passages(conn, article_id, vocabulary)
        _write_vocabulary(conn, vocabulary)
        conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))  # its bands, pairs, group cascade
        duplicates.regroup(conn, copies)


# --- read helpers (the service uses these, read-only) ---------------------------------------

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


# SQLite's INTEGER range: an id from a URL outside it names no row (and sqlite3 would raise).
ROWID_RANGE = (-(2 ** 63), 2 ** 63 - 1)


def _existing_range(ids: Iterable[int]) -> list[int]:
    return [i for i in ids if ROWID_RANGE[0] <= i <= ROWID_RANGE[1]]


def _rows_by_id(conn: sqlite3.Connection, table: str, ids: Iterable[int],
                columns: str = "*") -> dict[int, sqlite3.Row]:
    ids = _existing_range(ids)
    if not ids:
        return {}
    rows = conn.execute(f"SELECT {columns} FROM {table} WHERE id IN ({','.join('?' * len(ids))})", ids)
    return {r[0]: r for r in rows}  # id comes first in each table


# What a result list shows of an article: never the body, which ranking hundreds of them would read.
def get_article(conn: sqlite3.Connection, article_id: int) -> sqlite3.Row | None:
    return _rows_by_id(conn, "articles", [article_id]).get(article_id)


def article_word_texts(conn: sqlite3.Connection, article_ids: Iterable[int], exact: bool,
                       max_passage_id: int | None = None) -> dict[int, str]:
    """Each article's words joined by single spaces, padded with one, title and passages apart on
    lines of their own, with their diacritics or folded: "these two words in a row" is then a
    substring test. passage_words stores the words already joined."""
    ids = _existing_range(article_ids)
    if not ids:
        return {}
    form = "exact" if exact else "folded"
    newest = max_passage_id if max_passage_id is not None else ROWID_RANGE[1]
    rows = conn.execute(f"""SELECT p.article_id, w.{form}_title, w.{form}_text FROM passages p
                            JOIN passage_words w ON w.id = p.id
                            WHERE p.article_id IN ({','.join('?' * len(ids))}) AND p.id <= ?
                            ORDER BY p.article_id, p.ordinal""", [*ids, newest])
    parts: dict[int, list[str]] = {}
    for aid, title, text in rows:
        parts.setdefault(aid, [title]).append(text)
    return {aid: " " + " \n ".join(texts) + " " for aid, texts in parts.items()}


def article_passage_ids(conn: sqlite3.Connection, article_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM passages WHERE article_id = ? ORDER BY ordinal",
                                       (article_id,))]


def list_sources(conn: sqlite3.Connection) -> list[dict]:
    """Each source with its name (its key where none is known), articles and first and last day."""
    rows = conn.execute("""SELECT a.source, coalesce(t.title, a.source) AS title, count(*) AS articles,
                           min(a.published_day) AS first, max(a.published_day) AS last
                           FROM articles a LEFT JOIN source_titles t ON t.source = a.source
                           GROUP BY a.source ORDER BY a.source""")
    return [dict(r) for r in rows]


def find_article(conn: sqlite3.Connection, ref: str) -> sqlite3.Row | None:
    """The article an id or a URL names."""
    number = int(ref) if ref.isdigit() and len(ref) < 19 else -1
    return conn.execute("SELECT * FROM articles WHERE id = ? OR url = ?", (number, ref)).fetchone()


def add_ingest_key(conn: sqlite3.Connection, secret_hash: str, source: str | None, label: str) -> int:
    with conn:
        return conn.execute("INSERT INTO ingest_keys (secret_hash, source, label, created_at) VALUES (?, ?, ?, ?)",
                            (secret_hash, source, label, now_iso())).lastrowid


def ingest_key(conn: sqlite3.Connection, key_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM ingest_keys WHERE id = ?", (key_id,)).fetchone()


def ingest_keys(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, source, label, created_at, revoked_at FROM ingest_keys ORDER BY id").fetchall()


def revoke_ingest_key(conn: sqlite3.Connection, key_id: int) -> bool:
    with conn:
        return conn.execute("UPDATE ingest_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            (now_iso(), key_id)).rowcount == 1


def articles_for_export(conn: sqlite3.Connection, where: str, params: list, columns: Iterable[str]) -> sqlite3.Cursor:
    """The articles `where` (a condition the caller builds of fixed clauses, values in `params`)
    selects, oldest stored first, with these columns."""
    return conn.execute(f"SELECT {', '.join(columns)} FROM articles WHERE {where} ORDER BY id", params)


def set_source_title(conn: sqlite3.Connection, source: str, title: str | None, configured: bool) -> None:
    """Record a source's name: a configured one (sources.toml) wins over the name its pages give
    (og:site_name, the newest page's); a source whose configured name was removed gives way."""
    with transaction(conn):
        if configured and title:
            conn.execute("""INSERT INTO source_titles (source, title, configured) VALUES (?, ?, 1)
                            ON CONFLICT(source) DO UPDATE SET title = excluded.title, configured = 1""",
                         (source, title))
        elif configured:
            conn.execute("UPDATE source_titles SET configured = 0 WHERE source = ?", (source,))
        elif title:
            conn.execute("""INSERT INTO source_titles (source, title) VALUES (?, ?)
                            ON CONFLICT(source) DO UPDATE SET title = excluded.title
                            WHERE configured = 0 AND title != excluded.title""", (source, title))


# --- the crawler's state ---------------------------------------------------------------------
def crawl_page(conn: sqlite3.Connection, url: str) -> sqlite3.Row | None:
    """What the crawler knows of a URL: validators for conditional GET and the last outcome."""
    return conn.execute("SELECT * FROM crawl_pages WHERE url = ?", (url,)).fetchone()


def record_crawl_page(conn: sqlite3.Connection, url: str, source: str, status: str, reason: str | None = None,
                      etag: str | None = None, last_modified: str | None = None, content_hash: str | None = None,
                      article_url: str | None = None) -> None:
    """The outcome of one fetch; validators and hashes not given keep their previous values."""
    with conn:
        conn.execute(
            """INSERT INTO crawl_pages (url, source, etag, last_modified, content_hash, status, reason,
               article_url, fetched_at) VALUES (?,?,?,?,?,?,?,?,?)
               ON CONFLICT(url) DO UPDATE SET source=excluded.source,
               etag=coalesce(excluded.etag, crawl_pages.etag),
               last_modified=coalesce(excluded.last_modified, crawl_pages.last_modified),
               content_hash=coalesce(excluded.content_hash, crawl_pages.content_hash),
               status=excluded.status, reason=excluded.reason,
               article_url=coalesce(excluded.article_url, crawl_pages.article_url),
               fetched_at=excluded.fetched_at""",
            (url, source, etag, last_modified, content_hash, status, reason, article_url, now_iso()))


def record_crawl_run(conn: sqlite3.Connection, source: str, started_at: str, report: dict) -> None:
    with conn:
        conn.execute("INSERT INTO crawl_runs (source, started_at, finished_at, report) VALUES (?,?,?,?)",
                     (source, started_at, now_iso(), json.dumps(report, ensure_ascii=False)))


def save_source_template(conn: sqlite3.Connection, source: str, template: dict) -> None:
    with conn:
        conn.execute("""INSERT INTO source_templates (source, template, learned_at) VALUES (?,?,?)
                        ON CONFLICT(source) DO UPDATE SET template=excluded.template, learned_at=excluded.learned_at""",
                     (source, json.dumps(template, ensure_ascii=False), now_iso()))


def source_template(conn: sqlite3.Connection, source: str) -> dict | None:
    """The template last learned for this source (as saved), or None."""
    row = conn.execute("SELECT template FROM source_templates WHERE source = ?", (source,)).fetchone()
    return json.loads(row[0]) if row else None


def last_crawl_runs(conn: sqlite3.Connection) -> dict[str, dict]:
    """The newest completeness report of each source."""
    rows = conn.execute("""SELECT source, report FROM crawl_runs WHERE id IN
                           (SELECT max(id) FROM crawl_runs GROUP BY source) ORDER BY source""")
    return {r["source"]: json.loads(r["report"]) for r in rows}


def source_months(conn: sqlite3.Connection, source: str) -> dict[str, int]:
    """Articles per publication month ("YYYY-MM") of one source."""
    rows = conn.execute("""SELECT substr(published_day, 1, 7) AS month, count(*) FROM articles
                           WHERE source = ? AND published_day IS NOT NULL GROUP BY month ORDER BY month""",
                        (source,))
    return {month: count for month, count in rows}


def source_days(conn: sqlite3.Connection, source: str) -> tuple[str | None, str | None]:
    """The first and last publication day of one source's articles."""
    row = conn.execute("SELECT min(published_day), max(published_day) FROM articles WHERE source = ?",
                       (source,)).fetchone()
    return row[0], row[1]
