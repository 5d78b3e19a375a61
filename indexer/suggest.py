"""Completions for the search box, built into each index version so that replicas serve them too.

What a reader may be typing, taken from the archive itself: phrases that recur in headlines, the
places its articles are about (both eras of the 2025 reorganisation, each under its own name),
its sources (by their own name) and the abbreviations district news uses. Each entry is filed
under its folded text (no diacritics, lower case), so `thien t` finds `thiên tai`, and ranked by
how many articles carry it. One sorted text file per version; `Suggestions` answers a prefix by
binary search and takes the heaviest entries of the range.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import abbreviations, places
from indexer import text as vtext

FILE = "suggest.tsv"
PHRASE_WORDS = (2, 3, 4)  # headline phrases of this many words
MIN_HEADLINES = 2         # a phrase must recur: one headline's wording is no suggestion
MAX_ENTRIES = 400_000     # the heaviest phrases kept (a province's archive gives far fewer)
SEARCHED_AS_TEXT = ("phrase", "abbreviation")  # a place or a source is chosen as a filter instead
TAIL_WORDS = 4            # the most trailing words of a query a completion continues
# A headline phrase that starts or ends with one of these is cut mid-thought ("của huyện", "năm và").
# Compared with their diacritics: "bị" ends a thought, "bí thư" does not.
EDGE_WORDS = frozenset(map(vtext.canonical_word, [
    "của", "và", "các", "những", "trong", "với", "cho", "tại", "về", "là", "được", "đã", "để", "từ", "theo",
    "trên", "có", "không", "này", "đó", "một", "khi", "ra", "vào", "lên", "đến", "sau", "trước", "ở", "bị",
    "do", "nên", "thì", "mà", "như", "hay", "hoặc", "vì", "nhưng"]))
# Words a number follows ("năm 2021", "bão số 5"): a phrase never ends on one.
BEFORE_NUMBER = frozenset(map(vtext.canonical_word, ["năm", "tháng", "ngày", "quý", "số", "lần", "đợt", "kỳ", "khóa"]))
# Headline punctuation that ends a phrase: a phrase never runs across a comma or a dash between words.
PHRASE_BREAK = re.compile(r"[,.;:!?()\[\]\"“”‘’'«»|/]|\s[-–—]\s")


@dataclass(frozen=True)
class Suggestion:
    text: str    # what the box shows and, for a phrase or an abbreviation, what it searches
    kind: str    # "phrase", "place", "source" or "abbreviation"
    count: int   # articles that carry it
    ref: str     # a place's key or a source's key (the filter it sets); "" otherwise


# --- writing (at build time, from the archive) -------------------------------------------------
def _headline_phrases(titles: list[str]) -> Counter:
    """Phrases that recur in headlines (in their commonest form, as written between the words) →
    how many headlines hold them; a phrase that only ever begins a longer one is left out (typing
    it, the longer one is what completes it)."""
    counts: Counter = Counter()
    forms: dict[str, Counter] = defaultdict(Counter)
    for title in titles:
        seen = set()
        for number, part in enumerate(PHRASE_BREAK.split(vtext.normalize(title))):
            spans = vtext.word_spans(part)
            words = [part[a:b] for a, b in spans]
            folded = [vtext.fold_word(w) for w in words]
            edge = [vtext.canonical_word(w) in EDGE_WORDS for w in words]
            for n in PHRASE_WORDS:
                for i in range(len(words) - n + 1):
                    last = vtext.canonical_word(words[i + n - 1])
                    if any(edge[i:i + n]) or words[i].isdigit() or last in BEFORE_NUMBER:
                        continue  # "Covid-19", "năm 2021" are phrases; "19 ca", "thiên tai năm" are not
                    key = " ".join(folded[i:i + n])
                    run = part[spans[i][0]:spans[i + n - 1][1]]
                    # A headline's first word is capitalised as a sentence start: not its form.
                    forms[key][_sentence_start_lowered(run) if number == i == 0 else run] += 1
                    seen.add(key)
        counts.update(seen)
    recurring = {key: n for key, n in counts.items() if n >= MIN_HEADLINES}
    inside = {key.rsplit(" ", 1)[0] for key, n in recurring.items() if recurring.get(key.rsplit(" ", 1)[0]) == n}
    return Counter({forms[key].most_common(1)[0][0]: n for key, n in recurring.items() if key not in inside})


def _sentence_start_lowered(run: str) -> str:
    """A run that starts a headline, its first word lowered unless it is a name or an abbreviation
    (every word capitalised, or the first written in capitals)."""
    words = vtext.words(run)
    if words[0].isupper() or all(w[:1].isupper() for w in words):
        return run
    return run[:1].lower() + run[1:]


def _entries(titles: list[str], place_counts: Iterable[tuple[str, int]],
             sources: list[dict]) -> list[tuple[str, int, str, str, str]]:
    """(folded key, articles, kind, ref, text) for everything the archive can complete: from its
    titles, its (place key, articles) counts, and its sources as store.list_sources gives them."""
    phrases = _headline_phrases(titles)
    out = [(vtext.fold(text), n, "phrase", "", text) for text, n in phrases.most_common(MAX_ENTRIES)]
    g = places.gazetteer()
    for key, n in place_counts:
        unit = g.units.get(key)
        if unit is not None and not unit.name.isdigit():  # "Phường 3" is no name to type
            out += [(key_, n, "place", key, places.label(key)) for key_ in _name_keys(f"{unit.kind} {unit.name}")]
    for row in sources:
        source, title = row["source"], row["title"]
        keys = _name_keys(title) | ({vtext.fold(source)} if "." not in source else set())  # no host names
        out += [(key, row["articles"], "source", source, title) for key in keys]
    folded_titles = [f" {vtext.folded_words(title)} " for title in titles]
    for short, meanings in abbreviations.ABBREVIATIONS.items():
        for meaning in meanings:
            written = (f" {vtext.folded_words(short)} ", f" {vtext.folded_words(meaning)} ")
            n = sum(1 for title in folded_titles if written[0] in title or written[1] in title)
            if n:
                out.append((vtext.fold(short), n, "abbreviation", short, meaning))
    return out


def _name_keys(name: str) -> set[str]:
    """A name is found from its start and from each capitalised word in it: "huyện Anh Sơn" by
    "huyen a…" and "anh s…", "Cổng thông tin điện tử huyện Phú Lâm" by "phu l…" too."""
    words = vtext.words(name)
    return {" ".join(vtext.fold_word(w) for w in words[i:]) for i, w in enumerate(words) if i == 0 or w[:1].isupper()}


def write(version_dir: Path, titles: list[str], place_counts: Iterable[tuple[str, int]],
          sources: list[dict]) -> dict:
    """Write the version's completions from what the archive holds (see _entries); returns its
    manifest entry."""
    entries = sorted(_entries(titles, place_counts, sources), key=lambda e: (e[0], -e[1], e[2], e[4]))
    with open(Path(version_dir) / FILE, "w", encoding="utf-8") as out:
        for key, n, kind, ref, text in entries:
            out.write(f"{key}\t{n}\t{kind}\t{ref}\t{text}\n")
    return {"entries": len(entries)}


# --- reading (the service) ---------------------------------------------------------------------
class Suggestions:
    """A version's completions, held in memory: folded keys sorted for binary search."""

    def __init__(self, lines: list[str]) -> None:
        rows = [line.rstrip("\n").split("\t") for line in lines if line.strip()]
        self.keys = [r[0] for r in rows]
        self.counts = np.array([int(r[1]) for r in rows], dtype=np.int64)
        self.entries = [Suggestion(r[4], r[2], int(r[1]), r[3]) for r in rows]

    @classmethod
    def open(cls, version_dir: Path) -> Suggestions:
        """The version's file; a version built before suggestions completes nothing."""
        path = Path(version_dir) / FILE
        return cls(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])

    def _heaviest(self, prefix: str, limit: int) -> list[Suggestion]:
        begin = bisect.bisect_left(self.keys, prefix)
        end = bisect.bisect_left(self.keys, prefix + "\U0010ffff", begin)
        if end - begin > limit:
            top = begin + np.argpartition(-self.counts[begin:end], limit)[:limit]
        else:
            top = np.arange(begin, end)
        return [self.entries[i] for i in sorted(top, key=lambda i: (-self.counts[i], self.keys[i]))]

    def complete(self, typed: str, limit: int = 8) -> list[tuple[str, Suggestion]]:
        """(the words typed before the completed part, the completion), best first: the longest
        run of trailing words an entry continues, the heaviest first."""
        words = vtext.words(vtext.normalize(typed))
        if not words:
            return []
        ends_word = not typed[-1:].isalnum()  # "thien " completes what follows "thien", not "thien…"
        out: list[tuple[str, Suggestion]] = []
        seen = {vtext.folded_words(typed)}
        for k in range(min(TAIL_WORDS, len(words)), 0, -1):
            if out:  # the longest run of trailing words that something continues: shorter runs drift
                break
            head = " ".join(words[:-k])
            prefix = " ".join(vtext.fold_word(w) for w in words[-k:]) + (" " if ends_word else "")
            for found in self._heaviest(prefix, limit * 2):
                searched = f"{head} {found.text}".strip() if found.kind in SEARCHED_AS_TEXT else found.text
                folded = vtext.folded_words(searched)
                ident = folded if found.kind in SEARCHED_AS_TEXT else f"{found.kind}\t{found.ref}"
                if ident not in seen and folded not in seen:
                    seen.add(ident)
                    out.append((head, found))
                if len(out) >= limit:
                    return out
        return out
