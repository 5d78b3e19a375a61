"""The nightly job: lock, crawl every source, index incrementally, publish, report.

Crash-safe by construction: articles are stored one transaction each; vectors are cached as soon as
they are computed; a new index version is written beside the served one and published by an
atomic rename only after it is verified. A run killed at any point leaves the archive and the
served index as they were, and the next run picks up from the cache.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer import models
from indexer.config import Settings
from indexer.exits import ExitCode
from indexer.faults import checkpoint
from indexer.locks import data_dir_lock


@dataclass
class NightlyReport:
    started: str
    finished: str | None = None
    duration_s: float | None = None
    sources: dict[str, dict] = field(default_factory=dict)
    index_version: str | None = None
    build: str | None = None
    lexical: dict | None = None  # how the lexical indexes were written (full, patched, segments rewritten)
    passages: int | None = None
    passages_embedded: int = 0
    passages_reused: int = 0
    passages_removed: int = 0
    embedded_on: str | None = None
    errors: list[str] = field(default_factory=list)
    exit_code: int = ExitCode.OK

    def summary(self) -> str:
        new = sum(s["counts"].get("new", 0) + s["counts"].get("updated", 0) for s in self.sources.values())
        failed = [name for name, s in self.sources.items() if s["source_failed"]]
        return (f"nightly: exit {self.exit_code}, {len(self.sources)} sources ({', '.join(failed) or 'none'} failed), "
                f"{new} new or updated articles, index {self.index_version or 'unchanged'} "
                f"({self.passages_embedded} embedded, {self.passages_reused} reused, {self.passages_removed} removed), "
                f"{self.duration_s:.1f} s" + (f"; errors: {'; '.join(self.errors)}" if self.errors else ""))


def write_report(settings: Settings, report: NightlyReport) -> Path:
    folder = settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"nightly-{report.started.replace(':', '').replace('+', 'Z')}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2))
    os.replace(tmp, path)
    return path


def run_nightly(settings: Settings, sources_file: Path | None = None, full: bool = False,
                progress: bool = False) -> NightlyReport:
    """One run; raises Locked when another run is in progress."""
    from indexer.crawl import crawl_sources, load_sources
    from indexer.pipeline import build_index

    with data_dir_lock(settings.data_dir, "nightly"):
        report = NightlyReport(started=models.now_iso())
        began = time.perf_counter()
        sources_path = sources_file or settings.data_dir / "sources.toml"
        try:
            sources = load_sources(sources_path) if sources_path.exists() else []

            def record(source, crawled) -> None:
                report.sources[source.name] = crawled.as_dict()
                if crawled.source_failed:
                    report.errors.append(f"{source.name}: {crawled.source_failed}")
                    report.exit_code = ExitCode.SOURCE_FAILED
                checkpoint("crawl")

            crawl_sources(settings, sources, progress=progress, after=record)
        except Exception as exc:  # a broken sources file or archive: still try to index what is stored
            report.errors.append(f"crawl: {type(exc).__name__}: {exc}")
            report.exit_code = ExitCode.SOURCE_FAILED
        try:
            built = build_index(settings, progress=progress, full=full)
            report.index_version, report.build, report.passages = built.version, built.method, built.passages
            report.lexical = built.lexical
            report.passages_embedded, report.passages_reused = built.embedded, built.reused
            report.passages_removed, report.embedded_on = built.removed, built.embedded_on
        except Exception as exc:  # nothing was published: the served index stays as it was
            report.errors.append(f"build: {type(exc).__name__}: {exc} (nothing published)")
            report.exit_code = ExitCode.BUILD_FAILED
        report.finished = models.now_iso()
        report.duration_s = round(time.perf_counter() - began, 2)
        try:
            write_report(settings, report)
        except OSError as exc:
            report.errors.append(f"report not written: {exc}")
        return report
