"""Indexing throughput on real articles, where the time goes, and the ceiling: bare encode().

    python -m bench.indexing --corpus ../shared/corpus/baomoi-2017.jsonl.gz [--articles 1000]

Takes the first N articles of a JSON-lines corpus (id, title, sapo, body; gzip or not), writes
each as a portal-style HTML page and runs the real write path on them: `ingest_files` (extract,
normalise, chunk, store with the vocabulary) then `build_index` (embed, FAISS, lexical) into a temporary
data dir with an empty vector cache, so every passage is embedded. Stage times are measured by
wrapping the pipeline's own functions. Then the same passage texts go through
`SentenceTransformer.encode` alone, batch size tuned on a sample: our embedding throughput as a
fraction of that is how close the pipeline gets to the physical limit. Without --corpus, the demo
articles are used.

    python -m bench.indexing --corpus … --articles 150 --precision fp32 --precision bf16 --rounds 2

runs the whole write path once per precision (NEWSSEARCH_EMBED_PRECISION), the precisions
alternating for --rounds rounds, and adds the roofline: floating-point operations per passage from
the model's shape and the passages' measured token counts, the rate each precision achieves, and
the cores' own best rate for it (a large matrix product in that precision).
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import save_result
from fixtures.pages import write_pages
from indexer import embed, pipeline, store
from indexer import text as vtext
from indexer.config import Settings, load_settings
from indexer.version import reader, writer

RESULTS = Path(__file__).resolve().parent / "results"
DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
# Stage → (module, function) of the write path, timed in place.
STAGES = {
    "extract": (pipeline, "page_to_article"),  # decoding included
    "chunk": (vtext, "chunk"),
    "store": (store, "upsert_article"),
    "embed": (embed.Embedder, "encode_passages"),
    "faiss": (writer, "make_index"),
    "version-write": (writer, "write_version"),  # FAISS and the lexical indexes
    "version-verify": (reader, "load_version"),
}
def read_corpus(path: Path, limit: int) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= limit:
                break
    return out


@contextmanager
def timed(owner, name: str, totals: dict[str, float], stage: str):
    """Add the time spent in owner.name to totals[stage] while the block runs."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[stage] += time.perf_counter() - started

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def run_pipeline(settings: Settings, pages: Path) -> tuple[dict[str, float], float, int]:
    """(seconds per stage, total seconds, passages) for ingest + build, stages exclusive."""
    totals: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    with ExitStack() as stack:
        for stage, (owner, name) in STAGES.items():
            stack.enter_context(timed(owner, name, totals, stage))
        pipeline.ingest_files(settings, [pages], source="bench")
        report = pipeline.build_index(settings)
    total = time.perf_counter() - started
    totals["store"] -= totals["chunk"]  # chunking runs inside upsert_article
    for part in ("version-write", "version-verify"):
        totals["faiss"] += totals.pop(part)
    totals["other"] = total - sum(totals.values())
    return dict(totals), total, report.passages


def passage_texts(settings: Settings) -> list[str]:
    conn = store.connect(settings.db_path, readonly=True)
    try:
        return [store.embedding_text(conn, r["id"]) for r in store.iter_passages_for_index(conn)]
    finally:
        conn.close()


def bare_encode(embedder: embed.Embedder, texts: list[str], batch_sizes: list[int], sample: int) -> dict:
    """sentence-transformers alone (the embedder's model and passage prompt): batch size tuned on
    a sample, then every text at the best one."""
    model, prompt = embedder.model, embed.passage_prompt(embedder.model)
    tried = {}
    for size in batch_sizes:
        started = time.perf_counter()
        model.encode(texts[:sample], batch_size=size, prompt_name=prompt, normalize_embeddings=True)
        tried[size] = round(min(sample, len(texts)) / (time.perf_counter() - started), 2)
    best = max(tried, key=tried.get)
    started = time.perf_counter()
    model.encode(texts, batch_size=best, prompt_name=prompt, normalize_embeddings=True)
    rate = len(texts) / (time.perf_counter() - started)
    return {"tried": tried, "batch_size": best, "passages_per_s": round(rate, 2)}


def flops_per_passage(model, texts: list[str]) -> tuple[float, float]:
    """(mean tokens, floating-point operations) per passage for a BERT-shaped encoder: the linear
    layers (2 × tokens × weights) and attention's two products (4 × tokens² × hidden) per layer."""
    config = model[0].auto_model.config
    prompt = model.prompts.get(embed.passage_prompt(model) or "", "")
    tokens = [len(ids) for ids in model.tokenizer([prompt + t for t in texts], truncation=True,
                                                  max_length=model.max_seq_length)["input_ids"]]
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = [2 * n * (4 * d * d + 2 * d * ff) + 4 * n * n * d for n in tokens]
    return sum(tokens) / len(tokens), layers * sum(per_layer) / len(per_layer)


def matmul_peak(dtype: str, size: int = 2048, repeats: int = 8) -> float:
    """The cores' best rate in GFLOP/s for one precision: a large matrix product, all threads."""
    import torch

    kind = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a, b = torch.randn(size, size).to(kind), torch.randn(size, size).to(kind)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def pages_of(corpus: Path | None, articles: int, folder: Path) -> tuple[Path, str]:
    """(the folder of portal-style pages to ingest, what they are): the corpus's first articles
    written into `folder`, or the demo's own pages."""
    if not corpus:
        return DEMO, "the demo articles"
    items = read_corpus(corpus, articles)
    write_pages(items, folder)
    return folder, f"{len(items)} articles of {corpus.name}"


def fresh_settings(folder: Path, **overrides) -> Settings:
    """Settings for a data dir and an empty vector cache in `folder`, with the configured model."""
    base = load_settings()
    return load_settings({"data_dir": folder / "data", "cache_dir_setting": str(folder / "cache"),
                          "model": base.model or str(base.default_model_path.resolve()), **overrides})


def precisions_side_by_side(corpus: Path | None, articles: int, precisions: list[str], rounds: int) -> dict:
    """Embedding passages/s of the whole write path per precision, alternating; and the roofline."""
    rates: dict[str, list[float]] = {p: [] for p in precisions}
    texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="newssearch-indexing-") as shared:
        pages, _ = pages_of(corpus, articles, Path(shared) / "pages")
        for _ in range(rounds):
            for name in precisions:
                with tempfile.TemporaryDirectory(prefix="newssearch-indexing-") as tmp:
                    settings = fresh_settings(Path(tmp), embed_precision=name)
                    embedder = embed.Embedder(settings)
                    embedder.encode_passages(["khởi động mô hình"])  # load, convert and check outside the timings
                    totals: dict[str, float] = defaultdict(float)
                    with timed(embed.Embedder, "encode_passages", totals, "embed"):
                        pipeline.ingest_files(settings, [pages], source="bench")
                        report = pipeline.build_index(settings, embedder=embedder)
                    rates[name].append(report.embedded / totals["embed"])
                    texts = texts or passage_texts(settings)
    model = embedder.model  # fp32, for its shape and tokenizer
    tokens, flops = flops_per_passage(model, texts)
    rows = {}
    for name, found in rates.items():
        rate = statistics.median(found)
        peak = matmul_peak(name) if name in ("fp32", "bf16") else None
        rows[name] = {"passages_per_s": [round(r, 2) for r in found], "median": round(rate, 2),
                      "x_first": round(rate / statistics.median(rates[precisions[0]]), 3),
                      "gflop_per_s": round(rate * flops / 1e9, 1),
                      "matmul_peak_gflop_per_s": round(peak, 1) if peak else None}
    return {"passages": len(texts), "mean_tokens": round(tokens, 1), "gflop_per_passage": round(flops / 1e9, 2),
            "rounds": rounds, "precisions": rows}


def run(corpus: Path | None, articles: int, batch_sizes: list[int], sample: int,
        keep_vectors: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="newssearch-indexing-") as tmp:
        pages, what = pages_of(corpus, articles, Path(tmp) / "pages")
        settings = fresh_settings(Path(tmp))
        embedder = embed.get_embedder(settings)
        embedder.encode_passages(["khởi động mô hình"])  # load and warm up outside the timings
        stages, total, passages = run_pipeline(settings, pages)
        bare = bare_encode(embedder, passage_texts(settings), batch_sizes, sample)
        if keep_vectors:  # real vectors for the scale benchmarks on a machine without the eval cache
            keep_vectors.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(settings.cache_dir / "vectors.sqlite3", keep_vectors)
    ours = passages / stages["embed"]
    return {"input": what, "passages": passages, "total_s": round(total, 2),
            "pipeline_passages_per_s": round(passages / total, 2),
            "embed_passages_per_s": round(ours, 2), "embed_batch_size": settings.embed_batch_size,
            "bare_encode": bare, "embed_fraction_of_bare": round(ours / bare["passages_per_s"], 3),
            "stages_s": {k: round(v, 3) for k, v in stages.items()},
            "stage_fractions": {k: round(v / total, 4) for k, v in stages.items()}}


def format_result(result: dict) -> str:
    lines = [f"indexing {result['input']}: {result['passages']} passages in {result['total_s']:.1f} s "
             f"({result['pipeline_passages_per_s']:.1f} passages/s ingest → build)",
             f"embedding: {result['embed_passages_per_s']:.1f} passages/s (batch {result['embed_batch_size']}); "
             f"bare SentenceTransformer.encode: {result['bare_encode']['passages_per_s']:.1f} passages/s "
             f"(batch {result['bare_encode']['batch_size']}, tried {result['bare_encode']['tried']}) → "
             f"{100 * result['embed_fraction_of_bare']:.0f}% of bare",
             f"{'stage':<12} {'seconds':>8} {'share':>7}"]
    for stage, seconds in sorted(result["stages_s"].items(), key=lambda kv: -kv[1]):
        lines.append(f"{stage:<12} {seconds:>8.2f} {100 * result['stage_fractions'][stage]:>6.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.indexing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="JSON-lines articles (baomoi-2017.jsonl.gz); default: demo")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--sample", type=int, default=128, help="passages used to tune the batch size")
    parser.add_argument("--json", type=Path, default=RESULTS / "indexing.json")
    parser.add_argument("--keep-vectors", type=Path, help="copy the passage vectors made here to this cache file")
    parser.add_argument("--precision", action="append", choices=["fp32", "bf16", "int8"],
                        help="compare these embedding precisions side by side (repeatable), with the roofline")
    parser.add_argument("--rounds", type=int, default=2, help="with --precision: alternating rounds")
    args = parser.parse_args(argv)
    if args.precision:
        result = precisions_side_by_side(args.corpus, args.articles, args.precision, args.rounds)
        print(json.dumps(result, indent=2))
        save_result(args.json.with_name("indexing-precision.json"), result)
        return 0
    result = run(args.corpus, args.articles, args.batch_sizes, args.sample, args.keep_vectors)
    print(format_result(result))
    save_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
