"""The ingest API: a publishing system pushes each article to the primary as it publishes it.

Served by its own process on the primary only (``python -m indexer serve-ingest``), never by the
read-only search service nor by a replica: those have no route that writes. Requests carry an API
key (``Authorization: Bearer KEY``), created and revoked with ``python -m indexer keys``; a key
writes one source's articles or every source's. Records are those of the import schema
(indexer/transfer.py, docs/import.md), one JSON object per line, checked all before any is
stored, stored by URL (sending one again changes nothing). New and changed articles become
searchable at the next build, which this process starts itself once writes have paused for
NEWSSEARCH_INGEST_BUILD_DELAY seconds, under the data dir's lock (never beside a nightly).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from indexer import store, transfer
from indexer.config import Settings, load_settings
from indexer.locks import Locked, data_dir_lock
from indexer.records import parse_json_object

KEY_PREFIX = "nsk"
log = logging.getLogger(__name__)


# --- keys -----------------------------------------------------------------------------------
def _hash(secret: str) -> str:
    """SHA-256 of a key's secret: 32 random bytes need no slow hash to resist guessing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(conn, source: str | None, label: str = "") -> str:
    """A new key for one source (None: every source); the only time its secret is seen."""
    secret = secrets.token_urlsafe(32)
    key_id = store.add_ingest_key(conn, _hash(secret), source, label)
    return f"{KEY_PREFIX}_{key_id}_{secret}"


@dataclass(frozen=True)
class Key:
    id: int
    source: str | None  # None: every source

    def allows(self, source: str) -> bool:
        return self.source is None or self.source == source

    def check(self, sources: list[str]) -> None:
        """Refuse (403) sources this key may not write."""
        foreign = sorted({s for s in sources if not self.allows(s)})
        if foreign:
            raise ApiError(403, "forbidden", f"this key writes source {self.source!r} only, not {', '.join(foreign)}")


def authenticate(conn, presented: str) -> Key | None:
    """The key a request presents, or None for a malformed, unknown or revoked one (compared in
    constant time)."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id.isdigit() or len(key_id) > 18 or not secret:
        return None
    row = store.ingest_key(conn, int(key_id))
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)) or row["revoked_at"]:
        return None
    return Key(row["id"], row["source"])


# --- the build after writes --------------------------------------------------------------------
class BuildScheduler:
    """Builds a new version once writes have paused for `delay` seconds; a build the data dir's
    lock refuses (a nightly runs) is tried again `delay` seconds later."""

    def __init__(self, settings: Settings, delay: float, embedder=None) -> None:
        self.settings, self.delay, self.embedder = settings, delay, embedder
        self.due: float | None = None
        self.last: dict[str, Any] = {}
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name="ingest-build", daemon=True).start()

    def touch(self) -> None:
        with self._wake:
            self.due = time.monotonic() + self.delay
            self._wake.notify()

    def _run(self) -> None:
        from indexer.pipeline import build_index

        while True:
            with self._wake:
                while self.due is None or time.monotonic() < self.due:
                    self._wake.wait(None if self.due is None else max(0.0, self.due - time.monotonic()))
                self.due = None
            try:
                with data_dir_lock(self.settings.data_dir, "ingest build"):
                    report = build_index(self.settings, embedder=self.embedder)
                self.last = {"version": report.version, "at": time.time()}
            except Locked:
                self.touch()
            except Exception as exc:  # the next write tries again; the status says why
                log.exception("ingest build failed")
                self.last = {"error": f"{type(exc).__name__}: {exc}", "at": time.time()}


# --- the app --------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra


def _key(conn) -> Key:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "send the API key as 'Authorization: Bearer KEY'")
    key = authenticate(conn, header[7:].strip())
    if key is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked")
    return key


def _ingest(conn, key: Key, text: str, settings: Settings) -> dict:
    """Check every line, then store them all (or none)."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ApiError(400, "bad_request", "send one JSON object (an article) per line")
    options = transfer.Options(source=key.source, timezone=settings.timezone)
    errors: list[dict] = []
    articles = list(transfer.checked((("request", n, parse_json_object(line)) for n, line in lines),
                                     options, lambda _, n, __, exc: errors.append(
                                         {"line": n, "field": exc.field, "message": str(exc)})))
    if errors:
        raise ApiError(400, "invalid_records", f"{len(errors)} invalid record(s): nothing stored", records=errors)
    key.check([a.source for a, _ in articles])
    results, counts = [], Counter()
    for (number, _), (article, province) in zip(lines, articles, strict=True):
        article_id, status = store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap,
                                                  home_province=province)
        counts[status] += 1
        results.append({"line": number, "id": article_id, "url": article.url, "status": status})
    return {"stored": len(results), **{k: counts[k] for k in ("new", "updated", "unchanged")}, "articles": results}


def create_app(settings: Settings | None = None, embedder=None) -> Flask:
    """The ingest service; `embedder` replaces the configured model for its builds (tests)."""
    from indexer.ingest_openapi import document

    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.ingest_max_bytes
    app.json.ensure_ascii = False
    builds = BuildScheduler(settings, settings.ingest_build_delay, embedder)
    app.extensions["builds"] = builds

    @contextmanager
    def authorised() -> Iterator[tuple[Any, Key]]:
        """The archive, and the key the request presents (401 without a valid one)."""
        conn = store.connect(settings.db_path)
        try:
            yield conn, _key(conn)
        finally:
            conn.close()

    @app.post("/api/ingest")
    def ingest():
        with authorised() as (conn, key):
            try:
                text = request.get_data(cache=False).decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "bad_request", "the body is not UTF-8") from None
            answer = _ingest(conn, key, text, settings)
        if answer["new"] or answer["updated"]:
            builds.touch()
        return jsonify({**answer, "searchable_after_s": settings.ingest_build_delay})

    @app.delete("/api/ingest/<path:ref>")
    def delete(ref: str):
        with authorised() as (conn, key):
            row = store.find_article(conn, ref)
            if row is None:
                raise ApiError(404, "not_found", f"no article with id or URL {ref!r}")
            key.check([row["source"]])
            store.delete_article(conn, row["id"])
        builds.touch()
        return jsonify({"deleted": row["url"], "id": row["id"], "searchable_until_s": settings.ingest_build_delay})

    @app.get("/api/ingest/status")
    def status():
        with authorised():
            return jsonify({"build_pending": builds.due is not None, "last_build": builds.last or None})

    @app.get("/api/ingest/openapi.json")
    def openapi():
        return jsonify(document(settings.ingest_max_bytes))

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        response = jsonify({"error": {"code": exc.code, "message": str(exc), **exc.extra}})
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="ingest"'
        return response, exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = (f"the body is over {settings.ingest_max_bytes:,} bytes (NEWSSEARCH_INGEST_MAX_BYTES): send "
                   f"fewer articles per request") if exc.code == 413 else (exc.description or exc.name)
        return jsonify({"error": {"code": code, "message": message}}), exc.code or 500

    return app
