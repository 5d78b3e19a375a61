"""The ONNX query encoder must give sentence-transformers' vectors, and stand aside when it cannot."""
import json
import shutil

import numpy as np
import pytest

from fixtures.texts import SENTENCES
from indexer import onnx_query
from indexer.config import load_settings
from indexer.embed import Embedder, ModelMissing


@pytest.fixture(scope="module")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def test_query_vectors_equal_sentence_transformers(model_dir, st_model):
    long_lead = " ".join(SENTENCES * 4)  # well past 512 tokens: both must truncate alike
    texts = [*SENTENCES, long_lead, ""]
    encoder = onnx_query.OnnxQueryEncoder(model_dir, threads=1)
    ours = np.stack([encoder.encode(t) for t in texts])
    reference = st_model.encode(texts, prompt_name="query", normalize_embeddings=True)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= onnx_query.MIN_COSINE, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_service_embedder_never_loads_the_torch_model(model_dir):
    embedder = Embedder(load_settings({"model": str(model_dir), "query_backend": "auto"}))
    vector = embedder.query_future("phòng chống thiên tai 2021").result()
    assert embedder.query_backend == "onnx"
    assert embedder._model is None
    assert vector.shape == (embedder.dimension,) == (384,)


def _copy_with_export(model_dir, target, weights: str):
    """A model directory that links to the real files, with an export note of the given weights."""
    target.mkdir()
    for entry in model_dir.iterdir():
        if entry.name != onnx_query.EXPORT_DIR:
            (target / entry.name).symlink_to(entry)
    export = target / onnx_query.EXPORT_DIR
    export.mkdir()
    (export / onnx_query.GRAPH_FILE).symlink_to(model_dir / onnx_query.EXPORT_DIR / onnx_query.GRAPH_FILE)
    meta = json.loads((model_dir / onnx_query.EXPORT_DIR / onnx_query.META_FILE).read_text())
    (export / onnx_query.META_FILE).write_text(json.dumps({**meta, "weights": weights}))
    return target


def test_stale_export_is_not_used(model_dir, tmp_path):
    stale = _copy_with_export(model_dir, tmp_path / "model", weights="0" * 64)
    assert "older than the model's weights" in onnx_query.unusable_reason(stale)
    with pytest.raises(ModelMissing, match="older"):
        Embedder(load_settings({"model": str(stale), "query_backend": "onnx"}))
    fallback = Embedder(load_settings({"model": str(stale), "query_backend": "auto"}))
    assert fallback.query_backend == "torch"
    current = onnx_query.OnnxQueryEncoder(model_dir, threads=1).encode("Ban CHQS huyện")
    assert float(fallback.encode_query("Ban CHQS huyện") @ current) >= onnx_query.MIN_COSINE


def test_missing_export_is_reported(model_dir, tmp_path):
    bare = _copy_with_export(model_dir, tmp_path / "model", weights="")
    shutil.rmtree(bare / onnx_query.EXPORT_DIR)
    assert "no ONNX export" in onnx_query.unusable_reason(bare)
    assert Embedder(load_settings({"model": str(bare), "query_backend": "torch"})).onnx is None


def test_only_transformer_pooling_normalize_exports(st_model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    assert onnx_query.pooling_mode(st_model) == "mean"
    unnormalised = SentenceTransformer(modules=[st_model[0], st_model[1]], device="cpu")
    with pytest.raises(onnx_query.NotExportable, match="Transformer → Pooling"):
        onnx_query.pooling_mode(unnormalised)
    max_pooled = SentenceTransformer(modules=[st_model[0], Pooling(384, pooling_mode="max"), Normalize()], device="cpu")
    with pytest.raises(onnx_query.NotExportable, match="max"):
        onnx_query.pooling_mode(max_pooled)


def test_query_backend_setting_is_checked():
    with pytest.raises(ValueError, match="NEWSSEARCH_QUERY_BACKEND"):
        load_settings({"query_backend": "gpu"})


def test_model_command_re_exports_a_stale_export(model_dir, tmp_path, monkeypatch, capsys):
    from indexer.__main__ import main

    stale = _copy_with_export(model_dir, tmp_path / "model", weights="0" * 64)
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSSEARCH_MODEL", str(stale))
    assert main(["model"]) == 0
    assert "queries through ONNX Runtime" in capsys.readouterr().out
    assert onnx_query.unusable_reason(stale) is None
    graph = stale / onnx_query.EXPORT_DIR / onnx_query.GRAPH_FILE
    assert graph.is_file() and not graph.is_symlink()
    meta = json.loads((stale / onnx_query.EXPORT_DIR / onnx_query.META_FILE).read_text())
    assert meta["checked_cosine"] >= onnx_query.MIN_COSINE
    assert not list(stale.glob(".onnx-export-*"))  # no staging left behind
