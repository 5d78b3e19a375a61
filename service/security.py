"""What every response carries and every request must pass: security headers, CORS for the origins
the settings allow, and query strings that are valid UTF-8."""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, request

from service.params import BadRequest

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


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
                raise BadRequest(f"'{name}' is not valid UTF-8", name) from None

    @app.after_request
    def headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        origin = request.headers.get("Origin")
        if origin and request.path.startswith("/api/") and ("*" in allowed_origins or origin in allowed_origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
        return response
