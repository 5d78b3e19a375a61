"""Where a result set ends: only articles with evidence they are about the query are results, and
everything that reads the set (total, pages, facets, date sort, Atom, CSV, the empty state) reads
that set. On the demo archive, with the real model."""
import csv
import io
from dataclasses import replace

import feedparser
import pytest

from indexer.text import fold
from service.search import Query, parse_query, rank

D = rank.DEFAULT  # the shipped RankingParams


def api(client, **params):
    r = client.get("/api/search", query_string=params)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def every_result(client, **params) -> list[int]:
    """The ids of the whole result set, page by page, as a client of the API reads it."""
    first = api(client, per_page=50, **params)
    ids = [hit["id"] for hit in first["results"]]
    for page in range(2, first["total_pages"] + 1):
        ids += [hit["id"] for hit in api(client, per_page=50, page=page, **params)["results"]]
    assert len(ids) == first["total"]
    return ids


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
@pytest.mark.parametrize("text", ["xyzzy qwerty", "lorem ipsum dolor sit amet", "fhqwhgads"])
def test_a_meaningless_query_finds_nothing_in_every_mode(client, text, mode):
    found = api(client, q=text, mode=mode)
    assert (found["total"], found["total_pages"], found["results"]) == (0, 0, [])
    assert found["facets"] == {"years": {}, "places": []}
    page = client.get("/", query_string={"q": text, "mode": mode}).get_data(as_text=True)
    assert "Không tìm thấy bài viết phù hợp" in page and "0 bài viết" in page


def test_the_boundary_only_removes_and_says_how_many(client, engine, monkeypatch):
    found = api(client, q="phòng chống thiên tai 2021")
    assert 0 < found["total"] < found["boundary"]["candidates"]
    assert found["boundary"]["dropped"] == found["boundary"]["candidates"] - found["total"]  # no copies here
    bounded = engine.rank(Query("phòng chống thiên tai 2021"))
    monkeypatch.setattr(engine, "params", replace(engine.params, boundary=False))
    unbounded = engine.rank(Query("phòng chống thiên tai 2021"))
    assert set(bounded.order) < set(unbounded.order)
    assert bounded.order == [aid for aid in unbounded.order if aid in set(bounded.order)]  # same order, fewer
    first = engine.search(Query("phòng chống thiên tai 2021", per_page=3))
    assert [h.title for h in first.hits] and "thiên tai" in first.hits[0].title.lower()


def test_every_reader_of_the_set_reads_the_bounded_set(client):
    query = {"q": "bão lũ"}
    relevance = every_result(client, **query)
    assert 0 < len(relevance) < 40
    by_date = every_result(client, sort="date", **query)
    assert set(by_date) == set(relevance)
    dates = [api(client, per_page=50, sort="date", **query)["results"][i]["published_at"] for i in range(len(by_date))]
    assert dates == sorted(dates, reverse=True)
    rows = list(csv.DictReader(io.StringIO(client.get("/search.csv", query_string=query).get_data(as_text=True)
                                          .lstrip("\ufeff"))))
    assert [int(row["id"]) for row in rows] == relevance
    feed = feedparser.parse(client.get("/search.atom", query_string=query).get_data())
    assert {int(e.link.split("/articles/")[1].split("?")[0]) for e in feed.entries} == set(relevance)
    years = api(client, **query)["facets"]["years"]
    assert sum(years.values()) == len(relevance)  # every demo article is dated


def test_a_quoted_phrase_is_required_in_every_mode(client):
    unquoted = api(client, q="phòng chống thiên tai", per_page=50)
    for mode in ("hybrid", "semantic", "lexical"):
        quoted = api(client, q='"phòng chống thiên tai"', mode=mode, per_page=50)
        assert 0 < quoted["total"] <= unquoted["total"]
        for hit in quoted["results"]:
            article = client.get(f"/api/articles/{hit['id']}").get_json()
            text = fold(" ".join([article["title"], article["summary"], article["body"]]))
            assert "phong chong thien tai" in " ".join(text.split()).replace(",", ""), hit["title"]
    nowhere = api(client, q='"thiên tai phòng chống"')
    assert nowhere["total"] == 0
    page = client.get("/", query_string={"q": '"thiên tai phòng chống"'}).get_data(as_text=True)
    assert "Bỏ ngoặc kép" in page  # the empty state offers the query without its quotes


def test_search_as_typed_rewrites_nothing_and_the_page_offers_it(client):
    rewritten = api(client, q="phong chong thien tai")
    assert rewritten["rewritten_query"] and rewritten["rewritten_query"].startswith("phòng chống thiên tai")
    assert rewritten["as_typed"] is False
    typed = api(client, q="phong chong thien tai", as_typed="true")
    assert typed["as_typed"] is True and typed["rewritten_query"] is None and typed["restored_query"] is None
    assert typed["total"] > 0  # folded words still match
    page = client.get("/", query_string={"q": "phong chong thien tai"}).get_data(as_text=True)
    assert "Tìm theo nghĩa" in page and "Tìm đúng như đã gõ" in page and "as_typed=true" in page
    as_typed_page = client.get("/", query_string={"q": "phong chong thien tai", "as_typed": "true"}).get_data(
        as_text=True)
    assert "Đang tìm đúng như đã gõ" in as_typed_page and "Tìm theo nghĩa" not in as_typed_page
    # typed with its diacritics and in its own capitals, nothing is rewritten, so nothing is offered
    plain = client.get("/", query_string={"q": "phòng chống thiên tai"}).get_data(as_text=True)
    assert api(client, q="phòng chống thiên tai")["rewritten_query"] is None
    assert "Tìm đúng như đã gõ" not in plain


def test_explain_says_which_evidence_admitted_each_result(client):
    for q in ("phòng chống thiên tai 2021", "thiên tai"):  # a longer query, and a topic's words
        found = api(client, q=q, explain="true", per_page=50)
        evidence = [hit["explain"]["evidence"] for hit in found["results"]]
        assert evidence and all(e["admitted_by"] in ("words", "meaning") for e in evidence)
        for e in evidence:
            if e["admitted_by"] == "meaning":
                assert e["z"] >= D.meaning_z
            elif e["asked"] > D.phrase_query_terms:
                assert e["held"] >= D.cover_share * e["asked"] and e["relative"] >= D.cover_floor
            else:
                assert e["held"] == e["asked"] and e["about"] >= e["about_floor"] == D.about_floor
                assert e["runs"]["count"] >= 1 and 0 <= e["runs"]["before"] < e["runs"]["length"]
        page = client.get("/", query_string={"q": q, "explain": "true"}).get_data(as_text=True)
        assert "Có trong kết quả vì" in page
    assert "mức liên quan" in page  # the topic's runs, on the page


def test_an_article_is_about_a_topic_whose_words_it_opens_with_and_repeats():
    text = " " + " \n ".join(["bao lu mien trung", "mua lon gay bao lu keo dai"] + ["tin khac"] * 50) + " "
    runs = rank.runs_in(text, ("bao", "lu"))
    assert runs == rank.Runs(count=2, before=0, length=text.count(" "))
    assert rank.runs_in(text, ("lu", "bao")).before is None
    base = rank.aboutness(rank.Runs(1, 100, 400), 0.5)
    assert rank.aboutness(rank.Runs(3, 100, 400), 0.5) > base  # more often
    assert rank.aboutness(rank.Runs(1, 0, 400), 0.5) > base  # earlier: its title
    assert rank.aboutness(rank.Runs(1, 100, 4000), 0.5) < base  # in a longer article
    assert rank.aboutness(rank.Runs(1, 100, 400), 0.9) > base  # scoring nearer the best
    assert rank.aboutness(rank.Runs(1, None, 400), 0.5) < base  # never whole: as if at the end


def test_evidence_rules_on_made_up_candidates():
    fused = {1: (2.0, 10), 2: (1.0, 20), 3: (0.5, 30), 4: (0.1, 40), 5: (1.3, 50)}
    none = ({}, 0)
    # a two-word query: 1 and 3 hold the words in a row, 1 in its title and three times in a short
    # article, 3 once, late, in a long one and at a quarter of the best; 5 holds them apart at 0.65
    # of the best (over apart_floor), 2 apart at 0.5 (under it); 4 holds nothing but stands out in
    # meaning
    words, pairs = ({1: 2, 2: 2, 3: 2, 5: 2}, 2), ({1: 1, 3: 1}, 1)
    assert rank.in_row(fused, words, pairs) == [1, 3]  # best first
    runs = {1: rank.Runs(3, 0, 200), 3: rank.Runs(1, 150, 800)}
    notes = rank.admit(fused, words, pairs, none, {2: 1.0, 4: D.meaning_z + 0.1}, runs)
    assert {aid: n.admitted_by for aid, n in notes.items()} == {1: "words", 2: None, 3: None, 4: "meaning",
                                                                5: "words"}
    assert notes[1].in_row and not notes[5].in_row
    assert notes[1].about >= D.about_floor > notes[3].about and notes[5].about is None
    # the best article holding them in a row is a result however little it is about them
    notes = rank.admit(fused, ({3: 2, 4: 2}, 2), ({3: 1, 4: 1}, 1), none, {},
                       {3: rank.Runs(1, 150, 800), 4: rank.Runs(1, 150, 800)})
    assert (notes[3].admitted_by, notes[4].admitted_by) == ("words", None) and notes[3].about < D.about_floor
    # a quoted phrase that an article lacks keeps it out, whatever else it holds
    notes = rank.admit(fused, ({1: 2, 2: 2}, 2), ({1: 1, 2: 1}, 1), ({1: 1}, 1), {2: 9.0},
                       {1: rank.Runs(3, 0, 200), 2: rank.Runs(3, 0, 200)})
    assert (notes[1].admitted_by, notes[2].admitted_by, notes[2].phrases) == ("words", None, False)
    # a longer query: half its words and cover_floor of the best score are enough
    notes = rank.admit(fused, ({1: 6, 2: 3, 3: 2, 4: 6}, 6), none, none, {}, {})
    assert {aid: n.admitted_by for aid, n in notes.items()} == {1: "words", 2: "words", 3: None, 4: None, 5: None}


def test_quotes_are_an_operator_beside_a_few_words_and_punctuation_in_a_pasted_headline():
    for typed, required in (('"phòng chống thiên tai"', True), ('"phòng chống thiên tai" 2021 Minh Sơn', True),
                            ('bão "Damrey" miền Trung', True), ('Toyota nâng cấp "mạnh" cho Prius C 2017', False),
                            ('Elle Fanning "đọ sắc" Nicole Kidman trên thảm đỏ', False),
                            ('"Trước anh em nói tiền trực mỗi ca không đủ bát phở, nay đã lên mức 25.000 đồng"',
                             False)):  # a quoted lead: a speech, not an operator
        assert rank.quotes_required(parse_query(typed)) is required, typed


def test_the_total_says_when_more_may_match_than_it_counts(client, engine, monkeypatch):
    assert api(client, q="thiên tai")["total_relation"] == "eq"  # every list ended before the boundary
    # Lists cut short of the boundary: their weakest articles are still results, so more may match.
    monkeypatch.setattr(engine, "params", replace(engine.params, lexical_depth=3, dense_depth=3))
    found = api(client, q="thiên tai")
    assert found["total_relation"] == "gte" and found["total"] >= 1
    page = client.get("/", query_string={"q": "thiên tai"}).get_data(as_text=True)
    assert f"Hơn {found['total']} bài viết" in page


def test_the_total_says_when_more_articles_hold_a_topic_than_were_read(client, engine, monkeypatch):
    whole = api(client, q="thiên tai", per_page=50)
    assert whole["total_relation"] == "eq" and whole["total"] >= 3
    monkeypatch.setattr(engine, "params", replace(engine.params, about_depth=2))  # the best two read, and both about it: more may be
    found = api(client, q="thiên tai", per_page=50)
    assert found["total_relation"] == "gte" and found["total"] <= whole["total"]
    assert {hit["id"] for hit in found["results"]} <= {hit["id"] for hit in whole["results"]}
