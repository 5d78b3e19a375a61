"""The types both sides share: an Article, the Filters of a search (and the one place their SQL is
built), a retrieval Candidate, and the slices of ids one query reads."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from indexer import places
from indexer import text as vtext


def batches(ids: list[int], size: int = 5000) -> Iterator[list[int]]:
    """Ids in slices small enough for one SQL IN list or one tantivy term set."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


class ForeignArticle(ValueError):
    """A page claims the address of an article another source stored: refused, never stored."""


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def web_origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) address; None for any other scheme (javascript:, data:,
    file:) or a malformed one (no host, a port out of range)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def is_web_url(url: str) -> bool:
    """An address a reader can follow: a well-formed http or https URL."""
    return web_origin(url) is not None


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass
class Article:
    """One news article as extracted from a page; text fields are already normalised."""

    url: str
    source: str
    body: str
    title: str = ""
    summary: str = ""
    author: str = ""
    published_at: str | None = None
    category: str = ""
    fetched_at: str = field(default_factory=lambda: now_iso())
    site_name: str = ""  # the portal's own name as the page gives it (og:site_name): not the article's content

    def cleaned(self) -> Article:
        return Article(
            url=self.url, source=self.source, body=vtext.clean(self.body),
            title=vtext.clean(self.title), summary=vtext.clean(self.summary),
            author=vtext.clean(self.author), published_at=self.published_at,
            category=vtext.clean(self.category), fetched_at=self.fetched_at, site_name=vtext.clean(self.site_name))

    def content_hash(self) -> str:
        return sha256_text("\x1f".join([self.title, self.summary, self.body, self.author,
                                        self.published_at or "", self.category]))


class Candidate(NamedTuple):
    """One entry of a candidate list: a passage, its article, and the list's score (higher is better)."""

    passage_id: int
    article_id: int
    score: float


@dataclass(frozen=True)
class Filters:
    """Restrictions every retrieval path applies the same way (as a version's index fields: lexical.py)."""

    date_from: str | None = None  # YYYY-MM-DD inclusive
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # unit keys (indexer/places.py); each admits its old and new names

    @property
    def active(self) -> bool:
        """Any restriction at all."""
        return bool(self.date_from or self.date_to or self.sources or self.places)

    @property
    def place_keys(self) -> tuple[str, ...]:
        """What an article's places must include one of: the chosen places under every name."""
        return places.same_place(self.places)


@dataclass(frozen=True)
class WordQuery:
    """What a candidate list matches: every phrase, and at least one of the options (a word, or a
    phrase such as an abbreviation spelled out). Words are in the form the list's fields hold."""

    phrases: tuple[tuple[str, ...], ...] = ()
    options: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.phrases or self.options)
