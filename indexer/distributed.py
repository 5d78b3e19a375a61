"""Embedding on a Ray cluster: the passages that miss the vector cache go to an actor pool (Ray
Data `map_batches`, one model per actor) and their vectors stream back into the cache.

Imported only when a Ray address is configured (`build --ray`, `nightly --ray`,
`NEWSSEARCH_RAY_ADDRESS`). Everything else (the archive, FAISS, the lexical index, publishing)
stays on the machine that runs the command. The indexer package travels to the workers through
Ray's runtime environment, and the model through the object store (or a shared path), so a worker
needs only the Python requirements and `ray start --address`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from indexer import precision
from indexer.config import Settings
from indexer.embed import Batches, encode_with, passage_prompt
from indexer.onnx_query import EXPORT_DIR

# Passages per Ray Dataset. Each one starts its actor pool (a model load per actor), and its
# texts sit in the driver's memory: 50,000 are ~60 MB, against minutes to hours of embedding.
WINDOW = 50_000
# A worker that cannot load the model fails fast instead of being replaced over and over.
ACTOR_INIT_DEATHS = 2
# Files that do not change a vector: the ONNX query export (the driver's own) and the model card.
NOT_SHIPPED = {EXPORT_DIR, "README.md"}


class RayUnavailable(RuntimeError):
    """The cluster cannot be used; the message is one line (the CLI exits 2)."""


class ModelMismatch(RuntimeError):
    """A worker's model is not the driver's: its vectors would not be comparable."""


def model_files(model_dir: Path) -> list[Path]:
    """The files of a model directory that a worker loads, relative and sorted."""
    found = []
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir)
        if path.is_file() and relative.parts[0] not in NOT_SHIPPED and not relative.name.startswith("."):
            found.append(relative)
    return found


def model_fingerprint(model_dir: Path) -> str:
    """SHA-256 over every file a worker loads (names and contents): equal fingerprints, equal vectors."""
    digest = hashlib.sha256()
    for relative in model_files(model_dir):
        digest.update(f"{relative.as_posix()}\0".encode())
        with open(model_dir / relative, "rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def _local_model_dir(settings: Settings) -> Path:
    """The driver's model as a directory: a path as configured, or a hub name from its local cache."""
    configured = Path(settings.model_name_or_path)
    if configured.is_dir():
        return configured
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(settings.model_name_or_path, local_files_only=True))
    except Exception as exc:
        raise RayUnavailable(f"the Ray path needs the model on this machine: {settings.model_name_or_path!r} "
                             f"is neither a directory nor in the Hugging Face cache ({type(exc).__name__})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_reachable(address: str) -> None:
    """A TCP connect first: ray.init retries an unreachable address for a minute or more."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"Ray address {address!r}: expected HOST:PORT (as `ray start --head` prints it)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def connect(settings: Settings) -> dict[str, float]:
    """Join the cluster at `settings.ray_address` (once per process) and return its resources.

    Raises RayUnavailable, with one line that says why, for an address nobody answers, a cluster
    running another Ray or Python version, and a cluster with no CPU (or GPU) for an actor.
    """
    import ray

    import indexer

    address = settings.ray_address
    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                     runtime_env={"py_modules": [str(Path(indexer.__file__).parent)],
                                  "excludes": ["__pycache__", "*.pyc"]})
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            message = _one_line(exc)
            if "version mismatch" in message.lower():
                raise RayUnavailable(f"Ray version mismatch with the cluster at {address}: {message}") from None
            raise RayUnavailable(f"cannot join the Ray cluster at {address}: {message}") from None
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) < 1 and resources.get("CPU", 0) < settings.ray_cpus_per_actor:
        raise RayUnavailable(f"the Ray cluster at {address} has {resources.get('CPU', 0):g} CPUs and no GPU: "
                             f"an embedding actor needs {settings.ray_cpus_per_actor} CPU(s)")
    return resources


def actor_plan(settings: Settings, resources: dict[str, float]) -> dict:
    """How many actors, and what each declares: one per GPU when the cluster has GPUs (a GPU
    embeds tens of times faster than a core), else one per `ray_cpus_per_actor` CPUs."""
    gpus = int(resources.get("GPU", 0))
    cpus = settings.ray_cpus_per_actor
    return {"actors": gpus if gpus else max(1, int(resources.get("CPU", 0) // cpus)),
            "num_cpus": cpus, "num_gpus": 1 if gpus else 0, "memory": settings.ray_actor_memory_mib * 2 ** 20}


class PassageEmbedder:
    """A Ray actor: loads the driver's model once, refuses any other, embeds batches of texts."""

    def __init__(self, fingerprint: str, shipped: list | None, shared_path: str, batch_size: int,
                 threads: int, use_gpu: bool, embed_precision: str = "auto") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        model_dir = Path(shared_path) if shared_path else _unpack(fingerprint, shipped)
        found = model_fingerprint(model_dir)
        if found != fingerprint:
            raise ModelMismatch(f"worker {socket.gethostname()}: the model at {model_dir} is not the driver's "
                                f"(fingerprint {found[:12]}, driver {fingerprint[:12]}); refusing to mix vectors")
        torch.set_num_threads(threads)
        model = SentenceTransformer(str(model_dir), device="cuda" if use_gpu else "cpu")
        self.prompt, self.batch_size, self.fingerprint = passage_prompt(model), batch_size, fingerprint
        # each node embeds in the precision its own hardware computes natively, guarded the same way
        self.model, self.choice = precision.prepare(
            model, embed_precision, precision.cpu_flags(), use_gpu,
            lambda m, texts: encode_with(m, texts, self.prompt, batch_size))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = encode_with(self.model, [str(t) for t in batch["text"]], self.prompt, self.batch_size)
        return {"hash": batch["hash"], "vector": vectors, "fingerprint": np.full(len(vectors), self.fingerprint),
                "precision": np.full(len(vectors), self.choice.precision)}


def unpacked_model_dir(fingerprint: str) -> Path:
    """Where a node keeps the shipped model of this fingerprint, for later actors and runs."""
    return Path(tempfile.gettempdir()) / "newssearch-models" / fingerprint


def _unpack(fingerprint: str, shipped: list | None) -> Path:
    """The shipped model, written once per node under the temp dir and found there by later actors."""
    import ray

    target = unpacked_model_dir(fingerprint)
    if target.is_dir():
        return target
    files: dict[str, bytes] = ray.get(shipped[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint[:12]}-", dir=target.parent))
    for relative, content in files.items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        (staging / relative).write_bytes(content)
    try:
        os.rename(staging, target)
    except OSError:  # another actor on this node got there first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def map_on_actors(items: list[dict], actor_class: type, constructor_kwargs: dict, plan: dict,
                  batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Run `actor_class` over `items` with Ray Data's `map_batches` on an actor pool, yielding
    each output batch as it arrives (in no particular order). Ray restarts actors and retries
    their tasks when a node dies; a batch is delivered once."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.max_consecutive_actor_init_deaths = ACTOR_INIT_DEATHS
    actors = min(plan["actors"], max(1, -(-len(items) // batch_size)))
    dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // batch_size)))
    mapped = dataset.map_batches(
        actor_class, fn_constructor_kwargs=constructor_kwargs, batch_size=batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
        num_cpus=plan["num_cpus"], num_gpus=plan["num_gpus"] or None, memory=plan["memory"])
    yield from mapped.iter_batches(batch_size=None, batch_format="numpy")


def _refusal(exc: BaseException | None) -> ModelMismatch | None:
    """The ModelMismatch inside whatever Ray wrapped it in (it travels as text), if that is why
    the run failed."""
    for _ in range(10):
        if exc is None or isinstance(exc, ModelMismatch):
            return exc
        for line in str(exc).splitlines():
            if "ModelMismatch:" in line:
                return ModelMismatch(line.split("ModelMismatch:", 1)[1].strip())
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None


def embed_on_ray(settings: Settings, model: str, hashes: list[str], text_of: Callable[[str], str]) -> Batches:
    """The Ray backend for cached_embeddings: these content hashes' vectors, batch by batch as
    the cluster finishes them. Every batch names the model fingerprint that made it."""
    import ray

    plan = actor_plan(settings, connect(settings))
    model_dir = _local_model_dir(settings)
    fingerprint = model_fingerprint(model_dir)
    shipped = None
    if not settings.ray_model_path:
        shipped = [ray.put({r.as_posix(): (model_dir / r).read_bytes() for r in model_files(model_dir)})]
    constructor = {"fingerprint": fingerprint, "shipped": shipped, "shared_path": settings.ray_model_path,
                   "batch_size": settings.embed_batch_size, "threads": plan["num_cpus"],
                   "use_gpu": bool(plan["num_gpus"]), "embed_precision": settings.embed_precision}
    for start in range(0, len(hashes), WINDOW):
        items = [{"hash": h, "text": text_of(h)} for h in hashes[start:start + WINDOW]]
        try:
            for batch in map_on_actors(items, PassageEmbedder, constructor, plan, settings.ray_batch_size):
                if set(batch["fingerprint"].tolist()) != {fingerprint}:
                    raise ModelMismatch(f"a batch came back from another model than {model!r}")
                for computed_in in dict.fromkeys(batch["precision"].tolist()):  # one actor's batch: one precision
                    rows = batch["precision"] == computed_in
                    yield (batch["hash"][rows].tolist(), np.asarray(batch["vector"][rows], dtype=np.float32),
                           computed_in)
        except ModelMismatch:
            raise
        except Exception as exc:  # Ray's errors, whatever their type, with the worker's traceback as text
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from None
            raise RayUnavailable(f"embedding on the Ray cluster at {settings.ray_address} failed: "
                                 f"{_one_line(exc)[:500]}") from exc
