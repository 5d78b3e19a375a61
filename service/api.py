"""/api/*: JSON in, JSON out. Each view validates, calls one engine function, serialises."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from indexer import places
from indexer.suggest import SEARCHED_AS_TEXT, Suggestion
from indexer.version.reader import SUMMARY_FIELDS
from service import engine
from service.params import MAX_QUERY_CHARS, BadRequest, check_text, parse_search_args, whole_number
from service.search import Evidence, Explanation, SearchResult

bp = Blueprint("api", __name__, url_prefix="/api")


ARTICLE_TEXT = ("summary", "body", "author")  # what an article adds to its summary


def article_json(row: dict) -> dict:
    return {key: row[key] for key in (*SUMMARY_FIELDS, *ARTICLE_TEXT)}


def search_json(result: SearchResult) -> dict:
    q = result.query
    return {
        "query": q.text,
        "mode": q.mode,
        "sort": q.sort,
        "page": q.page,
        "per_page": q.per_page,
        "total": result.total,
        "total_relation": result.total_relation,
        "total_pages": -(-result.total // q.per_page),
        "boundary": {"candidates": result.candidates, "dropped": result.dropped},
        "took_ms": result.took_ms,
        "index_version": result.index_version,
        "date_intent": ({"from": result.parsed.date_intent.start.isoformat(),
                         "to": result.parsed.date_intent.end.isoformat()}
                        if result.parsed.date_intent else None),
        "restored_query": result.parsed.restored,
        "rewritten_query": result.parsed.rewritten,
        "corrected_query": result.parsed.corrected,
        "as_typed": q.as_typed,
        "query_places": [{"key": key, "label": places.label(key)} for key in result.parsed.places],
        "facets": {"years": result.years, "places": result.places},
        "results": [{
            **h.json(), "score": h.score, "passage_id": h.passage_id, "snippet": h.snippet,
            "copies": [copy.json() for copy in h.copies],
            **({"explain": explanation_json(h.explanation)} if h.explanation else {}),
        } for h in result.hits],
    }


def explanation_json(note: Explanation) -> dict:
    """final = (sum of the lists' contributions + word_order.bonus) × period_factor × place_factor."""
    return {
        "lists": [{"name": s.name, "rank": s.rank, "score": round(s.raw, 6), "normalised": round(s.normalised, 6),
                   "weight": s.weight, "contribution": round(s.contribution, 6)} for s in note.lists],
        "word_order": ({"share": round(note.word_order_share, 6), "bonus": round(note.word_order_bonus, 6)}
                       if note.word_order_share is not None else None),
        "period_factor": note.period_factor,
        "place_factor": note.place_factor,
        "final": round(note.final, 6),
        "evidence": evidence_json(note.evidence) if note.evidence else None,
    }


def evidence_json(note: Evidence) -> dict:
    """Why the article is a result: `admitted_by` "words" (it holds `held` of the `asked` query words
    or word pairs, and every quoted phrase, scoring `relative` of the best; for a topic's words in a
    row, `about` against `about_floor`, from their `runs`) or "meaning" (its best passage `z`
    standard deviations above the query's background)."""
    runs = note.runs
    return {"admitted_by": note.admitted_by, "held": note.held, "asked": note.asked, "phrases": note.phrases,
            "z": round(note.z, 3) if note.z is not None else None, "relative": round(note.relative, 4),
            "about": round(note.about, 3) if note.about is not None else None, "about_floor": note.about_floor,
            "runs": {"count": runs.count, "before": runs.before, "length": runs.length} if runs else None}


@bp.get("/search")
def search():
    query = parse_search_args(request.args)
    return jsonify(search_json(engine().search(query)))


@bp.get("/articles/<int:article_id>")
def article(article_id: int):
    row = engine().article(article_id)
    if row is None:
        abort(404, description=f"no article with id {article_id}")
    return jsonify({**article_json(row), "copies": [copy.json() for copy in engine().copies(article_id)],
                    "places": engine().places(article_id)})


@bp.get("/articles/<int:article_id>/similar")
def similar(article_id: int):
    limit = whole_number(request.args.get("limit"), "limit", 5, 1, 20)
    if engine().article(article_id) is None:
        abort(404, description=f"no article with id {article_id}")
    return jsonify({"id": article_id, "results": [
        {**row.json(), "score": score} for row, score in engine().similar(article_id, limit)]})


@bp.get("/articles/<raw>")
@bp.get("/articles/<raw>/similar")
def malformed_id(raw: str):
    """An article id that is no whole number: the parameter named, not a bare 404."""
    raise BadRequest(f"'article_id' must be a whole number, not {raw!r}", "article_id")


@bp.get("/suggest")
def suggest():
    """Completions of the search box's text as it is typed (the combobox on the page asks)."""
    typed = check_text(request.args.get("q") or "", "q", MAX_QUERY_CHARS)
    limit = whole_number(request.args.get("limit"), "limit", 8, 1, 20)
    return jsonify({"query": typed, "suggestions": [suggestion_json(head, found)
                                                    for head, found in engine().suggest(typed, limit)]})


def suggestion_json(head: str, found: Suggestion) -> dict:
    """`query` is what the search box holds once it is chosen; a place or a source is chosen as
    its filter (`place`, `source`), the words typed before it staying the query."""
    if found.kind in SEARCHED_AS_TEXT:
        item = {"query": f"{head} {found.text}".strip()}
        if found.kind == "abbreviation":
            item["abbreviation"] = found.ref
    else:
        item = {"query": head, found.kind: found.ref}
    return {"text": found.text, "kind": found.kind, "count": found.count, **item}


@bp.get("/sources")
def sources():
    return jsonify({"sources": engine().sources()})


@bp.get("/openapi.json")
def openapi():
    from service.openapi import document

    return jsonify(document())


@bp.get("/health")
def health():
    info = engine().health()
    return jsonify(info), (503 if info["status"] == "unavailable" else 200)
