"""Serving from several machines, on this one: a primary that builds and publishes, replicas
(gunicorn, each with its own data dir) that pull from it over HTTP, nginx in front with the
shipped deploy/nginx.conf. Real processes on 127.0.0.1 only.

    python -m bench.replicas throughput DATA_DIR [--clients 16] [--seconds 20] [--rounds 3]
    python -m bench.replicas pull-bytes --corpus ../shared/corpus/baomoi-2017.jsonl.gz [--base 10000]

`throughput`: requests/s through nginx with 1 and with 2 replicas, side by side in each round
(DATA_DIR: an archive with a published index, `make demo` builds one in data/; it is copied, never
changed). `pull-bytes`: the bytes a replica's pull copies after nightly updates that add 1% and
1,000 articles, against the version's size, and the disk three kept versions take.
tests/test_replicas.py runs the end-to-end scenario on the same `Cluster` (fixtures/cluster.py).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import save_result
from fixtures.cluster import Cluster, Load
from fixtures.load import prepare_data_dir
from indexer.version import layout


def throughput(data_dir: Path, clients: int, seconds: float, rounds: int) -> dict:
    """requests/s through nginx with 1 replica and with 2, side by side in each round."""
    rows = []
    for round_number in range(rounds):
        for replicas in (1, 2):
            with tempfile.TemporaryDirectory(prefix="replicas-") as tmp:
                primary = Path(tmp) / "primary"
                prepare_data_dir(data_dir, primary, "http://127.0.0.1:9")
                with Cluster(primary, Path(tmp) / "work", replicas=replicas, workers=2) as cluster:
                    load = Load(cluster.base, clients)
                    with load as run:
                        time.sleep(seconds)
                    rows.append({"round": round_number, "replicas": replicas, "answers": run.answers,
                                 "failed": run.failed, "requests_per_s": round(run.answers / load.seconds, 1)})
                    print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for replicas in (1, 2):
        summary[replicas] = statistics.median(r["requests_per_s"] for r in rows if r["replicas"] == replicas)
    return {"clients": clients, "seconds": seconds, "rounds": rows, "median_requests_per_s": summary,
            "ratio_2_to_1": round(summary[2] / summary[1], 2)}


def disk_bytes(folder: Path) -> int:
    """Bytes on disk under `folder`, each hard-linked file once."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def pull_bytes(corpus: Path, base: int, steps: list[int]) -> dict:
    """Build a primary of `base` corpus articles, pull it; then for each step add that many new
    articles, build (a patch, as the nightly job does), pull, and count the bytes copied."""
    from bench.indexing import read_corpus
    from fixtures.hashed import HashedEmbedder
    from fixtures.pages import write_pages
    from indexer import pipeline, replicate
    from indexer.config import load_settings

    articles = read_corpus(corpus, base + sum(steps))
    embedder = HashedEmbedder(384)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pull-bytes-") as tmp:
        tmp = Path(tmp)
        primary = load_settings({"data_dir": tmp / "primary", "model": embedder.model_id})
        replica = tmp / "replica" / "index"
        start = 0
        for added in [base, *steps]:
            pages = tmp / f"pages-{start}"
            write_pages(articles[start:start + added], pages)
            start += added
            pipeline.ingest_files(primary, [pages], source="baomoi.example")
            built = pipeline.build_index(primary, embedder=embedder)
            report = replicate.pull(str(primary.index_root), replica, keep=3)
            manifest = layout.load_manifest(layout.versions_dir(replica) / report.version)
            size = sum(meta["bytes"] for meta in manifest.files.values())
            rows.append({"articles_added": added, "articles": start, "method": built.method,
                         "version_bytes": size, "bytes_copied": report.bytes_copied,
                         "copied_share": round(report.bytes_copied / size, 4), "copied_by_part": report.copied,
                         "replica_disk_bytes_all_kept_versions": disk_bytes(replica),
                         "kept_versions": len(list(layout.versions_dir(replica).iterdir())),
                         "vocabulary": manifest.vocabulary})
            print(json.dumps(rows[-1]), flush=True)
    return {"embedder": f"hashed words, dimension {embedder.dimension} (bytes do not depend on vector values)",
            "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput", help="requests/s through nginx with 1 and with 2 replicas")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the result to this file")
    p = sub.add_parser("pull-bytes", help="bytes a pull copies after nightly updates")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--base", type=int, default=10_000)
    p.add_argument("--steps", type=int, nargs="+", default=None, help="articles added per update (default: 1%%, 1000)")
    p.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.what == "throughput":
        result = throughput(args.data_dir, args.clients, args.seconds, args.rounds)
    else:
        result = pull_bytes(args.corpus, args.base, args.steps or [args.base // 100, 1000])
    print(json.dumps({k: v for k, v in result.items() if k not in ("rounds", "rows")}, indent=2))
    if args.json:
        save_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
