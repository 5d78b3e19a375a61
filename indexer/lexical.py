"""The lexical index of a published version: BM25 over the project's own normalised words, in
tantivy (block-max WAND prunes a top-k query; SQLite FTS5 scored every posting of every word).

Two indexes sit in each version directory, beside FAISS::

    <version>/lexical/passages/   a document per passage: folded and exact words of its title and
                                  text; stored: its text and where it sits in the article
    <version>/lexical/articles/   a document per article: folded words of its title, lead and body;
                                  stored: what result lists and the article page show, and its
                                  words joined for the word-order stage

The stored fields make a version all the service reads: it never opens the SQLite archive.

Words are fed already normalised (`text.folded_words`, `store.exact_text`) and split on spaces,
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
import math
import os
import shutil
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import tantivy

from indexer import places, store
from indexer import text as vtext
from indexer.files import link_or_copy
from indexer.models import Candidate, Filters, WordQuery

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
MAX_PASSAGES = 10_000  # an article's passages read at most (a book-length page: 1.8M words)


class LexicalUnavailable(RuntimeError):
    """A version's lexical index that is missing or does not match its manifest."""


# Stored, never searched: what a result, the article page and the word-order stage read.
ARTICLE_FIELDS = ("url", "title", "summary", "body", "author", "published_at", "category")
_STORED = {PASSAGES: ("text",), ARTICLES: (*ARTICLE_FIELDS, "joined_folded", "joined_exact")}
_POSITIONS = {PASSAGES: ("ordinal", "start", "end"), ARTICLES: ()}


def _schema(kind: str) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pid", stored=True, indexed=True, fast=True)
    builder.add_unsigned_field("aid", stored=True, indexed=True, fast=True)
    builder.add_integer_field("day", stored=True, indexed=True, fast=True)  # YYYYMMDD; absent when undated
    builder.add_integer_field("published", fast=True)  # seconds since 1970, for newest first
    builder.add_text_field("source", tokenizer_name="raw", stored=True)
    builder.add_text_field("places", tokenizer_name="raw", stored=True, fast=True)  # the article's place keys
    for name in _FIELDS[kind]:
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in _STORED[kind]:  # bytes (UTF-8): tantivy has no text field that is stored only
        builder.add_bytes_field(name, stored=True)
    for name in _POSITIONS[kind]:
        builder.add_unsigned_field(name, stored=True)
    return builder.build()


def _day_number(day: str | None) -> int | None:
    return int(day.replace("-", "")) if day else None


# --- writing ---------------------------------------------------------------------------------

def _document(row: sqlite3.Row, texts: dict[str, str], numbers: dict[str, int]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_unsigned("pid", row["pid"])
    doc.add_unsigned("aid", row["aid"])
    if (number := _day_number(row["published_day"])) is not None:
        doc.add_integer("day", number)
    if (seconds := _seconds(row["published_at"])) is not None:
        doc.add_integer("published", seconds)
    doc.add_text("source", row["source"])
    for key in (row["places"] or "").split():
        doc.add_text("places", key)
    for name, value in texts.items():
        if name in _STORED[ARTICLES] or name in _STORED[PASSAGES]:
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


_PLACES_OF = "(SELECT group_concat(place, ' ') FROM article_places WHERE article_id = {})"


def weighted_words(title: str, text: str) -> str:
    """A document's words for BM25: the title TITLE_WEIGHT times, then the text."""
    return " ".join([title] * TITLE_WEIGHT + [text])


def _passage_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Passage documents from the words the archive stores for them (all published, or these ids)."""
    where = f"AND p.id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    rows = conn.execute(
        f"""SELECT p.id AS pid, p.article_id AS aid, a.published_day, a.published_at, a.source,
                   {_PLACES_OF.format("a.id")} AS places, p.ordinal, p.start, p."end", p.text,
                   w.folded_title, w.folded_text, w.exact_title, w.exact_text
            FROM passages p JOIN articles a ON a.id = p.article_id JOIN passage_words w ON w.id = p.id
            WHERE p.id <= ? {where}""", [max_passage_id, *(ids or [])])
    for row in rows:
        yield _document(row, {"words": weighted_words(row["folded_title"], row["folded_text"]),
                              "words_exact": weighted_words(row["exact_title"], row["exact_text"]),
                              "text": row["text"]},
                        {name: row[name] for name in _POSITIONS[PASSAGES]})


def _article_rows(conn: sqlite3.Connection, ids: list[int] | None, max_passage_id: int) -> Iterator[tantivy.Document]:
    """Article documents (all, or these ids) for articles with a published passage; the
    passage id is the article's first passage, the one an article match points at."""
    where = f"AND a.id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    rows = conn.execute(
        f"""SELECT p.id AS pid, a.id AS aid, a.published_day, a.source, {_PLACES_OF.format("a.id")} AS places,
                   {", ".join(f"a.{name}" for name in ARTICLE_FIELDS)}
            FROM articles a JOIN passages p ON p.article_id = a.id AND p.ordinal = 0
            WHERE p.id <= ? {where}""", [max_passage_id, *(ids or [])])
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
    for part in store.batches(removed):
        found = searcher.search(_one_of(schema, "pid", part), len(part), count=False)
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
        link_or_copy(path, target / path.name)
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
    """A version's two lexical indexes, opened read-only: searched, and read for what results and
    pages show. Every article's dates are read into memory once (each search orders and filters
    hundreds of candidates by date)."""

    def __init__(self, passages: tantivy.Index, articles: tantivy.Index) -> None:
        self._passages, self._articles = passages, articles
        self._passage_searcher, self._article_searcher = passages.searcher(), articles.searcher()
        self._dates = _DateTable.read(self._article_searcher)
        self._owners = _Owners(*_every_document(self._passage_searcher, ("pid", "aid"), (-1, -1)))

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

    # --- what the version stores ---------------------------------------------------------
    def _addresses(self, kind: str, field: str, ids: Iterable[int],
                   filters: Filters | None = None) -> list[tantivy.DocAddress]:
        """The documents whose `field` is one of these ids (and that pass the filters)."""
        index, searcher = ((self._passages, self._passage_searcher) if kind == PASSAGES
                           else (self._articles, self._article_searcher))
        wanted = sorted({i for i in ids if 0 <= i < 2 ** 64})
        clauses = _filter_clauses(index.schema, filters) if filters else []
        out = []
        for part in store.batches(wanted):
            query = _one_of(index.schema, field, part)
            if clauses:
                query = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in (query, *clauses)])
            limit = len(part) * MAX_PASSAGES if (kind, field) == (PASSAGES, "aid") else len(part)
            out.extend(address for _, address in searcher.search(query, limit, count=False).hits)
        return out

    def _stored(self, kind: str, ids: Iterable[int]) -> Iterator[dict]:
        searcher = self._passage_searcher if kind == PASSAGES else self._article_searcher
        for address in self._addresses(kind, _KEY[kind], ids):
            yield _fields(searcher.doc(address).to_dict())

    def article_fields(self, article_ids: Iterable[int]) -> dict[int, dict]:
        """What a result and the article page show of each article (those the version serves)."""
        return {doc["id"]: doc for doc in (_article(d) for d in self._stored(ARTICLES, article_ids))}

    def passage_fields(self, passage_ids: Iterable[int]) -> dict[int, dict]:
        """Each passage's text, article and place in it (start and end offsets into the article)."""
        return {d["pid"]: {"id": d["pid"], "article_id": d["aid"], "text": d["text"],
                           **{name: d[name] for name in _POSITIONS[PASSAGES]}}
                for d in self._stored(PASSAGES, passage_ids)}

    def passage_articles(self, passage_ids: Iterable[int], filters: Filters | None = None) -> dict[int, int]:
        """{passage id: article id} of these passages that pass the filters (without filters, from
        the table read at opening: no search)."""
        if filters is None or not filters.active:
            return self._owners.of(passage_ids)
        addresses = self._addresses(PASSAGES, "pid", passage_ids, filters)
        values = self._passage_searcher.fast_field_values
        return dict(zip(values("pid", addresses), values("aid", addresses)))

    def article_passages(self, article_id: int) -> list[int]:
        """An article's passage ids (from the fast fields: no stored document is read)."""
        return sorted(self._passage_searcher.fast_field_values("pid", self._addresses(PASSAGES, "aid", [article_id])))

    def word_texts(self, article_ids: Iterable[int], exact: bool) -> dict[int, str]:
        """Each article's words joined for substring tests (store.article_word_texts, as built)."""
        name, searcher = "joined_exact" if exact else "joined_folded", self._article_searcher
        docs = [searcher.doc(address) for address in self._addresses(ARTICLES, "aid", article_ids)]
        return {doc.get_first("aid"): doc.get_first(name).decode() for doc in docs}  # that field alone

    def dates(self, article_ids: Iterable[int]) -> dict[int, tuple[int | None, str | None]]:
        """(seconds since 1970 it was published, its day "YYYY-MM-DD") of each article."""
        return self._dates.of(article_ids)

    def about(self, article_ids: Iterable[int], place_keys: Collection[str]) -> set[int]:
        """Those of these articles that are about one of the places."""
        schema = self._articles.schema
        places_query = tantivy.Query.term_set_query(schema, "places", sorted(place_keys))
        out: set[int] = set()
        for part in store.batches(sorted(set(article_ids))):
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, places_query), (
                tantivy.Occur.Must, _one_of(schema, "aid", part))])
            hits = self._article_searcher.search(query, len(part), count=False).hits
            out.update(self._article_searcher.fast_field_values("aid", [a for _, a in hits]))
        return out

    def held(self, article_ids: Iterable[int], groups: Sequence[list[tuple[str, ...]]]) -> Holdings:
        """How many options of each group (folded words, or runs of words in a row) each of these
        articles holds, in one query: option i of group g scores the product of (size + 1) of the
        groups before g, so the summed score, an exact integer in float32 below 2**24, reads back as
        one count per group (mixed radix). Articles holding none are absent."""
        ids = sorted(set(article_ids))
        groups = [list(dict.fromkeys(g)) for g in groups]
        radix = [len(g) + 1 for g in groups]
        if not ids or not any(groups):
            return Holdings({}, {}, radix)
        if math.prod(radix) >= 2 ** 24:  # a pasted text of hundreds of words: a query per group
            parts = [self.held(ids, [g]) for g in groups]
            counts = {aid: tuple(p.counts.get(aid, (0,))[0] for p in parts)
                      for aid in set().union(*(p.counts for p in parts))}
            return Holdings(counts, {a: d for p in parts for a, d in p.addresses.items()}, radix)
        schema, Occur, Query = self._articles.schema, tantivy.Occur, tantivy.Query
        weight, clauses = 1, []
        for group, size in zip(groups, radix, strict=True):
            clauses += [(Occur.Should, Query.const_score_query(_match(schema, "words", option), float(weight)))
                        for option in group]
            weight *= size
        count = Query.boolean_query(clauses)
        counts, addresses = {}, {}
        for part in store.batches(ids):
            query = Query.boolean_query([(Occur.Must, count),
                                         (Occur.Must, Query.const_score_query(
                                             _one_of(schema, "aid", part), 0.0))])
            hits = self._article_searcher.search(query, len(part), count=False).hits
            aids = self._article_searcher.fast_field_values("aid", [address for _, address in hits])
            for (score, address), aid in zip(hits, aids):
                total, held = round(score), []
                for size in radix:
                    total, n = divmod(total, size)
                    held.append(n)
                counts[aid], addresses[aid] = tuple(held), address
        return Holdings(counts, addresses, radix)

    def word_texts_at(self, holdings: Holdings, article_ids: Iterable[int]) -> dict[int, str]:
        """The folded words (word_texts) of these articles, read at the addresses `held` found them."""
        searcher = self._article_searcher
        return {aid: searcher.doc(holdings.addresses[aid]).get_first("joined_folded").decode()
                for aid in article_ids if aid in holdings.addresses}

    def place_counts(self, article_ids: list[int], limit: int) -> list[tuple[str, int]]:
        """The places most of these articles (the first 5,000) are about, with how many are about each."""
        ids = sorted(set(article_ids[:5000]))
        if not ids:
            return []
        query = _one_of(self._articles.schema, "aid", ids)
        found = self._article_searcher.aggregate(query, {"places": {"terms": {"field": "places", "size": 65000}}})
        counts = [(b["key"], int(b["doc_count"])) for b in found["places"]["buckets"]]
        return sorted(counts, key=lambda kc: (-kc[1], kc[0]))[:limit]

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


def _fields(stored: dict) -> dict:
    """A stored document as plain values: one value per field, bytes as text, places a list."""
    out = {}
    for name, values in stored.items():
        if name == "places":
            out[name] = sorted(values)
        else:
            value = values[0]
            out[name] = value.decode() if isinstance(value, bytes) else value
    return out


def _day_text(day: int | None) -> str | None:
    """YYYYMMDD as "YYYY-MM-DD" (None or 0: undated)."""
    return f"{day // 10000:04d}-{day // 100 % 100:02d}-{day % 100:02d}" if day else None


def _article(doc: dict) -> dict:
    day = doc.get("day")
    return {"id": doc["aid"], "source": doc["source"], "places": doc.get("places", []),
            "published_day": _day_text(day),
            **{name: doc.get(name) or ("" if name != "published_at" else None) for name in ARTICLE_FIELDS}}


@dataclass
class _DateTable:
    """Every article's dates, sorted by article id (numpy arrays: a few bytes an article)."""

    ids: np.ndarray
    published: np.ndarray  # seconds; UNDATED where unknown
    days: np.ndarray  # YYYYMMDD; 0 where unknown

    @classmethod
    def read(cls, searcher: tantivy.Searcher) -> _DateTable:
        ids, published, days = _every_document(searcher, ("aid", "published", "day"), (0, UNDATED, 0))
        return cls(ids, published, days)

    def of(self, article_ids: Iterable[int]) -> dict[int, tuple[int | None, str | None]]:
        wanted = np.fromiter(article_ids, dtype=np.int64)
        at = np.clip(np.searchsorted(self.ids, wanted), 0, max(len(self.ids) - 1, 0))
        out = {}
        for aid, position in zip(wanted.tolist(), at.tolist()):
            if len(self.ids) and self.ids[position] == aid:
                day, seconds = int(self.days[position]), int(self.published[position])
                out[aid] = (None if seconds == UNDATED else seconds, _day_text(day))
        return out


UNDATED = -(2 ** 62)


def _every_document(searcher: tantivy.Searcher, names: tuple[str, ...], missing: tuple[int, ...]
                    ) -> list[np.ndarray]:
    """These integer fast fields of every document, sorted by the first (`missing` stands in
    for a value a document lacks): read once when a version is opened."""
    hits = searcher.search(tantivy.Query.all_query(), max(searcher.num_docs, 1), count=False).hits
    addresses = [address for _, address in hits]
    columns = [np.array([default if v is None else v for v in searcher.fast_field_values(name, addresses)],
                        dtype=np.int64) for name, default in zip(names, missing, strict=True)]
    order = np.argsort(columns[0])
    return [column[order] for column in columns]


@dataclass(frozen=True)
class Holdings:
    """What `LexicalIndex.held` found: per article, how many options of each group it holds, and
    where its document is (to read its words without searching again)."""

    counts: dict[int, tuple[int, ...]]
    addresses: dict[int, tantivy.DocAddress]
    radix: list[int]

    def of(self, group: int) -> dict[int, int]:
        """Article id → how many options of this group it holds (those holding none absent)."""
        return {aid: held[group] for aid, held in self.counts.items() if held[group]}


@dataclass
class _Owners:
    """Every passage's article (numpy arrays sorted by passage id: 16 bytes a passage), so that
    the semantic side maps its nearest passages to articles without a search."""

    pids: np.ndarray
    aids: np.ndarray

    def of(self, passage_ids: Iterable[int]) -> dict[int, int]:
        wanted = np.fromiter(passage_ids, dtype=np.int64)
        if not len(self.pids) or not len(wanted):
            return {}
        at = np.clip(np.searchsorted(self.pids, wanted), 0, len(self.pids) - 1)
        found = self.pids[at] == wanted
        return dict(zip(wanted[found].tolist(), self.aids[at[found]].tolist(), strict=True))


# Up to this many ids, a union of term queries finds documents by id faster than a term set
# query, which walks the field's term dictionary (at 1M passages, 600 article ids: 1.8 ms against
# 6.0 ms; 20: 0.05 against 0.4; 5,000: 14.8 against 10.9).
TERM_UNION_IDS = 2000


def _one_of(schema: tantivy.Schema, field: str, ids: list[int]) -> tantivy.Query:
    """The documents whose integer `field` is one of `ids`."""
    if len(ids) > TERM_UNION_IDS:
        return tantivy.Query.term_set_query(schema, field, ids)
    Query = tantivy.Query
    return Query.boolean_query([(tantivy.Occur.Should, Query.term_query(schema, field, i)) for i in ids])


def _match(schema: tantivy.Schema, field: str, terms: tuple[str, ...]) -> tantivy.Query:
    """A word, or words in a row."""
    if len(terms) == 1:
        return tantivy.Query.term_query(schema, field, terms[0])
    return tantivy.Query.phrase_query(schema, field, list(terms))


def _query(schema: tantivy.Schema, field: str, words: WordQuery, filters: Filters) -> tantivy.Query:
    """Every phrase must match, and at least one option; filters restrict without scoring."""
    Occur, Query = tantivy.Occur, tantivy.Query
    clauses = [(Occur.Must, _match(schema, field, p)) for p in words.phrases]
    if words.options:
        clauses.append((Occur.Must, Query.boolean_query([(Occur.Should, _match(schema, field, o))
                                                         for o in words.options])))
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
