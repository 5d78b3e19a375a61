"""Body extraction on real pages with hand-marked article text (a set such as shared/extraction-dev).

    python -m bench.extraction DIR [--extractor ours|trafilatura] [--worst 5] [--json FILE]
    python -m bench.extraction DIR --leave-one-site-out CLUTTERED_CONTAINER=1.2,1.3,1.5,2 [...]

DIR holds `ground-truth.json` ({key: {"url", "articleBody"}}) and `html/<key>.html.gz` (the bytes
as served). Score per page, as the set's README defines it: word 4-shingles (`\\w+`, case-folded),
TP = shared shingles, FP = extra predicted, FN = missing, normalised to sum 1; precision and recall
averaged over pages, F1 from the two averages. A rejected page is an empty prediction. `ours` is
the project's extractor (lead and body joined, as they are indexed); `trafilatura` is the library
alone with its defaults, for comparison. Pages go through the crawler's own decoding.

`--leave-one-site-out` checks the extractor's tuned constants (`indexer.extract`'s, each with the
values to try; several make a grid) as a held-out set would: each site's pages are scored with the
values that do best on the other sites' pages, never with values chosen on that site.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import indexer.extract
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
    return {"extractor": extractor, "pages": len(pages), **scores(pages),
            "rejected": rejected, "pages_per_second": round(len(pages) / seconds, 1), "per_page": pages}


def scores(pages: list[dict]) -> dict[str, float]:
    """Precision and recall averaged over pages, F1 of the two averages."""
    precision = statistics.fmean(p["precision"] for p in pages)
    recall = statistics.fmean(p["recall"] for p in pages)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0}


@contextlib.contextmanager
def _constants(values: dict[str, float]) -> Iterator[None]:
    before = {name: getattr(indexer.extract, name) for name in values}
    try:
        for name, value in values.items():
            setattr(indexer.extract, name, value)
        yield
    finally:
        for name, value in before.items():
            setattr(indexer.extract, name, value)


def leave_one_site_out(folder: Path, grid: dict[str, list[float]]) -> dict:
    """Our extractor with each site's pages scored at the grid point that does best on every other
    site's pages (a site: a URL's host), beside the shipped constants."""
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    runs = []
    for point in points:
        with _constants(point):
            runs.append(evaluate(folder, "ours")["per_page"])
    site_of = {page["key"]: urlparse(page["url"] or "").hostname or page["key"] for page in runs[0]}
    held_out, chosen = [], Counter()
    shipped = {name: getattr(indexer.extract, name) for name in grid}
    for site in sorted(set(site_of.values())):
        best = max(range(len(points)),  # a tie goes to the shipped values
                   key=lambda i: (scores([p for p in runs[i] if site_of[p["key"]] != site])["f1"],
                                  points[i] == shipped))
        pages = [p for p in runs[best] if site_of[p["key"]] == site]
        held_out += pages
        chosen[json.dumps(points[best])] += len(pages)
    return {"sites": len(set(site_of.values())), "pages": len(held_out), "held_out": scores(held_out),
            "shipped": {**shipped, **scores(evaluate(folder, "ours")["per_page"])}, "chosen": dict(chosen)}


def _grid_entry(text: str) -> tuple[str, list[float]]:
    name, _, values = text.partition("=")
    if not hasattr(indexer.extract, name) or not values:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=V1,V2,... with NAME a constant of indexer.extract")
    return name, [float(v) for v in values.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--extractor", choices=sorted(EXTRACTORS), action="append")
    parser.add_argument("--worst", type=int, default=5, help="list the N pages with the lowest F1")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--leave-one-site-out", action="append", type=_grid_entry, metavar="NAME=V1,V2,...",
                        help="score each site with the constants chosen on the other sites; repeatable (a grid)")
    args = parser.parse_args(argv)
    if args.leave_one_site_out:
        result = leave_one_site_out(args.folder, dict(args.leave_one_site_out))
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
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
