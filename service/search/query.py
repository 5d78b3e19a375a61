"""What a search asks: the request (Query) and what its text means (ParsedQuery): words to
match, exact spellings, phrases, a period and places named in it, abbreviations, restored
diacritics."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

from indexer import abbreviations, diacritics, places
from indexer import text as vtext
from indexer.dates import DateIntent, query_date_intent
from indexer.lexical import WordQuery
from indexer.models import Filters

MODES = ("hybrid", "semantic", "lexical")
SORTS = ("relevance", "date")
_PHRASE = re.compile(r'["“”]([^"“”]+)["“”]')
RELATIVE_QUERY_WORDS = 8  # periods relative to the day of the search count in queries this long at most
WordRestorer = Callable[[list[str]], list[str]]  # a run of words typed without diacritics or capitals → restored


@dataclass(frozen=True)
class Query:
    text: str
    page: int = 1
    per_page: int = 10
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    mode: str = "hybrid"
    explain: bool = False  # record why each result scored what it did (never changes the ranking)
    collapse: bool = True  # one result per group of near-duplicate copies (indexer/duplicates.py)
    as_typed: bool = False  # no rewriting: diacritics, capitals and abbreviations as typed


@dataclass(frozen=True)
class ParsedQuery:
    """What the query means: words for matching, phrases, and a period if it names one."""

    normalized: str
    semantic_text: str
    terms: tuple[str, ...]     # folded words
    phrases: tuple[str, ...]   # folded phrases
    date_intent: DateIntent | None
    restored: str | None = None  # the query with diacritics restored, when typed without them
    alternatives: tuple[str, ...] = ()  # folded phrases an abbreviation in the query stands for, or back
    exact_words: tuple[str, ...] = ()    # canonical words with diacritics, typed or restored
    exact_phrases: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # places the query names (unit keys, indexer/places.py)
    rewritten: str | None = None  # what the semantic side reads, when rewriting changed what was typed

    def words_to_match(self, exact: bool = False) -> WordQuery:
        """What the lexical lists match: the phrases, and any of the words (folded, with the
        abbreviations' alternatives) or, with `exact`, the words as spelled with diacritics."""
        if exact:
            return WordQuery(tuple(tuple(p.split()) for p in self.exact_phrases),
                             tuple((w,) for w in self.exact_words))
        return WordQuery(tuple(tuple(p.split()) for p in self.phrases),
                         tuple((t,) for t in self.terms)
                         + (tuple(tuple(a.split()) for a in self.alternatives) if self.terms else ()))

    def without(self, common: tuple[set[str], set[str]]) -> ParsedQuery:
        """The query for matching, these (folded, exact) words left out of its OR lists; phrases
        keep them."""
        folded, exact = common
        return replace(self, terms=tuple(t for t in self.terms if t not in folded),
                       exact_words=tuple(w for w in self.exact_words if w not in exact))

    @cached_property
    def exact(self) -> bool:
        """Typed with diacritics: highlight only words spelled that way (not "Tại" for "tai")."""
        return vtext.has_diacritics(self.normalized)

    @property
    def word_form(self) -> Callable[[str], str]:
        """How a word is compared: spelled as typed (canonical tones) or folded."""
        return vtext.canonical_word if self.exact else vtext.fold_word

    @cached_property
    def word_pairs(self) -> set[tuple[str, str]]:
        form = self.word_form
        return vtext.word_pairs([form(w) for w in vtext.words(self.normalized)])

    @property
    def highlight_terms(self) -> set[str]:
        """Canonical words with diacritics when the query has them, folded words otherwise."""
        if self.exact:
            return set(self.exact_words) | {w for p in self.exact_phrases for w in p.split()}
        return set(self.terms) | {w for p in self.phrases for w in p.split()}


def parse_query(raw: str, restore_diacritics: WordRestorer | None = None,
                restore_capitals: WordRestorer | None = None, expand: bool = True,
                decode_keys: Callable[[str], str] | None = None, today: date | None = None) -> ParsedQuery:
    """Split a query into terms, phrases and a period; decode Telex or VNI keystrokes left in it
    (`decode_keys`: "phongf choongs" → "phòng chống"); restore diacritics, and the capitals of a
    query typed all in lower case, for the dense side (e5 reads "Nghệ An" better than "nghệ an");
    with `expand`, match and read abbreviations spelled out too. Without restorers, decoder and
    `expand`, the query is searched exactly as typed. With `today` (the day of the search in the
    newsroom's zone), periods named relative to it count too ("tháng trước", "năm ngoái")."""
    typed_text = vtext.normalize(raw)
    normalized = vtext.normalize(decode_keys(typed_text)) if decode_keys else typed_text
    phrases = tuple(vtext.fold(" ".join(vtext.words(p))) for p in _PHRASE.findall(normalized))
    phrases = tuple(p for p in phrases if p)
    outside = _PHRASE.sub(" ", normalized)
    # "hôm nay" in a pasted headline ("Giá vàng hôm nay 5/6: Giảm mạnh, …") is its text, not the day asked for
    intent = query_date_intent(outside, today if len(vtext.words(outside)) <= RELATIVE_QUERY_WORDS else None)
    if intent and not intent.rest and not phrases:
        intent = DateIntent(intent.start, intent.end, outside)  # the query is only a date: search it too
    rest = intent.rest if intent else outside
    terms = tuple(dict.fromkeys(vtext.fold(w) for w in vtext.words(rest)))
    semantic = " ".join(filter(None, [rest.strip(), *(_PHRASE.findall(normalized))])).strip() or normalized
    typed, restored = semantic, None
    if restore_diacritics and not vtext.has_diacritics(semantic) and vtext.words(semantic):
        restored = restore_text(semantic, restore_diacritics)
        semantic = restored
    if restore_capitals and not any(c.isupper() for c in normalized):
        semantic = restore_text(semantic, restore_capitals)
        restored = semantic if restored else None
    exact_source = rest if vtext.has_diacritics(normalized) else (restored or "")
    exact_words = tuple(dict.fromkeys(vtext.canonical_word(w) for w in vtext.words(exact_source)))
    exact_phrases = tuple(" ".join(vtext.canonical_word(w) for w in vtext.words(p))
                          for p in _PHRASE.findall(normalized)) if vtext.has_diacritics(normalized) else ()
    found = abbreviations.alternatives(list(terms)) if expand else []
    alternatives = tuple(dict.fromkeys(" ".join(a) for _, options in found for a in options))
    readings = [r for span, _ in found for r in abbreviations.spelled_out(" ".join(span))]
    if readings:  # the model reads "ủy ban nhân dân" better than "UBND"
        semantic = f"{semantic} ({', '.join(readings)})"
    return ParsedQuery(normalized, semantic, terms, phrases, intent, restored, alternatives,
                       exact_words, tuple(p for p in exact_phrases if p), places.query_places(normalized),
                       semantic if semantic != typed or normalized != typed_text else None)


def without_quotes(text: str) -> str:
    """The query with its quoted phrases as plain words (what the empty state offers instead)."""
    return re.sub(r"\s+", " ", _PHRASE.sub(lambda m: f" {m.group(1)} ", text)).strip()


def restore_text(text: str, restore_words: WordRestorer) -> str:
    """Replace each run of letters by its restored spelling (diacritics or capitals), keeping digits
    and punctuation."""
    def run(match: re.Match) -> str:
        return " ".join(restore_words(match.group(0).split()))

    return diacritics.WORD_RUN.sub(run, text)
