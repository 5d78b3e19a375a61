"""FAISS index versions on disk: build, manifest, verify, atomic publish, read-only load.

Layout (the contract the service reads)::

    <data_dir>/index/CURRENT                  name of the published version (atomically replaced)
    <data_dir>/index/versions/<name>/index.faiss
    <data_dir>/index/versions/<name>/manifest.json
    <data_dir>/index/versions/<name>/lexical/      the version's BM25 indexes (indexer/lexical.py)

A version is served only whole: FAISS and the lexical indexes must hold the same passages.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from indexer import duplicates, lexical

INDEX_FILE, MANIFEST_FILE, CURRENT_FILE = "index.faiss", "manifest.json", "CURRENT"
# Up to this many passages a search reads every vector (exact; 12 ms per query at 200k on two
# cores, 60 ms at 1M, bench/README.md); above it, an HNSW graph answers in about a millisecond.
EXACT_SEARCH_MAX = 200_000
HNSW_FACTORY = "HNSW32"


class IndexUnavailable(RuntimeError):
    """An index that must not be served: missing, corrupt, or built with another model."""


def versions_dir(index_root: Path) -> Path:
    return Path(index_root) / "versions"


def factory_for(setting: str, count: int) -> str:
    """The FAISS index type a version of `count` passages is built with: the configured one, or
    with "auto" exact search up to EXACT_SEARCH_MAX and HNSW above it."""
    if setting != "auto":
        return setting
    return "Flat" if count <= EXACT_SEARCH_MAX else HNSW_FACTORY


def make_index(vectors: np.ndarray, ids: np.ndarray, factory: str) -> faiss.Index:
    """An ID-mapped inner-product index (vectors are normalised, so this is cosine)."""
    dimension = vectors.shape[1]
    index = faiss.index_factory(dimension, f"IDMap2,{factory}", faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        if len(vectors) == 0:
            raise IndexUnavailable(f"index type {factory!r} needs training vectors, and there are none")
        index.train(vectors)
    if len(vectors):
        index.add_with_ids(vectors, ids.astype(np.int64))
    return index


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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for folder, _, files in os.walk(path):
        for name in files:
            with open(Path(folder) / name, "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(Path(folder))


def write_version(index_root: Path, index: faiss.Index, manifest: dict,
                  write_lexical: Callable[[Path], dict]) -> Path:
    """Write a complete version directory (fsynced), not yet published: FAISS, then the lexical
    indexes (`write_lexical` fills the staging directory and returns their counts)."""
    root = versions_dir(index_root)
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    name = created.strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    try:
        faiss.write_index(index, str(staging / INDEX_FILE))
        lexical_counts = write_lexical(staging)
        manifest = {
            **manifest,
            "lexical": lexical_counts,
            "version": name,
            "created_at": created.replace(microsecond=0).isoformat(),
            "count": int(index.ntotal) - len(removed_ids(manifest)),
            "dimension": int(index.d),
            "index_sha256": _sha256_file(staging / INDEX_FILE),
        }
        with open(staging / MANIFEST_FILE, "w") as handle:
            json.dump(manifest, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_tree(staging)
        final = root / name
        staging.rename(final)
        _fsync_dir(root)
        return final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(index_root: Path, version_dir: Path) -> None:
    """Point CURRENT at a version: write a new file, fsync, rename over the old one."""
    index_root = Path(index_root)
    tmp = index_root / f".{CURRENT_FILE}.{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(Path(version_dir).name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_root / CURRENT_FILE)
    _fsync_dir(index_root)


def current_version(index_root: Path) -> str | None:
    try:
        return (Path(index_root) / CURRENT_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def prune(index_root: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` versions; the published one always stays."""
    root = versions_dir(index_root)
    if not root.exists():
        return []
    current = current_version(index_root)
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    doomed = [n for n in names[:-keep] if n != current] if keep > 0 else []
    for name in doomed:
        shutil.rmtree(root / name, ignore_errors=True)
    for leftover in root.glob(".build-*"):  # staging dirs of killed builds
        shutil.rmtree(leftover, ignore_errors=True)
    return doomed


def removed_ids(manifest: dict) -> np.ndarray:
    """Passages a version's FAISS index still holds but no longer serves: an index type that
    cannot remove vectors (HNSW) keeps them until the next full build, and searches skip them."""
    return np.array(manifest.get("removed_ids", []), dtype=np.int64)


@dataclass
class LoadedIndex:
    version: str
    manifest: dict
    index: faiss.Index
    lexical: lexical.LexicalIndex

    def __post_init__(self) -> None:
        self.removed = removed_ids(self.manifest)
        self.groups = duplicates.Groups.from_snapshot(self.manifest.get("groups", {}))  # as built
        self._params = None
        if len(self.removed):  # the selectors must live as long as the parameters that point at them
            self._selectors = (faiss.IDSelectorBatch(self.removed),)
            self._selectors += (faiss.IDSelectorNot(self._selectors[0]),)
            self._params = faiss.SearchParameters(sel=self._selectors[1])

    @property
    def count(self) -> int:
        """How many passages the version serves."""
        return int(self.index.ntotal) - len(self.removed)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.count == 0 or k <= 0:
            return []
        scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), min(k, self.count),
                                        params=self._params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def ids(self) -> np.ndarray:
        """The passage ids it serves (ID-mapped indexes)."""
        held = faiss.vector_to_array(faiss.downcast_index(self.index).id_map).astype(np.int64)
        return np.setdiff1d(held, self.removed) if len(self.removed) else held

    def reconstruct(self, passage_id: int) -> np.ndarray | None:
        if passage_id in self.removed:
            return None
        try:
            return self.index.reconstruct(int(passage_id))
        except RuntimeError:
            return None


def read_manifest(version_dir: Path) -> dict:
    try:
        return json.loads((Path(version_dir) / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"unreadable manifest in {version_dir}: {exc}") from exc


def load_version(index_root: Path, name: str, expected_model: str, expected_dimension: int,
                 check_hash: bool = True, writable: bool = False, search_params: str = "") -> LoadedIndex:
    """Load one version read-only, refusing one built for another model or dimension."""
    version_dir = versions_dir(index_root) / name
    manifest = read_manifest(version_dir)
    if manifest.get("model") != expected_model:
        raise IndexUnavailable(
            f"index {name} was built with model {manifest.get('model')!r}, but the configured model is "
            f"{expected_model!r}: rebuild it with `python -m indexer build --full` or set NEWSSEARCH_MODEL")
    if manifest.get("dimension") != expected_dimension:
        raise IndexUnavailable(f"index {name} has dimension {manifest.get('dimension')}, "
                          f"the model gives {expected_dimension}: rebuild the index")
    path = version_dir / INDEX_FILE
    if check_hash and manifest.get("index_sha256") != _sha256_file(path):
        raise IndexUnavailable(f"index {name}: {INDEX_FILE} does not match its manifest (corrupt or truncated)")
    try:
        index = faiss.read_index(str(path), 0 if writable else faiss.IO_FLAG_READ_ONLY)
    except RuntimeError as exc:
        raise IndexUnavailable(f"index {name}: cannot read {INDEX_FILE}: {exc}") from exc
    removed = len(removed_ids(manifest))
    if manifest.get("count") != index.ntotal - removed:
        raise IndexUnavailable(f"index {name}: {index.ntotal} vectors, manifest says {manifest.get('count')} "
                               f"and {removed} removed")
    apply_search_params(index, search_params)
    return LoadedIndex(name, manifest, index, _load_lexical(version_dir, manifest))


def _load_lexical(version_dir: Path, manifest: dict) -> lexical.LexicalIndex:
    """The version's lexical indexes, refused unless they hold the passages FAISS holds."""
    name, counts = version_dir.name, manifest.get("lexical")
    if not counts:
        raise IndexUnavailable(f"index {name} was built before lexical indexes were part of a version: "
                               f"run `python -m indexer build` once to upgrade it")
    if "places" not in counts:
        raise IndexUnavailable(f"index {name} was built before places were indexed: "
                               f"run `python -m indexer build` once to upgrade it")
    try:
        found = lexical.LexicalIndex.open(version_dir)
    except lexical.LexicalUnavailable as exc:
        raise IndexUnavailable(f"index {name}: {exc}") from exc
    if (found.passage_count, found.article_count) != (manifest.get("count"), counts.get("articles")):
        raise IndexUnavailable(
            f"index {name}: lexical index holds {found.passage_count} passages and {found.article_count} "
            f"articles, the manifest says {manifest.get('count')} and {counts.get('articles')}")
    return found
