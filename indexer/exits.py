"""What `python -m indexer` exits with: one list, which the README gives and tests/test_docs.py
holds it to."""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOTHING_FOUND = 1   # probe: neither an article nor a listing; stats: no archive and no index
    BAD_INPUT = 2       # bad input or configuration, a failed build or delete, a damaged file: the message says which
    SOURCE_FAILED = 3   # crawl, update, nightly: a whole source could not be crawled (the others were)
    LOCKED = 4          # another job holds the data dir's lock
    BUILD_FAILED = 5    # nightly: its build failed, nothing published (the last good version serves)
    PULL_REFUSED = 6    # pull: the primary's version did not match its manifest, or the key was refused
