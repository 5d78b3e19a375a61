"""One decoding path: legacy Vietnamese encodings become NFC text; undecodable bytes are an error."""
import random
import unicodedata

import pytest

from fixtures.site import to_cp1258
from indexer.decode import VNI_TABLE, DecodeError, decode_html, decode_page, vni_to_unicode

SENTENCE = "Đặng Văn Quang, Phó Chủ tịch UBND huyện, phát biểu tại hội nghị phòng chống thiên tai"
PAGE = ("<html><head><meta charset=\"{charset}\"><title>Hội nghị phòng chống thiên tai</title></head><body>"
        "<h1>Hội nghị phòng chống thiên tai năm 2021</h1><div class=\"date\">Ngày đăng: 12/03/2021</div>"
        "<div class=\"detail-content\"><p>{text}.</p><p>{text}, nhấn mạnh yêu cầu sẵn sàng ứng phó.</p></div>"
        "</body></html>")
# The same sentence as VNI-Windows writes it (each vowel: its base letter, then Latin-1 mark characters),
# typed by hand and checked against an independent converter (npm vietnamese-conversion, 2026-11-29).
VNI_SENTENCE = "Ñaëng Vaên Quang, Phoù Chuû tòch UBND huyeän, phaùt bieåu taïi hoäi nghò phoøng choáng thieân tai"


def to_vni(text: str) -> bytes:
    """Encode as VNI-Windows does (the table itself is checked against literal VNI text below)."""
    letters = {letter: vni for vni, letter in VNI_TABLE.items()}
    return "".join(letters.get(ch, ch) for ch in unicodedata.normalize("NFC", text)).encode("cp1252")


def test_windows_1258_with_decomposed_tones_is_nfc_text():
    text = decode_html(to_cp1258(f'<meta charset="windows-1258"><p>{SENTENCE}</p>'), "text/html")
    assert SENTENCE in text and unicodedata.is_normalized("NFC", text)
    assert decode_html(SENTENCE.encode()) == SENTENCE


def test_vni_pages_are_converted_by_declared_charset_or_vni_font():
    assert vni_to_unicode(VNI_SENTENCE) == SENTENCE
    assert vni_to_unicode("NGÖÔØI VIEÄT NAM ÑOÀNG YÙ") == "NGƯỜI VIỆT NAM ĐỒNG Ý"
    declared = decode_html(f'<meta charset="x-viet-vni"><p>{VNI_SENTENCE}</p>'.encode("cp1252"))
    assert SENTENCE in declared
    by_font = decode_html(f'<meta charset="iso-8859-1"><font face="VNI-Times">{VNI_SENTENCE}</font>'.encode("cp1252"))
    assert SENTENCE in by_font
    french = "<meta charset='iso-8859-1'><p>Café crème à la française</p>".encode("cp1252")
    assert "Café crème à la française" in decode_html(french)  # no VNI font: left alone


def test_binary_data_is_an_error_not_replacement_characters():
    with pytest.raises(DecodeError, match="not text"):
        decode_html(b"<html>" + bytes(range(256)) * 40)


@pytest.mark.parametrize(("name", "encode"), [
    ("windows-1258", lambda page: to_cp1258(page.format(charset="windows-1258", text=SENTENCE))),
    ("vni", lambda page: to_vni(page.format(charset="x-viet-vni", text=SENTENCE))),
])
def test_saved_legacy_pages_ingest_as_correct_nfc_text(name, encode, tmp_path, monkeypatch, capsys):
    from indexer.__main__ import main

    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path / "data"))
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / f"{name}.html").write_bytes(encode(PAGE))
    (pages / "binary.html").write_bytes(b"<html>" + random.Random(1).randbytes(5000))
    assert main(["ingest", str(pages), "--base-url", "https://huyen.example.gov.vn/luu-tru"]) == 0
    captured = capsys.readouterr()
    assert "new 1" in captured.out and "failed 1" in captured.out and "binary.html" in captured.err
    from indexer import store

    conn = store.connect(tmp_path / "data" / "archive.sqlite3")
    row = conn.execute("SELECT title, body FROM articles").fetchone()
    assert row["title"] == "Hội nghị phòng chống thiên tai năm 2021" and SENTENCE in row["body"]
    assert "\ufffd" not in row["body"] and unicodedata.is_normalized("NFC", row["body"])


def test_a_few_bad_bytes_are_replaced_and_counted_many_are_refused():
    """A page valid but for a few bad bytes (a cut multi-byte character) is read, each bad byte a
    U+FFFD and counted; one that is mostly undecodable in its own encoding is still refused."""
    page = PAGE.format(charset="utf-8", text=SENTENCE).encode()
    cut = page.index("Phó".encode()) + 3  # "ó" is two bytes: its first is left alone
    damaged = page[:cut] + page[cut + 1:]
    found = decode_page(damaged, "text/html; charset=utf-8")
    assert found.replaced == 1 and found.codec == "utf-8"
    assert "Ph\ufffd Chủ tịch" in found.text and found.text.count("\ufffd") == 1
    assert decode_page(page).replaced == 0
    noisy = bytearray(page * 3)
    for position in range(50, len(noisy), 60):  # well over 0.5% of the bytes
        noisy[position] = 0xFF
    with pytest.raises(DecodeError, match=r"0\.5%"):
        decode_page(bytes(noisy), "text/html; charset=utf-8")
