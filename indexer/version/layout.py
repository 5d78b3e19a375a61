"""A version's names and checks, shared by the indexer that writes versions, the service that
reads them and the replicas that pull them: file names, CURRENT, the manifest's shape, its
signature and the check of every file against it (indexer/version/__init__.py has the layout)."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from indexer.files import sha256_file

MANIFEST_FILE, CURRENT_FILE, SEGMENTS_DIR = "manifest.json", "CURRENT", "vectors"
SIGNATURE_FILE = "manifest.sig"  # HMAC-SHA256 of manifest.json, when the primary has a replication key
# What a version's files are: versions of an earlier layout (one index.faiss, the service reading
# the archive) are refused with a message to rebuild, and are never patched.
LAYOUT = 2


class IndexUnavailable(RuntimeError):
    """An index that must not be served: missing, corrupt, or built with another model."""


class EarlierLayout(IndexUnavailable):
    """A version an earlier release wrote, of another LAYOUT: never served, never patched."""


@dataclass(frozen=True)
class Manifest:
    """A version's manifest.json, as the service, the pull and the next build read it: what the
    version holds, what built it, and every other file's size and checksum. Written last, by
    writer.write_version; read_manifest gives the JSON as stored."""

    layout: int                       # LAYOUT: what the version's files are
    version: str                      # its name (the time it was built)
    created_at: str
    model: str                        # the embedding model of its vectors, and their dimension
    dimension: int
    index_factory: str                # the FAISS index type of its segments
    count: int                        # passages it serves
    segments: list[dict]              # FAISS segments, oldest first: {"name", "vectors"}
    files: dict[str, dict]            # every file but this one: {"bytes", "sha256"}
    lexical: dict                     # the tantivy indexes: passages, articles, how they were built
    vocabulary: dict = field(default_factory=dict)   # its files (vocabulary.py)
    suggestions: dict = field(default_factory=dict)  # its completions file (suggest.py)
    removed_ids: list[int] = field(default_factory=list)  # passages its segments hold but no longer serve
    groups: dict = field(default_factory=dict)       # near-duplicate groups, as built
    sources: list[dict] = field(default_factory=list)  # each source: key, title, articles, first, last
    schema_version: int = 0           # of the archive it was built from
    built_by: str = ""                # full or patched, and why
    max_passage_id: int = 0           # the newest passage it holds

    @classmethod
    def of(cls, data: object, name: str) -> Manifest:
        """The manifest of version `name` from its JSON; IndexUnavailable when its shape is wrong or
        it is of an earlier layout (keys this release does not know are left out)."""
        problem = manifest_problem(data)
        if problem:
            raise IndexUnavailable(f"index {name}: its manifest {problem}")
        if data.get("layout") != LAYOUT:
            raise EarlierLayout(f"index {name} was built before versions held everything the service reads: "
                                   f"run `python -m indexer build` once to upgrade it")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError as exc:  # a key every version has is missing
            raise IndexUnavailable(f"index {name}: its manifest lacks {exc}") from exc

    def json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return f"{self.count} passages, {self.lexical.get('articles', 0)} articles, {self.index_factory}"

    @property
    def removed(self) -> np.ndarray:
        """Passages the version's FAISS segments still hold but no longer serve: segments are never
        written again, so a removed passage stays in its segment, skipped by searches, until a
        merge or a full build drops it."""
        return np.array(self.removed_ids, dtype=np.int64)


def load_manifest(version_dir: Path) -> Manifest:
    """The manifest of the version in `version_dir`, checked (Manifest.of)."""
    return Manifest.of(read_manifest(version_dir), Path(version_dir).name)


def current_manifest(index_root: Path) -> tuple[str | None, Manifest | IndexUnavailable | None]:
    """The published version's name and manifest, or why this release cannot read it (an
    IndexUnavailable; EarlierLayout for a version of an earlier release); (None, None) when
    nothing is published."""
    name = current_version(index_root)
    if not name:
        return None, None
    try:
        return name, load_manifest(versions_dir(index_root) / name)
    except IndexUnavailable as exc:
        return name, exc


def versions_dir(index_root: Path) -> Path:
    return Path(index_root) / "versions"


def version_name(created: datetime) -> str:
    return created.strftime("%Y%m%dT%H%M%S%fZ")


def current_version(index_root: Path) -> str | None:
    try:
        return (Path(index_root) / CURRENT_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def read_manifest(version_dir: Path) -> dict:
    try:
        return json.loads((Path(version_dir) / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"unreadable manifest in {version_dir}: {exc}") from exc


def segment_files(version_dir: Path) -> list[Path]:
    """A version's FAISS segment files, oldest first."""
    return [Path(version_dir) / SEGMENTS_DIR / s["name"] for s in load_manifest(version_dir).segments]


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


def check_files(version_dir: Path, files: dict[str, dict], check_hash: bool = True,
                verified: frozenset = frozenset()) -> frozenset:
    """Refuse a version whose files are not exactly those its manifest lists (`files`; sizes always,
    checksums with `check_hash`): a truncated copy, a corrupt pull, a file gone. Returns the files
    (device, inode, size, mtime) now known good; those in `verified` (hard links a version loaded before shares,
    never written again) are not read again, so a switch reads only what the nightly wrote."""
    name, good = Path(version_dir).name, set()
    for relative, expected in files.items():
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
