"""Prometheus metrics at /metrics: requests by endpoint and status, 5xx errors, latency, the index
version served. Under gunicorn the workers' counts add up (prometheus_client's multiprocess mode,
set up by deploy/gunicorn.conf.py), so one scrape of a machine gives that machine's totals."""
from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
disable_created_metrics()  # no *_created series: they double the output and Prometheus needs none here


def _exposition(registry: CollectorRegistry) -> bytes:
    """This process's metrics, or every worker's together in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(registry)
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return generate_latest(combined)


def install(app: Flask, index_version: Callable[[], str | None]) -> None:
    """Time every request and serve /metrics. Each app has its own registry (tests make many apps)."""
    registry = CollectorRegistry()
    requests_total = Counter("newssearch_requests", "HTTP requests by endpoint and status.",
                             ["endpoint", "status"], registry=registry)
    errors_total = Counter("newssearch_errors", "Responses with status 500 or above.", registry=registry)
    seconds = Histogram("newssearch_request_seconds", "Request latency.", ["endpoint"], buckets=BUCKETS,
                        registry=registry)

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        if request.endpoint != "metrics" and hasattr(g, "started"):
            endpoint = request.endpoint or "unknown"
            requests_total.labels(endpoint, str(response.status_code)).inc()
            seconds.labels(endpoint).observe(time.perf_counter() - g.started)
            if response.status_code >= 500:
                errors_total.inc()
        return response

    @app.get("/metrics")
    def metrics_view():
        version = (index_version() or "").replace("\\", "\\\\").replace('"', '\\"')
        served = ("# HELP newssearch_index_info The index version this worker serves.\n"
                  "# TYPE newssearch_index_info gauge\n"
                  f'newssearch_index_info{{version="{version}",pid="{os.getpid()}"}} 1\n').encode()
        return Response(_exposition(registry) + served, content_type=CONTENT_TYPE_LATEST)  # it holds its charset
