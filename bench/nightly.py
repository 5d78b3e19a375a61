"""Nightly-job timings: demo corpus + N extra articles from the fixture site (loopback only).

    python -m bench.nightly [--extra 200] [--new 10]

In a temporary data dir (the converted model linked in, an empty vector cache): ingest the demo
corpus, then time three `python -m indexer nightly` runs as a person would start them — the first
(crawls and embeds the extra articles and builds the first index), one with nothing new, and one
after `--new` more articles appear on the site. Each run is a fresh process, model load included.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.indexing import DEMO
from fixtures import site as fx
from indexer.config import DEFAULT_MODEL_DIRNAME, load_settings

ROOT = Path(__file__).resolve().parent.parent


def run_nightly(data_dir: Path) -> tuple[float, dict]:
    env = {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": ""}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "indexer", "nightly"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"nightly failed ({done.returncode}): {done.stdout}{done.stderr}")
    report = json.loads(sorted((data_dir / "reports").glob("nightly-*.json"))[-1].read_text())
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=200)
    parser.add_argument("--new", type=int, default=10)
    args = parser.parse_args()
    from indexer.pipeline import ingest_files

    model = load_settings().default_model_path.resolve()
    site = fx.FixtureSite(hang_seconds=0.2, extra_cms=args.extra)
    server = site.serve()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            (data / "models").mkdir()
            (data / "models" / DEFAULT_MODEL_DIRNAME).symlink_to(model, target_is_directory=True)
            cms = fx.SOURCES_TOML.format(base=site.base).split('[[source]]\nname = "wp"')[0]
            (data / "sources.toml").write_text(cms)
            ingest_files(load_settings({"data_dir": data, "model": ""}), [DEMO])
            rows = []
            for label in ("first run (demo + extra articles)", "nothing new", f"{args.new} new articles"):
                if label.endswith("new articles"):
                    site.extra_cms = args.extra + args.new
                elapsed, report = run_nightly(data)
                rows.append((label, elapsed, report))
            print(f"{'run':<36} {'wall s':>7} {'passages':>9} {'embedded':>9} {'reused':>7} {'removed':>8}  build")
            for label, elapsed, r in rows:
                print(f"{label:<36} {elapsed:>7.1f} {r['passages']:>9} {r['passages_embedded']:>9} "
                      f"{r['passages_reused']:>7} {r['passages_removed']:>8}  {r['build']}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
