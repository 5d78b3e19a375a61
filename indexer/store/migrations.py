"""How an archive written by an earlier release reaches the current schema (connection.SCHEMA_FILE,
which a new archive gets whole): one step per schema version (PRAGMA user_version), SQL or the
name of a function that fills what an earlier step created. Append, never edit; a test holds
schema.sql to what these steps make of an empty database."""
from __future__ import annotations

import sqlite3

from indexer import duplicates, place_mentions, prepare
from indexer import text as vtext
from indexer.store import articles, groups
from indexer.store.connection import schema_version

# Each entry upgrades the schema by one version (PRAGMA user_version): SQL, or the name of a
# function below that fills what a previous step created. Append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE articles (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        url           TEXT NOT NULL UNIQUE,
        source        TEXT NOT NULL,
        title         TEXT NOT NULL DEFAULT '',
        summary       TEXT NOT NULL DEFAULT '',
        body          TEXT NOT NULL,
        author        TEXT NOT NULL DEFAULT '',
        published_at  TEXT,            -- ISO 8601 with offset
        published_day TEXT,            -- YYYY-MM-DD in the source's time zone, for filters
        category      TEXT NOT NULL DEFAULT '',
        content_hash  TEXT NOT NULL,
        fetched_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX articles_published_day ON articles(published_day);
    CREATE INDEX articles_source ON articles(source);
    CREATE TABLE passages (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id   INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL,
        start        INTEGER NOT NULL, -- character offsets into document_text(summary, body)
        end          INTEGER NOT NULL,
        text         TEXT NOT NULL,
        content_hash TEXT NOT NULL,    -- hash of the text that is embedded (title + passage)
        UNIQUE(article_id, ordinal)
    );
    CREATE INDEX passages_article ON passages(article_id);
    CREATE VIRTUAL TABLE passages_fts USING fts5(
        title, text, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    """
    -- How each folded syllable / syllable pair is written in the archive (diacritics restoration).
    CREATE TABLE vocab_unigrams (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL,
                                 PRIMARY KEY (folded, form)) WITHOUT ROWID;
    CREATE TABLE vocab_bigrams (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL,
                                PRIMARY KEY (folded, form)) WITHOUT ROWID;
    """,
    """
    -- What the crawler knows of each URL: validators for conditional GET and the last outcome.
    CREATE TABLE crawl_pages (
        url           TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        content_hash  TEXT,
        status        TEXT NOT NULL,   -- stored | unchanged | not_modified | failed | robots | not_article
        reason        TEXT,
        article_url   TEXT,
        fetched_at    TEXT NOT NULL
    );
    CREATE INDEX crawl_pages_source ON crawl_pages(source);
    """,
    """
    -- Passages with their diacritics (canonical tone placement, lower case): exact matches
    -- outrank folded ones, and "tai" no longer matches "tài", "tại", "tái".
    CREATE VIRTUAL TABLE passages_exact USING fts5(
        title, text, tokenize = 'unicode61 remove_diacritics 0'
    );
    """,
    "populate_passages_exact",
    """
    -- Whole articles (title, lead and body), folded: BM25 over the article, not only one passage.
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    "populate_articles_fts",
    "add_vocabulary_text_counts",
    "folded_words_in_passages_fts",
    """
    -- Covering indexes for what ranking reads of hundreds of rows: dates of articles, articles of
    -- passages. A table row holds the whole body or passage text (half the time, measured).
    CREATE INDEX IF NOT EXISTS articles_dates ON articles(id, published_at, published_day);
    CREATE INDEX IF NOT EXISTS passages_id_article ON passages(id, article_id);
    """,
    """
    -- One row per source per crawl: its completeness report (listing pages, articles found,
    -- stored and failed, dates covered, months without an article), as JSON.
    CREATE TABLE IF NOT EXISTS crawl_runs (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        report      TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS crawl_runs_source ON crawl_runs(source, started_at);
    """,
    """
    -- Matching moved into each published index version (indexer/version/lexical.py, tantivy). The
    -- normalised words stay, as plain columns: the lexical index is built from them and the
    -- word-order stage reads them. FTS5's inverted indexes and the word counts that stood in
    -- for its document frequencies go.
    CREATE TABLE passage_words (
        id           INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
        folded_title TEXT NOT NULL,  -- text.folded_words(title): folded words joined by single spaces
        folded_text  TEXT NOT NULL,
        exact_title  TEXT NOT NULL,  -- exact_text(title): canonical words with their diacritics
        exact_text   TEXT NOT NULL
    );
    INSERT INTO passage_words SELECT f.rowid, f.title, f.text, e.title, e.text
        FROM passages_fts f JOIN passages_exact e ON e.rowid = f.rowid;
    DROP TABLE passages_fts;
    DROP TABLE passages_exact;
    DROP TABLE articles_fts;
    ALTER TABLE vocab_unigrams DROP COLUMN texts;
    """,
    "recount_vocabulary",
    """
    -- Near-duplicate articles (indexer/duplicates.py): MinHash bands for finding candidates, the
    -- pairs whose shingle sets are near-identical, and the groups those pairs connect.
    CREATE TABLE article_bands (
        band       INTEGER NOT NULL,
        key        INTEGER NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (band, key, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX article_bands_article ON article_bands(article_id);
    CREATE TABLE duplicate_pairs (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        other_id   INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        jaccard    REAL NOT NULL,
        PRIMARY KEY (article_id, other_id)
    ) WITHOUT ROWID;
    CREATE INDEX duplicate_pairs_other ON duplicate_pairs(other_id);
    CREATE TABLE article_groups (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        group_id   INTEGER NOT NULL
    );
    CREATE INDEX article_groups_group ON article_groups(group_id);
    """,
    "find_near_duplicates",
    """
    -- The places each article is about (indexer/places.py): unit keys with the number of times the
    -- article names them (or a place inside them).
    CREATE TABLE article_places (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        place      TEXT NOT NULL,
        mentions   INTEGER NOT NULL,
        PRIMARY KEY (article_id, place)
    ) WITHOUT ROWID;
    CREATE INDEX article_places_place ON article_places(place, article_id);
    """,
    "recognise_places",
    """
    -- How often each syllable and pair is written capitalised (capitals restored in queries).
    ALTER TABLE vocab_unigrams ADD COLUMN capitalised INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE vocab_bigrams ADD COLUMN capitalised INTEGER NOT NULL DEFAULT 0;
    """,
    "recount_vocabulary_with_capitals",
    """
    -- Each source's own name, shown in place of its key: the `title` of sources.toml
    -- (configured = 1) or else the og:site_name its newest stored page gave.
    CREATE TABLE IF NOT EXISTS source_titles (
        source     TEXT PRIMARY KEY,
        title      TEXT NOT NULL,
        configured INTEGER NOT NULL DEFAULT 0
    );
    """,
    """
    -- Keys of the ingest API (indexer/ingest_api.py): the secret's SHA-256 only, never the secret;
    -- a key writes one source's articles, or every source's (source NULL).
    CREATE TABLE IF NOT EXISTS ingest_keys (
        id          INTEGER PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        source      TEXT,
        label       TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );
    """,
    """
    -- Each source's template, learned from its own pages (indexer/template.py): the blocks its
    -- pages repeat, which never enter a body; relearned by each crawl that reads enough pages.
    CREATE TABLE IF NOT EXISTS source_templates (
        source     TEXT PRIMARY KEY,
        template   TEXT NOT NULL,
        learned_at TEXT NOT NULL
    );
    """,
]


def _passages_with_titles(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """(passage id, article title, passage text) of every passage: what the FTS5 tables index."""
    return conn.execute("SELECT p.id, a.title, p.text FROM passages p JOIN articles a ON a.id = p.article_id")


def _folded_words_in_passages_fts(conn: sqlite3.Connection) -> None:
    conn.executemany("UPDATE passages_fts SET title = ?, text = ? WHERE rowid = ?",
                     ((vtext.folded_words(title), vtext.folded_words(text), pid)
                      for pid, title, text in _passages_with_titles(conn)))


def _populate_passages_exact(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO passages_exact (rowid, title, text) VALUES (?, ?, ?)",
                     ((pid, prepare.exact_text(title), prepare.exact_text(text))
                      for pid, title, text in _passages_with_titles(conn)))


def _populate_articles_fts(conn: sqlite3.Connection) -> None:
    conn.executemany("INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
                     ((aid, vtext.fold(title), vtext.fold(vtext.document_text(summary, body)))
                      for aid, title, summary, body in conn.execute("SELECT id, title, summary, body FROM articles")))


def _add_vocabulary_text_counts(conn: sqlite3.Connection) -> None:
    """In how many texts (passages and titles) each written form occurs: a document frequency
    read without touching FTS5's posting lists. Filled by the next vocabulary rebuild."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(vocab_unigrams)")}
    if "texts" not in columns:
        conn.execute("ALTER TABLE vocab_unigrams ADD COLUMN texts INTEGER NOT NULL DEFAULT 0")


def _find_near_duplicates(conn: sqlite3.Connection) -> None:
    """Group the stored articles, as if each had been stored since groups existed."""
    for aid, summary, body in conn.execute("SELECT id, summary, body FROM articles ORDER BY id").fetchall():
        groups.index_article(conn, aid, summary, body, duplicates.band_keys(duplicates.shingles(summary, body)))


def _recognise_places(conn: sqlite3.Connection) -> None:
    """Find the places of every stored article (without its source's province: none was known)."""
    for aid, title, summary, body, day in conn.execute(
            "SELECT id, title, summary, body, published_day FROM articles ORDER BY id").fetchall():
        articles.store_places(conn, aid, place_mentions.article_places(title, summary, body, day))


STEPS = {"populate_passages_exact": _populate_passages_exact,
         "populate_articles_fts": _populate_articles_fts,
         "add_vocabulary_text_counts": _add_vocabulary_text_counts,
         "folded_words_in_passages_fts": _folded_words_in_passages_fts,
         "recount_vocabulary": lambda conn: articles.recount_vocabulary(conn, capitals=False),
         "recount_vocabulary_with_capitals": articles.recount_vocabulary,
         "find_near_duplicates": _find_near_duplicates,
         "recognise_places": _recognise_places}


def upgrade(conn: sqlite3.Connection, steps: list[str] = MIGRATIONS) -> int:
    """Apply the steps an archive lacks, each in its own transaction with its version number;
    returns the schema version. An archive newer than these steps is refused."""
    current = schema_version(conn)
    if current > len(steps):
        raise RuntimeError(f"database schema v{current} is newer than this code (v{len(steps)})")
    for version in range(current, len(steps)):
        step = steps[version]
        if step in STEPS:
            with conn:
                STEPS[step](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
        else:
            with conn:
                conn.executescript("BEGIN;" + step + f"PRAGMA user_version = {version + 1};")
    return schema_version(conn)
