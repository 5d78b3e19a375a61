"""Embedding throughput on one machine against a Ray cluster of 1 and 2 nodes, in one run.

    python -m bench.distributed [--corpus ../shared/corpus/baomoi-2017.jsonl.gz] [--passages 480]

The same passage texts (real articles through the real ingest path: the first articles of the
corpus, or the demo articles when none is given) are embedded four ways, side by side:

- local: this process, one torch thread (`embed_in_chunks`, what `build` does without --ray);
- Ray, 1 node x 1 CPU and 2 nodes x 1 CPU: `embed_on_ray`, what `build --ray` does, on a
  loopback cluster whose head has no CPU (fixtures/ray_cluster.py);
- Ray's own cost: the same Dataset through actors that return zeros, on 1 node x 1 CPU;
- for comparison, two plain processes embedding half each, side by side, without Ray. On a
  2-core machine two Ray nodes share the two cores with the driver and Ray's own daemons.

Throughput is reported two ways. "Steady" counts from the first batch back to the last: it is
what a province's first build (a million passages, hours) sees. "End to end" adds the fixed start:
joining the cluster, shipping the model, loading it in each actor. Benchmarks never assert.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import save_result
from fixtures.ray_cluster import loopback_cluster
from indexer import distributed, embed
from indexer.config import Settings, load_settings
from indexer.pipeline import ingest_files

RESULTS = Path(__file__).resolve().parent / "results"


def passage_texts(corpus: Path | None, articles: int, passages: int, tmp: Path) -> tuple[list[str], str]:
    """`passages` texts as the indexer embeds them, from real articles run through ingest."""
    from bench.indexing import DEMO, read_corpus
    from bench.indexing import passage_texts as stored_texts
    from fixtures.pages import write_pages

    settings = load_settings({"data_dir": tmp / "texts"})
    if corpus:
        write_pages(read_corpus(corpus, articles), tmp / "pages")
        ingest_files(settings, [tmp / "pages"])
        what = f"{corpus.name}"
    else:
        ingest_files(settings, [DEMO])
        what = "the demo articles"
    texts = stored_texts(settings)
    if len(texts) < passages:  # the demo is small: repeat it, each copy numbered so none is the same text
        texts = [f"{i // len(texts)}. {t}" for i, t in enumerate(texts * (passages // len(texts) + 1))]
    return texts[:passages], what


def timed(batches: embed.Batches, count: int) -> dict:
    """Drain a backend's batches; (first-batch, last-batch) times and the steady rate between them."""
    started = time.perf_counter()
    arrivals, received = [], 0
    for hashes, _vectors, _precision in batches:
        arrivals.append((time.perf_counter() - started, len(hashes)))
        received += len(hashes)
    first, last = arrivals[0][0], arrivals[-1][0]
    steady = (received - arrivals[0][1]) / (last - first) if last > first else float("nan")
    return {"passages": received, "batches": len(arrivals), "first_batch_s": round(first, 2),
            "total_s": round(last, 2), "end_to_end_per_s": round(count / last, 2), "steady_per_s": round(steady, 2),
            "steady_s_per_batch": round((last - first) / max(1, len(arrivals) - 1), 4)}


def _embed_share(settings: Settings, texts: list[str], batch_size: int, ready, go) -> tuple[float, float]:
    """One of two processes that embed side by side: load, wait for the other, embed its share."""
    model = embed.Embedder(settings)
    model.encode_passages(["khởi động mô hình"])
    ready.wait()
    go.wait()
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        model.encode_passages(texts[i:i + batch_size])
    return started, time.perf_counter()


def two_processes(settings: Settings, texts: list[str], batch_size: int) -> dict:
    """Two one-thread workers without Ray: two plain processes, each embedding half the texts at
    once (they share the cores' caches and memory bandwidth)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        ready, go = manager.Barrier(3), manager.Barrier(3)
        halves = [texts[0::2], texts[1::2]]
        pending = [pool.apply_async(_embed_share, (settings, half, batch_size, ready, go)) for half in halves]
        ready.wait()
        go.wait()
        spans = [p.get() for p in pending]
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"passages": len(texts), "total_s": round(seconds, 2), "steady_per_s": round(len(texts) / seconds, 2)}


class ZeroEmbedder:
    """Returns zeros at once: what is left of a Ray batch's time is Ray's own."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"hash": batch["hash"], "vector": np.zeros((len(batch["hash"]), self.dimension), np.float32)}


def on_cluster(settings: Settings, worker_cpus: list[int], run) -> dict:
    import ray

    cluster, _ = loopback_cluster(worker_cpus)
    try:
        return run(replace(settings, ray_address=cluster.address))
    finally:
        ray.shutdown()
        cluster.shutdown()


def run(corpus: Path | None, articles: int, passages: int, batch_size: int) -> dict:
    base = load_settings()
    with tempfile.TemporaryDirectory(prefix="newssearch-distributed-") as tmp:
        texts, what = passage_texts(corpus, articles, passages, Path(tmp))
        settings = load_settings({"data_dir": Path(tmp) / "data", "torch_threads": 1, "ray_batch_size": batch_size,
                                  "model": base.model or str(base.default_model_path.resolve())})
        hashes = [f"{i}" for i in range(len(texts))]
        text_of = dict(zip(hashes, texts)).__getitem__
        model = embed.model_id(settings)

        started = time.perf_counter()
        local_model = embed.Embedder(settings)
        local_model.encode_passages(["khởi động mô hình"])
        load_s = time.perf_counter() - started
        local = timed(embed.embed_in_chunks(local_model, hashes, text_of, chunk_size=batch_size), len(texts))
        local["model_load_s"] = round(load_s, 2)
        local["end_to_end_per_s"] = round(len(texts) / (local["total_s"] + load_s), 2)
        del local_model
        print(f"local: {local}", flush=True)

        results = {"local (1 process, 1 thread)": local}
        plain_pair = two_processes(settings, texts, batch_size)
        print(f"two local processes side by side: {plain_pair}", flush=True)
        for label, cpus in (("ray 1 node x 1 CPU", [1]), ("ray 2 nodes x 1 CPU", [1, 1])):
            results[label] = on_cluster(settings, cpus, lambda s: timed(
                distributed.embed_on_ray(s, model, hashes, text_of), len(texts)))
            print(f"{label}: {results[label]}", flush=True)

        def ray_alone(s: Settings) -> dict:
            plan = distributed.actor_plan(s, distributed.connect(s))
            items = [{"hash": h, "text": text_of(h)} for h in hashes]
            batches = distributed.map_on_actors(items, ZeroEmbedder, {"dimension": 384}, plan, batch_size)
            return timed(((b["hash"], b["vector"]) for b in batches), len(texts))

        overhead = on_cluster(settings, [1], ray_alone)
        print(f"ray alone (zero vectors): {overhead}", flush=True)

    one, two = results["ray 1 node x 1 CPU"], results["ray 2 nodes x 1 CPU"]
    return {"input": f"{len(texts)} passages of {what}", "batch_size": batch_size, "results": results,
            "two_local_processes": plain_pair,
            "ray_overhead": {"zero_vector_run": overhead,
                             "per_batch_ms": round(1000 * overhead["steady_s_per_batch"], 2),
                             "per_batch_ms_vs_local": round(1000 * (one["steady_s_per_batch"]
                                                                    - local["steady_s_per_batch"]), 2)},
            "ratios": {"ray_1x1_over_local_steady": round(one["steady_per_s"] / local["steady_per_s"], 3),
                       "ray_2x1_over_1x1_steady": round(two["steady_per_s"] / one["steady_per_s"], 3),
                       "two_processes_over_local": round(plain_pair["steady_per_s"] / local["steady_per_s"], 3),
                       "ray_2x1_over_two_processes": round(two["steady_per_s"] / plain_pair["steady_per_s"], 3),
                       "ray_1x1_over_local_end_to_end": round(one["end_to_end_per_s"] / local["end_to_end_per_s"], 3),
                       "ray_2x1_over_1x1_end_to_end": round(two["end_to_end_per_s"] / one["end_to_end_per_s"], 3)}}


def format_result(result: dict) -> str:
    lines = [f"embedding {result['input']}, batches of {result['batch_size']}",
             f"{'backend':<28} {'steady/s':>9} {'end-to-end/s':>13} {'first batch s':>14} {'total s':>8}"]
    for label, r in result["results"].items():
        lines.append(f"{label:<28} {r['steady_per_s']:>9.2f} {r['end_to_end_per_s']:>13.2f} "
                     f"{r['first_batch_s']:>14.1f} {r['total_s']:>8.1f}")
    ratios, overhead = result["ratios"], result["ray_overhead"]
    lines += [f"Ray 1x1 / local: {ratios['ray_1x1_over_local_steady']:.3f} steady, "
              f"{ratios['ray_1x1_over_local_end_to_end']:.3f} end to end (target ≥ 0.9)",
              f"Ray 2x1 / 1x1: {ratios['ray_2x1_over_1x1_steady']:.3f} steady, "
              f"{ratios['ray_2x1_over_1x1_end_to_end']:.3f} end to end (target ≥ 1.8)",
              f"two plain processes side by side, without Ray: {ratios['two_processes_over_local']:.3f} x local; "
              f"Ray 2x1 gives {ratios['ray_2x1_over_two_processes']:.3f} x that",
              f"Ray's cost per batch: {overhead['per_batch_ms']:.1f} ms with zero vectors; "
              f"{overhead['per_batch_ms_vs_local']:.1f} ms more per batch than local when embedding"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="JSON-lines articles (baomoi-2017.jsonl.gz); default: demo")
    parser.add_argument("--articles", type=int, default=200, help="articles read from the corpus")
    parser.add_argument("--passages", type=int, default=480)
    parser.add_argument("--batch-size", type=int, default=16, help="passages per Ray batch (and local chunk)")
    parser.add_argument("--json", type=Path, default=RESULTS / "distributed.json")
    args = parser.parse_args(argv)
    result = run(args.corpus, args.articles, args.passages, args.batch_size)
    print(format_result(result))
    save_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
