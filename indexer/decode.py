"""Page bytes → text, the one way every entry point does it (crawl, ingest, probe, benchmarks).

Order: a byte-order mark, the HTTP header's charset, the page's <meta> charset, UTF-8, then
detection. The text comes out in NFC, so windows-1258 (which writes tone marks as separate
combining characters) reads like any other page to every rule that follows. Bytes that no
candidate decodes cleanly are a DecodeError with the reason: replacement characters are never
stored silently.
"""
from __future__ import annotations

import codecs
import re
import unicodedata

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Names that pages write and Python spells otherwise; latin-1 pages are nearly always windows-1252.
_ALIASES = {"windows-1258": "cp1258", "x-viet-vni": "cp1258", "iso-8859-1": "cp1252", "latin1": "cp1252",
            "latin-1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}
# Share of characters that may be controls or other unprintable code points in real text.
_MAX_ODD_SHARE = 0.001


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
            codecs.lookup(codec)
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
    return unicodedata.normalize("NFC", _decode(body, content_type))


def _decode(body: bytes, content_type: str) -> str:
    if not body:
        return ""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec)
    tried = []
    for codec in [*declared_charsets(body, content_type), "utf-8"]:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if _plausible(text):
            return text
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding and _plausible(text := str(best)):
        return text
    raise DecodeError(f"not text in {', '.join(tried)} nor in any detected encoding")
