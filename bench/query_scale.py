"""The whole query path at growing archive sizes: lexical, semantic and hybrid latency, p50/p99.

    python -m bench.query_scale --corpus ../shared/corpus/baomoi-2017.jsonl.gz \
        [--sizes 1000 10000 100000 1000000] [--real 20000] [--queries 60]

The archive is filled with real articles (the project's own `upsert_article`: chunking, FTS5,
diacritics vocabulary) up to --real passages. Above that, sizes are reached by copying those
articles under new URLs, in SQL (their text, FTS rows and vocabulary counts scale together):
duplicated text, said so in the output. Passage vectors are real e5 vectors from a vector cache
plus Gaussian noise (embedding a million passages takes days here): timings are real, the dense
results are not meaningful. Queries are real titles of stored articles, half of them typed
without diacritics, each embedded (no query cache) through `SearchEngine.search`, 10 results with
snippets, the request a person makes. Without --corpus the demo articles are used.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.indexing import DEMO, read_corpus
from bench.quality import percentile
from bench.scale import load_real, synthesize
from indexer import models, store, vectors
from indexer import text as vtext
from indexer.config import Settings, load_settings
from indexer.embed import model_id

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("lexical", "semantic", "hybrid")
ARTICLE_COLUMNS = ("source, title, summary, body, author, published_at, published_day, category, "
                   "content_hash, fetched_at, updated_at")


def fill_real(conn, settings: Settings, items: list[dict], target: int, cursor: int) -> int:
    """Store corpus articles from `cursor` until the archive holds `target` passages."""
    while cursor < len(items) and store.count_rows(conn)["passages"] < target:
        item = items[cursor]
        article = models.Article(url=f"corpus:{item['id']}", source="corpus", title=item.get("title", ""),
                                summary=item.get("sapo", ""), body=item["body"])
        with contextlib.suppress(ValueError):  # an empty body: skipped, as the crawler would
            store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap)
        cursor += 1
    return cursor


def copy_archive(conn, rounds: int) -> None:
    """Append `rounds` copies of every stored article (new ids and URLs), FTS rows included."""
    articles = conn.execute("SELECT max(id) FROM articles").fetchone()[0]
    passages = conn.execute("SELECT max(id) FROM passages").fetchone()[0]
    with conn:
        for k in range(1, rounds + 1):
            a_off, p_off = k * articles, k * passages
            conn.execute(f"""INSERT INTO articles (id, url, {ARTICLE_COLUMNS})
                             SELECT id + ?, url || '#copy' || (id + ?), {ARTICLE_COLUMNS} FROM articles
                             WHERE id <= ?""", (a_off, a_off, articles))
            conn.execute("""INSERT INTO passages (id, article_id, ordinal, start, end, text, content_hash)
                            SELECT id + ?, article_id + ?, ordinal, start, end, text, content_hash
                            FROM passages WHERE id <= ?""", (p_off, a_off, passages))
            for table, offset, last in (("passages_fts", p_off, passages), ("passages_exact", p_off, passages),
                                        ("articles_fts", a_off, articles)):
                conn.execute(f"INSERT INTO {table} (rowid, title, text) SELECT rowid + ?, title, text "
                             f"FROM {table} WHERE rowid <= ?", (offset, last))
        conn.execute("UPDATE vocab_unigrams SET count = count * ?, texts = texts * ?", (rounds + 1, rounds + 1))
        conn.execute("UPDATE vocab_bigrams SET count = count * ?", (rounds + 1,))


def publish_vectors(settings: Settings, conn, real: np.ndarray, rng: np.random.Generator) -> None:
    """A published index version of synthetic vectors (real + noise) for every stored passage."""
    ids = np.array([r[0] for r in conn.execute("SELECT id FROM passages ORDER BY id")], dtype=np.int64)
    index = vectors.make_index(synthesize(real, len(ids), 0.02, rng), ids, settings.index_factory)
    manifest = {"model": model_id(settings), "index_factory": settings.index_factory,
                "schema_version": store.schema_version(conn), "built_by": "bench.query_scale (synthetic)",
                "max_passage_id": int(ids.max())}
    vectors.publish(settings.index_root, vectors.write_version(settings.index_root, index, manifest))
    vectors.prune(settings.index_root, 1)


def time_queries(settings: Settings, queries: list[str]) -> dict[str, dict]:
    from service.search import Query, SearchEngine

    engine = SearchEngine(settings)
    engine.search(Query(text="khởi động"))  # open connections, load the index
    out = {}
    for mode in MODES:
        engine.embedder.clear_query_cache()
        times = []
        for text in queries:
            started = time.perf_counter()
            engine.search(Query(text=text, mode=mode))
            times.append((time.perf_counter() - started) * 1000)
        out[mode] = {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 0.99), 2)}
    return out


def pick_queries(conn, count: int) -> list[str]:
    titles = [r[0] for r in conn.execute("SELECT title FROM articles WHERE title != '' ORDER BY id LIMIT ?",
                                         (count,))]
    return [vtext.fold(t) if i % 2 else t for i, t in enumerate(titles)]


def run(corpus: Path | None, sizes: list[int], real_cap: int, n_queries: int, vector_path: Path,
        seed: int = 0) -> list[dict]:
    items = read_corpus(corpus, 10 ** 9) if corpus else demo_items()
    real = load_real(vector_path)
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="newssearch-query-scale-") as tmp:
        base = load_settings()
        settings = load_settings({"data_dir": Path(tmp), "model": base.model or str(base.default_model_path.resolve())})
        conn = store.connect(settings.db_path)
        cursor, copied = 0, False
        queries: list[str] = []
        for size in sorted(sizes):
            if not copied:
                cursor = fill_real(conn, settings, items, min(size, real_cap), cursor)
                store.rebuild_vocabulary(conn)
            held = store.count_rows(conn)["passages"]
            if held < size:  # the real text is used up, or capped: copy what is stored
                copy_archive(conn, max(1, round(size / held) - 1))
                copied = True
            queries = queries or pick_queries(conn, n_queries)
            started = time.perf_counter()
            publish_vectors(settings, conn, real, rng)
            row = {"size": size, "passages": store.count_rows(conn)["passages"], "copied": copied,
                   "factory": settings.index_factory, "faiss_build_s": round(time.perf_counter() - started, 2),
                   "queries": len(queries), **time_queries(settings, queries)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        conn.close()
    return rows


def demo_items() -> list[dict]:
    from indexer.decode import decode_html
    from indexer.extract import extract_article

    out = []
    for path in sorted(DEMO.rglob("*.html")):
        article = extract_article(decode_html(path.read_bytes()), path.as_uri(), "demo")
        out.append({"id": path.stem, "title": article.title, "sapo": article.summary, "body": article.body})
    return out


def format_table(rows: list[dict]) -> str:
    lines = [f"{'passages':>9} {'copied':>6} " + " ".join(f"{m + ' p50':>13} {'p99':>7}" for m in MODES)]
    for r in rows:
        lines.append(f"{r['passages']:>9} {'yes' if r['copied'] else 'no':>6} " +
                     " ".join(f"{r[m]['p50_ms']:>13.1f} {r[m]['p99_ms']:>7.1f}" for m in MODES))
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for mode, color in zip(MODES, ("tab:blue", "tab:green", "tab:purple")):
        sizes = [r["passages"] for r in rows]
        ax.plot(sizes, [r[mode]["p50_ms"] for r in rows], marker="o", color=color, label=f"{mode} p50")
        ax.plot(sizes, [r[mode]["p99_ms"] for r in rows], linestyle=":", color=color, alpha=0.7, label=f"{mode} p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the archive (copies above the real text)")
    ax.set_ylabel("ms per search (query embedded, 10 snippets)")
    ax.set_title("Search latency against archive size")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.query_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="JSON-lines articles; default: the demo articles")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--real", type=int, default=20_000, help="passages of real text before copying")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--vectors", type=Path, default=Path(__file__).resolve().parent / ".cache" / "vectors.sqlite3",
                        help="a vector cache holding real passage vectors")
    parser.add_argument("--json", type=Path, default=RESULTS / "query-scale.json")
    parser.add_argument("--plot", action="store_true", help="write query-scale.png next to the JSON")
    args = parser.parse_args(argv)
    rows = run(args.corpus, args.sizes, args.real, args.queries, args.vectors)
    print(format_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=2))
    if args.plot:
        plot(rows, args.json.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
