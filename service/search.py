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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import accumulate
from operator import sub

import numpy as np

from indexer import abbreviations, diacritics, store, vectors
from indexer import text as vtext
from indexer.config import Settings
from indexer.dates import DateIntent, query_date_intent
from indexer.embed import Embedder, get_embedder

MODES = ("hybrid", "semantic", "lexical")
SORTS = ("relevance", "date")
# Fusion weights of the min-max normalised scores, tuned on eval-dev (bench/quality.py): exact
# (diacritics kept) passage matches, folded passage matches (standing in when there is no exact
# word to match), folded whole-article BM25, and dense similarity.
WEIGHTS = {"exact": 0.15, "lexical": 0.0, "article": 0.2, "dense": 0.65}
DENSE_DEPTH = 300          # passages taken from FAISS before fusion
DENSE_DEPTH_FILTERED = 2000  # deeper when filters will discard many of them
LEXICAL_DEPTH = 300
COMMON_FRACTION = 0.5      # words in more texts than this share are left out of lexical matching
# In hybrid search the lexical lists catch rare exact words (names, places, numbers) and dense
# similarity does the rest, so only the rarest words are matched: it bounds FTS5's cost.
HYBRID_MATCH_WORDS = 6
DATE_INTENT_BOOST = 1.25   # articles inside a period named in the query
# Second stage, lexical and hybrid: the fused top PAIR_DEPTH articles gain PAIR_WEIGHT times the
# share of the query's adjacent word pairs that their text holds in the same order (tuned on eval-dev).
PAIR_WEIGHT = 1.0
PAIR_DEPTH = 20
MAX_RESULTS = 1000
SNIPPET_WORDS = 45
_PHRASE = re.compile(r'["“”]([^"“”]+)["“”]')
_TOKEN = re.compile(r"(\w+)")


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
    alternatives: tuple[str, ...] = ()  # folded phrases an abbreviation in the query stands for, or back
    exact_words: tuple[str, ...] = ()    # canonical words with diacritics, typed or restored
    exact_phrases: tuple[str, ...] = ()

    def fts_match_exact(self) -> str | None:
        if not self.exact_words and not self.exact_phrases:
            return None
        parts = [f'"{p}"' for p in self.exact_phrases]
        if self.exact_words:
            parts.append("(" + " OR ".join(f'"{w}"' for w in self.exact_words) + ")")
        return " AND ".join(parts)

    def fts_match(self) -> str | None:
        parts = [f'"{p}"' for p in self.phrases]
        if self.terms:
            options = [f'"{t}"' for t in self.terms] + [f'"{a}"' for a in self.alternatives]
            parts.append("(" + " OR ".join(options) + ")")
        return " AND ".join(parts) or None

    def without(self, common: tuple[set[str], set[str]]) -> ParsedQuery:
        """The query for matching, these (folded, exact) words left out of its OR lists; phrases
        keep them."""
        folded, exact = common
        return replace(self, terms=tuple(t for t in self.terms if t not in folded),
                       exact_words=tuple(w for w in self.exact_words if w not in exact))

    @cached_property
    def exact(self) -> bool:
        """Typed with diacritics: highlight only words spelled that way (not "Tại" for "tai")."""
        return vtext.has_diacritics(self.normalized)

    @property
    def word_form(self) -> Callable[[str], str]:
        """How a word is compared: spelled as typed (canonical tones) or folded."""
        return vtext.canonical_word if self.exact else vtext.fold_word

    @cached_property
    def word_pairs(self) -> set[tuple[str, str]]:
        form = self.word_form
        return vtext.word_pairs([form(w) for w in vtext.words(self.normalized)])

    @property
    def highlight_terms(self) -> set[str]:
        """Canonical words with diacritics when the query has them, folded words otherwise."""
        if self.exact:
            return set(self.exact_words) | {w for p in self.exact_phrases for w in p.split()}
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
    exact_source = rest if vtext.has_diacritics(normalized) else (restored or "")
    exact_words = tuple(dict.fromkeys(vtext.canonical_word(w) for w in vtext.words(exact_source)))
    exact_phrases = tuple(" ".join(vtext.canonical_word(w) for w in vtext.words(p))
                          for p in _PHRASE.findall(normalized)) if vtext.has_diacritics(normalized) else ()
    found = abbreviations.alternatives(list(terms))
    alternatives = tuple(dict.fromkeys(" ".join(a) for _, options in found for a in options))
    readings = [r for span, _ in found for r in abbreviations.spelled_out(" ".join(span))]
    if readings:  # the model reads "ủy ban nhân dân" better than "UBND"
        semantic = f"{semantic} ({', '.join(readings)})"
    return ParsedQuery(normalized, semantic, terms, phrases, intent, restored, alternatives,
                       exact_words, tuple(p for p in exact_phrases if p))


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

    `terms` are canonical words when `exact`, folded words otherwise. Ten of these run for every
    result page, after the query vector: hence one split and no match objects.
    """
    key = vtext.canonical_word if exact else vtext.fold_word
    parts = _TOKEN.split(text)  # separators at even positions, words at odd ones
    hits = [i for i, form in enumerate(map(key, parts[1::2])) if form in terms]
    count = len(parts) // 2
    first, last, lo, hi = 0, count, 0, len(parts)  # the window: in words, and in parts
    prefix = suffix = ""
    if max_words and count > max_words:
        # The window of max_words words holding the most matches (prefix sums; first one wins).
        flags = [0] * count
        for i in hits:
            flags[i] = 1
        running = [0, *accumulate(flags)]
        matches = list(map(sub, running[max_words:], running))
        first = matches.index(max(matches))
        last = first + max_words
        lo, hi = 2 * first + 1, 2 * last
        prefix = "… " if first > 0 else ""
        suffix = " …" if last < count else ""
    out, cursor = [prefix], lo
    for i in hits:
        if first <= i < last:
            at = 2 * i + 1
            out.append(html.escape("".join(parts[cursor:at])))
            out.append(f"<mark>{parts[at]}</mark>")  # a word: nothing in it to escape
            cursor = at + 1
    out.append(html.escape("".join(parts[cursor:hi])))
    out.append(suffix)
    return "".join(out).strip()


def _best(fused: dict[int, tuple[float, int]], n: int) -> list[int]:
    """The n best-scored articles; ties by id, so a ranking is stable."""
    negated = {aid: -score for aid, (score, _) in fused.items()}
    return sorted(sorted(fused), key=negated.__getitem__)[:n]  # stable: by id within a score


class IndexHolder:
    """The published index version, reloaded when CURRENT changes; a bad new version is refused.

    `_seen` names the version the holder has finished trying, and is written only after `loaded`:
    a thread that finds CURRENT equal to it may use `loaded` without the lock.
    """

    def __init__(self, settings: Settings, model_id: str, dimension: int) -> None:
        self.root, self.search_params = settings.index_root, settings.index_search_params
        self.model_id, self.dimension = model_id, dimension
        self.loaded: vectors.LoadedIndex | None = None
        self.error: str | None = None
        self._seen: str | None = None
        self._lock = threading.Lock()

    def get(self) -> vectors.LoadedIndex | None:
        """The version to answer with; None only while nothing has ever been published.

        A worker that serves a version keeps answering with it while one thread loads the next; a
        worker with nothing loaded yet (just started or recycled) waits for its first load. Raises
        IndexUnavailable when a version is published but none can be served.
        """
        name = vectors.current_version(self.root)
        if name != self._seen and self._lock.acquire(blocking=self.loaded is None):
            try:
                if name != self._seen:
                    self._reload(name)
            finally:
                self._lock.release()
        if self.loaded is None and name:
            raise vectors.IndexUnavailable(self.error or f"index {name} is not loaded yet")
        return self.loaded

    def _reload(self, name: str | None) -> None:
        if not name:
            self.error = "no index has been published yet: run `python -m indexer build`"
        else:
            try:
                self.loaded = vectors.load_version(self.root, name, self.model_id, self.dimension,
                                                   search_params=self.search_params)
                self.error = None
            except vectors.IndexUnavailable as exc:
                if self.loaded is None:  # at start-up: the newest older version that passes its checks
                    self.loaded = self._last_good(exclude=name)
                kept = (f"; serving {self.loaded.version} instead" if self.loaded
                        else "; no version can be served: run `python -m indexer build`")
                self.error = f"{exc}{kept}"
        self._seen = name

    def _last_good(self, exclude: str) -> vectors.LoadedIndex | None:
        folder = vectors.versions_dir(self.root)
        names = sorted((p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       reverse=True) if folder.exists() else []
        for name in names:
            if name == exclude:
                continue
            try:
                return vectors.load_version(self.root, name, self.model_id, self.dimension,
                                            search_params=self.search_params)
            except vectors.IndexUnavailable:
                continue
        return None


class SearchEngine:
    """One per app: the embedder, the index holder and per-thread read-only connections."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.index = IndexHolder(settings, self.embedder.model_id, self.embedder.dimension)
        self._local = threading.local()
        self._text_count: tuple[str | None, int] = (None, 0)  # (index version, vocabulary texts)

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = store.connect(self.settings.db_path, readonly=True)
            store.check_schema(conn)
            self._local.conn = conn
        return conn

    # --- retrieval -----------------------------------------------------------------------
    def _dense(self, query_vector: np.ndarray, filters: store.Filters,
               index: vectors.LoadedIndex) -> list[tuple[int, int, float]]:
        """(passage_id, article_id, cosine) by descending cosine, filters applied."""
        depth = DENSE_DEPTH_FILTERED if filters.active else DENSE_DEPTH
        found = index.search(query_vector, depth)
        rows = store.passages_with_articles(self.connection(), [pid for pid, _ in found], filters)
        return [(pid, rows[pid]["article_id"], score) for pid, score in found if pid in rows]

    def _lexical(self, match: str | None, filters: store.Filters, exact: bool) -> list[tuple[int, int, float]]:
        if not match:
            return []
        return store.lexical_candidates(self.connection(), match, filters, LEXICAL_DEPTH, exact=exact)

    @staticmethod
    def _fuse(rankings: list[tuple[float, list[tuple[int, int, float]]]]) -> dict[int, tuple[float, int]]:
        """Weighted sum of min-max normalised scores, per article: article → (score, passage).

        Each ranking counts an article once, by its best passage. The passage shown is the one
        from the first ranking that has the article: passage-level lexical rankings come first
        (their passage holds the query's words), then dense (the passage nearest in meaning),
        then whole-article matches (which can only point at the article's first passage).
        """
        fused: dict[int, tuple[float, int]] = {}
        for weight, ranking in rankings:
            # Rankings come best first: built from the end, each article keeps its first passage.
            best = {aid: (score, pid) for pid, aid, score in reversed(ranking)}
            if not best:
                continue
            scores = [score for score, _ in best.values()]
            low, span = min(scores), max(scores) - min(scores)
            for aid, (score, pid) in best.items():
                norm = (score - low) / span if span else 1.0
                total, passage = fused.get(aid, (0.0, pid))
                fused[aid] = (total + weight * norm, passage)
        return fused

    def common_words(self, parsed: ParsedQuery, version: str | None,
                     keep: int | None = None) -> tuple[set[str], set[str]]:
        """(folded, exact) query words to leave out of the OR lists: those in more than
        COMMON_FRACTION of the texts and, with `keep`, all but the `keep` rarest.

        FTS5's BM25 gives a word in over half the rows an idf of ~0, yet its posting list is most
        of an OR query's cost (seconds at a million passages). Frequencies come from the
        vocabulary (a B-tree lookup; FTS5's own document counts would read the posting lists).
        When every word is that common, the rule leaves none out.
        """
        conn = self.connection()
        if self._text_count[0] != version or version is None:
            self._text_count = (version, store.vocabulary_text_count(conn))
        counts = store.text_frequencies(conn, [*parsed.terms, *map(vtext.fold_word, parsed.exact_words)])
        limit = COMMON_FRACTION * self._text_count[1]

        def left_out(words: tuple[str, ...], frequency: Callable[[str], int]) -> set[str]:
            found = {w for w in words if frequency(w) > limit}
            if len(found) == len(words):
                found = set()
            if keep is not None:
                found |= set(sorted(words, key=frequency)[keep:])
            return found

        return (left_out(parsed.terms, lambda w: sum(counts[w].values())),
                left_out(parsed.exact_words, lambda w: counts[vtext.fold_word(w)].get(w, 0)))

    def rankings(self, parsed: ParsedQuery, mode: str, filters: store.Filters,
                 index: vectors.LoadedIndex | None,
                 meanwhile: Callable[[dict[int, tuple[float, int]]], None] | None = None,
                 ) -> list[tuple[float, list[tuple[int, int, float]]]]:
        """The weighted candidate lists a mode fuses; an empty exact list lends its weight to folded.

        The query vector is computed in the embedder's thread while SQLite answers the lexical side;
        if it is still not ready, `meanwhile` gets the lexical lists fused, to fetch what it can.
        """
        pending = self.embedder.query_future(parsed.semantic_text) \
            if mode in ("hybrid", "semantic") and index is not None else None
        out = []
        if mode in ("hybrid", "lexical"):
            keep = HYBRID_MATCH_WORDS if mode == "hybrid" else None
            matching = parsed.without(self.common_words(parsed, index.version if index else None, keep))
            match = matching.fts_match()
            exact = self._lexical(matching.fts_match_exact(), filters, exact=True)
            exact_weight = WEIGHTS["exact"] if exact else 0.0
            folded_weight = WEIGHTS["lexical"] + WEIGHTS["exact"] - exact_weight
            # A list without weight would only add articles at score 0: not worth an FTS5 query.
            folded = self._lexical(match, filters, exact=False) if folded_weight else []
            out += [(exact_weight, exact), (folded_weight, folded)]
            articles = store.article_candidates(self.connection(), match, filters, LEXICAL_DEPTH) if match else []
        if pending is not None:
            if meanwhile is not None and out and not pending.done():
                meanwhile(self._fuse(out))
            out.append((WEIGHTS["dense"], self._dense(pending.result(), filters, index)))
        if mode in ("hybrid", "lexical"):
            out.append((WEIGHTS["article"], articles))
        return out

    def _pair_shares(self, parsed: ParsedQuery, article_ids: list[int], max_passage_id: int | None,
                     known: dict[int, float]) -> None:
        """Add to `known` the share of the query's word pairs that each of these articles holds
        in the same order, for those it lacks.

        Both first-stage lexical lists score syllables as a bag, so "thành phố Philippines" and an
        article that merely has "phố" and "thành" score alike; this is the phrase evidence they miss.
        """
        pairs = [f" {first} {second} " for first, second in parsed.word_pairs]
        missing = [aid for aid in article_ids if aid not in known]
        if not pairs or not missing:
            return
        texts = store.article_word_texts(self.connection(), missing, parsed.exact, max_passage_id)
        for aid in missing:
            text = texts.get(aid, "")
            known[aid] = sum(pair in text for pair in pairs) / len(pairs)

    def _reward_word_pairs(self, parsed: ParsedQuery, fused: dict[int, tuple[float, int]],
                           max_passage_id: int | None, known: dict[int, float]) -> None:
        """Second stage: the top PAIR_DEPTH articles gain PAIR_WEIGHT × their word-pair share."""
        if not parsed.word_pairs:
            return
        top = _best(fused, PAIR_DEPTH)
        self._pair_shares(parsed, top, max_passage_id, known)
        for aid in top:
            score, passage = fused[aid]
            fused[aid] = (score + PAIR_WEIGHT * known[aid], passage)

    def restore_diacritics(self, words: list[str]) -> list[str]:
        conn = self.connection()
        return diacritics.restore(
            words, lambda f: store.vocabulary_forms(conn, "vocab_unigrams", f),
            lambda f: store.vocabulary_forms(conn, "vocab_bigrams", f))

    def search_parse(self, text: str) -> ParsedQuery:
        return parse_query(text, self.restore_diacritics)

    def rank(self, query: Query) -> tuple[ParsedQuery, list[int], dict[int, tuple[float, int]],
                                          dict[int, tuple[str | None, str | None]], vectors.LoadedIndex | None]:
        """Every matching article in result order, before paging and snippets; with the
        (published_at, published_day) of each, for the years facet."""
        parsed = self.search_parse(query.text)
        index = self.index.get()
        filters = query.filters
        if index is not None and index.manifest.get("max_passage_id") is not None:
            filters = replace(filters, max_passage_id=index.manifest["max_passage_id"])
        conn, dates, pair_shares = self.connection(), {}, {}

        def meanwhile(lexical: dict[int, tuple[float, int]]) -> None:
            """What needs no query vector, done while the vector is computed."""
            dates.update(store.article_dates(conn, lexical))
            self._pair_shares(parsed, _best(lexical, PAIR_DEPTH), filters.max_passage_id, pair_shares)

        fused = self._fuse(self.rankings(parsed, query.mode, filters, index, meanwhile))
        if query.mode != "semantic":
            self._reward_word_pairs(parsed, fused, filters.max_passage_id, pair_shares)
        dates.update(store.article_dates(conn, [aid for aid in fused if aid not in dates]))
        if parsed.date_intent:
            first, last = parsed.date_intent.start.isoformat(), parsed.date_intent.end.isoformat()
            for aid, (score, pid) in fused.items():
                day = dates[aid][1]
                if day and first <= day <= last:
                    fused[aid] = (score * DATE_INTENT_BOOST, pid)
        order = _best(fused, MAX_RESULTS)
        if query.sort == "date":
            order.sort(key=lambda aid: dates[aid][0] or "", reverse=True)
        return parsed, order, fused, dates, index

    def search(self, query: Query) -> SearchResult:
        started = time.perf_counter()
        parsed, order, fused, dates, index = self.rank(query)
        conn = self.connection()
        begin = (query.page - 1) * query.per_page
        page_ids = order[begin:begin + query.per_page]
        articles = store.get_articles(conn, page_ids)
        passages = store.get_passages(conn, [fused[aid][1] for aid in page_ids])
        terms, exact = parsed.highlight_terms, parsed.exact
        hits = []
        for aid in page_ids:
            a, (score, pid) = articles[aid], fused[aid]
            hits.append(Hit(aid, a["url"], a["title"], a["published_at"], a["source"], a["category"],
                            round(score, 6), pid, highlight(passages[pid]["text"], terms, exact=exact)))
        years = dict(sorted(Counter(dates[aid][1][:4] for aid in order if dates[aid][1]).items()))
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, parsed, len(order), round(took, 2), hits, years,
                            index.version if index else None)

    # --- articles ------------------------------------------------------------------------
    def article(self, article_id: int) -> sqlite3.Row | None:
        return store.get_article(self.connection(), article_id)

    def similar(self, article_id: int, limit: int = 5) -> list[tuple[sqlite3.Row, float]]:
        """Articles nearest to this one: the mean of its passage vectors against every passage."""
        index = self.index.get()
        conn = self.connection()
        if index is None:
            return []
        found = [v for v in (index.reconstruct(pid) for pid in store.article_passage_ids(conn, article_id))
                 if v is not None]
        if not found:
            return []
        centre = np.mean(found, axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        ranked: dict[int, float] = {}
        hits = index.search(centre.astype(np.float32), (limit + 1) * 8)
        rows = store.passages_with_articles(conn, [pid for pid, _ in hits])
        for pid, score in hits:
            aid = rows[pid]["article_id"] if pid in rows else None
            if aid is not None and aid != article_id and aid not in ranked:
                ranked[aid] = score
        top = list(ranked.items())[:limit]
        articles = store.get_articles(conn, [aid for aid, _ in top])
        return [(articles[aid], round(score, 4)) for aid, score in top if aid in articles]

    def sources(self) -> list[dict]:
        return store.list_sources(self.connection())

    def health(self) -> dict:
        try:
            index = self.index.get()
        except vectors.IndexUnavailable:
            index = None
        info = {"status": "ok", "model": self.embedder.model_id,
                "index_version": index.version if index else None,
                "index_built_at": index.manifest.get("created_at") if index else None}
        try:
            info.update(store.count_rows(self.connection()))
        except (sqlite3.Error, FileNotFoundError, store.ArchiveOutdated) as exc:
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
