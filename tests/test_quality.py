"""The evaluation harness on a tiny evaluation set made here (the real one is not needed)."""
import json

from bench.quality import main, query_metrics

DOCS = [
    ("d1", "Huyện tổ chức hội nghị tổng kết công tác phòng chống thiên tai năm 2020, triển khai nhiệm vụ năm 2021. Các xã rà soát phương án ứng phó bão lũ."),
    ("d2", "Lễ giao nhận quân năm 2021 diễn ra nhanh gọn, an toàn; 168 thanh niên lên đường nhập ngũ."),
    ("d3", "Cử tri nô nức đi bầu cử đại biểu Quốc hội và Hội đồng nhân dân các cấp nhiệm kỳ 2021-2026."),
    ("d4", "Trung tâm Y tế huyện tiêm vắc xin phòng Covid-19 cho người dân thuộc nhóm ưu tiên."),
    ("d5", "Nông dân thu hoạch lúa đông xuân, năng suất bình quân đạt 68 tạ mỗi héc-ta."),
]
QUERIES = [
    ("q1", "title", "phòng chống thiên tai", ["d1"]),
    ("q2", "title_folded", "phong chong thien tai", ["d1"]),
    ("q3", "title", "giao nhận quân", ["d2"]),
    ("q4", "title_folded", "bau cu dai bieu quoc hoi", ["d3"]),
    ("q5", "sapo", "tiêm vắc xin Covid-19 cho người dân", ["d4"]),
    ("q6", "sapo", "thu hoạch lúa đông xuân năng suất cao", ["d5"]),
]


def write_eval_set(folder, queries: list[dict]):
    """An evaluation set in the harness's format: the five DOCS and these queries."""
    folder.mkdir()
    (folder / "docs.jsonl").write_text("\n".join(json.dumps({"id": i, "title": "", "body": b}, ensure_ascii=False)
                                                for i, b in DOCS))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries))
    return folder


def test_metrics():
    assert query_metrics(["a", "b", "c"], {"a"})["mrr@10"] == 1.0
    m = query_metrics(["x", "a"], {"a"})
    assert m["mrr@10"] == 0.5 and m["recall@1"] == 0.0 and m["recall@10"] == 1.0
    assert round(m["ndcg@10"], 4) == round(1 / __import__("math").log2(3), 4)
    assert query_metrics(["x"] * 20, {"a"}) == {"mrr@10": 0.0, "recall@1": 0.0, "recall@10": 0.0,
                                                  "recall@100": 0.0, "ndcg@10": 0.0}


def test_harness_runs_every_mode_and_writes_json(tmp_path, model_dir, monkeypatch, capsys):
    monkeypatch.setenv("NEWSSEARCH_MODEL", str(model_dir))
    eval_dir = write_eval_set(tmp_path / "eval", [{"qid": q, "kind": k, "text": t, "relevant": r}
                                                  for q, k, t, r in QUERIES])
    out = tmp_path / "r.json"
    assert main(["--eval", str(eval_dir), "--json", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["mode"], r["kind"]) for r in rows} == {(m, k) for m in ("lexical", "semantic", "hybrid")
                                                      for k in ("all", "title", "title_folded", "sapo")}
    for r in rows:
        assert set(r) >= {"mode", "kind", "mrr@10", "recall@1", "recall@10", "recall@100", "ndcg@10",
                          "latency_p50_ms", "latency_p99_ms"}
        assert 0 <= r["mrr@10"] <= 1 and r["latency_p50_ms"] > 0
    best = {r["mode"]: r["mrr@10"] for r in rows if r["kind"] == "all"}
    assert best["hybrid"] == 1.0 and best["lexical"] == 1.0  # five distinct topics: every query finds its article
    assert "hybrid" in capsys.readouterr().out


def test_restoration_benchmark_scores_words_and_whole_queries(tmp_path, model_dir, monkeypatch, capsys):
    from bench.restoration import main as restoration

    monkeypatch.setenv("NEWSSEARCH_MODEL", str(model_dir))
    pairs = [("d1", "phòng chống thiên tai", "phong chong thien tai"),
             ("d5", "thu hoạch lúa đông xuân", "thu hoach lua dong xuan"),
             ("d3", "cử tri zzz", "cu tri zzz"),  # "zzz" is in no document: it stays as typed, and that is right
             ("d4", "thiên tài", "thien tai")]  # the archive writes only "thiên tai": one word restored wrong
    queries = [{"qid": f"{d}-{kind}", "kind": kind, "text": text, "relevant": [d]}
               for d, typed, folded in pairs for kind, text in (("short", typed), ("short_folded", folded))]
    # A headline and its folded twin are scored as a kind of their own.
    queries += [{"qid": "d2-title", "kind": "title", "text": "Lễ giao nhận quân năm 2021", "relevant": ["d2"]},
                {"qid": "d2-title_folded", "kind": "title_folded", "text": "le giao nhan quan nam 2021",
                 "relevant": ["d2"]}]
    eval_dir = write_eval_set(tmp_path / "eval", queries)
    out = tmp_path / "r.json"
    assert restoration(["--eval", str(eval_dir), "--cache-dir", str(tmp_path / "cache"), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert sorted(result) == ["short_folded", "title_folded"]
    short = result["short_folded"]
    assert short["queries"] == 4 and short["words"] == 14
    assert short["word_accuracy"] == round(13 / 14, 4) and short["query_accuracy"] == 0.75
    assert result["title_folded"]["words"] == 6 and result["title_folded"]["query_accuracy"] == 1.0
    assert "'thien tai': restored 'thiên tai', typed 'thiên tài'" in capsys.readouterr().out


def test_a_ranking_number_can_be_changed_for_one_run(tmp_path, model_dir, monkeypatch, capsys):
    import pytest

    from bench.quality import eval_arguments
    from service.search import rank

    monkeypatch.setenv("NEWSSEARCH_MODEL", str(model_dir))
    eval_dir = write_eval_set(tmp_path / "eval", [{"qid": q, "kind": k, "text": t, "relevant": r}
                                                  for q, k, t, r in QUERIES])
    out = tmp_path / "r.json"
    assert main(["--eval", str(eval_dir), "--json", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                 "--mode", "lexical", "--set", "lexical_depth=0"]) == 0
    assert rank.DEFAULT.lexical_depth > 0  # the shipped numbers are untouched: the run had its own
    assert {r["mrr@10"] for r in json.loads(out.read_text())["rows"]} == {0.0}  # no lexical list, nothing found
    params = eval_arguments("q", None, ["--eval", "x", "--set", "BOUNDARY=0", "--set", "meaning_z=5"]).params
    assert (params.boundary, params.meaning_z, params.lexical_depth) == (False, 5.0, rank.DEFAULT.lexical_depth)
    for wrong in ("weights=1", "lexical_depth=deep", "nope=1", "for_query=1"):
        with pytest.raises(SystemExit):
            main(["--eval", str(eval_dir), "--set", wrong])
    assert "not a number of RankingParams" in capsys.readouterr().err


def test_set_metrics_read_whole_sets():
    from bench.result_sets import set_metrics

    assert set_metrics({"a", "b", "x", "y"}, {"a", "b", "c", "d"}) == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                                                       "size": 4}
    assert set_metrics(set(), set()) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "size": 0}  # nothing, rightly
    assert set_metrics({"x"}, set())["precision"] == 0.0  # a meaningless query that finds something


def test_the_set_benchmark_counts_every_result_and_the_empty_answers(tmp_path, model_dir, monkeypatch):
    from bench.result_sets import main as result_sets

    monkeypatch.setenv("NEWSSEARCH_MODEL", str(model_dir))
    eval_dir = write_eval_set(tmp_path / "eval", [
        {"qid": "t1", "kind": "topic", "text": "thiên tai", "relevant": ["d1"]},
        {"qid": "t2", "kind": "topic", "text": "vắc xin", "relevant": ["d4"]},
        {"qid": "n1", "kind": "none", "text": "xyzzy qwerty", "relevant": []}])
    out = tmp_path / "sets.json"
    assert result_sets(["--eval", str(eval_dir), "--json", str(out), "--cache-dir", str(tmp_path / "cache"),
                        "--quiet", "--mode", "hybrid"]) == 0
    rows = {r["kind"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["topic"]["f1"] == 1.0 and rows["topic"]["mean_size"] == 1.0
    assert rows["none"]["empty_share"] == 1.0
    assert result_sets(["--eval", str(eval_dir), "--json", str(out), "--cache-dir", str(tmp_path / "cache"),
                        "--quiet", "--mode", "hybrid", "--set", "BOUNDARY=0"]) == 0
    unbounded = {r["kind"]: r for r in json.loads(out.read_text())["rows"]}
    assert unbounded["none"]["empty_share"] == 0.0 and unbounded["topic"]["mean_size"] == 5.0
