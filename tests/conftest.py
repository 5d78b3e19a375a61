"""Fixtures: the converted model (once per machine), a demo archive + index in a temp dir, and
factories: `make_archive` builds an archive from made-up articles, by default with `fake_embedder`,
whose deterministic vectors let ranking tests run without the model."""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.hashed import HashedEmbedder
from fixtures.settings import DEMO, ROOT, make_settings
from indexer.config import Settings, load_settings


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted default model: from the project's data dir (make install), else converted now."""
    from indexer.embed import ensure_default_model

    settings = load_settings({"data_dir": ROOT / "data", "model": ""})
    return ensure_default_model(settings, log=lambda message: None)


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory, model_dir) -> Settings:
    from indexer.pipeline import build_index, ingest_files

    settings = make_settings(tmp_path_factory.mktemp("demo-data"), model_dir)
    report = ingest_files(settings, [DEMO])
    assert report.counts["new"] == 40 and not report.failures
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def app(demo_settings):
    from service import create_app

    return create_app(demo_settings)


@pytest.fixture(scope="session")
def engine(app):
    """The demo app's search engine."""
    return app.extensions["engine"]


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app):
    """The demo app served over HTTP on 127.0.0.1 (threaded werkzeug), for browser and API fuzz tests."""
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture()
def site():
    """The fixture website (three portal layouts and their faults) on 127.0.0.1; its hanging page
    outlasts the crawler's 1 s test timeout."""
    from fixtures.site import FixtureSite

    fixture = FixtureSite(hang_seconds=2.5)
    server = fixture.serve()
    yield fixture
    server.shutdown()


@pytest.fixture()
def fake_embedder() -> HashedEmbedder:
    return HashedEmbedder()


@pytest.fixture()
def make_archive(tmp_path, fake_embedder):
    """make_archive([(title, body), …] or [Article, …], build=True) → a SearchEngine over them.

    Articles get ids 1…n in the order given; an index version is built and published by the
    real pipeline (fake vectors).
    """
    from indexer import models, store
    from indexer.pipeline import build_index
    from service.search import SearchEngine

    made = []

    def make(articles, embedder=None):
        embedder = embedder or fake_embedder
        settings = load_settings({"data_dir": tmp_path / f"archive-{len(made)}", "model": embedder.model_id})
        settings.data_dir.mkdir(parents=True)
        conn = store.connect(settings.db_path)
        for i, item in enumerate(articles):
            article = item if isinstance(item, models.Article) else \
                models.Article(url=f"https://tin.example.vn/{i}", source="s", title=item[0], body=item[1])
            store.upsert_article(conn, article)
        conn.close()
        build_index(settings, embedder=embedder)
        made.append(settings)
        return SearchEngine(settings, embedder=embedder)

    return make
