"""What could lift short queries: three probes on eval-dev-short (and eval-dev), each against the
hybrid ranking as shipped, in one run over one archive.

    python -m bench.short_queries --eval-dev ../shared/corpus/eval-dev --short ../shared/corpus/eval-dev-short

1. **Restoration, perfect.** Each `short_folded` query is searched with its `short` twin's words
   as the restoration: in lower case, and with the headline's capitals. The gap to the shipped
   restoration is the most better restoration (diacritics, then capitals) can give.
2. **A document vector.** Each article's first 300 words embedded once ("passage: " prompt), as
   txtai embeds whole documents: MRR@10 of that vector alone, and of hybrid's top 50 re-scored
   with w × its min-max normalised cosine added (w in --weights).
3. **A learned re-ranking.** Logistic regression (scikit-learn, from requirements-bench.txt) over
   hybrid's top 50 per query, on the features ranking already has (each list's normalised score,
   raw score, 1/rank and presence; the fused score; the share of query words and of adjacent
   pairs the article holds; whether it holds the whole query in a row; where its first match
   is; its length), with query-kind interactions (short, typed without diacritics). Five-fold
   cross-validation grouped by article, so no article's queries are both trained and tested on.

4. **Weights for short queries.** Each query's candidates fused again (`rank.fuse` and
   `rank.reward_word_pairs` over the lists the engine read, rebuilt from its explanation) with
   other list weights and word-order weight for queries of four words or fewer
   (`RankingParams.short_weights`), chosen on four fifths of the articles and scored on the fifth
   (folds grouped by article). The period and place factors are those the engine applied, and the
   result set is the one the shipped ranking admitted; with the shipped weights every query's
   order is the engine's own (the run counts it).

5. **What the misses lack.** For each short query whose article hybrid does not rank first: does
   that article's text hold every query word (folded), and does the article ranked first?

Prints MRR@10 per query kind for each probe; `--json` keeps them. Figures, not tests.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from bench import save_result
from bench.quality import eval_archive, query_metrics, read_jsonl
from indexer import diacritics
from indexer import text as vtext

TOP = 50
LISTS = ("exact", "folded", "dense", "article")  # in the order the engine fuses them
RESULTS = Path(__file__).resolve().parent / "results"


def mrr(order: list[str], relevant: list[str]) -> float:
    return query_metrics(order[:100], set(relevant))["mrr@10"]


def by_kind(values: list[tuple[str, float]]) -> dict[str, float]:
    kinds: dict[str, list[float]] = {}
    for kind, value in values:
        kinds.setdefault(kind, []).append(value)
    return {kind: round(statistics.fmean(v), 3) for kind, v in sorted(kinds.items())}


def candidate_features(engine, query: dict, doc_of: dict[int, str]) -> dict:
    """Hybrid's top TOP articles for one query, each with the features ranking has for it, and
    every candidate's lists, word-pair share and factors (for fusing them again: _rescored)."""
    from service.search import Query, rank

    ranking = engine.rank(Query(text=query["text"], mode="hybrid", explain=True))
    notes = ranking.explanations or {}
    pairs = [f" {first} {second} " for first, second in ranking.parsed.word_pairs]
    every = ranking.index.lexical.word_texts(list(notes), ranking.parsed.exact) if pairs else {}
    shares = [(share.name, doc_of[aid], share.raw) for aid, note in notes.items() for share in note.lists]
    fusion = {"lists": [[name, found] for name in LISTS
                        if (found := [(doc, raw) for list_name, doc, raw in shares if list_name == name])],
              "shares": {doc_of[aid]: rank.pair_share(every.get(aid, ""), pairs) for aid in notes} if pairs else {},
              "factors": {doc_of[aid]: (n.period_factor, n.place_factor) for aid, n in notes.items()},
              "ids": {doc_of[aid]: aid for aid in notes},
              "admitted": sorted(doc_of[aid] for aid in ranking.fused), "order": [doc_of[a] for a in ranking.order]}
    top = ranking.order[:TOP]
    terms = [vtext.fold(w) for w in vtext.words(ranking.parsed.normalized)]
    texts = ranking.index.lexical.word_texts(top, False)
    in_a_row = " " + " ".join(terms) + " "
    pairs = [f" {a} {b} " for a, b in pairwise(terms)]
    rows = []
    for aid in top:
        note = ranking.explanations.get(aid)
        shares = {s.name: s for s in (note.lists if note else [])}
        text = texts.get(aid, "")
        found = [text.find(f" {t} ") for t in terms if f" {t} " in text]
        f = {"fused": ranking.fused[aid][0],
             "coverage": len(found) / max(1, len(terms)),
             "in_a_row": float(len(terms) > 1 and in_a_row in text),
             "pair_share": sum(p in text for p in pairs) / len(pairs) if pairs else 0.0,
             "first_match": min(found) / max(1, len(text)) if found else 1.0,
             "length": math.log1p(len(text.split()))}
        for name in LISTS:
            s = shares.get(name)
            f.update({f"{name}_norm": s.normalised if s else 0.0, f"{name}_raw": s.raw if s else 0.0,
                      f"{name}_inv_rank": 1.0 / s.rank if s else 0.0, f"{name}_in": float(s is not None)})
        rows.append((doc_of[aid], f))
    return {"kind": query["kind"], "relevant": [str(r) for r in query["relevant"]], "rows": rows,
            "short": len(terms) <= 5, "folded": not ranking.parsed.exact,
            "rest": [doc_of[a] for a in ranking.order[TOP:100]], "fusion": fusion}


def perfect_restoration(engine, short_queries: list[dict], doc_of: dict[int, str]) -> dict[str, float]:
    """short_folded MRR@10, hybrid and semantic, restored as shipped, perfectly in lower case, and
    perfectly with capitals."""
    from service.search import Query

    twins = {q["relevant"][0]: q["text"] for q in short_queries if q["kind"] == "short"}
    folded = [q for q in short_queries if q["kind"] == "short_folded"]
    shipped_restore, shipped_truecase = diacritics.restore, diacritics.truecase
    truth: dict[tuple[str, ...], list[str]] = {}

    def perfect(words, unigrams, bigrams):
        return truth.get(tuple(vtext.fold(w) for w in words)) or shipped_restore(words, unigrams, bigrams)

    out = {}
    try:
        for name, capitals in (("shipped", None), ("perfect, lower case", False), ("perfect, capitals", True)):
            if capitals is not None:
                truth.clear()
                for q in folded:
                    written = vtext.words(vtext.normalize(twins[q["relevant"][0]]))
                    truth[tuple(vtext.fold(w) for w in vtext.words(q["text"]))] = \
                        written if capitals else [w.lower() for w in written]
                diacritics.restore = perfect
                diacritics.truecase = lambda words, seen: words  # the twin's own capitals, or none
            engine.embedder.clear_query_cache()
            for mode in ("hybrid", "semantic"):
                scores = [mrr([doc_of[a] for a in engine.rank(Query(text=q["text"], mode=mode)).order],
                              [str(r) for r in q["relevant"]]) for q in folded]
                out[f"{name}, {mode}"] = round(statistics.fmean(scores), 3)
    finally:
        diacritics.restore, diacritics.truecase = shipped_restore, shipped_truecase
        engine.embedder.clear_query_cache()
    return out


def document_vectors(engine, docs: list[dict], queries: list[dict], candidates: list[dict],
                     weights: list[float]) -> dict:
    """MRR@10 of a whole-document vector alone, and added to hybrid's top TOP with weight w."""
    ids = [str(d["id"]) for d in docs]
    row_of = {doc: i for i, doc in enumerate(ids)}
    matrix = engine.embedder.encode_passages([vtext.normalize(" ".join(d["body"].split()[:300])) for d in docs])
    cosines = [matrix @ engine.embedder.encode_query(engine.parse(q["text"]).semantic_text) for q in queries]
    out = {"alone": by_kind([(q["kind"], mrr([ids[i] for i in np.argsort(-c)], [str(r) for r in q["relevant"]]))
                             for q, c in zip(queries, cosines)])}
    for w in weights:
        scored = []
        for c, cand in zip(cosines, candidates):
            values = [c[row_of[doc]] for doc, _ in cand["rows"]]
            low, span = min(values), (max(values) - min(values)) or 1.0
            order = sorted(((f["fused"] + w * (v - low) / span, doc) for (doc, f), v in zip(cand["rows"], values)),
                           key=lambda pair: -pair[0])
            scored.append((cand["kind"], mrr([doc for _, doc in order] + cand["rest"], cand["relevant"])))
        out[f"hybrid + {w} x document"] = by_kind(scored)
    return out


def learned_reranking(candidates: list[dict], c: float) -> dict:
    """Cross-validated MRR@10 of a logistic-regression re-ranking of hybrid's top TOP."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    names = sorted(candidates[0]["rows"][0][1])

    def vector(cand: dict, f: dict) -> list[float]:
        base = [f[n] for n in names]
        short, folded = float(cand["short"]), float(cand["folded"])
        return base + [v * short for v in base] + [v * folded for v in base] + [short, folded]

    shipped, learned = [], []
    groups = [cand["relevant"][0] for cand in candidates]
    for train, test in GroupKFold(n_splits=5).split(candidates, groups=groups):
        x = np.array([vector(candidates[i], f) for i in train for _, f in candidates[i]["rows"]])
        y = [int(doc in candidates[i]["relevant"]) for i in train for doc, _ in candidates[i]["rows"]]
        mean, scale = x.mean(0), x.std(0) + 1e-9
        model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
        for i in test:
            cand = candidates[i]
            scores = model.decision_function((np.array([vector(cand, f) for _, f in cand["rows"]]) - mean) / scale)
            order = [cand["rows"][j][0] for j in np.argsort(-scores, kind="stable")] + cand["rest"]
            learned.append((cand["kind"], mrr(order, cand["relevant"])))
            shipped.append((cand["kind"], mrr([doc for doc, _ in cand["rows"]] + cand["rest"], cand["relevant"])))
    return {"shipped": by_kind(shipped), f"logistic regression, C={c}, 5-fold": by_kind(learned)}


GRID = {"exact": (0.1, 0.15, 0.25, 0.35), "article": (0.1, 0.2, 0.3, 0.4), "dense": (0.3, 0.45, 0.65, 0.8),
        "pair": (0.5, 1.0, 1.5)}


def _refused(cand: dict, params) -> list[str]:
    """One query's result set in the order `params` (a RankingParams) rank it: the engine's own
    lists fused again by rank.fuse, rewarded by rank.reward_word_pairs, times the factors the
    engine applied, the articles it admitted kept."""
    from indexer.models import Candidate
    from service.search import rank

    fusion = cand["fusion"]
    number = fusion["ids"]  # the engine's article ids: ties are broken by them, as the engine does
    docs = {aid: doc for doc, aid in number.items()}
    lists = dict(fusion["lists"])
    exact, folded = rank.lexical_weights(bool(lists.get("exact")), params.weights)
    weights = {"exact": exact, "folded": folded, "dense": params.weights["dense"], "article": params.weights["article"]}
    fused = rank.fuse([rank.CandidateList(name, weights[name], [Candidate(0, number[doc], raw) for doc, raw in
                                                                sorted(found, key=lambda pair: -pair[1])])
                       for name, found in fusion["lists"]])
    if fusion["shares"]:
        top = rank.best(fused, params.pair_depth)
        rank.reward_word_pairs(fused, top, {i: fusion["shares"][docs[i]] for i in top}, weight=params.pair_weight)
    for i, (score, pid) in fused.items():  # the period's factor, then the place's, as the engine applies them
        period, place = fusion["factors"][docs[i]]
        fused[i] = (score * period * place, pid)
    admitted = {number[doc] for doc in fusion["admitted"]}
    return [docs[i] for i in rank.best({i: v for i, v in fused.items() if i in admitted}, rank.MAX_RESULTS)]


def _rescored(cand: dict, exact: float, article: float, dense: float, pair: float) -> float:
    """MRR@10 of one query fused again with these weights (the folded list's stays 0)."""
    from service.search import rank

    params = replace(rank.DEFAULT, weights={"exact": exact, "folded": 0.0, "article": article, "dense": dense},
                     pair_weight=pair)
    return mrr(_refused(cand, params), cand["relevant"])


def short_weights(candidates: list[dict], shipped: tuple[float, float, float, float],
                  default: tuple[float, float, float, float]) -> dict:
    """Short queries' MRR@10 with the weights chosen on the other folds, with `shipped` and with
    `default` (the long queries' weights)."""
    short = [c for c in candidates if c["short"] and c["kind"].startswith("short")]
    groups = sorted({c["relevant"][0] for c in short})
    fold_of = {doc: i % 5 for i, doc in enumerate(groups)}
    grid = list(itertools.product(*GRID.values()))
    chosen, held_out = [], []
    for fold in range(5):
        train = [c for c in short if fold_of[c["relevant"][0]] != fold]
        best = max(grid, key=lambda w: sum(_rescored(c, *w) for c in train))
        chosen.append(dict(zip(GRID, best)))
        held_out.extend((c["kind"], _rescored(c, *best)) for c in short if fold_of[c["relevant"][0]] == fold)
    return {"chosen per fold": chosen, "held-out folds": by_kind(held_out),
            "long-query weights, all queries": by_kind([(c["kind"], _rescored(c, *default)) for c in short]),
            "shipped weights, all queries": by_kind([(c["kind"], _rescored(c, *shipped)) for c in short])}


def misses(engine, queries: list[dict], doc_of: dict[int, str], docs: list[dict]) -> dict:
    """Per kind: the short queries hybrid misses at rank 1, and how many of them have every query
    word in the wanted article's text, and in the article ranked first instead."""
    from service.search import Query

    words_of = {str(d["id"]): " " + " ".join(vtext.fold(w) for w in vtext.words(d["body"])) + " " for d in docs}
    out: dict[str, dict[str, int]] = {}
    for q in queries:
        order = [doc_of[aid] for aid in engine.rank(Query(text=q["text"], mode="hybrid")).order[:1]]
        wanted = str(q["relevant"][0])
        if order == [wanted]:
            continue
        words = [vtext.fold(w) for w in vtext.words(q["text"])]
        counts = out.setdefault(q["kind"], {"missed": 0, "wanted article has every word": 0,
                                            "first-ranked article has every word": 0})
        counts["missed"] += 1
        counts["wanted article has every word"] += all(f" {w} " in words_of[wanted] for w in words)
        counts["first-ranked article has every word"] += bool(order) and all(f" {w} " in words_of[order[0]]
                                                                            for w in words)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dev", type=Path, required=True, help="eval-dev folder (documents and long queries)")
    parser.add_argument("--short", type=Path, required=True, help="eval-dev-short folder (the same documents)")
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).resolve().parent / ".cache")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--C", type=float, default=0.01, help="inverse regularisation of the regression")
    parser.add_argument("--json", type=Path, default=RESULTS / "short-queries.json")
    args = parser.parse_args(argv)
    short_queries = read_jsonl(args.short / "queries.jsonl")
    with eval_archive(args.eval_dev, args.cache_dir, progress=False) as (engine, doc_of, queries):
        queries = queries + short_queries
        result = {"command": " ".join(sys.argv), "perfect restoration (short_folded)":
                  perfect_restoration(engine, short_queries, doc_of)}
        result["misses"] = misses(engine, short_queries, doc_of, read_jsonl(args.eval_dev / "docs.jsonl"))
        print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
        candidates = [candidate_features(engine, q, doc_of) for q in queries]
        result["learned re-ranking"] = learned_reranking(candidates, args.C)
        print(json.dumps(result["learned re-ranking"], ensure_ascii=False, indent=1), flush=True)
        from service.search import rank

        def weights(table: dict, pair: float) -> tuple[float, float, float, float]:
            return table["exact"], table["article"], table["dense"], pair

        shipped = rank.DEFAULT
        result["engine's order fused again"] = sum(_refused(c, shipped.for_query(engine.parse(q["text"]), "hybrid"))
                                                   == c["fusion"]["order"] for c, q in zip(candidates, queries))
        result["short-query weights"] = short_weights(candidates, weights(shipped.short_weights,
                                                                          shipped.short_pair_weight),
                                                      weights(shipped.weights, shipped.pair_weight))
        print(json.dumps(result["short-query weights"], ensure_ascii=False, indent=1), flush=True)
        result["document vector"] = document_vectors(engine, read_jsonl(args.eval_dev / "docs.jsonl"), queries,
                                                     candidates, args.weights)
        print(json.dumps(result["document vector"], ensure_ascii=False, indent=1))
    save_result(args.json, result)


if __name__ == "__main__":
    main()
