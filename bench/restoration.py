"""How well the diacritics of a query typed without them are restored, on short queries.

    python -m bench.restoration --eval ../shared/corpus/eval-dev-short [--show 10]

Each `short_folded` query has a `short` twin with the diacritics as typed: the truth. The query
is restored as the search does it (the archive's own syllable and syllable-pair statistics) and
compared word by word, in canonical lower case: the share of words right, and of queries with
every word right. Words the twin itself writes without diacritics count as they are.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.quality import DEFAULT_CACHE, eval_archive
from indexer import text as vtext


def canonical_words(text: str) -> list[str]:
    return [vtext.canonical_word(w) for w in vtext.words(vtext.normalize(text))]


def measure(eval_dir: Path, cache_dir: Path, show: int = 0) -> dict:
    with eval_archive(eval_dir, cache_dir, progress=False) as (engine, _, queries):
        truth = {q["qid"].rsplit("-", 1)[0]: q["text"] for q in queries if q["kind"] == "short"}
        words = right = queries_right = total = 0
        wrong: list[str] = []
        for q in (q for q in queries if q["kind"] == "short_folded"):
            expected = canonical_words(truth[q["qid"].rsplit("-", 1)[0]])
            parsed = engine.parse(q["text"])
            got = canonical_words(parsed.restored or parsed.normalized)
            hits = sum(a == b for a, b in zip(got, expected)) if len(got) == len(expected) else 0
            words, right, total = words + len(expected), right + hits, total + 1
            queries_right += hits == len(expected)
            if hits < len(expected) and len(wrong) < show:
                wrong.append(f"{q['text']!r}: restored {' '.join(got)!r}, typed {' '.join(expected)!r}")
    return {"queries": total, "words": words, "word_accuracy": round(right / words, 4),
            "query_accuracy": round(queries_right / total, 4), "examples": wrong}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restoration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", required=True, type=Path, help="folder with docs.jsonl and queries.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="persistent passage-vector cache")
    parser.add_argument("--show", type=int, default=10, help="print this many wrongly restored queries")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.eval, args.cache_dir, args.show)
    print(f"{result['queries']} queries, {result['words']} words: words right {result['word_accuracy']:.1%}, "
          f"queries fully right {result['query_accuracy']:.1%}")
    for line in result["examples"]:
        print("  ", line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
