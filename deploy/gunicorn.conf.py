"""gunicorn settings for the search service (`make serve`, the load benchmarks and their tests).

    gunicorn --config deploy/gunicorn.conf.py --workers 2 --threads 4 --bind 127.0.0.1:8000 'service:create_app()'

/metrics adds up every worker's counts: prometheus_client's multiprocess mode, with the workers'
files in PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless it is set).
"""
import glob
import os
import shutil
import tempfile

accesslog = "-"
timeout = 60


_created: list[str] = []  # a directory this server made for itself, removed when it exits


def on_starting(server):
    """Before any worker starts: a directory for the workers' metric files, emptied of a previous run's."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="newssearch-metrics-")
        _created.append(path)
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def on_exit(server):
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
