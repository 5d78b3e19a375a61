"""Index versions on disk: build, manifest, verify, atomic publish, read-only load.

Layout (the contract the service and replicas read)::

    <data_dir>/index/CURRENT                     name of the published version (atomically replaced)
    <data_dir>/index/versions/<name>/manifest.json   every other file's size and SHA-256
    <data_dir>/index/versions/<name>/vectors/<segment>.faiss   FAISS segments, never written again
    <data_dir>/index/versions/<name>/lexical/    BM25 indexes and the stored fields pages show (lexical.py)
    <data_dir>/index/versions/<name>/vocabulary/ the words diacritics are restored from (vocabulary.py)

A version holds everything the service reads: the SQLite archive is the indexer's working store.
A version is served only whole: FAISS and the lexical indexes must hold the same passages.
Consecutive versions share files: a new version hard-links the previous one's FAISS segments,
lexical segments and vocabulary files, and writes only what is new (a segment of the added
passages; removed passages are listed in the manifest and skipped), so three kept versions cost
little more than one, and a replica pulls only the new files (indexer/replicate.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath

import faiss
import numpy as np

from indexer import duplicates, lexical, suggest, vocabulary
from indexer.files import fsync_dir, fsync_tree, link_or_copy, sha256_file

MANIFEST_FILE, CURRENT_FILE, SEGMENTS_DIR = "manifest.json", "CURRENT", "vectors"
SIGNATURE_FILE = "manifest.sig"  # HMAC-SHA256 of manifest.json, when the primary has a replication key
# What a version's files are: versions of an earlier layout (one index.faiss, the service reading
# the archive) are refused with a message to rebuild, and are never patched.
LAYOUT = 2
# Up to this many passages a search reads every vector (exact; 12 ms per query at 200k on two
# cores, 60 ms at 1M, bench/README.md); above it, an HNSW graph answers in about a millisecond.
EXACT_SEARCH_MAX = 200_000
HNSW_FACTORY = "HNSW32"
# A search asks every segment; past this many, a build merges the smallest half into one (the
# bytes a replica then pulls are those small segments' again, not the whole index).
MAX_SEGMENTS = 8
# A segment whose removed vectors pass this share of it is written again without them.
REMOVED_SHARE_MAX = 0.1


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


def file_list(version_dir: Path, previous: dict | None = None, previous_dir: Path | None = None) -> dict[str, dict]:
    """{relative path: {"bytes", "sha256"}} of every file of a version but its manifest. A file
    that is the previous version's own (a hard link) keeps the checksum its manifest gives."""
    known = (previous or {}).get("files", {})
    out = {}
    for folder, _, names in os.walk(version_dir):
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(version_dir).as_posix()
            if relative == MANIFEST_FILE:
                continue
            old = previous_dir / relative if previous_dir is not None else None
            if relative in known and old is not None and old.exists() and os.path.samefile(old, path):
                out[relative] = known[relative]
            else:
                out[relative] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return dict(sorted(out.items()))


def write_manifest(folder: Path, manifest: dict, key: str = "") -> None:
    """The manifest, and with a replication `key` its signature (SIGNATURE_FILE), which replicas
    holding the same key check before they copy anything."""
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    _write_synced(folder / MANIFEST_FILE, data)
    if key:
        _write_synced(folder / SIGNATURE_FILE, sign(data, key).encode())


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def sign(manifest_bytes: bytes, key: str) -> str:
    """HMAC-SHA256 of a manifest's bytes under the key the primary and its replicas share, in hex."""
    return hmac.new(key.encode(), manifest_bytes, hashlib.sha256).hexdigest()


def signed_by(manifest_bytes: bytes, signature: bytes, key: str) -> bool:
    return hmac.compare_digest(sign(manifest_bytes, key).encode(), signature.strip())


def _plain_path(relative: object) -> bool:
    """A relative POSIX path inside a version directory (no '..', no absolute path, no backslash)."""
    if not isinstance(relative, str) or not relative or "\\" in relative or "\0" in relative:
        return False
    path = PurePosixPath(relative)
    return not path.is_absolute() and ".." not in path.parts and "." not in relative.split("/")


def manifest_problem(manifest: object) -> str | None:
    """What is wrong with a manifest's shape, or None: every file a plain path inside the version
    with a whole size and a SHA-256, and every FAISS segment a file of its vectors/ folder that the
    files list. The service and the pull both refuse a manifest this finds fault with."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    files, segments = manifest.get("files"), manifest.get("segments")
    if not isinstance(files, dict) or not isinstance(segments, list):
        return "'files' must be an object and 'segments' a list"
    for relative, meta in files.items():
        if not _plain_path(relative):
            return f"names a file outside its version: {relative!r}"
        if not (isinstance(meta, dict) and type(meta.get("bytes")) is int and meta["bytes"] >= 0
                and isinstance(meta.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", meta["sha256"])):
            return f"{relative}: needs a whole 'bytes' and a hex 'sha256'"
    for segment in segments:
        name = segment.get("name") if isinstance(segment, dict) else None
        if not (isinstance(name, str) and "/" not in name and _plain_path(name)
                and f"{SEGMENTS_DIR}/{name}" in files and type(segment.get("vectors")) is int):
            return f"a FAISS segment that is no file of its {SEGMENTS_DIR}/ folder: {segment!r}"
    return None


@dataclass
class Segments:
    """The FAISS segments a new version holds: those of the previous version it keeps (linked,
    by name) and those written anew."""

    kept: list[dict]
    new: list[faiss.Index]
    previous_dir: Path | None = None


def plan_segments(previous: LoadedIndex | None, matrix: np.ndarray, ids: np.ndarray, factory: str,
                  removed: np.ndarray) -> tuple[Segments, np.ndarray]:
    """The segments of a new version and the ids it still skips: the previous version's
    segments kept, and one segment of the new vectors merged with the kept segments that must be
    written again (dropping their removed vectors): those where removed vectors pass
    REMOVED_SHARE_MAX, and past MAX_SEGMENTS the smaller half."""
    if previous is None:
        return Segments([], [make_index(matrix, ids, factory)]), removed
    kept = list(zip(previous.manifest["segments"], previous.segments))
    held = [_id_map(index) for index in previous.segments]
    rewrite = {i for i, ids_held in enumerate(held)
               if np.isin(ids_held, removed).sum() > REMOVED_SHARE_MAX * len(ids_held)}
    if len(kept) - len(rewrite) + 1 > MAX_SEGMENTS:
        by_size = sorted((i for i in range(len(kept)) if i not in rewrite), key=lambda i: kept[i][0]["vectors"])
        rewrite.update(by_size[:len(by_size) // 2 + 1])
    merged: list[tuple[np.ndarray, np.ndarray]] = [(ids, matrix)] if len(ids) else []
    merged += [previous.vectors_of(index, removed) for i, (_, index) in enumerate(kept) if i in rewrite]
    template = previous.segments[0] if previous.segments else None
    still_held = np.concatenate([ids_held for i, ids_held in enumerate(held) if i not in rewrite]
                                or [np.array([], np.int64)])
    kept = [pair for i, pair in enumerate(kept) if i not in rewrite]
    new = []
    if merged:
        all_ids = np.concatenate([i for i, _ in merged]).astype(np.int64)
        all_vectors = np.vstack([m for _, m in merged]).astype(np.float32)
        if template is None:
            new.append(make_index(all_vectors, all_ids, factory))
        else:
            segment = faiss.clone_index(template)  # trained as the others (an IVF's centroids)
            segment.reset()
            segment.add_with_ids(all_vectors, all_ids)
            new.append(segment)
    return (Segments([meta for meta, _ in kept], new, previous.directory),
            np.intersect1d(removed, still_held))


def version_name(created: datetime) -> str:
    return created.strftime("%Y%m%dT%H%M%S%fZ")


def write_version(index_root: Path, segments: Segments, manifest: dict,
                  write_rest: Callable[[Path], dict], key: str = "") -> Path:
    """Write a complete version directory (fsynced), not yet published: the FAISS segments, then
    what `write_rest` adds (the lexical indexes and the vocabulary; it returns manifest entries),
    then the manifest with every file's checksum (signed with the replication `key`, if any)."""
    root = versions_dir(index_root)
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    name = version_name(created)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    try:
        (staging / SEGMENTS_DIR).mkdir()
        listed = []
        for segment in segments.kept:
            link_or_copy(segments.previous_dir / SEGMENTS_DIR / segment["name"],
                         staging / SEGMENTS_DIR / segment["name"])
            listed.append(segment)
        for number, index in enumerate(segments.new):
            segment = {"name": f"{name}-{number}.faiss", "vectors": int(index.ntotal)}
            faiss.write_index(index, str(staging / SEGMENTS_DIR / segment["name"]))
            listed.append(segment)
        extra = write_rest(staging)
        previous = read_manifest(segments.previous_dir) if segments.previous_dir is not None else None
        held = sum(s["vectors"] for s in listed)
        manifest = {
            **manifest,
            **extra,
            "layout": LAYOUT,
            "version": name,
            "created_at": created.replace(microsecond=0).isoformat(),
            "count": held - len(removed_ids(manifest)),
            "segments": listed,
            "files": file_list(staging, previous, segments.previous_dir),
        }
        write_manifest(staging, manifest, key)
        fsync_tree(staging)
        final = root / name
        staging.rename(final)
        fsync_dir(root)
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
    fsync_dir(index_root)


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
    """Passages a version's FAISS segments still hold but no longer serve: segments are never
    written again, so a removed passage stays in its segment, skipped by searches, until a merge
    or a full build drops it."""
    return np.array(manifest.get("removed_ids", []), dtype=np.int64)


def _id_map(index: faiss.Index) -> np.ndarray:
    return faiss.vector_to_array(faiss.downcast_index(index).id_map).astype(np.int64)


@dataclass
class LoadedIndex:
    """A version's FAISS segments (searched together, as one index) and its lexical indexes."""

    version: str
    manifest: dict
    segments: list[faiss.Index]
    lexical: lexical.LexicalIndex
    vocabulary: vocabulary.Vocabulary
    directory: Path
    verified: frozenset = frozenset()  # its files (device, inode, size, mtime), checked against the manifest

    def __post_init__(self) -> None:
        self.removed = removed_ids(self.manifest)
        self.groups = duplicates.Groups.from_snapshot(self.manifest.get("groups", {}))  # as built
        self._params = None
        if len(self.removed):  # the selectors must live as long as the parameters that point at them
            self._selectors = (faiss.IDSelectorBatch(self.removed),)
            self._selectors += (faiss.IDSelectorNot(self._selectors[0]),)
            self._params = faiss.SearchParameters(sel=self._selectors[1])

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
        held = np.concatenate([_id_map(s) for s in self.segments]) if self.segments else np.array([], np.int64)
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
        ids = _id_map(segment)
        keep = ids[~np.isin(ids, removed)]
        matrix = np.vstack([segment.reconstruct(int(i)) for i in keep]) if len(keep) else \
            np.zeros((0, segment.d), dtype=np.float32)
        return keep, matrix


def read_manifest(version_dir: Path) -> dict:
    try:
        return json.loads((Path(version_dir) / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"unreadable manifest in {version_dir}: {exc}") from exc


def segment_files(version_dir: Path) -> list[Path]:
    """A version's FAISS segment files, oldest first."""
    return [Path(version_dir) / SEGMENTS_DIR / s["name"] for s in read_manifest(version_dir)["segments"]]


def check_files(version_dir: Path, manifest: dict, check_hash: bool = True,
                verified: frozenset = frozenset()) -> frozenset:
    """Refuse a version whose files are not exactly those its manifest lists (sizes always,
    checksums with `check_hash`): a truncated copy, a corrupt pull, a file gone. Returns the files
    (device, inode, size, mtime) now known good; those in `verified` (hard links a version loaded before shares,
    never written again) are not read again, so a switch reads only what the nightly wrote."""
    name, good = Path(version_dir).name, set()
    for relative, expected in manifest.get("files", {}).items():
        path = Path(version_dir) / relative
        try:
            stat = path.stat()
        except OSError:
            raise IndexUnavailable(f"index {name}: {relative} is missing") from None
        key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)  # a reused inode has another mtime
        if stat.st_size != expected["bytes"] or (check_hash and key not in verified
                                                 and sha256_file(path) != expected["sha256"]):
            raise IndexUnavailable(f"index {name}: {relative} does not match its manifest (corrupt or truncated)")
        good.add(key)
    return frozenset(good) if check_hash else verified


def load_version(index_root: Path, name: str, expected_model: str, expected_dimension: int,
                 check_hash: bool = True, search_params: str = "", verified: frozenset = frozenset()) -> LoadedIndex:
    """Load one version read-only, refusing one built for another model or dimension, or whose
    files are not those its manifest lists (files in `verified`, from a version loaded before,
    are not hashed again)."""
    version_dir = versions_dir(index_root) / name
    manifest = read_manifest(version_dir)
    problem = manifest_problem(manifest)
    if problem:
        raise IndexUnavailable(f"index {name}: its manifest {problem}")
    if manifest.get("layout") != LAYOUT:
        raise IndexUnavailable(f"index {name} was built before versions held everything the service reads: "
                               f"run `python -m indexer build` once to upgrade it")
    if manifest.get("model") != expected_model:
        raise IndexUnavailable(
            f"index {name} was built with model {manifest.get('model')!r}, but the configured model is "
            f"{expected_model!r}: rebuild it with `python -m indexer build --full` or set NEWSSEARCH_MODEL")
    if manifest.get("dimension") != expected_dimension:
        raise IndexUnavailable(f"index {name} has dimension {manifest.get('dimension')}, "
                               f"the model gives {expected_dimension}: rebuild the index")
    good = check_files(version_dir, manifest, check_hash, verified)
    segments = []
    for segment in manifest["segments"]:
        try:
            index = faiss.read_index(str(version_dir / SEGMENTS_DIR / segment["name"]), faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise IndexUnavailable(f"index {name}: cannot read {segment['name']}: {exc}") from exc
        apply_search_params(index, search_params)
        segments.append(index)
    held, removed = sum(int(s.ntotal) for s in segments), len(removed_ids(manifest))
    if manifest.get("count") != held - removed:
        raise IndexUnavailable(f"index {name}: {held} vectors, manifest says {manifest.get('count')} "
                               f"and {removed} removed")
    try:
        words = vocabulary.Vocabulary.open(version_dir)
    except vocabulary.VocabularyUnavailable as exc:
        raise IndexUnavailable(f"index {name}: {exc}") from exc
    return LoadedIndex(name, manifest, segments, _load_lexical(version_dir, manifest), words, version_dir, good)


def _load_lexical(version_dir: Path, manifest: dict) -> lexical.LexicalIndex:
    """The version's lexical indexes, refused unless they hold the passages FAISS holds."""
    name, counts = version_dir.name, manifest.get("lexical")
    try:
        found = lexical.LexicalIndex.open(version_dir)
    except lexical.LexicalUnavailable as exc:
        raise IndexUnavailable(f"index {name}: {exc}") from exc
    if (found.passage_count, found.article_count) != (manifest.get("count"), counts.get("articles")):
        raise IndexUnavailable(
            f"index {name}: lexical index holds {found.passage_count} passages and {found.article_count} "
            f"articles, the manifest says {manifest.get('count')} and {counts.get('articles')}")
    return found
