"""A publish under load: gunicorn as `make serve` runs it, concurrent searches, and a nightly run
that crawls a portal on 127.0.0.1 and publishes a new index version in the middle of it.

    python -m bench.publish_load DATA_DIR [--runs 10] [--clients 32] [--seconds 45] [--max-requests N]

DATA_DIR is an archive with a published index (`make demo` builds one in data/); every run works on
a fresh copy of it, so it is never changed. Every answer must be a 200 with results that names the
version served before the publish or the one the nightly run published; anything else is counted
as a failure and the first few are printed. The zero-downtime promise holds when every run reports
0 failed answers. `--max-requests N` has gunicorn recycle each worker after about N requests, so
that fresh workers start under load. Bounded: clients stop at the deadline (or 5 s after the
publish, if later), the nightly run has a time limit.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fixtures.load import run_once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publish_load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="an archive with a published index (make demo: data)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--max-requests", type=int, default=0,
                        help="recycle each gunicorn worker after about this many requests (0: never, as make serve)")
    parser.add_argument("--json", type=Path, help="also write the runs to this file")
    args = parser.parse_args(argv)
    runs = []
    for number in range(1, args.runs + 1):
        run = run_once(args.data_dir, args.clients, args.seconds, max_requests=args.max_requests)
        print(f"run {number}: {run.summary()}", flush=True)
        for example in run.examples:
            print(f"    {example}")
        runs.append(run)
    total, failed = sum(r.answers for r in runs), sum(r.failed for r in runs)
    switched = sum(r.new_version not in (None, r.old_version) for r in runs)
    print(f"{len(runs)} runs, {args.clients} clients, {args.seconds:g} s each: {total} answers, {failed} failed; "
          f"{switched} runs published a new version")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"clients": args.clients, "seconds": args.seconds,
                                         "max_requests": args.max_requests, "runs": [
            {"answers": r.answers, "failed": r.failed, "failures": dict(r.failures), "examples": r.examples,
             "by_version": dict(r.by_version), "nightly_exit": r.nightly_exit,
             "worker_timeouts": r.worker_timeouts} for r in runs]}, indent=2, ensure_ascii=False))
    return 1 if failed or switched < len(runs) else 0


if __name__ == "__main__":
    sys.exit(main())
