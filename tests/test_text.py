import itertools
import random
import re
import unicodedata

import pytest

from indexer.text import (
    _place_tone,
    chunk,
    clean,
    document_text,
    fold,
    has_diacritics,
    normalize,
    sentence_spans,
    words,
)


@pytest.mark.parametrize(("old", "new"), [
    ("hoà", "hòa"), ("Hoà Bình", "Hòa Bình"), ("thuỷ", "thủy"), ("THUỶ LỢI", "THỦY LỢI"), ("khoẻ", "khỏe"),
    ("tuỳ", "tùy"), ("hoá học", "hóa học"), ("xoè", "xòe"),
])
def test_old_and_new_tone_placement_normalise_to_one_form(old, new):
    assert normalize(old) == normalize(new) == new


@pytest.mark.parametrize("word", ["quý", "quỳ", "hoàng", "thuyền", "hoạch", "ngoài", "quyết", "của"])
def test_tone_placement_leaves_other_rimes_alone(word):
    assert normalize(word) == word


def test_nfd_input_becomes_nfc():
    decomposed = "Đặng Văn Quang".encode().decode()
    import unicodedata
    nfd = unicodedata.normalize("NFD", decomposed)
    assert nfd != decomposed
    assert normalize(nfd) == "Đặng Văn Quang"


def test_clean_whitespace_and_control_characters_but_keep_spelling():
    assert clean("  Hội\u00a0nghị \u200b tổng\tkết\r\n\r\n\r\nNăm 2021 ") == "Hội nghị tổng kết\n\nNăm 2021"
    assert clean("Văn Hoà") == "Văn Hoà" and normalize("Văn Hoà") == "Văn Hòa"


def test_normalize_keeps_lengths_so_offsets_survive():
    text = "Xã Sơn Thuỷ hoà nhập, khoẻ mạnh, tuỳ ý"
    assert len(normalize(text)) == len(text)


def test_fold_removes_all_diacritics_including_d_bar():
    assert fold("Đặng Văn Quang") == "dang van quang"
    assert fold("ĐỒNG THUẬN, phòng chống thiên tai") == "dong thuan, phong chong thien tai"
    assert has_diacritics("thiên tai") and not has_diacritics("thien tai")


@pytest.mark.parametrize("text", ["Đặng Văn Quang", "e\u0301\u0323 a\u0323\u0300 ạ̀", "İstanbul ǅ ﬁ Ω Å ñ",
                                  "한국어 ٤ Straße ΐ ṩ", "Thừa Thiên Huế\n\nTHỦY LỢI"])
def test_folding_character_by_character_is_folding_the_text_whole(text):
    decomposed = unicodedata.normalize("NFD", text.lower())
    assert fold(text) == "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")


def test_sentence_spans_keep_dates_and_abbreviations_whole():
    text = "Chiều 25/1/2021, Ban Chỉ huy họp. Đ/c Quang phát biểu! Năm 2021 có 1.250 hộ sơ tán."
    sentences = [text[s.start:s.end] for s in sentence_spans(text)]
    assert sentences == ["Chiều 25/1/2021, Ban Chỉ huy họp.", "Đ/c Quang phát biểu!", "Năm 2021 có 1.250 hộ sơ tán."]


def test_chunk_offsets_point_into_the_text_and_cover_it():
    sentence = "Huyện tổ chức hội nghị tổng kết công tác phòng chống thiên tai năm 2021 tại hội trường. "
    text = normalize(sentence * 60)
    chunks = chunk(text, target_words=50, overlap_words=20)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert len(words(c.text)) <= 70
    assert all(len(words(c.text)) >= 40 for c in chunks[:-1])
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    # consecutive passages overlap by at least one sentence
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_chunk_folds_a_short_tail_into_the_previous_passage():
    text = normalize("Một hai ba bốn năm sáu bảy tám chín mười. " * 5 + "Hết.")
    chunks = chunk(text, target_words=40, overlap_words=5)
    assert len(chunks) == 1 and chunks[0].end == len(text)


def test_chunk_splits_a_sentence_longer_than_a_passage():
    text = " ".join(["từ"] * 500)
    chunks = chunk(text, target_words=100, overlap_words=10)
    assert max(len(words(c.text)) for c in chunks) <= 140
    assert sum(len(words(c.text)) for c in chunks) >= 500


def test_document_text_joins_lead_and_body():
    assert document_text("Tóm tắt.", "Nội dung.") == "Tóm tắt.\n\nNội dung."
    assert document_text("", "Nội dung.") == "Nội dung."


def _clean_as_specified(text: str) -> str:
    """clean() as its docstring states it, one regular expression a rule (slower than clean())."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2060\ufeff"
                  "\ufdd0-\ufdef\ufffe\uffff]", "", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[^\S\n]+", " ", text)
    return re.sub(r"\s*\n\s*(?:\n\s*)*", lambda m: "\n\n" if m.group(0).count("\n") > 1 else "\n", text).strip()


def test_clean_and_normalize_do_what_their_rules_say_on_any_text():
    """clean() and normalize() take shortcuts (split instead of regular expressions; the tone
    placed only at words ending in a movable rime): on random text of blanks, controls, rimes with
    and without tones and NFD marks they give what the rules, applied word by word, give."""
    pieces = [*" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\u200b_-.1aoeuyqhAOUYàáảòóỏõọÒÓýỳỷỵ",
              "o\u0300a", "u\u0309y", "oa\u0301", "hoà", "Thuỷ", "quỳ", "khoẻ", "\n\n", " \n "]
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        expected = _clean_as_specified(text)
        assert clean(text) == expected, repr(text)
        assert normalize(text) == re.sub(r"\w+", lambda m: _place_tone(m.group(0)), expected), repr(text)
