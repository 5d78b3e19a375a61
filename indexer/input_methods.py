"""Telex and VNI keystrokes left in a query when the keyboard's Vietnamese mode was off, and typos.

`phongf choongs thieen tai` (Telex) and `pho2ng cho61ng thie6n tai` (VNI) are "phòng chống thiên
tai" typed with the input method switched off: the vowel marks (aa, ow, uw, dd; a6, o7, d9) and
the tone key (s f r x j; 1–5), at the end of the word or right after its vowel, stay in the text.
A word is decoded only where that is plausible: the archive's vocabulary does not know it as
typed, and knows its decoding. A word of MIN_TYPO_LETTERS letters or more that the archive does not
know, and that is one letter dropped, doubled, swapped or mistyped away from a syllable it knows,
is read as that syllable (`chốg` → `chống`, `biinh` → `binh`). Pure functions; the vocabulary is
passed in.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from indexer import text as vtext

VOWELS = set("aăâeêioôơuưy")
# Tone keys and the combining marks they stand for (sắc, huyền, hỏi, ngã, nặng).
TELEX_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323"}
TELEX_MARKS = (("dd", "đ"), ("uwow", "ươ"), ("uow", "ươ"), ("aa", "â"), ("ee", "ê"), ("oo", "ô"), ("aw", "ă"),
               ("ow", "ơ"), ("uw", "ư"))
VNI_MARKS = (("d9", "đ"), ("a6", "â"), ("e6", "ê"), ("o6", "ô"), ("a8", "ă"), ("o7", "ơ"), ("u7", "ư"))
TOKEN = re.compile(r"[^\W_]+")
Known = Callable[[str], dict[str, int]]  # a folded syllable → {written form: times seen} in the archive
LETTERS = "abcdefghijklmnopqrstuvwxyz"
WELL_FORMED_EVIDENCE = 50  # times the archive writes a syllable before a well-formed unseen one is read as it
MIN_TYPO_LETTERS = 3  # shorter unknown words are more often names and abbreviations than typos
# Typos are read back in queries of at most this many words: a longer one is a pasted headline,
# spelled as published, whose foreign words ("wrap dress") are no typos of the archive's syllables.
TYPO_QUERY_WORDS = 8
# A well-formed Vietnamese syllable, folded: onset, vowels, final. One the archive does not know
# may still be a word it has not met, so only a word that is no syllable at all is corrected.
SYLLABLE = re.compile(r"(ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?"
                      r"(uye|uya|uyu|uoi|uou|oai|oay|oeo|ieu|yeu|uay|ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|"
                      r"uo|uu|uy|ye|a|e|i|o|u|y)(ch|ng|nh|[cmnpt])?")


def _first_vowel(word: str) -> int | None:
    return next((i for i, c in enumerate(word) if c in VOWELS), None)


def _split_tone(word: str, tones: dict[str, str]) -> tuple[str, str | None] | None:
    """(the word without its tone key, the tone mark), the key found after the first vowel (before it
    s, r and x are consonants: "sao", "trung", "xe"); None when the word holds two tone keys."""
    start = _first_vowel(word)
    if start is None:
        return None
    keys = [i for i in range(start + 1, len(word)) if word[i] in tones]
    if len(keys) > 1:
        return None
    if not keys:
        return word, None
    return word[:keys[0]] + word[keys[0] + 1:], tones[word[keys[0]]]


def _spellings(base: str, tone: str | None) -> list[str]:
    """The base with its tone mark on each of its vowels in turn (NFC): one of them is how it is written."""
    if tone is None:
        return [base]
    return [unicodedata.normalize("NFC", base[:i + 1] + tone + base[i + 1:])
            for i, c in enumerate(base) if c in VOWELS]


def decode_word(typed: str, known: Known) -> str | None:
    """The Vietnamese word a Telex or VNI keystroke run stands for, as the archive writes it, or
    None when the archive knows the word as typed or knows no decoding of it."""
    lower = typed.lower()
    if (typed.isupper() and len(typed) > 1) or lower.isdigit() or known(vtext.fold(lower)):
        return None  # an abbreviation (IS, HLV), a number, or a word the archive knows
    found: dict[str, int] = {}
    for tones, marks in ((TELEX_TONES, TELEX_MARKS), (VNI_TONES, VNI_MARKS)):
        split = _split_tone(lower, tones)
        if split is None:
            continue
        base, tone = split
        for keys, letter in marks:
            base = base.replace(keys, letter)
        if base == lower or not base.isalpha():  # no keystroke decoded, or digits left over
            continue
        for spelling in _spellings(base, tone):
            form = vtext.canonical_word(spelling)
            count = known(vtext.fold(form)).get(form, 0)
            if count:
                found[form] = max(found.get(form, 0), count)
    if not found:
        return None
    best = max(found, key=found.__getitem__)
    return best[0].upper() + best[1:] if typed[0].isupper() else best


def _edits(word: str) -> set[str]:
    """Every string one letter dropped, added, swapped with its neighbour or replaced away (a-z)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaced = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    return dropped | swapped | replaced | {a + c + b for a, b in splits for c in LETTERS}


def _distance(a: str, b: str) -> float:
    """Edit distance from typed `a` to `b` as typists slip: a letter dropped costs one, a letter
    doubled one, another letter too many one and a half, a letter replaced two (`xưởg` is `xưởng`,
    not `xưng`; `tug` is `tung`, not `tu`)."""
    def extra(i: int) -> float:  # a[i - 1] typed once too often
        return 1.0 if (i > 1 and a[i - 2] == a[i - 1]) or (i < len(a) and a[i] == a[i - 1]) else 1.5

    row = [float(j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, 1):
        row, previous = [row[0] + extra(i)], row
        for j, y in enumerate(b, 1):
            row.append(min(previous[j] + extra(i), row[j - 1] + 1, previous[j - 1] + 2 * (x != y)))
    return row[-1]


def correct_word(typed: str, known: Known, syllables: frozenset[str]) -> str | None:
    """The syllable of the archive a typo stands for, or None. A word typed with diacritics gets the
    spelling nearest to them (`chốg` → `chống`, not `chồng`); one typed without them stays folded, for
    diacritics restoration to read in context. Ties go to the more frequent syllable.

    A word typed without diacritics is read again only when it is no well-formed syllable and no
    syllable of the archive folds to it, or it has no vowel at all. One typed with them is read
    again when the archive never writes it so: at once if it is no well-formed syllable (`lòg`,
    its letters those of "log"), and if it is one (`dễn`, `vêm`) only towards a syllable the archive writes often enough
    (WELL_FORMED_EVIDENCE times) to outweigh a rare word it has not met."""
    lower = typed.lower()
    folded = vtext.fold(lower)
    if len(lower) < MIN_TYPO_LETTERS or not lower.isalpha() or (typed.isupper() and len(typed) > 1):
        return None
    accented, well_formed = vtext.has_diacritics(lower), bool(SYLLABLE.fullmatch(folded))
    voiceless = not VOWELS & set(folded)  # "hng", "sng": no syllable, however often the archive has the letters
    if not accented and (well_formed or (folded in syllables and not voiceless)):
        return None
    if accented and vtext.canonical_word(lower) in known(folded):
        return None  # the archive writes it so
    near = (_edits(folded) - {folded}) | ({folded} if accented else set())  # with marks, a mark may be the typo
    options = [(candidate, known(candidate)) for candidate in near & syllables]
    options = [(candidate, forms) for candidate, forms in options if forms]
    if not options:
        return None
    if accented:
        typed_form = vtext.canonical_word(lower)
        counts = {form: n for _, forms in options for form, n in forms.items()}
        best = min(counts, key=lambda form: (_distance(typed_form, form), -counts[form]))
        if well_formed and counts[best] < WELL_FORMED_EVIDENCE:
            return None
    else:
        best = min(options, key=lambda option: (_distance(folded, option[0]), -sum(option[1].values())))[0]
    return best[0].upper() + best[1:] if typed[0].isupper() else best


def decode_text(text: str, known: Known, syllables: frozenset[str] = frozenset()) -> str:
    """The text with every word that is a plausible Telex or VNI keystroke run decoded, and with
    `syllables` (the archive's folded ones) every plausible typo corrected; the rest as typed."""
    def word(match: re.Match) -> str:
        typed = match.group(0)
        return decode_word(typed, known) or (correct_word(typed, known, syllables) if syllables else None) or typed

    return TOKEN.sub(word, text)
