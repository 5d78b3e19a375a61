"""Telex and VNI keystrokes left in a query (the keyboard's Vietnamese mode off) are read back, but
only where the archive knows the reading and not the word as typed."""
import re

import pytest

from indexer import text as vtext
from indexer.input_methods import decode_text, decode_word

ARCHIVE = ("phòng chống thiên tai tới rằm tháng ông đòi xử người cường dữ dội xưởng quậy hết ngoại thân "
           "sắc nóng bỏng cấm vận triều an sao trung xe tai hồ gươm cây")


def known(folded: str) -> dict[str, int]:
    """The archive's spellings of a folded syllable, as the version's vocabulary gives them."""
    return {w: 1 for w in ARCHIVE.split() if vtext.fold(w) == folded}


@pytest.mark.parametrize(("typed", "expected"), [
    ("phongf", "phòng"), ("choongs", "chống"), ("thieen", "thiên"),      # tone key at the end
    ("ngoaji", "ngoại"), ("towsi", "tới"), ("Rawfm", "Rằm"),              # right after the vowel; capital kept
    ("thasng", "tháng"), ("ddoif", "đòi"), ("xuwr", "xử"), ("nguwowif", "người"), ("cuwowngf", "cường"),
    ("quaayj", "quậy"), ("Hoof", "Hồ"), ("Guwowm", "Gươm"), ("caay", "cây"),
    ("pho2ng", "phòng"), ("cho61ng", "chống"), ("thie6n", "thiên"),     # VNI
    ("d9o2i", "đòi"), ("xu73", "xử"), ("u7o72ng", None), ("cu7o72ng", "cường"), ("du74", "dữ"), ("xu7o7ng3", "xưởng"),
])
def test_keystrokes_are_read_back(typed, expected):
    assert decode_word(typed, known) == expected


@pytest.mark.parametrize("typed", [
    "tai", "an", "sao", "trung", "xe",      # words the archive knows as typed (s, r, x before the vowel are consonants)
    "IS", "HLV", "UBND",                    # abbreviations
    "2021", "U23", "F0",                    # numbers and names with digits
    "Mourinho", "xyzzy", "phongfx",         # no reading the archive knows; two tone keys
])
def test_what_has_no_plausible_reading_stays_as_typed(typed):
    assert decode_word(typed, known) is None


def test_a_mixed_query_decodes_only_its_keystroke_words():
    assert decode_text("phongf chống thieen tai 2021, Covid-19", known) == "phòng chống thiên tai 2021, Covid-19"
    assert decode_text("pho2ng cho61ng thie6n tai", known) == "phòng chống thiên tai"


def test_the_search_reads_keystrokes_shows_the_reading_and_can_search_as_typed(client):
    plain = client.get("/api/search", query_string={"q": "phòng chống thiên tai"}).get_json()
    for typed in ("phongf choongs thieen tai", "pho2ng cho61ng thie6n tai"):
        found = client.get("/api/search", query_string={"q": typed}).get_json()
        assert found["rewritten_query"] == "phòng chống thiên tai"
        assert [h["id"] for h in found["results"][:3]] == [h["id"] for h in plain["results"][:3]]
        assert "<mark>" in found["results"][0]["snippet"]
        as_typed = client.get("/api/search", query_string={"q": typed, "as_typed": "true"}).get_json()
        assert as_typed["rewritten_query"] is None and as_typed["total"] < found["total"]
    page = client.get("/", query_string={"q": "phongf choongs thieen tai"}).get_data(as_text=True)
    assert "Tìm theo nghĩa: <em>phòng chống thiên tai</em>" in page and "Tìm đúng như đã gõ" in page


SYLLABLES = frozenset(vtext.fold(w) for w in (ARCHIVE + " binh vinh anh xưng ghen đáng điệp chồng").split())
ARCHIVE_MORE = ARCHIVE + " binh vinh anh xưng ghen đáng điệp chồng"


def known_more(folded: str) -> dict[str, int]:
    return {w: 1 for w in ARCHIVE_MORE.split() if vtext.fold(w) == folded}


@pytest.mark.parametrize(("typed", "expected"), [
    ("chốg", "chống"),      # a letter dropped: the spelling nearest the typed marks, not chồng
    ("xưởg", "xưởng"),      # dropped, rather than a letter replaced (xưng)
    ("biinh", "binh"),      # doubled; typed without marks it stays folded, for restoration in context
    ("Vnh", "Vinh"),        # a letter dropped beats one replaced (Anh); the capital is kept
    ("gheen", "ghen"), ("đánng", "đáng"), ("điiệp", "điệp"),
])
def test_a_typo_is_read_as_the_syllable_it_misses(typed, expected):
    from indexer.input_methods import correct_word

    assert correct_word(typed, known_more, SYLLABLES) == expected


COUNTS = {"long": {"lòng": 80, "log": 3}, "hang": {"hàng": 90}, "hng": {"hng": 2}, "dien": {"diễn": 60},
          "den": {"đến": 400, "đèn": 30}, "tu": {"từ": 900, "tự": 300}, "tung": {"tung": 40}, "log": {"log": 3},
          "vien": {"viên": 20}, "vem": {}}


@pytest.mark.parametrize(("typed", "expected"), [
    ("lòg", "lòng"),   # no syllable, though "log" folds alike: the archive never writes "lòg"
    ("hng", "hang"),   # no vowel: a typo however often the archive has the letters; folded, restored in context
    ("dễn", "diễn"),   # a well-formed syllable the archive never writes, one letter from one it writes often
    ("vêm", None),     # ... but not towards one it writes rarely (viên: 20 times)
    ("tug", "tung"),   # a letter dropped, not one too many: "tu" is far more frequent yet no likelier typo
])
def test_a_typo_the_archive_has_the_letters_of_or_never_writes_so(typed, expected):
    from indexer.input_methods import correct_word

    syllables = frozenset(COUNTS)
    assert correct_word(typed, lambda folded: COUNTS.get(folded, {}), syllables) == expected


@pytest.mark.parametrize("typed", ["quét", "then", "tai", "IS", "HLV", "xyzzy", "ab"])
def test_what_may_be_a_word_is_never_corrected(typed):
    """A word the archive knows, a well-formed syllable it has not met (quét, then), an abbreviation,
    two letters, or a word with no syllable one edit away: as typed."""
    from indexer.input_methods import correct_word

    assert correct_word(typed, known_more, SYLLABLES) is None


def test_a_query_with_a_typo_finds_what_the_right_spelling_finds(client):
    right = client.get("/api/search", query_string={"q": "phòng chống thiên tai"}).get_json()
    typo = client.get("/api/search", query_string={"q": "phòng chốg thiên tai"}).get_json()
    assert typo["rewritten_query"] == "phòng chống thiên tai"
    assert [h["id"] for h in typo["results"][:3]] == [h["id"] for h in right["results"][:3]]
    assert re.search(r"<mark>[^<]*chống[^<]*</mark>", " ".join(h["snippet"] for h in typo["results"]).lower())


def test_a_corrected_query_is_offered_as_did_you_mean(client):
    """The reading is searched at once, and offered as a link the reader can keep ("Có phải bạn
    muốn tìm"); a query typed right offers nothing."""
    body = client.get("/api/search", query_string={"q": "phòng chốg thiên tai"}).get_json()
    assert body["corrected_query"] == "phòng chống thiên tai"
    assert client.get("/api/search", query_string={"q": "phòng chống thiên tai"}).get_json()["corrected_query"] is None
    page = client.get("/", query_string={"q": "phongf choongs thieen tai"}).get_data(as_text=True)
    assert 'Có phải bạn muốn tìm: <a href="/?q=ph%C3%B2ng+ch%E1%BB%91ng+thi%C3%AAn+tai"><em>phòng chống thiên tai</em>' in page
    assert "Có phải bạn muốn tìm" not in client.get("/", query_string={"q": "phòng chống thiên tai"}).get_data(as_text=True)


def test_a_pasted_headline_keeps_its_spelling(engine):
    """Typos are read back in a typed query; a query over TYPO_QUERY_WORDS words is a headline
    pasted as published, its foreign words no typos ("wrap dress" once became "rap press")."""
    from indexer.input_methods import TYPO_QUERY_WORDS

    assert engine.parse("phòng chốg thiên tai").normalized == "phòng chống thiên tai"
    pasted = "Hội nghị về công tác phòng chốg thiên tai của huyện năm nay"
    assert len(pasted.split()) > TYPO_QUERY_WORDS and engine.parse(pasted).normalized == pasted

