"""The whole query path at growing archive sizes, built by the product's own write path.

    python -m bench.query_scale --corpus ../shared/corpus/baomoi-2017.jsonl.gz \
        [--sizes 10000 100000 1000000] [--real N] [--queries 60] [--patch 1000] [--work DIR] [--plot]

The archive is filled with real articles through the project's own `upsert_article` (chunking,
normalised words, diacritics vocabulary), all of the corpus unless --real caps it in passages;
each gets a synthetic portal and date (the corpus has neither) so that filters select what they
would in a province. Above that, sizes are reached by copying those articles under new URLs in
SQL: duplicated text, said so in the output. Each copy's passages get their own content hash.
Passage vectors are real e5 vectors from a vector cache plus Gaussian noise, put in the archive's
vector cache (embedding a million passages takes days here): a full `build_index` then builds,
verifies and publishes a version exactly as a nightly run does (FAISS of the type "auto" picks,
the lexical indexes), without embedding. Timings are real; dense results carry no meaning, and
HNSW's recall against exact search is measured as bench.scale does, on stored vectors plus noise.
Queries are real titles of stored articles, half typed without diacritics, embedded (no query
cache) and answered through `SearchEngine.search` (10 results with snippets) in a fresh process,
whose resident memory is reported, then with a filter (the smallest portal; one month), and the
rest of the query path is timed (similar articles, the article row, health, sources). At the
largest size, with --patch N, three nightly builds are timed (vectors cached: embedding excluded):
N new articles, a tenth of them corrected, ten of the oldest corrected. Without --corpus, the
demo articles are used.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import faiss
import numpy as np

from bench import hnsw_recall as hnsw_recall_bench
from bench.indexing import DEMO, read_corpus, timed
from bench.quality import percentile
from bench.scale import load_real, synthesize
from indexer import models, pipeline, store
from indexer import text as vtext
from indexer.config import Settings, load_settings
from indexer.embed import VectorCache, model_id
from indexer.models import Filters
from indexer.version import layout, lexical

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("lexical", "semantic", "hybrid")
NOISE = hnsw_recall_bench.NOISE  # per dimension, on real passage vectors: the synthetic ones
PATH_STEPS = ("hybrid_rarest_source", "hybrid_one_month", "similar", "article", "health", "sources", "suggest")
KEYSTROKES = 30  # the first characters of each query typed one at a time, each asking for completions
ARTICLE_COLUMNS = ("source, title, summary, body, author, published_at, published_day, category, "
                   "content_hash, fetched_at, updated_at")


# The corpus has neither portals nor dates: each article gets one of SOURCES portals (the k-th
# holds a share of the archive proportional to 1/(k+1), as a province's portals differ in size)
# and a day in ten years, both from its id, so the filters select what they would in a province.
SOURCES = [f"portal-{k:02d}" for k in range(12)]
_SOURCE_WEIGHTS = np.cumsum([1 / (k + 1) for k in range(len(SOURCES))]) / sum(1 / (k + 1) for k in range(len(SOURCES)))
FIRST_DAY, DAYS = date(2017, 1, 1), 3650


def synthetic_place(key: str) -> tuple[str, str]:
    """(source, published_at) of the corpus article with this id, spread evenly by a hash."""
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    source = SOURCES[int(np.searchsorted(_SOURCE_WEIGHTS, (digest % 10_000) / 10_000, side="right"))]
    return source, (FIRST_DAY + timedelta(days=(digest >> 16) % DAYS)).isoformat() + "T08:00:00+07:00"


def store_items(conn, settings: Settings, items: list[dict], url_prefix: str = "corpus") -> int:
    """Store corpus articles as the crawler would; returns how many were stored."""
    stored = 0
    for item in items:
        source, published_at = synthetic_place(str(item["id"]))
        article = models.Article(url=f"https://{url_prefix}.example.vn/{item['id']}", source=source,
                                 title=item.get("title", ""), summary=item.get("sapo", ""), body=item["body"],
                                 published_at=published_at)
        with contextlib.suppress(ValueError):  # an empty body: skipped, as the crawler would
            store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap)
            stored += 1
    return stored


def fill_real(conn, settings: Settings, items: list[dict], target: int, cursor: int) -> int:
    """Store corpus articles from `cursor` until the archive holds `target` passages."""
    while cursor < len(items) and store.count_rows(conn)["passages"] < target:
        store_items(conn, settings, items[cursor:cursor + 200])
        cursor += 200
    return cursor


def copy_archive(conn, rounds: int) -> None:
    """Append `rounds` copies of every stored article (new ids, URLs and passage hashes), their
    words and vocabulary counts included."""
    articles = conn.execute("SELECT max(id) FROM articles").fetchone()[0]
    passages = conn.execute("SELECT max(id) FROM passages").fetchone()[0]
    with conn:
        for k in range(1, rounds + 1):
            a_off, p_off = k * articles, k * passages
            conn.execute(f"""INSERT INTO articles (id, url, {ARTICLE_COLUMNS})
                             SELECT id + ?, url || '#copy' || (id + ?), {ARTICLE_COLUMNS} FROM articles
                             WHERE id <= ?""", (a_off, a_off, articles))
            conn.execute("""INSERT INTO passages (id, article_id, ordinal, start, end, text, content_hash)
                            SELECT id + ?, article_id + ?, ordinal, start, end, text, content_hash || '#' || ?
                            FROM passages WHERE id <= ?""", (p_off, a_off, k, passages))
            conn.execute("INSERT INTO passage_words SELECT id + ?, folded_title, folded_text, exact_title, exact_text "
                         "FROM passage_words WHERE id <= ?", (p_off, passages))
        conn.execute("UPDATE vocab_unigrams SET count = count * ?", (rounds + 1,))
        conn.execute("UPDATE vocab_bigrams SET count = count * ?", (rounds + 1,))


def cache_vectors(settings: Settings, conn, real: np.ndarray, rng: np.random.Generator) -> None:
    """Synthetic vectors (real + noise) in the archive's vector cache for every passage lacking one."""
    cache = VectorCache(settings.cache_dir / "vectors.sqlite3", model_id(settings), real.shape[1])
    try:
        hashes = [r[0] for r in conn.execute("SELECT content_hash FROM passages ORDER BY id")]
        for start in range(0, len(hashes), 20_000):
            part = hashes[start:start + 20_000]
            held = cache.get_many(part)
            missing = [h for h in part if h not in held]
            if missing:
                cache.put_many(missing, synthesize(real, len(missing), NOISE, rng))
    finally:
        cache.close()


def build(settings: Settings, full: bool = False) -> tuple[pipeline.BuildReport, float]:
    """A build with nothing to embed (a nightly's, or `full`), and the seconds its lexical indexes took."""
    totals = {"lexical": 0.0}
    with timed(lexical, "build", totals, "lexical"):
        report = pipeline.build_index(settings, full=full)
    return report, totals["lexical"]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def hnsw_recall(settings: Settings, rng: np.random.Generator, count: int = 60) -> float | None:
    """recall@10 of the published index against exact search over the same vectors (None if
    exact), with the service's search parameters, measured as bench.hnsw_recall does: a query
    embedded from text is about equally near to every synthetic vector (they carry no text's
    meaning), which would measure tie-breaking."""
    loaded = hnsw_recall_bench.open_served(settings.index_root, settings.index_search_params)
    if loaded.manifest.index_factory == "Flat":
        return None
    inner = hnsw_recall_bench.unmapped(loaded)
    stored = hnsw_recall_bench.stored_vectors(inner)
    exact = faiss.IndexFlatIP(stored.shape[1])
    exact.add(stored)
    return hnsw_recall_bench.recall(inner, exact, synthesize(stored, count, NOISE, rng))[0]


def _latencies(calls: Iterable[Callable[[], object]]) -> dict:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 0.99), 2)}


def _serve_queries(data_dir: str, model: str, queries: list[tuple[int, str]], out) -> None:
    """In a fresh process, as a service worker: every mode's latencies (query embedded), then the
    rest of the query path (filters, similar articles, the article row, health, sources, the
    completions asked at each of a query's first keystrokes) and the resident memory."""
    from service.search import Query, SearchEngine

    engine = SearchEngine(load_settings({"data_dir": Path(data_dir), "model": model}))
    engine.search(Query(text="khởi động"))  # open connections, load the index
    texts, ids = [t for _, t in queries], [a for a, _ in queries]
    filtered = {"hybrid_rarest_source": Filters(sources=(SOURCES[-1],)),
                "hybrid_one_month": Filters(date_from="2021-05-01", date_to="2021-05-31")}
    result, found = {}, {}

    def search(text: str, mode: str, filters: Filters, name: str) -> None:
        found.setdefault(name, []).append(engine.search(Query(text=text, mode=mode, filters=filters)).total)

    for name, mode, filters in [*((m, m, Filters()) for m in MODES), *((n, "hybrid", f) for n, f in filtered.items())]:
        engine.embedder.clear_query_cache()
        result[name] = _latencies(lambda t=t, m=mode, f=filters, n=name: search(t, m, f, n) for t in texts)
    result["results_found"] = {name: round(statistics.mean(totals), 1) for name, totals in found.items()}
    result["similar"] = _latencies(lambda a=a: engine.similar(a) for a in ids)
    result["article"] = _latencies(lambda a=a: engine.article(a) for a in ids)
    result["health"] = _latencies(engine.health for _ in range(20))
    result["sources"] = _latencies(engine.sources for _ in range(20))
    engine.suggest("khởi động", 8)  # read the version's completions, as the service's warm start does
    result["suggest"] = _latencies(lambda p=text[:n]: engine.suggest(p, 8)
                                   for text in texts for n in range(1, min(len(text), KEYSTROKES) + 1))
    rss = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS"))
    result["service_rss_mb"] = round(int(rss.split()[1]) / 1024)
    out.send(result)


def time_queries(settings: Settings, queries: list[tuple[int, str]]) -> dict:
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_queries, args=(str(settings.data_dir), settings.model, queries, send))
    process.start()
    result = receive.recv()
    process.join()
    return result


def pick_queries(conn, count: int) -> list[tuple[int, str]]:
    """(article id, its title) of the first titled articles, every other title without diacritics."""
    rows = conn.execute("SELECT id, title FROM articles WHERE title != '' ORDER BY id LIMIT ?", (count,)).fetchall()
    return [(aid, vtext.fold(t) if i % 2 else t) for i, (aid, t) in enumerate(rows)]


def _timed_nightly(settings: Settings, conn, real: np.ndarray, rng: np.random.Generator,
                   change: Callable[[], int]) -> dict:
    """Make a change to the archive, cache the vectors it needs, and time the build that follows."""
    before = store.count_rows(conn)["passages"]
    articles = change()
    cache_vectors(settings, conn, real, rng)
    started = time.perf_counter()
    report, lexical_s = build(settings)
    return {"articles": articles, "passages_added": report.passages - before + report.removed,
            "passages_removed": report.removed,
            "seconds": round(time.perf_counter() - started, 1), "lexical_s": round(lexical_s, 1),
            "method": report.method, "lexical": report.lexical}


def update_articles(conn, settings: Settings, article_ids: list[int]) -> int:
    """Store a corrected version of each article (a sentence added): its passages are replaced."""
    for row in map(partial(store.get_article, conn), article_ids):
        store.upsert_article(conn, models.Article(
            url=row["url"], source=row["source"], title=row["title"], summary=row["summary"],
            body=row["body"] + "\nBài viết đã được cập nhật thông tin mới.", published_at=row["published_at"]),
            settings.chunk_words, settings.chunk_overlap)
    return len(article_ids)


def measure_nightlies(settings: Settings, conn, items: list[dict], count: int, real: np.ndarray,
                      rng: np.random.Generator) -> dict:
    """Three nightly builds, embedding excluded: `count` new articles (corpus text under new URLs);
    a tenth of them corrected (the usual update: news of the last days); ten of the oldest
    articles corrected (the rare one: their passages sit in the largest segments)."""
    prefix = f"nightly-{time.strftime('%Y%m%dT%H%M%S')}"
    out = {"added": _timed_nightly(settings, conn, real, rng,
                                   lambda: store_items(conn, settings, items[:count], url_prefix=prefix))}
    recent = [r[0] for r in conn.execute("SELECT id FROM articles WHERE url LIKE ? ORDER BY id LIMIT ?",
                                         (f"https://{prefix}.example.vn/%", max(1, count // 10)))]
    out["updated_recent"] = _timed_nightly(settings, conn, real, rng, lambda: update_articles(conn, settings, recent))
    oldest = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id LIMIT 10")]
    out["updated_oldest"] = _timed_nightly(settings, conn, real, rng, lambda: update_articles(conn, settings, oldest))
    return out


def run(corpus: Path | None, sizes: list[int], real_cap: int, n_queries: int, vector_path: Path,
        patch: int = 0, seed: int = 0, work: Path | None = None) -> list[dict]:
    items = read_corpus(corpus, 10 ** 9) if corpus else demo_items()
    real = load_real(vector_path)
    rng = np.random.default_rng(seed)
    rows = []
    place = contextlib.nullcontext(str(work)) if work else tempfile.TemporaryDirectory(prefix="newssearch-query-scale-")
    with place as folder:
        base = load_settings()
        settings = load_settings({"data_dir": Path(folder),
                                  "model": base.model or str(base.default_model_path.resolve())})
        conn = store.connect(settings.db_path)
        cursor, queries = 0, []
        for size in sorted(sizes):
            copied = conn.execute("SELECT 1 FROM articles WHERE url LIKE '%#copy%' LIMIT 1").fetchone() is not None
            if not copied:
                cursor = fill_real(conn, settings, items, min(size, real_cap), cursor)
            held = store.count_rows(conn)["passages"]
            if held < size:  # the real text is used up, or capped: copy what is stored
                copy_archive(conn, max(1, round(size / held) - 1))
                copied = True
            queries = queries or pick_queries(conn, n_queries)
            cache_vectors(settings, conn, real, rng)
            started = time.perf_counter()
            report, lexical_s = build(settings, full=True)
            version = layout.versions_dir(settings.index_root) / report.version
            manifest = layout.load_manifest(version)
            served = time_queries(settings, queries)
            row = {"size": size, "passages": report.passages, "articles": store.count_rows(conn)["articles"],
                   "copied": copied, "factory": manifest.index_factory,
                   "build_s": round(time.perf_counter() - started, 1), "lexical_build_s": round(lexical_s, 1),
                   "lexical_mb": round(folder_bytes(version / lexical.LEXICAL_DIR) / 2 ** 20, 1),
                   "faiss_mb": round(sum(f.stat().st_size for f in layout.segment_files(version)) / 2 ** 20, 1),
                   "queries": len(queries), "recall_at_10": hnsw_recall(settings, rng), **served}
            if patch and size == max(sizes):
                row["nightlies"] = measure_nightlies(settings, conn, items[-patch:], patch, real, rng)
            rows.append(row)
            print(json.dumps(row), flush=True)
        conn.close()
    return rows


def served_only(work: Path, n_queries: int, topics: Path | None) -> dict:
    """The served version's query timings (time_queries) on the titles or topics, nothing built."""
    base = load_settings()
    settings = load_settings({"data_dir": Path(work), "model": base.model or str(base.default_model_path.resolve())})
    conn = store.connect(settings.db_path, readonly=True)
    queries = pick_queries(conn, n_queries)
    if topics:
        texts = [q["text"] for q in map(json.loads, topics.read_text().splitlines()) if q["kind"] == "topic"]
        queries = [(aid, text) for (aid, _), text in zip(queries, texts)]
    conn.close()
    return time_queries(settings, queries)


def demo_items() -> list[dict]:
    from indexer.decode import decode_html
    from indexer.extract import extract_article

    out = []
    for path in sorted(DEMO.rglob("*.html")):
        article = extract_article(decode_html(path.read_bytes()), path.as_uri(), "demo")
        out.append({"id": path.stem, "title": article.title, "sapo": article.summary, "body": article.body})
    return out


def format_table(rows: list[dict]) -> str:
    lines = [f"{'passages':>9} {'copied':>6} {'faiss':>7} " + " ".join(f"{m + ' p50':>13} {'p99':>7}" for m in MODES)
             + f" {'rss MB':>7} {'lexical s':>9} {'lexical MB':>10} {'recall@10':>9}"]
    for r in rows:
        recall = f"{r['recall_at_10']:.3f}" if r["recall_at_10"] is not None else "exact"
        lines.append(f"{r['passages']:>9} {'yes' if r['copied'] else 'no':>6} {r['factory']:>7} " +
                     " ".join(f"{r[m]['p50_ms']:>13.1f} {r[m]['p99_ms']:>7.1f}" for m in MODES) +
                     f" {r['service_rss_mb']:>7} {r['lexical_build_s']:>9} {r['lexical_mb']:>10} {recall:>9}")
    lines.append("\nthe rest of the query path, p50 / p99 ms (results found: mean over the queries)")
    lines.append(f"{'passages':>9} " + " ".join(f"{name:>22}" for name in PATH_STEPS))
    for r in rows:
        lines.append(f"{r['passages']:>9} " + " ".join(
            f"{r[name]['p50_ms']:>8.1f} / {r[name]['p99_ms']:<6.1f}"
            + (f"({r['results_found'][name]:>4.0f})" if name in r["results_found"] else " " * 6)
            for name in PATH_STEPS))
    for r in rows:
        for name, nightly in r.get("nightlies", {}).items():
            lines.append(f"nightly at {r['passages']} passages, {name}: {json.dumps(nightly)}")
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
    parser.add_argument("--real", type=int, default=10 ** 9, help="passages of real text before copying (default: all)")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--patch", type=int, default=0, help="at the largest size, time a nightly adding N articles")
    parser.add_argument("--vectors", type=Path, default=Path(__file__).resolve().parent / ".cache" / "vectors.sqlite3",
                        help="a vector cache holding real passage vectors")
    parser.add_argument("--work", type=Path, help="build the archive here and keep it: a second run reuses it "
                        "(default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=RESULTS / "query-scale.json")
    parser.add_argument("--plot", action="store_true", help="write query-scale.png next to the JSON")
    parser.add_argument("--served", action="store_true", help="only time the queries against the version "
                        "--work serves, built before (no build): to compare commits on one archive")
    parser.add_argument("--topics", type=Path, help="with --served: the `topic` queries of this queries.jsonl "
                        "(eval-dev-topics) instead of the archive's titles")
    args = parser.parse_args(argv)
    if args.served:
        print(json.dumps(served_only(args.work, args.queries, args.topics), indent=2))
        return 0
    rows = run(args.corpus, args.sizes, args.real, args.queries, args.vectors, args.patch, work=args.work)
    print(format_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=2))
    if args.plot:
        plot(rows, args.json.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
