"""Latency of /api/search over HTTP on loopback, against the configured data dir.

    python -m bench.api_latency [--runs 50] [--mode hybrid]

Starts the service in its own process on 127.0.0.1 (query-vector cache off, so every request
embeds its query), times N sequential requests per query after one warm-up each, and reports
the median and p90 per mode, plus the server's own `took_ms`. First, as soon as /api/health
answers, it times the very first search page a reader asks for against the median of the next
twenty (each a query not asked before): what a cold start costs. Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request

from bench.quality import percentile
from fixtures.servers import free_port, start_server

QUERIES = ["phòng chống thiên tai 2021", "phong chong thien tai", "bầu cử đại biểu HĐND",
           "tiêm vắc xin Covid-19", "dang van quang", "nông thôn mới nâng cao"]


def first_query(port: int, following: int = 20) -> tuple[float, float]:
    """(the first search page after start, the median of the `following` ones), in ms; every
    query new to the server."""
    def page(query: str) -> float:
        started = time.perf_counter()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({"q": query})).read()
        return (time.perf_counter() - started) * 1000

    first = page(QUERIES[0])
    rest = [page(f"{QUERIES[1 + i % (len(QUERIES) - 1)]} {2001 + i}") for i in range(following)]
    return first, statistics.median(rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed requests per query and mode")
    parser.add_argument("--mode", action="append", choices=["hybrid", "semantic", "lexical"])
    args = parser.parse_args()
    port = free_port()
    server = start_server(port, {"NEWSSEARCH_QUERY_CACHE": "0"})
    base = f"http://127.0.0.1:{port}/api/search?"
    rows = []
    try:
        first, then = first_query(port)
        print(f"first search page after start: {first:.1f} ms; the next 20: median {then:.1f} ms "
              f"({first / then:.2f}x)")
        for mode in args.mode or ["hybrid", "lexical", "semantic"]:
            wall, server_ms = [], []
            for query in QUERIES:
                url = base + urllib.parse.urlencode({"q": query, "mode": mode})
                urllib.request.urlopen(url).read()  # warm-up
                for _ in range(args.runs):
                    started = time.perf_counter()
                    body = json.loads(urllib.request.urlopen(url).read())
                    wall.append((time.perf_counter() - started) * 1000)
                    server_ms.append(body["took_ms"])
            rows.append((mode, len(wall), statistics.median(wall), percentile(wall, 0.9),
                         statistics.median(server_ms)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{'mode':<9} {'requests':>8} {'p50 ms':>8} {'p90 ms':>8} {'server p50 ms':>14}")
    for mode, n, p50, p90, took in rows:
        print(f"{mode:<9} {n:>8} {p50:>8.1f} {p90:>8.1f} {took:>14.1f}")


if __name__ == "__main__":
    main()
