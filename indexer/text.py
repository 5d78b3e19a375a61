"""Vietnamese text: the one normalisation both indexing and querying use, folding, chunking.

Pure functions only. The index and the query path must agree byte for byte, so every other module
calls these rather than re-implementing any of it.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

# The five Vietnamese tone marks, as combining characters (NFD).
TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
# Control and invisible characters, and Unicode's noncharacters (U+FDD0–FDEF, U+FFFE/FFFF of
# the first plane), which no text may hold and XML refuses.
_CONTROL = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2060\ufeff"
                      "\ufdd0-\ufdef\ufffe\uffff]")
_WORD = re.compile(r"\w+", re.UNICODE)
# Rimes whose tone mark moves between the old (hoà, thuỷ) and new (hòa, thủy) placement.
_MOVABLE_RIME = re.compile(r"(oa|oe|uy)$")


@lru_cache(maxsize=200_000)
def _place_tone(word: str) -> str:
    """One canonical tone placement: the mark sits on the first vowel of a final oa/oe/uy (cached:
    storing an article places the tone of every word of it, and words repeat)."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) != 1:
        return word
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    match = _MOVABLE_RIME.search(bare.lower())
    if not match:
        return word
    first = match.start()
    if bare.lower()[first:] == "uy" and first > 0 and bare.lower()[first - 1] == "q":
        return word  # "quý": the u belongs to the consonant qu-
    placed = bare[:first + 1] + tones[0] + bare[first + 1:]
    return unicodedata.normalize("NFC", placed)


def _vowel(base: str) -> str:
    """Every letter that is `base` (or its capital) once a tone mark is taken off it: a class for a regex."""
    found = []
    for point in (*range(0x41, 0x250), *range(0x1E00, 0x1F00)):
        letter = chr(point)
        decomposed = unicodedata.normalize("NFD", letter)
        if letter.isalpha() and unicodedata.normalize(
                "NFC", "".join(c for c in decomposed if c not in TONE_MARKS)).lower() == base:
            found.append(letter)
    return "".join(found)


# Where a word _place_tone can change ends: in a movable rime, tone marks aside. normalize() calls
# it for these words only, a few in a hundred.
_MOVABLE_END = re.compile(rf"(?:[{_vowel('o')}][{_vowel('a')}{_vowel('e')}]|[{_vowel('u')}][{_vowel('y')}])(?!\w)")


def is_noncharacter(char: str) -> bool:
    """One of Unicode's 66 noncharacters (U+FDD0–FDEF and the last two code points of each plane)."""
    point = ord(char)
    return 0xFDD0 <= point <= 0xFDEF or point & 0xFFFE == 0xFFFE


def clean(text: str) -> str:
    """NFC, no control characters, single spaces, paragraphs kept: how text is stored and shown.

    Spelling is kept as published (an archive shows ``Văn Hoà`` as the byline was written).
    """
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Spaces, tabs and the like in a run are one space; a run of blank space holding line breaks is
    # one line break or, with two or more, one blank line (split() and re's \s agree on what is blank).
    out: list[str] = []
    blank = False
    for line in text.split("\n"):
        words = line.split()
        if not words:
            blank = True
            continue
        if out:
            out.append("\n\n" if blank else "\n")
        out.append(" ".join(words))
        blank = False
    return "".join(out)


def normalize(text: str) -> str:
    """clean() plus one canonical tone placement: the form that is matched and embedded.

    Used identically for passages at index time and for queries, so ``hoà`` meets ``hòa``.
    Lengths do not change (the mark moves between precomposed letters), so offsets stay valid.
    """
    text = clean(text)
    out: list[str] = []
    done = 0
    for match in _MOVABLE_END.finditer(text):
        start = match.start()
        while start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # re's \w, back to the word's start
            start -= 1
        word = text[start:match.end()]
        placed = _place_tone(word)
        if placed != word:
            out += (text[done:start], placed)
            done = match.end()
    return "".join(out) + text[done:] if out else text


class _Folded(dict):
    """Each character's folded form, computed at its first use: its canonical decomposition
    without combining marks, đ as d. Folding a text character by character is exactly folding it
    whole (only combining marks, all dropped, are ever reordered), twice as fast with str.translate."""

    def __missing__(self, point: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(point))
        self[point] = folded = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")
        return folded


_FOLDED = _Folded()


def fold(text: str) -> str:
    """Lower case without any diacritics, with đ → d: what people type on a plain keyboard."""
    return text.lower().translate(_FOLDED)


@lru_cache(maxsize=100_000)
def fold_word(word: str) -> str:
    """fold() for one word, cached: snippets fold every word of every passage they show."""
    return fold(word)


@lru_cache(maxsize=100_000)
def canonical_word(word: str) -> str:
    """Lower case with canonical tone placement: how a word typed with diacritics is compared."""
    return _place_tone(unicodedata.normalize("NFC", word).lower())


def has_diacritics(text: str) -> bool:
    return fold(text) != text.lower()


def words(text: str) -> list[str]:
    return _WORD.findall(text)


_SENTENCE_END = re.compile(r"[.!?:…]\s*$")


def in_names(parts: list[str], starts_sentence: bool = True) -> list[bool]:
    r"""For each word of `parts` (re.split(r"(\w+)", text): separators at even positions, words at
    odd ones), whether it belongs to a name written in the text: a run of two or more capitalised
    words joined by spaces ("Thừa Thiên Huế", "Nghệ An"), not counting a sentence's first word
    (which is capitalised anyway; a query's first word is none: `starts_sentence` false) nor words
    written all in capitals (abbreviations)."""
    words, gaps = parts[1::2], parts[0::2]
    capital = [w[:1].isupper() and not (len(w) > 1 and w.isupper()) for w in words]
    starts = [(i == 0 and starts_sentence) or (i > 0 and bool(_SENTENCE_END.search(gaps[i])))
              for i in range(len(words))]
    flags, i = [False] * len(words), 0
    while i < len(words):
        end = i
        while capital[end] and end + 1 < len(words) and capital[end + 1] and not gaps[end + 1].strip():
            end += 1
        if end - i + 1 - (1 if starts[i] else 0) >= 2:
            flags[i:end + 1] = [True] * (end - i + 1)
        i = end + 1
    return flags


def folded_words(text: str) -> str:
    """The folded words joined by single spaces: how text is matched without diacritics."""
    return " ".join(words(fold(text)))


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each of words(text) starts and ends."""
    return [m.span() for m in _WORD.finditer(text)]


def word_pairs(forms: Iterable[str]) -> set[tuple[str, str]]:
    """Adjacent pairs, in order. Vietnamese writes a word as syllables ("thành phố", "Trần Đại
    Quang"): a pair matched in order is a compound or a name, where a bag of syllables is not."""
    return set(pairwise(forms))


def document_text(summary: str, body: str) -> str:
    """The text passages are cut from: lead then body. Passage offsets index into this string."""
    return "\n\n".join(part for part in (summary.strip(), body.strip()) if part)


# A sentence ends at . ! ? … (optionally closed by a quote or bracket) before a capital letter or
# a paragraph break. Digits around a dot (25.1.2021, 1.500) and "TP." before a name stay whole
# because the next character must be whitespace followed by an upper-case letter or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“(]?[A-ZÀ-ỸĐ0-9])|\n+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentence_spans(text: str) -> list[Span]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start()
        if text[start:end].strip():
            spans.append(_trimmed(text, start, end))
        start = match.end()
    if text[start:].strip():
        spans.append(_trimmed(text, start, len(text)))
    return spans


def _trimmed(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def _split_long(text: str, span: Span, max_words: int) -> list[Span]:
    """A sentence longer than a passage (tables, lists without stops) is cut at word boundaries."""
    pieces = list(_WORD.finditer(text, span.start, span.end))
    if len(pieces) <= max_words:
        return [span]
    out = []
    for i in range(0, len(pieces), max_words):
        group = pieces[i:i + max_words]
        end = pieces[i + max_words].start() if i + max_words < len(pieces) else span.end
        out.append(_trimmed(text, group[0].start() if i else span.start, end))
    return out


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    text: str


def chunk(text: str, target_words: int = 180, overlap_words: int = 30) -> list[Chunk]:
    """Sentence-aware passages of about target_words, the last sentences repeated as overlap.

    Passages stay well under the model's 512-token limit: Vietnamese runs at about 1.3–1.6
    tokens a syllable, so 180 words is ≈ 250–290 tokens, and a passage never exceeds 1.4× target.
    """
    max_words = int(target_words * 1.4)
    sentences = [piece for span in sentence_spans(text) for piece in _split_long(text, span, max_words)]
    counts = [len(_WORD.findall(text, s.start, s.end)) for s in sentences]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (total < target_words or j == i):
            if j > i and total + counts[j] > max_words:
                break
            total += counts[j]
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        chunks.append(Chunk(start, end, text[start:end]))
        if j >= len(sentences):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        k, back = j, 0
        while k - 1 > i and back + counts[k - 1] <= overlap_words:
            k -= 1
            back += counts[k]
        i = k
    if len(chunks) >= 2 and len(_WORD.findall(chunks[-1].text)) < target_words // 2:
        # A short tail is mostly overlap: fold it into the previous passage when that still fits.
        merged = Chunk(chunks[-2].start, chunks[-1].end, text[chunks[-2].start:chunks[-1].end])
        if len(_WORD.findall(merged.text)) <= max_words:
            chunks[-2:] = [merged]
    return chunks
