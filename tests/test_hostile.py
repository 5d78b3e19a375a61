"""A crawl of a hostile portal ends, records every page with its reason, and stores the good ones."""
import pytest

from fixtures.hostile import HOSTILE_PAGES, HostileSite
from indexer import store
from indexer.crawl import Crawler, Fetcher, load_sources


@pytest.fixture()
def hostile():
    site = HostileSite()
    server = site.serve()
    yield site
    server.shutdown()


def test_every_fault_is_recorded_with_its_reason_and_the_crawl_ends(hostile, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(hostile.source_toml(max_pages=10))
    conn = store.connect(tmp_path / "a.sqlite3")
    fetcher = Fetcher(timeout=1.0, deadline=2.0, retries=2, backoff=0.01, max_bytes=1_000_000, delay=0)
    report = Crawler(conn, fetcher).crawl(load_sources(path)[0])
    pages = {row["url"][len(hostile.base):]: row for row in conn.execute("SELECT * FROM crawl_pages")}
    for page, reason in HOSTILE_PAGES.items():
        assert pages[page]["status"] == "failed" and reason in pages[page]["reason"], (page, pages[page]["reason"])
    assert "→" in pages["/bai/vong-chuyen-huong-a.html"]["reason"]  # the loop is spelled out
    # endless pagination stops at max_pages, and says so
    assert report.listings_visited == 10 and report.listings_left == 1
    assert "stopped at max_pages" in report.completeness()
    # the ordinary articles among them are stored; nothing hostile is
    stored = [row["url"] for row in conn.execute("SELECT url FROM articles")]
    assert len(stored) == 10 and all("/bai/tin-so-" in u or "binh-thuong" in u for u in stored)
    assert report.counts["failed"] == len(HOSTILE_PAGES)
    assert report.counts["skipped_robots"] == 1  # "Disallow: /*?in=" (RFC 9309 wildcard)
    assert pages["/bai/bai-viet-binh-thuong-ban-in.html?in=1"]["status"] == "robots"

