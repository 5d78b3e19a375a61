"""HTML pages: the search page and the article page (Jinja, no JavaScript needed)."""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, redirect, render_template, request, url_for

from indexer.text import fold, has_diacritics
from service import engine
from service.params import BadRequest, link_args, parse_search_args, search_reading
from service.search import MODES, SORTS, article_view
from service.search.query import without_quotes

bp = Blueprint("pages", __name__)
# The candidate lists as a reader of "Vì sao kết quả này?" knows them.
LIST_NAMES = {"exact": "Khớp từ đúng dấu (đoạn)", "folded": "Khớp từ bỏ dấu (đoạn)",
              "article": "Khớp từ trong cả bài", "dense": "Gần nghĩa (vector)"}


@bp.get("/")
def search_page():
    if any(value == "" for value in request.args.values()):  # a submitted form's empty fields
        kept = {name: [v for v in values if v] for name, values in link_args(request.args).items()}
        return redirect(url_for("pages.search_page", **{name: values for name, values in kept.items() if values}), 303)
    sources = engine().sources()
    context = {"args": request.args, "sources": sources, "modes": MODES, "sorts": SORTS, "list_names": LIST_NAMES,
               "result": None, "error": None, "suggestions": []}
    status = 200
    if (request.args.get("q") or "").strip():
        try:
            query = replace(parse_search_args(request.args), explain=True)  # for "Vì sao kết quả này?"
            context["result"] = result = engine().search(query)
        except BadRequest as exc:
            context["error"], status = exc.vi, 400
        else:
            if not result.hits:
                context["suggestions"] = suggestions(result)
    return render_template("search.html", **context), status


def suggestions(result) -> list[tuple[str, str]]:
    """(label, query) pairs for an empty result: without quotes, without diacritics, without the period."""
    q = result.query.text
    out = []
    if result.parsed.phrases:
        out.append(("Bỏ ngoặc kép (không bắt buộc đúng cụm từ)", without_quotes(q)))
    if has_diacritics(q):
        out.append(("Tìm không dấu", fold(q)))
    if result.parsed.date_intent and result.parsed.date_intent.rest:
        out.append(("Bỏ năm/thời gian", result.parsed.date_intent.rest))
    return out


@bp.get("/articles/<int:article_id>")
def article_page(article_id: int):
    article = engine().article(article_id)
    if article is None:
        abort(404, description="Không tìm thấy bài viết này.")
    passage, (q, as_typed) = request.args.get("p", type=int), search_reading(request.args)
    marks = engine().parse(q, as_typed=as_typed).marks if q else None  # as the search read it
    view = article_view(article, engine().passage(passage) if passage is not None else None, marks)
    related = engine().similar(article_id, limit=5)
    return render_template("article.html", view=view, q=q, search=link_args(request.args),
                           related=related,
                           copies=engine().copies(article_id), places=engine().places(article_id))
