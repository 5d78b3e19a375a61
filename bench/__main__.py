"""Every benchmark in one run, and a summary table: `make bench` is the quick run.

    python -m bench --quick [--corpus ../shared/corpus]     # a few minutes: bench/results/quick/
    python -m bench --corpus ../shared/corpus               # the full runs:  bench/results/

The corpus folder is the one described in ../shared/corpus/README.md (baomoi-2017.jsonl.gz and
eval-dev/); without it the demo articles stand in and the peers comparison is skipped. The
service benchmark (gunicorn under concurrent clients) reads the configured data dir: build the
demo first (`make demo`, which `make bench` does). Benchmarks never assert: they measure.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

from bench import indexing, load, peers, query_scale, scale
from indexer.config import load_settings

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"
# quick → full: sizes, sample counts and repetitions of each benchmark
PLANS = {
    "quick": {"articles": 60, "batch_sizes": [16, 32], "tune_sample": 48,
              "faiss_sizes": [1_000, 10_000, 50_000], "faiss_queries": 100,
              "archive_sizes": [1_000, 10_000], "real_passages": 5_000, "archive_queries": 30,
              "peer_sample": 120, "load_requests": 60, "load_clients": 4},
    "full": {"articles": 1_000, "batch_sizes": [8, 16, 32, 64], "tune_sample": 128,
             "faiss_sizes": [1_000, 10_000, 100_000, 1_000_000], "faiss_queries": 200,
             "archive_sizes": [1_000, 10_000, 100_000, 1_000_000], "real_passages": 20_000, "archive_queries": 60,
             "peer_sample": None, "load_requests": 400, "load_clients": 8},
}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_all(plan: dict, corpus: Path | None, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    baomoi = corpus / "baomoi-2017.jsonl.gz" if corpus else None
    eval_dir = corpus / "eval-dev" if corpus else None
    summary: dict = {"plan": plan, "corpus": str(corpus) if corpus else None}

    def step(name: str, fn, *args):
        started = time.perf_counter()
        print(f"\n== {name}", flush=True)
        result = fn(*args)
        summary.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
        return result

    own_vectors = CACHE / "indexing-vectors.sqlite3"
    summary["indexing"] = step("indexing", indexing.run, baomoi, plan["articles"], plan["batch_sizes"],
                               plan["tune_sample"], own_vectors)
    print(indexing.format_result(summary["indexing"]))
    vector_cache = CACHE / "vectors.sqlite3" if (CACHE / "vectors.sqlite3").exists() else own_vectors

    real = scale.load_real(vector_cache)
    params = load_settings().index_search_params
    summary["faiss"] = step("faiss index types", scale.run, real, plan["faiss_sizes"], plan["faiss_queries"],
                            0.02, 0, params)
    print(scale.format_table(summary["faiss"]))
    scale.plot(summary["faiss"], out / "scale.png")

    summary["archive"] = step("search latency against archive size", query_scale.run, baomoi,
                              plan["archive_sizes"], plan["real_passages"], plan["archive_queries"], vector_cache)
    print(query_scale.format_table(summary["archive"]))
    query_scale.plot(summary["archive"], out / "query-scale.png")

    if eval_dir and eval_dir.exists():
        names = ["ours", "bm25s", "txtai"]
        missing = [n for n in names[1:] if not installed(n)]
        if missing:
            print(f"peers not installed, left out: {missing} (pip install -r requirements-bench.txt)")
        summary["peers"] = step("peers", peers.compare, eval_dir, [n for n in names if n not in missing],
                                plan["peer_sample"])
        print(peers.format_table(summary["peers"]))
    else:
        print("\n== peers: skipped (needs --corpus with eval-dev/)")

    summary["service"] = step("service under load", load.run, plan["load_clients"], plan["load_requests"], 2, 4)
    print(load.format_table(summary["service"]))
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def summary_lines(summary: dict) -> list[tuple[str, str]]:
    ix = summary["indexing"]
    lines = [("indexing input", f"{ix['input']}, {ix['passages']} passages"),
             ("ingest → build", f"{ix['pipeline_passages_per_s']:.1f} passages/s"),
             ("embedding", f"{ix['embed_passages_per_s']:.1f} passages/s = "
                           f"{100 * ix['embed_fraction_of_bare']:.0f}% of bare encode "
                           f"({ix['bare_encode']['passages_per_s']:.1f}/s)"),
             ("time in stages", ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                                          sorted(ix["stage_fractions"].items(), key=lambda kv: -kv[1]) if v >= 0.005))]
    biggest = max(r["size"] for r in summary["faiss"])
    for r in summary["faiss"]:
        if r["size"] == biggest:
            lines.append((f"FAISS {r['index']} @ {biggest:,}", f"p50 {r['p50_ms']:.2f} ms, recall@10 "
                          f"{r['recall@10']:.3f}, {r['bytes_per_vector']:.0f} B/vector, build {r['build_s']:.1f} s"))
    for r in summary["archive"]:
        lines.append((f"search p50 @ {r['passages']:,} passages",
                      ", ".join(f"{m} {r[m]['p50_ms']:.0f} ms" for m in query_scale.MODES)))
    if summary.get("peers"):
        overall = {r["peer"]: r for r in summary["peers"] if r["kind"] == "all"}
        for name, r in overall.items():
            lines.append((f"peer {name}", f"MRR@10 {r['mrr@10']:.3f}, index {r['index_s']:.1f} s, "
                          f"p50 {r['latency_p50_ms']:.1f} ms, +{r['rss_added_mb']:.0f} MB"))
        if "ours" in overall and "txtai" in overall:
            ours, other = overall["ours"], overall["txtai"]
            lines.append(("ours / txtai", f"index time ×{ours['index_s'] / other['index_s']:.2f}, "
                          f"query p50 ×{ours['latency_p50_ms'] / other['latency_p50_ms']:.2f}, "
                          f"MRR@10 ×{ours['mrr@10'] / other['mrr@10']:.2f}"))
    for r in summary["service"]:
        lines.append((f"service {r['mode']} ({r['clients']} clients)",
                      f"{r['req_per_s']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, {r['errors']} errors"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--corpus", type=Path, help="folder with baomoi-2017.jsonl.gz and eval-dev/")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results[/quick])")
    args = parser.parse_args(argv)
    if args.corpus and not args.corpus.is_dir():
        parser.error(f"--corpus {args.corpus}: no such folder")
    plan = PLANS["quick" if args.quick else "full"]
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    started = time.perf_counter()
    summary = run_all(plan, args.corpus, out)
    lines = summary_lines(summary)
    width = max(len(k) for k, _ in lines)
    print(f"\n== summary ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s; "
          f"{out / 'summary.json'})")
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
