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
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.api_latency import free_port, gunicorn_command, start_server
from indexer import vectors

ROOT = Path(__file__).resolve().parent.parent
# Every one of these finds articles of the demo archive in every mode.
SEARCHES = [("phòng chống thiên tai 2021", "hybrid"), ("nông thôn mới", "semantic"),
            ("tiêm vắc xin Covid-19", "hybrid"), ("phong chong thien tai", "lexical"),
            ("giao nhận quân", "semantic"), ("bầu cử đại biểu HĐND", "hybrid"),
            ("nông thôn mới", "lexical"), ("học bổng học sinh nghèo", "semantic")]


@dataclass
class LoadRun:
    """What the clients saw during one publish."""

    answers: int = 0
    by_version: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    old_version: str | None = None
    new_version: str | None = None
    nightly_exit: int | None = None
    worker_timeouts: int = 0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str:
        versions = ", ".join(f"{v}: {n}" for v, n in sorted(self.by_version.items(), key=str))
        return (f"{self.answers} answers, {self.failed} failed {dict(self.failures)}; by version {versions}; "
                f"nightly exit {self.nightly_exit}; worker timeouts {self.worker_timeouts}")


def _client(base: str, stop: threading.Event, seed: int, run: LoadRun, lock: threading.Lock) -> None:
    pick = random.Random(seed)
    while not stop.is_set():
        text, mode = pick.choice(SEARCHES)
        url = f"{base}/api/search?" + urllib.parse.urlencode({"q": text, "mode": mode})
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            status, body = 0, str(exc).encode()
        with lock:
            run.answers += 1
            if status != 200:
                why = f"HTTP {status}" if status else "connection failed"
                run.failures[why] += 1
                if len(run.examples) < 5:
                    run.examples.append(f"{mode} {text!r}: {why}: {body.decode(errors='replace')[:120]}")
                continue
            data = json.loads(body)
            run.by_version[data.get("index_version")] += 1
            if not data.get("total"):
                run.failures["no results"] += 1
                if len(run.examples) < 5:
                    run.examples.append(f"{mode} {text!r}: no results, index_version {data.get('index_version')!r}")


def prepare_data_dir(source: Path, target: Path, portal: str) -> None:
    """A copy of an archive whose only source is the fixture portal on 127.0.0.1."""
    from fixtures.site import SOURCES_TOML

    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("sources.toml", "crawl*", "models"))
    if (Path(source) / "models").is_dir():  # the converted model is only read: link it, do not copy it
        (target / "models").symlink_to((Path(source) / "models").resolve(), target_is_directory=True)
    (target / "sources.toml").write_text(SOURCES_TOML.format(base=portal).split('[[source]]\nname = "wp"')[0])


def run_once(data_dir: Path, clients: int, seconds: float, publish_after: float = 0.3, workers: int = 2,
             threads: int = 4, max_requests: int = 0) -> LoadRun:
    """One run over a copy of `data_dir`: clients from the first moment gunicorn answers (as after a
    deploy), a nightly run started `publish_after` × seconds in, clients stopped at `seconds`."""
    from fixtures.site import FixtureSite

    portal = FixtureSite(hang_seconds=2.5)
    server = portal.serve()
    with tempfile.TemporaryDirectory(prefix="publish-load-") as tmp:
        work = Path(tmp) / "data"
        prepare_data_dir(Path(data_dir), work, portal.base)
        env = {"NEWSSEARCH_DATA_DIR": str(work), "NEWSSEARCH_MODEL": "", "NEWSSEARCH_QUERY_CACHE": "0"}
        run = LoadRun(old_version=vectors.current_version(work / "index"))
        port = free_port()
        command = gunicorn_command(port, workers, threads)
        if max_requests:
            command[1:1] = ["--max-requests", str(max_requests), "--max-requests-jitter", str(max_requests // 4)]
        log = open(Path(tmp) / "gunicorn.log", "w+")  # noqa: SIM115 (read back after the server stops)
        service = start_server(port, env, command, stderr=log)
        lock, stop = threading.Lock(), threading.Event()
        started = time.monotonic()
        pool = [threading.Thread(target=_client, args=(f"http://127.0.0.1:{port}", stop, i, run, lock))
                for i in range(clients)]
        try:
            for thread in pool:
                thread.start()
            time.sleep(max(0.0, started + publish_after * seconds - time.monotonic()))
            nightly = subprocess.run([sys.executable, "-m", "indexer", "nightly", "--full"], cwd=ROOT,
                                     env={**os.environ, **env}, capture_output=True, timeout=600)
            run.nightly_exit = nightly.returncode
            run.new_version = vectors.current_version(work / "index")
            time.sleep(max(5.0, started + seconds - time.monotonic()))
        finally:
            stop.set()
            for thread in pool:
                thread.join()
            service.terminate()
            service.wait(timeout=60)
            server.shutdown()
            log.seek(0)
            run.worker_timeouts = log.read().count("WORKER TIMEOUT")
            log.close()
    for version, count in run.by_version.items():
        if version not in (run.old_version, run.new_version):
            run.failures[f"index_version {version!r}"] += count
    return run


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
