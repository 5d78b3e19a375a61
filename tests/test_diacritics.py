from indexer.diacritics import count_ngrams, restore

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
    unigrams, bigrams = count_ngrams(ARCHIVE)
    assert restore(["phong", "chong", "thien", "tai"], lookup(unigrams), lookup(bigrams)) == \
        ["phòng", "chống", "thiên", "tai"]
    assert restore(["dang", "van", "quang"], lookup(unigrams), lookup(bigrams)) == ["đặng", "văn", "quang"]


def test_unknown_words_are_kept():
    unigrams, bigrams = count_ngrams(ARCHIVE)
    assert restore(["covid", "thien", "tai"], lookup(unigrams), lookup(bigrams)) == ["covid", "thiên", "tai"]


def test_counts_stop_at_digits_and_punctuation():
    unigrams, bigrams = count_ngrams(["Năm 2021, thiên tai"])
    assert ("nam", "năm") in unigrams and not any(" 2021" in k[1] for k in bigrams)
    assert ("thien tai", "thiên tai") in bigrams and ("nam thien", "năm thiên") not in bigrams


def test_engine_restores_queries_typed_without_diacritics(app):
    engine = app.extensions["engine"]
    assert engine.parse("phong chong thien tai 2021").restored == "phòng chống thiên tai"
    assert engine.parse("phòng chống thiên tai").restored is None
