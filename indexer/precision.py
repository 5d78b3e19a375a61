"""The numeric precision passages are embedded in (NEWSSEARCH_EMBED_PRECISION).

Embedding is nearly all of indexing, and fp32 already runs near the cores' fp32 peak: the headroom
is in lower precision, which CPUs with AVX512-BF16 (or AMX) and GPUs execute natively at two to
four times the rate. `auto` takes bf16 where the hardware has it and fp32 elsewhere (emulated
bf16 is slower than fp32). Queries keep their encoder (ONNX Runtime, fp32).

Quality is guarded, not assumed: before a model embeds in lower precision, it embeds PROBES both
ways, and a precision whose vectors fall under MIN_COSINE of fp32's is refused (`auto` then keeps
fp32 and says why). The vector cache records each vector's precision: a build reuses a cached
vector computed at its precision or a more exact one, and embeds again one computed less exactly
(`at_least`), so turning to fp32 makes every vector fp32 again while turning to bf16 keeps the fp32
ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.onnx_query import PROBES

EXACTNESS = {"int8": 0, "bf16": 1, "fp32": 2}
MIN_COSINE = {"bf16": 0.999, "int8": 0.99}  # the least cosine of a probe's vector to fp32's
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")


class PrecisionRefused(RuntimeError):
    """An asked precision whose vectors are too far from fp32's."""


@dataclass(frozen=True)
class Choice:
    precision: str
    why: str
    cosine: float | None = None  # the least probe cosine to fp32, where it was checked


def cpu_flags(path: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where the file is absent: not Linux)."""
    try:
        text = path.read_text()
    except OSError:
        return frozenset()
    return frozenset(word for line in text.splitlines() if line.startswith("flags") for word in line.split()[2:])


def wanted(setting: str, flags: frozenset[str], gpu: bool) -> Choice:
    """The precision a setting asks for on this hardware, and why."""
    if setting != "auto":
        return Choice(setting, "set by NEWSSEARCH_EMBED_PRECISION")
    if gpu:
        return Choice("bf16", "a GPU computes bf16 natively")
    native = [flag for flag in NATIVE_BF16 if flag in flags]
    if native:
        return Choice("bf16", f"the CPU computes bf16 natively ({native[0]})")
    return Choice("fp32", "the CPU has neither AVX512-BF16 nor AMX: bf16 would be emulated, slower than fp32")


def at_least(precision: str) -> tuple[str, ...]:
    """The precisions a build at `precision` reuses cached vectors of: it and the more exact ones."""
    return tuple(p for p, rank in EXACTNESS.items() if rank >= EXACTNESS[precision])


def _converted(model, precision: str):
    """A converted copy (the fp32 model stays as it was, for the probes and a refusal)."""
    import copy

    import torch

    if precision == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if precision == "int8":  # dynamic quantisation of the linear layers: weights int8, activations per batch
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def prepare(model, setting: str, flags: frozenset[str], gpu: bool, encode) -> tuple[object, Choice]:
    """The model converted to the precision `setting` asks for on this hardware, once its probe
    vectors agree with fp32's; `encode(model, texts)` gives L2-normalised vectors."""
    choice = wanted(setting, flags, gpu)
    if choice.precision == "fp32":
        return model, choice
    reference = encode(model, list(PROBES))
    converted = _converted(model, choice.precision)
    cosine = float(np.min(np.sum(encode(converted, list(PROBES)) * reference, axis=1)))
    if cosine >= MIN_COSINE[choice.precision]:
        return converted, Choice(choice.precision, choice.why, round(cosine, 6))
    message = (f"{choice.precision} vectors are at cosine {cosine:.5f} of fp32's on the probes, under "
               f"{MIN_COSINE[choice.precision]}")
    if setting != "auto":
        raise PrecisionRefused(f"{message}: set NEWSSEARCH_EMBED_PRECISION=fp32 (or auto)")
    return model, Choice("fp32", message)
