"""Following a search (Atom, validated with feedparser) and exporting it (CSV, formula-safe)."""
import csv
import io

import feedparser

from indexer import models


def test_every_search_has_an_atom_feed_newest_first_with_its_filters(client):
    r = client.get("/search.atom?q=phòng chống thiên tai&mode=hybrid")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.bozo_exception  # well-formed Atom
    assert feed.feed.title == "Tìm kiếm: phòng chống thiên tai" and len(feed.entries) >= 5
    dates = [e.published for e in feed.entries if "published" in e]
    assert dates == sorted(dates, reverse=True)  # newest first, whatever the sort asked
    assert all("/articles/" in e.link and e.summary for e in feed.entries)
    only_2021 = feedparser.parse(client.get("/search.atom?q=phòng chống thiên tai&from=2021-01-01&to=2021-12-31").data)
    assert only_2021.entries and all(e.published.startswith("2021") for e in only_2021.entries)
    assert len(only_2021.entries) < len(feed.entries)


def test_the_search_page_links_its_feed_and_export(client):
    html = client.get("/?q=thiên+tai").get_data(as_text=True)
    assert 'rel="alternate" type="application/atom+xml"' in html and "/search.atom?q=" in html
    assert "/search.csv?q=" in html


def test_csv_export_has_every_result_and_neutralises_formulas(make_archive, fake_embedder):
    from service import create_app

    evil = [models.Article(url=f"https://x.example/{i}", source="x", title=title,
                           body="Phòng chống thiên tai ở huyện ven biển năm nay. " * 4)
            for i, title in enumerate(["=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "Bão số 9"])]
    engine = make_archive(evil)
    client = create_app(engine.settings, fake_embedder).test_client()
    r = client.get("/search.csv?q=phòng chống thiên tai&collapse=false")  # one body: copies of one story
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 5
    titles = {row["title"] for row in rows}
    assert titles == {"'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2", "'@SUM(A1)", "Bão số 9"}
    assert all(row["url"].startswith("https://x.example/") and "<mark>" not in row["snippet"] for row in rows)
    assert all(len(row["copies"].split()) == 4 for row in rows)  # each lists the other four
    collapsed = client.get("/search.csv?q=phòng chống thiên tai").get_data(as_text=True).lstrip("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(collapsed)))) == 1


def test_bad_feed_and_export_parameters_get_the_json_error(client):
    for path in ("/search.atom", "/search.csv?q=x&from=2021-13-45"):
        r = client.get(path)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
