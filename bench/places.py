"""Place recognition on real news: precision and recall against hand-labelled sentences.

    python -m bench.places --corpus ../shared/corpus/baomoi-2017.jsonl.gz
    python -m bench.places --corpus … --draft 200 > draft.jsonl   # a new sample to label
    python -m bench.places --corpus … --timing 3000              # what recognition adds to storing

The labels (bench/places-labels.jsonl) name sentences by article id and position, never copy
them: the corpus stays outside the repository. Each line lists the administrative units the
sentence names: its words as written, the level (province, district, commune) and, where the
article makes it plain, the province. A found place is right when its words and level match a
labelled one and, where the label names a province, it was resolved inside that province.
Recognition runs on the whole article (title, lead, body), as at indexing, so context counts.

--timing N stores the first N articles through `store.upsert_article` (which recognises places)
and, side by side in the same run, recognises the same articles alone: the share of storing
that recognition takes. Embedding, most of a real build, is not run.

The sample: one sentence drawn at random (seeded) from each of a random order of articles, three
in four among those that look like they hold a place (a run of capitalised words that some unit
of any level is named, or a capitalised word after "tỉnh", "huyện", "xã" …), so that precision
rests on enough found places and meets the traps (people named like communes); the rest from all
sentences, so that recall sees ordinary text.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from bench import save_result
from bench.indexing import read_corpus
from indexer import place_mentions, places
from indexer import text as vtext

LABELS = Path(__file__).resolve().parent / "places-labels.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"


def sentences(item: dict) -> tuple[str, list[vtext.Span]]:
    """An article's text as recognition sees it, and its sentences."""
    text, _ = place_mentions.article_text(*(vtext.clean(item[name]) for name in ("title", "sapo", "body")))
    return text, vtext.sentence_spans(text)


def fingerprint(sentence: str) -> str:
    return hashlib.sha1(sentence.encode()).hexdigest()[:12]


def found_in(text: str, span: vtext.Span) -> list[dict]:
    """The places recognised in the article that lie in this sentence."""
    g = places.gazetteer()
    return [{"text": text[m.start:m.end], "level": m.level,
             "province": g.units[g.province_of(m.unit)].name, "unit": m.unit}
            for m in place_mentions.recognise(text) if span.start <= m.start and m.end <= span.end]


def _place_like(sentence: str, names: set[str]) -> bool:
    """Holds a run of one to three capitalised words that some unit of any level is named, or a
    capitalised word after an administrative word: where places are, and where the traps are
    (a person named like a commune), whatever the recogniser decides."""
    words = vtext.words(sentence)
    for i, word in enumerate(words):
        if not word[:1].isupper():
            continue
        if i and vtext.canonical_word(words[i - 1]) in {"tỉnh", "huyện", "xã", "phường", "quận", "phố", "thị"}:
            return True
        for size in (3, 2):
            run = words[i:i + size]
            if len(run) == size and all(w[:1].isupper() for w in run) and \
                    " ".join(vtext.canonical_word(w) for w in run) in names:
                return True
    return False


def draft(items: list[dict], count: int, seed: int) -> list[dict]:
    """A new sample to label, the recogniser's answers filled in for the labeller to correct."""
    rng = random.Random(seed)
    order = list(range(len(items)))
    rng.shuffle(order)
    picked, named = [], int(count * 0.75)
    names = {name for _, name in places.gazetteer().by_name}  # every unit's name, of any level
    for index in order:
        if len(picked) >= count:
            break
        text, spans = sentences(items[index])
        span = rng.choice(spans)
        sentence = text[span.start:span.end]
        if len(vtext.words(sentence)) < 6 or (len(picked) < named and not _place_like(sentence, names)):
            continue
        picked.append({"doc": items[index]["id"], "sentence": spans.index(span), "sha1": fingerprint(sentence),
                       "text": sentence, "places": [
                           {k: p[k] for k in ("text", "level", "province")} for p in found_in(text, span)]})
    return picked


def _right(found: dict, label: dict) -> bool:
    return (found["text"] == label["text"] and found["level"] == label["level"]
            and (label.get("province") is None or found["province"] == label["province"]))


def evaluate(items: dict, labels: list[dict]) -> dict:
    """Precision and recall over the labelled sentences, overall and per level."""
    tally = {level: {"found": 0, "right": 0, "labelled": 0, "recalled": 0} for level in places.LEVELS}
    wrong, missed = [], []
    for label in labels:
        text, spans = sentences(items[label["doc"]])
        span = spans[label["sentence"]]
        if fingerprint(text[span.start:span.end]) != label["sha1"]:
            raise SystemExit(f"doc {label['doc']} sentence {label['sentence']}: the text differs from the labelled one")
        found, unmatched = found_in(text, span), list(label["places"])
        where = {"doc": label["doc"], "sentence": label["sentence"]}
        for t in unmatched:
            tally[t["level"]]["labelled"] += 1
        for f in found:  # each labelled place answers one found place at most
            tally[f["level"]]["found"] += 1
            match = next((t for t in unmatched if _right(f, t)), None)
            if match is None:
                wrong.append({**where, **f})
                continue
            unmatched.remove(match)
            tally[f["level"]]["right"] += 1
            tally[match["level"]]["recalled"] += 1
        missed.extend({**where, **t} for t in unmatched)
    total = {key: sum(level[key] for level in tally.values()) for key in ("found", "right", "labelled", "recalled")}

    def rates(t: dict) -> dict:
        return {**t, "precision": round(t["right"] / t["found"], 3) if t["found"] else None,
                "recall": round(t["recalled"] / t["labelled"], 3) if t["labelled"] else None}

    return {"sentences": len(labels), "overall": rates(total), "by_level": {k: rates(v) for k, v in tally.items()},
            "wrong": wrong, "missed": missed}


def timing(items: list[dict], count: int) -> dict:
    """Seconds to store these articles (places included) and to recognise their places alone."""
    from indexer import models, store

    chosen = items[:count]
    with tempfile.TemporaryDirectory() as folder:
        conn = store.connect(Path(folder) / "archive.sqlite3")
        started = time.perf_counter()
        for item in chosen:
            store.upsert_article(conn, models.Article(url=f"https://baomoi.example.vn/{item['id']}", source="baomoi",
                                                      title=item["title"], summary=item["sapo"], body=item["body"]))
        storing = time.perf_counter() - started
        conn.close()
    started = time.perf_counter()
    for item in chosen:
        place_mentions.article_places(vtext.clean(item["title"]), vtext.clean(item["sapo"]), vtext.clean(item["body"]))
    recognising = time.perf_counter() - started
    return {"articles": len(chosen), "store_seconds": round(storing, 2), "recognise_seconds": round(recognising, 2),
            "recognise_share_of_storing": round(recognising / storing, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--draft", type=int, help="print a new sample of this many sentences to label")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--timing", type=int, help="also time storing and recognising this many articles")
    parser.add_argument("--out", type=Path, default=RESULTS / "places.json")
    args = parser.parse_args(argv)
    items = read_corpus(args.corpus, 10**9)
    if args.draft:
        for row in draft(items, args.draft, args.seed):
            print(json.dumps(row, ensure_ascii=False))
        return
    labels = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = evaluate({item["id"]: item for item in items}, labels)
    if args.timing:
        result["timing"] = timing(items, args.timing)
    save_result(args.out, {"command": " ".join(sys.argv), **result})
    print(json.dumps({k: result[k] for k in ("sentences", "overall", "by_level", "timing") if k in result},
                     ensure_ascii=False, indent=1))
    for kind in ("wrong", "missed"):
        print(f"{kind}: {len(result[kind])}")
        for row in result[kind]:
            print("  ", json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
