"""Peers on the same evaluation set and machine: plain BM25 (bm25s) and txtai (hybrid, same model).

    python -m bench.peers --eval ../shared/corpus/eval-dev [--peer bm25s] [--peer txtai] [--json FILE]

Install the peers first: `pip install -r requirements-bench.txt`. Each peer indexes the documents
its usual way (txtai: one embedding per document, `hybrid` BM25 + dense, the converted e5 model
with its `query: ` / `passage: ` instructions; bm25s: folded words, as our lexical side), then
answers every query; reported per query kind: MRR@10 and Recall@10, index seconds, resident
memory added by the index, and query latency p50/p99. Compare with `bench.quality` on the same set.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from bench.quality import percentile, query_metrics, read_jsonl
from indexer.config import load_settings
from indexer.text import fold, words


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tokens(text: str) -> list[str]:
    return words(fold(text))


def bm25s_peer(docs: list[dict]):
    import bm25s

    ids = [str(d["id"]) for d in docs]
    retriever = bm25s.BM25()
    retriever.index([tokens(d["body"]) for d in docs], show_progress=False)

    def search(query: str, k: int) -> list[str]:
        found, _ = retriever.retrieve([tokens(query)], k=min(k, len(ids)), show_progress=False)
        return [ids[i] for i in found[0]]

    return search


def txtai_peer(docs: list[dict]):
    from txtai import Embeddings

    model = load_settings().model_name_or_path
    embeddings = Embeddings({"path": str(Path(model).resolve()) if Path(model).exists() else model,
                             "instructions": {"query": "query: ", "data": "passage: "},
                             "hybrid": True, "content": False, "backend": "faiss"})
    embeddings.index((str(d["id"]), d["body"], None) for d in docs)

    def search(query: str, k: int) -> list[str]:
        return [str(i) for i, _ in embeddings.search(query, k)]

    return search


PEERS = {"bm25s": bm25s_peer, "txtai": txtai_peer}


def evaluate_peer(name: str, docs: list[dict], queries: list[dict]) -> list[dict]:
    before = rss_mb()
    started = time.perf_counter()
    search = PEERS[name](docs)
    index_s = time.perf_counter() - started
    memory = rss_mb() - before
    per_kind: dict[str, list[dict]] = {}
    latency: dict[str, list[float]] = {}
    for q in queries:
        t0 = time.perf_counter()
        ranked = search(q["text"], 100)
        elapsed = (time.perf_counter() - t0) * 1000
        m = query_metrics(ranked, {str(r) for r in q["relevant"]})
        for kind in (q["kind"], "all"):
            per_kind.setdefault(kind, []).append(m)
            latency.setdefault(kind, []).append(elapsed)
    rows = []
    for kind, values in per_kind.items():
        rows.append({"peer": name, "kind": kind, "queries": len(values),
                     "mrr@10": round(statistics.fmean(v["mrr@10"] for v in values), 4),
                     "recall@10": round(statistics.fmean(v["recall@10"] for v in values), 4),
                     "index_s": round(index_s, 1), "rss_added_mb": round(memory, 1),
                     "latency_p50_ms": round(percentile(latency[kind], 0.5), 2),
                     "latency_p99_ms": round(percentile(latency[kind], 0.99), 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", required=True, type=Path)
    parser.add_argument("--peer", action="append", choices=sorted(PEERS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    docs = read_jsonl(args.eval / "docs.jsonl")
    queries = read_jsonl(args.eval / "queries.jsonl")
    rows = []
    for name in args.peer or sorted(PEERS):
        rows += evaluate_peer(name, docs, queries)
        print(f"{name}: indexed {len(docs)} documents", file=sys.stderr)
    print(f"{'peer':<7} {'kind':<13} {'mrr@10':>7} {'R@10':>6} {'index s':>8} {'+RSS MB':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7}")
    for r in sorted(rows, key=lambda r: (r["peer"], r["kind"] != "all", r["kind"])):
        print(f"{r['peer']:<7} {r['kind']:<13} {r['mrr@10']:>7.3f} {r['recall@10']:>6.3f} {r['index_s']:>8.1f} "
              f"{r['rss_added_mb']:>8.1f} {r['latency_p50_ms']:>7.1f} {r['latency_p99_ms']:>7.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
