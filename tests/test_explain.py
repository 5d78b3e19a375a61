"""explain=true says why each result scored what it did, and never changes the ranking."""
import pytest

from indexer.models import Filters
from service.search import Query

QUERIES = ["phòng chống thiên tai 2021", "phong chong thien tai", "bầu cử đại biểu HĐND", "dang van quang",
           "tiêm vắc xin Covid-19", '"nông thôn mới"']


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_explain_never_changes_the_ranking_and_adds_up(engine, mode):
    for text in QUERIES:
        for extra in ({}, {"sort": "date"}, {"filters": Filters(date_from="2021-01-01")}, {"per_page": 30}):
            plain = engine.search(Query(text, mode=mode, **extra))
            explained = engine.search(Query(text, mode=mode, explain=True, **extra))
            assert [(h.article_id, h.score, h.passage_id) for h in explained.hits] == \
                [(h.article_id, h.score, h.passage_id) for h in plain.hits], (text, extra)
            assert explained.total == plain.total
            for hit in explained.hits:
                why = hit.explanation
                assert plain.hits[0].explanation is None and why.lists
                assert {s.name for s in why.lists} <= ({"dense"} if mode == "semantic" else
                                                      {"exact", "folded", "dense", "article"} if mode == "hybrid"
                                                      else {"exact", "folded", "article"})
                total = (sum(s.contribution for s in why.lists) + why.word_order_bonus) * why.period_factor
                assert total == pytest.approx(why.final) and round(why.final, 6) == hit.score


def test_a_named_year_and_word_order_show_in_the_explanation(engine):
    top = engine.search(Query("phòng chống thiên tai 2021", explain=True)).hits[0].explanation
    assert top.period_factor == 1.25 and top.word_order_share and top.word_order_bonus > 0
    assert all(s.rank >= 1 and 0.0 <= s.normalised <= 1.0 for s in top.lists)


def test_api_and_page_show_the_explanation(client):
    body = client.get("/api/search?q=phòng chống thiên tai 2021&explain=true").get_json()
    first = body["results"][0]["explain"]
    assert {"lists", "word_order", "period_factor", "final"} <= set(first)
    assert first["final"] == body["results"][0]["score"] and first["period_factor"] == 1.25
    assert "explain" not in client.get("/api/search?q=thiên tai").get_json()["results"][0]
    html = client.get("/?q=phòng+chống+thiên+tai+2021").get_data(as_text=True)
    assert html.count("<details class=\"why\">") == 10 and "Vì sao kết quả này?" in html and "Gần nghĩa" in html
    r = client.get("/api/search?q=x&explain=maybe")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "explain"
