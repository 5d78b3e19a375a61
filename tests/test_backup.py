"""A backup taken while a nightly builds and another writer stores articles restores to a working
archive serving the same results; restore refuses what it should."""
import json
import threading

import pytest

from fixtures.hashed import HashedEmbedder
from indexer import models, store
from indexer.__main__ import main
from indexer.backup import BackupError, backup, restore
from indexer.config import load_settings
from indexer.pipeline import build_index
from indexer.version import layout
from service.search import Query, SearchEngine

QUERIES = ("bầu cử", "phòng chống thiên tai", "lũ quét")


class Paused(HashedEmbedder):
    """Embeds only once let go: a build that stands still mid-embedding, as a long nightly does."""

    def __init__(self):
        super().__init__()
        self.started, self.go = threading.Event(), threading.Event()

    def encode_passages(self, texts, progress=False):
        self.started.set()
        assert self.go.wait(30)
        return super().encode_passages(texts, progress)


def article(i: int, topic: str) -> models.Article:
    return models.Article(url=f"https://tin.example.vn/{topic}/{i}", source="s", title=f"{topic} {i}",
                          body=f"Bài {i} về {topic} ở huyện. " * 6, published_at="2021-03-01T08:00:00+07:00")


def results(settings, embedder) -> dict:
    engine = SearchEngine(settings, embedder)
    return {q: [h.url for h in engine.search(Query(text=q)).hits] for q in QUERIES}


def test_a_backup_during_a_nightly_restores_to_the_archive_and_version_it_copied(make_archive, tmp_path):
    embedder = HashedEmbedder()
    served = make_archive([article(i, topic) for i, topic in enumerate(QUERIES * 4)], embedder)
    settings, version = served.settings, served.served_version()
    before = results(settings, embedder)
    conn = store.connect(settings.db_path)
    for i in range(20):  # what the running nightly has crawled and is embedding
        store.upsert_article(conn, article(100 + i, "lũ quét"))
    paused = Paused()
    nightly = threading.Thread(target=build_index, args=(settings,), kwargs={"embedder": paused})
    nightly.start()
    assert paused.started.wait(30)
    stop = threading.Event()

    def keep_writing():  # and another writer (an import, a crawl) goes on storing
        writer, i = store.connect(settings.db_path), 200
        while not stop.is_set():
            store.upsert_article(writer, article(i, "bầu cử"))
            i += 1
        writer.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        info = backup(settings, tmp_path / "backup")
    finally:
        stop.set()
        writer.join()
        paused.go.set()
        nightly.join()
    assert info["index_version"] == version != layout.current_version(settings.index_root)  # the nightly published
    assert info["articles"] >= 32  # the twelve, the nightly's twenty, and what the writer had stored
    restored = load_settings({"data_dir": tmp_path / "restored", "model": embedder.model_id})
    assert restore(restored, tmp_path / "backup")["index_version"] == info["index_version"]
    check = store.connect(restored.db_path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.count_rows(check)["articles"] == info["articles"]
    assert results(restored, embedder) == before  # the version it copied, serving the same results
    build_index(restored, embedder=embedder)  # and the restored archive builds on
    assert len(results(restored, embedder)["lũ quét"]) == 10


def test_restore_refuses_an_unfinished_backup_and_an_archive_it_would_replace(make_archive, tmp_path, monkeypatch):
    settings = make_archive([article(1, "bầu cử")]).settings
    with pytest.raises(BackupError, match="no finished backup"):
        restore(settings, tmp_path)
    backup(settings, tmp_path / "b")
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, tmp_path / "b")
    with pytest.raises(BackupError, match="--force"):
        restore(settings, tmp_path / "b")
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSSEARCH_MODEL", settings.model)
    assert main(["restore", str(tmp_path / "b"), "--force"]) == 0
    assert main(["backup", str(tmp_path / "c"), "--with-vectors"]) == 0
    assert json.loads((tmp_path / "c" / "backup.json").read_text())["vectors"] is True
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["archive.sqlite3", "backup.json", "index",
                                                                  "vectors.sqlite3"]
    assert main(["restore", str(tmp_path / "nothing")]) == 2
