"""The commands that bring an archive in and take it out (``python -m indexer --help`` lists all):
import and export (docs/import.md), backup and restore, and the ingest API with its keys."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from indexer import store
from indexer.config import load_settings
from indexer.dates import parse_date_arg
from indexer.exits import ExitCode


def province_arg(name: str) -> str:
    from indexer import places

    if not places.is_province(name):
        raise argparse.ArgumentTypeError(f"{name!r} names no Vietnamese province")
    return name


def web_url_arg(value: str) -> str:
    from indexer.models import is_web_url

    if not is_web_url(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/") + "/"


def _mapping(value: str) -> tuple[str, str]:
    from indexer.transfer import FIELDS

    column, _, name = value.partition("=")
    if not column or name not in FIELDS:
        raise argparse.ArgumentTypeError(f"{value!r}: write COLUMN=FIELD, FIELD one of {', '.join(FIELDS)}")
    return column, name


def cmd_import(args: argparse.Namespace) -> int:
    from indexer import transfer

    settings = load_settings()
    options = transfer.Options(dict(args.map), args.base_url, args.source, args.province, settings.timezone)
    rejects = args.rejects or args.files[0].with_name(args.files[0].name + ".rejects.ndjson")
    conn = store.connect(settings.db_path)
    try:
        report = transfer.import_files(conn, args.files, options, args.skip_invalid, rejects,
                                       settings.chunk_words, settings.chunk_overlap, progress=True,
                                       workers=max(args.workers, 0))
    except BrokenProcessPool:
        print("import: a worker process died (killed, or out of memory); what was stored before stays "
              "stored: import again (it goes on where this stopped), with fewer --workers", file=sys.stderr)
        return ExitCode.BAD_INPUT
    finally:
        conn.close()
    for error in report.errors:
        print(f"  {error}", file=sys.stderr)
    if report.counts["invalid"] > len(report.errors):
        print(f"  … and {report.counts['invalid'] - len(report.errors):,} more", file=sys.stderr)
    if report.counts["invalid"] and not args.skip_invalid:
        print(f"import: {report.counts['invalid']:,} invalid record(s): nothing stored "
              f"(--skip-invalid stores the valid ones)", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(report.summary())
    return ExitCode.OK


def cmd_export(args: argparse.Namespace) -> int:
    from indexer import transfer

    conn = store.connect(load_settings().db_path, readonly=True)
    try:
        with open(args.output, "w", encoding="utf-8") if args.output else contextlib.nullcontext(sys.stdout) as out:
            count = transfer.export(conn, out, tuple(args.source), args.date_from and args.date_from.isoformat(),
                                    args.date_to and args.date_to.isoformat())
    finally:
        conn.close()
    print(f"export: {count:,} articles", file=sys.stderr)
    return ExitCode.OK


def cmd_backup(args: argparse.Namespace) -> int:
    from indexer.backup import backup

    info = backup(load_settings(), args.folder, args.with_vectors)
    print(f"backup: {info['articles']:,} articles, index version {info['index_version'] or '(none)'}"
          f"{', vector cache' if info['vectors'] else ''} → {args.folder}")
    return ExitCode.OK


def cmd_restore(args: argparse.Namespace) -> int:
    from indexer.backup import restore

    info = restore(load_settings(), args.folder, args.force)
    print(f"restore: {info['articles']:,} articles of {info['created_at']}, index version "
          f"{info['index_version'] or '(none)'} published")
    return ExitCode.OK


def cmd_serve_ingest(args: argparse.Namespace) -> int:
    from indexer.ingest_api import create_app

    create_app().run(host=args.host, port=args.port, threaded=True)
    return ExitCode.OK


def cmd_keys(args: argparse.Namespace) -> int:
    from indexer import ingest_api

    conn = store.connect(load_settings().db_path)
    try:
        if args.action == "create":
            if bool(args.source) == args.all:
                raise ValueError("keys create: give --source NAME (one source's articles) or --all")
            key = ingest_api.create_key(conn, args.source, args.label)
            print(f"{key}\n(shown once: only its hash is kept; it writes "
                  f"{'every source' if args.all else 'source ' + repr(args.source)})")
        elif args.action == "revoke":
            if not args.id or not store.revoke_ingest_key(conn, args.id):
                raise ValueError(f"keys revoke: no key {args.id} in use")
            print(f"key {args.id} revoked")
        else:
            for row in store.ingest_keys(conn):
                state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "in use"
                print(f"{row['id']:>4}  {row['source'] or '(every source)':<24} {state:<32} {row['label']}")
    finally:
        conn.close()
    return ExitCode.OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    """These commands' parsers, on the command line's."""
    p = sub.add_parser("import", help="store articles given as data: NDJSON, a JSON array or CSV (docs/import.md)")
    p.add_argument("files", nargs="+", type=Path, help=".ndjson/.jsonl, .json or .csv (each may be .gz)")
    p.add_argument("--map", action="append", default=[], type=_mapping, metavar="COLUMN=FIELD",
                   help="read a column under the schema's name for it (--map tieu_de=title); repeatable")
    p.add_argument("--base-url", type=web_url_arg, metavar="URL", help="records with an id and no url are at URL + id")
    p.add_argument("--source", help="source name of records that give none (default: their URL's host)")
    p.add_argument("--province", type=province_arg, help="province of records that give none (resolves place names)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="store the valid records and write the invalid ones to the reject file (default: "
                        "a file with an invalid record stores nothing)")
    p.add_argument("--rejects", type=Path, help="the reject file (default: FIRST_FILE.rejects.ndjson)")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), metavar="N",
                   help="processes that check and prepare records while one stores them (default: one a core; "
                        "0: all in one process)")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("export", help="write the archive's articles as NDJSON in the import schema")
    p.add_argument("--source", action="append", default=[], help="only this source; repeatable")
    p.add_argument("--from", dest="date_from", type=parse_date_arg,
                   help="published on or after this day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=parse_date_arg,
                   help="published on or before this day (YYYY-MM-DD)")
    p.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("backup", help="copy the archive and the served index version into a new folder, "
                                      "safely while a nightly runs")
    p.add_argument("folder", type=Path)
    p.add_argument("--with-vectors", action="store_true",
                   help="copy the passage-vector cache too (a restore then needs no re-embedding)")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="put a backup back into the data dir and publish its index version")
    p.add_argument("folder", type=Path)
    p.add_argument("--force", action="store_true", help="replace the data dir's archive")
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser("serve-ingest", help="on the primary: the ingest API publishing systems push articles to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_serve_ingest)
    p = sub.add_parser("keys", help="create, list or revoke the ingest API's keys")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("id", nargs="?", type=int, help="revoke: the key's number (keys list shows it)")
    p.add_argument("--source", help="create: a key that writes this source's articles only")
    p.add_argument("--all", action="store_true", help="create: a key that writes every source's")
    p.add_argument("--label", default="", help="create: who or what uses it")
    p.set_defaults(func=cmd_keys)
