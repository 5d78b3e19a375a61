"""Side by side on the same evaluation set, machine and model: us, txtai and plain BM25 (bm25s).

    python -m bench.peers --eval ../shared/corpus/eval-dev [--peer ours] [--peer txtai] [--sample 300]

Install the peers first: `pip install -r requirements-bench.txt`. Each system indexes the documents
its usual way, from nothing (we embed with an empty vector cache; txtai: one embedding per
document, `hybrid` BM25 + dense, the converted e5 model with its `query: ` / `passage: `
instructions; bm25s: folded words, as our lexical side), then answers every query with its ids
only (no snippets). Reported per query kind: MRR@10 and Recall@10, index seconds, resident memory
added by the index (each system in a process of its own), and query latency p50/p99. `--sample N`
keeps N documents (seeded) and the queries whose answers are among them: a quick run.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.quality import index_eval_set, percentile, query_metrics, read_jsonl
from indexer.config import load_settings
from indexer.text import fold, words


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tokens(text: str) -> list[str]:
    return words(fold(text))


def bm25s_peer(docs: list[dict], stack: ExitStack):
    import bm25s

    ids = [str(d["id"]) for d in docs]
    retriever = bm25s.BM25()
    retriever.index([tokens(d["body"]) for d in docs], show_progress=False)

    def search(query: str, k: int) -> list[str]:
        found, _ = retriever.retrieve([tokens(query)], k=min(k, len(ids)), show_progress=False)
        return [ids[i] for i in found[0]]

    return search


def txtai_peer(docs: list[dict], stack: ExitStack):
    from txtai import Embeddings

    model = load_settings().model_name_or_path
    embeddings = Embeddings({"path": str(Path(model).resolve()) if Path(model).exists() else model,
                             "instructions": {"query": "query: ", "data": "passage: "},
                             "hybrid": True, "content": False, "backend": "faiss"})
    embeddings.index((str(d["id"]), d["body"], None) for d in docs)

    def search(query: str, k: int) -> list[str]:
        return [str(i) for i, _ in embeddings.search(query, k)]

    return search


def ours_peer(docs: list[dict], stack: ExitStack):
    from service.search import Query, SearchEngine

    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newssearch-peers-")))
    base = load_settings()
    settings = load_settings({"data_dir": tmp / "data", "cache_dir_setting": str(tmp / "cache"),
                              "model": base.model or str(base.default_model_path.resolve())})
    doc_of_article = index_eval_set(settings, docs, progress=False)
    engine = SearchEngine(settings)
    engine.embedder.clear_query_cache()

    def search(query: str, k: int) -> list[str]:
        order = engine.rank(Query(text=query)).order
        return [doc_of_article[aid] for aid in order[:k]]

    return search


PEERS = {"ours": ours_peer, "bm25s": bm25s_peer, "txtai": txtai_peer}


def sample_set(docs: list[dict], queries: list[dict], size: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """`size` documents chosen with a fixed seed, and the queries all of whose answers they hold."""
    kept = random.Random(seed).sample(docs, min(size, len(docs)))
    ids = {str(d["id"]) for d in kept}
    return kept, [q for q in queries if {str(r) for r in q["relevant"]} <= ids]


def evaluate_peer(name: str, docs: list[dict], queries: list[dict]) -> list[dict]:
    with ExitStack() as stack:
        before = rss_mb()
        started = time.perf_counter()
        search = PEERS[name](docs, stack)
        index_s = time.perf_counter() - started
        memory = rss_mb() - before
        return _answer(name, search, queries, index_s, memory)


def _answer(name: str, search, queries: list[dict], index_s: float, memory: float) -> list[dict]:
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
    parser.add_argument("--sample", type=int, help="keep this many documents (seeded) and their queries")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = compare(args.eval, args.peer or list(PEERS), args.sample)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, ensure_ascii=False, indent=2))
    return 0


def compare(eval_dir: Path, peers: list[str], sample: int | None = None) -> list[dict]:
    docs = read_jsonl(eval_dir / "docs.jsonl")
    queries = read_jsonl(eval_dir / "queries.jsonl")
    if sample:
        docs, queries = sample_set(docs, queries, sample)
    rows = []
    for name in peers:
        rows += in_own_process(name, docs, queries)
        print(f"{name}: indexed {len(docs)} documents, answered {len(queries)} queries", file=sys.stderr)
    return rows


def in_own_process(name: str, docs: list[dict], queries: list[dict]) -> list[dict]:
    """evaluate_peer in a fresh process: the memory one system adds is then not what another one
    loaded or freed before it (in one process, the second reused the first's freed memory)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_evaluate_into, args=(name, docs, queries, send))
    process.start()
    rows = receive.recv()
    process.join()
    return rows


def _evaluate_into(name: str, docs: list[dict], queries: list[dict], out) -> None:
    out.send(evaluate_peer(name, docs, queries))


def format_table(rows: list[dict]) -> str:
    lines = [f"{'peer':<7} {'kind':<13} {'mrr@10':>7} {'R@10':>6} {'index s':>8} {'+RSS MB':>8} "
             f"{'p50 ms':>7} {'p99 ms':>7}"]
    for r in sorted(rows, key=lambda r: (r["peer"], r["kind"] != "all", r["kind"])):
        lines.append(f"{r['peer']:<7} {r['kind']:<13} {r['mrr@10']:>7.3f} {r['recall@10']:>6.3f} "
                     f"{r['index_s']:>8.1f} {r['rss_added_mb']:>8.1f} {r['latency_p50_ms']:>7.1f} "
                     f"{r['latency_p99_ms']:>7.1f}")
    return "\n".join(lines)



if __name__ == "__main__":
    sys.exit(main())
