"""Writing a version: FAISS segments planned from the previous version's, the files written and
fsynced under a staging name, the manifest (signed) last, then one atomic switch of CURRENT;
old versions pruned. The lexical indexes are lexical_writer.py's, the vocabulary
vocabulary_writer.py's."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from indexer.files import fsync_dir, fsync_tree, link_or_copy, sha256_file
from indexer.version.layout import (
    CURRENT_FILE,
    LAYOUT,
    MANIFEST_FILE,
    SEGMENTS_DIR,
    SIGNATURE_FILE,
    IndexUnavailable,
    Manifest,
    current_version,
    load_manifest,
    sign,
    version_name,
    versions_dir,
)
from indexer.version.reader import ServedVersion, id_map

# Up to this many passages a search reads every vector (exact; 12 ms per query at 200k on two
# cores, 60 ms at 1M, bench/README.md); above it, an HNSW graph answers in about a millisecond.
EXACT_SEARCH_MAX = 200_000
HNSW_FACTORY = "HNSW32"
# A search asks every segment; past this many, a build merges the smallest half into one (the
# bytes a replica then pulls are those small segments' again, not the whole index).
MAX_SEGMENTS = 8
# A segment whose removed vectors pass this share of it is written again without them.
REMOVED_SHARE_MAX = 0.1


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


def file_list(version_dir: Path, previous: Manifest | None = None, previous_dir: Path | None = None
              ) -> dict[str, dict]:
    """{relative path: {"bytes", "sha256"}} of every file of a version but its manifest. A file
    that is the previous version's own (a hard link) keeps the checksum its manifest gives."""
    known = previous.files if previous is not None else {}
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


def write_manifest(folder: Path, manifest: Manifest, key: str = "") -> None:
    """The manifest, and with a replication `key` its signature (SIGNATURE_FILE), which replicas
    holding the same key check before they copy anything."""
    data = json.dumps(manifest.json(), indent=2, ensure_ascii=False).encode()
    _write_synced(folder / MANIFEST_FILE, data)
    if key:
        _write_synced(folder / SIGNATURE_FILE, sign(data, key).encode())


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass
class Segments:
    """The FAISS segments a new version holds: those of the previous version it keeps (linked,
    by name) and those written anew."""

    kept: list[dict]
    new: list[faiss.Index]
    previous_dir: Path | None = None


def plan_segments(previous: ServedVersion | None, matrix: np.ndarray, ids: np.ndarray, factory: str,
                  removed: np.ndarray) -> tuple[Segments, np.ndarray]:
    """The segments of a new version and the ids it still skips: the previous version's
    segments kept, and one segment of the new vectors merged with the kept segments that must be
    written again (dropping their removed vectors): those where removed vectors pass
    REMOVED_SHARE_MAX, and past MAX_SEGMENTS the smaller half."""
    if previous is None:
        return Segments([], [make_index(matrix, ids, factory)]), removed
    kept = list(zip(previous.manifest.segments, previous.segments))
    held = [id_map(index) for index in previous.segments]
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


def write_version(index_root: Path, segments: Segments, facts: dict,
                  write_rest: Callable[[Path], dict], key: str = "") -> Path:
    """Write a complete version directory (fsynced), not yet published: the FAISS segments, then
    what `write_rest` adds (the lexical indexes and the vocabulary; it returns their manifest
    entries), then the manifest (`facts`: what the build knows of the version, Manifest fields) with
    every file's checksum, signed with the replication `key`, if any."""
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
        previous = load_manifest(segments.previous_dir) if segments.previous_dir is not None else None
        held = sum(s["vectors"] for s in listed)
        manifest = Manifest(**facts, **extra, layout=LAYOUT, version=name,
                            created_at=created.replace(microsecond=0).isoformat(), count=held, segments=listed,
                            files=file_list(staging, previous, segments.previous_dir))
        manifest = replace(manifest, count=held - len(manifest.removed_ids))  # the passages it serves
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
