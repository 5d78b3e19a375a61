"""How candidates become a ranking: every tuned number (RankingParams), the plan of a search,
fusion, the word-order stage, the period and place boosts, where the result set ends, and the final
order. Pure functions over candidate lists; the reasons are in docs/ranking.md."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import log1p
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from indexer.dates import DateIntent
from indexer.models import Candidate
from service.search.query import ParsedQuery

if TYPE_CHECKING:  # the read side's type only: ranking imports no index library
    from indexer.version.reader import ServedVersion


@dataclass(frozen=True)
class RankingParams:
    """Every tuned number of the ranking. A search is ranked with one (the engine holds it:
    `SearchEngine(settings, params=...)`); a benchmark runs with one changed by
    `dataclasses.replace` (`bench.quality --set name=value`). Why each value is what it is:
    docs/ranking.md; each was tuned on the dev set named beside it (bench/quality.py,
    bench/result_sets.py)."""

    # Fusion weights of the min-max normalised scores, keyed by the candidate lists' names
    # (eval-dev): exact (diacritics kept) passage matches, folded passage matches (standing in
    # when there is no exact word to match: lexical_weights), folded whole-article BM25, dense.
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(
        {"exact": 0.15, "folded": 0.0, "article": 0.2, "dense": 0.65}))
    # Second stage, lexical and hybrid: the fused top pair_depth articles gain pair_weight times the
    # share of the query's adjacent word pairs that their text holds in the same order (eval-dev).
    pair_weight: float = 1.0
    pair_depth: int = 20
    # A short query (short_query_words words or fewer besides a period, as people type them:
    # "phòng chống thiên tai 2021") leans on the lexical lists in hybrid search: the few words a
    # person remembers are rare ones BM25 pins down, and the model reads so few words loosely. Its
    # weights were chosen by 5-fold cross-validation, grouped by article, on eval-dev-short; at five
    # words a full headline of eval-dev lost a place, at four none did (bench/README.md).
    short_query_words: int = 4
    short_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(
        {"exact": 0.35, "folded": 0.0, "article": 0.4, "dense": 0.3}))
    short_pair_weight: float = 0.5
    dense_depth: int = 300            # passages taken from FAISS before fusion
    dense_depth_filtered: int = 2000  # deeper when filters will discard many of them
    lexical_depth: int = 400          # passages (and articles) taken from each lexical list (eval-dev)
    common_fraction: float = 0.2      # words in more passages than this share are not matched
    # In hybrid search the lexical lists catch rare exact words (names, places, numbers) and dense
    # similarity does the rest, so only the rarest words are matched (fewer posting lists to read).
    hybrid_match_words: int = 6
    date_intent_boost: float = 1.25   # articles inside a period named in the query
    place_boost: float = 1.15         # articles about a place named in the query, under its old or new name
    # Where the result set ends (docs/ranking.md, "Where the result set ends"): an article is a
    # result only with evidence that it is about the query. Chosen on eval-dev-topics (sets)
    # together with eval-dev and eval-dev-short (known items). A query of up to
    # phrase_query_terms words names a topic: an article holding its words as the query has them
    # (each pair of neighbours in a row) is a result when it is about the topic: about_weights
    # weigh how often the words stand there in a row, how long the article is, how many words
    # come before their first run and its score over the best, and the sum must reach about_floor
    # (a logistic regression fitted on eval-dev-topics' hybrid candidates: leave-one-topic-out F1
    # 0.574 at recall 0.829). An article holding the words apart must score apart_floor of the
    # best ("bão lũ" is two words, "tai nạn" one); a longer query describes, and an article must
    # hold cover_share of its words and score at least cover_floor of the best.
    phrase_query_terms: int = 3
    about_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(
        {"intercept": 3.19, "runs": 1.2, "length": -0.84, "before": -0.49, "relative": 1.57}))
    about_floor: float = -2.0
    about_depth: int = 200  # the best articles holding a topic's words in a row whose runs are read (18 µs each)
    apart_floor: float = 0.6
    cover_share: float = 0.5
    cover_floor: float = 0.2
    # Meaning: an article whose best passage is nearer the query than meaning_z standard deviations
    # above the query's similarity to background_passages passages drawn from the version (what
    # the query scores against unrelated text), whatever its words. A meaningless query's best
    # passages stand 3.1–4.5 deviations out on eval-dev-topics; a headline's own article mostly 5+.
    meaning_z: float = 4.6
    background_passages: int = 1024
    # Quoted phrases are required of every result in a query of up to quoted_query_words words with
    # at most quoted_outside_words outside its quotes (quotes_required).
    quoted_query_words: int = 8
    quoted_outside_words: int = 4
    boundary: bool = True  # False: no boundary, every candidate is a result (side-by-side measurement)

    def for_query(self, parsed: ParsedQuery, mode: str) -> RankingParams:
        """The short-query instance for a short query in hybrid search (its weights and word-order
        weight), else this one."""
        if mode == "hybrid" and len(parsed.terms) <= self.short_query_words:
            return replace(self, weights=self.short_weights, pair_weight=self.short_pair_weight)
        return self


DEFAULT = RankingParams()
# Not a tuned number but the API's contract (paging, the CSV export, OpenAPI): a result set is
# capped here, and the API then says total_relation "gte".
MAX_RESULTS = 1000


@dataclass(frozen=True)
class Plan:
    """What one search reads, decided before anything is read: the lists, their depths, the stages."""

    params: RankingParams       # for this query: the short-query instance where it applies
    words: bool                 # the lexical lists (exact and folded passages, whole articles)
    vector: bool                # the dense list
    dense_depth: int
    match_words: int | None     # only the rarest this many words are matched (None: every one)
    word_order: bool            # the word-order stage
    boundary: bool              # the result set ends where the evidence does


def plan(parsed: ParsedQuery, mode: str, filtered: bool, served: bool, params: RankingParams = DEFAULT) -> Plan:
    """The plan of a search in `mode` for a parsed query (`filtered`: filters will discard
    candidates; `served`: a version is published, without one nothing is read)."""
    return Plan(params.for_query(parsed, mode), served and mode in ("hybrid", "lexical"),
                served and mode in ("hybrid", "semantic"),
                params.dense_depth_filtered if filtered else params.dense_depth,
                params.hybrid_match_words if mode == "hybrid" else None,
                mode != "semantic" and bool(parsed.word_pairs), params.boundary and served)


Fused = dict[int, tuple[float, int]]  # article id → (score, the passage to show)
Dates = dict[int, tuple[int | None, str | None]]  # article id → (published, seconds since 1970; published_day)


class CandidateList(NamedTuple):
    """One first-stage list: its name ("exact", "folded", "dense", "article"), weight, candidates."""

    name: str
    weight: float
    candidates: list[Candidate]


@dataclass
class ListShare:
    """What one list gave an article: its rank there, its raw and min-max normalised score."""

    name: str
    weight: float
    rank: int
    raw: float
    normalised: float

    @property
    def contribution(self) -> float:
        return self.weight * self.normalised


@dataclass
class Evidence:
    """Why an article is in the result set: what it holds of the query's words, how far its meaning
    stands out, and its score against the best; `admitted_by` is "words", "meaning" or None (dropped)."""

    held: int = 0              # query words the article holds
    asked: int = 0             # of how many
    in_row: bool = False       # it holds each pair of the query's neighbouring words in a row
    phrases: bool = True       # it holds every quoted phrase (required: quotes_required)
    z: float | None = None     # its best passage's similarity in background standard deviations
    relative: float = 0.0      # its score over the best result's
    runs: Runs | None = None   # where the words stand in a row (a topic's articles holding them so)
    about: float | None = None  # how much it is about the topic (aboutness), against about_floor
    about_floor: float = DEFAULT.about_floor  # the floor it was held to (the search's RankingParams)
    admitted_by: str | None = None


@dataclass(frozen=True)
class Runs:
    """Where a query's words stand in a row in an article's words: how many times, how many words
    come before the first run (None: nowhere whole), and how many words the article has."""

    count: int
    before: int | None
    length: int


def runs_in(words_text: str, words: tuple[str, ...]) -> Runs:
    """The runs of `words` in an article's words joined by single spaces (LexicalIndex.word_texts)."""
    run = " " + " ".join(words) + " "
    at = words_text.find(run)
    return Runs(words_text.count(run), words_text.count(" ", 0, at) if at >= 0 else None, words_text.count(" "))


def aboutness(runs: Runs, relative: float, weights: Mapping[str, float] = DEFAULT.about_weights) -> float:
    """The about_weights' sum: the more often the words stand in a row, the earlier and the shorter the
    article, and the nearer its score to the best, the more it is about them."""
    before = runs.length if runs.before is None else runs.before
    return (weights["intercept"] + weights["runs"] * log1p(runs.count) + weights["length"] * log1p(runs.length)
            + weights["before"] * log1p(before) + weights["relative"] * relative)


@dataclass
class Explanation:
    """Why an article scored what it did: (sum of list contributions + word-order bonus) × period
    factor × place factor; and why it is a result at all (`evidence`)."""

    lists: list[ListShare] = field(default_factory=list)
    word_order_share: float | None = None  # None: the second stage did not look at this article
    word_order_bonus: float = 0.0
    period_factor: float = 1.0
    place_factor: float = 1.0
    final: float = 0.0
    evidence: Evidence | None = None


Explanations = dict[int, Explanation]


@dataclass
class Ranking:
    """Every matching article in result order, before paging and snippets."""

    parsed: ParsedQuery
    order: list[int]
    fused: Fused
    dates: Dates
    index: ServedVersion | None
    explanations: Explanations | None = None
    candidates: int = 0     # articles the candidate lists found, before the boundary
    more: bool = False      # more articles than these may match (a list or the set was at its depth)


def lexical_weights(exact_found: bool, weights: Mapping[str, float] = DEFAULT.weights) -> tuple[float, float]:
    """(exact, folded) list weights: an empty exact list lends its weight to the folded one."""
    exact = weights["exact"] if exact_found else 0.0
    return exact, weights["folded"] + weights["exact"] - exact


def fuse(lists: list[CandidateList], explain: Explanations | None = None) -> Fused:
    """Weighted sum of min-max normalised scores, per article: article → (score, passage).

    Each list counts an article once, by its best passage. The passage shown is the one from the
    first list that has the article: passage-level lexical lists come first (their passage holds
    the query's words), then dense (the passage nearest in meaning), then whole-article matches
    (which can only point at the article's first passage). With `explain`, what each list gave
    each article is recorded there; the arithmetic is the same.
    """
    fused: Fused = {}
    for name, weight, ranking in lists:
        # Lists come best first: built from the end, each article keeps its first passage.
        best = {aid: (score, pid) for pid, aid, score in reversed(ranking)}
        if not best:
            continue
        scores = [score for score, _ in best.values()]
        low, span = min(scores), max(scores) - min(scores)
        ranks = {aid: position for position, aid in enumerate(dict.fromkeys(c.article_id for c in ranking), 1)} \
            if explain is not None else {}
        for aid, (score, pid) in best.items():
            norm = (score - low) / span if span else 1.0
            total, passage = fused.get(aid, (0.0, pid))
            fused[aid] = (total + weight * norm, passage)
            if explain is not None:
                explain.setdefault(aid, Explanation()).lists.append(ListShare(name, weight, ranks[aid], score, norm))
    return fused


def best(fused: Fused, n: int) -> list[int]:
    """The n best-scored articles; ties by id, so a ranking is stable."""
    negated = {aid: -score for aid, (score, _) in fused.items()}
    return sorted(sorted(fused), key=negated.__getitem__)[:n]  # stable: by id within a score


def pair_share(text: str, pairs: list[str]) -> float:
    """The share of the query's word pairs (" first second ") that a text holds in a row."""
    return sum(pair in text for pair in pairs) / len(pairs)


def reward_word_pairs(fused: Fused, top: list[int], shares: dict[int, float],
                      explain: Explanations | None = None, weight: float = DEFAULT.pair_weight) -> None:
    """Second stage: the top articles gain `weight` (pair_weight) × their word-pair share.

    Both first-stage lexical lists score syllables as a bag, so "thành phố Philippines" and an
    article that merely has "phố" and "thành" score alike; this is the phrase evidence they miss.
    """
    for aid in top:
        score, passage = fused[aid]
        fused[aid] = (score + weight * shares[aid], passage)
        if explain is not None:
            note = explain.setdefault(aid, Explanation())
            note.word_order_share, note.word_order_bonus = shares[aid], weight * shares[aid]


def boost_period(fused: Fused, dates: Dates, intent: DateIntent, factor: float,
                 explain: Explanations | None = None) -> None:
    """Articles published inside a period the query names ("2021", "tháng 3/2021") gain `factor`×
    (date_intent_boost)."""
    first, last = intent.start.isoformat(), intent.end.isoformat()
    for aid, (score, pid) in fused.items():
        day = dates[aid][1]
        if day and first <= day <= last:
            fused[aid] = (score * factor, pid)
            if explain is not None:
                explain.setdefault(aid, Explanation()).period_factor = factor


def boost_places(fused: Fused, about: set[int], factor: float, explain: Explanations | None = None) -> None:
    """Articles about a place the query names ("thiên tai Nghệ An", under any of its names, old
    and new: `about` holds them) gain `factor`× (place_boost)."""
    for aid, (score, pid) in fused.items():
        if aid in about:
            fused[aid] = (score * factor, pid)
            if explain is not None:
                explain.setdefault(aid, Explanation()).place_factor = factor


def quotes_required(parsed: ParsedQuery, params: RankingParams = DEFAULT) -> bool:
    """Quoted phrases are required of every result in a query of up to quoted_query_words words with
    at most quoted_outside_words outside its quotes (a phrase and a few more words). Elsewhere, in a
    pasted headline or lead, quotes are the text's punctuation, not an operator (Toyota nâng cấp
    "mạnh" cho Prius C 2017; a lead that quotes a speech)."""
    words = len(parsed.terms) + sum(len(phrase.split()) for phrase in parsed.phrases)
    return (bool(parsed.phrases) and len(parsed.terms) <= params.quoted_outside_words
            and words <= params.quoted_query_words)


def in_row(fused: Fused, words: tuple[dict[int, int], int], pairs: tuple[dict[int, int], int],
           params: RankingParams = DEFAULT) -> list[int]:
    """The articles that hold every word of a topic (a query of up to phrase_query_terms words) with
    each pair of neighbours in a row, best first: the boundary reads the runs of the first about_depth."""
    (held_words, asked), (held_pairs, pair_count) = words, pairs
    if asked > params.phrase_query_terms:
        return []
    found = [aid for aid, held in held_words.items() if held == asked and held_pairs.get(aid, 0) == pair_count]
    return sorted(found, key=lambda aid: (-fused[aid][0], aid))


def admit(fused: Fused, words: tuple[dict[int, int], int], pairs: tuple[dict[int, int], int],
          phrases: tuple[dict[int, int], int], z: dict[int, float], runs: dict[int, Runs],
          params: RankingParams = DEFAULT) -> dict[int, Evidence]:
    """Each candidate's evidence, `admitted_by` set for the results. `words`, `pairs` and `phrases`
    are (how many each article holds, of how many): the query's words, its neighbouring word pairs,
    its required quoted phrases; `runs` those of a topic's words in the articles holding them in a
    row (in_row). A result holds every required phrase, and the query's words as about_*,
    apart_floor and cover_* ask (the best of a topic's articles holding them in a row always), or
    stands out in meaning by meaning_z."""
    top = max((score for score, _ in fused.values()), default=0.0)
    (held_words, asked), (held_pairs, pair_count), (held_phrases, phrase_count) = words, pairs, phrases
    short = asked <= params.phrase_query_terms
    # the best article holding a topic's words in a row is a result however little it is about them:
    # a set that leaves out its own first match misleads (a known item, found first, not "found")
    first = max(runs, key=lambda aid: (fused[aid][0], -aid), default=None)
    out = {}
    for aid, (score, _) in fused.items():
        note = Evidence(held_words.get(aid, 0), asked, held_pairs.get(aid, 0) == pair_count,
                        held_phrases.get(aid, 0) == phrase_count, z.get(aid), score / top if top > 0 else 0.0,
                        about_floor=params.about_floor)
        if short and note.held == asked and note.in_row:
            note.runs = runs.get(aid)
            note.about = aboutness(note.runs, note.relative, params.about_weights) if note.runs else None
            holds = note.about is not None and (note.about >= params.about_floor or aid == first)
        elif short:
            holds = note.held == asked and note.relative >= params.apart_floor
        else:
            holds = note.held >= params.cover_share * asked and note.relative >= params.cover_floor
        if note.phrases and asked and holds:
            note.admitted_by = "words"
        elif note.phrases and note.z is not None and note.z >= params.meaning_z:
            note.admitted_by = "meaning"
        out[aid] = note
    return out


def ordered(fused: Fused, dates: Dates, sort: str) -> list[int]:
    """The first MAX_RESULTS articles by score, or those same articles newest first."""
    order = best(fused, MAX_RESULTS)
    if sort == "date":
        order.sort(key=lambda aid: -1 << 62 if dates[aid][0] is None else dates[aid][0], reverse=True)
    return order
