"""The OpenAPI document of the ingest API (indexer/ingest_api.py): what a publishing system needs
to push its articles."""
from __future__ import annotations

from indexer.transfer import FIELDS, MAX_CHARS, MAX_FIELD_CHARS


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}}


def document(max_bytes: int) -> dict:
    text = {"type": "string"}
    record = {"type": "object", "required": ["title", "body"], "description": "one article: the import schema "
              "(docs/import.md); `url`, or `id` is not enough here: give the address",
              "properties": {name: {**text, "maxLength": MAX_CHARS.get(name, MAX_FIELD_CHARS)} for name in FIELDS}}
    stored = {"type": "object", "required": ["stored", "new", "updated", "unchanged", "articles"], "properties": {
        "stored": {"type": "integer"}, "new": {"type": "integer"}, "updated": {"type": "integer"},
        "unchanged": {"type": "integer"}, "searchable_after_s": {"type": "number"},
        "articles": {"type": "array", "items": {"type": "object", "properties": {
            "line": {"type": "integer"}, "id": {"type": "integer"}, "url": text,
            "status": {"type": "string", "enum": ["new", "updated", "unchanged"]}}}}}}
    auth = {"401": _error("no key, or a key unknown or revoked"), "403": _error("the key writes another source")}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Vietnamese news-archive search: ingest", "version": "1.0.0",
                 "description": "On the primary only. Articles are stored at once and searchable after the next "
                                "build, which starts once writes pause (NEWSSEARCH_INGEST_BUILD_DELAY)."},
        "components": {
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer",
                                        "description": "python -m indexer keys create --source NAME | --all"}},
            "schemas": {"Article": record, "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": text, "message": text,
                    "records": {"type": "array", "description": "each invalid record: line, field, message",
                                "items": {"type": "object"}}}}}}}},
        "security": [{"key": []}],
        "paths": {
            "/api/ingest": {"post": {
                "summary": "Store articles (one JSON object per line); all are checked before any is stored",
                "operationId": "ingest",
                "requestBody": {"required": True, "description": f"NDJSON, at most {max_bytes:,} bytes",
                                "content": {"application/x-ndjson": {"schema": {
                                    "$ref": "#/components/schemas/Article"}}}},
                "responses": {"200": {"description": "stored", "content": {"application/json": {"schema": stored}}},
                              "400": _error("a record is invalid: nothing stored"), **auth,
                              "413": _error(f"the body is over {max_bytes:,} bytes")}}},
            "/api/ingest/{ref}": {"delete": {
                "summary": "Take an article down (it leaves search at the next build)", "operationId": "delete",
                "parameters": [{"name": "ref", "in": "path", "required": True, "schema": text,
                                "description": "the article's id or URL"}],
                "responses": {"200": {"description": "deleted"}, **auth, "404": _error("no such article")}}},
            "/api/ingest/status": {"get": {
                "summary": "Whether a build is pending, and the last one", "operationId": "status",
                "responses": {"200": {"description": "status"}, **auth}}},
        },
    }
