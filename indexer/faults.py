"""Fault injection for the crash tests: kill this process at a named point, for real.

``NEWSSEARCH_KILL_AT=embedding python -m indexer nightly`` dies with SIGKILL right after the first
batch of passage vectors is cached. Points: ``crawl`` (after the first source is crawled),
``embedding`` (after a batch of vectors is cached), ``lexical`` (the new version's lexical index
half written), ``before-publish`` (a new version is written and
verified, the switch not yet made). Unset in production, where it costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal


def checkpoint(name: str) -> None:
    if os.environ.get("NEWSSEARCH_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
