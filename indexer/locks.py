"""One lock per data dir: the jobs that write an index version or the archive's derived state
(build, update, delete, pull, nightly) never run two at once, so one's prune never deletes the
other's staging directory and no passage is embedded twice.

An exclusive flock: the kernel releases it when the holder dies, so no lock goes stale. The file
keeps the nightly's old name, so a nightly of an earlier release and a build of this one still
exclude each other.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "nightly.lock"


class Locked(RuntimeError):
    """Another job holds the data dir's lock; the message names it."""


@contextmanager
def job_lock(path: Path, job: str = "nightly") -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise Locked(f"another indexer job ({holder}) holds {path}; {job} not started: "
                         f"run it again once that one has ended") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{job}, pid {os.getpid()}")
        handle.flush()
        yield


def data_dir_lock(data_dir: Path, job: str):
    """The data dir's one lock, for `job` (its name goes in the message another job gets)."""
    return job_lock(Path(data_dir) / LOCK_FILE, job)
