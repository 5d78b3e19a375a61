"""The lexical index of a published version: BM25 over the project's own normalised words, in
tantivy (block-max WAND prunes a top-k query; SQLite FTS5 scored every posting of every word).

Two indexes sit in each version directory, beside FAISS::

    <version>/lexical/passages/   a document per passage: folded and exact words of its title and text
    <version>/lexical/articles/   a document per article: folded words of its title, lead and body

Words are fed already normalised (`store.folded_text`, `store.exact_text`) and split on spaces,
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
from dataclasses import dataclass
from pathlib import Path

import tantivy

from indexer import places, store
from indexer import text as vtext
from indexer.models import Candidate, Filters

LEXICAL_DIR, PASSAGES, ARTICLES = "lexical", "passages", "articles"
# A title word counts three times a text word. The title is written that many times into one
# field, as FTS5's column weights scaled the term frequency before BM25's saturation (a boost on a
# separate title field would multiply the score instead); one field also keeps a query a plain
# union of term queries, which is what block-max WAND prunes.
TITLE_WEIGHT = 3
WRITER_HEAP = 256 * 1024 * 1024
WRITER_THREADS = min(2, os.cpu_count() or 1)  # each thread writes segments of its own
_FIELDS = {PASSAGES: ("words", "words_exact"), ARTICLES: ("words",)}
_KEY = {PASSAGES: "pid", ARTICLES: "aid"}  # what a document is indexed again by


class LexicalUnavailable(RuntimeError):
    """A version's lexical index that is missing or does not match its manifest."""


def _schema(kind: str) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pid", stored=True, indexed=True, fast=True)
    builder.add_unsigned_field("aid", stored=True, indexed=True, fast=True)
    builder.add_integer_field("day", indexed=True, fast=True)  # YYYYMMDD; absent when undated
    builder.add_text_field("source", tokenizer_name="raw")
    builder.add_text_field("places", tokenizer_name="raw")  # the article's place keys, for filtering
    for name in _FIELDS[kind]:
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    return builder.build()


def _day_number(day: str | None) -> int | None:
    return int(day.replace("-", "")) if day else None


@dataclass(frozen=True)
class WordQuery:
    """What a candidate list matches: every phrase, and at least one of the options (a word, or a
    phrase such as an abbreviation spelled out). Words are in the form the list's fields hold."""

    phrases: tuple[tuple[str, ...], ...] = ()
    options: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.phrases or self.options)


# --- writing ---------------------------------------------------------------------------------

def _document(kind: str, row: sqlite3.Row | tuple, texts: dict[str, str]) -> tantivy.Document:
    pid, aid, day, source, keys = row[:5]
    doc = tantivy.Document()
    doc.add_unsigned("pid", pid)
    doc.add_unsigned("aid", aid)
    if (number := _day_number(day)) is not None:
        doc.add_integer("day", number)
    doc.add_text("source", source)
    for key in (keys or "").split():
        doc.add_text("places", key)
    for name in _FIELDS[kind]:
        doc.add_text(name, texts[name])
    return doc


_PLACES_OF = "(SELECT group_concat(place, ' ') FROM article_places WHERE article_id = {})"


def weighted_words(title: str, text: str) -> str:
    """A document's words for BM25: the title TITLE_WEIGHT times, then the text."""
    return " ".join([title] * TITLE_WEIGHT + [text])


def _passage_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Passage documents from the words the archive stores for them (all published, or these ids)."""
    where = f"AND p.id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    rows = conn.execute(
        f"""SELECT p.id, p.article_id, a.published_day, a.source, {_PLACES_OF.format("a.id")},
                   w.folded_title, w.folded_text, w.exact_title, w.exact_text
            FROM passages p JOIN articles a ON a.id = p.article_id JOIN passage_words w ON w.id = p.id
            WHERE p.id <= ? {where}""", [max_passage_id, *(ids or [])])
    for row in rows:
        yield _document(PASSAGES, row, {"words": weighted_words(row[5], row[6]),
                                        "words_exact": weighted_words(row[7], row[8])})


def _article_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Article documents (all, or these ids) for articles with a published passage; the
    passage id is the article's first passage, the one an article match points at."""
    where = f"AND a.id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    rows = conn.execute(
        f"""SELECT p.id, a.id, a.published_day, a.source, {_PLACES_OF.format("a.id")}, a.title, a.summary, a.body
            FROM articles a JOIN passages p ON p.article_id = a.id AND p.ordinal = 0
            WHERE p.id <= ? {where}""", [max_passage_id, *(ids or [])])
    for row in rows:
        words = weighted_words(store.folded_text(row[5]), store.folded_text(vtext.document_text(row[6], row[7])))
        yield _document(ARTICLES, row, {"words": words})


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
    for part in store.batches(removed):
        found = searcher.search(tantivy.Query.term_set_query(schema, "pid", part), len(part), count=False)
        holding.update(address.segment_ord for _, address in found.hits)
    gone, keys = set(removed), []
    for ordinal in sorted(holding):
        addresses = [tantivy.DocAddress(ordinal, doc) for doc in range(segments[ordinal]["max_doc"])]
        pids = searcher.fast_field_values("pid", addresses)
        own = searcher.fast_field_values(_KEY[kind], addresses)
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
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copy2(path, target / path.name)
    (target / "meta.json").write_text(json.dumps(meta))


def _write(path: Path, kind: str, previous: Path | None, documents: Iterable[tantivy.Document],
           checkpoint: Callable[[], None], dropped: Collection[int] = ()) -> None:
    if previous is not None:
        _link_tree(previous, path, dropped)
        index = tantivy.Index.open(str(path))
    else:
        path.mkdir(parents=True)
        index = tantivy.Index(_schema(kind), str(path))
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
    articles = sorted({aid for part in store.batches(ids) for (aid,) in conn.execute(
        f"SELECT DISTINCT article_id FROM passages WHERE id IN ({','.join('?' * len(part))})", part)}
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
    for part in store.batches(ids):
        yield from rows(conn, part, max_passage_id)


# --- reading ---------------------------------------------------------------------------------

class LexicalIndex:
    """A version's two lexical indexes, opened read-only for searching."""

    def __init__(self, passages: tantivy.Index, articles: tantivy.Index) -> None:
        self._passages, self._articles = passages, articles
        self._passage_searcher, self._article_searcher = passages.searcher(), articles.searcher()

    @classmethod
    def open(cls, version_dir: Path) -> LexicalIndex:
        root = Path(version_dir) / LEXICAL_DIR
        try:
            return cls(*(tantivy.Index.open(str(root / kind)) for kind in (PASSAGES, ARTICLES)))
        except (ValueError, OSError) as exc:
            raise LexicalUnavailable(f"no readable lexical index in {root}: {exc}") from exc

    @property
    def passage_count(self) -> int:
        return self._passage_searcher.num_docs

    @property
    def article_count(self) -> int:
        return self._article_searcher.num_docs

    def document_frequency(self, word: str, exact: bool) -> int:
        """In how many passages this word occurs (folded, or spelled with diacritics)."""
        return self._passage_searcher.doc_freq("words_exact" if exact else "words", word)

    def passages(self, words: WordQuery, filters: Filters, limit: int, exact: bool = False) -> list[Candidate]:
        """The best `limit` passages by BM25, on folded words or `exact` ones."""
        field = "words_exact" if exact else "words"
        return self._search(self._passages, self._passage_searcher, field, words, filters, limit)

    def articles(self, words: WordQuery, filters: Filters, limit: int) -> list[Candidate]:
        """The best `limit` whole articles by BM25, each pointing at its first passage."""
        return self._search(self._articles, self._article_searcher, "words", words, filters, limit)

    @staticmethod
    def _search(index: tantivy.Index, searcher: tantivy.Searcher, field: str, words: WordQuery,
                filters: Filters, limit: int) -> list[Candidate]:
        if not words or limit <= 0:
            return []
        query = _query(index.schema, field, words, filters)
        hits = searcher.search(query, limit, count=False).hits
        addresses = [address for _, address in hits]  # ids from the fast fields: no stored document is read
        return [Candidate(pid, aid, float(score)) for (score, _), pid, aid in zip(
            hits, searcher.fast_field_values("pid", addresses), searcher.fast_field_values("aid", addresses))]


def _query(schema: tantivy.Schema, field: str, words: WordQuery, filters: Filters) -> tantivy.Query:
    """Every phrase must match, and at least one option; filters restrict without scoring."""
    Occur, Query = tantivy.Occur, tantivy.Query

    def match(terms: tuple[str, ...]) -> tantivy.Query:
        if len(terms) == 1:
            return Query.term_query(schema, field, terms[0])
        return Query.phrase_query(schema, field, list(terms))

    clauses = [(Occur.Must, match(p)) for p in words.phrases]
    if words.options:
        clauses.append((Occur.Must, Query.boolean_query([(Occur.Should, match(o)) for o in words.options])))
    for clause in _filter_clauses(schema, filters):
        clauses.append((Occur.Must, Query.const_score_query(clause, 0.0)))
    return clauses[0][1] if len(clauses) == 1 else Query.boolean_query(clauses)


def _filter_clauses(schema: tantivy.Schema, filters: Filters) -> list[tantivy.Query]:
    out = []
    if filters.date_from or filters.date_to:
        out.append(tantivy.Query.range_query(schema, "day", tantivy.FieldType.Integer,
                                             _day_number(filters.date_from), _day_number(filters.date_to)))
    if filters.sources:
        out.append(tantivy.Query.term_set_query(schema, "source", list(filters.sources)))
    if filters.places:
        out.append(tantivy.Query.term_set_query(schema, "places", list(filters.place_keys)))
    return out
