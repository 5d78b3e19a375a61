"""Crawler figures on fixture websites (loopback only): articles found, fields right, throughput.

    python -m bench.crawl [--extra 200] [--runs 3]

Fields: crawls the three sources of fixtures/site.py and the ten portal layouts of
fixtures/portals.py (each given only name, base_url and start_urls) into temporary archives, and
compares every stored field (title, date, author, category, lead, body) with the ground truth.
Throughput: pages fetched per second over a crawl of fixtures/site.py with `--extra` generated
CMS articles and no politeness delay, median of `--runs` crawls (each into a fresh archive).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fixtures import site as fx
from indexer import store
from indexer.crawl import ArchiveSink, Crawler, Fetcher, load_sources


def crawl_once(site: fx.FixtureSite, workdir: Path) -> tuple[object, dict, float, int]:
    sources_file = workdir / "sources.toml"
    no_delay = fx.SOURCES_TOML.replace('name = "wp"', 'name = "wp"\ndelay_seconds = 0')
    sources_file.write_text(no_delay.format(base=site.base))
    conn = store.connect(workdir / "archive.sqlite3")
    crawler = Crawler(ArchiveSink(conn), Fetcher(timeout=1.0, retries=3, backoff=0.01, delay=0))
    started = time.perf_counter()
    reports = {s.name: crawler.crawl(s) for s in load_sources(sources_file)}
    elapsed = time.perf_counter() - started
    fetched = sum(r.counts["fetched"] for r in reports.values())
    return conn, reports, elapsed, fetched


def portal_fields(kind: str = "modelled") -> tuple[int, int, int, int, list[str]]:
    """(articles found, articles published, fields right, fields checked, what was wrong) over the
    ten portal layouts (`modelled`), the four unmodelled ones (fixtures/unmodelled.py) or the three
    held out (fixtures/heldout.py). An article stored that the portal did not publish (a listing,
    an about page) counts as a field wrong."""
    from fixtures.heldout import HELD_OUT
    from fixtures.portals import PortalSite, crawl_portal
    from fixtures.unmodelled import UNMODELLED, UNMODELLED_UNLISTED

    site = {"modelled": PortalSite, "unmodelled": lambda: PortalSite(layouts=UNMODELLED, unlisted=UNMODELLED_UNLISTED),
            "heldout": lambda: PortalSite(layouts=HELD_OUT, unlisted={})}[kind]()
    server = site.serve()
    found = published = right = checked = 0
    wrong: list[str] = []
    try:
        for name in site.layouts:
            with tempfile.TemporaryDirectory() as tmp:
                conn, _ = crawl_portal(site, name, Path(tmp))
                mistakes = site.mistakes(name, conn)
                conn.close()
            truth = site.truth(name)
            per_story = 1 + len(next(iter(truth.values())))  # found, then each field
            missing = sum(field == "missing" for _, field, _, _ in mistakes)
            junk = sum(field == "not an article" for _, field, _, _ in mistakes)
            published += len(truth)
            found += len(truth) - missing
            checked += len(truth) * per_story + junk
            right += len(truth) * per_story + junk - missing * per_story - (len(mistakes) - missing)
            wrong += [f"{name}: {title[:40]}… {field}" for title, field, _, _ in mistakes]
    finally:
        server.shutdown()
    return found, published, right, checked, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=200, help="generated CMS articles for the throughput run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    site = fx.FixtureSite(hang_seconds=1.5)
    server = site.serve()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            conn, _, _, _ = crawl_once(site, Path(tmp))
            stored = {r["title"]: r for r in conn.execute("SELECT * FROM articles")}
            truth = fx.expected_articles(site.base)
            correct = total = 0
            wrong = []
            for title, fields in truth.items():
                row = stored.get(title)
                total += 1 + len(fields)
                correct += row is not None
                for name, value in fields.items():
                    ok = row is not None and row[name] == value
                    correct += ok
                    if not ok:
                        wrong.append(f"{title[:40]}… {name}: {row[name] if row else 'missing'!r}")
            print(f"extraction: {correct}/{total} fields correct over {len(truth)} fixture articles "
                  f"(title + 5 fields each)")
            for line in wrong:
                print("  wrong:", line)
        for label, kind in (("ten portal layouts", "modelled"), ("four unmodelled layouts", "unmodelled"),
                            ("three held-out layouts", "heldout")):
            found, published, right, checked, wrong = portal_fields(kind)
            print(f"{label}: {found}/{published} articles found, {right}/{checked} fields correct "
                  f"({right / checked:.1%})")
            for line in wrong:
                print("  wrong:", line)
        site.extra_cms = args.extra
        rates = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                _, _reports, elapsed, fetched = crawl_once(site, Path(tmp))
                rates.append(fetched / elapsed)
        print(f"throughput: median {statistics.median(rates):.1f} pages/s over {args.runs} crawls of "
              f"{fetched} fetches each ({args.extra} extra articles, no delay, includes one page that "
              f"hangs past the 1 s timeout three times)")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
