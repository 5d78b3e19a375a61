"""The read-only Flask service: search page, article pages and the JSON API."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from indexer.config import Settings, load_settings
from indexer.store import ArchiveOutdated
from indexer.vectors import IndexUnavailable
from service.params import BadRequest

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def error_response(status: int, code: str, message: str, field: str | None = None):
    """JSON for /api/ requests, a page for people; never a stack trace."""
    if request.path.startswith("/api/"):
        body: dict[str, Any] = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """App factory; `config` is a Settings object or overrides of the environment's settings."""
    from service.search import SearchEngine

    settings = config if isinstance(config, Settings) else load_settings(config)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.ensure_ascii = False
    app.extensions["engine"] = SearchEngine(settings)

    from service import api, metrics, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return error_response(400, "bad_request", exc.message, exc.field)

    @app.errorhandler(ArchiveOutdated)
    @app.errorhandler(IndexUnavailable)
    @app.errorhandler(FileNotFoundError)
    def archive_unavailable(exc: Exception):
        return error_response(503, "archive_unavailable", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return error_response(500, "internal_error", "internal error; the request was logged")

    @app.template_filter("vndate")
    def vndate(value: str | None, with_time: bool = False) -> str:
        """ISO 8601 → dd/mm/yyyy (and HH:MM), as Vietnamese readers write dates."""
        if not value:
            return "không rõ ngày"
        moment = datetime.fromisoformat(value)
        return moment.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")

    @app.context_processor
    def helpers():
        def url_with(**changes: Any) -> str:
            """This page's URL with some query parameters changed (None removes one)."""
            args = request.args.to_dict(flat=False)
            for key, value in changes.items():
                if value is None:
                    args.pop(key, None)
                else:
                    args[key] = [str(value)]
            return url_for(request.endpoint, **(request.view_args or {}), **args)

        return {"url_with": url_with}

    @app.before_request
    def reject_invalid_utf8():
        """Werkzeug leaves undecodable bytes percent-encoded; refuse them instead of searching "%FF"."""
        for pair in request.query_string.split(b"&"):
            try:
                unquote_to_bytes(pair.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                name = unquote_to_bytes(pair.split(b"=", 1)[0]).decode("utf-8", "replace")
                raise BadRequest(f"'{name}' is not valid UTF-8", name) from None

    allowed_origins = {o.strip() for o in settings.cors_origins.split(",") if o.strip()}

    @app.after_request
    def headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        origin = request.headers.get("Origin")
        if origin and request.path.startswith("/api/") and ("*" in allowed_origins or origin in allowed_origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
        return response

    metrics.install(app, lambda: app.extensions["engine"].health()["index_version"])

    return app
