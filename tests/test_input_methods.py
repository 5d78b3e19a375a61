"""Telex and VNI keystrokes left in a query (the keyboard's Vietnamese mode off) are read back, but
only where the archive knows the reading and not the word as typed."""
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
