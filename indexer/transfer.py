"""Articles in and out of the archive as data: `import` stores the records of NDJSON (JSON lines), JSON
array or CSV files (records.py reads them); `export` writes NDJSON in the same
schema, so that importing an export gives the archive back. The schema is defined here, once:
docs/import.md describes it.

Import checks every record before it stores one: a file with an error stores nothing (unless
told to skip the invalid records, which then go to a reject file), each error named by file,
line and field. Records stream: a file of any size is read twice (check, then store) in constant
memory, but for the set of addresses seen, which finds an address given twice. Worker processes
check and prepare slices of records (prepare.py: passages, vocabulary, signature, places) while
this process stores them, a slice a transaction: what one process storing each record alone
would store, three times as fast on two cores (bench/README.md, "Import").
"""
from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO
from urllib.parse import quote, urljoin, urlsplit

from bs4 import BeautifulSoup

from indexer import places, prepare, store
from indexer import text as vtext
from indexer.dates import parse_datetime
from indexer.models import Article, is_web_url
from indexer.records import RecordError, file_records

FIELDS = ("url", "id", "title", "body", "summary", "author", "published_at", "category", "source", "province")
EXPORTED = ("url", "source", "title", "summary", "body", "author", "published_at", "category")
MAX_CHARS = {"body": 1_000_000, "summary": 20_000}  # others: MAX_FIELD_CHARS
MAX_FIELD_CHARS = 2_000
MAX_ERRORS_SHOWN = 50
CACHE_KIB = 64 * 1024  # SQLite's page cache while importing (its default, 2 MiB, rereads the growing indexes)
# Records a worker takes at once, stored in one transaction (a crash loses at most these; importing again redoes
# them). One slice more than there are workers is in flight: they all work while this process stores.
WORK_SLICE = 512
# A body holding these tags is HTML: its paragraphs are what the tags make of it.
HTML_BODY = re.compile(r"<(p|br|div|span|b|i|u|strong|em|ul|ol|li|h[1-6]|table|tr|td|img|a|figure|blockquote)\b[^>]*>",
                       re.I)
BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "figure", "figcaption", "table")


@dataclass
class Options:
    """How records become articles: renamed columns, the site an `id` lives on, defaults."""

    mapping: dict[str, str] = field(default_factory=dict)  # column as the file names it → schema field
    base_url: str | None = None
    source: str | None = None
    province: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass
class ImportReport:
    counts: Counter = field(default_factory=Counter)  # new / updated / unchanged / invalid
    errors: list[str] = field(default_factory=list)    # "FILE, line N: field: why"
    rejects: Path | None = None

    def summary(self) -> str:
        parts = [f"{self.counts[k]} {k}" for k in ("new", "updated", "unchanged", "invalid") if self.counts[k]]
        stored = "import: " + (", ".join(parts) or "nothing to import")
        return stored + (f"; invalid records written to {self.rejects}" if self.rejects else "")


# --- checking --------------------------------------------------------------------------------
def _text(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(name, f"must be text, not {type(value).__name__}")
    value = str(value)
    if "\x00" in value:
        raise RecordError(name, "contains NUL bytes")
    if len(value) > MAX_CHARS.get(name, MAX_FIELD_CHARS):
        raise RecordError(name, f"is longer than {MAX_CHARS.get(name, MAX_FIELD_CHARS):,} characters")
    return value.strip()


def html_text(fragment: str) -> str:
    """An HTML body as paragraphs of text: each block element (and each <br>) ends one."""
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    for tag in soup.find_all("br"):
        tag.replace_with("\n\n")
    for tag in soup.find_all(BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    return "\n\n".join(part for part in (vtext.clean(p) for p in soup.get_text().split("\n\n")) if part)


def article_from(raw: dict, options: Options) -> tuple[Article, str | None]:
    """(the article a record stands for, its province), or RecordError naming the field."""
    record = {options.mapping.get(key, key): value for key, value in raw.items()}
    url, ident = _text(record, "url"), _text(record, "id")
    if not url and ident and options.base_url:
        url = urljoin(options.base_url, quote(ident, safe=""))
    if not url:
        raise RecordError("url", "missing: give url, or id with --base-url")
    if not is_web_url(url):
        raise RecordError("url", f"{url!r} is not an http(s) URL")
    title, body = _text(record, "title"), _text(record, "body")
    if HTML_BODY.search(body):
        body = html_text(body)
    if not vtext.clean(body):
        raise RecordError("body", "is empty")
    if not vtext.clean(title):
        raise RecordError("title", "is empty")
    published = _text(record, "published_at")
    published_at = parse_datetime(published, options.timezone) if published else None
    if published and published_at is None:
        raise RecordError("published_at", f"{published!r} is not a date (ISO 8601, or as Vietnamese portals "
                                          f"write them: 25/01/2021 14:30)")
    province = _text(record, "province") or options.province
    if province and not places.is_province(province):
        raise RecordError("province", f"{province!r} names no Vietnamese province")
    source = _text(record, "source") or options.source or (urlsplit(url).hostname or "")
    return Article(url=url, source=source, body=body, title=title, summary=_text(record, "summary"),
                   author=_text(record, "author"), published_at=published_at,
                   category=_text(record, "category")), province or None  # the store cleans it


# (where, line, the record, what became of it): why it cannot be stored, or the article and province it
# stands for, or that article prepared for storing, or (checking only) its address.
Outcome = tuple[str, int, "dict | RecordError | None",
                "RecordError | tuple[Article, str | None] | prepare.Prepared | str"]


@dataclass(frozen=True)
class _Work:
    """What a worker process needs to check and prepare records: set once, when it starts."""

    options: Options
    archive: Path | None  # the archive's file, read to pass over articles stored unchanged
    chunk_words: int = 180
    chunk_overlap: int = 30


_work: _Work | None = None
_archive: sqlite3.Connection | None = None


def _start(work: _Work) -> None:
    """A worker's (or, with no workers, this process's) state for _check and _prepare."""
    global _work, _archive
    if _archive is not None:
        _archive.close()
    _work = work
    _archive = store.connect(work.archive, readonly=True) if work.archive else None


@dataclass(frozen=True)
class _Slice:
    """A worker's share of the records: each one's outcome, and (storing) the vocabulary counts of
    its prepared articles, counted together."""

    outcomes: list[Outcome]
    counted: prepare.VocabularyRows | None = None  # its prepared articles', ready to write


def outcomes(items: Iterable[tuple[str, int, dict | RecordError]], options: Options) -> list[Outcome]:
    """(where, line, record, the article and province it stands for or why it cannot be stored)."""
    out: list[Outcome] = []
    for where, number, record in items:
        try:
            if isinstance(record, RecordError):
                raise record
            out.append((where, number, record, article_from(record, options)))
        except RecordError as exc:
            out.append((where, number, record, exc))
    return out


def checked(items: Iterable[tuple[str, int, dict | RecordError]], options: Options,
            on_error: Callable[[str, int, dict | None, RecordError], None]) -> Iterator[tuple[Article, str | None]]:
    """The articles (and provinces) of the valid records, here and now (the ingest API's few);
    each invalid record goes to `on_error`."""
    yield from _Checker(on_error).valid(outcomes(items, options))  # type: ignore[misc]


def _check(items: list[tuple[str, int, dict | RecordError]]) -> _Slice:
    """outcomes(), each valid record's as its address alone: what the checking pass needs of it."""
    assert _work is not None, "_start first"
    return _Slice([(where, number, None, result if isinstance(result, RecordError) else result[0].url)
                   for where, number, _, result in outcomes(items, _work.options)])


def _prepare(items: list[tuple[str, int, dict | RecordError]]) -> _Slice:
    """outcomes(), each valid record's article prepared for storing (prepare.prepare), but for an
    article the archive holds as it is (storing it will find it unchanged), and the vocabulary rows
    of all those prepared, counted at once."""
    assert _work is not None, "_start first"
    out: list[Outcome] = []
    for where, number, record, result in outcomes(items, _work.options):
        if not isinstance(result, RecordError):
            article, province = prepare.cleaned(result[0]), result[1]
            stored = store.stored_hash(_archive, article.url) if _archive else None
            if stored != article.content_hash():
                result = prepare.prepare(article, _work.chunk_words, _work.chunk_overlap, province)
        out.append((where, number, record, result))
    return _Slice(out, prepare.vocabulary_rows(prepare.vocabulary(_prepared(out))))


def _prepared(outcomes: Iterable[Outcome]) -> list[prepare.Prepared]:
    return [result for *_, result in outcomes if isinstance(result, prepare.Prepared)]


def _slices(items: Iterable[tuple[str, int, dict | RecordError]], step: Callable[[list], _Slice],
            pool: ProcessPoolExecutor | None, workers: int = 0) -> Iterator[_Slice]:
    """`step` applied to slices of the items, in file order, by the pool's `workers` (a bounded
    number of slices in flight, so a file of any size streams) or here. A worker that dies
    ends the import (BrokenProcessPool) rather than leaving it waiting."""
    parts = iter(lambda: list(islice(items, WORK_SLICE)), [])
    if pool is None:
        yield from map(step, parts)
        return
    pending: deque[Future[_Slice]] = deque()
    for part in parts:
        pending.append(pool.submit(step, part))
        if len(pending) > workers:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _url(result: tuple[Article, str | None] | prepare.Prepared | str) -> str:
    if isinstance(result, str):
        return result
    return result.article.url if isinstance(result, prepare.Prepared) else result[0].url


class _Checker:
    """Passes the valid records' results on, in file order; each invalid record goes to `on_error`
    (a record whose address an earlier record gave is invalid too)."""

    def __init__(self, on_error: Callable[[str, int, dict | None, RecordError], None]) -> None:
        self.on_error = on_error
        self.seen: dict[str, str] = {}

    def valid(self, outcomes: Iterable[Outcome]) -> Iterator[tuple[Article, str | None] | prepare.Prepared | str]:
        for where, number, record, result in outcomes:
            try:
                if isinstance(result, RecordError):
                    raise result
                first = self.seen.setdefault(_url(result), f"{where}, line {number}")
                if first != f"{where}, line {number}":
                    raise RecordError("url", f"{_url(result)} is given again (first on {first})")
            except RecordError as exc:
                self.on_error(where, number, record if isinstance(record, dict) else None, exc)
                continue
            yield result


def import_files(conn: sqlite3.Connection, paths: list[Path], options: Options, skip_invalid: bool = False,
                 rejects: Path | None = None, chunk_words: int = 180, chunk_overlap: int = 30,
                 progress: bool = False, workers: int = 0) -> ImportReport:
    """Check every record of the files; store them unless one is invalid (with `skip_invalid`,
    store the valid ones and write the invalid ones, with their errors, to `rejects`). Records are
    checked and prepared by `workers` processes (none: here) while this one stores."""
    report = ImportReport()

    def note(where: str, number: int, record: dict | None, exc: RecordError) -> None:
        report.counts["invalid"] += 1
        if len(report.errors) < MAX_ERRORS_SHOWN:
            report.errors.append(f"{where}, line {number:,}: {exc}")

    work = _Work(options, store.database_file(conn), chunk_words, chunk_overlap)
    store.keep_in_memory(conn, CACHE_KIB)  # the vocabulary's and the bands' B-trees
    with ExitStack() as stack:
        if workers > 0:
            places.gazetteer()  # loaded before the workers start: they share its memory
        pool = stack.enter_context(ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _start, (work,))) \
            if workers > 0 else None  # forked, whatever Python's default: the workers start with what is loaded
        if pool is None:
            _start(work)
        checker = _Checker(note)
        for part in _slices(file_records(paths), _check, pool, workers):
            for _ in checker.valid(part.outcomes):
                pass
        if report.counts["invalid"] and not skip_invalid:
            return report
        report.rejects = rejects if report.counts["invalid"] and rejects else None
        rejected = stack.enter_context(open(report.rejects, "w", encoding="utf-8")) if report.rejects else None
        _store(conn, _slices(file_records(paths), _prepare, pool, workers), _Checker(partial(_reject, rejected)),
               report, work, progress)
    return report


def _reject(out: IO[str] | None, where: str, number: int, record: dict | None, exc: RecordError) -> None:
    """What the storing pass does with an invalid record: writes it, with its error, to `out`."""
    if out:
        out.write(json.dumps({"file": where, "line": number, "field": exc.field, "error": str(exc), "record": record},
                             ensure_ascii=False) + "\n")


def _store(conn: sqlite3.Connection, slices: Iterator[_Slice], checker: _Checker, report: ImportReport,
           work: _Work, progress: bool) -> None:
    """Store the slices' valid records, a transaction each (the commits were a cost)."""
    from tqdm import tqdm

    with tqdm(unit="record", desc="import", disable=not progress) as bar:
        for part in slices:
            with store.batch(conn) as stored:
                _store_slice(conn, part, checker, stored, report, work)
            bar.update(len(part.outcomes))


def _store_slice(conn: sqlite3.Connection, part: _Slice, checker: _Checker, stored: store.Batch,
                 report: ImportReport, work: _Work) -> None:
    """Store a slice's valid records in the batch `stored`, which takes the slice's vocabulary
    counts whole and gives back those of the articles not stored (repeated, unchanged, failed)."""
    if part.counted:
        stored.rows.append(part.counted)
    written: set[int] = set()
    try:
        for result in checker.valid(part.outcomes):
            if isinstance(result, prepare.Prepared):
                _, status = store.store_prepared(conn, result, stored)
                if status != "unchanged":
                    written.add(id(result))
            else:  # stored as it is, when the worker looked: upsert_article finds whether it still is
                _, status = store.upsert_article(conn, result[0], work.chunk_words, work.chunk_overlap,
                                                 home_province=result[1], stored=stored)
            report.counts[status] += 1
    finally:
        unwritten = [p for p in _prepared(part.outcomes) if id(p) not in written]
        if unwritten:
            stored.add(prepare.vocabulary(unwritten, -1))


# --- writing ---------------------------------------------------------------------------------
def export(conn: sqlite3.Connection, out: IO[str], sources: tuple[str, ...] = (), date_from: str | None = None,
           date_to: str | None = None) -> int:
    """Write the archive's articles (of these sources, published between these days) as NDJSON
    in the import schema, oldest stored first; returns how many."""
    where, params = [], []
    if sources:
        where.append(f"source IN ({','.join('?' * len(sources))})")
        params += list(sources)
    if date_from:
        where.append("published_day >= ?")
        params.append(date_from)
    if date_to:
        where.append("published_day <= ?")
        params.append(date_to)
    count = 0
    for row in store.articles_for_export(conn, " AND ".join(where) or "1", params, EXPORTED):
        out.write(json.dumps({key: row[key] for key in EXPORTED if row[key] not in (None, "")},
                             ensure_ascii=False) + "\n")
        count += 1
    return count
