"""A crawl of a hostile portal ends, records every page with its reason, stores the good ones, and
never requests, stores or overwrites anything off its own site."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.hostile import FORGED_CANONICALS, HOSTILE_PAGES, HostileSite, OtherHost
from indexer import models, store
from indexer.crawl import ArchiveSink, Crawler, Fetcher, load_sources

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def other():
    host = OtherHost()
    server = host.serve()
    yield host
    server.shutdown()


@pytest.fixture()
def hostile(other):
    site = HostileSite(other.base)
    server = site.serve()
    yield site
    server.shutdown()


def crawl(site: HostileSite, tmp_path: Path, **toml):
    path = tmp_path / "s.toml"
    path.write_text(site.source_toml(**toml))
    conn = store.connect(tmp_path / "a.sqlite3")
    fetcher = Fetcher(timeout=1.0, deadline=2.0, retries=2, backoff=0.01, max_bytes=1_000_000, delay=0)
    return conn, Crawler(ArchiveSink(conn), fetcher).crawl(load_sources(path)[0])


def test_every_fault_is_recorded_with_its_reason_and_the_crawl_ends(hostile, other, tmp_path):
    conn, report = crawl(hostile, tmp_path, max_pages=10)
    pages = {row["url"][len(hostile.base):]: row for row in conn.execute("SELECT * FROM crawl_pages")}
    for page, reason in HOSTILE_PAGES.items():
        assert pages[page]["status"] == "failed" and reason in pages[page]["reason"], (page, pages[page]["reason"])
    assert "→" in pages["/bai/vong-chuyen-huong-a.html"]["reason"]  # the loop is spelled out
    # endless pagination stops at max_pages, and says so
    assert report.listings_visited == 10 and report.listings_left == 1
    assert "stopped at max_pages" in report.completeness()
    # the ordinary articles among them are stored, and the forged ones under their own address only
    stored = {row["url"]: row for row in conn.execute("SELECT url, source FROM articles")}
    ordinary = [u for u in stored if "/bai/tin-so-" in u or "binh-thuong" in u]
    assert len(ordinary) == 10
    assert set(stored) - set(ordinary) == {hostile.base + page for page in FORGED_CANONICALS}
    assert report.counts["failed"] == len(HOSTILE_PAGES)
    # each failure is counted by its kind, the class of what went wrong, not by its message
    assert report.refusals == {"TooSlow": 1, "Redirects": 1, "TooLarge": 5, "DecodeError": 1, "HTTPStatus": 1,
                               "Truncated": 1, "ExtractionError": 1, "OffSite": 1}
    assert "failures: TooLarge 5" in report.completeness() and report.as_dict()["refusals"]["OffSite"] == 1
    assert report.counts["skipped_robots"] == 1  # "Disallow: /*?in=" (RFC 9309 wildcard)
    assert pages["/bai/bai-viet-binh-thuong-ban-in.html?in=1"]["status"] == "robots"
    # nothing was requested of the other host: no redirect, feed, next page, story link or form post
    assert other.requests == []


def test_a_page_never_replaces_another_sources_article(hostile, other, tmp_path):
    conn = store.connect(tmp_path / "a.sqlite3")
    victim = models.Article(url=f"{other.base}/bai/bai-that-cua-nguon-khac.html", source="victim",
                            title="Bài thật của nguồn khác", body="Nội dung thật của bài viết. " * 10)
    store.upsert_article(conn, victim)
    conn.close()
    conn, _ = crawl(hostile, tmp_path, max_pages=1)
    row = conn.execute("SELECT source, title FROM articles WHERE url = ?", (victim.url,)).fetchone()
    assert (row["source"], row["title"]) == ("victim", "Bài thật của nguồn khác")
    # and the store itself refuses, whatever the caller: only the article's own source replaces it
    forged = models.Article(url=victim.url, source="hostile", title="Giả mạo", body="Nội dung giả mạo. " * 10)
    with pytest.raises(models.ForeignArticle, match="victim"):
        store.upsert_article(conn, forged)
    urls = [r[0] for r in conn.execute("SELECT url FROM articles")]
    assert all(models.is_web_url(u) for u in urls) and hostile.base + "/bai/lien-ket-javascript.html" in urls


def test_only_web_addresses_are_stored(tmp_path):
    conn = store.connect(tmp_path / "a.sqlite3")
    for url in ("javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "/bai/tuong-doi.html"):
        with pytest.raises(ValueError, match="http"):
            store.upsert_article(conn, models.Article(url=url, source="s", title="T", body="Nội dung. " * 20))


@pytest.mark.parametrize("path", ["/bai/bom-brotli.html", "/bai/bom-gzip.html", "/bai/bom-deflate.html"])
def test_a_decompression_bomb_fails_its_page_within_bounded_memory(hostile, path):
    """In a process of its own, the fetch of a bomb (BOMB_BYTES unpacked) raises at the size limit and
    its peak memory grows by far less than the bomb: the limit is counted while decoding."""
    script = f"""
import json, resource
from indexer.crawl import Fetcher, FetchError
fetcher = Fetcher(delay=0, retries=1)
fetcher.get({hostile.base + "/bai/bai-viet-binh-thuong.html"!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    fetcher.get({hostile.base + path!r})
    reason = None
except FetchError as exc:
    reason = str(exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({{"reason": reason, "grown_kib": grown}}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reason"] == "larger than 5000000 bytes decoded"
    assert result["grown_kib"] < 500 * 1024


def test_a_bomb_sitemap_fails_its_source_alone_and_the_next_source_is_crawled(hostile, site, tmp_path):
    """The nightly's crawl over two sources: the first's sitemap is a brotli bomb; the second is crawled."""
    from fixtures.site import SOURCES_TOML

    cms_only = SOURCES_TOML.format(base=site.base).split('[[source]]\nname = "wp"')[0]
    path = tmp_path / "s.toml"
    path.write_text(hostile.source_toml(max_pages=2, bomb_sitemap=True) + "\n" + cms_only)
    conn = store.connect(tmp_path / "a.sqlite3")
    crawler = Crawler(ArchiveSink(conn), Fetcher(timeout=1.0, deadline=2.0, retries=1, delay=0))
    hostile_source, cms = load_sources(path)
    first = crawler.crawl(hostile_source)
    second = crawler.crawl(cms)
    sitemap = conn.execute("SELECT status, reason FROM crawl_pages WHERE url = ?",
                           (hostile.base + "/sitemap-bom.xml",)).fetchone()
    assert sitemap["status"] == "failed" and "bytes decoded" in sitemap["reason"]
    assert first.source_failed is None and second.source_failed is None
    assert second.counts["new"] > 0 and second.listings_visited > 0


def test_any_failure_of_one_source_ends_that_source_with_its_reason(hostile, site, tmp_path, monkeypatch):
    """Whatever escapes a page's own handling (here a MemoryError while reading a listing) fails its
    source with the reason, and the crawl of the next source goes on."""
    from fixtures.site import SOURCES_TOML
    from indexer.crawl import crawler as crawler_module

    def exhausted(html, url, source):
        if source.name == "hostile":
            raise MemoryError("cannot allocate")
        return page_links(html, url, source)

    page_links = crawler_module.page_links
    monkeypatch.setattr(crawler_module, "page_links", exhausted)
    path = tmp_path / "s.toml"
    cms_only = SOURCES_TOML.format(base=site.base).split('[[source]]\nname = "wp"')[0]
    path.write_text(hostile.source_toml(max_pages=2) + "\n" + cms_only)
    conn = store.connect(tmp_path / "a.sqlite3")
    crawler = Crawler(ArchiveSink(conn), Fetcher(timeout=1.0, deadline=2.0, retries=1, delay=0))
    first, second = (crawler.crawl(source) for source in load_sources(path))
    assert first.source_failed == "crawl stopped: MemoryError: cannot allocate"
    assert "SOURCE FAILED" in first.summary() and second.source_failed is None
    assert crawler.fetcher.scope is None


@pytest.mark.parametrize(("url", "inside"), [
    ("https://huyen.example.vn/tin/a.html", True),
    ("http://huyen.example.vn/tin/a.html", True),          # http on 80 ↔ https on 443: the same site
    ("https://huyen.example.vn:8443/tin/a.html", False),   # another port is another server
    ("https://evil.example.vn/tin/a.html", False),
    ("https://cdn.example.vn/sitemap.xml", True),          # allowed_hosts
    ("http://127.0.0.1:8080/internal", False),
    ("javascript:alert(1)", False),
    ("ftp://huyen.example.vn/tin/a.html", False),
    ("https://huyen.example.vn:99999/x", False),           # a malformed port
])
def test_a_crawl_requests_only_its_own_site_and_allowed_hosts(url, inside, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[source]]\nname = "h"\nbase_url = "https://huyen.example.vn/"\n'
                    'start_urls = ["https://huyen.example.vn/tin"]\nallowed_hosts = ["cdn.example.vn"]\n')
    assert load_sources(path)[0].in_scope(url) is inside


def test_allowed_hosts_and_base_url_are_validated(tmp_path):
    from indexer.crawl.sources import SourcesError

    path = tmp_path / "s.toml"
    for bad, message in (('allowed_hosts = ["https://cdn.example.vn/"]', "allowed_hosts"),
                         ('allowed_hosts = "cdn.example.vn"', "allowed_hosts")):
        path.write_text(f'[[source]]\nname = "h"\nbase_url = "https://h.vn/"\nstart_urls = ["https://h.vn/"]\n{bad}\n')
        with pytest.raises(SourcesError, match=message):
            load_sources(path)
    path.write_text('[[source]]\nname = "h"\nbase_url = "file:///etc/"\nstart_urls = ["https://h.vn/"]\n')
    with pytest.raises(SourcesError, match="base_url must be an http"):
        load_sources(path)


def test_ingest_stores_web_addresses_only(tmp_path):
    """A saved page without a canonical URL once got file:///its/path as its address: now it fails
    with the reason, unless --base-url says where the pages were saved from."""
    from indexer.config import load_settings
    from indexer.pipeline import ingest_files

    pages = tmp_path / "pages" / "tin-tuc"
    pages.mkdir(parents=True)
    body = "<p>" + "Huyện tổ chức hội nghị tổng kết công tác phòng chống thiên tai năm 2021. " * 4 + "</p>"
    (pages / "hoi-nghi.html").write_text(f"<html><head><title>Hội nghị</title></head><body><h1>Hội nghị</h1>"
                                         f"<article>{body}</article></body></html>", encoding="utf-8")
    settings = load_settings({"data_dir": tmp_path / "data"})
    report = ingest_files(settings, [tmp_path / "pages"])
    assert report.counts["failed"] == 1 and "--base-url" in report.failures[0][1]
    report = ingest_files(settings, [tmp_path / "pages"], source="huyen", base_url="https://huyen.example.vn/luu-tru/")
    assert report.counts["new"] == 1
    conn = store.connect(settings.db_path)
    assert [r[0] for r in conn.execute("SELECT url FROM articles")] == [
        "https://huyen.example.vn/luu-tru/tin-tuc/hoi-nghi.html"]
