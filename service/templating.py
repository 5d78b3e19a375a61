"""What the Jinja templates may call: Vietnamese dates, this page's URL with a parameter changed,
a place's name from its key, and a source's own name from its."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, request, url_for

from indexer import places
from service import engine
from service.params import link_args


def vndate(value: str | None, with_time: bool = False) -> str:
    """ISO 8601 → dd/mm/yyyy (and HH:MM), as Vietnamese readers write dates."""
    if not value:
        return "không rõ ngày"
    moment = datetime.fromisoformat(value)
    return moment.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def url_with(**changes: Any) -> str:
    """This search's URL with some query parameters changed (None removes one); only the search's
    own parameters are carried over."""
    args = link_args(request.args)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def search_link(endpoint: str, **values: Any) -> str:
    """This search at another endpoint (its feed, its export, a result's page and back), with the
    search's parameters only, and `values`."""
    return url_for(endpoint, **link_args(request.args), **values)


def url_without(name: str, value: str) -> str:
    """This search's URL without one value of a repeatable parameter (one place chip of several)."""
    args = link_args(request.args)
    args[name] = [v for v in args.get(name, []) if v != value]
    args.pop("page", None)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.add_template_filter(vndate, "vndate")
    app.context_processor(lambda: {"url_with": url_with, "url_without": url_without, "search_link": search_link,
                                   "place_label": places.label, "source_title": lambda key: engine().source_title(key)})
