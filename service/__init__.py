"""The read-only Flask service: search page, article pages and the JSON API."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from indexer.config import Settings, load_settings

if TYPE_CHECKING:
    from indexer.embed import Embedder
    from service.search import SearchEngine


def create_app(config: Settings | dict[str, Any] | None = None, embedder: Embedder | None = None) -> Flask:
    """App factory; `config` is a Settings object or overrides of the environment's settings;
    `embedder` replaces the configured model (tests use a deterministic one)."""
    from service import api, errors, exports, metrics, pages, security, templating
    from service.search import SearchEngine

    settings = config if isinstance(config, Settings) else load_settings(config)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.ensure_ascii = False
    app.extensions["engine"] = SearchEngine(settings, embedder)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(exports.bp)
    errors.init_app(app)
    security.init_app(app, settings.cors_origins)
    templating.init_app(app)
    metrics.install(app, lambda: app.extensions["engine"].health()["index_version"])
    warm(app)
    return app


def warm(app: Flask) -> None:
    """Before the first request (and so before the first health check answers): the served
    version loaded, one query run through it, and the templates compiled."""
    app.extensions["engine"].warm()
    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)


def engine() -> SearchEngine:
    """The current app's search engine (for the views)."""
    return current_app.extensions["engine"]
