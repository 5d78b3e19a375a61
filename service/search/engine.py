"""The search engine a Flask app holds: search, similar articles, the article page's rows, health.

It owns the embedder and the index holder, and runs the query path step by step: parse, candidate
lists, fuse, second stage, order, page, snippets. Everything it reads is the served version's
(vocabulary, indexes, stored articles): it never opens the SQLite archive, so a replica holding
only published versions answers as the primary does. The query vector is computed in the
embedder's thread while the lexical lists are searched; if it is still not ready then, the
lexical leaders' dates and word-pair shares are read meanwhile. A request keeps the index
version it started with, so a switch never disturbs it.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np

from indexer import diacritics, duplicates, input_methods, places, suggest
from indexer import text as vtext
from indexer.config import Settings
from indexer.embed import Embedder, get_embedder
from indexer.models import Filters
from indexer.version import layout, reader
from indexer.version.reader import ArticleSummary
from service.search import candidates, rank
from service.search.index_holder import IndexHolder
from service.search.query import ParsedQuery, Query, WordRestorer, parse_query
from service.search.snippets import highlight

PLACE_FACET_SIZE = 12  # places listed beside the results


@dataclass(frozen=True)
class Hit(ArticleSummary):
    """A result: the article as lists show it, and what the search found in it."""

    score: float
    passage_id: int
    snippet: str  # HTML: escaped text with <mark> around matched words
    explanation: rank.Explanation | None = None  # with Query.explain: why it scored what it did
    copies: list[ArticleSummary] = field(default_factory=list)  # the same story published elsewhere, oldest first


@dataclass
class SearchResult:
    query: Query
    parsed: ParsedQuery
    total: int
    took_ms: float
    hits: list[Hit]
    years: dict[str, int]
    index_version: str | None
    places: list[dict] = field(default_factory=list)  # facet: {key, label, count}, most articles first
    total_relation: str = "eq"  # "gte": more articles than `total` may match (Elasticsearch's word)
    candidates: int = 0  # articles the candidate lists found
    dropped: int = 0     # of those, how many the boundary left out (no evidence they are about the query)


def _groups(index: reader.ServedVersion | None) -> duplicates.Groups:
    """The near-duplicate groups a served version was built with (none without a version)."""
    return index.groups if index is not None else duplicates.Groups()


WARM_QUERY = "tin tức mới nhất"  # any words: what matters is that every stage runs once


class SearchEngine:
    """One per app: the embedder and the index holder."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 params: rank.RankingParams = rank.DEFAULT) -> None:
        self.settings = settings
        self.params = params  # every tuned number of the ranking (a benchmark runs with others)
        self.embedder = embedder or get_embedder(settings)
        self.index = IndexHolder(settings, self.embedder.model_id, self.embedder.dimension)
        self._backgrounds: dict[tuple[str, int], np.ndarray] = {}  # (version, sample size) → the sample

    # --- the query path -------------------------------------------------------------------
    def parse(self, text: str, index: reader.ServedVersion | None = None, as_typed: bool = False) -> ParsedQuery:
        """The query's meaning, its diacritics and capitals restored from the served version's
        vocabulary (as typed where none is served, or `as_typed`: nothing rewritten)."""
        today = datetime.now(ZoneInfo(self.settings.timezone)).date()  # for "hôm qua", "tháng trước"
        if as_typed:
            return parse_query(text, expand=False, today=today)
        index = index or self._served_or_none()
        if index is None:
            return parse_query(text, today=today)
        words = index.vocabulary
        typos = words.folded_unigrams if len(vtext.words(text)) <= input_methods.TYPO_QUERY_WORDS else frozenset()
        return parse_query(text, *self.restorers(index), decode_keys=lambda typed: input_methods.decode_text(
            typed, lambda folded: words.forms("vocab_unigrams", folded), typos), today=today)

    @staticmethod
    def restorers(index: reader.ServedVersion) -> tuple[WordRestorer, WordRestorer]:
        """(diacritics, capitals): how a run of words typed without them is restored, from this
        version's vocabulary."""
        words = index.vocabulary
        return (lambda typed: diacritics.restore(typed, lambda f: words.forms("vocab_unigrams", f),
                                                 lambda f: words.forms("vocab_bigrams", f)),
                lambda typed: diacritics.truecase(typed, words.casing))

    @staticmethod
    def _lexical_lists(parsed: ParsedQuery, plan: rank.Plan, filters: Filters,
                       index: reader.ServedVersion) -> tuple[list[rank.CandidateList], rank.CandidateList]:
        """([exact passages, folded passages], whole articles), from the served version, without
        the words too common to be worth a posting list."""
        lexical, params = index.lexical, plan.params
        matching = parsed.without(candidates.common_words(lexical, parsed, params.common_fraction, plan.match_words))
        words, exact_words = matching.words_to_match(), matching.words_to_match(exact=True)
        exact = lexical.passages(exact_words, filters, params.lexical_depth, exact=True)
        exact_weight, folded_weight = rank.lexical_weights(bool(exact), params.weights)
        # A list without weight would only add articles at score 0: not worth a search.
        folded = lexical.passages(words, filters, params.lexical_depth) if folded_weight else []
        articles = lexical.articles(words, filters, params.lexical_depth)
        return ([rank.CandidateList("exact", exact_weight, exact), rank.CandidateList("folded", folded_weight, folded)],
                rank.CandidateList("article", params.weights["article"], articles))

    @staticmethod
    def _pair_shares(parsed: ParsedQuery, article_ids: list[int], index: reader.ServedVersion,
                     known: dict[int, float]) -> None:
        """Add to `known` the word-pair share of each of these articles it lacks."""
        pairs = [f" {first} {second} " for first, second in parsed.word_pairs]
        missing = [aid for aid in article_ids if aid not in known]
        if not pairs or not missing:
            return
        texts = index.lexical.word_texts(missing, parsed.exact)
        for aid in missing:
            known[aid] = rank.pair_share(texts.get(aid, ""), pairs)

    def rank(self, query: Query) -> rank.Ranking:
        """Every matching article in result order, with the dates of each (for the years facet)."""
        index = self.index.get()
        parsed = self.parse(query.text, index, query.as_typed)
        filters = query.filters
        dates, shares = {}, {}
        explain: rank.Explanations | None = {} if query.explain else None
        # Nothing is searched before a version is published: its indexes are the searchable archive.
        plan = rank.plan(parsed, query.mode, filters.active, index is not None, self.params)
        params = plan.params
        pending = self.embedder.query_future(parsed.semantic_text) if plan.vector else None
        lists: list[rank.CandidateList] = []
        articles = rank.CandidateList("article", params.weights["article"], [])
        if plan.words:
            lists, articles = self._lexical_lists(parsed, plan, filters, index)
            if pending is not None and not pending.done():  # what needs no vector, while it is computed
                leaders = rank.fuse(lists)
                dates.update(index.lexical.dates(leaders))
                self._pair_shares(parsed, rank.best(leaders, params.pair_depth), index, shares)
        if pending is not None:
            lists.append(rank.CandidateList("dense", params.weights["dense"], candidates.dense_candidates(
                index, pending.result(), filters, plan.dense_depth)))
        if plan.words:
            lists.append(articles)
        fused = rank.fuse(lists, explain)
        if plan.word_order:
            top = rank.best(fused, params.pair_depth)
            self._pair_shares(parsed, top, index, shares)
            rank.reward_word_pairs(fused, top, shares, explain, params.pair_weight)
        if index is not None:
            dates.update(index.lexical.dates([aid for aid in fused if aid not in dates]))
        if parsed.date_intent:
            rank.boost_period(fused, dates, parsed.date_intent, params.date_intent_boost, explain)
        if parsed.places and index is not None:
            rank.boost_places(fused, index.lexical.about(fused, set(places.same_place(parsed.places))),
                              params.place_boost, explain)
        found, unread = len(fused), False
        if plan.boundary:
            evidence, unread = self._evidence(parsed, fused, lists, index, pending, params)
            fused = {aid: value for aid, value in fused.items() if evidence[aid].admitted_by}
            if explain is not None:
                for aid, note in evidence.items():
                    explain.setdefault(aid, rank.Explanation()).evidence = note
        if explain is not None:
            for aid, note in explain.items():
                note.final = fused[aid][0] if aid in fused else 0.0
        # More may match than are counted when the set is capped, or when a lexical list ran to its
        # depth and its last (weakest) article is still a result, or when the last of a topic's articles
        # whose runs were read still was: the boundary lies beyond the depth.
        more = unread or len(fused) > rank.MAX_RESULTS or any(
            c.name != "dense" and c.candidates and len(c.candidates) >= params.lexical_depth
            and c.candidates[-1].article_id in fused
            for c in lists)
        return rank.Ranking(parsed, rank.ordered(fused, dates, query.sort), fused, dates, index, explain,
                            found, more)

    def _evidence(self, parsed: ParsedQuery, fused: rank.Fused, lists: list[rank.CandidateList],
                  index: reader.ServedVersion, pending,
                  params: rank.RankingParams) -> tuple[dict[int, rank.Evidence], bool]:
        """Each candidate's evidence for the boundary: the query's words (or pairs) and quoted phrases
        it holds, read from the version's article index (one query), where a topic's words stand in
        a row in the articles holding them so (their words, read where that query found them), and
        how far its best passage stands out in meaning from the version's background passages."""
        terms = parsed.terms or tuple(w for p in parsed.phrases for w in p.split())
        lexical, ids = index.lexical, list(fused)
        pairs = list(pairwise(terms)) if len(terms) <= params.phrase_query_terms else []
        phrases = [tuple(p.split()) for p in parsed.phrases] if rank.quotes_required(parsed, params) else []
        z: dict[int, float] = {}
        dense = next((c.candidates for c in lists if c.name == "dense"), None)
        if dense and pending is not None:
            mean, deviation = self._background(index, pending.result(), params.background_passages)
            for _, aid, score in reversed(dense):  # best first: each article keeps its best passage
                z[aid] = (score - mean) / deviation
        holdings = lexical.held(ids, [[(t,) for t in terms], pairs, phrases])
        words, pairs_held = (holdings.of(0), len(terms)), (holdings.of(1), len(pairs))
        whole, depth = rank.in_row(fused, words, pairs_held, params), params.about_depth
        runs = {aid: rank.runs_in(text, terms) for aid, text in lexical.word_texts_at(holdings, whole[:depth]).items()}
        evidence = rank.admit(fused, words, pairs_held, (holdings.of(2), len(phrases)), z, runs, params)
        # beyond the articles read, more may be about the topic when the last one read still was
        return evidence, len(whole) > depth and evidence[whole[depth - 1]].admitted_by is not None

    def _background(self, index: reader.ServedVersion, vector: np.ndarray, size: int) -> tuple[float, float]:
        """(mean, standard deviation) of the query's similarity to the version's background passages:
        a fixed sample, drawn once per version, that stands for text unrelated to any one query."""
        sample = self._backgrounds.get((index.version, size))
        if sample is None:
            held = index.ids()
            chosen = np.random.default_rng(0).choice(held, min(size, len(held)), replace=False)
            found = [v for v in (index.reconstruct(int(pid)) for pid in chosen) if v is not None]
            sample = np.stack(found) if found else np.zeros((1, len(vector)), np.float32)
            self._backgrounds = {(index.version, size): sample}  # the served version's alone
        scores = sample @ vector
        return float(scores.mean()), float(scores.std()) or 1.0

    @staticmethod
    def _results(query: Query, ranking: rank.Ranking) -> list[int]:
        """The result set in order: the ranking, near-duplicate copies collapsed unless asked not to."""
        return duplicates.collapse(ranking.order, _groups(ranking.index).of) if query.collapse else ranking.order

    def result_set(self, query: Query) -> list[int]:
        """Every result the search counts (its `total`), in order: what the set benchmark reads."""
        return self._results(query, self.rank(query))

    def search(self, query: Query) -> SearchResult:
        started = time.perf_counter()
        ranking = self.rank(query)
        fused, index = ranking.fused, ranking.index
        groups = _groups(index)
        order = self._results(query, ranking)
        begin = (query.page - 1) * query.per_page
        page_ids = order[begin:begin + query.per_page]
        if index is None:  # nothing published: nothing found
            return SearchResult(query, ranking.parsed, 0, round((time.perf_counter() - started) * 1000, 2), [],
                                {}, None)
        articles = index.summaries(page_ids)
        passages = index.lexical.passage_fields([fused[aid][1] for aid in page_ids])
        copies = duplicates.copies(index.summaries, page_ids, groups)
        marks = ranking.parsed.marks
        hits = []
        for aid in page_ids:
            score, pid = fused[aid]
            hits.append(Hit(**articles[aid].json(), score=round(score, 6), passage_id=pid,
                            snippet=highlight(passages[pid]["text"], marks),
                            explanation=ranking.explanations[aid] if ranking.explanations is not None else None,
                            copies=copies.get(aid, [])))
        years = dict(sorted(Counter(ranking.dates[aid][1][:4] for aid in order if ranking.dates[aid][1]).items()))
        facet = [{"key": key, "label": places.label(key), "count": n}
                  for key, n in index.lexical.place_counts(order, PLACE_FACET_SIZE) if places.known(key)]
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, ranking.parsed, len(order), round(took, 2), hits, years,
                            index.version, facet, "gte" if ranking.more else "eq", ranking.candidates,
                            ranking.candidates - len(fused))

    # --- articles ------------------------------------------------------------------------
    def article(self, article_id: int) -> dict | None:
        """The article as the served version holds it (None when nothing is published, or the
        version does not hold it); raises IndexUnavailable when no version can be served."""
        index = self.index.get()
        row = index.lexical.article_fields([article_id]).get(article_id) if index else None
        return {**row, "source_title": index.source_titles.get(row["source"], row["source"])} if row else None

    def places(self, article_id: int) -> list[dict]:
        """The places an article is about, broadest first."""
        article = self.article(article_id)
        keys = sorted(article["places"] if article else (), key=lambda k: (k.count("/"), places.label(k)))
        return [{"key": key, "label": places.label(key)} for key in keys if places.known(key)]

    def copies(self, article_id: int) -> list[ArticleSummary]:
        """The same story published elsewhere: the other articles of its near-duplicate group, as
        the served version records them."""
        index = self._served_or_none()
        if index is None:
            return []
        return duplicates.copies(index.summaries, [article_id], index.groups).get(article_id, [])

    def passage(self, passage_id: int) -> dict | None:
        index = self.index.get()
        return index.lexical.passage_fields([passage_id]).get(passage_id) if index else None

    def similar(self, article_id: int, limit: int = 5) -> list[tuple[ArticleSummary, float]]:
        """Articles nearest to this one: the mean of its passage vectors against every passage."""
        index = self.index.get()
        if index is None:
            return []
        found = [v for v in (index.reconstruct(pid) for pid in index.lexical.article_passages(article_id))
                 if v is not None]
        if not found:
            return []
        centre = np.mean(found, axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        ranked: dict[int, float] = {}
        hits = index.search(centre.astype(np.float32), (limit + 1) * 8)
        owners = index.lexical.passage_articles([pid for pid, _ in hits])
        for pid, score in hits:
            aid = owners.get(pid)
            if aid is not None and aid != article_id and aid not in ranked:
                ranked[aid] = score
        top = list(ranked.items())[:limit]
        articles = index.summaries([aid for aid, _ in top])
        return [(articles[aid], round(score, 4)) for aid, score in top if aid in articles]

    def sources(self) -> list[dict]:
        """The served version's sources, counted when it was built."""
        index = self._served_or_none()
        sources = index.manifest.sources if index is not None else []
        return [{"title": s["source"], **s} for s in sources]  # a version built before titles: the key

    def source_title(self, source: str) -> str:
        """A source's own name as the served version knows it, else its key."""
        index = self._served_or_none()
        return index.source_titles.get(source, source) if index is not None else source

    def served_version(self) -> str | None:
        """The name of the version served now (None when none can be): what every answer depends on."""
        index = self._served_or_none()
        return index.version if index is not None else None

    def _served_or_none(self) -> reader.ServedVersion | None:
        """The served version, or None where none can be (what pages show without one)."""
        try:
            return self.index.get()
        except layout.IndexUnavailable:
            return None

    def suggest(self, typed: str, limit: int) -> list[tuple[str, suggest.Suggestion]]:
        """Completions of what is being typed, from the served version: (the words before the
        completed part, the completion), best first; none while nothing is served."""
        index = self._served_or_none()
        return index.suggestions.complete(typed, limit) if index is not None else []

    def warm(self) -> None:
        """Load the served version and run one query through every stage (restoring, the query
        encoder, vector and lexical search, ranking, explanations, snippets, completions) before anyone asks:
        the first reader's query then costs what the others cost. Nothing served: nothing to warm."""
        if self._served_or_none() is not None:
            self.search(Query(text=WARM_QUERY, explain=True))
            self.suggest(WARM_QUERY, 1)

    def health(self) -> dict:
        index = self._served_or_none()
        info = {"status": "ok", "model": self.embedder.model_id,
                "index_version": index.version if index else None,
                "index_built_at": index.manifest.created_at if index else None}
        if index is not None:
            info.update(articles=index.lexical.article_count, passages=index.count)
        if self.index.error:
            info.update(status="degraded" if index else "unavailable", error=self.index.error)
        return info
