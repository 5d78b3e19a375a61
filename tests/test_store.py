import sqlite3

import pytest

from indexer import models, prepare, store
from indexer.models import WordQuery
from indexer.store import migrations


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
    assert store.schema_version(conn) == len(migrations.MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = store.connect(tmp_path / "a.sqlite3")  # migrating twice is a no-op
    assert store.schema_version(again) == len(migrations.MIGRATIONS)


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every table and index (type, name, its SQL with whitespace collapsed), in name order."""
    return [(kind, name, " ".join(sql.split())) for kind, name, sql in conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")]


def test_schema_sql_is_what_the_migrations_make_of_an_empty_archive(tmp_path):
    new = store.connect(tmp_path / "new.sqlite3")  # created from schema.sql
    stepped = sqlite3.connect(tmp_path / "stepped.sqlite3")
    assert migrations.upgrade(stepped) == store.schema_version(new) == len(migrations.MIGRATIONS)
    assert _schema(new) == _schema(stepped) and len(_schema(new)) > 20
    assert not any("fts5" in sql.lower() for _, _, sql in _schema(new))  # the FTS5 tables are history
    # a step the schema lacks is caught: the archive a new step would make differs from schema.sql
    extra = sqlite3.connect(tmp_path / "extra.sqlite3")
    migrations.upgrade(extra, [*migrations.MIGRATIONS, "CREATE TABLE notes (id INTEGER PRIMARY KEY);"])
    assert _schema(extra) != _schema(new)
    with pytest.raises(RuntimeError, match="newer than this code"):
        migrations.upgrade(extra)


def test_upsert_new_unchanged_updated(conn):
    aid, status = store.upsert_article(conn, article())
    assert status == "new"
    assert store.upsert_article(conn, article()) == (aid, "unchanged")
    old_passages = store.article_passage_ids(conn, aid)
    assert store.upsert_article(conn, article(body="Nội dung mới về bầu cử. " * 5)) == (aid, "updated")
    new_passages = store.article_passage_ids(conn, aid)
    assert new_passages and not set(old_passages) & set(new_passages)  # ids never reused
    assert conn.execute("SELECT count(*) FROM passage_words").fetchone()[0] == len(new_passages)


def test_a_batch_commits_its_stores_once_and_undoes_only_the_one_that_failed(conn, tmp_path, monkeypatch):
    other = store.connect(tmp_path / "a.sqlite3")  # what a reader sees while the batch is open
    counted = lambda c: [c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
                         for t in ("articles", "passages", "vocab_unigrams", "article_bands")]
    real = store.store_places

    def failing(db, article_id, found):  # fails once the article's row and passages are written
        if "hỏng" in db.execute("SELECT title FROM articles WHERE id = ?", (article_id,)).fetchone()[0]:
            raise RuntimeError("the places of a broken record")
        return real(db, article_id, found)

    monkeypatch.setattr(store.articles, "store_places", failing)
    with pytest.raises(RuntimeError), store.batch(conn) as stored:
        store.upsert_article(conn, article(), stored=stored)
        assert counted(other)[0] == 0  # nothing committed inside the batch
        store.upsert_article(conn, article(url="https://x.example/a2", title="Bài hỏng", body="Một bài khác hẳn. " * 9),
                             stored=stored)
    assert not conn.in_transaction
    monkeypatch.setattr(store.articles, "store_places", real)
    kept = counted(other)
    assert kept[0] == 1 and store.upsert_article(conn, article()) == (1, "unchanged")
    # the failed article left nothing behind: neither its row, passages, words nor signature, and
    # the batch's vocabulary, written once, is what storing the article alone writes
    alone = store.connect(tmp_path / "b.sqlite3")
    store.upsert_article(alone, article())
    assert counted(alone) == kept
    vocabulary = "SELECT * FROM vocab_unigrams UNION ALL SELECT * FROM vocab_bigrams ORDER BY 1, 2"
    assert [tuple(r) for r in conn.execute(vocabulary)] == [tuple(r) for r in alone.execute(vocabulary)]
    # outside a batch each store is its own transaction, as before
    store.upsert_article(conn, article(url="https://x.example/a3", body="Nội dung mới về bầu cử. " * 5))
    assert not conn.in_transaction and counted(other)[0] == 2


def test_text_is_kept_as_published_and_matched_canonically(conn):
    import unicodedata

    title = unicodedata.normalize("NFD", "Xã Sơn Thuỷ")
    aid, _ = store.upsert_article(conn, article(title=title, body="Thuỷ lợi.\u200b " * 20))
    row = store.get_article(conn, aid)
    assert row["title"] == "Xã Sơn Thuỷ"  # NFC, spelling as published
    assert "\u200b" not in row["body"]
    assert row["published_day"] == "2021-03-12"
    same_text_new_spelling = prepare.passage_embedding_text("Xã Sơn Thủy", "Thủy lợi.")
    assert prepare.passage_embedding_text(row["title"], "Thuỷ lợi.") == same_text_new_spelling


def test_passage_offsets_index_document_text(conn):
    from indexer.text import document_text

    aid, _ = store.upsert_article(conn, article())
    row = store.get_article(conn, aid)
    doc = document_text(row["summary"], row["body"])
    for p in conn.execute("SELECT start, end, text FROM passages WHERE article_id = ?", (aid,)):
        assert doc[p["start"]:p["end"]] == p["text"]


def test_folded_words_find_d_bar_and_missing_diacritics(make_archive):
    engine = make_archive([article(), article(url="https://x.example/a2", title="Bầu cử", body="Cử tri đi bầu cử. " * 10)])
    lexical = engine.index.get().lexical
    found = lexical.passages(WordQuery((("dang", "van", "quang"),)), models.Filters(), 10)
    assert {aid for _, aid, _ in found} == {1}
    assert not lexical.passages(WordQuery((("đang",),)), models.Filters(), 10, exact=True)


def test_filters(make_archive):
    engine = make_archive([article(), article(url="https://y.example/2", source="y",
                                              published_at="2019-05-01T00:00:00+07:00")])
    lexical, words = engine.index.get().lexical, WordQuery(options=(("thien",),))
    for kind in (lexical.passages, lexical.articles):
        assert {c.article_id for c in kind(words, models.Filters(date_from="2020-01-01"), 10)} == {1}
        assert {c.article_id for c in kind(words, models.Filters(date_to="2019-05-01"), 10)} == {2}
        assert {c.article_id for c in kind(words, models.Filters(sources=("y",)), 10)} == {2}
        assert {c.article_id for c in kind(words, models.Filters(), 10)} == {1, 2}


def test_empty_body_is_refused(conn):
    with pytest.raises(ValueError):
        store.upsert_article(conn, article(body="   "))


def test_readonly_connection_cannot_write(conn, tmp_path):
    store.upsert_article(conn, article())
    ro = store.connect(tmp_path / "a.sqlite3", readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("DELETE FROM articles")


def test_passage_words_are_stored_as_words_only(conn):
    store.upsert_article(conn, article(title="Bão số 5: “Thiệt hại lớn”!",
                                       body="Huyện Quảng Điền, (Thừa Thiên-Huế) khắc phục... hậu quả. " * 12))
    store.upsert_article(conn, article(url="https://x.example/a2", body="Thiệt hại do bão. " * 20))
    row = conn.execute("SELECT * FROM passage_words WHERE id = 1").fetchone()
    assert row["folded_title"] == "bao so 5 thiet hai lon" and row["exact_title"] == "bão số 5 thiệt hại lớn"
    assert row["folded_text"].startswith("huyen tong ket cong tac phong chong thien tai huyen quang dien thua thien hue")
    texts = store.article_word_texts(conn, [1, 2], exact=False)
    assert " thiet hai lon \n huyen tong ket " in texts[1] and " bao thiet hai " in texts[2]


def test_an_fts5_archive_migrates_its_words_to_plain_columns(tmp_path):
    current = store.connect(tmp_path / "current.sqlite3")
    store.upsert_article(current, article())
    words = [tuple(r) for r in current.execute("SELECT * FROM passage_words ORDER BY id")]
    old = sqlite3.connect(tmp_path / "old.sqlite3")  # the archive the previous schema made: words in FTS5
    migrations.upgrade(old, migrations.MIGRATIONS[:migrations.MIGRATIONS.index("recount_vocabulary") - 1])
    old.execute("ATTACH ? AS cur", (str(tmp_path / "current.sqlite3"),))
    with old:
        old.execute("INSERT INTO articles SELECT * FROM cur.articles")
        old.execute("INSERT INTO passages SELECT * FROM cur.passages")
        for pid, folded_title, folded_text, exact_title, exact_text in words:
            old.execute("INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)", (pid, folded_title, folded_text))
            old.execute("INSERT INTO passages_exact (rowid, title, text) VALUES (?, ?, ?)", (pid, exact_title, exact_text))
    old.close()
    migrated = store.connect(tmp_path / "old.sqlite3")
    assert store.schema_version(migrated) == len(migrations.MIGRATIONS)
    assert [tuple(r) for r in migrated.execute("SELECT * FROM passage_words ORDER BY id")] == words
    tables = {r[0] for r in migrated.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"passages_fts", "passages_exact", "articles_fts"} & tables
    counted = dict(migrated.execute("SELECT form, count FROM vocab_unigrams WHERE folded = 'thien'").fetchall())
    assert counted == dict(current.execute("SELECT form, count FROM vocab_unigrams WHERE folded = 'thien'").fetchall())
