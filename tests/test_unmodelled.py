"""The crawler on four layouts nobody modelled (fixtures/unmodelled.py), given only name, base_url and
start_urls: it learns each site's template, tells listings from articles by structure, follows
"load more" buttons and an unnamed /sitemap.xml, and says what it skipped and why."""
import pytest

from fixtures.portals import PortalSite, stories_of
from fixtures.portals import crawl_portal as crawl
from fixtures.stories import STORIES
from fixtures.unmodelled import UNMODELLED, UNMODELLED_UNLISTED
from indexer import store
from indexer.crawl import Fetcher
from indexer.crawl.probe import probe, report, site_source
from indexer.extract import NotAnArticle, extract_article
from indexer.template import learn


@pytest.fixture(scope="module")
def portals():
    site = PortalSite(layouts=UNMODELLED, unlisted=UNMODELLED_UNLISTED)
    server = site.serve()
    yield site
    server.shutdown()



@pytest.mark.parametrize("name", list(UNMODELLED))
def test_every_article_every_field_and_nothing_else(portals, name, tmp_path):
    conn, report = crawl(portals, name, tmp_path)
    assert portals.mistakes(name, conn) == []  # every article, every field, and nothing that is not one
    truth = portals.truth(name)
    assert report.failures == [] and report.template_learned and report.template_pages == report.articles_found
    assert "GAP" not in report.completeness()
    _, again = crawl(portals, name, tmp_path)  # a second crawl of the unchanged portal stores nothing
    assert again.counts["new"] == again.counts["updated"] == 0 and again.counts["unchanged"] == len(truth)


def test_pages_that_are_no_articles_are_skipped_with_their_reason(portals, tmp_path):
    """A menu's link to another category's listing (an article-like URL) and the district's own page."""
    for name, page, reason in (("oldphp", "/index.php?mod=news&cat=106", "a listing page"),
                               ("nfdheader", "/gioi-thieu.html", "linked from every listing page, and it has no date")):
        conn, report = crawl(portals, name, tmp_path / name)
        row = store.crawl_page(conn, f"{portals.base}/{name}{page}")
        assert row["status"] == "skipped" and reason in row["reason"], name
        assert report.counts["not_articles"] == 1 and report.skipped[0][0].endswith(page)
        assert "no article 1" in report.completeness()
        _, again = crawl(portals, name, tmp_path / name)
        assert again.counts["not_articles"] == 1 and again.counts["new"] == 0


def test_load_more_buttons_and_an_unnamed_sitemap_are_followed(portals, tmp_path):
    portals.requests.clear()
    _, report = crawl(portals, "loadmore", tmp_path)
    assert "GET /loadmore/ajax/danh-sach-tin?trang=3" in portals.requests  # the button's data-url, twice
    assert "GET /loadmore/sitemap.xml" in portals.requests and report.feeds_read == 1
    assert len(report.only_in_feeds) == 1 and report.articles_found == 6
    assert "LISTING PAGES MISSED 1" in report.completeness()
    assert report.counts["failed"] == 0  # the root /sitemap.xml that is not there is no failure


def test_a_template_learned_on_some_pages_cleans_others():
    """Learned from three pages of the old PHP portal, the template keeps its poll, visit counter
    and menu out of a fourth page's body (and the counter still matches with other numbers)."""
    layout = UNMODELLED["oldphp"]
    stories = stories_of(list(UNMODELLED).index("oldphp"))
    pages = [layout.article("", s) for s in stories[:3]]
    template = learn(pages)
    assert template is not None and template.pages == 3
    other = layout.article("", stories[3]).replace("1.234.567", "1.240.112")
    alone = extract_article(other, "https://x.example.vn/index.php?id=1", "x")
    learned = extract_article(other, "https://x.example.vn/index.php?id=1", "x", template=template)
    assert "Thăm dò ý kiến" in alone.body
    assert learned.body == stories[3].body and learned.summary == stories[3].lead
    assert learn(pages[:2]) is None  # two pages are too few to tell a site from a story


def test_a_listing_is_told_by_its_structure_not_its_url():
    items = "".join(f'<div class="item"><a href="/index.php?id={k}">Tin số {k} về hoạt động của huyện trong tuần</a>'
                    f"<p>Tóm tắt tin số {k}: huyện triển khai nhiều hoạt động trong tuần qua.</p></div>" for k in range(5))
    with pytest.raises(NotAnArticle, match="a listing page"):
        extract_article(f"<html><body><h1>Tin tức</h1>{items}</body></html>", "https://x.example.vn/index.php?id=9", "x")
    story = STORIES[0]
    related = "".join(f'<li><a href="/tin/{s.key}.html">{s.title}</a></li>' for s in STORIES[1:5])
    page = (f"<html><body><h1>{story.title}</h1><p>{story.lead}</p>"
            + "".join(f"<p>{p}</p>" for p in story.paras) + f"<h3>Tin khác</h3><ul>{related}</ul></body></html>")
    assert extract_article(page, "https://x.example.vn/tin/a.html", "x").title == story.title  # related list: still an article


def test_probe_shows_an_article_that_has_a_menu_and_related_links(portals):
    name = "nfdheader"
    story = stories_of(list(UNMODELLED).index(name))[0]
    url = f"{portals.base}/{name}{UNMODELLED[name].article_path(story)}"
    result = probe(url, site_source(url), Fetcher(timeout=2.0, retries=1, delay=0))
    assert result.article is not None and result.article.title == story.title
    shown = report(result)
    assert "never stores it as an article" not in shown and "title     " + story.title in shown
