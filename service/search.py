"""The query path: understand the query, fetch lexical and dense candidates, fuse, group, snippet.

Everything here reads: the SQLite archive (read-only) and the published FAISS index version, which
is reloaded when the nightly job publishes a new one. A request keeps the index object it started
with, so a switch never disturbs requests in flight.
"""
from __future__ import annotations

import html
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from indexer import diacritics, store, vectors
from indexer import text as vtext
from indexer.config import Settings
from indexer.dates import DateIntent, query_date_intent
from indexer.embed import Embedder, get_embedder

MODES = ("hybrid", "semantic", "lexical")
SORTS = ("relevance", "date")
RRF_K = 60
DENSE_DEPTH = 100          # passages taken from FAISS before fusion
DENSE_DEPTH_FILTERED = 2000  # deeper when filters will discard many of them
LEXICAL_DEPTH = 300
DATE_INTENT_BOOST = 1.25   # articles inside a period named in the query
MAX_RESULTS = 1000
SNIPPET_WORDS = 45
_PHRASE = re.compile(r'["“”]([^"“”]+)["“”]')


@dataclass(frozen=True)
class Query:
    text: str
    page: int = 1
    per_page: int = 10
    filters: store.Filters = field(default_factory=store.Filters)
    sort: str = "relevance"
    mode: str = "hybrid"


@dataclass(frozen=True)
class ParsedQuery:
    """What the query means: words for matching, phrases, and a period if it names one."""

    normalized: str
    semantic_text: str
    terms: tuple[str, ...]     # folded words
    phrases: tuple[str, ...]   # folded phrases
    date_intent: DateIntent | None
    restored: str | None = None  # the query with diacritics restored, when typed without them

    def fts_match(self) -> str | None:
        parts = [f'"{p}"' for p in self.phrases]
        if self.terms:
            parts.append("(" + " OR ".join(f'"{t}"' for t in self.terms) + ")")
        return " AND ".join(parts) or None

    @property
    def exact(self) -> bool:
        """Typed with diacritics: highlight only words spelled that way (not "Tại" for "tai")."""
        return vtext.has_diacritics(self.normalized)

    @property
    def highlight_terms(self) -> set[str]:
        if self.exact:
            outside = _PHRASE.sub(" ", self.normalized)
            rest = self.date_intent.rest if self.date_intent else outside
            words = vtext.words(rest) + [w for p in _PHRASE.findall(self.normalized) for w in vtext.words(p)]
            return {vtext.canonical_word(w) for w in words}
        return set(self.terms) | {w for p in self.phrases for w in p.split()}


def parse_query(raw: str, restore_diacritics: Callable[[list[str]], list[str]] | None = None) -> ParsedQuery:
    """Split a query into terms, phrases and a period; restore diacritics for the dense side."""
    normalized = vtext.normalize(raw)
    phrases = tuple(vtext.fold(" ".join(vtext.words(p))) for p in _PHRASE.findall(normalized))
    phrases = tuple(p for p in phrases if p)
    outside = _PHRASE.sub(" ", normalized)
    intent = query_date_intent(outside)
    if intent and not intent.rest and not phrases:
        intent = DateIntent(intent.start, intent.end, outside)  # the query is only a date: search it too
    rest = intent.rest if intent else outside
    terms = tuple(dict.fromkeys(vtext.fold(w) for w in vtext.words(rest)))
    semantic = " ".join(filter(None, [rest.strip(), *(_PHRASE.findall(normalized))])).strip() or normalized
    restored = None
    if restore_diacritics and not vtext.has_diacritics(semantic) and vtext.words(semantic):
        restored = _restore_text(semantic, restore_diacritics)
        semantic = restored
    return ParsedQuery(normalized, semantic, terms, phrases, intent, restored)


def _restore_text(text: str, restore_words: Callable[[list[str]], list[str]]) -> str:
    """Replace each run of letters by its restored spelling, keeping digits and punctuation."""
    def run(match: re.Match) -> str:
        return " ".join(restore_words(match.group(0).split()))

    return re.sub(r"[^\W\d_]+(?:\s+[^\W\d_]+)*", run, text)


@dataclass
class Hit:
    article_id: int
    url: str
    title: str
    published_at: str | None
    source: str
    category: str
    score: float
    passage_id: int
    snippet: str  # HTML: escaped text with <mark> around matched words


@dataclass
class SearchResult:
    query: Query
    parsed: ParsedQuery
    total: int
    took_ms: float
    hits: list[Hit]
    years: dict[str, int]
    index_version: str | None


def highlight(text: str, terms: set[str], max_words: int | None = SNIPPET_WORDS, exact: bool = False) -> str:
    """Escaped text with matched words in <mark>; cut to the densest window of max_words.

    `terms` are canonical words when `exact`, folded words otherwise.
    """
    key = vtext.canonical_word if exact else vtext.fold_word
    tokens = list(re.finditer(r"\w+", text))
    hit_flags = [key(t.group(0)) in terms for t in tokens]
    start_char, end_char = 0, len(text)
    prefix = suffix = ""
    if max_words and len(tokens) > max_words:
        # The window of max_words tokens holding the most matches (prefix sums; first one wins).
        running = [0]
        for flag in hit_flags:
            running.append(running[-1] + flag)
        counts = [running[i + max_words] - running[i] for i in range(len(tokens) - max_words + 1)]
        best_start = counts.index(max(counts))
        start_char = tokens[best_start].start()
        end_char = tokens[min(best_start + max_words, len(tokens)) - 1].end()
        prefix = "… " if best_start > 0 else ""
        suffix = " …" if best_start + max_words < len(tokens) else ""
    out, cursor = [prefix], start_char
    for token, is_hit in zip(tokens, hit_flags):
        if token.start() < start_char or token.end() > end_char:
            continue
        out.append(html.escape(text[cursor:token.start()]))
        word = html.escape(token.group(0))
        out.append(f"<mark>{word}</mark>" if is_hit else word)
        cursor = token.end()
    out.append(html.escape(text[cursor:end_char]))
    out.append(suffix)
    return "".join(out).strip()


class IndexHolder:
    """The published index version, reloaded when CURRENT changes; a bad new version is refused."""

    def __init__(self, settings: Settings, model_id: str, dimension: int) -> None:
        self.root = settings.index_root
        self.model_id, self.dimension = model_id, dimension
        self.loaded: vectors.LoadedIndex | None = None
        self.error: str | None = None
        self._seen: str | None = None
        self._lock = threading.Lock()

    def get(self) -> vectors.LoadedIndex | None:
        name = vectors.current_version(self.root)
        if name != self._seen:
            with self._lock:
                if name != self._seen:
                    self._reload(name)
        return self.loaded

    def _reload(self, name: str | None) -> None:
        self._seen = name
        if not name:
            self.error = "no index has been published yet: run `python -m indexer build`"
            return
        try:
            self.loaded = vectors.load_version(self.root, name, self.model_id, self.dimension)
            self.error = None
        except vectors.IndexUnavailable as exc:
            kept = f"; still serving {self.loaded.version}" if self.loaded else ""
            self.error = f"{exc}{kept}"


class SearchEngine:
    """One per app: the embedder, the index holder and per-thread read-only connections."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.index = IndexHolder(settings, self.embedder.model_id, self.embedder.dimension)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = store.connect(self.settings.db_path, readonly=True)
            self._local.conn = conn
        return conn

    # --- retrieval -----------------------------------------------------------------------
    def _dense(self, parsed: ParsedQuery, filters: store.Filters,
               index: vectors.LoadedIndex | None) -> list[tuple[int, int]]:
        """(passage_id, article_id) by descending cosine, filters applied."""
        if index is None:
            return []
        depth = DENSE_DEPTH_FILTERED if filters.active else DENSE_DEPTH
        found = index.search(self.embedder.encode_query(parsed.semantic_text), depth)
        rows = store.passages_with_articles(self.connection(), [pid for pid, _ in found], filters)
        return [(pid, rows[pid]["article_id"]) for pid, _ in found if pid in rows]

    def _lexical(self, parsed: ParsedQuery, filters: store.Filters) -> list[tuple[int, int]]:
        match = parsed.fts_match()
        if not match:
            return []
        found = store.lexical_candidates(self.connection(), match, filters, LEXICAL_DEPTH)
        return [(pid, aid) for pid, aid, _ in found]

    @staticmethod
    def _fuse(rankings: list[list[tuple[int, int]]]) -> dict[int, tuple[float, int]]:
        """Reciprocal-rank fusion at article level: article → (score, best passage)."""
        fused: dict[int, list] = {}
        for ranking in rankings:
            seen: set[int] = set()
            for pid, aid in ranking:
                if aid in seen:
                    continue
                seen.add(aid)
                rank = len(seen)
                entry = fused.setdefault(aid, [0.0, pid, rank])
                entry[0] += 1.0 / (RRF_K + rank)
                if rank < entry[2]:
                    entry[1], entry[2] = pid, rank
        return {aid: (score, pid) for aid, (score, pid, _) in fused.items()}

    def restore_diacritics(self, words: list[str]) -> list[str]:
        conn = self.connection()
        return diacritics.restore(
            words, lambda f: store.vocabulary_forms(conn, "vocab_unigrams", f),
            lambda f: store.vocabulary_forms(conn, "vocab_bigrams", f))

    def search_parse(self, text: str) -> ParsedQuery:
        return parse_query(text, self.restore_diacritics)

    def search(self, query: Query) -> SearchResult:
        started = time.perf_counter()
        parsed = self.search_parse(query.text)
        index = self.index.get()
        rankings = []
        if query.mode in ("hybrid", "lexical"):
            rankings.append(self._lexical(parsed, query.filters))
        if query.mode in ("hybrid", "semantic"):
            rankings.append(self._dense(parsed, query.filters, index))
        fused = self._fuse(rankings)
        conn = self.connection()
        articles = store.get_articles(conn, fused)
        if parsed.date_intent:
            first, last = parsed.date_intent.start.isoformat(), parsed.date_intent.end.isoformat()
            for aid, (score, pid) in fused.items():
                day = articles[aid]["published_day"]
                if day and first <= day <= last:
                    fused[aid] = (score * DATE_INTENT_BOOST, pid)
        order = sorted(fused, key=lambda aid: (-fused[aid][0], aid))[:MAX_RESULTS]
        if query.sort == "date":
            order.sort(key=lambda aid: articles[aid]["published_at"] or "", reverse=True)
        begin = (query.page - 1) * query.per_page
        page_ids = order[begin:begin + query.per_page]
        passages = store.get_passages(conn, [fused[aid][1] for aid in page_ids])
        terms, exact = parsed.highlight_terms, parsed.exact
        hits = []
        for aid in page_ids:
            a, (score, pid) = articles[aid], fused[aid]
            hits.append(Hit(aid, a["url"], a["title"], a["published_at"], a["source"], a["category"],
                            round(score, 6), pid, highlight(passages[pid]["text"], terms, exact=exact)))
        years = store.year_counts(conn, order)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, parsed, len(order), round(took, 2), hits, years,
                            index.version if index else None)

    # --- articles ------------------------------------------------------------------------
    def article(self, article_id: int) -> sqlite3.Row | None:
        return store.get_article(self.connection(), article_id)

    def health(self) -> dict:
        index = self.index.get()
        info = {"status": "ok", "model": self.embedder.model_id,
                "index_version": index.version if index else None,
                "index_built_at": index.manifest.get("created_at") if index else None}
        try:
            info.update(store.count_rows(self.connection()))
        except (sqlite3.Error, FileNotFoundError) as exc:
            info.update(status="unavailable", error=f"archive: {exc}")
            return info
        if self.index.error:
            info.update(status="degraded" if index else "unavailable", error=self.index.error)
        return info


@dataclass
class ArticleView:
    article: sqlite3.Row
    paragraphs: list[tuple[str, bool]]  # (HTML, overlaps the matched passage)


def article_view(engine: SearchEngine, article_id: int, query_text: str = "",
                 passage_id: int | None = None) -> ArticleView | None:
    """The article's text as paragraphs, query words marked and the matched passage flagged."""
    row = engine.article(article_id)
    if row is None:
        return None
    parsed = parse_query(query_text) if query_text.strip() else None
    terms = parsed.highlight_terms if parsed else set()
    span = None
    if passage_id is not None:
        passage = store.get_passages(engine.connection(), [passage_id]).get(passage_id)
        if passage is not None and passage["article_id"] == article_id:
            span = (passage["start"], passage["end"])
    doc = vtext.document_text(row["summary"], row["body"])
    paragraphs, offset = [], 0
    for part in doc.split("\n\n"):
        start = doc.index(part, offset)
        end = offset = start + len(part)
        in_match = bool(span and start < span[1] and end > span[0])
        paragraphs.append((highlight(part, terms, max_words=None, exact=bool(parsed and parsed.exact)), in_match))
    return ArticleView(row, paragraphs)
