"""The nightly job under real faults: kill -9 at several points, a full disk, a corrupt index."""
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.site import SOURCES_TOML
from indexer.locks import Locked, job_lock
from indexer.version import layout, reader
from service import create_app
from service.search import Query

ROOT = Path(__file__).resolve().parent.parent
PROBE = "phòng chống thiên tai 2021"


@pytest.fixture()
def data_dir(demo_settings, site, tmp_path):
    """A copy of the demo data dir (archive, index, vector cache) with the fixture CMS as source."""
    target = tmp_path / "data"
    shutil.copytree(demo_settings.data_dir, target, symlinks=True)
    cms_only = SOURCES_TOML.format(base=site.base).split('[[source]]\nname = "wp"')[0]
    (target / "sources.toml").write_text(cms_only)
    return target


def nightly(data_dir: Path, *args: str, kill_at: str | None = None, max_file_bytes: int | None = None):
    env = {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": ""}
    env.pop("NEWSSEARCH_KILL_AT", None)
    if kill_at:
        env["NEWSSEARCH_KILL_AT"] = kill_at

    def limit_file_size():
        if max_file_bytes:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([sys.executable, "-m", "indexer", "nightly", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size)


def served(app):
    """(version, every result's article id and score in order, total): what a reader sees. The
    served version's statistics are its own, so stored but unpublished articles change none of it."""
    engine = app.extensions["engine"]
    result = engine.search(Query(PROBE, per_page=50))
    return engine.health()["index_version"], [(h.id, h.score) for h in result.hits], result.total


def integrity(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "archive.sqlite3") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_killed_runs_leave_the_service_answering_and_the_next_run_publishes(data_dir, site):
    app = create_app({"data_dir": data_dir, "model": ""})
    before = served(app)
    for point in ("crawl", "embedding", "lexical", "before-publish"):
        run = nightly(data_dir, kill_at=point)
        assert run.returncode == -signal.SIGKILL, (point, run.stdout, run.stderr)
        assert served(app) == before, point  # same version, same results, no unpublished article
        everything = app.extensions["engine"].search(Query(PROBE, per_page=50)).hits
        assert not any(h.url.startswith(site.base) for h in everything), point
        assert integrity(data_dir) == "ok", point
        assert layout.current_version(data_dir / "index") == before[0], point
    done = nightly(data_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nightly: exit 0")
    version, _ids, total = served(app)
    assert version != before[0] and total > before[2]  # switched without a restart; the new articles count
    hits = app.extensions["engine"].search(Query("Hội nghị triển khai công tác phòng chống thiên tai năm 2021", per_page=3)).hits
    assert any(h.url.startswith(site.base) for h in hits)
    report = json.loads(sorted((data_dir / "reports").glob("nightly-*.json"))[-1].read_text())
    assert report["exit_code"] == 0 and "cms" in report["sources"]
    with sqlite3.connect(data_dir / "archive.sqlite3") as conn:  # stored by the killed runs, kept
        assert conn.execute("SELECT count(*) FROM articles WHERE source = 'cms'").fetchone()[0] == 4
    assert report["passages_embedded"] == 0  # the killed runs had already cached every new vector
    assert report["build"].startswith("patched") and report["lexical"]["built"] == "patched"


def test_second_run_with_nothing_new_reuses_everything(data_dir):
    first = nightly(data_dir)
    assert first.returncode == 0, first.stderr
    again = nightly(data_dir)
    assert again.returncode == 0, again.stderr
    report = json.loads(sorted((data_dir / "reports").glob("nightly-*.json"))[-1].read_text())
    assert report["passages_embedded"] == 0 and report["passages_removed"] == 0
    assert all(s["counts"].get("new", 0) == 0 for s in report["sources"].values())


def test_full_rebuild_and_removed_passages(data_dir):
    from indexer import store

    conn = store.connect(data_dir / "archive.sqlite3")
    victim, url = conn.execute("SELECT id, url FROM articles ORDER BY id LIMIT 1").fetchone()
    gone = store.article_passage_ids(conn, victim)
    conn.close()
    deleted = subprocess.run([sys.executable, "-m", "indexer", "delete", url], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir)})
    assert deleted.returncode == 0 and "deleted 1" in deleted.stdout
    (data_dir / "sources.toml").unlink()
    app = create_app({"data_dir": data_dir, "model": ""})
    before = served(app)
    assert victim not in [aid for aid, _ in before[1]]  # taken down at once, before any build
    killed = nightly(data_dir, kill_at="lexical")  # a patch that rewrites the segments holding it
    assert killed.returncode == -signal.SIGKILL, (killed.stdout, killed.stderr)
    assert served(app) == before and integrity(data_dir) == "ok"
    assert layout.current_version(data_dir / "index") == before[0]
    run = nightly(data_dir)
    assert run.returncode == 0, run.stderr
    name = layout.current_version(data_dir / "index")
    model = layout.read_manifest(layout.versions_dir(data_dir / "index") / name)["model"]
    index = reader.load_version(data_dir / "index", name, model, 384)
    assert not set(gone) & set(index.ids().tolist())
    full = nightly(data_dir, "--full")
    assert full.returncode == 0 and "full (--full)" in json.loads(
        sorted((data_dir / "reports").glob("nightly-*.json"))[-1].read_text())["build"]


def test_full_disk_during_build_publishes_nothing(data_dir):
    (data_dir / "sources.toml").unlink()
    app = create_app({"data_dir": data_dir, "model": ""})
    before = served(app)
    run = nightly(data_dir, "--full", max_file_bytes=64 * 1024)  # a full build writes a whole FAISS segment
    assert run.returncode == 5, (run.stdout, run.stderr)
    assert "nothing published" in run.stdout
    assert layout.current_version(data_dir / "index") == before[0] and served(app) == before
    assert integrity(data_dir) == "ok"


def test_a_second_run_exits_at_once_while_the_lock_is_held(data_dir):
    with job_lock(data_dir / "nightly.lock", "build"):
        run = nightly(data_dir)
        assert run.returncode == 4 and "another indexer job (build, pid" in run.stderr
        with pytest.raises(Locked), job_lock(data_dir / "nightly.lock"):
            pass


@pytest.mark.parametrize("job", [["build"], ["update", "--sources", "none.toml"], ["delete", "1"],
                                 ["pull", "/nonexistent"]])
def test_every_job_that_writes_takes_the_data_dirs_lock(data_dir, job):
    """Two builds at once broke each other (one's prune deleted the other's staging directory): every
    job that writes a version or the archive exits with 4 while another holds the lock, touching nothing."""
    env = {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": ""}
    before = integrity(data_dir), layout.current_version(data_dir / "index")
    with job_lock(data_dir / "nightly.lock", "nightly"):
        run = subprocess.run([sys.executable, "-m", "indexer", *job], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert run.returncode == 4, run.stderr
    assert f"{job[0]}: another indexer job (nightly, pid {os.getpid()})" in run.stderr
    with sqlite3.connect(data_dir / "archive.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles WHERE id = 1").fetchone()[0] == 1
    assert (integrity(data_dir), layout.current_version(data_dir / "index")) == before


def test_stale_lock_of_a_dead_process_is_recovered(data_dir):
    """A lock file left by a killed run (its pid long gone) holds nothing: the next run takes it,
    names itself in it, builds and publishes a version and writes its report."""
    (data_dir / "nightly.lock").write_text("nightly, pid 999999")  # left by a run that was killed
    (data_dir / "sources.toml").unlink()
    reports = set((data_dir / "reports").glob("nightly-*.json")) if (data_dir / "reports").exists() else set()
    run = nightly(data_dir)
    assert run.returncode == 0, run.stderr
    holder = (data_dir / "nightly.lock").read_text()
    assert holder.startswith("nightly, pid ") and holder != "nightly, pid 999999"
    (written,) = set((data_dir / "reports").glob("nightly-*.json")) - reports
    report = json.loads(written.read_text())
    assert report["exit_code"] == 0 and report["index_version"] and not report["errors"]
    assert (data_dir / "index" / "CURRENT").read_text().strip() == report["index_version"]


def test_corrupt_new_version_is_reported_and_the_last_good_one_served(data_dir):
    from indexer.config import load_settings
    from indexer.pipeline import build_index

    settings = load_settings({"data_dir": data_dir, "model": ""})
    app = create_app(settings)
    before = served(app)
    old_index = app.extensions["engine"].index.get()
    (data_dir / "sources.toml").unlink()
    report = build_index(settings, full=True)
    path = layout.segment_files(layout.versions_dir(data_dir / "index") / report.version)[-1]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated on disk
    assert served(app)[1:] == before[1:]  # still answering, from the last good version
    health = app.extensions["engine"].health()
    assert health["status"] == "degraded" and "corrupt or truncated" in health["error"]
    assert health["index_version"] == before[0] and old_index.search(old_index.reconstruct(int(old_index.ids()[0])), 1)
    # a service starting now falls back to the newest good version instead of serving garbage
    fresh = create_app(settings).extensions["engine"]
    assert fresh.health()["index_version"] == before[0] and "serving" in fresh.health()["error"]


@pytest.mark.parametrize("damaged", ["archive.sqlite3", "cache/vectors.sqlite3"])
@pytest.mark.parametrize("job", [["build"], ["delete", "1"], ["stats"], ["update", "--sources", "/dev/null"]])
def test_a_damaged_archive_or_cache_is_one_line_and_exit_2(data_dir, damaged, job):
    path = data_dir / damaged
    if not path.exists():
        pytest.skip(f"{damaged} is not where this layout keeps it")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is no SQLite database, only bytes a bad disk left " * 100)
    env = {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": ""}
    run = subprocess.run([sys.executable, "-m", "indexer", *job], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    if damaged.startswith("cache") and job[0] == "stats":  # it never opens the cache
        assert run.returncode == 0, run.stderr
        return
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert lines and str(path) in lines[0] and "restore it from a backup" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    if damaged.startswith("cache") and job[0] == "delete":  # the archive lost it; publishing it waits
        assert "deleted 1 article(s) from the archive, but no version without them" in lines[0]
