"""The lexical index of a version: patched exactly as built, its statistics its own."""
from indexer import models, store
from indexer.config import load_settings
from indexer.pipeline import build_index
from indexer.store import migrations
from indexer.version import layout, lexical, lexical_writer
from service.search import Query, SearchEngine

STORIES = [("Bão số 9 đổ bộ", "Bão số 9 gây lũ lớn ở các huyện ven biển, hàng trăm ngôi nhà bị tốc mái."),
           ("Phòng chống thiên tai năm 2021", "Huyện tổng kết công tác phòng chống thiên tai và tìm kiếm cứu nạn."),
           ("Hội nghị quân sự", "Ban Chỉ huy Quân sự huyện tổng kết công tác quân sự, quốc phòng năm 2021."),
           ("Bầu cử đại biểu HĐND", "Cử tri xã Sơn Thủy đi bầu cử đại biểu Hội đồng nhân dân các cấp."),
           ("Lũ quét ở xã vùng cao", "Lũ quét làm sạt lở đường giao thông, huyện huy động lực lượng khắc phục."),
           ("Thu hoạch lúa", "Nông dân thu hoạch lúa vụ đông xuân, năng suất đạt cao.")]
QUERIES = ["bão lũ", "bao lu huyen", "phòng chống thiên tai", "\"quân sự\" huyện", "UBND", "cử tri"]


def answers(engine):
    return {(q, mode): [(h.id, h.score) for h in engine.search(Query(q, mode=mode, per_page=20)).hits]
            for q in QUERIES for mode in ("lexical", "hybrid")}


def test_a_patched_version_ranks_exactly_as_a_full_build(tmp_path, fake_embedder):
    """One delete and one update (the segments holding them rewritten), then an addition."""
    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id})
    conn = store.connect(settings.db_path)
    for i, (title, body) in enumerate(STORIES[:5]):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=title, body=body))
    build_index(settings, embedder=fake_embedder)
    store.delete_article(conn, 1)
    store.upsert_article(conn, models.Article(url="https://u.example.vn/5", source="s", title=STORIES[5][0], body=STORIES[5][1]))
    store.upsert_article(conn, models.Article(url="https://u.example.vn/2", source="s", title=STORIES[2][0], body=STORIES[2][1] + " Bão lũ."))
    patched = build_index(settings, embedder=fake_embedder)
    assert patched.method.startswith("patched") and patched.removed == 2
    assert lexical_entry(settings, patched)["built"] == "patched"
    engine = SearchEngine(settings, embedder=fake_embedder)
    after_patch = answers(engine)
    assert any(after_patch.values())
    assert build_index(settings, full=True, embedder=fake_embedder).method == "full (--full)"
    assert answers(engine) == after_patch
    assert 1 not in {aid for hits in after_patch.values() for aid, _ in hits}
    store.upsert_article(conn, models.Article(url="https://u.example.vn/6", source="s", title="Bão lũ cuối năm", body="Bão và lũ cuối năm ở huyện."))
    added = build_index(settings, embedder=fake_embedder)
    assert lexical_entry(settings, added)["built"] == "patched"
    after_add = answers(engine)
    assert 7 in {aid for hits in after_add.values() for aid, _ in hits}
    build_index(settings, full=True, embedder=fake_embedder)
    assert answers(engine) == after_add


def lexical_entry(settings, report) -> dict:
    return layout.read_manifest(layout.versions_dir(settings.index_root) / report.version)["lexical"]


def test_a_removal_rewrites_only_the_segments_holding_it(tmp_path, fake_embedder, monkeypatch):
    """A correction to the newest article indexes again only its own segment; a removal from the
    first build rewrites that build's segments and leaves the previous version as it was."""
    monkeypatch.setattr(lexical_writer, "WRITER_THREADS", 1)  # a segment per index and build
    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id})
    conn = store.connect(settings.db_path)
    for i, (title, body) in enumerate(STORIES[:5]):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=title, body=body))
    build_index(settings, embedder=fake_embedder)
    store.upsert_article(conn, models.Article(url="https://u.example.vn/5", source="s", title=STORIES[5][0], body=STORIES[5][1]))
    build_index(settings, embedder=fake_embedder)  # the new article: a segment of its own in each index
    store.upsert_article(conn, models.Article(url="https://u.example.vn/5", source="s", title=STORIES[5][0],
                                              body=STORIES[5][1] + " Bão lũ làm hỏng lúa."))
    corrected = build_index(settings, embedder=fake_embedder)
    assert corrected.removed == 1
    entry = lexical_entry(settings, corrected)
    assert (entry["built"], entry["segments_rewritten"], entry["documents_rewritten"]) == ("patched", 2, 0)
    assert "lexical patched (2 segments rewritten, 0 documents indexed again)" in corrected.summary()
    engine = SearchEngine(settings, embedder=fake_embedder)
    after_correction = answers(engine)
    previous = layout.versions_dir(settings.index_root) / corrected.version
    files = {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in previous.rglob("*")}
    store.delete_article(conn, 1)
    removed = build_index(settings, embedder=fake_embedder)
    entry = lexical_entry(settings, removed)
    assert (entry["segments_rewritten"], entry["documents_rewritten"]) == (2, 8)  # 4 passages, 4 articles
    assert {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in previous.rglob("*")} == files
    assert lexical.LexicalIndex.open(previous).passage_count == 6  # the version served before, intact
    after_removal = answers(engine)
    assert after_removal != after_correction
    build_index(settings, full=True, embedder=fake_embedder)
    assert answers(engine) == after_removal


def test_stored_but_unpublished_articles_change_nothing_served(tmp_path, fake_embedder):
    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id})
    conn = store.connect(settings.db_path)
    for i, (title, body) in enumerate(STORIES):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=title, body=body))
    build_index(settings, embedder=fake_embedder)
    engine = SearchEngine(settings, embedder=fake_embedder)
    before = answers(engine)
    assert engine.sources() == [{"source": "s", "title": "s", "articles": 6, "first": None, "last": None}]
    for i in range(30):  # common words made far more common, and new matches, none published yet
        store.upsert_article(conn, models.Article(url=f"https://new.example.vn/{i}", source="moi", title="Bão lũ huyện",
                                                  body="Bão lũ ở huyện, cử tri bầu cử, quân sự huyện. " * 3))
    assert answers(engine) == before
    assert [s["source"] for s in engine.sources()] == ["s"]  # the sources a filter can select: the served ones
    build_index(settings, embedder=fake_embedder)
    assert {s["source"]: s["articles"] for s in engine.sources()} == {"moi": 30, "s": 6}


def test_the_vocabulary_follows_every_store_and_delete(tmp_path):
    conn = store.connect(tmp_path / "a.sqlite3")
    for i, (title, body) in enumerate(STORIES):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=title, body=body))
    store.upsert_article(conn, models.Article(url="https://u.example.vn/0", source="s", title="Bão số 10", body="Bão số 10 suy yếu."))
    store.delete_article(conn, 2)

    def vocabulary():
        return [sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in ("vocab_unigrams", "vocab_bigrams")]

    kept = vocabulary()
    with conn:
        migrations.STEPS["recount_vocabulary_with_capitals"](conn)
    assert vocabulary() == kept and ("bao", "bão", 2, 0) in kept[0]  # (folded, form, count, capitalised)


def test_what_each_article_holds_of_each_group_in_one_query(tmp_path, fake_embedder):
    """Words, word pairs and phrases counted per group from one summed score, the same as a query
    per group; a group too large for float32's exact integers is asked on its own."""
    settings = load_settings({"data_dir": tmp_path, "model": fake_embedder.model_id})
    conn = store.connect(settings.db_path)
    for i, (title, body) in enumerate(STORIES):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{i}", source="s", title=title, body=body))
    build_index(settings, embedder=fake_embedder)
    index = SearchEngine(settings, embedder=fake_embedder).index.get().lexical
    ids = range(1, len(STORIES) + 1)
    groups = [[("bao",), ("lu",), ("huyen",)], [("bao", "so"), ("lu", "quet")], [("tong", "ket", "cong", "tac")]]
    held = index.held(ids, groups)
    # 1: bão, lũ, huyện, "bão số"; 2: huyện, "tổng kết công tác"; 3: huyện, "tổng kết công tác";
    # 5: lũ, huyện, "lũ quét"; 4 and 6 hold none of them
    assert held.counts == {1: (3, 1, 0), 2: (1, 0, 1), 3: (1, 0, 1), 5: (2, 1, 0)}
    assert held.of(1) == {1: 1, 5: 1} and held.of(2) == {2: 1, 3: 1}
    words = index.word_texts_at(held, [1, 5, 6])
    assert set(words) == {1, 5} and " lu quet " in words[5]
    padding = [(f"khong{i}",) for i in range(300)]  # 301 × 301 × 201 options: past 2**24
    large = index.held(ids, [groups[0] + padding, groups[1] + padding, groups[2] + padding[:200]])
    assert large.counts == held.counts
