"""An article made ready to store: everything storing it computes without the archive.

Its passages and their words, its vocabulary counts, its near-duplicate signature and its places
are pure functions of the article (and of its source's province). `prepare` computes them; the
store writes what it returns (`store.store_prepared`). A bulk import prepares in worker
processes while one writer stores (indexer/transfer.py): preparing is most of the work.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from indexer import duplicates, place_mentions
from indexer import text as vtext
from indexer.diacritics import Ngrams, count_ngrams
from indexer.models import Article, is_web_url, sha256_text


def passage_embedding_text(title: str, passage: str) -> str:
    """What gets embedded for a passage, normalised: the title gives every passage its topic."""
    return vtext.normalize(f"{title}\n{passage}" if title else passage)


def exact_text(text: str) -> str:
    """The exact-match form: canonical lower-case words, diacritics kept."""
    return " ".join(vtext.canonical_word(w) for w in vtext.words(text))


def vocabulary_of(texts: Iterable[str], sign: int = +1) -> Ngrams:
    """These texts' syllable and syllable-pair counts, each times `sign` (+1 stored, -1 removed):
    the vocabulary follows every stored and removed passage and title, so no build has to recount
    the archive."""
    found = count_ngrams(vtext.normalize(t) for t in texts)
    if sign < 0:
        for counts in found:
            for key in counts:
                counts[key] = -counts[key]
    return found


@dataclass(frozen=True)
class VocabularyRows:
    """Signed counts as the vocabulary tables take them: (folded, form, count, capitalised), in key
    order (each B-tree page is then visited once). A bulk import's workers build them."""

    unigrams: list[tuple[str, str, int, int]]
    bigrams: list[tuple[str, str, int, int]]


def vocabulary_rows(found: Ngrams) -> VocabularyRows:
    return VocabularyRows(*([(f, w, c, capitalised[(f, w)]) for (f, w), c in sorted(counts.items())
                             if c or capitalised[(f, w)]]
                            for counts, capitalised in ((found.unigrams, found.capitalised_unigrams),
                                                        (found.bigrams, found.capitalised_bigrams))))


def no_counts() -> Ngrams:
    return Ngrams(Counter(), Counter(), Counter(), Counter())


def add_counts(total: Ngrams, found: Ngrams) -> None:
    for counts, more in zip(total, found, strict=True):
        counts.update(more)


def published_day(published_at: str | None) -> str | None:
    return published_at[:10] if published_at else None


def cleaned(article: Article) -> Article:
    """The article as stored (text fields cleaned), or ValueError when none can be."""
    article = article.cleaned()
    if not article.body:
        raise ValueError(f"{article.url}: empty body")
    if not is_web_url(article.url):
        raise ValueError(f"{article.url!r}: an article's address must be an http(s) URL")
    return article


@dataclass(frozen=True)
class Passage:
    start: int           # offsets into vtext.document_text(summary, body)
    end: int
    text: str
    content_hash: str    # of passage_embedding_text: a vector is reused while this holds
    folded_words: str    # vtext.folded_words(text)
    exact_words: str     # exact_text(text)


@dataclass(frozen=True)
class Prepared:
    """A cleaned article and all that storing it writes beside it."""

    article: Article
    digest: str                        # article.content_hash(): unchanged articles are not stored again
    folded_title: str
    exact_title: str
    passages: list[Passage]
    band_keys: list[tuple[int, int]]   # duplicates.band_keys of its shingles; none for a text too short
    places: dict[str, int]             # place_mentions.article_places

    @property
    def published_day(self) -> str | None:
        return published_day(self.article.published_at)

    @property
    def texts(self) -> list[str]:
        """What the vocabulary counts of it: its title and its passages."""
        return [self.article.title, *(p.text for p in self.passages)]


def vocabulary(prepared: Iterable[Prepared], sign: int = +1) -> Ngrams:
    """The vocabulary counts of these articles, together (one count over all their texts: a bulk
    import counts a worker's slice of articles at once, not each article apart)."""
    return vocabulary_of((text for article in prepared for text in article.texts), sign)


def prepare(article: Article, chunk_words: int = 180, chunk_overlap: int = 30,
            home_province: str | None = None) -> Prepared:
    """Everything storing `article` (a `cleaned` one) writes; the source's `home_province`
    resolves place names many units share."""
    pieces = vtext.chunk(vtext.document_text(article.summary, article.body), chunk_words, chunk_overlap)
    passages = [Passage(piece.start, piece.end, piece.text,
                        sha256_text(passage_embedding_text(article.title, piece.text)),
                        vtext.folded_words(piece.text), exact_text(piece.text)) for piece in pieces]
    return Prepared(
        article=article, digest=article.content_hash(),
        folded_title=vtext.folded_words(article.title), exact_title=exact_text(article.title),
        passages=passages,
        band_keys=duplicates.band_keys(duplicates.shingles(article.summary, article.body)),
        places=place_mentions.article_places(article.title, article.summary, article.body,
                                             published_day(article.published_at), home_province))
