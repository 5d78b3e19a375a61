"""Where a result set ends: precision, recall and F1 of the WHOLE result set, per mode.

    python -m bench.result_sets --eval ../shared/corpus/eval-dev-topics [--mode hybrid] [--json FILE]
        [--set NAME=VALUE]   (a number of RankingParams, service/search/rank.py: boundary=0 for no boundary)

The set is eval-dev-topics' layout: topic queries whose `relevant` lists are sets, and `none`
queries (meaningless strings) whose right answer is an empty set. Every result the API would
count is read: the engine's whole result set (near-duplicate copies collapsed, as `total` counts
them), not a first page. Relevance comes from withheld headlines, which under-label, so precision
is a lower bound: compare modes and versions side by side. Prints per mode and kind: the mean set
size, precision, recall and F1 per query (averaged), and for `none` the share that found nothing.
The archive and its vector cache are bench.quality's.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench.quality import MODES, eval_archive, eval_arguments, percentile, report

KINDS_WITHOUT_ANSWER = ("none",)


def set_metrics(found: set[str], relevant: set[str]) -> dict[str, float]:
    """Precision, recall and F1 of one result set (an empty set has precision 1 by convention)."""
    hits = len(found & relevant)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(relevant) if relevant else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "size": len(found)}


def evaluate(eval_dir: Path, modes: tuple[str, ...], cache_dir: Path, progress: bool = True,
             params=None) -> list[dict]:
    import time

    from service.search import Query

    with eval_archive(eval_dir, cache_dir, progress, params) as (engine, doc_of_article, queries):
        rows = []
        for mode in modes:
            per_kind: dict[str, list[dict]] = {}
            latencies: list[float] = []
            engine.embedder.clear_query_cache()
            for q in queries:
                started = time.perf_counter()
                engine.search(Query(text=q["text"], per_page=10, mode=mode))
                latencies.append((time.perf_counter() - started) * 1000)
                found = {doc_of_article[aid] for aid in engine.result_set(Query(text=q["text"], mode=mode))}
                per_kind.setdefault(q["kind"], []).append(set_metrics(found, {str(r) for r in q["relevant"]}))
            for kind, values in per_kind.items():
                row = {"mode": mode, "kind": kind, "queries": len(values),
                       "mean_size": round(statistics.fmean(v["size"] for v in values), 1),
                       "latency_p50_ms": round(percentile(latencies, 0.5), 2)}
                if kind in KINDS_WITHOUT_ANSWER:
                    row["empty_share"] = round(sum(v["size"] == 0 for v in values) / len(values), 3)
                else:
                    row.update({m: round(statistics.fmean(v[m] for v in values), 3)
                                for m in ("precision", "recall", "f1")})
                rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    header = f"{'mode':<9} {'kind':<13} {'n':>4} {'size':>7} {'precision':>9} {'recall':>7} {'F1':>6} " \
             f"{'empty':>6} {'p50 ms':>7}"
    lines = [header, "-" * len(header)]
    for r in sorted(rows, key=lambda r: (r["mode"], r["kind"])):
        metrics = " ".join(f"{r[m]:>{w}.3f}" if m in r else " " * w
                           for m, w in (("precision", 9), ("recall", 7), ("f1", 6), ("empty_share", 6)))
        lines.append(f"{r['mode']:<9} {r['kind']:<13} {r['queries']:>4} {r['mean_size']:>7.1f} {metrics} "
                     f"{r['latency_p50_ms']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = eval_arguments("python -m bench.result_sets", __doc__, argv)
    rows = evaluate(args.eval, tuple(args.mode or MODES), args.cache_dir, progress=not args.quiet, params=args.params)
    return report(args, rows, format_table(rows))


if __name__ == "__main__":
    sys.exit(main())
