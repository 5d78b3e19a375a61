"""Fixtures: the converted model (once per machine), and a demo archive + index in a temp dir."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.config import DEFAULT_MODEL_DIRNAME, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted default model: from the project's data dir (make install), else converted now."""
    from indexer.embed import ensure_default_model

    settings = load_settings({"data_dir": ROOT / "data", "model": ""})
    return ensure_default_model(settings, log=lambda message: None)


def make_settings(data_dir: Path, model_dir: Path, **overrides) -> Settings:
    """Settings over a temp data dir whose models/ links to the already converted model."""
    models = data_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    link = models / DEFAULT_MODEL_DIRNAME
    if not link.exists():
        link.symlink_to(model_dir, target_is_directory=True)
    return load_settings({"data_dir": data_dir, "model": "", **overrides})


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
