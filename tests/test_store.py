import sqlite3

import pytest

from indexer import models, store
from service.search import candidates


@pytest.fixture()
def conn(tmp_path):
    c = store.connect(tmp_path / "a.sqlite3")
    yield c
    c.close()


def article(**kw):
    base = dict(url="https://x.example/a1", source="x", title="Phòng chống thiên tai năm 2021",
                summary="Huyện tổng kết công tác phòng chống thiên tai.",
                body="Đồng chí Đặng Văn Quang phát biểu. " * 5, published_at="2021-03-12T15:20:00+07:00")
    base.update(kw)
    return models.Article(**base)


def test_schema_is_versioned_and_wal(conn, tmp_path):
    assert store.schema_version(conn) == len(store.MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = store.connect(tmp_path / "a.sqlite3")  # migrating twice is a no-op
    assert store.schema_version(again) == len(store.MIGRATIONS)


def test_upsert_new_unchanged_updated(conn):
    aid, status = store.upsert_article(conn, article())
    assert status == "new"
    assert store.upsert_article(conn, article()) == (aid, "unchanged")
    old_passages = store.article_passage_ids(conn, aid)
    assert store.upsert_article(conn, article(body="Nội dung mới về bầu cử. " * 5)) == (aid, "updated")
    new_passages = store.article_passage_ids(conn, aid)
    assert new_passages and not set(old_passages) & set(new_passages)  # ids never reused
    assert conn.execute("SELECT count(*) FROM passages_fts").fetchone()[0] == len(new_passages)


def test_text_is_kept_as_published_and_matched_canonically(conn):
    import unicodedata

    title = unicodedata.normalize("NFD", "Xã Sơn Thuỷ")
    aid, _ = store.upsert_article(conn, article(title=title, body="Thuỷ lợi.\u200b " * 20))
    row = store.get_article(conn, aid)
    assert row["title"] == "Xã Sơn Thuỷ"  # NFC, spelling as published
    assert "\u200b" not in row["body"]
    assert row["published_day"] == "2021-03-12"
    same_text_new_spelling = store.passage_embedding_text("Xã Sơn Thủy", "Thủy lợi.")
    assert store.passage_embedding_text(row["title"], "Thuỷ lợi.") == same_text_new_spelling


def test_passage_offsets_index_document_text(conn):
    from indexer.text import document_text

    aid, _ = store.upsert_article(conn, article())
    row = store.get_article(conn, aid)
    doc = document_text(row["summary"], row["body"])
    for p in store.get_passages(conn, store.article_passage_ids(conn, aid)).values():
        assert doc[p["start"]:p["end"]] == p["text"]


def test_folded_fts_finds_d_bar_and_missing_diacritics(conn):
    store.upsert_article(conn, article())
    store.upsert_article(conn, article(url="https://x.example/a2", title="Bầu cử", body="Cử tri đi bầu cử. " * 10))
    found = candidates.lexical_candidates(conn, '"dang" AND "van" AND "quang"', models.Filters(), 10)
    assert {aid for _, aid, _ in found} == {1}


def test_filters(conn):
    store.upsert_article(conn, article())
    store.upsert_article(conn, article(url="https://y.example/2", source="y", published_at="2019-05-01T00:00:00+07:00"))
    match = '"thien"'
    assert len(candidates.lexical_candidates(conn, match, models.Filters(date_from="2020-01-01"), 10)) == 1
    assert len(candidates.lexical_candidates(conn, match, models.Filters(sources=("y",)), 10)) == 1
    assert len(candidates.lexical_candidates(conn, match, models.Filters(), 10)) == 2


def test_empty_body_is_refused(conn):
    with pytest.raises(ValueError):
        store.upsert_article(conn, article(body="   "))


def test_readonly_connection_cannot_write(conn, tmp_path):
    store.upsert_article(conn, article())
    ro = store.connect(tmp_path / "a.sqlite3", readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("DELETE FROM articles")


def test_folded_passages_store_words_only_and_migrate_with_the_same_scores(tmp_path):
    from indexer import text as vtext

    path = tmp_path / "a.sqlite3"
    conn = store.connect(path)
    store.upsert_article(conn, article(title="Bão số 5: “Thiệt hại lớn”!",
                                       body="Huyện Quảng Điền, (Thừa Thiên-Huế) khắc phục... hậu quả. " * 12))
    store.upsert_article(conn, article(url="https://x.example/a2", body="Thiệt hại do bão. " * 20))
    title, text = conn.execute("SELECT title, text FROM passages_fts WHERE rowid = 1").fetchone()
    assert title == "bao so 5 thiet hai lon"
    assert text.startswith("huyen tong ket cong tac phong chong thien tai huyen quang dien thua thien hue")
    match = '"thiet hai" AND ("bao" OR "hue")'
    scores = candidates.lexical_candidates(conn, match, models.Filters(), 10)
    with conn:  # what an archive of the previous schema holds: folded text, punctuation kept
        for pid, title, body in conn.execute(
                "SELECT p.id, a.title, p.text FROM passages p JOIN articles a ON a.id = p.article_id").fetchall():
            conn.execute("UPDATE passages_fts SET title = ?, text = ? WHERE rowid = ?",
                         (vtext.fold(title), vtext.fold(body), pid))
        conn.execute(f"PRAGMA user_version = {store.MIGRATIONS.index('folded_words_in_passages_fts')}")
    conn.close()
    conn = store.connect(path)
    assert conn.execute("SELECT title FROM passages_fts WHERE rowid = 1").fetchone()[0] == "bao so 5 thiet hai lon"
    assert candidates.lexical_candidates(conn, match, models.Filters(), 10) == scores
    texts = store.article_word_texts(conn, [1, 2], exact=False)
    assert " thiet hai lon \n huyen tong ket " in texts[1] and " bao thiet hai " in texts[2]
