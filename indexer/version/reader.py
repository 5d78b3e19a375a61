"""A published version loaded read-only: its FAISS segments searched as one index, its lexical
indexes, vocabulary and completions (`ServedVersion`), refused whole when any file disagrees with
its manifest. All the service opens; nothing here writes."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from indexer import duplicates, suggest, vocabulary
from indexer.version import lexical
from indexer.version.layout import (
    SEGMENTS_DIR,
    IndexUnavailable,
    Manifest,
    check_files,
    load_manifest,
    versions_dir,
)


@dataclass(frozen=True)
class ArticleSummary:
    """An article as every list shows it: a search's results, their copies, similar articles, the
    CSV export. The API's ArticleSummary schema is made from these fields and their `doc`."""

    # In the CSV export's column order (archivists' spreadsheets keep it).
    id: int = field(metadata={"doc": "the article's id in the served version"})
    title: str = field(metadata={"doc": "its headline"})
    published_at: str | None = field(metadata={"doc": "ISO 8601 with offset (null: undated)"})
    source: str = field(metadata={"doc": "the source's key (filter with source=key)"})
    source_title: str = field(metadata={"doc": "the portal's own name (sources.toml's title, else its pages' "
                                               "og:site_name, else the key)"})
    category: str = field(metadata={"doc": "the portal's section, when the page names one"})
    url: str = field(metadata={"doc": "where it was published"})

    @classmethod
    def of(cls, row: dict, titles: dict[str, str]) -> ArticleSummary:
        """From an article's stored fields (LexicalIndex.article_fields), with its source's own name."""
        return cls(row["id"], row["title"], row["published_at"], row["source"],
                   titles.get(row["source"], row["source"]), row["category"], row["url"])

    def json(self) -> dict:
        """The summary's fields (of a Hit too: only these)."""
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}


SUMMARY_FIELDS = tuple(f.name for f in fields(ArticleSummary))


def apply_search_params(index: faiss.Index, params: str) -> list[str]:
    """Set "name=value,…" search parameters that this index type has; returns those applied."""
    applied = []
    space = faiss.ParameterSpace()
    for item in filter(None, (p.strip() for p in params.split(","))):
        name, _, value = item.partition("=")
        try:
            space.set_index_parameter(index, name.strip(), float(value))
            applied.append(item)
        except (RuntimeError, ValueError):
            continue  # not a parameter of this index type (nprobe on HNSW, efSearch on IVF)
    return applied


def id_map(index: faiss.Index) -> np.ndarray:
    return faiss.vector_to_array(faiss.downcast_index(index).id_map).astype(np.int64)


@dataclass
class ServedVersion:
    """A version's FAISS segments (searched together, as one index) and its lexical indexes."""

    version: str
    manifest: Manifest
    segments: list[faiss.Index]
    lexical: lexical.LexicalIndex
    vocabulary: vocabulary.Vocabulary
    directory: Path
    verified: frozenset = frozenset()  # its files (device, inode, size, mtime), checked against the manifest

    def __post_init__(self) -> None:
        self.removed = self.manifest.removed
        self.groups = duplicates.Groups.from_snapshot(self.manifest.groups)  # as built
        self._params = None
        if len(self.removed):  # the selectors must live as long as the parameters that point at them
            self._selectors = (faiss.IDSelectorBatch(self.removed),)
            self._selectors += (faiss.IDSelectorNot(self._selectors[0]),)
            self._params = faiss.SearchParameters(sel=self._selectors[1])

    @cached_property
    def source_titles(self) -> dict[str, str]:
        """{source key: its own name} as the version recorded them when it was built (one built
        before names has keys alone)."""
        return {s["source"]: s.get("title", s["source"]) for s in self.manifest.sources}

    def summaries(self, article_ids: list[int]) -> dict[int, ArticleSummary]:
        """The articles of these ids that the version holds, as lists show them."""
        titles = self.source_titles
        return {aid: ArticleSummary.of(row, titles) for aid, row in self.lexical.article_fields(article_ids).items()}

    @cached_property
    def suggestions(self) -> suggest.Suggestions:
        """The version's completions for the search box, read at the first use."""
        return suggest.Suggestions.open(self.directory)

    @property
    def held(self) -> int:
        """How many vectors the segments hold, removed ones included."""
        return sum(int(s.ntotal) for s in self.segments)

    @property
    def count(self) -> int:
        """How many passages the version serves."""
        return self.held - len(self.removed)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest passages over all segments (each segment's k best, merged by score)."""
        if self.count == 0 or k <= 0:
            return []
        query = vector.reshape(1, -1).astype(np.float32)
        found: list[tuple[int, float]] = []
        for segment in self.segments:
            if segment.ntotal:
                scores, ids = segment.search(query, min(k, int(segment.ntotal)), params=self._params)
                found.extend((int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0)
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:k]

    def ids(self) -> np.ndarray:
        """The passage ids it serves (ID-mapped segments)."""
        held = np.concatenate([id_map(s) for s in self.segments]) if self.segments else np.array([], np.int64)
        return np.setdiff1d(held, self.removed) if len(self.removed) else np.sort(held)

    def reconstruct(self, passage_id: int) -> np.ndarray | None:
        if passage_id in self.removed:
            return None
        for segment in self.segments:
            try:
                return segment.reconstruct(int(passage_id))
            except RuntimeError:
                continue
        return None

    @staticmethod
    def vectors_of(segment: faiss.Index, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) a segment holds but those removed, for a merge."""
        ids = id_map(segment)
        keep = ids[~np.isin(ids, removed)]
        matrix = np.vstack([segment.reconstruct(int(i)) for i in keep]) if len(keep) else \
            np.zeros((0, segment.d), dtype=np.float32)
        return keep, matrix


def load_version(index_root: Path, name: str, expected_model: str, expected_dimension: int,
                 check_hash: bool = True, search_params: str = "", verified: frozenset = frozenset()) -> ServedVersion:
    """Load one version read-only, refusing one built for another model or dimension, or whose
    files are not those its manifest lists (files in `verified`, from a version loaded before,
    are not hashed again)."""
    version_dir = versions_dir(index_root) / name
    manifest = load_manifest(version_dir)
    if manifest.model != expected_model:
        raise IndexUnavailable(
            f"index {name} was built with model {manifest.model!r}, but the configured model is "
            f"{expected_model!r}: rebuild it with `python -m indexer build --full` or set NEWSSEARCH_MODEL")
    if manifest.dimension != expected_dimension:
        raise IndexUnavailable(f"index {name} has dimension {manifest.dimension}, "
                               f"the model gives {expected_dimension}: rebuild the index")
    good = check_files(version_dir, manifest.files, check_hash, verified)
    segments = []
    for segment in manifest.segments:
        try:
            index = faiss.read_index(str(version_dir / SEGMENTS_DIR / segment["name"]), faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise IndexUnavailable(f"index {name}: cannot read {segment['name']}: {exc}") from exc
        apply_search_params(index, search_params)
        segments.append(index)
    held, removed = sum(int(s.ntotal) for s in segments), len(manifest.removed_ids)
    if manifest.count != held - removed:
        raise IndexUnavailable(f"index {name}: {held} vectors, manifest says {manifest.count} "
                               f"and {removed} removed")
    try:
        words = vocabulary.Vocabulary.open(version_dir)
    except vocabulary.VocabularyUnavailable as exc:
        raise IndexUnavailable(f"index {name}: {exc}") from exc
    return ServedVersion(name, manifest, segments, _load_lexical(version_dir, manifest), words, version_dir, good)


def _load_lexical(version_dir: Path, manifest: Manifest) -> lexical.LexicalIndex:
    """The version's lexical indexes, refused unless they hold the passages FAISS holds."""
    name, counts = version_dir.name, manifest.lexical
    try:
        found = lexical.LexicalIndex.open(version_dir)
    except lexical.LexicalUnavailable as exc:
        raise IndexUnavailable(f"index {name}: {exc}") from exc
    if (found.passage_count, found.article_count) != (manifest.count, counts.get("articles")):
        raise IndexUnavailable(
            f"index {name}: lexical index holds {found.passage_count} passages and {found.article_count} "
            f"articles, the manifest says {manifest.count} and {counts.get('articles')}")
    return found
