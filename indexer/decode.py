"""Page bytes → text, the one way every entry point does it (crawl, ingest, probe, benchmarks).

Order: a byte-order mark, the HTTP header's charset, the page's <meta> charset, UTF-8, then
detection. VNI pages (declared ``x-viet-vni``, or cp1252 text set in a VNI font) are converted:
VNI writes a vowel as its base letter followed by Latin-1 "mark" characters. The text comes out
in NFC, so windows-1258 (which writes tone marks as separate combining characters) reads like any
other page to every rule that follows. Bytes that no candidate decodes cleanly are a DecodeError
with the reason: replacement characters are never stored silently.
"""
from __future__ import annotations

import codecs
import re
import unicodedata

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Names that pages write and Python spells otherwise; latin-1 pages are nearly always windows-1252.
_ALIASES = {"windows-1258": "cp1258", "iso-8859-1": "cp1252", "latin1": "cp1252",
            "latin-1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}
# Share of characters that may be controls or other unprintable code points in real text.
_MAX_ODD_SHARE = 0.001


# VNI-Windows: tone marks after a plain vowel (and after ơ = ô, ư = ö), the circumflex and breve
# families with their tones, and the letters written as one character. Lower case, then upper.
_TONES = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # sắc, huyền, hỏi, ngã, nặng
_VNI_PLAIN_TONES = ("ù", "ø", "û", "õ", "ï")
_VNI_CIRCUMFLEX = ("â", "á", "à", "å", "ã", "ä")   # no tone, then the five tones
_VNI_BREVE = ("ê", "é", "è", "ú", "ü", "ë")
_VNI_SINGLE = {"í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ", "ô": "ơ", "ö": "ư", "ñ": "đ"}
_VNI_FONT = re.compile(r"(?:font-family\s*:\s*[\"']?|face\s*=\s*[\"']?)VNI[- ]", re.I)
_VNI_CHARSETS = {"x-viet-vni", "vni", "x-vni"}


def _vni_table() -> dict[str, str]:
    table: dict[str, str] = {}

    def add(vni: str, letter: str) -> None:
        table[vni] = unicodedata.normalize("NFC", letter)
        table[vni.upper()] = unicodedata.normalize("NFC", letter).upper()

    for vowel in "aeouy":
        for mark, tone in zip(_VNI_PLAIN_TONES, _TONES):
            add(vowel + mark, vowel + tone)
    for vni_base, letter in (("ô", "ơ"), ("ö", "ư")):
        for mark, tone in zip(_VNI_PLAIN_TONES, _TONES):
            add(vni_base + mark, letter + tone)
    for vowel in "aeo":
        for mark, tone in zip(_VNI_CIRCUMFLEX, ("", *_TONES)):
            add(vowel + mark, vowel + "\u0302" + tone)
    for mark, tone in zip(_VNI_BREVE, ("", *_TONES)):
        add("a" + mark, "a\u0306" + tone)
    for vni, letter in _VNI_SINGLE.items():
        add(vni, letter)
    return table


VNI_TABLE = _vni_table()
_VNI_SEQUENCE = re.compile("|".join(sorted(map(re.escape, VNI_TABLE), key=len, reverse=True)))


def vni_to_unicode(text: str) -> str:
    """Text typed in the VNI encoding (read as cp1252) → Unicode: 'Vieät Nam' → 'Việt Nam'."""
    return _VNI_SEQUENCE.sub(lambda match: VNI_TABLE[match.group(0)], text)


class DecodeError(ValueError):
    """The bytes are not text in any encoding the page or server names, nor one detected."""


def declared_charsets(body: bytes, content_type: str = "") -> list[str]:
    """Charsets named by the server, then by the page itself (first 4 KB), as Python codec names."""
    names = []
    match = _HEADER_CHARSET.search(content_type or "")
    if match:
        names.append(match.group(1))
    match = _META_CHARSET.search(body[:4096])
    if match:
        names.append(match.group(1).decode("ascii", "ignore"))
    out = []
    for name in names:
        codec = _ALIASES.get(name.lower(), name.lower())
        try:
            codecs.lookup("cp1252" if codec in _VNI_CHARSETS else codec)
        except LookupError:
            continue
        if codec not in out:
            out.append(codec)
    return out


def _plausible(text: str) -> bool:
    """Decoded text that is not binary data in disguise: few control characters, no U+FFFD."""
    if "\ufffd" in text:
        return False
    odd = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f")
    return odd <= _MAX_ODD_SHARE * max(1, len(text))


def decode_html(body: bytes, content_type: str = "") -> str:
    """The page's text in NFC; raises DecodeError when no encoding yields real text."""
    text, codec = _decode(body, content_type)
    if codec in _VNI_CHARSETS or (codec == "cp1252" and _VNI_FONT.search(text)):
        text = vni_to_unicode(text)
    return unicodedata.normalize("NFC", text)


def _decode(body: bytes, content_type: str) -> tuple[str, str]:
    """(text, the codec that read it)."""
    if not body:
        return "", "utf-8"
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec), codec
    tried = []
    for codec in [*declared_charsets(body, content_type), "utf-8"]:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            text = body.decode("cp1252" if codec in _VNI_CHARSETS else codec)
        except UnicodeDecodeError:
            continue
        if _plausible(text):
            return text, codec
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding and _plausible(text := str(best)):
        return text, best.encoding
    raise DecodeError(f"not text in {', '.join(tried)} nor in any detected encoding")
