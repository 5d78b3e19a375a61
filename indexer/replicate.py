"""Replicas pull published versions: `python -m indexer pull SOURCE`.

SOURCE is the primary's index root (`<data dir>/index`), either a directory (a mounted share) or
an http(s):// URL where a web server publishes that directory read-only (deploy/nginx.conf's
`/replication/` location). HTTP rather than rsync: it needs nothing on the replica but Python,
nginx already serves the primary, and rsync's own checks would still leave the version to verify.

A pull copies only the files the replica lacks: a file whose checksum a local version already
lists is hard-linked, as builds share files between versions. Every file is checked against the
manifest's size and SHA-256 before the version is published with the same atomic switch as a
build; a pull that is cut off or corrupt is refused, and the replica keeps serving what it had.

Checksums travel with the files, so they catch corruption, not tampering: with a replication key
(NEWSSEARCH_REPLICATION_KEY, the same secret on the primary and its replicas) the primary signs each
manifest (HMAC-SHA256) and a replica copies nothing of a version whose signature does not verify.
A copy never runs past the size its manifest gives, and every name the manifest holds, FAISS
segments included, must stay inside the version directory.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from indexer.files import fsync_dir, fsync_tree, link_or_copy
from indexer.version import layout, writer

CHUNK = 1 << 20


class PullRefused(RuntimeError):
    """A version that cannot be pulled (unreachable, cut off, corrupt): nothing was published."""


@dataclass
class PullReport:
    version: str
    status: str  # "pulled", "up to date", "published" (a version already here, now served)
    files_copied: int = 0
    files_linked: int = 0
    bytes_linked: int = 0
    pruned: tuple[str, ...] = ()
    copied: dict[str, int] = field(default_factory=dict)  # bytes copied by part (vectors, lexical, …)

    @property
    def bytes_copied(self) -> int:
        return sum(self.copied.values())

    def summary(self) -> str:
        if self.status != "pulled":
            return f"pull: {self.version} {self.status}"
        total = self.bytes_copied + self.bytes_linked
        share = self.bytes_copied / total if total else 0.0
        return (f"pull: {self.version} published: {self.files_copied} files copied ({self.bytes_copied:,} bytes, "
                f"{share:.1%} of the version), {self.files_linked} linked from local versions")


class _Source:
    """Where versions come from: a directory, or an HTTP server publishing one."""

    def __init__(self, location: str, timeout: float) -> None:
        self.location, self.timeout = location.rstrip("/"), timeout
        self.is_http = location.startswith(("http://", "https://"))

    def _open(self, relative: str):
        if not self.is_http:
            return open(Path(self.location) / relative, "rb")
        return urllib.request.urlopen(f"{self.location}/{relative}", timeout=self.timeout)

    def read(self, relative: str) -> bytes:
        try:
            with self._open(relative) as handle:
                return handle.read()
        except (OSError, http.client.HTTPException) as exc:
            raise PullRefused(f"cannot read {relative} from {self.location}: {exc}") from exc

    def read_optional(self, relative: str) -> bytes | None:
        """A file that may be absent (None then)."""
        try:
            return self.read(relative)
        except PullRefused:
            return None

    def copy(self, relative: str, target: Path, size: int) -> None:
        """Copy one file of `size` bytes (its manifest's): a body that runs past it is refused at once,
        so an endless one never fills the disk."""
        try:
            with self._open(relative) as handle, open(target, "wb") as out:
                copied = 0
                while chunk := handle.read(min(CHUNK, size - copied + 1)):
                    copied += len(chunk)
                    if copied > size:
                        raise PullRefused(f"{relative} from {self.location} is longer than its manifest's "
                                          f"{size:,} bytes: refused")
                    out.write(chunk)
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError; IncompleteRead: cut off
            raise PullRefused(f"cannot copy {relative} from {self.location}: {exc}") from exc


def _checked_manifest(name: str, raw: bytes, signature: bytes | None, key: str) -> layout.Manifest:
    """The manifest a primary published, refused unless its signature verifies (when this replica
    has a key) and its shape is sound (layout.manifest_problem)."""
    if key and (signature is None or not layout.signed_by(raw, signature, key)):
        raise PullRefused(f"{name}: the manifest's signature {'is missing' if signature is None else 'does not verify'}"
                          f" (NEWSSEARCH_REPLICATION_KEY): refused, the served version is unchanged")
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise PullRefused(f"{name}: unreadable manifest: {exc}") from exc
    try:
        return layout.Manifest.of(manifest, name)
    except layout.EarlierLayout:
        raise PullRefused(f"{name} was built before versions held everything the service reads: "
                          f"run `python -m indexer build` once on the primary") from None
    except layout.IndexUnavailable as exc:  # its shape (layout.manifest_problem)
        raise PullRefused(f"{exc}: refused, the served version is unchanged") from None


def _local_files(index_root: Path) -> dict[str, Path]:
    """{sha256: path} of the files local versions' manifests list."""
    found: dict[str, Path] = {}
    folder = layout.versions_dir(index_root)
    for version in sorted(folder.iterdir()) if folder.exists() else []:
        if version.name.startswith(".") or not version.is_dir():
            continue
        try:
            manifest = layout.load_manifest(version)
        except layout.IndexUnavailable:
            continue
        for relative, meta in manifest.files.items():
            path = version / relative
            if path.is_file() and path.stat().st_size == meta["bytes"]:
                found.setdefault(meta["sha256"], path)
    return found


def pull(source: str, index_root: Path, keep: int = 3, timeout: float = 30.0, key: str = "") -> PullReport:
    """Copy the source's published version into `index_root` (what is missing of it), verify
    it, publish it, and prune all but the newest `keep` versions. With a replication `key`, only a
    version whose manifest is signed with it is copied."""
    origin = _Source(source, timeout)
    name = origin.read(layout.CURRENT_FILE).decode(errors="replace").strip()
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", name):
        raise PullRefused(f"{source} has no published version")
    index_root = Path(index_root)
    target = layout.versions_dir(index_root) / name
    if layout.current_version(index_root) == name:
        return PullReport(name, "up to date")
    if target.is_dir():  # pulled earlier but not published (or rolled back from): check it again
        _verify(target, layout.load_manifest(target))
        writer.publish(index_root, target)
        return PullReport(name, "published")
    raw = origin.read(f"versions/{name}/{layout.MANIFEST_FILE}")
    signature = origin.read_optional(f"versions/{name}/{layout.SIGNATURE_FILE}") if key else None
    manifest = _checked_manifest(name, raw, signature, key)
    files = manifest.files
    report = PullReport(name, "pulled")
    local = _local_files(index_root)
    layout.versions_dir(index_root).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=layout.versions_dir(index_root), prefix=".pull-"))
    try:
        for relative, meta in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if meta["sha256"] in local:
                link_or_copy(local[meta["sha256"]], path)
                report.files_linked += 1
                report.bytes_linked += meta["bytes"]
            else:
                origin.copy(f"versions/{name}/{relative}", path, meta["bytes"])
                report.files_copied += 1
                part = relative.split("/")[0]
                report.copied[part] = report.copied.get(part, 0) + meta["bytes"]
        (staging / layout.MANIFEST_FILE).write_bytes(raw)
        _verify(staging, manifest)
        fsync_tree(staging)
        staging.rename(target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    writer.publish(index_root, target)
    report.pruned = tuple(writer.prune(index_root, keep))
    return report


def _verify(folder: Path, manifest: layout.Manifest) -> None:
    """Every file the manifest lists, with its size and checksum."""
    try:
        layout.check_files(folder, manifest.files, check_hash=True)
    except layout.IndexUnavailable as exc:
        raise PullRefused(f"{exc}: refused, the served version is unchanged") from exc
