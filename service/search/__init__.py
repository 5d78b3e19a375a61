"""The read path: a query in, ranked articles with snippets out.

    query.py         what a search asks and what its text means
    candidates.py    every candidate list (tantivy: exact and folded passages, whole articles; FAISS)
    rank.py          RankingParams (every tuned number), the plan of a search, fusion, the word-order
                     stage, the period and place boosts, where the result set ends (the boundary), the
                     order: importable without any index library
    snippets.py      highlighted snippets and the article page's paragraphs
    index_holder.py  the published index version a worker serves
    engine.py        SearchEngine: the facade the Flask views call

The names below are imported from their modules at their first use, so that importing one module
of the package (rank, query) does not load the engine, FAISS and tantivy with it.
"""
from __future__ import annotations

from importlib import import_module

_WHERE = {"Hit": "engine", "SearchEngine": "engine", "SearchResult": "engine", "IndexHolder": "index_holder",
          "MODES": "query", "SORTS": "query", "ParsedQuery": "query", "Query": "query", "parse_query": "query",
          "MAX_RESULTS": "rank", "Evidence": "rank", "Explanation": "rank",
          "ArticleView": "snippets", "article_view": "snippets", "highlight": "snippets"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
