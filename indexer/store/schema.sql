-- A new archive's schema (store.migrate creates it whole). An archive from an earlier release
-- reaches the same by indexer/migrations.py's steps: tests/test_store.py holds the two equal, so a
-- schema change is a new step there and the same change here.
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
CREATE TABLE vocab_unigrams (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL, capitalised INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folded, form)) WITHOUT ROWID;
CREATE TABLE vocab_bigrams (folded TEXT NOT NULL, form TEXT NOT NULL, count INTEGER NOT NULL, capitalised INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folded, form)) WITHOUT ROWID;
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
CREATE INDEX articles_dates ON articles(id, published_at, published_day);
CREATE INDEX passages_id_article ON passages(id, article_id);
CREATE TABLE crawl_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX crawl_runs_source ON crawl_runs(source, started_at);
CREATE TABLE passage_words (
    id           INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    folded_title TEXT NOT NULL,  -- text.folded_words(title): folded words joined by single spaces
    folded_text  TEXT NOT NULL,
    exact_title  TEXT NOT NULL,  -- exact_text(title): canonical words with their diacritics
    exact_text   TEXT NOT NULL
);
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
CREATE TABLE article_places (
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    place      TEXT NOT NULL,
    mentions   INTEGER NOT NULL,
    PRIMARY KEY (article_id, place)
) WITHOUT ROWID;
CREATE INDEX article_places_place ON article_places(place, article_id);
CREATE TABLE source_titles (
    source     TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    configured INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE ingest_keys (
    id          INTEGER PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    source      TEXT,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE source_templates (
    source     TEXT PRIMARY KEY,
    template   TEXT NOT NULL,
    learned_at TEXT NOT NULL
);
PRAGMA user_version = 22;
