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
from indexer.models import Filters, WordQuery

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
    names: tuple[str, ...] = ()  # folded runs of capitalised words the query reads ("minh son")
    corrected: str | None = None  # the query with keystrokes and typos read back, when that changed it

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

    @cached_property
    def marks(self) -> Marks:
        """What a result marks: quoted phrases, place names and names each only whole; an
        abbreviation, what it stands for, or two or more of those words in a row; the other words
        alone, as typed (with diacritics), as restored, or folded."""
        found = abbreviations.alternatives(list(self.terms))
        g = places.gazetteer()
        runs = [(tuple(p.split()), True) for p in self.exact_phrases] if self.exact else \
            [(tuple(p.split()), False) for p in self.phrases]
        # an abbreviation's phrase, typed or stood for, also as any two or more of its words in a row
        runs += [(words[i:j], False) for span, options in found for words in (span, *options)
                 for i in range(len(words)) for j in range(len(words), i + 1 if len(words) > 1 else i, -1)]
        runs += [(tuple(vtext.fold_word(w) for w in vtext.words(g.units[key].name)), False) for key in self.places]
        runs += [(tuple(name.split()), False) for name in self.names]
        whole = {word for words, _ in runs if len(words) > 1 for word in words}
        spelled = self.exact or bool(self.restored and self.exact_words)
        singles = {w for w in (self.exact_words if spelled else self.terms) if vtext.fold_word(w) not in whole}
        written = self.restored or self.normalized
        capitalised = {vtext.fold_word(w) for w in vtext.words(written) if w[:1].isupper()}
        return Marks(tuple(dict.fromkeys(r for r in runs if r[0])), frozenset(singles),
                     frozenset(w for w in singles if vtext.fold_word(w) in capitalised), spelled,
                     loose=spelled and not self.exact)


@dataclass(frozen=True)
class Marks:
    """What a result's text marks: `runs` of words matched only whole (folded, or spelled as typed
    where flagged), and `words` matched alone (spelled as typed or restored when `exact`, else
    folded). Restored spellings are `loose`: a word the text never writes as restored is marked as
    it folds. A word alone is not marked inside a name written in the text ("Thiên" of "Thừa Thiên
    Huế" for "thiên tai") unless the query writes it capitalised too (`proper`)."""

    runs: tuple[tuple[tuple[str, ...], bool], ...]
    words: frozenset[str]
    proper: frozenset[str] = frozenset()
    exact: bool = False
    loose: bool = False


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
    names = tuple(dict.fromkeys(_names(semantic)))
    if readings:  # the model reads "ủy ban nhân dân" better than "UBND"
        semantic = f"{semantic} ({', '.join(readings)})"
    return ParsedQuery(normalized, semantic, terms, phrases, intent, restored, alternatives,
                       exact_words, tuple(p for p in exact_phrases if p), places.query_places(normalized),
                       semantic if semantic != typed or normalized != typed_text else None, names,
                       normalized if normalized != typed_text else None)


def _names(text: str) -> list[str]:
    """The names a query writes (runs of capitalised words), folded: "Minh Sơn", "Thừa Thiên Huế"."""
    parts = re.split(r"(\w+)", text)
    flags, words, runs = vtext.in_names(parts, starts_sentence=False), parts[1::2], []
    for i, flag in enumerate(flags):
        if flag:
            if i and flags[i - 1] and not parts[2 * i].strip():
                runs[-1].append(words[i])
            else:
                runs.append([words[i]])
    return [" ".join(vtext.fold_word(w) for w in run) for run in runs]


def without_quotes(text: str) -> str:
    """The query with its quoted phrases as plain words (what the empty state offers instead)."""
    return re.sub(r"\s+", " ", _PHRASE.sub(lambda m: f" {m.group(1)} ", text)).strip()


def restore_text(text: str, restore_words: WordRestorer) -> str:
    """Replace each run of letters by its restored spelling (diacritics or capitals), keeping digits
    and punctuation."""
    def run(match: re.Match) -> str:
        return " ".join(restore_words(match.group(0).split()))

    return diacritics.WORD_RUN.sub(run, text)
