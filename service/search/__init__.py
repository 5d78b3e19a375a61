"""The read path: a query in, ranked articles with snippets out.

    query.py         what a search asks and what its text means
    candidates.py    every candidate list (FTS5 exact and folded passages, whole articles, FAISS)
    rank.py          the tuned constants, fusion, the word-order stage, the period and place boosts, where
                     the result set ends (the boundary), the order
    snippets.py      highlighted snippets and the article page's paragraphs
    index_holder.py  the published index version a worker serves
    engine.py        SearchEngine: the facade the Flask views call
"""
from service.search.engine import Hit, SearchEngine, SearchResult
from service.search.index_holder import IndexHolder
from service.search.query import MODES, SORTS, ParsedQuery, Query, parse_query
from service.search.rank import MAX_RESULTS, Evidence, Explanation
from service.search.snippets import ArticleView, article_view, highlight

__all__ = ["MAX_RESULTS", "MODES", "SORTS", "ArticleView", "Evidence", "Explanation", "Hit", "IndexHolder",
           "ParsedQuery", "Query", "SearchEngine", "SearchResult", "article_view", "highlight", "parse_query"]
