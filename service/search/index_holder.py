"""The published index version a worker serves: loaded once, switched when CURRENT changes, never
None once a version has been published (a version that cannot be served is refused)."""
from __future__ import annotations

import threading

from indexer.config import Settings
from indexer.version import layout, reader


class IndexHolder:
    """The published index version, reloaded when CURRENT changes; a bad new version is refused.

    `_seen` names the version the holder has finished trying, and is written only after `loaded`:
    a thread that finds CURRENT equal to it may use `loaded` without the lock.
    """

    def __init__(self, settings: Settings, model_id: str, dimension: int) -> None:
        self.root, self.search_params = settings.index_root, settings.index_search_params
        self.model_id, self.dimension = model_id, dimension
        self.loaded: reader.ServedVersion | None = None
        self.error: str | None = None
        self._seen: str | None = None
        self._lock = threading.Lock()

    def get(self) -> reader.ServedVersion | None:
        """The version to answer with; None only while nothing has ever been published.

        A worker that serves a version keeps answering with it while one thread loads the next; a
        worker with nothing loaded yet (just started or recycled) waits for its first load. Raises
        IndexUnavailable when a version is published but none can be served.
        """
        name = layout.current_version(self.root)
        if name != self._seen and self._lock.acquire(blocking=self.loaded is None):
            try:
                if name != self._seen:
                    self._reload(name)
            finally:
                self._lock.release()
        if self.loaded is None and name:
            raise layout.IndexUnavailable(self.error or f"index {name} is not loaded yet")
        return self.loaded

    def _reload(self, name: str | None) -> None:
        if not name:
            self.error = "no index has been published yet: run `python -m indexer build`"
        else:
            try:
                self.loaded = reader.load_version(self.root, name, self.model_id, self.dimension,
                                                   search_params=self.search_params,
                                                   verified=self.loaded.verified if self.loaded else frozenset())
                self.error = None
            except layout.IndexUnavailable as exc:
                if self.loaded is None:  # at start-up: the newest older version that passes its checks
                    self.loaded = self._last_good(exclude=name)
                kept = (f"; serving {self.loaded.version} instead" if self.loaded
                        else "; no version can be served: run `python -m indexer build`")
                self.error = f"{exc}{kept}"
        self._seen = name

    def _last_good(self, exclude: str) -> reader.ServedVersion | None:
        folder = layout.versions_dir(self.root)
        names = sorted((p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       reverse=True) if folder.exists() else []
        for name in names:
            if name == exclude:
                continue
            try:
                return reader.load_version(self.root, name, self.model_id, self.dimension,
                                            search_params=self.search_params)
            except layout.IndexUnavailable:
                continue
        return None
