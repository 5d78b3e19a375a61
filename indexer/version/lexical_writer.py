"""A version's lexical indexes, written from the archive (lexical.py reads them).

Words are fed already normalised (`text.folded_words`, `prepare.exact_text`) and split on spaces,
so the index and the query parser agree on every word by construction. A version's statistics
(BM25's document frequencies, the common-word counts) are its own: what is stored but not yet
published changes nothing a served version answers. A nightly patch hard-links the previous
version's files (segments are immutable) and adds the new passages and articles; a segment that
holds a removed passage is left out and its other documents are indexed again, since tantivy
counts a deleted document in BM25's statistics until its segment is merged. The previous
version's directory is never written. Removals are mostly corrections to recent news, which sits
in the small, recent segments.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import tantivy

from indexer import places, store
from indexer import text as vtext
from indexer.files import link_or_copy
from indexer.models import batches
from indexer.version.lexical import (
    ARTICLE_FIELDS,
    ARTICLES,
    KEY,
    LEXICAL_DIR,
    PASSAGES,
    POSITIONS,
    STORED,
    LexicalIndex,
    day_number,
    one_of,
    schema_of,
)

# A title word counts three times a text word. The title is written that many times into one
# field, as FTS5's column weights scaled the term frequency before BM25's saturation (a boost on a
# separate title field would multiply the score instead); one field also keeps a query a plain
# union of term queries, which is what block-max WAND prunes.
TITLE_WEIGHT = 3
WRITER_HEAP = 256 * 1024 * 1024
WRITER_THREADS = min(2, os.cpu_count() or 1)  # each thread writes segments of its own


def _document(row: sqlite3.Row, texts: dict[str, str], numbers: dict[str, int]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_unsigned("pid", row["pid"])
    doc.add_unsigned("aid", row["aid"])
    if (number := day_number(row["published_day"])) is not None:
        doc.add_integer("day", number)
    if (seconds := _seconds(row["published_at"])) is not None:
        doc.add_integer("published", seconds)
    doc.add_text("source", row["source"])
    for key in (row["places"] or "").split():
        doc.add_text("places", key)
    for name, value in texts.items():
        if name in STORED[ARTICLES] or name in STORED[PASSAGES]:
            doc.add_bytes(name, (value or "").encode())
        else:
            doc.add_text(name, value)
    for name, value in numbers.items():
        doc.add_unsigned(name, value)
    return doc


def _seconds(published_at: str | None) -> int | None:
    try:
        return int(datetime.fromisoformat(published_at).timestamp()) if published_at else None
    except ValueError:
        return None


def weighted_words(title: str, text: str) -> str:
    """A document's words for BM25: the title TITLE_WEIGHT times, then the text."""
    return " ".join([title] * TITLE_WEIGHT + [text])


def _passage_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Passage documents from the words the archive stores for them (all published, or these ids)."""
    for row in store.passage_rows(conn, ids, max_passage_id):
        yield _document(row, {"words": weighted_words(row["folded_title"], row["folded_text"]),
                              "words_exact": weighted_words(row["exact_title"], row["exact_text"]),
                              "text": row["text"]},
                        {name: row[name] for name in POSITIONS[PASSAGES]})


def _article_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Article documents (all, or these ids) for articles with a published passage; the
    passage id is the article's first passage, the one an article match points at."""
    rows = store.article_rows(conn, ids, max_passage_id, ARTICLE_FIELDS)
    while part := rows.fetchmany(500):
        joined = {exact: store.article_word_texts(conn, [row["aid"] for row in part], exact, max_passage_id)
                  for exact in (False, True)}
        for row in part:
            words = weighted_words(vtext.folded_words(row["title"]),
                                   vtext.folded_words(vtext.document_text(row["summary"], row["body"])))
            yield _document(row, {"words": words, **{name: row[name] for name in ARTICLE_FIELDS},
                                  "joined_folded": joined[False].get(row["aid"], ""),
                                  "joined_exact": joined[True].get(row["aid"], "")}, {})


def _segment_files(segment_id: str) -> str:
    """The prefix of a segment's files: meta.json spells its id as a UUID, the files without dashes."""
    return segment_id.replace("-", "")


def _segments_holding(index_dir: Path, kind: str, removed: list[int]) -> tuple[list[int], set[int]]:
    """(keys, segment ordinals): the segments of a published index that hold a document of a
    removed passage (the article index: of a removed first passage), and the keys (passage ids;
    for articles, article ids) of their other documents, which a patch indexes again."""
    if not removed:  # an add-only patch: nothing to look up
        return [], set()
    index = tantivy.Index.open(str(index_dir))
    searcher, schema = index.searcher(), index.schema
    segments = json.loads((index_dir / "meta.json").read_text())["segments"]
    holding: set[int] = set()
    for part in batches(removed):
        found = searcher.search(one_of(schema, "pid", part), len(part), count=False)
        holding.update(address.segment_ord for _, address in found.hits)
    gone, keys = set(removed), []
    for ordinal in sorted(holding):
        addresses = [tantivy.DocAddress(ordinal, doc) for doc in range(segments[ordinal]["max_doc"])]
        pids = searcher.fast_field_values("pid", addresses)
        own = searcher.fast_field_values(KEY[kind], addresses)
        keys.extend(key for pid, key in zip(pids, own) if pid not in gone)
    return keys, holding


def _link_tree(previous: Path, target: Path, dropped: Collection[int]) -> None:
    """Hard-link a previous version's index files (copy where links are impossible), less the
    `dropped` segments (ordinals), which its meta.json then leaves out. Segment files are never
    written again, and tantivy replaces meta.json by renaming: the previous version stays as it was."""
    meta = json.loads((previous / "meta.json").read_text())
    prefixes = tuple(_segment_files(meta["segments"][ordinal]["segment_id"]) for ordinal in dropped)
    meta["segments"] = [segment for ordinal, segment in enumerate(meta["segments"]) if ordinal not in dropped]
    target.mkdir(parents=True)
    for path in previous.iterdir():
        if (path.name.startswith(".tantivy-") or path.name == "meta.json" or not path.is_file()
                or (prefixes and path.name.startswith(prefixes))):
            continue  # lock files belong to the writer that made them
        if path.name == ".managed.json":  # tantivy's list of its files: this version's own
            shutil.copy2(path, target / path.name)
            continue
        link_or_copy(path, target / path.name)
    (target / "meta.json").write_text(json.dumps(meta))


def _write(path: Path, kind: str, previous: Path | None, documents: Iterable[tantivy.Document],
           checkpoint: Callable[[], None], dropped: Collection[int] = ()) -> None:
    if previous is not None:
        _link_tree(previous, path, dropped)
        index = tantivy.Index.open(str(path))
    else:
        path.mkdir(parents=True)
        index = tantivy.Index(schema_of(kind), str(path))
    writer = index.writer(WRITER_HEAP, WRITER_THREADS)
    for doc in documents:
        writer.add_document(doc)
    checkpoint()  # the kill point of the crash tests: documents written, nothing committed
    writer.commit()
    writer.wait_merging_threads()


def build(version_dir: Path, conn: sqlite3.Connection, max_passage_id: int, previous: Path | None = None,
          added: list[int] | None = None, removed: list[int] | None = None,
          checkpoint: Callable[[], None] = lambda: None) -> dict:
    """Write the lexical indexes into a version directory being built; returns their manifest
    entry. With `previous` (a published version's directory), its indexes are patched: the
    segments holding a `removed` passage are left out and their other documents indexed again
    with the `added` passages and their articles (an updated article's passages replace its old
    ones). No document is ever deleted: tantivy would count it in BM25's statistics until its
    segment is merged, and a patched version must rank exactly as a full build. Without
    `previous`, every published passage and article is indexed."""
    root = Path(version_dir) / LEXICAL_DIR
    if previous is None:
        _write(root / PASSAGES, PASSAGES, None, _passage_rows(conn, None, max_passage_id), checkpoint)
        _write(root / ARTICLES, ARTICLES, None, _article_rows(conn, None, max_passage_id), checkpoint)
        opened = LexicalIndex.open(version_dir)
        return {"passages": opened.passage_count, "articles": opened.article_count, "built": "full",
                "places": places.VERSION}
    old, ids, gone = Path(previous) / LEXICAL_DIR, sorted(added or []), sorted(removed or [])
    kept_passages, passage_segments = _segments_holding(old / PASSAGES, PASSAGES, gone)
    kept_articles, article_segments = _segments_holding(old / ARTICLES, ARTICLES, gone)
    articles = sorted({aid for part in batches(ids) for aid in store.articles_of_passages(conn, part)}
                      | set(kept_articles))
    passages = sorted(set(ids) | set(kept_passages))
    _write(root / PASSAGES, PASSAGES, old / PASSAGES, _chunked(_passage_rows, conn, passages, max_passage_id),
           checkpoint, passage_segments)
    _write(root / ARTICLES, ARTICLES, old / ARTICLES, _chunked(_article_rows, conn, articles, max_passage_id),
           checkpoint, article_segments)
    opened = LexicalIndex.open(version_dir)
    return {"passages": opened.passage_count, "articles": opened.article_count, "built": "patched",
            "places": places.VERSION,
            "segments_rewritten": len(passage_segments) + len(article_segments),
            "documents_rewritten": len(kept_passages) + len(kept_articles)}


def _chunked(rows: Callable[[sqlite3.Connection, list[int], int], Iterator[tantivy.Document]],
             conn: sqlite3.Connection, ids: list[int], max_passage_id: int) -> Iterator[tantivy.Document]:
    """The documents of these ids, read a SQL IN list at a time."""
    for part in batches(ids):
        yield from rows(conn, part, max_passage_id)
