"""The SQLite archive, the indexer's working store: articles, their passages and the passages'
normalised words, places, near-duplicate groups, vocabulary counts and the crawler's state. Every
SQL statement against it lives in this package (what a search matches is in each published index
version instead, indexer/version/):

    connection.py   opening it, its schema (schema.sql; migrations.py upgrades older archives),
                    transactions
    articles.py     storing and deleting an article with everything that follows from it
    groups.py       near-duplicate bands, pairs and groups
    sources.py      sources' names, the crawler's state and templates, ingest keys
    reads.py        what building an index version reads
"""
from indexer.store.articles import (
    Batch,
    article_passage_ids,
    articles_for_export,
    batch,
    delete_article,
    find_article,
    get_article,
    recount_vocabulary,
    store_places,
    store_prepared,
    stored_hash,
    upsert_article,
    write_vocabulary_rows,
)
from indexer.store.connection import (
    SCHEMA_FILE,
    connect,
    database_file,
    keep_in_memory,
    migrate,
    schema_version,
    transaction,
)
from indexer.store.groups import snapshot as group_snapshot
from indexer.store.reads import (
    article_rows,
    article_word_texts,
    articles_of_passages,
    count_rows,
    embedding_text,
    iter_passages_for_index,
    passage_rows,
    place_counts,
    titles,
    write_vocabulary_file,
)
from indexer.store.sources import (
    add_ingest_key,
    crawl_page,
    ingest_key,
    ingest_keys,
    last_crawl_runs,
    list_sources,
    record_crawl_page,
    record_crawl_run,
    revoke_ingest_key,
    save_source_template,
    set_source_title,
    source_days,
    source_months,
    source_template,
)

__all__ = [
    "SCHEMA_FILE", "Batch", "add_ingest_key", "article_passage_ids", "article_rows", "article_word_texts",
    "articles_for_export", "articles_of_passages", "batch", "connect", "count_rows", "crawl_page",
    "database_file", "delete_article", "embedding_text", "find_article", "get_article", "group_snapshot",
    "ingest_key", "ingest_keys", "iter_passages_for_index", "keep_in_memory", "last_crawl_runs",
    "list_sources", "migrate", "passage_rows", "place_counts", "record_crawl_page", "record_crawl_run",
    "recount_vocabulary", "revoke_ingest_key", "save_source_template", "schema_version", "set_source_title",
    "source_days", "source_months", "source_template", "store_places", "store_prepared", "stored_hash",
    "titles", "transaction", "upsert_article", "write_vocabulary_file", "write_vocabulary_rows",
]
