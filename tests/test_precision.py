"""The precision passages are embedded in: chosen by the hardware, guarded against fp32, and a
change of it handled by the vector cache's rule."""
import numpy as np
import pytest

from fixtures.hashed import HashedEmbedder
from indexer import precision, store
from indexer.config import load_settings
from indexer.embed import VectorCache
from indexer.models import Article
from indexer.pipeline import build_index

CPUINFO = """processor\t: 0
flags\t\t: fpu vme sse2 avx2 avx512f avx512_vnni {extra}
processor\t: 1
"""


@pytest.mark.parametrize(("extra", "gpu", "expected"), [
    ("", False, "fp32"),                 # no bf16 in hardware: emulated bf16 is slower than fp32
    ("avx512_bf16", False, "bf16"),      # this machine's cores
    ("amx_bf16 amx_tile", False, "bf16"),
    ("", True, "bf16"),                  # a GPU
])
def test_auto_takes_bf16_only_where_the_hardware_computes_it(tmp_path, extra, gpu, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    flags = precision.cpu_flags(path)
    assert "avx512f" in flags and precision.wanted("auto", flags, gpu).precision == expected
    assert precision.wanted("fp32", flags, gpu).why == "set by NEWSSEARCH_EMBED_PRECISION"
    assert precision.cpu_flags(tmp_path / "absent") == frozenset()


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="NEWSSEARCH_EMBED_PRECISION"):
        load_settings({"embed_precision": "fp8"})


class Tiny:
    """A model small enough to convert for real: one linear layer over letter counts."""

    def __init__(self):
        import torch

        torch.manual_seed(0)
        self.layer = torch.nn.Sequential(torch.nn.Linear(26, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8))

    @staticmethod
    def encode(model, texts):
        import torch

        counts = torch.tensor([[text.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for text in texts],
                              dtype=torch.float32)
        first = next(model.parameters())
        out = model(counts.to(first.dtype) if first.is_floating_point() else counts).float().detach().numpy()
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_lower_precision_is_used_only_where_its_probes_agree_with_fp32(monkeypatch):
    tiny = Tiny()
    model, choice = precision.prepare(tiny.layer, "bf16", frozenset(), False, Tiny.encode)
    assert choice.precision == "bf16" and choice.cosine >= precision.MIN_COSINE["bf16"]
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.bfloat16"
    assert str(next(tiny.layer.parameters()).dtype) == "torch.float32"  # the fp32 model is left as it was
    monkeypatch.setitem(precision.MIN_COSINE, "bf16", 1.01)  # a precision whose vectors drift too far
    with pytest.raises(precision.PrecisionRefused, match="set NEWSSEARCH_EMBED_PRECISION=fp32"):
        precision.prepare(tiny.layer, "bf16", frozenset(), False, Tiny.encode)
    model, choice = precision.prepare(tiny.layer, "auto", frozenset({"avx512_bf16"}), False, Tiny.encode)
    assert model is tiny.layer and choice.precision == "fp32" and "under 1.01" in choice.why  # auto keeps fp32


def test_a_change_of_precision_reembeds_only_what_was_computed_less_exactly(tmp_path):
    """bf16 vectors serve a bf16 build; an fp32 build embeds them again; a bf16 build then reuses
    the fp32 ones."""
    settings = load_settings({"data_dir": tmp_path, "model": "test:hashed-words-64"})
    conn = store.connect(settings.db_path)
    for i in range(6):
        store.upsert_article(conn, Article(url=f"https://tin.example.vn/{i}", source="s", title=f"Tin {i}",
                                           body=f"Bài số {i} về bão lũ ở huyện. " * 4))
    embedder = HashedEmbedder()

    def build(precision_name: str, full: bool = True):
        embedder.precision = precision_name
        return build_index(settings, full=full, embedder=embedder)

    first = build("bf16")
    assert first.embedded == first.passages > 0 and first.precision == "6 in bf16"
    assert build("bf16").embedded == 0
    exact = build("fp32")
    assert exact.embedded == first.passages and exact.precision == "6 in fp32"
    assert build("bf16").embedded == 0 and build("int8").embedded == 0
    cache = VectorCache(settings.cache_dir / "vectors.sqlite3", embedder.model_id, embedder.dimension)
    assert {row[0] for row in cache.conn.execute("SELECT precision FROM vectors")} == {"fp32"}
    assert first.peak_rss_mb > 0 and "peak memory" in first.summary()


def test_a_cache_from_before_precisions_counts_its_vectors_as_fp32(tmp_path):
    import sqlite3

    path = tmp_path / "vectors.sqlite3"
    old = sqlite3.connect(path)
    old.execute("""CREATE TABLE vectors (model TEXT NOT NULL, content_hash TEXT NOT NULL, vector BLOB NOT NULL,
                   PRIMARY KEY (model, content_hash)) WITHOUT ROWID""")
    old.execute("INSERT INTO vectors VALUES ('m', 'h', ?)", (np.ones(4, dtype=np.float32).tobytes(),))
    old.commit()
    old.close()
    cache = VectorCache(path, "m", 4, precision.at_least("fp32"))
    assert list(cache.get_many(["h"])) == ["h"]
