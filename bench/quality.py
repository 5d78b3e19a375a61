"""Retrieval quality on a known-item evaluation set, with the project's own pipeline.

    python -m bench.quality --eval ../shared/corpus/eval-dev [--mode hybrid] [--json FILE]

The set is a folder with ``docs.jsonl`` (id, title, body) and ``queries.jsonl`` (qid, kind, text,
relevant ids). Its documents are stored and indexed in a temporary data dir exactly as articles
are; passage vectors go to a persistent cache (``--cache-dir``), so a rerun after a ranking
change skips the embedding. Prints MRR@10, Recall@1/10/100, nDCG@10 per query kind and overall,
and query latency p50/p99 (embedding included), per mode.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

from indexer import models, store
from indexer.config import load_settings

MODES = ("lexical", "semantic", "hybrid")
METRICS = ("mrr@10", "recall@1", "recall@10", "recall@100", "ndcg@10")
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def query_metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    """Binary-relevance metrics for one query's ranked document ids."""
    first = next((i for i, doc in enumerate(ranked[:10]) if doc in relevant), None)
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {
        "mrr@10": 1 / (first + 1) if first is not None else 0.0,
        "recall@1": len(set(ranked[:1]) & relevant) / len(relevant),
        "recall@10": len(set(ranked[:10]) & relevant) / len(relevant),
        "recall@100": len(set(ranked[:100]) & relevant) / len(relevant),
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def index_eval_set(settings, docs: list[dict], progress: bool) -> dict[int, str]:
    """Store the documents as articles and build the index; returns article id → document id."""
    from indexer.pipeline import build_index

    conn = store.connect(settings.db_path)
    ids = {}
    with store.batch(conn) as stored:  # as a bulk import stores (indexer/transfer.py)
        for doc in docs:
            article = models.Article(url=f"https://eval.example.vn/{doc['id']}", source="eval",
                                     title=doc.get("title") or "", body=doc["body"])
            article_id, _ = store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap,
                                                 stored=stored)
            ids[article_id] = str(doc["id"])
    conn.close()
    report = build_index(settings, progress=progress)
    print(report.summary(), file=sys.stderr)
    return ids


@contextmanager
def eval_archive(eval_dir: Path, cache_dir: Path, progress: bool = True, params=None) -> Iterator[tuple]:
    """(engine, article id → document id, queries) over a temporary archive of the set's documents,
    the engine ranking with `params` (a RankingParams; the shipped ones when None)."""
    from service.search import SearchEngine, rank

    docs = read_jsonl(eval_dir / "docs.jsonl")
    with tempfile.TemporaryDirectory(prefix="newssearch-eval-") as tmp:
        base = load_settings()
        settings = load_settings({"data_dir": Path(tmp), "cache_dir_setting": str(cache_dir),
                                  "model": base.model or str(base.default_model_path.resolve())})
        doc_of_article = index_eval_set(settings, docs, progress)
        engine = SearchEngine(settings, params=params or rank.DEFAULT)
        yield engine, doc_of_article, read_jsonl(eval_dir / "queries.jsonl")


def evaluate(eval_dir: Path, modes: tuple[str, ...], cache_dir: Path, progress: bool = True,
             params=None) -> list[dict]:
    from service.search import Query

    with eval_archive(eval_dir, cache_dir, progress, params) as (engine, doc_of_article, queries):
        rows = []
        for mode in modes:
            per_kind: dict[str, list[dict]] = {}
            latencies: dict[str, list[float]] = {}
            engine.embedder.clear_query_cache()
            for q in queries:
                # Latency of the request a person makes (10 results with snippets, the query
                # embedded); the metrics then read the full ranking, re-using that query vector.
                started = time.perf_counter()
                engine.search(Query(text=q["text"], per_page=10, mode=mode))
                elapsed = (time.perf_counter() - started) * 1000
                order = engine.rank(Query(text=q["text"], mode=mode)).order
                ranked = [doc_of_article[aid] for aid in order[:100]]
                metrics = query_metrics(ranked, {str(r) for r in q["relevant"]})
                for kind in (q["kind"], "all"):
                    per_kind.setdefault(kind, []).append(metrics)
                    latencies.setdefault(kind, []).append(elapsed)
            for kind, values in per_kind.items():
                row = {"mode": mode, "kind": kind, "queries": len(values)}
                row.update({m: round(statistics.fmean(v[m] for v in values), 4) for m in METRICS})
                row["latency_p50_ms"] = round(percentile(latencies[kind], 0.5), 2)
                row["latency_p99_ms"] = round(percentile(latencies[kind], 0.99), 2)
                rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    header = f"{'mode':<9} {'kind':<13} {'n':>4} " + " ".join(f"{m:>10}" for m in METRICS) + \
        f" {'p50 ms':>8} {'p99 ms':>8}"
    lines = [header, "-" * len(header)]
    for r in sorted(rows, key=lambda r: (r["mode"], r["kind"] != "all", r["kind"])):
        lines.append(f"{r['mode']:<9} {r['kind']:<13} {r['queries']:>4} " +
                     " ".join(f"{r[m]:>10.3f}" for m in METRICS) +
                     f" {r['latency_p50_ms']:>8.1f} {r['latency_p99_ms']:>8.1f}")
    return "\n".join(lines)


def param_override(text: str) -> tuple[str, object]:
    """name=value for a number of the ranking's RankingParams (service/search/rank.py), the value
    read as the field's own type; a name in capitals is the field of that name (BOUNDARY=0 is
    boundary=0, as the commands in bench/README.md write it)."""
    from service.search import rank

    name, _, value = text.partition("=")
    field = name.lower()
    current = getattr(rank.DEFAULT, field, None) if field in {f.name for f in fields(rank.RankingParams)} else None
    if not isinstance(current, int | float) or not value:
        raise argparse.ArgumentTypeError(f"{name!r} is not a number of RankingParams (service/search/rank.py)")
    try:
        return field, bool(int(value)) if isinstance(current, bool) else type(current)(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from exc


def eval_arguments(prog: str, description: str | None, argv: list[str] | None) -> argparse.Namespace:
    """The arguments of an evaluation over a set (this module's and bench.result_sets'), and in
    `params` the RankingParams to rank with: the shipped ones with what `--set` names changed."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", required=True, type=Path, help="folder with docs.jsonl and queries.jsonl")
    parser.add_argument("--mode", action="append", choices=MODES, help="repeatable; default: all three")
    parser.add_argument("--json", type=Path, help="also write {'rows': [...]} to this file")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="persistent passage-vector cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", type=param_override,
                        help="rank with a number of RankingParams changed (tuning); repeatable")
    args = parser.parse_args(argv)
    from service.search import rank

    args.params = replace(rank.DEFAULT, **dict(args.set))
    return args


def report(args: argparse.Namespace, rows: list[dict], table: str) -> int:
    """Print the table, and write the rows (and the RankingParams changed) where --json says."""
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "set": dict(args.set)}, ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = eval_arguments("python -m bench.quality", __doc__, argv)
    rows = evaluate(args.eval, tuple(args.mode or MODES), args.cache_dir, progress=not args.quiet, params=args.params)
    return report(args, rows, format_table(rows))


if __name__ == "__main__":
    sys.exit(main())
