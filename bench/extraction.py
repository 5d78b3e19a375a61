"""Body extraction on real pages with hand-marked article text (a set such as shared/extraction-dev).

    python -m bench.extraction DIR [--extractor ours|trafilatura] [--worst 5] [--json FILE]

DIR holds `ground-truth.json` ({key: {"url", "articleBody"}}) and `html/<key>.html.gz` (the bytes
as served). Score per page, as the set's README defines it: word 4-shingles (`\\w+`, case-folded),
TP = shared shingles, FP = extra predicted, FN = missing, normalised to sum 1; precision and recall
averaged over pages, F1 from the two averages. A rejected page is an empty prediction. `ours` is
the project's extractor (lead and body joined, as they are indexed); `trafilatura` is the library
alone with its defaults, for comparison. Pages go through the crawler's own decoding.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from indexer.decode import DecodeError, decode_html
from indexer.extract import ExtractionError, extract_article

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = 4) -> Counter:
    words = [w.casefold() for w in _WORD.findall(text)]
    return Counter(tuple(words[i:i + size]) for i in range(max(0, len(words) - size + 1)))


def page_scores(predicted: str, truth: str) -> tuple[float, float]:
    """(precision, recall) of one page from normalised TP, FP, FN."""
    guess, gold = shingles(predicted), shingles(truth)
    tp = sum((guess & gold).values())
    fp, fn = sum(guess.values()) - tp, sum(gold.values()) - tp
    total = tp + fp + fn
    if not total:
        return 1.0, 1.0
    tp, fp, fn = tp / total, fp / total, fn / total
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def extract_ours(html: str, url: str) -> str:
    article = extract_article(html, url, "bench")
    return "\n\n".join(filter(None, [article.summary, article.body]))


def extract_trafilatura(html: str, url: str) -> str:
    import trafilatura

    text = trafilatura.extract(html, url=url)
    if not text:
        raise ExtractionError("trafilatura found no text")
    return text


EXTRACTORS = {"ours": extract_ours, "trafilatura": extract_trafilatura}


def evaluate(folder: Path, extractor: str = "ours") -> dict:
    truth = json.loads((folder / "ground-truth.json").read_text())
    run = EXTRACTORS[extractor]
    pages, rejected, seconds = [], [], 0.0
    for key, item in sorted(truth.items()):
        raw = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        started = time.perf_counter()
        try:
            predicted = run(decode_html(raw), item.get("url") or "https://example.org/")
        except (ExtractionError, DecodeError) as exc:
            predicted = ""
            rejected.append(f"{key[:12]}: {exc}")
        seconds += time.perf_counter() - started
        precision, recall = page_scores(predicted, item["articleBody"])
        pages.append({"key": key, "url": item.get("url"), "precision": precision, "recall": recall})
    precision = statistics.fmean(p["precision"] for p in pages)
    recall = statistics.fmean(p["recall"] for p in pages)
    return {"extractor": extractor, "pages": len(pages), "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(2 * precision * recall / (precision + recall), 4),
            "rejected": rejected, "pages_per_second": round(len(pages) / seconds, 1), "per_page": pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--extractor", choices=sorted(EXTRACTORS), action="append")
    parser.add_argument("--worst", type=int, default=5, help="list the N pages with the lowest F1")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = [evaluate(args.folder, name) for name in args.extractor or ["ours"]]
    for result in results:
        print(f"{result['extractor']:<12} pages {result['pages']}  P {result['precision']:.3f}  "
              f"R {result['recall']:.3f}  F1 {result['f1']:.3f}  rejected {len(result['rejected'])}  "
              f"{result['pages_per_second']} pages/s")
        for reason in result["rejected"]:
            print(f"    rejected {reason}")
        scored = sorted(result["per_page"], key=lambda p: p["precision"] + p["recall"])[:args.worst]
        for page in scored:
            print(f"    P {page['precision']:.2f} R {page['recall']:.2f}  {page['key'][:12]}  {page['url']}")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "per_page"} for r in results],
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
