"""Restore the diacritics and capitals of a query typed without them, from the archive's own
vocabulary.

e5 understands ``phòng chống thiên tai`` but barely ``phong chong thien tai``, and it reads
``Nghệ An`` better than ``nghệ an`` (e5 is case-sensitive). At build time we count how each folded
syllable and syllable pair is written in the archive, and how often capitalised; at query time a
Viterbi pass picks the most likely accented spelling of the whole query, and the words the
archive writes as a name get their capitals back. Pure functions here; the counts live in the
archive (indexer/store/).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import compress, pairwise
from operator import and_
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


@lru_cache(maxsize=200_000)
def _syllable(written: str) -> tuple[tuple[str, str], bool]:
    """((folded, lower case), capitalised) of one written syllable: capitalised is written as a
    name ("Nghệ"), not in capitals throughout ("UBND"). Cached: an archive repeats its syllables."""
    lower = written.lower()
    return (fold_word(lower), lower), written[:1].isupper() and not (len(written) > 1 and written.isupper())


def _spelt(pairs: Counter) -> Counter:
    """Pairs of syllable keys as the archive keys a pair: ("folded folded", "form form")."""
    return Counter({(f"{a[0]} {b[0]}", f"{a[1]} {b[1]}"): n for (a, b), n in pairs.items()})


def count_ngrams(texts: Iterable[str]) -> Ngrams:
    unigrams, capitalised_unigrams, bigrams, capitalised_bigrams = Counter(), Counter(), Counter(), Counter()
    for text in texts:  # each text's keys are listed, then counted at once (Counter.update of a list runs in C)
        found: tuple[list, list, list, list] = ([], [], [], [])
        for run in WORD_RUN.findall(text):
            keys, capitalised = zip(*map(_syllable, run.split()), strict=True)
            found[0].extend(keys)
            found[1].extend(compress(keys[1:], capitalised[1:]))  # a run's first word: a sentence's, maybe
            if len(keys) > 1:
                pairs = list(pairwise(keys))
                found[2].extend(pairs)
                found[3].extend(compress(pairs, map(and_, capitalised, capitalised[1:])))
        for counts, keys in zip((unigrams, capitalised_unigrams, bigrams, capitalised_bigrams), found, strict=True):
            counts.update(keys)
    # A pair is counted as its two keys, and spelt out once per distinct pair (syllables hold no space).
    return Ngrams(unigrams, _spelt(bigrams), capitalised_unigrams, _spelt(capitalised_bigrams))


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
