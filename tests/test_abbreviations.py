from indexer.abbreviations import ABBREVIATIONS, alternatives, spelled_out
from indexer.models import Filters
from service.search import Query, parse_query


def test_both_directions_longest_match_first():
    assert alternatives(["ubnd", "huyen"]) == [(("ubnd",), [("uy", "ban", "nhan", "dan")])]
    assert alternatives(["uy", "ban", "nhan", "dan", "xa"]) == [(("uy", "ban", "nhan", "dan"), [("ubnd",)])]
    assert alternatives(["qs", "qp"]) == [(("qs", "qp"), [("quan", "su", "quoc", "phong")])]
    assert [r for _, r in alternatives(["bch"])] == [[("ban", "chap", "hanh"), ("ban", "chi", "huy")]]
    assert alternatives(["hoi", "nghi"]) == []


def test_dictionary_is_well_formed():
    for abbr, phrases in ABBREVIATIONS.items():
        assert abbr == abbr.upper() and phrases and all(p == p.lower() for p in phrases)
    assert spelled_out("hđnd") == ("hội đồng nhân dân",)


def test_query_gets_alternatives_and_a_spelled_out_semantic_text():
    parsed = parse_query("UBND huyện họp")
    assert "uy ban nhan dan" in parsed.alternatives
    assert parsed.words_to_match().options == (("ubnd",), ("huyen",), ("hop",), ("uy", "ban", "nhan", "dan"))
    assert parsed.semantic_text == "UBND huyện họp (ủy ban nhân dân)"


def test_abbreviation_finds_articles_that_spell_it_out(app):
    engine = app.extensions["engine"]
    # The demo's seed article writes "QS-QP" once; others spell out "quân sự quốc phòng" (or neither).
    spelled = {h.id for h in engine.search(Query('"quân sự quốc phòng"', mode="lexical", per_page=50)).hits}
    via_abbr = {h.id for h in engine.search(Query("QS-QP", mode="lexical", per_page=50)).hits}
    assert spelled and spelled <= via_abbr


def test_each_form_finds_the_other_in_the_archive(make_archive):
    engine = make_archive([("Hội nghị", "Ủy ban Mặt trận Tổ quốc huyện tổ chức hội nghị. " * 3),
                           ("Tin", "Ủy ban MTTQ xã phát động ủng hộ người nghèo. " * 3)])
    lexical = engine.index.get().lexical
    for query in ("MTTQ", "mặt trận tổ quốc"):
        found = lexical.passages(parse_query(query).words_to_match(), Filters(), 10)
        assert {aid for _, aid, _ in found} == {1, 2}, query
