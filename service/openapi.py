"""The OpenAPI 3 description of /api, served at /api/openapi.json; a schemathesis test holds the
implementation to it."""
from __future__ import annotations

from dataclasses import fields

from indexer.version.reader import ArticleSummary
from service.params import MAX_PER_PAGE, MAX_QUERY_CHARS
from service.search import MAX_RESULTS, MODES, SORTS

NULLABLE_STRING = {"type": "string", "nullable": True}
_TYPES = {"int": {"type": "integer"}, "str": {"type": "string"}, "str | None": NULLABLE_STRING}
# Made from the row every list of articles is (indexer/version/reader.py): its fields, their types and docs.
ARTICLE_SUMMARY = {
    "type": "object",
    "required": [f.name for f in fields(ArticleSummary)],
    "properties": {f.name: {**_TYPES[str(f.type)], "description": f.metadata["doc"]} for f in fields(ArticleSummary)},
}
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}},
}


# Every GET of the served version carries a weak ETag (the version and the request) and
# Cache-Control: a client that sends it back in If-None-Match gets this while nothing was published.
NOT_MODIFIED = {"304": {"description": "not modified: the If-None-Match ETag still names this answer"}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "invalid input", 404: "not found", 503: "no index or archive to serve"}
    return {str(c): _json({"$ref": "#/components/schemas/Error"}, text[c]) for c in codes}


def _id_param() -> dict:
    return {"name": "article_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}


def document() -> dict:
    search_params = [
        {"name": "q", "in": "query", "required": True, "description": "what to search for (Vietnamese, "
         "with or without diacritics; a year, month or quarter boosts that period; \"quoted phrases\")",
         "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 10}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "source", "in": "query", "schema": {"type": "string"}, "description": "source name; repeatable"},
        {"name": "place", "in": "query", "schema": {"type": "string"},
         "description": "a place key from facets.places (e.g. n/tinhnghean); repeatable. Admits the place under "
         "its names before and after the reorganisation of 1 July 2025"},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORTS), "default": "relevance"}},
        {"name": "mode", "in": "query", "schema": {"type": "string", "enum": list(MODES), "default": "hybrid"}},
        {"name": "explain", "in": "query", "schema": {"type": "boolean", "default": False},
         "description": "add to each result why it scored what it did (never changes the ranking)"},
        {"name": "collapse", "in": "query", "schema": {"type": "boolean", "default": True},
         "description": "one result per group of near-duplicate copies (the best ranked one, its copies "
         "listed); false shows every copy"},
        {"name": "as_typed", "in": "query", "schema": {"type": "boolean", "default": False},
         "description": "search exactly as typed: no diacritics or capitals restored, no abbreviation spelled out"},
    ]
    copies = {"type": "array", "items": {"$ref": "#/components/schemas/ArticleSummary"},
              "description": "the same story published elsewhere (near-duplicate articles), oldest first"}
    explanation = {
        "type": "object", "required": ["lists", "word_order", "period_factor", "place_factor", "final"],
        "description": "final = (sum of the lists' contributions + word_order.bonus) × period_factor × place_factor",
        "properties": {
            "lists": {"type": "array", "items": {
                "type": "object", "required": ["name", "rank", "score", "normalised", "weight", "contribution"],
                "properties": {"name": {"type": "string", "enum": ["exact", "folded", "dense", "article"]},
                               "rank": {"type": "integer", "minimum": 1}, "score": {"type": "number"},
                               "normalised": {"type": "number"}, "weight": {"type": "number"},
                               "contribution": {"type": "number"}}}},
            "word_order": {"type": "object", "nullable": True, "required": ["share", "bonus"],
                           "properties": {"share": {"type": "number"}, "bonus": {"type": "number"}}},
            "period_factor": {"type": "number"}, "place_factor": {"type": "number"}, "final": {"type": "number"},
            "evidence": {
                "type": "object", "nullable": True,
                "required": ["admitted_by", "held", "asked", "phrases", "z", "relative", "about", "about_floor",
                             "runs"],
                "description": "why it is a result: admitted_by 'words' (it holds `held` of the `asked` query words "
                "or word pairs, and every quoted phrase, scoring `relative` of the best; for a topic's words in a "
                "row, `about` at least `about_floor`, from their `runs`) or 'meaning' (its best passage `z` "
                "standard deviations above the query's similarity to background passages)",
                "properties": {"admitted_by": {"type": "string", "enum": ["words", "meaning"], "nullable": True},
                               "held": {"type": "integer"}, "asked": {"type": "integer"},
                               "phrases": {"type": "boolean"}, "z": {"type": "number", "nullable": True},
                               "relative": {"type": "number"}, "about": {"type": "number", "nullable": True},
                               "about_floor": {"type": "number"},
                               "runs": {"type": "object", "nullable": True, "required": ["count", "before", "length"],
                                        "description": "how often the words stand in a row, how many words come "
                                        "before the first run (null: nowhere whole), of how many words",
                                        "properties": {"count": {"type": "integer"},
                                                       "before": {"type": "integer", "nullable": True},
                                                       "length": {"type": "integer"}}}}}}}
    place = {"type": "object", "required": ["key", "label"],
             "properties": {"key": {"type": "string"}, "label": {"type": "string"}}}
    hit = {"allOf": [{"$ref": "#/components/schemas/ArticleSummary"}, {
        "type": "object", "required": ["score", "passage_id", "snippet", "copies"],
        "properties": {"score": {"type": "number"}, "passage_id": {"type": "integer"}, "copies": copies,
                       "snippet": {"type": "string", "description": "HTML: escaped text, matches in <mark>"},
                       "explain": explanation}}]}
    search_response = {
        "type": "object",
        "required": ["query", "mode", "sort", "page", "per_page", "total", "total_relation", "total_pages",
                     "boundary", "took_ms", "index_version", "date_intent", "restored_query", "rewritten_query",
                     "corrected_query", "as_typed", "query_places", "facets", "results"],
        "properties": {
            "query": {"type": "string"}, "mode": {"type": "string", "enum": list(MODES)},
            "sort": {"type": "string", "enum": list(SORTS)}, "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer", "maximum": MAX_RESULTS,
                      "description": "articles in the result set: those with evidence they are about the query "
                      "(its words, or its meaning standing out), at most " + str(MAX_RESULTS)},
            "total_relation": {"type": "string", "enum": ["eq", "gte"],
                               "description": "gte: more articles than `total` may match (the set was capped, or "
                               "a candidate list ran to its depth with every article a result)"},
            "total_pages": {"type": "integer"},
            "boundary": {"type": "object", "required": ["candidates", "dropped"],
                         "description": "articles the candidate lists found, and how many of them the boundary "
                         "left out for want of evidence",
                         "properties": {"candidates": {"type": "integer"}, "dropped": {"type": "integer"}}},
            "rewritten_query": {**NULLABLE_STRING, "description": "what the semantic side read, when rewriting "
                                "(diacritics, capitals, abbreviations) changed what was typed"},
            "corrected_query": {**NULLABLE_STRING, "description": "the query with Telex or VNI keystrokes and "
                                "typos read back, when that changed it: what \"Có phải bạn muốn tìm\" offers"},
            "as_typed": {"type": "boolean"},
            "took_ms": {"type": "number"}, "index_version": NULLABLE_STRING,
            "date_intent": {"type": "object", "nullable": True, "required": ["from", "to"],
                            "properties": {"from": {"type": "string"}, "to": {"type": "string"}}},
            "restored_query": NULLABLE_STRING,
            "query_places": {"type": "array", "items": place,
                             "description": "places the query names: articles about them rank higher"},
            "facets": {"type": "object", "required": ["years", "places"], "properties": {
                "years": {"type": "object", "additionalProperties": {"type": "integer"}},
                "places": {"type": "array", "description": "places most results are about (filter with place=key)",
                           "items": {"allOf": [place, {"type": "object", "required": ["count"],
                                                       "properties": {"count": {"type": "integer"}}}]}}}},
            "results": {"type": "array", "items": hit},
        },
    }
    article = {"allOf": [{"$ref": "#/components/schemas/ArticleSummary"}, {
        "type": "object", "required": ["summary", "body", "author", "copies", "places"],
        "properties": {"summary": {"type": "string"}, "body": {"type": "string"}, "author": {"type": "string"},
                       "copies": copies,
                       "places": {"type": "array", "items": place,
                                  "description": "the places the article is about, broadest first"}}}]}
    similar = {"type": "object", "required": ["id", "results"], "properties": {
        "id": {"type": "integer"},
        "results": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/ArticleSummary"}, {
            "type": "object", "required": ["score"], "properties": {"score": {"type": "number"}}}]}}}}
    sources = {"type": "object", "required": ["sources"], "properties": {"sources": {"type": "array", "items": {
        "type": "object", "required": ["source", "title", "articles", "first", "last"],
        "properties": {"source": {"type": "string"}, "title": ARTICLE_SUMMARY["properties"]["source_title"],
                       "articles": {"type": "integer"},
                       "first": NULLABLE_STRING, "last": NULLABLE_STRING}}}}}
    suggestions = {"type": "object", "required": ["query", "suggestions"], "properties": {
        "query": {"type": "string"},
        "suggestions": {"type": "array", "description": "best first: the longest run of the query's last words "
                        "an entry continues, then the most articles", "items": {
            "type": "object", "required": ["text", "kind", "count", "query"],
            "properties": {
                "text": {"type": "string", "description": "what the list shows"},
                "kind": {"type": "string", "enum": ["phrase", "place", "source", "abbreviation"]},
                "count": {"type": "integer", "description": "articles that carry it"},
                "query": {"type": "string", "description": "the search box's text once it is chosen"},
                "place": {"type": "string", "description": "kind place: the filter it sets (place=key)"},
                "source": {"type": "string", "description": "kind source: the filter it sets (source=key)"},
                "abbreviation": {"type": "string", "description": "kind abbreviation: what is written short"}}}}}}
    health = {"type": "object", "required": ["status", "model", "index_version", "index_built_at"], "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]}, "model": {"type": "string"},
        "index_version": NULLABLE_STRING, "index_built_at": NULLABLE_STRING,
        "articles": {"type": "integer"}, "passages": {"type": "integer"}, "error": {"type": "string"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Vietnamese news-archive search", "version": "1.0.0",
                 "description": "Hybrid (BM25 + multilingual-e5) search over district news archives. Read-only."},
        "paths": {
            "/api/search": {"get": {"summary": "Search articles", "operationId": "search", "parameters": search_params,
                                    "responses": {"200": _json(search_response, "results"), **_errors(400, 503),
                                                  **NOT_MODIFIED}}},
            "/api/articles/{article_id}": {"get": {
                "summary": "One article", "operationId": "getArticle", "parameters": [_id_param()],
                "responses": {"200": _json(article, "the article"), **_errors(400, 404, 503), **NOT_MODIFIED}}},
            "/api/articles/{article_id}/similar": {"get": {
                "summary": "Related articles by vector similarity", "operationId": "similarArticles",
                "parameters": [_id_param(), {"name": "limit", "in": "query",
                                             "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5}}],
                "responses": {"200": _json(similar, "related articles"), **_errors(400, 404, 503),
                              **NOT_MODIFIED}}},
            "/api/suggest": {"get": {
                "summary": "Completions while typing: headline phrases, places of both eras, sources and "
                           "abbreviations, matched without diacritics on the query's last words",
                "operationId": "suggest", "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                     "description": "what the box holds so far"},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 8}}],
                "responses": {"200": _json(suggestions, "completions"), **_errors(400), **NOT_MODIFIED}}},
            "/api/sources": {"get": {"summary": "Sources in the archive", "operationId": "listSources",
                                     "responses": {"200": _json(sources, "sources, article counts, dates"),
                                                   **NOT_MODIFIED}}},
            "/api/health": {"get": {"summary": "Service health", "operationId": "health",
                                    "responses": {"200": _json(health, "serving"),
                                                  "503": _json(health, "not serving")}}},
        },
        "components": {"schemas": {"ArticleSummary": ARTICLE_SUMMARY, "Error": ERROR}},
    }
