"""The crawler on ten portal layouts, given only name, base_url and start_urls (fixtures/portals.py)."""
import pytest

from fixtures.portal_layouts import LAYOUTS
from fixtures.portals import PortalSite
from fixtures.portals import crawl_portal as crawl
from indexer import store
from indexer.crawl import ArchiveSink, Crawler, Fetcher, load_sources


@pytest.fixture(scope="module")
def portals():
    site = PortalSite()
    server = site.serve()
    yield site
    server.shutdown()



@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_article_is_found_and_every_field_is_right(portals, name, tmp_path):
    conn, report = crawl(portals, name, tmp_path)
    assert portals.mistakes(name, conn) == []  # every article, every field, and nothing that is not one
    truth = portals.truth(name)
    assert report.listings_visited - report.listings_repeated == 3  # the three pages of the listing
    assert report.failures == [] and report.articles_found == len(truth)
    # a second crawl of the unchanged portal stores nothing
    _, again = crawl(portals, name, tmp_path)
    assert again.counts["new"] == again.counts["updated"] == 0 and again.counts["unchanged"] == len(truth)


def test_stories_only_in_a_sitemap_or_a_feed_are_found(portals, tmp_path):
    """robots.txt → sitemap index → gzipped sitemap (modern); <link rel=alternate> → RSS (drupal)."""
    for name, read in (("modern", 2), ("drupal", 1)):
        _conn, report = crawl(portals, name, tmp_path / name)
        assert report.feeds_read == read and report.articles_found == 6, name


def test_max_pages_bounds_listing_pages_and_sitemaps_together(portals, tmp_path):
    path = tmp_path / "modern.toml"
    path.write_text(portals.source_toml("modern") + "max_pages = 4\n")
    conn = store.connect(tmp_path / "archive.sqlite3")
    report = Crawler(ArchiveSink(conn), Fetcher(timeout=2.0, retries=1, backoff=0.01, delay=0)).crawl(load_sources(path)[0])
    assert report.listings_visited + report.feeds_read == 4 and report.listings_left == 1


def test_aspnet_pagination_is_followed_by_posting_the_form_back(portals, tmp_path):
    portals.requests.clear()
    crawl(portals, "aspnet", tmp_path)
    posts = [r for r in portals.requests if r.startswith("POST /aspnet/TinTuc/DanhSach.aspx")]
    assert len(posts) == 3  # pages 2 and 3, and page 1 again from page 2's pager (seen to repeat, not expanded)


def test_completeness_report_flags_months_without_an_article(portals, tmp_path):
    conn, report = crawl(portals, "wordpress", tmp_path)
    months = store.source_months(conn, "wordpress")
    assert report.oldest == min(r["published_day"] for r in conn.execute("SELECT published_day FROM articles"))
    assert report.empty_months and all(month not in months for month in report.empty_months)
    assert "MONTHS WITHOUT AN ARTICLE" in report.completeness()
    saved = store.last_crawl_runs(conn)["wordpress"]
    assert saved["articles_found"] == 5 and saved["empty_months"] == report.empty_months


def test_probe_prints_what_a_crawl_would_discover_and_extract(portals, capsys, monkeypatch, tmp_path):
    from fixtures.portals import stories_of
    from indexer.__main__ import main

    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path))
    assert main(["probe", f"{portals.base}/joomla/index.php/tin-tuc"]) == 0
    out = capsys.readouterr().out
    assert "article links (2)" in out and "?start=2" in out and "a listing page" in out
    story = stories_of(list(LAYOUTS).index("joomla"))[0]
    assert main(["probe", f"{portals.base}/joomla" + LAYOUTS["joomla"].article_path(story)]) == 0
    out = capsys.readouterr().out
    for value in (story.title, story.published_at, story.author, story.category, story.lead[:40]):
        assert value in out
    # a selector tried on the command line overrides the generic rules
    assert main(["probe", f"{portals.base}/joomla" + LAYOUTS["joomla"].article_path(story),
                 "--selector", "category=.createdby"]) == 0
    assert f"category  Viết bởi {story.author}" in capsys.readouterr().out
    assert main(["probe", f"{portals.base}/joomla/khong-co", "--selector", "colour=.x"]) == 2
