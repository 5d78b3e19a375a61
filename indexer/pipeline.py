"""The write path as functions the CLI, the nightly job and the benchmarks share: ingest and build."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from indexer import store, vectors
from indexer.config import Settings
from indexer.embed import Embedder, VectorCache, cached_embeddings, get_embedder
from indexer.extract import ExtractionError, extract_article

HTML_SUFFIXES = {".html", ".htm", ".shtml", ".php", ".aspx", ".asp"}


@dataclass
class IngestReport:
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{k} {self.counts[k]}" for k in ("new", "updated", "unchanged", "failed")]
        return "ingest: " + ", ".join(parts)


def html_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in HTML_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def source_from_url(url: str) -> str:
    return urlparse(url).hostname or "local"


def ingest_files(settings: Settings, paths: Iterable[Path], source: str | None = None,
                 progress: bool = False) -> IngestReport:
    """Store saved article pages; a page that fails is reported and never touches stored ones."""
    from tqdm import tqdm

    files = html_files(paths)
    report = IngestReport()
    conn = store.connect(settings.db_path)
    try:
        for path in tqdm(files, unit="page", desc="ingest", disable=not progress):
            html = path.read_bytes().decode("utf-8", errors="replace")
            try:
                article = extract_article(html, path.resolve().as_uri(), source or "", tz=settings.timezone)
            except ExtractionError as exc:
                report.counts["failed"] += 1
                report.failures.append((str(path), str(exc)))
                continue
            article.source = source or source_from_url(article.url)
            _, status = store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap)
            report.counts[status] += 1
    finally:
        conn.close()
    return report


@dataclass
class BuildReport:
    version: str
    passages: int
    embedded: int
    reused: int
    seconds: float
    embed_seconds: float
    pruned: list[str]

    @property
    def passages_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        rate = f", {self.passages_per_second:.1f} passages/s embedding" if self.embedded else ""
        return (f"build: index version {self.version}: {self.passages} passages "
                f"({self.embedded} embedded, {self.reused} reused from cache{rate}), {self.seconds:.1f} s")


def verify_version(index: vectors.LoadedIndex, expected_count: int, model: str,
                   sample: np.ndarray | None) -> None:
    """Refuse to publish an index that does not hold exactly the archive's passages."""
    if index.index.ntotal != expected_count:
        raise vectors.IndexUnavailable(f"new index has {index.index.ntotal} vectors, archive has {expected_count}")
    if index.manifest.get("model") != model:
        raise vectors.IndexUnavailable("new index manifest names another model")
    if sample is not None and not index.search(sample, 1):
        raise vectors.IndexUnavailable("new index returned nothing for a sample query")


def build_index(settings: Settings, embedder: Embedder | None = None, progress: bool = False) -> BuildReport:
    """Embed what is not cached, write a new index version, verify it, publish it, prune old ones."""
    started = time.perf_counter()
    embedder = embedder or get_embedder(settings)
    conn = store.connect(settings.db_path)
    cache = VectorCache(settings.cache_dir / "vectors.sqlite3", embedder.model_id, embedder.dimension)
    try:
        with conn:  # one read snapshot of the passages
            rows = list(store.iter_passages_for_index(conn))
        store.rebuild_vocabulary(conn)
        ids = np.array([r["id"] for r in rows], dtype=np.int64)
        hashes = [r["content_hash"] for r in rows]
        texts = [store.passage_embedding_text(r["title"], r["text"]) for r in rows]
        embed_started = time.perf_counter()
        matrix, embedded = cached_embeddings(embedder, cache, hashes, texts, progress=progress)
        embed_seconds = time.perf_counter() - embed_started
        index = vectors.make_index(matrix, ids, settings.index_factory)
        manifest = {"model": embedder.model_id, "index_factory": settings.index_factory,
                    "schema_version": store.schema_version(conn)}
        version_dir = vectors.write_version(settings.index_root, index, manifest)
        loaded = vectors.load_version(settings.index_root, version_dir.name, embedder.model_id,
                                      embedder.dimension)
        verify_version(loaded, len(rows), embedder.model_id, matrix[0] if len(rows) else None)
        vectors.publish(settings.index_root, version_dir)
        pruned = vectors.prune(settings.index_root, settings.keep_index_versions)
    finally:
        cache.close()
        conn.close()
    return BuildReport(version_dir.name, len(rows), embedded, len(rows) - embedded,
                       time.perf_counter() - started, embed_seconds, pruned)
