"""The benchmark helpers that shape what is measured: samples, archive copies, stage timers."""
from __future__ import annotations

import time
import types

from bench import indexing, peers, query_scale
from indexer import models, store
from service.search import SearchEngine


def test_sample_keeps_only_queries_answered_inside_it():
    docs = [{"id": i, "body": "x"} for i in range(50)]
    queries = [{"qid": i, "relevant": [i]} for i in range(50)] + [{"qid": "both", "relevant": [1, 2]}]
    kept, answered = peers.sample_set(docs, queries, 10, seed=3)
    ids = {d["id"] for d in kept}
    assert len(kept) == 10
    assert [q["qid"] for q in answered] == [q["qid"] for q in queries if set(q["relevant"]) <= ids]
    assert peers.sample_set(docs, queries, 10, seed=3) == (kept, answered)  # seeded


def test_archive_copies_are_searchable_like_the_originals(tmp_path, fake_embedder):
    from indexer.config import load_settings
    from indexer.models import WordQuery
    from indexer.pipeline import build_index

    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id})
    conn = store.connect(settings.db_path)
    for i, body in enumerate(["Bão số 9 gây thiệt hại ở huyện ven biển.", "Hội nghị tổng kết công tác quân sự."]):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=f"Tin {i}", body=body))
    before = store.count_rows(conn)
    count = dict(conn.execute("SELECT form, count FROM vocab_unigrams WHERE folded = 'bao'").fetchall())["bão"]
    query_scale.copy_archive(conn, 2)
    after = store.count_rows(conn)
    assert after == {k: 3 * v for k, v in before.items()}
    assert dict(conn.execute("SELECT form, count FROM vocab_unigrams WHERE folded = 'bao'").fetchall())["bão"] \
        == 3 * count
    assert conn.execute("SELECT count(DISTINCT url) FROM articles").fetchone()[0] == after["articles"]
    assert conn.execute("SELECT count(DISTINCT content_hash) FROM passages").fetchone()[0] == after["passages"]
    build_index(settings, embedder=fake_embedder)
    lexical = SearchEngine(settings, embedder=fake_embedder).index.get().lexical
    found = lexical.passages(WordQuery((("thiet", "hai"),)), models.Filters(), 10)
    assert len({aid for _, aid, _ in found}) == 3
    assert len(lexical.passages(WordQuery((("thiệt", "hại"),)), models.Filters(), 10, exact=True)) == 3
    assert len(lexical.articles(WordQuery((("quan", "su"),)), models.Filters(), 10)) == 3


def test_stage_timer_adds_time_and_puts_the_function_back():
    owner = types.SimpleNamespace(work=lambda seconds: time.sleep(seconds) or "done")
    original = owner.work
    totals = {"work": 0.0}
    with indexing.timed(owner, "work", totals, "work"):
        assert owner.work(0.01) == "done"
        assert owner.work(0.01) == "done"
    assert totals["work"] >= 0.02
    assert owner.work is original


def test_duplicates_benchmark_finds_the_copies_and_counts_them(tmp_path):
    import json

    from bench import duplicates as bench_duplicates
    from fixtures.texts import OTHER, STORY

    items = [{"id": "1", "title": "a", "sapo": "", "body": STORY},
             {"id": "2", "title": "b", "sapo": "", "body": STORY + " Theo Cổng thông tin huyện."},
             {"id": "3", "title": "c", "sapo": "", "body": "Tin, ảnh: PV. " + STORY},
             {"id": "4", "title": "d", "sapo": "", "body": OTHER},
             {"id": "5", "title": "e", "sapo": "", "body": OTHER + " Một đoạn khác hẳn được thêm vào cuối bài, "
              "kể về việc xã tổ chức lễ hội mùa xuân, hội thi nấu cơm, kéo co, đánh cờ tướng và văn nghệ."}]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in items))
    result = bench_duplicates.run(corpus, sample=5)
    assert (result["groups"], result["articles_in_groups"], result["group_sizes"]) == (1, 3, {3: 1})
    pairs = result["pairs"]
    assert (pairs["pairs_at_threshold"], pairs["recall"], pairs["false_merges_under_0.5"]) == (3, 1.0, 0)
    assert result["sample"]["recall"] == 1.0 and "added" in result["sample"]


def test_hnsw_recall_benchmark_measures_a_served_hnsw_version(tmp_path):
    import numpy as np
    import pytest

    from bench import hnsw_recall
    from fixtures.versions import publish, unit_vectors

    publish(tmp_path / "index", unit_vectors(500, d=16), np.arange(1000, 1500), factory="HNSW16,Flat")
    rows = hnsw_recall.run(tmp_path, [8, 64], count=20, rounds=2)
    assert [(r["efSearch"], r["round"]) for r in rows] == [(8, 0), (8, 1), (64, 0), (64, 1)]
    assert all(0 < r["recall_at_10"] <= 1 and r["vectors"] == 500 for r in rows)
    assert rows[-1]["recall_at_10"] >= 0.9  # wide enough a search finds nearly all of 500 vectors
    publish(tmp_path / "flat" / "index", unit_vectors(50, d=16), np.arange(50))
    with pytest.raises(SystemExit, match="not HNSW"):
        hnsw_recall.run(tmp_path / "flat", [8], count=5, rounds=1)


def test_the_short_query_bench_fuses_again_exactly_as_the_engine_does(engine):
    """bench.short_queries re-scores with other weights through rank.fuse: with the shipped ones it
    must give the engine's own order, or its figures would measure a different ranking."""
    from dataclasses import replace

    from bench.short_queries import _refused, candidate_features
    from service.search import rank

    class Same(dict):  # the demo's documents are its articles
        def __missing__(self, aid):
            return str(aid)

    compared = 0
    for text in ("phòng chống thiên tai 2021", "nông thôn mới", "hội nghị tổng kết công tác quân sự năm 2021", "bau cu"):
        features = candidate_features(engine, {"text": text, "kind": "short", "relevant": ["1"]}, Same())
        assert len(features["fusion"]["order"]) > 1
        shipped = rank.DEFAULT.for_query(engine.parse(text), "hybrid")
        assert _refused(features, shipped) == features["fusion"]["order"], text
        other = _refused(features, replace(shipped, weights={**shipped.weights, "dense": 0.0, "article": 1.0}))
        compared += other != features["fusion"]["order"]
    assert compared  # other weights do change the order: the comparison can fail


def test_leave_one_site_out_scores_each_site_with_constants_chosen_on_the_others(tmp_path):
    """Three sites whose article container also holds a list of short links: trafilatura finds the
    article alone, so for each site the other two choose the clutter ratio that lets the container
    yield to it, and the held-out score is that of the ratio shipped (which does the same)."""
    import gzip
    import json

    from bench import extraction

    story = [f"Đoạn {n} của bài viết nói về việc chuẩn bị vật tư, phương tiện và lực lượng tại chỗ, kiểm tra "
             f"đê điều và các hồ chứa trước mùa mưa bão năm nay ở xã thứ {n}." for n in range(1, 7)]
    links = "".join(f'<p><a href="/thong-bao-{n}">Thông báo tháng {n}</a></p>' for n in range(1, 25))
    truth = {}
    (tmp_path / "html").mkdir()
    for host in ("a.example.org", "b.example.org", "c.example.org"):
        html = ("<html><head><title>Hội nghị phòng chống thiên tai</title></head><body><h1>Hội nghị phòng chống "
                "thiên tai</h1><div class='detail-content'>" + "".join(f"<p>{p}</p>" for p in story) + links
                + "</div></body></html>")
        (tmp_path / "html" / f"{host}.html.gz").write_bytes(gzip.compress(html.encode()))
        truth[host] = {"url": f"https://{host}/bai-1", "articleBody": "\n".join(story)}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth, ensure_ascii=False))
    result = extraction.leave_one_site_out(tmp_path, {"CLUTTERED_CONTAINER": [100.0, 1.3]})
    assert (result["sites"], result["pages"]) == (3, 3)
    assert result["chosen"] == {json.dumps({"CLUTTERED_CONTAINER": 1.3}): 3}
    with extraction._constants({"CLUTTERED_CONTAINER": 100.0}):
        cluttered = extraction.scores(extraction.evaluate(tmp_path, "ours")["per_page"])
    assert result["held_out"]["precision"] == 1.0 > cluttered["precision"]
    assert result["shipped"] == {"CLUTTERED_CONTAINER": 1.3, **result["held_out"]}
