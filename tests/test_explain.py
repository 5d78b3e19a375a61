"""explain=true says why each result scored what it did, and never changes the ranking."""
import pytest

from indexer import models
from indexer.models import Filters
from service.search import Query, rank

QUERIES = ["phòng chống thiên tai 2021", "phong chong thien tai", "bầu cử đại biểu HĐND", "dang van quang",
           "tiêm vắc xin Covid-19", '"nông thôn mới"']


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_explain_never_changes_the_ranking_and_adds_up(engine, mode):
    for text in QUERIES:
        for extra in ({}, {"sort": "date"}, {"filters": Filters(date_from="2021-01-01")}, {"per_page": 30}):
            plain = engine.search(Query(text, mode=mode, **extra))
            explained = engine.search(Query(text, mode=mode, explain=True, **extra))
            assert [(h.id, h.score, h.passage_id) for h in explained.hits] == \
                [(h.id, h.score, h.passage_id) for h in plain.hits], (text, extra)
            assert explained.total == plain.total
            for hit in explained.hits:
                why = hit.explanation
                assert plain.hits[0].explanation is None and why.lists
                assert {s.name for s in why.lists} <= ({"dense"} if mode == "semantic" else
                                                      {"exact", "folded", "dense", "article"} if mode == "hybrid"
                                                      else {"exact", "folded", "article"})
                assert adds_up(why) == pytest.approx(why.final) and round(why.final, 6) == hit.score


def adds_up(why) -> float:
    return (sum(s.contribution for s in why.lists) + why.word_order_bonus) * why.period_factor * why.place_factor


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_a_place_and_a_period_in_the_query_add_up_too(make_archive, mode):
    def story(n, title, day, body):
        return models.Article(url=f"https://u.example.vn/{n}", source="s", title=title, body=f"{title}. {body}",
                              published_at=f"{day}T08:00:00+07:00")

    engine = make_archive([
        story(1, "Lũ quét ở tỉnh Hà Giang", "2020-07-10", "Lũ quét gây thiệt hại, chính quyền hỗ trợ bà con."),
        story(2, "Lũ quét ở tỉnh Nghệ An", "2020-06-03", "Nước lũ dâng nhanh, nhiều nhà bị ngập sâu."),
        story(3, "Lũ quét ở huyện Bắc Mê, tỉnh Hà Giang", "2019-05-02", "Mưa lớn kéo dài gây sạt lở đường."),
        story(4, "Hội nghị tổng kết", "2020-12-20", "Tổng kết công tác dân vận năm 2020.")])
    hits = engine.search(Query("lũ quét Hà Giang 2020", mode=mode, explain=True, per_page=10)).hits
    factors = {h.id: (h.explanation.place_factor, h.explanation.period_factor) for h in hits}
    shipped = rank.DEFAULT
    assert factors[1] == (shipped.place_boost, shipped.date_intent_boost) and factors[3][0] == shipped.place_boost
    assert factors.get(2, (1.0, shipped.date_intent_boost)) == (1.0, shipped.date_intent_boost)
    for hit in hits:
        assert adds_up(hit.explanation) == pytest.approx(hit.explanation.final)
        assert round(hit.explanation.final, 6) == hit.score


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
