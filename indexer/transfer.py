"""Articles in and out of the archive as data: `import` reads NDJSON (JSON lines), a JSON array or
CSV (Excel's "CSV UTF-8" included, gzip-compressed or not); `export` writes NDJSON in the same
schema, so that importing an export gives the archive back. The schema is defined here, once:
docs/import.md describes it.

Import checks every record before it stores one: a file with an error stores nothing (unless
told to skip the invalid records, which then go to a reject file), each error named by file,
line and field. Records stream: a file of any size is read twice (check, then store) in constant
memory, but for the set of addresses seen, which finds an address given twice.
"""
from __future__ import annotations

import csv
import gzip
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO
from urllib.parse import quote, urljoin, urlsplit

from bs4 import BeautifulSoup

from indexer import places, store
from indexer import text as vtext
from indexer.dates import parse_datetime
from indexer.models import Article, is_web_url

FIELDS = ("url", "id", "title", "body", "summary", "author", "published_at", "category", "source", "province")
EXPORTED = ("url", "source", "title", "summary", "body", "author", "published_at", "category")
MAX_CHARS = {"body": 1_000_000, "summary": 20_000}  # others: MAX_FIELD_CHARS
MAX_FIELD_CHARS = 2_000
MAX_ERRORS_SHOWN = 50
STORE_BATCH = 200  # articles stored in one transaction (a crash loses at most these; importing again redoes them)
# A body holding these tags is HTML: its paragraphs are what the tags make of it.
HTML_BODY = re.compile(r"<(p|br|div|span|b|i|u|strong|em|ul|ol|li|h[1-6]|table|tr|td|img|a|figure|blockquote)\b[^>]*>",
                       re.I)
BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "figure", "figcaption", "table")


class RecordError(ValueError):
    """One record that cannot be stored: the field and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name


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


# --- reading ---------------------------------------------------------------------------------
def _open(path: Path) -> IO[str]:
    """The file as text: gzip unpacked, a UTF-8 byte order mark dropped, lines as written."""
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _format(path: Path) -> str:
    name = path.name[:-3] if path.suffix == ".gz" else path.name
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix in ("csv", "tsv"):
        return suffix
    if suffix == "json":
        return "json"
    return "ndjson"  # .ndjson, .jsonl and anything else: one JSON object per line


def records(path: Path) -> Iterator[tuple[int, dict | RecordError]]:
    """(line number, the record or why it cannot be read), in file order."""
    kind = _format(path)
    with _open(path) as text:
        if kind in ("csv", "tsv"):
            yield from _csv_records(text, "\t" if kind == "tsv" else ",")
        elif kind == "json":
            yield from _array_records(text)
        else:
            for number, line in enumerate(text, 1):
                if line.strip():
                    yield number, parse_json_object(line)


def parse_json_object(text: str) -> dict | RecordError:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return RecordError("", f"not JSON ({exc.msg} at column {exc.colno})")
    return value if isinstance(value, dict) else RecordError("", f"a JSON {type(value).__name__}, not an object")


def _csv_records(text: IO[str], delimiter: str) -> Iterator[tuple[int, dict | RecordError]]:
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield reader.line_num, RecordError("", f"{len(row)} columns, the header names {len(header)}")
        else:
            yield reader.line_num, dict(zip(header, row, strict=True))


def _array_records(text: IO[str], chunk: int = 1 << 16) -> Iterator[tuple[int, dict | RecordError]]:
    """The objects of a JSON array, decoded one at a time as the file is read (not all at once)."""
    decoder, buffer, line, started = json.JSONDecoder(), "", 1, False
    while True:
        more = text.read(chunk)
        buffer += more
        while True:
            stripped = buffer.lstrip(" \t\r\n,")
            line += buffer[:len(buffer) - len(stripped)].count("\n")
            buffer = stripped
            if not started:
                if not buffer:
                    break
                if buffer[0] != "[":
                    yield line, RecordError("", "a .json file must hold an array of objects")
                    return
                buffer, started = buffer[1:], True
                continue
            if buffer.startswith("]") or not buffer:
                break
            try:
                value, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError as exc:
                if more:  # the object may continue in the next chunk
                    break
                yield line, RecordError("", f"not JSON ({exc.msg})")
                return
            yield line, value if isinstance(value, dict) else RecordError("", "an array item that is no object")
            line += buffer[:end].count("\n")
            buffer = buffer[end:]
        if not more or buffer.startswith("]"):
            return


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


def checked(items: Iterable[tuple[str, int, dict | RecordError]], options: Options,
            on_error: Callable[[str, int, dict | None, RecordError], None]) -> Iterator[tuple[Article, str | None]]:
    """Every valid record of (where, line number, record) as an article; each invalid one reported
    to `on_error` (a record whose address an earlier record gave is invalid too)."""
    seen: dict[str, str] = {}
    for where, number, record in items:
        try:
            if isinstance(record, RecordError):
                raise record
            article, province = article_from(record, options)
            first = seen.setdefault(article.url, f"{where}, line {number}")
            if first != f"{where}, line {number}":
                raise RecordError("url", f"{article.url} is given again (first on {first})")
        except RecordError as exc:
            on_error(where, number, record if isinstance(record, dict) else None, exc)
            continue
        yield article, province


def file_records(paths: Iterable[Path]) -> Iterator[tuple[str, int, dict | RecordError]]:
    """(file name, line number, record) of every record of the files, in order."""
    for path in paths:
        for number, record in records(path):
            yield path.name, number, record


def import_files(conn: sqlite3.Connection, paths: list[Path], options: Options, skip_invalid: bool = False,
                 rejects: Path | None = None, chunk_words: int = 180, chunk_overlap: int = 30,
                 progress: bool = False) -> ImportReport:
    """Check every record of the files; store them unless one is invalid (with `skip_invalid`,
    store the valid ones and write the invalid ones, with their errors, to `rejects`)."""
    report = ImportReport()

    def note(where: str, number: int, record: dict | None, exc: RecordError) -> None:
        report.counts["invalid"] += 1
        if len(report.errors) < MAX_ERRORS_SHOWN:
            report.errors.append(f"{where}, line {number:,}: {exc}")

    for _ in checked(file_records(paths), options, note):
        pass
    if report.counts["invalid"] and not skip_invalid:
        return report
    from tqdm import tqdm

    with ExitStack() as files:
        rejected = files.enter_context(open(rejects, "w", encoding="utf-8")) \
            if report.counts["invalid"] and rejects else None
        report.rejects = rejects if rejected else None

        def reject(where: str, number: int, record: dict | None, exc: RecordError) -> None:
            if rejected:
                rejected.write(json.dumps({"file": where, "line": number, "field": exc.field, "error": str(exc),
                                           "record": record}, ensure_ascii=False) + "\n")

        articles = iter(tqdm(checked(file_records(paths), options, reject), unit="article", desc="import",
                             disable=not progress))
        while chunk := list(islice(articles, STORE_BATCH)):  # a transaction each: the commits were a cost
            with store.batch(conn) as stored:
                for article, province in chunk:
                    _, status = store.upsert_article(conn, article, chunk_words, chunk_overlap, home_province=province,
                                                     stored=stored)
                    report.counts[status] += 1
    return report


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
