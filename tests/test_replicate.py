"""Self-contained versions and replicas that pull them: a replica serves exactly what the primary
serves, copies only what it lacks, and refuses a cut-off or corrupt pull."""
import http.server
import json
import os
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from indexer import models, replicate, store, vocabulary
from indexer.config import load_settings
from indexer.pipeline import build_index
from indexer.version import layout, reader, vocabulary_writer, writer
from service.search import Query, SearchEngine

STORIES = [("Phòng chống thiên tai năm 2021", "Ban chỉ huy quân sự huyện tổng kết công tác phòng chống thiên tai."),
           ("Xây dựng nông thôn mới", "Xã Minh Sơn về đích nông thôn mới với 19 tiêu chí."),
           ("Tiêm vắc xin Covid-19", "Trạm y tế xã tiêm vắc xin Covid-19 cho người dân."),
           ("Giao nhận quân năm 2022", "Huyện tổ chức lễ giao nhận quân cho thanh niên lên đường.")]


def add(settings, stories, start=0):
    conn = store.connect(settings.db_path)
    for i, (title, body) in enumerate(stories, start):
        store.upsert_article(conn, models.Article(url=f"https://huyen.example/tin-{i}", source="huyen.example",
                                                  title=title, body=body, published_at=f"2021-0{i % 9 + 1}-15T08:00:00+07:00"))
    conn.close()


@pytest.fixture()
def primary(tmp_path, fake_embedder):
    settings = load_settings({"data_dir": tmp_path / "primary", "model": fake_embedder.model_id})
    settings.data_dir.mkdir()
    add(settings, STORIES)
    build_index(settings, embedder=fake_embedder)
    return settings


def replica_settings(tmp_path, fake_embedder, name="replica"):
    return load_settings({"data_dir": tmp_path / name, "model": fake_embedder.model_id})


def answers(engine: SearchEngine) -> list:
    out = []
    for text in ("phòng chống thiên tai 2021", "nong thon moi", "giao nhận quân", "vắc xin"):
        for mode in ("hybrid", "lexical", "semantic"):
            result = engine.search(Query(text, mode=mode, explain=True))
            out.append((result.index_version, result.total, [(h.id, h.score, h.snippet, h.title, h.url)
                                                             for h in result.hits]))
    return out


def test_a_replica_answers_exactly_as_the_primary_without_the_archive(primary, tmp_path, fake_embedder):
    replica = replica_settings(tmp_path, fake_embedder)
    report = replicate.pull(str(primary.index_root), replica.index_root)
    assert report.status == "pulled" and report.files_linked == 0 and report.files_copied > 0
    assert not replica.db_path.exists()  # the replica has no archive at all
    mine = SearchEngine(replica, embedder=fake_embedder)
    assert answers(mine) == answers(SearchEngine(primary, embedder=fake_embedder))
    article = mine.article(1)
    assert article["title"] == STORIES[0][0] and "tổng kết" in article["body"] and article["published_day"] == "2021-01-15"
    assert mine.passage(mine.search(Query("nông thôn mới")).hits[0].passage_id)["article_id"] == 2
    assert mine.health()["articles"] == 4 and mine.sources()[0]["source"] == "huyen.example"
    assert not replica.db_path.exists()


def test_a_pull_after_a_small_update_copies_only_the_new_files(primary, tmp_path, fake_embedder):
    replica = replica_settings(tmp_path, fake_embedder)
    first = replicate.pull(str(primary.index_root), replica.index_root)
    add(primary, [("Hội nghị tổng kết năm", "Huyện tổng kết công tác năm 2021.")], start=len(STORIES))
    build_index(primary, embedder=fake_embedder)
    second = replicate.pull(str(primary.index_root), replica.index_root)
    assert second.status == "pulled" and second.files_linked > 0
    assert second.bytes_copied < first.bytes_copied  # new segments, a vocabulary delta, the manifest
    manifest = layout.read_manifest(layout.versions_dir(replica.index_root) / second.version)
    assert len(manifest["segments"]) == 2 and len(manifest["vocabulary"]["files"]) == 2
    assert replicate.pull(str(primary.index_root), replica.index_root).status == "up to date"
    mine = SearchEngine(replica, embedder=fake_embedder)
    assert mine.search(Query("hội nghị tổng kết")).hits[0].id == 5
    assert answers(mine) == answers(SearchEngine(primary, embedder=fake_embedder))


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_pull_is_refused_and_the_replica_keeps_its_version(primary, tmp_path, fake_embedder):
    replica = replica_settings(tmp_path, fake_embedder)
    old = replicate.pull(str(primary.index_root), replica.index_root).version
    add(primary, [("Tin mới", "Một bài mới về thiên tai.")], start=len(STORIES))
    new = build_index(primary, embedder=fake_embedder).version
    corrupt = tmp_path / "corrupt-share"
    shutil.copytree(primary.index_root, corrupt)  # copies, not links: the primary is untouched
    manifest = layout.read_manifest(layout.versions_dir(corrupt) / new)
    newest_segment = manifest["segments"][-1]["name"]
    flip_a_byte(layout.versions_dir(corrupt) / new / layout.SEGMENTS_DIR / newest_segment)
    with pytest.raises(replicate.PullRefused, match="does not match its manifest"):
        replicate.pull(str(corrupt), replica.index_root)
    assert layout.current_version(replica.index_root) == old
    assert sorted(p.name for p in layout.versions_dir(replica.index_root).iterdir()) == [old]  # no leftovers
    assert replicate.pull(str(primary.index_root), replica.index_root).version == new


class _CutOff(http.server.SimpleHTTPRequestHandler):
    """Serves a directory, but sends only half of every FAISS segment (the length says all)."""

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        if self.path.endswith(".faiss"):
            outputfile.write(source.read()[: os.fstat(source.fileno()).st_size // 2])
            self.close_connection = True
            return
        super().copyfile(source, outputfile)


def serve(folder: Path, handler=http.server.SimpleHTTPRequestHandler):
    class Quiet(handler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_pulls_over_http_and_refuses_a_cut_off_transfer(primary, tmp_path, fake_embedder):
    cut = serve(primary.index_root, _CutOff)
    replica = replica_settings(tmp_path, fake_embedder)
    try:
        with pytest.raises(replicate.PullRefused):
            replicate.pull(f"http://127.0.0.1:{cut.server_address[1]}", replica.index_root, timeout=5)
    finally:
        cut.shutdown()
    assert layout.current_version(replica.index_root) is None
    assert not any(layout.versions_dir(replica.index_root).iterdir())
    whole = serve(primary.index_root)
    try:
        report = replicate.pull(f"http://127.0.0.1:{whole.server_address[1]}/", replica.index_root)
    finally:
        whole.shutdown()
    assert report.status == "pulled" and layout.current_version(replica.index_root) == report.version


def test_a_manifest_naming_a_file_outside_its_version_is_refused(primary, tmp_path, fake_embedder):
    share = tmp_path / "share"
    shutil.copytree(primary.index_root, share)
    version = layout.current_version(share)
    path = layout.versions_dir(share) / version / layout.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["files"]["../../escape"] = {"bytes": 1, "sha256": "0" * 64}
    path.write_text(json.dumps(manifest))
    with pytest.raises(replicate.PullRefused, match="outside its version"):
        replicate.pull(str(share), replica_settings(tmp_path, fake_embedder).index_root)


def test_the_pull_command_exits_6_when_refused_and_names_what_it_copied(primary, tmp_path, fake_embedder,
                                                                        monkeypatch, capsys):
    from indexer.__main__ import main

    replica = replica_settings(tmp_path, fake_embedder)
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(replica.data_dir))
    assert main(["pull", str(tmp_path / "nowhere")]) == 6
    assert "pull refused" in capsys.readouterr().err
    assert main(["pull", str(primary.index_root)]) == 0
    assert "files copied" in capsys.readouterr().out
    assert main(["stats"]) == 0 and "a replica" in capsys.readouterr().out


def test_vocabulary_deltas_sum_to_the_archive_counts_and_a_new_base_follows(tmp_path):
    conn = store.connect(tmp_path / "archive.sqlite3")
    previous, previous_dir, file_counts = None, None, []
    for round_number in range(vocabulary_writer.MAX_FILES + 1):
        store.upsert_article(conn, models.Article(url=f"https://u.example.vn/{round_number}", source="s", title=f"Tin Hà Nội {round_number}",
                                                  body="Thành phố Hà Nội đón khách." * (round_number + 1)))
        if round_number == 2:
            store.delete_article(conn, 1)
        folder = tmp_path / f"v{round_number}"
        folder.mkdir()
        entry = vocabulary_writer.write(folder, conn, previous, previous_dir)
        words = vocabulary.Vocabulary([folder / vocabulary.VOCABULARY_DIR / name for name in entry["files"]])
        for table in vocabulary.TABLES:
            for folded, form, count, capitalised in conn.execute(f"SELECT folded, form, count, capitalised FROM {table}"):
                assert words.forms(table, folded)[form] == count
                assert words.casing(table, form) == (count, capitalised)
        previous, previous_dir = entry, folder
        file_counts.append(len(entry["files"]))
    assert file_counts[:2] == [1, 2] and max(file_counts) <= vocabulary_writer.MAX_FILES
    assert 1 in file_counts[2:]  # deltas that outgrow the base: a new base


def test_nightly_patches_keep_few_segments_share_files_and_search_as_a_full_build(primary, tmp_path, fake_embedder):
    for i in range(writer.MAX_SEGMENTS + 2):
        add(primary, [(f"Tin số {i} về thiên tai", f"Bài thứ {i} về mưa lũ ở xã số {i}.")], start=len(STORIES) + i)
        if i == 3:
            store.delete_article(store.connect(primary.db_path), 2)
        assert build_index(primary, embedder=fake_embedder).method.startswith("patched")
    root = layout.versions_dir(primary.index_root)
    kept = sorted(p for p in root.iterdir() if p.is_dir())
    manifest = layout.read_manifest(kept[-1])
    assert 1 < len(manifest["segments"]) <= writer.MAX_SEGMENTS
    files = [p for version in kept for p in version.rglob("*") if p.is_file()]
    assert len({p.stat().st_ino for p in files}) < 0.6 * len(files)  # three versions, mostly the same files
    patched = reader.load_version(primary.index_root, manifest["version"], fake_embedder.model_id, 64)
    full_copy = load_settings({"data_dir": tmp_path / "full", "model": fake_embedder.model_id})
    shutil.copytree(primary.data_dir, full_copy.data_dir)
    assert build_index(full_copy, embedder=fake_embedder, full=True).method.startswith("full")
    full = reader.load_version(full_copy.index_root, layout.current_version(full_copy.index_root),
                                fake_embedder.model_id, 64)
    assert len(full.segments) == 1 and patched.count == full.count
    assert np.array_equal(patched.ids(), full.ids())
    for text in ("thiên tai", "nông thôn mới", "mưa lũ xã số 7"):
        query = fake_embedder.encode_query(text)
        assert sorted((pid, round(score, 5)) for pid, score in patched.search(query, 100)) == \
            sorted((pid, round(score, 5)) for pid, score in full.search(query, 100))


def test_a_switch_hashes_only_the_files_the_new_version_wrote(primary, fake_embedder, monkeypatch):
    """A version shares most files with the one served before it (hard links, never written
    again): the service checks their sizes, and reads through only what is new."""
    engine = SearchEngine(primary, embedder=fake_embedder)
    engine.index.get()
    add(primary, [("Tin mới", "Một bài mới về thiên tai.")], start=len(STORIES))
    new = build_index(primary, embedder=fake_embedder).version
    hashed = []
    real = layout.sha256_file
    monkeypatch.setattr(layout, "sha256_file", lambda path: hashed.append(path) or real(path))
    assert engine.index.get().version == new
    written = layout.read_manifest(layout.versions_dir(primary.index_root) / new)["files"]
    assert 0 < len(hashed) < len(written) / 2


def _share_with(primary, tmp_path, change) -> Path:
    """A copy of the primary's index root whose current manifest `change` rewrote."""
    share = tmp_path / "hostile-share"
    shutil.copytree(primary.index_root, share)
    path = layout.versions_dir(share) / layout.current_version(share) / layout.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(change(manifest)))
    return share


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: [m], "not a JSON object"),
    (lambda m: {**m, "files": []}, "'files' must be an object"),
    (lambda m: {**m, "files": {k: {**v, "bytes": "12"} for k, v in m["files"].items()}}, "whole 'bytes'"),
    (lambda m: {**m, "files": {k: {**v, "sha256": None} for k, v in m["files"].items()}}, "hex 'sha256'"),
    (lambda m: {**m, "segments": [{"name": "../../../../etc/passwd", "vectors": 1}]}, "FAISS segment"),
    (lambda m: {**m, "segments": [{"name": "unlisted.faiss", "vectors": 1}]}, "FAISS segment"),
    (lambda m: {**m, "segments": "x"}, "'segments' a list"),
])
def test_a_malformed_manifest_is_refused_with_exit_6(primary, tmp_path, fake_embedder, monkeypatch, capsys,
                                                     change, message):
    from indexer.__main__ import main

    share = _share_with(primary, tmp_path, change)
    replica = replica_settings(tmp_path, fake_embedder)
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(replica.data_dir))
    assert main(["pull", str(share)]) == 6
    err = capsys.readouterr().err
    assert err.startswith("pull refused:") and message in err and "Traceback" not in err
    assert layout.current_version(replica.index_root) is None


def test_the_service_never_loads_a_segment_outside_its_version(primary, fake_embedder):
    """A version whose manifest points a segment elsewhere (a replica's own copy tampered with) is
    refused by the service: it answers 503, not with a file outside the version."""
    version_dir = layout.versions_dir(primary.index_root) / layout.current_version(primary.index_root)
    manifest = layout.read_manifest(version_dir)
    manifest["segments"][0]["name"] = "../" * 6 + "tmp/elsewhere.faiss"
    (version_dir / layout.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(layout.IndexUnavailable, match="FAISS segment"):
        reader.load_version(primary.index_root, version_dir.name, fake_embedder.model_id, fake_embedder.dimension)


class _Endless(http.server.SimpleHTTPRequestHandler):
    """Serves a directory, but a FAISS segment's body never ends (no Content-Length)."""

    def send_head(self):
        if not self.path.endswith(".faiss"):
            return super().send_head()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.close_connection = True
        return None

    def do_GET(self):
        if not self.path.endswith(".faiss"):
            return super().do_GET()
        self.send_head()
        chunk = b"\0" * (1 << 16)
        for _ in range(4096):  # 256 MiB at most, so the test can never hang; the pull stops far sooner
            try:
                self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return


def test_a_copy_never_runs_past_the_manifests_size(primary, tmp_path, fake_embedder):
    endless = serve(primary.index_root, _Endless)
    replica = replica_settings(tmp_path, fake_embedder)
    try:
        with pytest.raises(replicate.PullRefused, match="longer than its manifest"):
            replicate.pull(f"http://127.0.0.1:{endless.server_address[1]}", replica.index_root, timeout=5)
    finally:
        endless.shutdown()
    assert layout.current_version(replica.index_root) is None
    assert not any(layout.versions_dir(replica.index_root).iterdir())  # nothing of it left on disk


def test_a_replica_with_a_key_pulls_only_versions_signed_with_it(tmp_path, fake_embedder):
    key = "a-secret-the-primary-and-its-replicas-share"
    primary = load_settings({"data_dir": tmp_path / "signed", "model": fake_embedder.model_id,
                             "replication_key": key})
    primary.data_dir.mkdir()
    add(primary, STORIES)
    signed = build_index(primary, embedder=fake_embedder).version
    replica = replica_settings(tmp_path, fake_embedder)
    assert replicate.pull(str(primary.index_root), replica.index_root, key=key).version == signed
    # a tampered manifest (a checksum changed to match a forged file) no longer verifies
    add(primary, [("Tin mới", "Một bài mới về thiên tai.")], start=len(STORIES))
    build_index(primary, embedder=fake_embedder)

    def forge(manifest):
        manifest["created_at"] = "2000-01-01T00:00:00+00:00"
        return manifest

    share = _share_with(primary, tmp_path, forge)
    for wrong_key, source in ((key, share), ("another key", primary.index_root)):
        with pytest.raises(replicate.PullRefused, match="signature does not verify"):
            replicate.pull(str(source), replica.index_root, key=wrong_key)
    assert layout.current_version(replica.index_root) == signed  # it keeps serving what it had
    unsigned = load_settings({"data_dir": tmp_path / "primary-unsigned", "model": fake_embedder.model_id})
    unsigned.data_dir.mkdir()
    add(unsigned, STORIES)
    build_index(unsigned, embedder=fake_embedder)
    with pytest.raises(replicate.PullRefused, match="signature is missing"):
        replicate.pull(str(unsigned.index_root), replica.index_root, key=key)
    assert "a-secret" not in repr(primary)  # the key never shows in logs of the settings
