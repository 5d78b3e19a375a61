"""FAISS index types at growing sizes: query latency, recall@10 against exact search, memory, build time.

    python -m bench.scale --vectors bench/.cache/vectors.sqlite3 [--sizes 1000 10000 100000] [--plot]

Real passage vectors come from a vector cache (``bench.quality`` fills one with eval-dev's 4,776
e5 vectors). Sizes above the real count are made of real vectors plus Gaussian noise, normalised
again — synthetic, and said so in the output. Queries are other real vectors plus noise. Each
index type is built through the project's own ``writer.make_index`` (the IDMap2 + factory string
the service loads). Timings: single-query search, k=10, medians of --queries runs, one process.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from bench.quality import percentile
from indexer.config import load_settings
from indexer.version import reader, writer

RESULTS = Path(__file__).resolve().parent / "results"


def load_real(path: Path) -> np.ndarray:
    with sqlite3.connect(path) as conn:
        blobs = [b for (b,) in conn.execute("SELECT vector FROM vectors")]
    return np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])


def synthesize(real: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    picks = real[rng.integers(0, len(real), n)]
    out = picks + rng.normal(0, noise, picks.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def factories(n: int) -> dict[str, str]:
    nlist = max(16, int(4 * np.sqrt(n)))
    return {"exact": "Flat", "hnsw": "HNSW32,Flat", "ivf-pq": f"IVF{nlist},PQ48"}


def measure(index: faiss.Index, queries: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    return times, np.array(found)


def run(real: np.ndarray, sizes: list[int], n_queries: int, noise: float, seed: int,
        search_params: str) -> list[dict]:
    rng = np.random.default_rng(seed)
    queries = synthesize(real, n_queries, noise, rng)
    rows = []
    for n in sizes:
        data = real[:n] if n <= len(real) else synthesize(real, n, noise, rng)
        ids = np.arange(n, dtype=np.int64)
        truth = None
        for name, factory in factories(n).items():
            if name == "ivf-pq" and n < 10_000:
                continue  # too few vectors to train 48-byte product quantisers well
            started = time.perf_counter()
            index = writer.make_index(data, ids, factory)
            build_s = time.perf_counter() - started
            reader.apply_search_params(index, search_params)  # as the service loads it
            with tempfile.NamedTemporaryFile() as tmp:
                faiss.write_index(index, tmp.name)
                size = Path(tmp.name).stat().st_size
            times, found = measure(index, queries)
            if name == "exact":
                truth = found
            recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
            rows.append({"size": n, "synthetic": n > len(real), "index": name, "factory": factory,
                         "search_params": search_params,
                         "build_s": round(build_s, 3), "bytes_per_vector": round(size / n, 1),
                         "p50_ms": round(statistics.median(times), 3),
                         "p99_ms": round(percentile(times, 0.99), 3),
                         "recall@10": round(recall, 4)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("exact", "hnsw", "ivf-pq"):
        part = [r for r in rows if r["index"] == name]
        if not part:
            continue
        left.plot([r["size"] for r in part], [r["p50_ms"] for r in part], marker="o", label=name)
        right.plot([r["size"] for r in part], [r["recall@10"] for r in part], marker="o", label=name)
    for ax, title, label in ((left, "Query latency (p50, one query, k=10)", "ms"),
                             (right, "Recall@10 against exact search", "recall@10")):
        ax.set_xscale("log")
        ax.set_xlabel("passage vectors (above 4,776: real + noise)")
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    left.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def format_table(rows: list[dict]) -> str:
    lines = [f"{'size':>9} {'index':<7} {'build s':>8} {'B/vector':>9} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>9}"]
    for r in rows:
        lines.append(f"{r['size']:>9}{'*' if r['synthetic'] else ' '} {r['index']:<7} {r['build_s']:>8.2f} "
                     f"{r['bytes_per_vector']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['recall@10']:>9.3f}")
    lines.append("* synthetic: real vectors plus noise")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=Path, default=Path(__file__).resolve().parent / ".cache" / "vectors.sqlite3")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.02, help="std of the noise per dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--plot", action="store_true", help="write scale.png next to the JSON")
    args = parser.parse_args(argv)
    real = load_real(args.vectors)
    print(f"{len(real)} real vectors of dimension {real.shape[1]} from {args.vectors}")
    params = load_settings().index_search_params
    print(f"search parameters (NEWSSEARCH_INDEX_SEARCH_PARAMS): {params}")
    rows = run(real, args.sizes, args.queries, args.noise, args.seed, params)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=2))
    if args.plot:
        plot(rows, args.json.with_suffix(".png"))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
