"""Prometheus text metrics for /metrics: requests, errors, latency histogram, served index version.

Counters live in each worker process (Prometheus sums what it scrapes from each; with several
gunicorn workers, scrape each or read them as per-worker samples).
"""
from __future__ import annotations

import threading
import time
from collections import Counter

from flask import Flask, Response, g, request

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter = Counter()   # (endpoint, status) -> count
        self.buckets: Counter = Counter()    # (endpoint, le) -> count
        self.sums: Counter = Counter()       # endpoint -> seconds
        self.counts: Counter = Counter()     # endpoint -> observations
        self.lock = threading.Lock()

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(endpoint, status)] += 1
            self.sums[endpoint] += seconds
            self.counts[endpoint] += 1
            for le in BUCKETS:
                if seconds <= le:
                    self.buckets[(endpoint, le)] += 1

    def render(self, index_version: str | None) -> str:
        lines = ["# HELP newssearch_requests_total HTTP requests by endpoint and status.",
                 "# TYPE newssearch_requests_total counter"]
        with self.lock:
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(f'newssearch_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
            lines += ["# HELP newssearch_errors_total Responses with status 500 or above.",
                      "# TYPE newssearch_errors_total counter",
                      f"newssearch_errors_total {sum(n for (_, s), n in self.requests.items() if s >= 500)}",
                      "# HELP newssearch_request_seconds Request latency.",
                      "# TYPE newssearch_request_seconds histogram"]
            for endpoint in sorted(self.counts):
                for le in BUCKETS:
                    lines.append(f'newssearch_request_seconds_bucket{{endpoint="{endpoint}",le="{le}"}} '
                                 f"{self.buckets[(endpoint, le)]}")
                lines.append(f'newssearch_request_seconds_bucket{{endpoint="{endpoint}",le="+Inf"}} '
                             f"{self.counts[endpoint]}")
                lines.append(f'newssearch_request_seconds_sum{{endpoint="{endpoint}"}} {self.sums[endpoint]:.6f}')
                lines.append(f'newssearch_request_seconds_count{{endpoint="{endpoint}"}} {self.counts[endpoint]}')
        lines += ["# HELP newssearch_index_info The index version being served.",
                  "# TYPE newssearch_index_info gauge",
                  f'newssearch_index_info{{version="{index_version or ""}"}} 1']
        return "\n".join(lines) + "\n"


def install(app: Flask, index_version) -> None:
    """Time every request and serve /metrics; `index_version` is a callable."""
    metrics = Metrics()

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        if request.endpoint != "metrics" and hasattr(g, "started"):
            metrics.observe(request.endpoint or "unknown", response.status_code, time.perf_counter() - g.started)
        return response

    @app.get("/metrics")
    def metrics_view():
        return Response(metrics.render(index_version()), mimetype="text/plain; version=0.0.4")
