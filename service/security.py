"""What every response carries and every request must pass: security headers, CORS for the origins
the settings allow (preflights answered whole), conditional GET (an ETag naming the served version
and the request, Cache-Control), and query strings that are valid UTF-8."""
from __future__ import annotations

import hashlib
from urllib.parse import unquote_to_bytes

from flask import Flask, current_app, request

from service.params import BadRequest

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# Answers that must never come from a cache: the service's state, and metrics.
UNCACHED = ("api.health", "metrics_view")
CORS_METHODS = "GET, HEAD, OPTIONS"


def _conditional(response, max_age: int):
    """A GET answer of the served version: its ETag (the version and the request, so a publish
    changes it), Cache-Control, and 304 when the client's If-None-Match holds it."""
    if request.endpoint in UNCACHED or request.endpoint == "static":
        response.headers.setdefault("Cache-Control", "no-store" if request.endpoint in UNCACHED else "public")
        return response
    version = current_app.extensions["engine"].served_version()
    if version is None:
        response.headers["Cache-Control"] = "no-store"
        return response
    tag = hashlib.sha256(f"{version}\n{request.full_path}".encode()).hexdigest()[:32]
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response.make_conditional(request)


def init_app(app: Flask, cors_origins: str) -> None:
    allowed_origins = {o.strip() for o in cors_origins.split(",") if o.strip()}

    @app.before_request
    def reject_invalid_utf8():
        """Werkzeug leaves undecodable bytes percent-encoded; refuse them instead of searching "%FF"."""
        for pair in request.query_string.split(b"&"):
            try:
                unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                name = unquote_to_bytes(pair.split(b"=", 1)[0]).decode("utf-8", "replace")
                raise BadRequest(f"'{name}' is not valid UTF-8", name,
                                 f"“{name}” không phải chữ viết đọc được") from None

    @app.after_request
    def headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            response.vary.add("Origin")  # the answer differs by origin once CORS is on: caches must know
            origin = request.headers.get("Origin")
            if origin and ("*" in allowed_origins or origin in allowed_origins):
                response.headers["Access-Control-Allow-Origin"] = origin
                if request.method == "OPTIONS":  # a preflight: what the API lets a page send
                    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                        "Access-Control-Request-Headers", "If-None-Match")
                    response.headers["Access-Control-Max-Age"] = "600"
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            response = _conditional(response, app.config["SETTINGS"].cache_max_age)
        return response
