"""ingest → build → search over the demo corpus, through the engine the service uses."""
import re
from dataclasses import replace

import pytest

from indexer.models import Filters, WordQuery
from service.search import Query, highlight, parse_query
from service.search.query import Marks

DISASTER = "Phòng chống thiên tai"


def top(engine, text, n=3, **kw):
    return engine.search(Query(text=text, per_page=n, **kw)).hits


def test_disaster_prevention_2021_comes_first(engine):
    hits = top(engine, "phòng chống thiên tai 2021")
    assert [h.category for h in hits] == [DISASTER] * 3
    assert all(h.published_at.startswith("2021") for h in hits)
    assert all(re.search(r"<mark>[^<]*thiên tai</mark>", h.snippet) for h in hits)


@pytest.mark.parametrize("text", ["phong chong thien tai", "phòng, chống thiên tai", "PHÒNG CHỐNG THIÊN TAI"])
def test_variants_of_the_query_rank_disaster_articles_first(engine, text):
    hits = top(engine, text, n=2)
    assert [h.category for h in hits] == [DISASTER] * 2


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_every_mode_finds_the_topic(engine, mode):
    assert top(engine, "phòng chống thiên tai", n=1, mode=mode)[0].category == DISASTER


def test_name_typed_without_diacritics_finds_the_person(engine):
    hit = top(engine, "dang van quang", n=1, mode="lexical")[0]
    assert "Đặng Văn Quang" in engine.article(hit.id)["body"]
    assert "<mark>Đặng Văn Quang</mark>" in hit.snippet  # the name the query reads, marked whole


def test_old_tone_placement_query_matches(engine):
    """The demo writes "Sơn Thuỷ" (old placement): typed either way, an article about it comes
    first, the same one, with the name marked as written."""
    for mode in ("lexical", "hybrid"):
        firsts = [top(engine, typed, n=1, mode=mode)[0] for typed in ("xã Sơn Thuỷ", "xã Sơn Thủy")]
        assert firsts[0].id == firsts[1].id and "Sơn Thuỷ" in firsts[0].title
        assert "Sơn Thuỷ</mark>" in firsts[0].snippet or "Thuỷ</mark>" in firsts[0].snippet, firsts[0].snippet


def test_filters_sort_and_pagination(engine):
    text = "bầu cử đại biểu"
    everything = engine.search(Query(text=text, per_page=50))
    in_2019 = engine.search(Query(text=text, per_page=50, filters=Filters("2019-01-01", "2019-12-31")))
    assert in_2019.total < everything.total and all(h.published_at.startswith("2019") for h in in_2019.hits)
    one_source = engine.search(Query(text=text, filters=Filters(sources=("phulam.example.gov.vn",))))
    assert one_source.hits and {h.source for h in one_source.hits} == {"phulam.example.gov.vn"}
    newest = engine.search(Query(text=text, per_page=50, sort="date")).hits
    dates = [h.published_at for h in newest]
    assert dates == sorted(dates, reverse=True)
    page1 = engine.search(Query(text=text, per_page=5)).hits
    page2 = engine.search(Query(text=text, per_page=5, page=2)).hits
    assert not {h.id for h in page1} & {h.id for h in page2}
    assert sum(everything.years.values()) == everything.total


def test_quoted_phrase_must_match_as_phrase(engine):
    hits = engine.search(Query(text='"tìm kiếm cứu nạn"', mode="lexical", per_page=50)).hits
    assert hits
    for h in hits:
        assert "tìm kiếm cứu nạn" in engine.article(h.id)["body"].lower() + \
            engine.article(h.id)["summary"].lower()


def test_parse_query():
    p = parse_query('"thiên tai" bão năm 2021')
    assert p.phrases == ("thien tai",) and p.terms == ("bao",)
    assert p.date_intent.start.year == 2021
    assert p.words_to_match() == WordQuery((("thien", "tai"),), (("bao",),))


def test_highlight_respects_diacritics_typed_by_the_user(engine):
    typed = parse_query("thiên tai hoà")
    assert typed.exact and typed.marks.words == {"thiên", "tai", "hòa"}
    out = highlight("Tại hội nghị về thiên tai, xã hoà giải", typed.marks)
    assert out == "Tại hội nghị về <mark>thiên</mark> <mark>tai</mark>, xã <mark>hoà</mark> giải"
    plain = parse_query("thien tai")  # nothing to restore it with: every word that folds alike
    assert highlight("Tại hội nghị về thiên tai", plain.marks) == \
        "<mark>Tại</mark> hội nghị về <mark>thiên</mark> <mark>tai</mark>"


def test_highlight_escapes_html_and_marks_folded_matches():
    out = highlight('<script>alert(1)</script> Đặng "onerror=x', Marks((), frozenset({"dang", "script"})))
    assert "<script>" not in out and "&lt;<mark>script</mark>&gt;" in out
    assert "<mark>Đặng</mark>" in out and "&quot;onerror=x" in out


@pytest.mark.parametrize(("query", "text", "expected"), [
    # an abbreviation and what it stands for, each way, each marked whole
    ("ủy ban nhân dân", "UBND huyện và Ủy ban nhân dân xã cùng người dân",
     "<mark>UBND</mark> huyện và <mark>Ủy ban nhân dân</mark> xã cùng người dân"),
    ("UBND huyện", "Ủy ban nhân dân huyện; UBND tỉnh",
     "<mark>Ủy ban nhân dân</mark> <mark>huyện</mark>; <mark>UBND</mark> tỉnh"),
    # a place the query names: never one of its words alone
    ("Nghệ An", "An toàn giao thông ở Nghệ An, an ninh tốt", "An toàn giao thông ở <mark>Nghệ An</mark>, an ninh tốt"),
    # a word of the query is not lifted out of a name the text writes
    ("thiên tai", "Thừa Thiên Huế khắc phục thiên tai", "Thừa Thiên Huế khắc phục <mark>thiên</mark> <mark>tai</mark>"),
    ("Huế", "tỉnh Thừa Thiên Huế", "tỉnh Thừa Thiên <mark>Huế</mark>"),  # unless the query writes it as a name
    # a quoted phrase only whole, and never across punctuation
    ('"phòng chống thiên tai"', "Ban phòng chống thiên tai, phòng chống dịch, thiên tai",
     "Ban <mark>phòng chống thiên tai</mark>, phòng chống dịch, thiên tai"),
    ('"thiên tai"', "thiên, tai", "thiên, tai"),
])
def test_highlight_marks_what_matched_in_the_forms_it_matched(query, text, expected):
    assert highlight(text, parse_query(query).marks) == expected


def test_highlight_marks_restored_and_corrected_words_as_read(engine):
    restored = engine.parse("thien tai")  # restored from the archive's vocabulary: "thiên tai"
    assert highlight("Tại hội nghị về thiên tai", restored.marks) == "Tại hội nghị về <mark>thiên</mark> <mark>tai</mark>"
    assert highlight("Tài chính thien tai", restored.marks) == "Tài chính <mark>thien</mark> <mark>tai</mark>"  # as it folds
    corrected = engine.parse("phòng chốg thiên tai")  # a typo read back
    assert highlight("công tác phòng, chống thiên tai của người dân", corrected.marks) == \
        "công tác phòng, <mark>chống thiên tai</mark> của người dân"  # "phòng" alone is no part of PCTT


def common_words(engine, parsed, keep=None):
    from service.search import candidates, rank

    return candidates.common_words(engine.index.get().lexical, parsed, rank.DEFAULT.common_fraction, keep)


UNRELATED = ["Nông dân thu hoạch lúa.", "Học sinh ôn thi.", "Chợ Tết đông vui.", "Trường khai giảng.",
             "Cầu mới thông xe.", "Đội bóng thắng trận."]


def test_words_in_many_passages_are_left_out_of_lexical_matching(make_archive):
    bodies = ["Huyện tổ chức hội nghị tổng kết.", "Huyện ra quân làm đường giao thông.",
              "Huyện phát động phong trào thi đua.", "Bão số 9 gây lũ lớn ở huyện ven biển.", *UNRELATED]
    engine = make_archive([("", b) for b in bodies])  # huyện: in 4 of 10 passages, over common_fraction
    parsed = engine.parse("huyện bão lũ")
    assert common_words(engine, parsed) == ({"huyen"}, {"huyện"})
    assert parsed.without(({"huyen"}, {"huyện"})).words_to_match(exact=True) == WordQuery((), (("bão",), ("lũ",)))
    assert common_words(engine, engine.parse("huyện")) == (set(), set())  # nothing left: keep it
    ranked = engine.search(Query("huyện bão lũ", mode="lexical")).hits
    assert [h.id for h in ranked][:1] == [4]


def test_hybrid_matches_only_the_rarest_words(make_archive):
    bodies = ["Bão lũ tại huyện.", "Lũ quét ở xã.", "Huyện họp về lũ.", "Xã họp dân.", *UNRELATED]
    engine = make_archive([("", b) for b in bodies])
    parsed = engine.parse("bão lũ huyện")
    assert common_words(engine, parsed, keep=1) == ({"lu", "huyen"}, {"lũ", "huyện"})  # bão is rarest
    assert common_words(engine, parsed, keep=5) == ({"lu"}, {"lũ"})  # in 3 of 10 texts


SCATTERED = ("", "Thành viên đoàn Hà Tĩnh thăm phố cổ. Nội dung chuyến thăm: phố đi bộ, thành cổ, "
                 "nội thất nhà cổ Hà Tĩnh, thành tích du lịch.")
IN_ORDER = ("", "Chiều qua, người dân thành phố Hà Nội đã đón đoàn khách đến tham quan, học tập kinh "
                "nghiệm xây dựng nông thôn mới tại các xã ven đô.")
FILLER = [("", "Xã Sơn Thủy đón nhận bằng công nhận nông thôn mới."), ("", "Huyện tổ chức hội nghị."),
          ("", "Bão số 9 gây lũ lớn."), ("", "Học sinh ôn thi tốt nghiệp.")]


@pytest.mark.parametrize("text", ["thành phố Hà Nội", "thanh pho ha noi"])
def test_words_in_the_query_s_order_outrank_the_same_syllables_scattered(make_archive, text):
    engine = make_archive([SCATTERED, IN_ORDER, *FILLER])
    ranked = [h.id for h in engine.search(Query(text, mode="lexical")).hits]
    assert ranked[:2] == [2, 1]
    # syllables as a bag: repetition wins; both are results, though as a bag 2 falls under the set's floor
    engine.params = replace(engine.params, pair_weight=0.0, boundary=False)
    assert [h.id for h in engine.search(Query(text, mode="lexical")).hits][:2] == [1, 2]


def test_word_pairs_never_span_a_title_and_the_body(make_archive):
    engine = make_archive([("Thành phố", "Hà Nội đón khách.")])
    for exact, (thanh, pho, ha) in ((True, ("thành", "phố", "hà")), (False, ("thanh", "pho", "ha"))):
        text = engine.index.get().lexical.word_texts([1], exact)[1]
        assert f" {thanh} {pho} " in text and f" {pho} {ha} " not in text
    parsed = parse_query("Thành phố Hà Nội")
    assert parsed.word_pairs == {("thành", "phố"), ("phố", "hà"), ("hà", "nội")}
    assert parse_query("thanh pho ha noi").word_pairs == {("thanh", "pho"), ("pho", "ha"), ("ha", "noi")}


def test_fusion_normalises_each_list_and_shows_the_first_list_s_passage():
    from indexer.models import Candidate
    from service.search import rank

    exact = [Candidate(11, 1, 9.0), Candidate(21, 2, 3.0)]
    dense = [Candidate(22, 2, 0.9), Candidate(12, 1, 0.5), Candidate(31, 3, 0.1)]
    fused = rank.fuse([rank.CandidateList("exact", 0.4, exact), rank.CandidateList("dense", 0.6, dense)])
    assert fused == {1: (0.4 + 0.6 * 0.5, 11), 2: (0.6, 21), 3: (0.0, 31)}
    assert rank.best(fused, 2) == [1, 2]
    assert rank.fuse([rank.CandidateList("x", 1.0, [Candidate(5, 5, 2.0)])]) == {5: (1.0, 5)}  # no span: full weight


def test_hybrid_fuses_words_and_vectors_without_the_model(make_archive):
    """The whole query path on fake vectors: the article that shares the query's words wins in every mode."""
    engine = make_archive([("Bão số 9", "Bão số 9 gây lũ lớn ở các xã ven biển."),
                           ("Bầu cử", "Cử tri đi bầu cử đại biểu Quốc hội."),
                           ("Học bổng", "Trao học bổng cho học sinh nghèo.")])
    for mode in ("hybrid", "semantic", "lexical"):
        result = engine.search(Query("bầu cử đại biểu", mode=mode))
        assert result.hits[0].id == 2 and result.index_version, mode


def test_a_short_hybrid_query_is_fused_with_the_short_query_weights_and_explains_them(engine):
    from service.search import rank

    short, long = parse_query("phòng chống thiên tai 2021"), parse_query("hội nghị tổng kết công tác quân sự năm 2021")
    shipped = rank.DEFAULT
    fused_short = shipped.for_query(short, "hybrid")
    assert (fused_short.weights, fused_short.pair_weight) == (shipped.short_weights, shipped.short_pair_weight)
    assert fused_short.weights != shipped.weights and fused_short.lexical_depth == shipped.lexical_depth
    assert shipped.for_query(long, "hybrid") is shipped and shipped.for_query(short, "lexical") is shipped
    hit = engine.search(Query(text="phòng chống thiên tai 2021", explain=True)).hits[0]
    weights = {share.name: share.weight for share in hit.explanation.lists}
    assert weights["dense"] == shipped.short_weights["dense"] and weights["article"] == shipped.short_weights["article"]
    if hit.explanation.word_order_share is not None:
        assert hit.explanation.word_order_bonus == pytest.approx(shipped.short_pair_weight * hit.explanation.word_order_share)
