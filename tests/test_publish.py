"""Zero-downtime publishing: a search is answered by the old or the new version, never by none."""
import http.server
import shutil
import threading
import time

from fixtures import loopback
from fixtures.load import LoadRun, search_client
from indexer.version import layout, reader
from service import create_app
from service.search import IndexHolder


def test_every_thread_of_a_worker_that_is_still_loading_its_first_version_waits_for_it(demo_settings, monkeypatch):
    """The original race: the holder named the version as seen before it had loaded it, so the
    other threads of a fresh (started or recycled) worker went on with no index at all."""
    real_load = reader.load_version
    loading = threading.Event()

    def slow_load(*args, **kwargs):
        loading.set()
        threading.Event().wait(0.3)  # the first load of a large index, made visible
        return real_load(*args, **kwargs)

    monkeypatch.setattr(reader, "load_version", slow_load)
    manifest = layout.load_manifest(layout.versions_dir(demo_settings.index_root)
                                     / layout.current_version(demo_settings.index_root))
    holder = IndexHolder(demo_settings, manifest.model, manifest.dimension)
    got: list = []
    first = threading.Thread(target=lambda: got.append(holder.get()))
    first.start()
    loading.wait(5)
    others = [threading.Thread(target=lambda: got.append(holder.get())) for _ in range(7)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join()
    assert len(got) == 8 and all(index is not None for index in got)
    assert {index.version for index in got} == {manifest.version}


def test_a_published_version_that_cannot_be_served_is_a_503_never_an_empty_answer(demo_settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_settings.data_dir, data, symlinks=True)
    version = layout.current_version(data / "index")
    path = layout.segment_files(layout.versions_dir(data / "index") / version)[-1]
    path.write_bytes(path.read_bytes()[:100])  # the only version, truncated: nothing to fall back on
    client = create_app({"data_dir": data, "model": ""}).test_client()
    for mode in ("hybrid", "semantic", "lexical"):
        r = client.get(f"/api/search?q=phòng chống thiên tai&mode={mode}")
        assert r.status_code == 503, mode
        error = r.get_json()["error"]
        assert error["code"] == "archive_unavailable" and "corrupt or truncated" in error["message"]
        assert "no version can be served" in error["message"]
    assert client.get("/api/articles/1/similar").status_code == 503
    assert client.get("/?q=thiên+tai").status_code == 503  # the page says so too
    health = client.get("/api/health")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"


def test_publish_under_load_with_workers_recycled_answers_every_search_from_the_old_or_new_version(demo_settings):
    """Real processes on 127.0.0.1: gunicorn (2 workers × 4 threads, each recycled after about 60
    requests, so fresh workers start under load), 16 clients, a nightly run that crawls the fixture
    portal and publishes. Before the fix, fresh workers answered some searches with no index."""
    from fixtures.load import run_once

    run = run_once(demo_settings.data_dir, clients=16, seconds=20, max_requests=60)
    assert run.nightly_exit == 0
    assert run.new_version not in (None, run.old_version)
    assert run.failed == 0, (run.summary(), run.examples)
    assert run.by_version[run.old_version] > 0 and run.by_version[run.new_version] > 0


def test_the_load_clients_count_a_response_cut_short_as_a_failure():
    """What the publish and replica tests assert through: a server that sends its headers and part
    of a body, then closes, is a failure of its own kind, with when it happened."""
    class HalfAnswer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"total": ')
            self.close_connection = True

        def log_message(self, *args):
            pass

    server, base = loopback.serve(HalfAnswer)
    run, stop, started = LoadRun(), threading.Event(), time.monotonic()
    client = threading.Thread(target=search_client, args=(base, stop, 0, run, threading.Lock()))
    client.start()
    time.sleep(0.5)
    stop.set()
    client.join(timeout=30)
    server.shutdown()
    assert run.answers > 0 and run.failures == {"cut short": run.answers} and run.failed == run.answers
    assert len(run.cut_short_at) == run.answers and all(at >= started for at in run.cut_short_at)
    assert "10 bytes of the body" in run.examples[0]
