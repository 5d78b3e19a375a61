"""How well the diacritics of a query typed without them are restored.

    python -m bench.restoration --eval ../shared/corpus/eval-dev-short [--show 10]
    python -m bench.restoration --eval ../shared/corpus/eval-dev

Each query typed without diacritics (`short_folded`, `title_folded`) has a twin with them
(`short`, `title`): the truth. Its runs of words are restored as the search restores them (the
archive's own syllable and syllable-pair statistics; a period's words kept, though the search
reads them as a date) and compared word by word, in canonical lower case: the share of words
right, and of queries with every word right, per kind. Words the twin itself writes without
diacritics count as they are.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.quality import DEFAULT_CACHE, eval_archive
from indexer import text as vtext
from service.search.query import restore_text


def canonical_words(text: str) -> list[str]:
    return [vtext.canonical_word(w) for w in vtext.words(vtext.normalize(text))]


def measure(eval_dir: Path, cache_dir: Path, show: int = 0) -> dict:
    """Per folded kind (`short_folded`, `title_folded`): queries, words, the share of words and of
    queries restored right, and up to `show` wrongly restored queries."""
    with eval_archive(eval_dir, cache_dir, progress=False) as (engine, _, queries):
        restore, _ = engine.restorers(engine.index.get())  # the words as the search restores them, dates kept
        truth = {tuple(q["qid"].rsplit("-", 1)): q["text"] for q in queries}
        counts: dict[str, dict] = {}
        for q in (q for q in queries if q["kind"].endswith("_folded")):
            article, kind = q["qid"].rsplit("-", 1)
            expected = canonical_words(truth[(article, kind.removesuffix("_folded"))])
            got = canonical_words(restore_text(vtext.normalize(q["text"]), restore))
            hits = sum(a == b for a, b in zip(got, expected)) if len(got) == len(expected) else 0
            row = counts.setdefault(kind, {"queries": 0, "words": 0, "right": 0, "queries_right": 0, "examples": []})
            row["queries"] += 1
            row["words"] += len(expected)
            row["right"] += hits
            row["queries_right"] += hits == len(expected)
            if hits < len(expected) and len(row["examples"]) < show:
                row["examples"].append(f"{q['text']!r}: restored {' '.join(got)!r}, typed {' '.join(expected)!r}")
    return {kind: {"queries": row["queries"], "words": row["words"],
                   "word_accuracy": round(row["right"] / row["words"], 4),
                   "query_accuracy": round(row["queries_right"] / row["queries"], 4), "examples": row["examples"]}
            for kind, row in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restoration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", required=True, type=Path, help="folder with docs.jsonl and queries.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="persistent passage-vector cache")
    parser.add_argument("--show", type=int, default=10, help="print this many wrongly restored queries")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.eval, args.cache_dir, args.show)
    for kind, row in result.items():
        print(f"{kind}: {row['queries']} queries, {row['words']} words: words right {row['word_accuracy']:.1%}, "
              f"queries fully right {row['query_accuracy']:.1%}")
        for line in row["examples"]:
            print("  ", line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
