"""The ingest API on the primary: keys, scopes, limits, idempotency, the build it schedules, and
no write route anywhere on the read-only service."""
import json
import sqlite3
import time
from dataclasses import replace

import pytest

from fixtures.hashed import HashedEmbedder
from indexer import ingest_api, store
from indexer.__main__ import main
from indexer.locks import data_dir_lock
from service.search import Query, SearchEngine


def ndjson(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def story(i: int, source: str = "minhson", **extra) -> dict:
    return {"url": f"https://{source}.example.vn/tin/{i}", "title": f"Hội nghị phòng chống thiên tai số {i}",
            "body": f"Sáng nay huyện tổng kết công tác phòng chống thiên tai, bài {i}. " * 4,
            "published_at": "12/03/2021 15:20", "source": source, **extra}


@pytest.fixture()
def primary(make_archive):
    """An ingest service over a built archive (fake vectors), builds 0.2 s after the last write."""
    embedder = HashedEmbedder()
    settings = replace(make_archive([("Bầu cử", "Cử tri đi bầu cử đại biểu. " * 5)], embedder).settings,
                       ingest_build_delay=0.2, ingest_max_bytes=64 * 1024)
    app = ingest_api.create_app(settings, embedder)
    conn = store.connect(settings.db_path)
    keys = {"minhson": ingest_api.create_key(conn, "minhson", "CMS Minh Sơn"), "all": ingest_api.create_key(conn, None)}
    conn.close()
    return app.test_client(), settings, keys, embedder


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}


def searchable(settings, embedder, url: str, present: bool = True) -> bool:
    """Whether the served version finds the article, waiting (bounded) for the scheduled build."""
    for _ in range(150):
        urls = [h.url for h in SearchEngine(settings, embedder).search(Query(text="phòng chống thiên tai")).hits]
        if (url in urls) == present:
            return True
        time.sleep(0.1)
    return False


def test_keys_are_required_checked_and_scoped(primary):
    client, settings, keys, _ = primary
    body = ndjson(story(1))
    r = client.post("/api/ingest", data=body)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.get_json()["error"]["code"] == "unauthorized"
    wrong = keys["minhson"][:-4] + "AAAA"
    assert client.post("/api/ingest", data=body, headers=auth(wrong)).status_code == 401
    assert client.post("/api/ingest", data=body, headers=auth("nsk_999_x")).status_code == 401
    other = client.post("/api/ingest", data=ndjson(story(2, source="phulam")), headers=auth(keys["minhson"]))
    assert other.status_code == 403 and "minhson" in other.get_json()["error"]["message"]
    assert client.post("/api/ingest", data=ndjson(story(2, source="phulam")), headers=auth(keys["all"])).status_code == 200
    unnamed = {k: v for k, v in story(3).items() if k != "source"}  # a scoped key's source is the default
    assert client.post("/api/ingest", data=ndjson(unnamed), headers=auth(keys["minhson"])).status_code == 200
    conn = store.connect(settings.db_path)
    assert store.find_article(conn, unnamed["url"])["source"] == "minhson"
    assert all(keys["all"].split("_")[-1] not in str(tuple(row)) for row in conn.execute("SELECT * FROM ingest_keys"))
    assert store.revoke_ingest_key(conn, int(keys["minhson"].split("_")[1]))
    assert client.post("/api/ingest", data=body, headers=auth(keys["minhson"])).status_code == 401  # revoked


def test_records_are_checked_before_any_is_stored_and_sending_again_changes_nothing(primary):
    client, settings, keys, _ = primary
    bad = client.post("/api/ingest", data=ndjson(story(1), {**story(2), "published_at": "31/02/2021"}, story(3))
                      + "{oops\n", headers=auth(keys["all"]))
    assert bad.status_code == 400
    assert [(e["line"], e["field"]) for e in bad.get_json()["error"]["records"]] == [(2, "published_at"), (4, "")]
    conn = store.connect(settings.db_path)
    assert store.find_article(conn, story(1)["url"]) is None  # nothing stored
    first = client.post("/api/ingest", data=ndjson(story(1), story(2)), headers=auth(keys["all"])).get_json()
    assert (first["new"], first["unchanged"]) == (2, 0) and [a["line"] for a in first["articles"]] == [1, 2]
    again = client.post("/api/ingest", data=ndjson(story(1), story(2)), headers=auth(keys["all"])).get_json()
    assert (again["new"], again["unchanged"]) == (0, 2)
    changed = client.post("/api/ingest", data=ndjson({**story(1), "title": "Đã sửa tiêu đề"}),
                          headers=auth(keys["all"])).get_json()
    assert changed["updated"] == 1 and store.find_article(conn, story(1)["url"])["title"] == "Đã sửa tiêu đề"
    assert client.post("/api/ingest", data="", headers=auth(keys["all"])).status_code == 400
    assert client.post("/api/ingest", data=b"\xff\xfe", headers=auth(keys["all"])).status_code == 400


def test_a_body_over_the_limit_is_a_413(primary):
    client, _, keys, _ = primary
    huge = ndjson(*(story(i) for i in range(200)))
    assert len(huge.encode()) > 64 * 1024
    r = client.post("/api/ingest", data=huge, headers=auth(keys["all"]))
    assert r.status_code == 413 and "NEWSSEARCH_INGEST_MAX_BYTES" in r.get_json()["error"]["message"]


def test_new_articles_become_searchable_by_a_build_the_service_schedules_under_the_lock(primary):
    client, settings, keys, embedder = primary
    with data_dir_lock(settings.data_dir, "nightly"):  # a nightly runs: the ingest build waits for it
        assert client.post("/api/ingest", data=ndjson(story(7)), headers=auth(keys["all"])).status_code == 200
        time.sleep(0.6)  # past the delay: the build was tried, and refused by the lock
        urls = [h.url for h in SearchEngine(settings, embedder).search(Query(text="phòng chống thiên tai")).hits]
        assert story(7)["url"] not in urls
        assert client.get("/api/ingest/status", headers=auth(keys["all"])).get_json()["build_pending"]
    assert searchable(settings, embedder, story(7)["url"])
    status = client.get("/api/ingest/status", headers=auth(keys["all"])).get_json()
    assert status["last_build"]["version"] and not status["build_pending"]
    gone = client.delete(f"/api/ingest/{story(7)['url']}", headers=auth(keys["all"]))
    assert gone.status_code == 200 and gone.get_json()["deleted"] == story(7)["url"]
    assert searchable(settings, embedder, story(7)["url"], present=False)
    assert client.delete("/api/ingest/99999", headers=auth(keys["all"])).status_code == 404


def test_a_scoped_key_deletes_only_its_source(primary):
    client, _, keys, _ = primary
    client.post("/api/ingest", data=ndjson(story(1, source="phulam")), headers=auth(keys["all"]))
    r = client.delete(f"/api/ingest/{story(1, source='phulam')['url']}", headers=auth(keys["minhson"]))
    assert r.status_code == 403
    assert client.delete("/api/ingest/1", headers=auth(keys["minhson"])).status_code == 403  # the archive's "s"


def test_the_ingest_api_is_documented(primary):
    client = primary[0]
    doc = client.get("/api/ingest/openapi.json").get_json()
    assert set(doc["paths"]) == {"/api/ingest", "/api/ingest/{ref}", "/api/ingest/status"}
    assert {"200", "400", "401", "403", "413"} <= set(doc["paths"]["/api/ingest"]["post"]["responses"])


def test_the_search_service_and_its_replicas_have_no_route_that_writes(app, client):
    """The read-only service (what replicas run too) answers GET, HEAD and OPTIONS only."""
    for rule in app.url_map.iter_rules():
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    assert client.post("/api/ingest", data=ndjson(story(1))).status_code in (404, 405)
    assert client.delete("/api/ingest/1").status_code in (404, 405)


def test_keys_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSSEARCH_DATA_DIR", str(tmp_path))
    assert main(["keys", "create", "--source", "minhson", "--label", "CMS"]) == 0
    key = capsys.readouterr().out.split()[0]
    assert key.startswith("nsk_1_")
    assert main(["keys", "create"]) == 2  # neither --source nor --all
    assert main(["keys", "list"]) == 0 and "minhson" in capsys.readouterr().out
    assert main(["keys", "revoke", "1"]) == 0 and main(["keys", "revoke", "1"]) == 2
    conn = sqlite3.connect(tmp_path / "archive.sqlite3")
    assert conn.execute("SELECT revoked_at IS NOT NULL FROM ingest_keys").fetchone()[0] == 1
