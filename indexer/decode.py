"""Page bytes → text, the one way every entry point does it (crawl, ingest, probe, benchmarks).

Order: a byte-order mark, the HTTP header's charset, the page's <meta> charset, UTF-8, then
detection. VNI pages (declared ``x-viet-vni``, or cp1252 text set in a VNI font) are converted:
VNI writes a vowel as its base letter followed by Latin-1 "mark" characters. The text comes out
in NFC, so windows-1258 (which writes tone marks as separate combining characters) reads like any
other page to every rule that follows.

The real web has pages that are valid except for a few bad bytes (a truncated multi-byte character,
one paragraph pasted from another encoding). When no candidate decodes a page cleanly, the declared
charset or UTF-8 that reads all but at most 0.5% of its bytes, each bad byte replaced with U+FFFD,
is taken, and the count travels with the text (`Decoded.replaced`) so a crawl reports it. Bytes that
no candidate reads even so (binary data, a page in an encoding it does not declare) are a
DecodeError with the reason.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Names that pages write and Python spells otherwise; latin-1 pages are nearly always windows-1252.
_ALIASES = {"windows-1258": "cp1258", "iso-8859-1": "cp1252", "latin1": "cp1252",
            "latin-1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}
# Share of characters that may be controls or other unprintable code points in real text.
_MAX_ODD_SHARE = 0.001
# Share of a page's bytes that may be undecodable in its encoding and replaced with U+FFFD.
MAX_REPLACED_SHARE = 0.005
# A UTF-8 page with bad bytes must read at least this many good multi-byte characters per bad byte:
# fewer, and it is a single-byte page that happens to hold a few valid UTF-8 sequences.
_MIN_GOOD_PER_BAD = 10
_ESCAPED = re.compile("[\udc80-\udcff]")


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


@dataclass(frozen=True)
class Decoded:
    """A page's text, the codec that read it, and how many bad bytes were replaced to read it."""

    text: str
    codec: str
    replaced: int = 0


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


def _plausible(text: str, replaced: int = 0) -> bool:
    """Decoded text that is not binary data in disguise: few control characters, and no U+FFFD
    beyond the `replaced` bad bytes the decoder put there."""
    if text.count("\ufffd") > replaced:
        return False
    odd = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f")
    return odd <= _MAX_ODD_SHARE * max(1, len(text))


def decode_page(body: bytes, content_type: str = "") -> Decoded:
    """The page's text in NFC, with the codec and the bad bytes replaced; raises DecodeError when
    no encoding yields real text."""
    found = _decode(body, content_type)
    text = found.text
    if found.codec in _VNI_CHARSETS or (found.codec == "cp1252" and _VNI_FONT.search(text)):
        text = vni_to_unicode(text)
    return Decoded(unicodedata.normalize("NFC", text), found.codec, found.replaced)


def decode_html(body: bytes, content_type: str = "") -> str:
    """The page's text in NFC; raises DecodeError when no encoding yields real text."""
    return decode_page(body, content_type).text


def _python_codec(codec: str) -> str:
    return "cp1252" if codec in _VNI_CHARSETS else codec


def _with_replacements(body: bytes, codec: str) -> Decoded | None:
    """The body read in this codec with its few bad bytes replaced, or None when too many are bad."""
    escaped = body.decode(_python_codec(codec), errors="surrogateescape")  # a bad byte: U+DC80 + byte
    bad = len(_ESCAPED.findall(escaped))
    text = _ESCAPED.sub("\ufffd", escaped)
    if not bad or bad > MAX_REPLACED_SHARE * len(body) or not _plausible(text, bad):
        return None
    if codec == "utf-8" and len(body) - sum(ch < "\x80" for ch in text) - bad < _MIN_GOOD_PER_BAD * bad:
        return None  # hardly any real UTF-8 around the bad bytes: not a UTF-8 page
    return Decoded(text, codec, bad)


def _decode(body: bytes, content_type: str) -> Decoded:
    if not body:
        return Decoded("", "utf-8")
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return Decoded(body.decode(codec), codec)
    tried = list(dict.fromkeys([*declared_charsets(body, content_type), "utf-8"]))
    for codec in tried:
        try:
            text = body.decode(_python_codec(codec))
        except UnicodeDecodeError:
            continue
        if _plausible(text):
            return Decoded(text, codec)
    for codec in tried:  # the page's own encoding, but for a few bad bytes
        found = _with_replacements(body, codec)
        if found is not None:
            return found
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding and _plausible(text := str(best)):
        return Decoded(text, best.encoding)
    raise DecodeError(f"not text in {', '.join(tried)} nor in any detected encoding "
                      f"(nor with at most {MAX_REPLACED_SHARE:.1%} of its bytes replaced)")
