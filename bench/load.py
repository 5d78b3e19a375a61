"""Load test: concurrent clients against the production server (gunicorn, as `make serve` runs it).

    python -m bench.load [--clients 8] [--requests 400] [--workers 2] [--threads 4]

Starts gunicorn on 127.0.0.1 over the configured data dir, then for each mode sends a fixed number
of search requests from N concurrent clients (queries rotate through a list, the query-vector
cache is off so each request embeds its query) and reports throughput, p50/p99 latency and errors.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.api_latency import QUERIES
from bench.quality import percentile
from fixtures.servers import free_port, gunicorn_command, start_server


def run_load(urls: list[str], clients: int) -> tuple[list[float], int, float]:
    """Send every URL once from `clients` concurrent threads: (latencies ms, errors, seconds)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    cursor = iter(urls)

    def client() -> None:
        nonlocal errors
        while True:
            with lock:
                url = next(cursor, None)
            if url is None:
                return
            started = time.perf_counter()
            try:
                urllib.request.urlopen(url, timeout=60).read()
                ok = True
            except (urllib.error.URLError, TimeoutError):
                ok = False
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - began


def run(clients: int, requests: int, workers: int, threads: int) -> list[dict]:
    """Per mode: throughput, latency and errors of `requests` searches from `clients` threads."""
    port = free_port()
    threads_each = str(max(1, (os.cpu_count() or 1) // workers))  # as `make serve` does
    server = start_server(port, {"NEWSSEARCH_QUERY_CACHE": "0", "NEWSSEARCH_TORCH_THREADS": threads_each},
                          gunicorn_command(port, workers, threads))
    print(f"gunicorn: {workers} workers x {threads} threads; queries embedded by the configured "
          f"backend (ONNX Runtime by default; torch gets {threads_each} thread(s) each); "
          f"{clients} clients; {requests} requests per mode", file=sys.stderr)
    rows = []
    try:
        for mode in ("lexical", "semantic", "hybrid"):
            urls = [f"http://127.0.0.1:{port}/api/search?" +
                    urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "mode": mode})
                    for i in range(requests)]
            latencies, errors, elapsed = run_load(urls, clients)
            rows.append({"mode": mode, "clients": clients, "requests": len(latencies),
                         "req_per_s": round(len(latencies) / elapsed, 1),
                         "p50_ms": round(statistics.median(latencies), 1),
                         "p99_ms": round(percentile(latencies, 0.99), 1), "errors": errors})
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'mode':<9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    lines += [f"{r['mode']:<9} {r['req_per_s']:>7.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>7}"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per mode")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write {'rows': [...]} to this file")
    args = parser.parse_args(argv)
    rows = run(args.clients, args.requests, args.workers, args.threads)
    print(format_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
