"""Errors as people and programs should see them: JSON for /api/, a page otherwise, never a stack trace."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from indexer.version.layout import IndexUnavailable
from service.params import BadRequest


def error_response(status: int, code: str, message: str, field: str | None = None, page_message: str | None = None):
    """JSON for programs (/api/, the feeds and exports), a page for people (in Vietnamese where
    `page_message` gives it)."""
    if request.path.startswith("/api/") or request.path.endswith((".atom", ".csv")):
        body: dict[str, Any] = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        return jsonify(body), status
    if request_ctx.url_adapter is None:  # the request's Host could not be read: no link can be built
        return Response(f"{status}: {message}\n", status, mimetype="text/plain")
    return render_template("error.html", status=status, message=page_message or message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return error_response(400, "bad_request", exc.message, exc.field, exc.vi)

    @app.errorhandler(IndexUnavailable)
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
