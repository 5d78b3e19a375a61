"""Load test: concurrent clients against the production server (gunicorn, as `make serve` runs it).

    python -m bench.load [--clients 8] [--requests 400] [--workers 2] [--threads 4]

Starts gunicorn on 127.0.0.1 over the configured data dir, then for each mode sends a fixed number
of search requests from N concurrent clients (queries rotate through a list, the query-vector
cache is off so each request embeds its query) and reports throughput, p50/p99 latency and errors.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.api_latency import QUERIES, free_port, start_server
from bench.quality import percentile


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per mode")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    threads_each = str(max(1, (os.cpu_count() or 1) // args.workers))  # as `make serve` does
    server = start_server(port, {"NEWSSEARCH_QUERY_CACHE": "0", "NEWSSEARCH_TORCH_THREADS": threads_each},
                          [gunicorn, "--workers", str(args.workers), "--threads", str(args.threads),
                           "--bind", f"127.0.0.1:{port}", "service:create_app()"])
    print(f"gunicorn: {args.workers} workers x {args.threads} threads, torch {threads_each} thread(s) each; "
          f"{args.clients} clients; "
          f"{args.requests} requests per mode")
    print(f"{'mode':<9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    try:
        for mode in ("lexical", "semantic", "hybrid"):
            urls = [f"http://127.0.0.1:{port}/api/search?" +
                    urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "mode": mode})
                    for i in range(args.requests)]
            latencies, errors, elapsed = run_load(urls, args.clients)
            print(f"{mode:<9} {len(latencies) / elapsed:>7.1f} {statistics.median(latencies):>8.1f} "
                  f"{percentile(latencies, 0.99):>8.1f} {errors:>7}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
