"""Near-duplicate groups: found when an article is stored, kept current by updates and deletes,
collapsed in results with their copies listed."""
import pytest

from fixtures.texts import OTHER, STORY
from indexer import duplicates, models, store
from indexer.store import migrations
from indexer.version.reader import ArticleSummary


def groups_of(conn, article_ids):
    """The archive's group of each of these articles that has copies."""
    recorded = store.group_snapshot(conn)
    return {aid: recorded[aid] for aid in article_ids if aid in recorded}


def article(url, source, body, title="Hội nghị tổng kết", published_at=None):
    """An article; a short name for its address ("a") becomes a page of a made-up site."""
    url = url if "://" in url else f"https://tin.example.vn/{url}"
    return models.Article(url=url, source=source, title=title, body=body, published_at=published_at)


def test_shingles_jaccard_and_collapse():
    assert duplicates.shingles("", "Một hai ba bốn năm sáu") == {"mot hai ba bon nam", "hai ba bon nam sau"}
    copy = duplicates.shingles("", STORY + " Theo huyện Minh Sơn.")
    assert duplicates.jaccard(duplicates.shingles("", STORY), copy) >= duplicates.JACCARD_MIN
    assert duplicates.jaccard(duplicates.shingles("", STORY), duplicates.shingles("", OTHER)) == 0.0
    assert duplicates.collapse([5, 2, 9, 3, 7], {2: 2, 3: 2, 7: 9, 9: 9}) == [5, 2, 9]


@pytest.fixture()
def conn(tmp_path):
    return store.connect(tmp_path / "archive.sqlite3")


def test_copies_are_grouped_when_stored_and_regrouped_by_updates_and_deletes(conn):
    first, _ = store.upsert_article(conn, article("https://huyen.example.vn/1", "minhson.gov.vn", STORY, published_at="2021-12-23T08:00:00+07:00"))
    other, _ = store.upsert_article(conn, article("https://bao.example.vn/9", "baotinh.vn", OTHER))
    second, _ = store.upsert_article(conn, article("https://tinh.example.vn/1", "tinh.gov.vn", STORY + " Theo Cổng thông tin huyện.",
                                                  published_at="2021-12-24T08:00:00+07:00"))
    third, _ = store.upsert_article(conn, article("https://bao.example.vn/1", "baotinh.vn", "Tin, ảnh: PV. " + STORY,
                                                 published_at="2021-12-25T08:00:00+07:00"))
    assert groups_of(conn, [first, other, second, third]) == {first: first, second: first, third: first}
    def summaries(ids):
        return {r["id"]: ArticleSummary.of(dict(r), {}) for r in conn.execute(
            f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)}

    listed = duplicates.copies(summaries, [second],
                               duplicates.Groups.from_snapshot(store.group_snapshot(conn)))[second]
    assert [c.id for c in listed] == [first, third]  # oldest first, itself left out
    assert listed[0].source == listed[0].source_title == "minhson.gov.vn"
    store.delete_article(conn, first)  # the group is renamed after its smallest remaining id
    assert groups_of(conn, [second, third]) == {second: second, third: second}
    store.upsert_article(conn, article("https://bao.example.vn/1", "baotinh.vn", OTHER + " Cập nhật."))  # now a copy of the other story
    assert groups_of(conn, [other, second, third]) == {other: other, third: other}


def test_copies_of_copies_are_one_group_and_short_texts_are_never_grouped(conn):
    a, _ = store.upsert_article(conn, article("a", "a", STORY))
    b, _ = store.upsert_article(conn, article("b", "b", STORY + " Thêm một câu cuối bài."))
    c, _ = store.upsert_article(conn, article("c", "c", STORY + " Thêm một câu cuối bài. Và một câu nữa ở đây."))
    assert len(set(groups_of(conn, [a, b, c]).values())) == 1
    store.delete_article(conn, b)  # a and c are still near each other
    assert groups_of(conn, [a, c]) == {a: a, c: a}
    notice = "Thông báo lịch tiếp công dân."
    x, _ = store.upsert_article(conn, article("x", "x", notice))
    y, _ = store.upsert_article(conn, article("y", "y", notice))
    assert groups_of(conn, [x, y]) == {}


def test_an_archive_from_before_groups_is_grouped_by_its_migration(conn):
    first, _ = store.upsert_article(conn, article("https://u.example.vn/1", "a", STORY))
    second, _ = store.upsert_article(conn, article("https://u.example.vn/2", "b", STORY))
    conn.execute("DELETE FROM article_groups")
    conn.execute("DELETE FROM duplicate_pairs")
    conn.execute("DELETE FROM article_bands")
    migrations.STEPS["find_near_duplicates"](conn)
    assert groups_of(conn, [first, second]) == {first: first, second: first}


def test_results_show_one_copy_with_the_others_listed_unless_asked_for_all(make_archive):
    from service.search import Query

    engine = make_archive([article("https://huyen.example.vn/1", "minhson.gov.vn", STORY, "Hội nghị tổng kết quân sự năm 2021"),
                           article("https://tinh.example.vn/1", "tinh.gov.vn", STORY + " Theo Cổng thông tin huyện.", "Tổng kết quân sự"),
                           article("https://bao.example.vn/9", "baotinh.vn", OTHER, "Thu hoạch lúa")])
    for mode in ("hybrid", "lexical", "semantic"):
        collapsed = engine.search(Query("hội nghị tổng kết quân sự 2021", mode=mode))
        shown = [h.id for h in collapsed.hits]
        assert len({1, 2} & set(shown)) == 1, mode
        best = next(h for h in collapsed.hits if h.id in (1, 2))
        assert [c.id for c in best.copies] == [({1, 2} - {best.id}).pop()]
        every = engine.search(Query("hội nghị tổng kết quân sự 2021", mode=mode, collapse=False))
        assert {1, 2} <= {h.id for h in every.hits} and every.total == collapsed.total + 1
    assert engine.copies(3) == [] and [c.source for c in engine.copies(2)] == ["minhson.gov.vn"]


def test_the_api_and_pages_collapse_and_list_copies(make_archive, fake_embedder):
    from service import create_app

    engine = make_archive([article("https://huyen.example.vn/1", "minhson.gov.vn", STORY, "Hội nghị tổng kết quân sự năm 2021"),
                           article("https://tinh.example.vn/1", "tinh.gov.vn", STORY + " Theo Cổng thông tin huyện.", "Tổng kết quân sự"),
                           article("https://bao.example.vn/9", "baotinh.vn", OTHER, "Thu hoạch lúa")])
    client = create_app(engine.settings, embedder=fake_embedder).test_client()
    collapsed = client.get("/api/search?q=tổng kết quân sự").get_json()
    assert [len(h["copies"]) for h in collapsed["results"] if h["id"] in (1, 2)] == [1]
    every = client.get("/api/search?q=tổng kết quân sự&collapse=false").get_json()
    assert {1, 2} <= {h["id"] for h in every["results"]} and every["total"] == collapsed["total"] + 1
    bad = client.get("/api/search?q=tổng kết&collapse=maybe")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "collapse"
    assert [c["url"] for c in client.get("/api/articles/2").get_json()["copies"]] == ["https://huyen.example.vn/1"]
    assert client.get("/api/articles/3").get_json()["copies"] == []
    page = client.get("/?q=tổng kết quân sự").get_data(as_text=True)
    assert "Cũng đăng trên:" in page and 'name="collapse" value="false" >' in page
    assert 'value="false" checked' in client.get("/?q=tổng kết quân sự&collapse=false").get_data(as_text=True)
    assert "Bài này cũng được đăng trên" in client.get("/articles/1").get_data(as_text=True)


def test_a_copy_stored_but_not_yet_published_is_not_listed(make_archive):
    from service.search import Query

    engine = make_archive([article("https://huyen.example.vn/1", "minhson.gov.vn", STORY, "Hội nghị tổng kết quân sự năm 2021"),
                           article("https://bao.example.vn/9", "baotinh.vn", OTHER, "Thu hoạch lúa")])
    conn = store.connect(engine.settings.db_path)
    store.upsert_article(conn, article("https://tinh.example.vn/1", "tinh.gov.vn", STORY, "Tổng kết quân sự"))
    assert groups_of(conn, [1, 3]) == {1: 1, 3: 1}  # grouped at once in the archive
    hit = next(h for h in engine.search(Query("tổng kết quân sự 2021")).hits if h.id == 1)
    assert hit.copies == [] and engine.copies(1) == []  # but the served version does not hold it yet
    from indexer.pipeline import build_index

    build_index(engine.settings, embedder=engine.embedder)
    assert [c.url for c in engine.copies(1)] == ["https://tinh.example.vn/1"]


def test_many_copies_of_one_text_are_compared_a_bounded_number_of_times(conn, monkeypatch):
    monkeypatch.setattr(duplicates, "MAX_CANDIDATES", 5)
    compared = []
    jaccard = duplicates.jaccard
    monkeypatch.setattr(duplicates, "jaccard", lambda a, b: compared.append(1) or jaccard(a, b))
    ids = [store.upsert_article(conn, article(f"https://u.example.vn/{i}", "s", STORY))[0] for i in range(12)]
    assert len(compared) == sum(min(i, 5) for i in range(12))  # never more than 5 per stored article
    assert set(groups_of(conn, ids).values()) == {ids[0]}
    store.delete_article(conn, ids[0])  # the oldest copy gone: the others stay joined by their own pairs
    assert set(groups_of(conn, ids[1:]).values()) == {ids[1]}


def test_the_served_version_collapses_the_copies_it_was_built_with(make_archive):
    """A copy stored since the version was built joins two published articles into one group in
    the archive at once; what the served version collapses changes only with the next build."""
    from indexer.pipeline import build_index
    from service.search import Query

    first = STORY + " Hội nghị biểu dương mười hai tập thể và hai mươi cá nhân xuất sắc."
    last = STORY + " Chỉ huy trưởng tỉnh đề nghị huyện củng cố lực lượng dân quân tự vệ."
    engine = make_archive([article("a", "a.vn", first, "Tổng kết quân sự 2021"),
                           article("c", "c.vn", last, "Tổng kết quân sự năm 2021"),
                           article("x", "x.vn", OTHER, "Thu hoạch lúa")])
    conn = store.connect(engine.settings.db_path)
    assert groups_of(conn, [1, 2]) == {}  # not near enough to each other
    store.upsert_article(conn, article("b", "b.vn", STORY, "Tổng kết công tác quân sự"))  # near to both
    assert groups_of(conn, [1, 2, 4]) == {1: 1, 2: 1, 4: 1}
    shown = {h.id for h in engine.search(Query("tổng kết quân sự 2021")).hits}
    assert {1, 2} <= shown and engine.copies(1) == []
    build_index(engine.settings, embedder=engine.embedder)
    shown = {h.id for h in engine.search(Query("tổng kết quân sự 2021")).hits}
    assert len(shown & {1, 2, 4}) == 1 and {c.id for c in engine.copies(1)} == {2, 4}
