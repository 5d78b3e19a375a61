"""Records as import files hold them: NDJSON (JSON lines), a JSON array or CSV (Excel's "CSV UTF-8"
included), each gzip-compressed or not, read one at a time with the line each begins on; what
cannot be read is a RecordError in its place. indexer/transfer.py checks and stores them.
"""
from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


class RecordError(ValueError):
    """One record that cannot be stored: the field and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field, self.message = field_name, message

    def __reduce__(self) -> tuple:  # a worker process sends it back: rebuilt from both arguments
        return RecordError, (self.field, self.message)


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


def file_records(paths: Iterable[Path]) -> Iterator[tuple[str, int, dict | RecordError]]:
    """(file name, line number, record) of every record of the files, in order."""
    for path in paths:
        for number, record in records(path):
            yield path.name, number, record
