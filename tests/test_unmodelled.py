"""The crawler on four layouts nobody modelled (fixtures/unmodelled.py) and three written after it
(fixtures/heldout.py), given only name, base_url and start_urls: it learns each site's template,
tells listings from articles by structure, follows "load more" buttons and an unnamed
/sitemap.xml, and says what it skipped and why."""
from dataclasses import replace

import pytest

from fixtures.heldout import HELD_OUT
from fixtures.portals import PortalSite, stories_of
from fixtures.portals import crawl_portal as crawl
from fixtures.stories import STORIES
from fixtures.unmodelled import UNMODELLED, UNMODELLED_UNLISTED
from indexer import store
from indexer.crawl import ArchiveSink, Fetcher
from indexer.crawl.probe import probe, report, site_source
from indexer.extract import NotAnArticle, Selectors, extract_article
from indexer.page import html_to_article, learned_selectors
from indexer.template import learn, learn_fields


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
    assert {"title", "body"} <= set(report.template_fields)  # read where the site's pages hold them
    assert "fields read where the site's pages hold them: title `" in report.completeness()
    _, again = crawl(portals, name, tmp_path)  # a second crawl of the unchanged portal stores nothing
    assert again.counts["new"] == again.counts["updated"] == 0 and again.counts["unchanged"] == len(truth)
    assert again.template_fields == report.template_fields and not again.template_learned  # as saved


@pytest.mark.parametrize("name", list(HELD_OUT))
def test_layouts_written_after_the_crawler_give_every_article_and_every_field(name, tmp_path):
    """fixtures/heldout.py: layouts the crawler was not changed for (bench/README.md)."""
    site = PortalSite(layouts=HELD_OUT, unlisted={})
    server = site.serve()
    try:
        conn, report = crawl(site, name, tmp_path)
        assert site.mistakes(name, conn) == [] and report.failures == [] and "GAP" not in report.completeness()
    finally:
        server.shutdown()


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


def _signed_page(story, byline: str) -> str:
    """A portal that signs each story in a paragraph of a class no rule knows."""
    body = "".join(f"<p>{p}</p>" for p in story.paras)
    return (f'<html><head><title>{story.title}</title></head><body><div class="khung-bai"><h1>{story.title}</h1>'
            f'<div class="tom-tat"><b>{story.lead}</b></div><div class="noi-dung">{body}'
            f'<p class="ky-ten">{byline}</p></div></div></body></html>')


def test_fields_learned_where_most_pages_agree_read_a_page_the_rules_misread():
    """Six pages sign "Tin, ảnh: NAME", which the per-page rules read by its label; the seventh is
    signed by two reporters and no label, which they cannot tell from a sentence of the story. The
    site's pages agree on where the byline is, so the template reads it there on the seventh too."""
    pages = [(f"https://x.example.vn/tin/{s.key}.html", _signed_page(s, f"Tin, ảnh: {s.author}")) for s in STORIES[:6]]

    def extract(url, html, paths):
        return extract_article(html, url, "x", learned_selectors(None, paths))

    template = learn([html for _, html in pages])
    paths = learn_fields(pages, extract)
    assert paths["author"] == "div.khung-bai > div.noi-dung > p.ky-ten" and paths["body"] == "div.khung-bai > div.noi-dung"
    story, byline = STORIES[6], "Hoàng Lan - Đức Minh"
    odd = _signed_page(story, byline)
    alone = html_to_article(odd, "https://x.example.vn/tin/7.html", "x")
    read = html_to_article(odd, "https://x.example.vn/tin/7.html", "x", template=replace(template, fields=paths))
    assert alone.author == "" and byline in alone.body
    assert (read.author, read.summary, read.body) == (byline, story.lead, story.body)
    # what a source's sources.toml names wins over what was learned
    assert learned_selectors(Selectors(author=".tac-gia"), paths).author == ".tac-gia"
    assert learn_fields(pages[:2], extract) == {}  # two pages are too few


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



def test_probe_reads_a_page_through_the_template_the_sources_crawls_learned(portals, tmp_path, monkeypatch, capsys):
    """`probe URL --source NAME` on the command line, after a crawl of that source saved its template."""
    from indexer.__main__ import main

    name = "provincial"
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path))
    sources = tmp_path / "sources.toml"
    sources.write_text(portals.source_toml(name))
    assert main(["crawl", "--sources", str(sources)]) == 0
    assert "fields read where the site's pages hold them" in capsys.readouterr().out
    template = ArchiveSink(store.connect(tmp_path / "archive.sqlite3")).template(name)
    assert template is not None and {"title", "lead", "author", "body"} <= set(template.fields)
    story = stories_of(list(UNMODELLED).index(name))[0]
    url = f"{portals.base}/{name}{UNMODELLED[name].article_path(story)}"
    assert main(["probe", url, "--source", name, "--sources", str(sources)]) == 0
    shown = capsys.readouterr().out
    assert f"read through the site's template (learned from {template.pages} pages)" in shown
    assert f"body `{template.fields['body']}`" in shown and f"author    {story.author}" in shown
