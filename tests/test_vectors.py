import json
import shutil
from functools import partial

import numpy as np
import pytest

from fixtures.versions import publish, unit_vectors
from indexer import models, store
from indexer.version import layout, lexical, reader, writer


def load_current(root, model, dimension):
    name = layout.current_version(root)
    if not name:
        raise layout.IndexUnavailable("no published index")
    return reader.load_version(root, name, model, dimension)



def test_publish_and_load_current(tmp_path):
    vecs, ids = unit_vectors(50), np.arange(100, 150)
    version = publish(tmp_path, vecs, ids)
    loaded = load_current(tmp_path, "m", 8)
    assert loaded.version == version.name and loaded.manifest.count == 50
    assert loaded.search(vecs[7], 1)[0][0] == 107  # ID-mapped
    assert np.allclose(loaded.reconstruct(107), vecs[7])


@pytest.mark.parametrize("factory", ["HNSW16,Flat", "IVF4,Flat", "IVF4,PQ4"])
def test_other_index_types_train_and_search(tmp_path, factory):
    vecs, ids = unit_vectors(400), np.arange(400)
    publish(tmp_path, vecs, ids, factory=factory)
    loaded = load_current(tmp_path, "m", 8)
    assert loaded.held == 400 and loaded.search(vecs[3], 5)


def test_refuses_other_model_or_dimension(tmp_path):
    publish(tmp_path, unit_vectors(10), np.arange(10), model="other-model")
    with pytest.raises(layout.IndexUnavailable, match="other-model"):
        load_current(tmp_path, "m", 8)
    with pytest.raises(layout.IndexUnavailable, match="dimension"):
        load_current(tmp_path, "other-model", 384)


def test_truncated_index_file_is_refused(tmp_path):
    version = publish(tmp_path, unit_vectors(10), np.arange(10))
    path = layout.segment_files(version)[-1]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(layout.IndexUnavailable, match="corrupt or truncated"):
        load_current(tmp_path, "m", 8)


def test_no_index_published(tmp_path):
    assert layout.current_version(tmp_path) is None


def test_prune_keeps_newest_and_current(tmp_path):
    names = [publish(tmp_path, unit_vectors(5, seed=i), np.arange(5)).name for i in range(5)]
    writer.publish(tmp_path, layout.versions_dir(tmp_path) / names[0])  # roll back to the oldest
    removed = writer.prune(tmp_path, keep=2)
    left = sorted(p.name for p in layout.versions_dir(tmp_path).iterdir())
    assert left == sorted([names[0], names[3], names[4]]) and set(removed) == set(names[1:3])


def test_search_parameters_apply_where_the_index_type_has_them(tmp_path):
    import faiss

    vecs = unit_vectors(400)
    ivf = writer.make_index(vecs, np.arange(400), "IVF8,Flat")
    assert reader.apply_search_params(ivf, "nprobe=4,efSearch=64") == ["nprobe=4"]
    assert faiss.extract_index_ivf(ivf).nprobe == 4
    hnsw = writer.make_index(vecs, np.arange(400), "HNSW16,Flat")
    assert reader.apply_search_params(hnsw, "nprobe=4,efSearch=64") == ["efSearch=64"]
    assert reader.apply_search_params(writer.make_index(vecs, np.arange(400), "Flat"), "nprobe=4") == []


def test_a_version_whose_lexical_index_disagrees_with_faiss_is_refused(tmp_path):
    version = publish(tmp_path, unit_vectors(10), np.arange(10))
    manifest = layout.read_manifest(version)
    (version / layout.MANIFEST_FILE).write_text(json.dumps({**manifest, "lexical": {**manifest["lexical"], "articles": 9}}))
    with pytest.raises(layout.IndexUnavailable, match="lexical index holds 10 passages and 10 articles"):
        reader.load_version(tmp_path, version.name, "m", 8, check_hash=False)
    shutil.rmtree(version / lexical.LEXICAL_DIR)
    (version / layout.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(layout.IndexUnavailable, match=r"lexical/.* is missing"):
        reader.load_version(tmp_path, version.name, "m", 8)
    (version / layout.MANIFEST_FILE).write_text(json.dumps({k: v for k, v in manifest.items() if k != "layout"}))
    with pytest.raises(layout.IndexUnavailable, match="run `python -m indexer build` once to upgrade"):
        reader.load_version(tmp_path, version.name, "m", 8)


def test_an_index_that_cannot_remove_vectors_skips_removed_passages(tmp_path, fake_embedder):
    """A segment keeps a removed passage's vector (searches skip it; HNSW could not remove it
    anyway) until removed vectors pass a share of it: then it is written again without them."""
    from indexer.config import load_settings
    from indexer.pipeline import build_index
    from indexer.version.writer import REMOVED_SHARE_MAX
    from service.search import Query, SearchEngine

    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id, "index_factory": "HNSW16"})
    conn = store.connect(settings.db_path)
    for i in range(40):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=f"Tin số {i}",
                                                  body=f"Xã {i} họp dân bàn việc làm đường, bài số {i}."))
    build_index(settings, embedder=fake_embedder)
    gone = store.article_passage_ids(conn, 3)
    vector = load_current(settings.index_root, fake_embedder.model_id, 64).reconstruct(gone[0])
    store.delete_article(conn, 3)
    patched = build_index(settings, embedder=fake_embedder)
    assert patched.method.startswith("patched") and patched.removed == len(gone)
    loaded = load_current(settings.index_root, fake_embedder.model_id, 64)
    assert loaded.removed.tolist() == gone and loaded.held == 40 and loaded.count == 39
    assert loaded.manifest.count == loaded.lexical.passage_count == 39
    assert gone[0] not in loaded.ids() and loaded.reconstruct(gone[0]) is None
    assert gone[0] not in [pid for pid, _ in loaded.search(vector, 40)] and len(loaded.search(vector, 40)) == 39
    engine = SearchEngine(settings, embedder=fake_embedder)
    assert 3 not in [h.id for h in engine.search(Query("Tin số 3 bài số 3", mode="semantic")).hits]
    for article_id in range(4, 4 + int(REMOVED_SHARE_MAX * 40)):  # past the share: written again
        store.delete_article(conn, article_id)
    compacted = build_index(settings, embedder=fake_embedder)
    assert compacted.method.startswith("patched") and compacted.removed == 4
    loaded = load_current(settings.index_root, fake_embedder.model_id, 64)
    assert len(loaded.removed) == 0 and loaded.held == loaded.count == 35 and len(loaded.segments) == 1


def test_cached_embeddings_read_the_cache_by_slices_and_embed_each_missing_text_once(tmp_path, fake_embedder):
    from indexer.embed import VectorCache, cached_embeddings, embed_in_chunks

    texts = ["bão lũ", "cử tri", "bão lũ", "thu hoạch lúa", "cử tri", "giao quân"]
    hashes = [f"h:{t}" for t in texts]
    cache = VectorCache(tmp_path / "vectors.sqlite3", fake_embedder.model_id, fake_embedder.dimension)
    cache.put_many(["h:cử tri"], fake_embedder.encode_passages(["cử tri"]))
    asked = []

    def text_of(position):
        asked.append(position)
        return texts[position]

    local = partial(embed_in_chunks, fake_embedder)
    first = cached_embeddings(local, cache, hashes, text_of, cache_slice=4)
    assert first.embedded == 3 and sorted(asked) == [0, 3, 5]  # each missing text once; the cached one never
    assert np.allclose(first.vectors, fake_embedder.encode_passages(texts))
    again = cached_embeddings(lambda *_: pytest.fail("nothing to embed"), cache, hashes, text_of, cache_slice=4)
    assert again.embedded == 0 and np.array_equal(again.vectors, first.vectors)


def test_a_backend_that_sends_a_vector_twice_is_cached_once_and_one_that_leaves_a_passage_out_fails(
        tmp_path, fake_embedder):
    """The contract a distributed backend (Ray retries) is held to: out of order and repeated
    batches are fine, a missing vector is not (it would publish a zero vector)."""
    from indexer.embed import VectorCache, cached_embeddings

    texts = ["bão lũ", "cử tri", "thu hoạch lúa", "giao quân"]
    hashes = [f"h:{t}" for t in texts]
    written = []
    cache = VectorCache(tmp_path / "vectors.sqlite3", fake_embedder.model_id, fake_embedder.dimension)
    put_many = cache.put_many
    cache.put_many = lambda part, vectors, computed_in: (written.extend(part), put_many(part, vectors, computed_in))

    def repeating(missing, text_of):
        for part in (missing[2:], missing[:3], missing[1:2]):  # reversed, overlapping, repeated
            yield part, fake_embedder.encode_passages([text_of(h) for h in part]), "fp32"

    result = cached_embeddings(repeating, cache, hashes, texts.__getitem__)
    assert result.embedded == 4 and result.duplicates == 2 and sorted(written) == sorted(hashes)
    assert np.allclose(result.vectors, fake_embedder.encode_passages(texts))

    other = VectorCache(tmp_path / "other.sqlite3", fake_embedder.model_id, fake_embedder.dimension)

    def losing(missing, text_of):
        yield missing[:3], fake_embedder.encode_passages([text_of(h) for h in missing[:3]]), "fp32"

    with pytest.raises(RuntimeError, match="no vector for 1 of 4 passages"):
        cached_embeddings(losing, other, hashes, texts.__getitem__)
    assert len(other.get_many(hashes)) == 3  # what came back stays cached for the next run
