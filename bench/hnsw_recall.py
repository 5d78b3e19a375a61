"""HNSW recall against exact search on a published index version, for several efSearch values.

    python -m bench.hnsw_recall DATA_DIR [--ef 64 128 256] [--queries 60] [--rounds 3]

The queries are stored vectors plus Gaussian noise (as bench.scale makes them), so each has
true neighbours to find. For each efSearch and round: recall@10 of a search for 300 neighbours
(what the service asks for) against exact search over the same vectors, and the time of one
such search. DATA_DIR is a data dir whose served version is HNSW, such as the one
`bench.query_scale --work DIR` builds at a million passages.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from bench.scale import synthesize
from indexer.version import layout, reader

NOISE = 0.02  # per dimension, as the synthetic passage vectors of bench.query_scale and bench.scale
DEPTH = 300   # what the service asks FAISS for (rank.RankingParams.dense_depth)


def open_served(index_root: Path, search_params: str = "") -> reader.ServedVersion:
    name = layout.current_version(index_root)
    manifest = layout.load_manifest(layout.versions_dir(index_root) / name)
    return reader.load_version(index_root, name, manifest.model, manifest.dimension, check_hash=False,
                                search_params=search_params)


def unmapped(loaded: reader.ServedVersion) -> faiss.Index:
    """The index inside the ID map of a version's largest segment (a full build writes one): it
    answers with row positions, as exact search over stored_vectors does."""
    largest = max(loaded.segments, key=lambda segment: segment.ntotal)
    return faiss.downcast_index(faiss.downcast_index(largest).index)


def stored_vectors(inner: faiss.Index) -> np.ndarray:
    """The vectors an HNSW index holds, in row order, without a copy."""
    flat = faiss.downcast_index(inner.storage)
    return faiss.rev_swig_ptr(flat.get_xb(), inner.ntotal * inner.d).reshape(inner.ntotal, inner.d)


def recall(index: faiss.Index, exact: faiss.Index, queries: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(recall@k, median ms per search) of `index` searched for DEPTH neighbours, one query at a time."""
    _, truth = exact.search(queries, k)
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(index.search(query[None], DEPTH)[1][0][:k])
        times.append((time.perf_counter() - started) * 1000)
    return (float(np.mean([len(set(a) & set(e)) / k for a, e in zip(found, truth)])),
            statistics.median(times))


def run(data_dir: Path, ef_values: list[int], count: int, rounds: int) -> list[dict]:
    loaded = open_served(data_dir / "index")
    inner = unmapped(loaded)
    if not isinstance(inner, faiss.IndexHNSW):
        raise SystemExit(f"the served version is {loaded.manifest.index_factory}, not HNSW")
    stored = stored_vectors(inner)
    exact = faiss.IndexFlatIP(stored.shape[1])
    exact.add(stored)
    rows = []
    for ef in ef_values:
        inner.hnsw.efSearch = ef
        for seed in range(rounds):
            value, ms = recall(inner, exact, synthesize(stored, count, NOISE, np.random.default_rng(seed)))
            rows.append({"vectors": int(inner.ntotal), "efSearch": ef, "round": seed, "recall_at_10": round(value, 3),
                         "ms_per_search": round(ms, 2)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hnsw_recall", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.data_dir, args.ef, args.queries, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
