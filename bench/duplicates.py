"""Near-duplicate groups on real news: how many, how large, how right, and what they cost.

    python -m bench.duplicates --corpus ../shared/corpus/baomoi-2017.jsonl.gz [--sample 5000]

1. The whole corpus is stored through `store.upsert_article`, as the crawler stores articles, and
   the groups it forms are counted by size. Every pair of articles is then compared exactly
   (Jaccard over the same word shingles, by a sparse matrix product): LSH recall is the share of
   the pairs at Jaccard >= JACCARD_MIN that the archive found, and a false merge is a pair in one
   group whose Jaccard is under 0.5 (groups join through chains of copies).
2. A random sample (--sample articles) is stored into fresh archives with and without duplicate
   detection, side by side: the time detection adds to storing (embedding, 95% of a real build,
   is not run, so its share of a whole build is smaller still), and the same pair figures within
   the sample alone.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from bench import save_result
from bench.indexing import read_corpus
from indexer import duplicates, models, store
from indexer.store import groups

RESULTS = Path(__file__).resolve().parent / "results"


def store_corpus(items: list[dict], folder: Path, detect: bool = True) -> tuple[object, dict[int, dict], float]:
    """(connection, article id → item, seconds) for these items stored into a new archive."""
    conn = store.connect(folder / "archive.sqlite3")
    stored = {}
    with contextlib.ExitStack() as stack:
        if not detect:
            original = groups.index_article
            groups.index_article = lambda *args: None
            stack.callback(setattr, groups, "index_article", original)
        started = time.perf_counter()
        for item in items:
            article = models.Article(url=f"https://corpus.example.vn/{item['id']}", source="corpus",
                                     title=item.get("title", ""), summary=item.get("sapo", ""), body=item["body"])
            with contextlib.suppress(ValueError):  # an empty body, skipped as the crawler would
                stored[store.upsert_article(conn, article)[0]] = item
        seconds = time.perf_counter() - started
    return conn, stored, seconds


def group_sizes(conn) -> Counter:
    return Counter(size for (size,) in conn.execute("SELECT count(*) FROM article_groups GROUP BY group_id"))


def exact_pairs(items: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, jaccard) of every pair of items sharing a shingle (first < second)."""
    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, item in enumerate(items):
        for shingle in duplicates.shingles(item.get("sapo", ""), item["body"]):
            rows.append(row)
            columns.append(vocabulary.setdefault(shingle, len(vocabulary)))
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                               shape=(len(items), len(vocabulary)))
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    union = sizes[shared.row] + sizes[shared.col] - shared.data
    return shared.row, shared.col, shared.data / np.maximum(union, 1)


def pair_quality(conn, stored: dict[int, dict]) -> dict:
    """LSH recall and false merges of the archive's pairs and groups against exact Jaccard."""
    ids = sorted(stored)
    position = {aid: i for i, aid in enumerate(ids)}
    first, second, similarity = exact_pairs([stored[aid] for aid in ids])
    truth = {(int(a), int(b)) for a, b, j in zip(first, second, similarity) if j >= duplicates.JACCARD_MIN}
    found = {(position[a], position[b]) for a, b in conn.execute(
        "SELECT article_id, other_id FROM duplicate_pairs WHERE article_id < other_id")}
    grouped = {}
    for aid, group in conn.execute("SELECT article_id, group_id FROM article_groups"):
        grouped.setdefault(group, []).append(position[aid])
    exact = {(int(a), int(b)): float(j) for a, b, j in zip(first, second, similarity)}
    in_groups = [(a, b) for members in grouped.values() for i, a in enumerate(sorted(members))
                 for b in sorted(members)[i + 1:]]
    false_merges = [pair for pair in in_groups if exact.get(pair, 0.0) < 0.5]
    return {"articles": len(ids), "pairs_at_threshold": len(truth), "pairs_found": len(found),
            "recall": round(len(truth & found) / len(truth), 4) if truth else None,
            "found_below_threshold": len(found - truth), "pairs_in_groups": len(in_groups),
            "false_merges_under_0.5": len(false_merges)}


def run(corpus: Path, sample: int, seed: int = 0) -> dict:
    items = read_corpus(corpus, 10 ** 9)
    picked = random.Random(seed).sample(items, min(sample, len(items)))
    with tempfile.TemporaryDirectory(prefix="newssearch-duplicates-") as tmp:
        root = Path(tmp)
        timings, in_sample = {}, {}
        for name, detect in (("without", False), ("with", True)):
            (root / name).mkdir()
            conn, stored, timings[name] = store_corpus(picked, root / name, detect)
            if detect:
                in_sample = pair_quality(conn, stored)
            conn.close()
        (root / "all").mkdir()
        conn, stored, whole_seconds = store_corpus(items, root / "all")
        quality = pair_quality(conn, stored)
        sizes = group_sizes(conn)
        largest = conn.execute("""SELECT g.group_id, count(*) AS n, a.title FROM article_groups g
                                  JOIN articles a ON a.id = g.group_id GROUP BY g.group_id ORDER BY n DESC LIMIT 5""")
        biggest = [{"articles": n, "title": title} for _, n, title in largest]
        conn.close()
    return {"corpus": corpus.name, "articles": len(stored), "store_seconds": round(whole_seconds, 1),
            "groups": sum(sizes.values()), "articles_in_groups": sum(k * v for k, v in sizes.items()),
            "group_sizes": dict(sorted(sizes.items())), "largest_groups": biggest, "pairs": quality,
            "sample": {**in_sample, "store_s_without": round(timings["without"], 1),
                       "store_s_with": round(timings["with"], 1),
                       "added": round(timings["with"] / timings["without"] - 1, 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="JSON-lines articles (id, title, sapo, body)")
    parser.add_argument("--sample", type=int, default=5000, help="articles compared pair by pair")
    parser.add_argument("--json", type=Path, default=RESULTS / "duplicates.json")
    args = parser.parse_args(argv)
    result = run(args.corpus, args.sample)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    save_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
