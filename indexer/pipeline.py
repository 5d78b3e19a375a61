"""The write path as functions the CLI, the nightly job and the benchmarks share: ingest and build."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin, urlparse

import numpy as np

from indexer import models, places, precision, store, suggest
from indexer.config import Settings
from indexer.decode import DecodeError
from indexer.embed import (
    Embedder,
    EmbedMissing,
    VectorCache,
    cached_embeddings,
    embed_in_chunks,
    get_embedder,
    model_id,
)
from indexer.extract import ExtractionError
from indexer.faults import checkpoint
from indexer.page import page_to_article
from indexer.version import layout, lexical_writer, reader, vocabulary_writer, writer

HTML_SUFFIXES = {".html", ".htm", ".shtml", ".php", ".aspx", ".asp"}


@dataclass
class IngestReport:
    counts: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{k} {self.counts[k]}" for k in ("new", "updated", "unchanged", "failed")]
        return "ingest: " + ", ".join(parts)


def html_files(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, its path relative to the folder named, or its name) of every saved page."""
    found: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend((p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in HTML_SUFFIXES)
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def source_from_url(url: str) -> str:
    return urlparse(url).hostname or "local"


def ingest_files(settings: Settings, paths: Iterable[Path], source: str | None = None,
                 progress: bool = False, province: str | None = None, base_url: str | None = None) -> IngestReport:
    """Store saved article pages; a page that fails is reported and never touches stored ones.
    A page's address is its canonical URL; a page that names none is at `base_url` + its path
    under the folder given, and fails without one (a file path is no address a reader can follow).
    `province` is the source's, for place names many units share."""
    from tqdm import tqdm

    files = html_files(paths)
    report = IngestReport()
    conn = store.connect(settings.db_path)
    try:
        for path, relative in tqdm(files, unit="page", desc="ingest", disable=not progress):
            try:
                article = page_to_article(path.read_bytes(), "", urljoin(base_url, quote(relative)) if base_url else "",
                                          source or "", tz=settings.timezone)
                if not models.is_web_url(article.url):
                    raise ExtractionError("the page names no http(s) canonical URL (link rel=canonical): "
                                          "give its site with --base-url")
                article.source = source or source_from_url(article.url)
                _, status = store.upsert_article(conn, article, settings.chunk_words, settings.chunk_overlap,
                                                 province)
            except (ExtractionError, DecodeError, models.ForeignArticle) as exc:
                report.counts["failed"] += 1
                report.failures.append((str(path), str(exc)))
                continue
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
    removed: int
    seconds: float
    embed_seconds: float
    pruned: list[str]
    method: str  # "patched <previous version>" or "full (<why>)"
    lexical: dict = field(default_factory=dict)  # the manifest's: built full or patched, segments rewritten
    embedded_on: str = "this process"  # or "Ray at ADDRESS"
    repeats_dropped: int = 0  # vectors a backend sent twice (Ray retries), written to the cache once
    precision: str = ""  # which precision embedded, and why (empty when nothing was embedded)
    peak_rss_mb: int = 0  # the process's peak resident memory so far

    @property
    def passages_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        rate = f", {self.passages_per_second:.1f} passages/s embedding on {self.embedded_on}" if self.embedded else ""
        rate += f" in {self.precision}" if self.precision else ""
        if self.repeats_dropped:
            rate += f" ({self.repeats_dropped} repeated vectors dropped)"
        rewritten = self.lexical.get("segments_rewritten")
        lexical = f", lexical {self.lexical.get('built', 'unknown')}" + (
            f" ({rewritten} segments rewritten, {self.lexical['documents_rewritten']} documents indexed again)"
            if rewritten else "")
        return (f"build: index version {self.version}: {self.passages} passages ({self.embedded} embedded, "
                f"{self.reused} reused, {self.removed} removed{rate}), {self.method}{lexical}, {self.seconds:.1f} s, "
                f"peak memory {self.peak_rss_mb:,} MB")


def verify_version(index: reader.ServedVersion, expected_count: int, model: str,
                   sample: np.ndarray | None) -> None:
    """Refuse to publish an index that does not hold exactly the archive's passages."""
    if index.count != expected_count:
        raise layout.IndexUnavailable(f"new index serves {index.count} passages, archive has {expected_count}")
    if index.manifest.model != model:
        raise layout.IndexUnavailable("new index manifest names another model")
    if sample is not None and not index.search(sample, 1):
        raise layout.IndexUnavailable("new index returned nothing for a sample query")


def _index_to_patch(settings: Settings, name: str | None, manifest: layout.Manifest | Exception | None, model: str,
                    dimension: int, factory: str, full: bool) -> tuple[reader.ServedVersion | None, str]:
    """The published version to patch, or None and why the build must be full."""
    if full or manifest is None:
        return None, "full (--full)" if full else "full (no previous version)"
    if isinstance(manifest, layout.EarlierLayout):
        return None, "full (previous version of an earlier layout)"
    if isinstance(manifest, Exception):
        return None, "full (previous version unusable: unreadable manifest)"
    if manifest.model != model:
        return None, f"full (model changed from {manifest.model!r})"
    if manifest.index_factory != factory:
        return None, f"full (index type changed to {factory})"
    if manifest.lexical.get("places") not in (None, places.VERSION):
        return None, f"full (places recognised anew: {places.VERSION})"
    try:
        return reader.load_version(settings.index_root, name, model, dimension), f"patched {name}"
    except layout.IndexUnavailable as exc:
        return None, f"full (previous version unusable: {exc})"


def _what_to_add(previous: reader.ServedVersion | None, rows: list, all_ids: np.ndarray,
                 ) -> tuple[list, np.ndarray, np.ndarray]:
    """(the rows the previous version lacks; the passages removed since; the ids it holds but
    no longer serves)."""
    none = np.array([], dtype=np.int64)
    if previous is None:
        return rows, none, none
    held = previous.ids()
    gone = np.setdiff1d(held, all_ids)
    held_set = set(held.tolist())
    return [r for r in rows if r["id"] not in held_set], gone, np.union1d(previous.removed, gone)


def _write_verified(settings: Settings, segments: writer.Segments, facts: dict, model: str, dimension: int,
                    expected: int,
                    new_vector: np.ndarray | None, first_id: int | None,
                    write_rest: Callable[[Path], dict]) -> tuple[Path, layout.Manifest]:
    """Write a version and read it back: it must hold exactly `expected` vectors and as many
    lexical passages, name the model, and answer a sample query (a vector just added, or the
    first one it holds)."""
    version_dir = writer.write_version(settings.index_root, segments, facts, write_rest, settings.replication_key)
    loaded = reader.load_version(settings.index_root, version_dir.name, model, dimension)
    sample = new_vector if new_vector is not None else (loaded.reconstruct(first_id) if first_id is not None else None)
    verify_version(loaded, expected, model, sample)
    return version_dir, loaded.manifest


def _rest_writer(conn, previous: reader.ServedVersion | None, added: list[int], removed: list[int],
                 max_passage_id: int, sources: list[dict]) -> Callable[[Path], dict]:
    """How the new version's lexical indexes, vocabulary and completions are written: the previous
    version's patched (it holds the passages its FAISS holds: those gone since are removed, those
    new added; its vocabulary files gain a delta), or all built anew when there is none; the
    completions are always counted anew from the archive."""
    def kill_point() -> None:
        checkpoint("lexical")

    def write(staging: Path) -> dict:
        if previous is None:
            written = {"lexical": lexical_writer.build(staging, conn, max_passage_id, checkpoint=kill_point),
                       "vocabulary": vocabulary_writer.write(staging, conn)}
        else:
            written = {"lexical": lexical_writer.build(staging, conn, max_passage_id, previous.directory, added,
                                                       removed, checkpoint=kill_point),
                       "vocabulary": vocabulary_writer.write(staging, conn, previous.manifest.vocabulary,
                                                             previous.directory)}
        return {**written,
                "suggestions": suggest.write(staging, store.titles(conn), store.place_counts(conn), sources)}

    return write


def _embed_missing(settings: Settings, load_embedder: Callable[[], Embedder], model: str) -> EmbedMissing:
    """Where cache misses are embedded: on the Ray cluster `settings.ray_address` names (Ray is
    imported only then), else by this process's model."""
    if settings.ray_address:
        from indexer import distributed

        return lambda missing, text_of: distributed.embed_on_ray(settings, model, missing, text_of)
    return lambda missing, text_of: embed_in_chunks(load_embedder(), missing, text_of)


def peak_rss_mb() -> int:
    """This process's peak resident memory (Linux reports it in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def precision_note(embedder: Embedder | None, computed: Counter) -> str:
    """Which precision embedded this build's passages, and why: "bf16 (the CPU computes bf16
    natively (avx512_bf16); probes at cosine 0.99998 of fp32)", or the counts a Ray cluster sent."""
    if not computed:
        return ""
    choice = getattr(embedder, "choice", None)
    if choice is not None and set(computed) == {choice.precision}:
        probes = f"; probes at cosine {choice.cosine} of fp32" if choice.cosine is not None else ""
        return f"{choice.precision} ({choice.why}{probes})"
    return ", ".join(f"{n} in {p}" for p, n in computed.most_common())


def build_index(settings: Settings, progress: bool = False, full: bool = False,
                embedder: Embedder | None = None) -> BuildReport:
    """Embed what is not cached, write a new index version, verify it, publish it, prune old ones.

    The previous version is patched (vanished passages removed, new ones added) unless `full`, the
    model or index type changed, or it cannot be read; a full build still reuses cached vectors.
    The model is loaded only when something must be embedded, or to learn its dimension;
    `embedder` replaces the configured model (tests use a deterministic one).
    """
    started = time.perf_counter()
    model = embedder.model_id if embedder else model_id(settings)
    loaded: list[Embedder] = []  # the model this build loaded, if any: let go once it has embedded

    def load_embedder() -> Embedder:
        if embedder:
            return embedder
        if not loaded:
            loaded.append(get_embedder(settings))
        return loaded[0]

    name, manifest = layout.current_manifest(settings.index_root)
    if isinstance(manifest, layout.Manifest) and manifest.model == model:
        dimension = manifest.dimension
    else:  # no earlier version of this model says it: load the model to ask
        dimension = load_embedder().dimension
    conn = store.connect(settings.db_path)
    planned = embedder.precision if embedder else \
        precision.wanted(settings.embed_precision, precision.cpu_flags(), gpu=False).precision
    cache = VectorCache(settings.cache_dir / "vectors.sqlite3", model, dimension, precision.at_least(planned))

    try:
        with conn:  # one read snapshot of the passages, their sources and their copies' groups
            rows = list(store.iter_passages_for_index(conn))
            sources, groups = store.list_sources(conn), store.group_snapshot(conn)
        all_ids = np.array([r["id"] for r in rows], dtype=np.int64)
        factory = writer.factory_for(settings.index_factory, len(rows))
        previous, method = _index_to_patch(settings, name, manifest, model, dimension, factory, full)
        max_passage_id = int(all_ids.max()) if len(all_ids) else 0
        rows_to_add, gone, skipped = _what_to_add(previous, rows, all_ids)
        write_rest = _rest_writer(conn, previous, [r["id"] for r in rows_to_add], gone.tolist(), max_passage_id,
                                  sources)
        hashes = [r["content_hash"] for r in rows_to_add]
        embed_started = time.perf_counter()
        result = cached_embeddings(_embed_missing(settings, load_embedder, model), cache, hashes,
                                   lambda position: store.embedding_text(conn, rows_to_add[position]["id"]),
                                   progress=progress)
        matrix, embedded = result.vectors, result.embedded
        embed_seconds = time.perf_counter() - embed_started
        ran = precision_note(loaded[0] if loaded else embedder, result.precisions)
        if loaded:
            loaded[0].release_passage_model()
        new_ids = np.array([r["id"] for r in rows_to_add], dtype=np.int64)
        segments, skipped = writer.plan_segments(previous, matrix, new_ids, factory, skipped)
        facts = {"model": model, "dimension": dimension, "index_factory": factory,
                 "schema_version": store.schema_version(conn), "built_by": method,
                 "max_passage_id": max_passage_id, "sources": sources, "removed_ids": skipped.tolist(),
                 "groups": groups}
        version_dir, written = _write_verified(settings, segments, facts, model, dimension, len(rows),
                                               matrix[0] if len(matrix) else None,
                                               int(all_ids[0]) if len(all_ids) else None, write_rest)
        checkpoint("before-publish")
        writer.publish(settings.index_root, version_dir)
        pruned = writer.prune(settings.index_root, settings.keep_index_versions)
    finally:
        cache.close()
        conn.close()
    return BuildReport(version_dir.name, len(rows), embedded, len(rows) - embedded, len(gone),
                       time.perf_counter() - started, embed_seconds, pruned, method, written.lexical,
                       f"Ray at {settings.ray_address}" if settings.ray_address else "this process",
                       result.duplicates, ran, peak_rss_mb())
