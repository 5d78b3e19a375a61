"""Restore the diacritics and capitals of a query typed without them, from the archive's own
vocabulary.

e5 understands ``phòng chống thiên tai`` but barely ``phong chong thien tai``, and it reads
``Nghệ An`` better than ``nghệ an`` (e5 is case-sensitive). At build time we count how each folded
syllable and syllable pair is written in the archive, and how often capitalised; at query time a
Viterbi pass picks the most likely accented spelling of the whole query, and the words the
archive writes as a name get their capitals back. Pure functions here; the counts live in the
archive (store.py).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import NamedTuple

from indexer.text import fold, fold_word

WORD_RUN = re.compile(r"[^\W\d_]+(?:\s+[^\W\d_]+)*")  # letters only, split at digits/punctuation
# Spellings of a folded syllable weighed per word, most frequent first. "du" alone has a dozen
# (dù, dự, đủ, dữ, …) and the right one is often not among the six most frequent: "dữ dội" needs its
# pair's count to win. Accuracy on eval-dev-short's folded queries stops rising at 16 (bench/README.md,
# "Restoring diacritics").
MAX_CANDIDATES = 16
# A query word is capitalised when the archive capitalises it (inside a run of words, so not as a
# sentence's first word) at least this share of the time, in a pair with its neighbour or alone,
# and has seen it at least MIN_SEEN times (tuned on eval-dev and eval-dev-short).
PAIR_CAPITALISED, WORD_CAPITALISED, MIN_SEEN = 0.5, 0.8, 3


class Ngrams(NamedTuple):
    """Counts keyed by (folded, written form in lower case), within runs of words: all, and those
    written capitalised (a pair: both words; a word: not first in its run)."""

    unigrams: Counter
    bigrams: Counter
    capitalised_unigrams: Counter
    capitalised_bigrams: Counter


def _capitalised(word: str) -> bool:
    """Written as a name ("Nghệ"), not in capitals throughout ("UBND")."""
    return word[:1].isupper() and not (len(word) > 1 and word.isupper())


def count_ngrams(texts: Iterable[str]) -> Ngrams:
    counts = Ngrams(Counter(), Counter(), Counter(), Counter())
    for text in texts:
        for run in WORD_RUN.findall(text):
            written = run.split()
            syllables = [w.lower() for w in written]
            folded = [fold_word(s) for s in syllables]
            counts.unigrams.update(zip(folded, syllables))
            counts.capitalised_unigrams.update(
                (folded[i], syllables[i]) for i in range(1, len(written)) if _capitalised(written[i]))
            for i in range(len(syllables) - 1):
                key = (f"{folded[i]} {folded[i + 1]}", f"{syllables[i]} {syllables[i + 1]}")
                counts.bigrams[key] += 1
                if _capitalised(written[i]) and _capitalised(written[i + 1]):
                    counts.capitalised_bigrams[key] += 1
    return counts


UnigramLookup = Callable[[str], dict[str, int]]  # folded syllable -> {form: count}
BigramLookup = Callable[[str], dict[str, int]]   # "folded folded" -> {"form form": count}
# (table, written form in lower case) -> (times seen, times capitalised)
CasingLookup = Callable[[str, str], tuple[int, int]]


def restore(words: list[str], unigrams: UnigramLookup, bigrams: BigramLookup) -> list[str]:
    """The most likely written form of each folded word (unknown words stay as typed)."""
    if not words:
        return []
    columns: list[list[tuple[str, int]]] = []
    for word in words:
        forms = sorted(unigrams(fold(word)).items(), key=lambda kv: -kv[1])[:MAX_CANDIDATES]
        columns.append(forms or [(word, 1)])
    totals = [sum(c for _, c in col) for col in columns]
    # best[i][form] = (log score, backpointer form)
    best: list[dict[str, tuple[float, str | None]]] = [
        {form: (math.log(count / totals[0]), None) for form, count in columns[0]}]
    for i in range(1, len(words)):
        pairs = bigrams(f"{fold(words[i - 1])} {fold(words[i])}")
        prev_counts = dict(columns[i - 1])
        layer: dict[str, tuple[float, str | None]] = {}
        for form, count in columns[i]:
            prior = count / totals[i]
            options = []
            for prev, (score, _) in best[-1].items():
                pair = pairs.get(f"{prev} {form}", 0)
                options.append((score + math.log((pair + prior) / (prev_counts.get(prev, 0) + 1)), prev))
            layer[form] = max(options)
        best.append(layer)
    form = max(best[-1], key=lambda f: best[-1][f][0])
    out = [form]
    for i in range(len(words) - 1, 0, -1):
        form = best[i][form][1]
        out.append(form)
    return out[::-1]


def truecase(words: list[str], seen: CasingLookup) -> list[str]:
    """The words with the capitals the archive writes them with ("nghệ an" → "Nghệ An"): a pair
    the archive mostly capitalises, and a word it almost always does."""
    lower = [w.lower() for w in words]
    upper = [False] * len(words)
    for i in range(len(words) - 1):
        count, capitalised = seen("vocab_bigrams", f"{lower[i]} {lower[i + 1]}")
        if count >= MIN_SEEN and capitalised >= PAIR_CAPITALISED * count:
            upper[i] = upper[i + 1] = True
    for i, word in enumerate(lower):
        if not upper[i]:
            count, capitalised = seen("vocab_unigrams", word)
            upper[i] = count >= MIN_SEEN and capitalised >= WORD_CAPITALISED * count
    return [w[:1].upper() + w[1:] if up else w for w, up in zip(words, upper)]
