"""Restore the diacritics of a query typed without them, from the archive's own vocabulary.

e5 understands ``phòng chống thiên tai`` but barely ``phong chong thien tai``. At build time we
count how each folded syllable and syllable pair is written in the archive; at query time a
Viterbi pass picks the most likely accented spelling of the whole query. Pure functions here;
the counts live in the archive (store.py).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

from indexer.text import fold

_WORD_RUN = re.compile(r"[^\W\d_]+(?:\s+[^\W\d_]+)*")  # letters only, split at digits/punctuation
MAX_CANDIDATES = 6


def count_ngrams(texts: Iterable[str]) -> tuple[Counter, Counter]:
    """(unigrams, bigrams) keyed by (folded, written form), lower case, within runs of words."""
    unigrams: Counter = Counter()
    bigrams: Counter = Counter()
    for text in texts:
        for run in _WORD_RUN.findall(text.lower()):
            syllables = run.split()
            folded = [fold(s) for s in syllables]
            unigrams.update(zip(folded, syllables))
            for i in range(len(syllables) - 1):
                bigrams[(f"{folded[i]} {folded[i + 1]}", f"{syllables[i]} {syllables[i + 1]}")] += 1
    return unigrams, bigrams


UnigramLookup = Callable[[str], dict[str, int]]  # folded syllable -> {form: count}
BigramLookup = Callable[[str], dict[str, int]]   # "folded folded" -> {"form form": count}


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
