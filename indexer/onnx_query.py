"""Queries through ONNX Runtime: the model's own float32 graph, without torch's per-operator overhead.

A query is a few dozen tokens, and in torch's eager mode most of its time here is dispatch, not
arithmetic (≈40 ms a title on this 2-core machine; ONNX Runtime on one thread ≈15 ms, and the
vector is the same: the export is refused below a cosine of MIN_COSINE). Passages stay with
sentence-transformers: long batches are compute-bound and no faster in ONNX Runtime (measured
8.7 against 7.6 passages/s), so the indexer keeps the one documented loading path.

The graph lives in its own folder of the model directory, with a note of the weights it was
exported from: a model replaced in place is never served through a stale graph.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

EXPORT_DIR = "newssearch-onnx"
GRAPH_FILE = "query.onnx"
META_FILE = "export.json"
MIN_COSINE = 0.9999
# Vietnamese the export is checked on: with and without diacritics, an abbreviation, a long lead.
PROBES = (
    "phòng chống thiên tai 2021",
    "phong chong thien tai nam 2021",
    "Ban CHQS huyện tổng kết công tác QS-QP địa phương",
    "Chiều 28/12, Ban Chỉ huy Quân sự huyện tổ chức hội nghị tổng kết công tác quân sự, quốc phòng "
    "địa phương năm 2021 và triển khai nhiệm vụ năm 2022; đồng chí Chủ tịch UBND huyện dự và chỉ đạo.",
)


class NotExportable(ValueError):
    """The model is not transformer → mean or CLS pooling → normalise with a fast tokenizer."""


def weights_fingerprint(model_dir: Path) -> str:
    """Sizes and the first and last MiB of each weights file: cheap at start-up, survives a copy."""
    digest = hashlib.sha256()
    for path in sorted([*model_dir.glob("*.safetensors"), *model_dir.glob("*.bin")]):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(0, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def pooling_mode(model) -> str:
    """The pooling the graph must reproduce; NotExportable for any other module pipeline."""
    names = [type(module).__name__ for module in model]
    if names != ["Transformer", "Pooling", "Normalize"]:
        raise NotExportable(f"modules {' → '.join(names)}: only Transformer → Pooling → Normalize exports")
    mode = model[1].get_config_dict().get("pooling_mode")
    if mode not in ("mean", "cls"):
        raise NotExportable(f"pooling {mode!r}: only mean and cls pooling export")
    if not hasattr(model[0], "auto_model"):
        raise NotExportable("the transformer module has no Hugging Face model to export")
    return mode


def unusable_reason(model_dir: Path) -> str | None:
    """Why the export cannot serve queries for this model directory, or None when it can."""
    meta_path = Path(model_dir) / EXPORT_DIR / META_FILE
    if not meta_path.exists():
        return f"no ONNX export in {Path(model_dir) / EXPORT_DIR} (run `python -m indexer model`)"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed"
    if json.loads(meta_path.read_text())["weights"] != weights_fingerprint(Path(model_dir)):
        return f"the ONNX export in {meta_path.parent} is older than the model's weights"
    return None


class OnnxQueryEncoder:
    """One text at a time (queries come one at a time), prompt and truncation as exported."""

    def __init__(self, model_dir: Path, threads: int, export_dir: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        export_dir = export_dir or Path(model_dir) / EXPORT_DIR
        meta = json.loads((export_dir / META_FILE).read_text())
        self.prompt, self.dimension = meta["query_prompt"], meta["dimension"]
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(meta["max_length"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Spinning threads would steal the core SQLite is using for the same request.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(export_dir / GRAPH_FILE), options,
                                                    providers=["CPUExecutionProvider"])

    def encode(self, text: str) -> np.ndarray:
        ids = np.array([self.tokenizer.encode(self.prompt + text).ids], dtype=np.int64)
        vector = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        return np.ascontiguousarray(vector, dtype=np.float32)


def _graph(model, mode: str):
    import torch

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = model[0].auto_model

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return PooledEncoder().eval()


def ensure_export(model_dir: Path, threads: int, log: Callable[[str], None] = print) -> None:
    """Export unless a current export is there (NotExportable for models it cannot take)."""
    if unusable_reason(model_dir):
        log(f"exporting the query encoder to ONNX in {Path(model_dir) / EXPORT_DIR} …")
        export(model_dir, threads)


def export(model_dir: Path, threads: int = 1) -> Path:
    """Export the query graph next to the weights and check it against sentence-transformers.

    Atomic: the folder appears only once the check passed, so a killed or failed export leaves
    the previous one (or none) in place.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").exists():
        raise NotExportable(f"no tokenizer.json in {model_dir}: only fast tokenizers export")
    model = SentenceTransformer(str(model_dir), device="cpu")
    mode = pooling_mode(model)
    prompt = (model.prompts or {}).get("query", "")
    target = model_dir / EXPORT_DIR
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".onnx-export-") as tmp:
        staging = Path(tmp) / EXPORT_DIR
        staging.mkdir()
        sample = torch.ones(1, 8, dtype=torch.long)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_graph(model, mode), (sample, sample), str(staging / GRAPH_FILE), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "embedding": {0: "batch"}},
                              opset_version=17)
        reference = model.encode([prompt + p for p in PROBES], normalize_embeddings=True, convert_to_numpy=True)
        meta = {"weights": weights_fingerprint(model_dir), "pooling": mode, "query_prompt": prompt,
                "max_length": int(model.max_seq_length), "dimension": int(reference.shape[1])}
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        encoder = OnnxQueryEncoder(model_dir, threads, staging)
        cosine = min(float(encoder.encode(p) @ r) for p, r in zip(PROBES, reference))
        if cosine < MIN_COSINE:
            raise RuntimeError(f"ONNX export differs from sentence-transformers (cosine {cosine:.5f})")
        meta["checked_cosine"] = round(cosine, 6)
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target
