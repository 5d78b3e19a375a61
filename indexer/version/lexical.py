"""The lexical index of a published version, read: BM25 over the project's own normalised words, in
tantivy (block-max WAND prunes a top-k query; SQLite FTS5 scored every posting of every word).

Two indexes sit in each version directory, beside FAISS::

    <version>/lexical/passages/   a document per passage: folded and exact words of its title and
                                  text; stored: its text and where it sits in the article
    <version>/lexical/articles/   a document per article: folded words of its title, lead and body;
                                  stored: what result lists and the article page show, and its
                                  words joined for the word-order stage

The stored fields make a version all the service reads: it never opens the SQLite archive. The
schema here is the one contract with lexical_writer.py, which writes both indexes.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy

from indexer.models import Candidate, Filters, WordQuery, batches

LEXICAL_DIR, PASSAGES, ARTICLES = "lexical", "passages", "articles"
_FIELDS = {PASSAGES: ("words", "words_exact"), ARTICLES: ("words",)}
KEY = {PASSAGES: "pid", ARTICLES: "aid"}  # what a document is indexed again by
MAX_PASSAGES = 10_000  # an article's passages read at most (a book-length page: 1.8M words)


class LexicalUnavailable(RuntimeError):
    """A version's lexical index that is missing or does not match its manifest."""


# Stored, never searched: what a result, the article page and the word-order stage read.
ARTICLE_FIELDS = ("url", "title", "summary", "body", "author", "published_at", "category")
STORED = {PASSAGES: ("text",), ARTICLES: (*ARTICLE_FIELDS, "joined_folded", "joined_exact")}
POSITIONS = {PASSAGES: ("ordinal", "start", "end"), ARTICLES: ()}


def schema_of(kind: str) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pid", stored=True, indexed=True, fast=True)
    builder.add_unsigned_field("aid", stored=True, indexed=True, fast=True)
    builder.add_integer_field("day", stored=True, indexed=True, fast=True)  # YYYYMMDD; absent when undated
    builder.add_integer_field("published", fast=True)  # seconds since 1970, for newest first
    builder.add_text_field("source", tokenizer_name="raw", stored=True)
    builder.add_text_field("places", tokenizer_name="raw", stored=True, fast=True)  # the article's place keys
    for name in _FIELDS[kind]:
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in STORED[kind]:  # bytes (UTF-8): tantivy has no text field that is stored only
        builder.add_bytes_field(name, stored=True)
    for name in POSITIONS[kind]:
        builder.add_unsigned_field(name, stored=True)
    return builder.build()


def day_number(day: str | None) -> int | None:
    return int(day.replace("-", "")) if day else None


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
        for part in batches(wanted):
            query = one_of(index.schema, field, part)
            if clauses:
                query = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in (query, *clauses)])
            limit = len(part) * MAX_PASSAGES if (kind, field) == (PASSAGES, "aid") else len(part)
            out.extend(address for _, address in searcher.search(query, limit, count=False).hits)
        return out

    def _stored(self, kind: str, ids: Iterable[int]) -> Iterator[dict]:
        searcher = self._passage_searcher if kind == PASSAGES else self._article_searcher
        for address in self._addresses(kind, KEY[kind], ids):
            yield _fields(searcher.doc(address).to_dict())

    def article_fields(self, article_ids: Iterable[int]) -> dict[int, dict]:
        """What a result and the article page show of each article (those the version serves)."""
        return {doc["id"]: doc for doc in (_article(d) for d in self._stored(ARTICLES, article_ids))}

    def passage_fields(self, passage_ids: Iterable[int]) -> dict[int, dict]:
        """Each passage's text, article and place in it (start and end offsets into the article)."""
        return {d["pid"]: {"id": d["pid"], "article_id": d["aid"], "text": d["text"],
                           **{name: d[name] for name in POSITIONS[PASSAGES]}}
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
        for part in batches(sorted(set(article_ids))):
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, places_query), (
                tantivy.Occur.Must, one_of(schema, "aid", part))])
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
        for part in batches(ids):
            query = Query.boolean_query([(Occur.Must, count),
                                         (Occur.Must, Query.const_score_query(
                                             one_of(schema, "aid", part), 0.0))])
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
        query = one_of(self._articles.schema, "aid", ids)
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


def one_of(schema: tantivy.Schema, field: str, ids: list[int]) -> tantivy.Query:
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
                                             day_number(filters.date_from), day_number(filters.date_to)))
    if filters.sources:
        out.append(tantivy.Query.term_set_query(schema, "source", list(filters.sources)))
    if filters.places:
        out.append(tantivy.Query.term_set_query(schema, "places", list(filters.place_keys)))
    return out
