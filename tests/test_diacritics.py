from indexer.diacritics import count_ngrams, restore, truecase

ARCHIVE = [
    "Huyện triển khai công tác phòng chống thiên tai năm 2021.",
    "Phòng chống thiên tai và tìm kiếm cứu nạn.",
    "Phòng khám đa khoa khu vực; chồng chất khó khăn.",
    "Thiên tai gây thiệt hại. Tai nạn giao thông giảm.",
    "Đồng chí Đặng Văn Quang phát biểu; đăng ký tạm trú.",
]


def lookup(table):
    index = {}
    for (folded, form), count in table.items():
        index.setdefault(folded, {})[form] = count
    return lambda folded: index.get(folded, {})


def test_context_picks_the_right_spelling():
    unigrams, bigrams, _, _ = count_ngrams(ARCHIVE)
    assert restore(["phong", "chong", "thien", "tai"], lookup(unigrams), lookup(bigrams)) == \
        ["phòng", "chống", "thiên", "tai"]
    assert restore(["dang", "van", "quang"], lookup(unigrams), lookup(bigrams)) == ["đặng", "văn", "quang"]


def test_a_rare_spelling_wins_when_its_pair_is_known():
    # "dữ" is only the 8th most frequent spelling of "du" here; the pair "dữ dội" decides.
    common = ["đủ", "dự", "dù", "dụ", "du", "đu", "dư"]
    archive = [" ".join(common[:7 - i]) + "." for i in range(7)] * 3 + ["Mưa dữ dội."] * 2
    unigrams, bigrams, _, _ = count_ngrams(archive)
    assert sorted(lookup(unigrams)("du"), key=lookup(unigrams)("du").get, reverse=True).index("dữ") >= 6
    assert restore(["mua", "du", "doi"], lookup(unigrams), lookup(bigrams)) == ["mưa", "dữ", "dội"]


def test_unknown_words_are_kept():
    unigrams, bigrams, _, _ = count_ngrams(ARCHIVE)
    assert restore(["covid", "thien", "tai"], lookup(unigrams), lookup(bigrams)) == ["covid", "thiên", "tai"]


def test_counts_stop_at_digits_and_punctuation():
    unigrams, bigrams, _, _ = count_ngrams(["Năm 2021, thiên tai"])
    assert ("nam", "năm") in unigrams and not any(" 2021" in k[1] for k in bigrams)
    assert ("thien tai", "thiên tai") in bigrams and ("nam thien", "năm thiên") not in bigrams


def test_engine_restores_queries_typed_without_diacritics(app):
    engine = app.extensions["engine"]
    assert engine.parse("phong chong thien tai 2021").restored == "phòng chống thiên tai"
    assert engine.parse("phòng chống thiên tai").restored is None


def test_capitals_come_back_where_the_archive_writes_a_name():
    found = count_ngrams(["Lũ ở Nghệ An. Tỉnh Nghệ An họp.", "Về Nghệ An, an toàn là trên hết.",
                          "Người dân Nghệ An vui.", "UBND tỉnh họp về an toàn."])
    tables = {"vocab_unigrams": (found.unigrams, found.capitalised_unigrams),
              "vocab_bigrams": (found.bigrams, found.capitalised_bigrams)}

    def seen(table, form):
        counts, capitalised = tables[table]
        key = next((k for k in counts if k[1] == form), None)
        return (counts[key], capitalised[key]) if key else (0, 0)

    assert truecase(["nghệ", "an", "an", "toàn"], seen) == ["Nghệ", "An", "an", "toàn"]
    assert truecase(["ubnd", "tỉnh"], seen) == ["ubnd", "tỉnh"]  # all capitals is an abbreviation, not a name
    assert found.capitalised_unigrams[("ve", "về")] == 0  # a sentence's first word says nothing


def test_engine_restores_capitals_only_of_a_query_typed_in_lower_case(make_archive):
    engine = make_archive([("Lũ ở Nghệ An", "Tỉnh Nghệ An họp. Người dân Nghệ An vui. Nghệ An mưa lớn.")] * 1)
    assert engine.parse("lu o nghe an").semantic_text == "lũ ở Nghệ An"
    assert engine.parse("lũ ở nghệ an").semantic_text == "lũ ở Nghệ An"
    assert engine.parse("lũ ở Nghệ an").semantic_text == "lũ ở Nghệ an"  # typed with a capital: as typed
