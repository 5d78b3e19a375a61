"""The crawler against a fixture website on 127.0.0.1 (no other address is ever contacted)."""
import sqlite3

import pytest

from fixtures.site import SOURCES_TOML, expected_articles
from indexer import store
from indexer.crawl import ArchiveSink, Crawler, Fetcher, SourcesError, load_sources, normalize_url


@pytest.fixture()
def sources(site, tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES_TOML.format(base=site.base))
    return load_sources(path)


class Clock:
    """Records the pauses the fetcher asks for instead of sleeping through them."""

    def __init__(self):
        self.pauses = []

    def __call__(self, seconds):
        self.pauses.append(seconds)


def crawl_all(db, sources, clock=None):
    conn = store.connect(db)
    crawler = Crawler(ArchiveSink(conn), Fetcher(timeout=1.0, retries=3, backoff=0.01, sleep=clock or Clock()))
    reports = {s.name: crawler.crawl(s) for s in sources}
    return conn, reports


def articles_by_title(conn):
    return {r["title"]: r for r in conn.execute("SELECT * FROM articles")}


def test_first_crawl_stores_every_article_with_every_field(site, sources, tmp_path):
    conn, _reports = crawl_all(tmp_path / "a.sqlite3", sources)
    stored = articles_by_title(conn)
    assert len(stored) == 9, sorted(stored)  # 4 CMS (one only in the sitemap), 3 WP, 2 old

    cms = stored["Hội nghị triển khai công tác phòng chống thiên tai năm 2021"]
    assert cms["url"] == f"{site.base}/cms/bai/hoi-nghi-phong-chong-thien-tai-2021.html"
    assert cms["source"] == "cms" and cms["published_at"] == "2021-03-12T15:20:00+07:00"
    assert cms["author"] == "Minh Châu" and cms["category"] == "Phòng chống thiên tai"
    assert cms["summary"] == "Sáng 12/3/2021, Ban Chỉ huy Phòng chống thiên tai huyện tổ chức hội nghị triển khai nhiệm vụ."
    assert cms["body"] == ("Năm 2020, trên địa bàn huyện xảy ra 3 đợt mưa lớn, làm 126 ngôi nhà bị tốc mái.\n\n"
                           "Năm 2021, các xã rà soát phương án ứng phó với bão mạnh và kiểm tra an toàn hồ đập.")

    wp = stored["Cử tri nô nức đi bầu cử đại biểu Quốc hội và HĐND các cấp"]
    assert wp["url"] == f"{site.base}/wp/2021/05/23/cu-tri-no-nuc-di-bau-cu/"
    assert wp["published_at"] == "2021-05-23T12:00:00+07:00" and wp["author"] == "Thanh Tâm"
    assert wp["category"] == "Bầu cử"
    assert wp["summary"] == "Ngày 23/5/2021, hơn 95.000 cử tri đã đến 112 khu vực bỏ phiếu."
    assert wp["body"].startswith("Tổ bầu cử mang hòm phiếu phụ") and wp["body"].endswith("đạt 99,6%.")
    assert "Bình luận" not in wp["body"] and "Chia sẻ" not in wp["body"]

    old = stored["Khống chế bệnh dịch tả lợn châu Phi"]  # windows-1258, decomposed tone marks
    assert old["published_at"] == "2019-07-25T15:45:00+07:00" and old["author"] == "Thanh Tâm"
    assert old["category"] == "Nông nghiệp" and old["summary"] == "Bệnh dịch tả lợn châu Phi xuất hiện tại 7 xã của huyện."
    assert old["body"].startswith("Huyện thành lập các chốt kiểm dịch") and "Bản quyền" not in old["body"]
    import unicodedata
    assert all(unicodedata.is_normalized("NFC", old[k]) for k in ("title", "summary", "body"))

    truncated = stored["Khai giảng lớp bồi dưỡng kiến thức quốc phòng an ninh"]
    assert truncated["body"].endswith("trong tình hình mới.")
    assert "Bài số" not in " ".join(stored)


def test_faults_are_reported_and_do_not_stop_the_crawl(site, sources, tmp_path):
    conn, reports = crawl_all(tmp_path / "a.sqlite3", sources)
    failures = {url: reason for r in reports.values() for url, reason in r.failures}
    assert failures[f"{site.base}/cms/bai/khong-ton-tai.html"] == "HTTP 404"
    assert failures[f"{site.base}/wp/2021/05/01/trang-treo-qua-thoi-gian/"] == "timed out"
    assert failures[f"{site.base}/old/index.php?option=com_content&view=article&id=999"].startswith("not HTML")
    assert reports["cms"].counts["skipped_robots"] == 1
    assert not any("mat-noi-bo" in r["url"] for r in conn.execute("SELECT url FROM articles"))
    assert not any(path.endswith(".pdf") for path, _ in site.requests)  # PDF links are never fetched
    assert not any("/category/phong-chong" in path for path, _ in site.requests)  # a category, not a story
    assert site.hits["/cms/bai/flaky.html"] == 3  # failed twice, then stored
    assert "Tiêm vắc xin phòng Covid-19 đợt 1" in articles_by_title(conn)
    # the redirect and the tracking-parameter duplicate end up as one article each
    assert conn.execute("SELECT count(*) FROM articles WHERE title = 'Lễ giao nhận quân năm 2021'").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM articles WHERE url LIKE '%utm_%' OR url LIKE '%#%'").fetchone()[0] == 0
    assert all(not r.source_failed for r in reports.values())


def test_second_crawl_sends_conditional_requests_and_stores_nothing(site, sources, tmp_path):
    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    before = conn.execute("SELECT id, updated_at FROM articles ORDER BY id").fetchall()
    site.requests.clear()
    conn, reports = crawl_all(tmp_path / "a.sqlite3", sources)
    assert sum(r.counts["new"] + r.counts["updated"] for r in reports.values()) == 0
    assert sum(r.counts["not_modified"] for r in reports.values()) >= 7
    article_requests = [h for path, h in site.requests if "/bai/" in path or "view=article" in path or "/20" in path]
    conditional = [h for h in article_requests if "If-None-Match" in h]
    assert len(conditional) >= 7
    assert [tuple(r) for r in conn.execute("SELECT id, updated_at FROM articles ORDER BY id")] == \
        [tuple(r) for r in before]


def test_changed_page_is_updated_not_duplicated(site, sources, tmp_path):
    from fixtures import site as fixture_site

    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    original = dict(fixture_site.CMS_ARTICLES["le-giao-nhan-quan-2021"])
    fixture_site.CMS_ARTICLES["le-giao-nhan-quan-2021"]["paras"] = ["Nội dung đã được cập nhật: 170 thanh niên lên đường nhập ngũ, vượt chỉ tiêu được giao."]
    try:
        conn, reports = crawl_all(tmp_path / "a.sqlite3", sources)
    finally:
        fixture_site.CMS_ARTICLES["le-giao-nhan-quan-2021"] = original
    assert reports["cms"].counts["updated"] == 1
    row = conn.execute("SELECT body FROM articles WHERE title = 'Lễ giao nhận quân năm 2021'").fetchall()
    assert [r[0] for r in row] == ["Nội dung đã được cập nhật: 170 thanh niên lên đường nhập ngũ, vượt chỉ tiêu được giao."]


def test_per_host_delay_is_requested(site, sources, tmp_path):
    clock = Clock()
    crawl_all(tmp_path / "a.sqlite3", [s for s in sources if s.name == "wp"], clock)
    assert clock.pauses and max(clock.pauses) <= 1.0 and sum(1 for p in clock.pauses if p > 0.5) >= 3


def test_a_source_whose_listing_fails_is_a_failed_source(site, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'[[source]]\nname = "down"\nbase_url = "{site.base}/nowhere/"\n'
                    f'start_urls = ["{site.base}/nowhere/list"]\ndelay_seconds = 0\n')
    _conn, reports = crawl_all(tmp_path / "a.sqlite3", load_sources(path))
    assert reports["down"].source_failed and "HTTP 404" in reports["down"].failures[0][1]


def test_failed_pages_never_touch_stored_articles(site, sources, tmp_path):
    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    server_routes = site.route
    site.route = lambda path: (500, {"Content-Type": "text/plain"}, b"down") if "/bai/" in path else server_routes(path)
    conn, reports = crawl_all(tmp_path / "a.sqlite3", sources)
    assert reports["cms"].counts["failed"] >= 3
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == count
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_each_source_is_known_by_its_own_name(site, sources, tmp_path):
    """A configured title wins over the pages' og:site_name, which wins over the key; a title
    removed from sources.toml gives way to the pages' name at the next page stored."""
    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    titles = {s["source"]: s["title"] for s in store.list_sources(conn)}
    assert titles == {"cms": "Cổng TTĐT huyện", "old": "Trang thông tin xã Phú Lâm (cũ)", "wp": "wp"}
    store.set_source_title(conn, "cms", "Cổng thông tin điện tử huyện Minh Sơn", configured=True)
    store.set_source_title(conn, "cms", "Cổng TTĐT huyện", configured=False)  # a page's name
    assert store.list_sources(conn)[0]["title"] == "Cổng thông tin điện tử huyện Minh Sơn"
    store.set_source_title(conn, "cms", None, configured=True)  # the title left sources.toml
    store.set_source_title(conn, "cms", "Cổng TTĐT huyện", configured=False)
    assert store.list_sources(conn)[0]["title"] == "Cổng TTĐT huyện"


def test_sources_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[source]]\nname = "a"\nbase_url = "http://127.0.0.1/"\nstart_urls = ["http://127.0.0.1/"]\n'
                    'delay = 2\n')
    with pytest.raises(SourcesError, match=r"line 5: unknown key 'delay'"):
        load_sources(path)
    path.write_text('[[source]]\nname = "a"\n')
    with pytest.raises(SourcesError, match="missing required key 'base_url'"):
        load_sources(path)
    path.write_text('[[source]\nname = "a"\n')
    with pytest.raises(SourcesError, match="line 1"):
        load_sources(path)
    path.write_text('[[source]]\nname = "a"\nbase_url = "http://127.0.0.1/"\nstart_urls = ["http://127.0.0.1/"]\n'
                    'title = " "\n')
    with pytest.raises(SourcesError, match="title must be"):
        load_sources(path)


def test_committed_sources_example_is_valid():
    from pathlib import Path

    sources = load_sources(Path(__file__).resolve().parent.parent / "data" / "sources.toml")
    assert [s.name for s in sources] == ["minhson", "phulam"] and sources[1].selectors.body == ".noidung"


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTP://Example.ORG:80/a/b.html?utm_source=x&id=5&fbclid=y#top", "http://example.org/a/b.html?id=5"),
    ("https://example.org:443", "https://example.org/"),
    ("/tin-tuc/a.html?gclid=1", "https://portal.example/tin-tuc/a.html"),
])
def test_normalize_url(url, expected):
    assert normalize_url(url, "https://portal.example/") == expected


def test_crawl_state_is_kept(site, sources, tmp_path):
    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    rows = {r["url"]: r for r in conn.execute("SELECT * FROM crawl_pages")}
    flaky = rows[f"{site.base}/cms/bai/flaky.html"]
    assert flaky["status"] == "stored" and flaky["etag"] and flaky["content_hash"]
    assert rows[f"{site.base}/cms/bai/khong-ton-tai.html"]["reason"] == "HTTP 404"
    assert isinstance(conn, sqlite3.Connection)


def test_cli_exit_code_is_nonzero_only_when_a_whole_source_fails(site, tmp_path, monkeypatch, capsys):
    from indexer.__main__ import main

    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path))
    good = tmp_path / "good.toml"
    good.write_text(SOURCES_TOML.format(base=site.base).split('[[source]]\nname = "wp"')[0])  # the CMS only
    assert main(["crawl", "--sources", str(good)]) == 0
    assert "cms: fetched" in capsys.readouterr().out
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(good.read_text() + f'\n[[source]]\nname = "down"\nbase_url = "{site.base}/x/"\n'
                                        f'start_urls = ["{site.base}/x/list"]\ndelay_seconds = 0\n')
    assert main(["crawl", "--sources", str(mixed)]) == 3
    assert "SOURCE FAILED" in capsys.readouterr().out
    assert main(["crawl", "--sources", str(mixed), "--source", "nope"]) == 2


def test_every_field_of_every_fixture_article(site, sources, tmp_path):
    conn, _ = crawl_all(tmp_path / "a.sqlite3", sources)
    stored = articles_by_title(conn)
    truth = expected_articles(site.base)
    wrong = [(title, name, stored[title][name] if title in stored else None)
             for title, fields in truth.items() for name, value in fields.items()
             if title not in stored or stored[title][name] != value]
    assert len(truth) == 9 and wrong == []


def test_a_template_that_leaves_most_of_its_sample_no_article_is_dropped(tmp_path):
    """Stories that repeat one another's text (one notice republished under new titles) make every
    paragraph look like the site's own: the template learned from them leaves each page no body.
    It is dropped: every page is extracted alone, once, and nothing is saved for the next crawl."""
    from fixtures.site import CMS_ARTICLES, FixtureSite
    from indexer.crawl.crawler import SAMPLE_PAGES

    site = FixtureSite(hang_seconds=2.5, extra_cms=12)
    server = site.serve()
    try:
        path = tmp_path / "sources.toml"
        path.write_text(SOURCES_TOML.format(base=site.base))
        conn, reports = crawl_all(tmp_path / "a.sqlite3", [s for s in load_sources(path) if s.name == "cms"])
    finally:
        server.shutdown()
    report = reports["cms"]
    assert report.template_learned and report.template_dropped and "DROPPED" in report.completeness()
    assert 2 * report.counts["template_misfits"] > SAMPLE_PAGES >= report.counts["template_misfits"]  # the sample only
    assert store.source_template(conn, "cms") is None
    copies = [r for r in articles_by_title(conn).values() if r["title"].startswith("Bài số ")]
    assert len(copies) == 12 and {r["body"] for r in copies} == {"\n\n".join(CMS_ARTICLES["le-giao-nhan-quan-2021"]["paras"])}
