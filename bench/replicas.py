"""Serving from several machines, on this one: a primary that builds and publishes, replicas
(gunicorn, each with its own data dir) that pull from it over HTTP, nginx in front with the
shipped deploy/nginx.conf. Real processes on 127.0.0.1 only.

    python -m bench.replicas throughput DATA_DIR [--clients 16] [--seconds 20] [--rounds 3]
    python -m bench.replicas pull-bytes --corpus ../shared/corpus/baomoi-2017.jsonl.gz [--base 10000]

`throughput`: requests/s through nginx with 1 and with 2 replicas, side by side in each round
(DATA_DIR: an archive with a published index, `make demo` builds one in data/; it is copied, never
changed). `pull-bytes`: the bytes a replica's pull copies after nightly updates that add 1% and
1,000 articles, against the version's size, and the disk three kept versions take.
tests/test_replicas.py runs the end-to-end scenario on the same `Cluster`.
"""
from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench import save_result
from bench.api_latency import free_port, gunicorn_command, start_server
from bench.publish_load import LoadRun, _client, prepare_data_dir
from indexer import vectors

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's, outside a user's PATH
# Workers run as this user (a root master would drop them to nobody, who cannot read a private
# temporary directory); a master that is not root ignores the line.
NGINX_MAIN = """daemon off;
user {user} {group};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/newssearch.conf;
}}
"""


def nginx_site(shipped: str, replica_ports: list[int], port: int, replication_port: int, index_root: Path) -> str:
    """deploy/nginx.conf with this machine's addresses in place of the example ones: every
    directive under test is the shipped file's own."""
    upstream = re.search(r"( *)server 10\.0\.0\.\d+:8000 (.*);\n", shipped)
    indent, options = upstream.group(1), upstream.group(2)
    servers = "".join(f"{indent}server 127.0.0.1:{p} {options};\n" for p in replica_ports)
    text = re.sub(r"( *server 10\.0\.0\.\d+:8000 .*;\n)+", lambda _: servers, shipped, count=1)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    text = text.replace("listen 8081;", f"listen 127.0.0.1:{replication_port};")
    text = text.replace("/opt/newssearch/data/index/", f"{index_root.resolve()}/")
    return text.replace("allow 10.0.0.0/24;", "allow 127.0.0.1;")


def get_json(url: str, timeout: float = 30) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class Cluster:
    """A primary data dir, `replicas` replica data dirs and servers, nginx in front."""

    def __init__(self, primary: Path, work: Path, replicas: int = 2, workers: int = 1, threads: int = 4) -> None:
        self.primary, self.work = Path(primary), Path(work)
        self.data = [self.work / f"replica-{i}" for i in range(replicas)]
        self.ports = [free_port() for _ in range(replicas)]
        self.port, self.replication_port = free_port(), free_port()
        self.workers, self.threads = workers, threads
        self.servers: list[subprocess.Popen | None] = [None] * replicas
        self.nginx: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def replication_url(self) -> str:
        return f"http://127.0.0.1:{self.replication_port}/replication"

    def env(self, data_dir: Path) -> dict[str, str]:
        return {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": "",
                "NEWSSEARCH_QUERY_CACHE": "0"}

    def start(self) -> None:
        """nginx first (it publishes the primary's versions), then each replica pulls and serves."""
        nginx_dir = self.work / "nginx"
        nginx_dir.mkdir(parents=True)
        (nginx_dir / "newssearch.conf").write_text(nginx_site(
            SHIPPED.read_text(), self.ports, self.port, self.replication_port, self.primary / "index"))
        (nginx_dir / "nginx.conf").write_text(NGINX_MAIN.format(tmp=nginx_dir, user=pwd.getpwuid(os.getuid()).pw_name,
                                                                group=grp.getgrgid(os.getgid()).gr_name))
        self.nginx = subprocess.Popen([NGINX, "-c", str(nginx_dir / "nginx.conf"), "-p", str(nginx_dir)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait(f"http://127.0.0.1:{self.replication_port}/replication/CURRENT")
        models = self.primary / "models"
        for i, data in enumerate(self.data):
            data.mkdir(parents=True)
            if models.is_dir():  # the model is configuration every machine has, not part of a version
                (data / "models").symlink_to(models.resolve(), target_is_directory=True)
            pulled = self.pull(i)
            if pulled.returncode != 0:
                raise RuntimeError(f"replica {i} could not pull: {pulled.stderr}")
            self.servers[i] = start_server(self.ports[i], self.env(data),
                                           gunicorn_command(self.ports[i], self.workers, self.threads))

    @staticmethod
    def _wait(url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within 30 s")

    def pull(self, replica: int, source: str | None = None) -> subprocess.CompletedProcess:
        """`python -m indexer pull` on a replica, from the primary's nginx unless `source`."""
        return subprocess.run([sys.executable, "-m", "indexer", "pull", source or self.replication_url], cwd=ROOT,
                              env=self.env(self.data[replica]), capture_output=True, text=True, timeout=300)

    def health(self, replica: int) -> dict:
        return get_json(f"http://127.0.0.1:{self.ports[replica]}/api/health")

    def wait_for_version(self, replica: int, version: str, seconds: float = 60) -> bool:
        """Whether the replica serves `version` within `seconds` (its workers switch on their next request)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.health(replica).get("index_version") == version:
                return True
            time.sleep(0.2)
        return False

    def kill(self, replica: int) -> None:
        """kill -9 the replica's server, master and workers, as a machine that dies."""
        os.killpg(self.servers[replica].pid, signal.SIGKILL)
        self.servers[replica].wait(timeout=30)
        self.servers[replica] = None

    def stop(self) -> None:
        for server in self.servers:
            if server is not None:
                server.terminate()
                server.wait(timeout=60)
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait(timeout=30)

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Load:
    """Clients searching through nginx (bench.publish_load's), counted in one LoadRun."""

    def __init__(self, base: str, clients: int) -> None:
        self.run, self.stop, lock = LoadRun(), threading.Event(), threading.Lock()
        self.threads = [threading.Thread(target=_client, args=(base, self.stop, i, self.run, lock))
                        for i in range(clients)]

    def __enter__(self) -> LoadRun:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self.run

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.seconds = time.perf_counter() - self.started


def publish_new_version(primary: Path, pages: Path) -> str:
    """On the primary: store these article pages and build (the nightly's last two steps)."""
    env = {**os.environ, "NEWSSEARCH_DATA_DIR": str(primary), "NEWSSEARCH_MODEL": ""}
    for command in (["ingest", str(pages), "--source", "tin-moi.example.gov.vn"], ["build"]):
        done = subprocess.run([sys.executable, "-m", "indexer", *command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"indexer {command[0]} failed: {done.stdout}{done.stderr}")
    return vectors.current_version(primary / "index")


def throughput(data_dir: Path, clients: int, seconds: float, rounds: int) -> dict:
    """requests/s through nginx with 1 replica and with 2, side by side in each round."""
    rows = []
    for round_number in range(rounds):
        for replicas in (1, 2):
            with tempfile.TemporaryDirectory(prefix="replicas-") as tmp:
                primary = Path(tmp) / "primary"
                prepare_data_dir(data_dir, primary, "http://127.0.0.1:9")
                with Cluster(primary, Path(tmp) / "work", replicas=replicas, workers=2) as cluster:
                    load = Load(cluster.base, clients)
                    with load as run:
                        time.sleep(seconds)
                    rows.append({"round": round_number, "replicas": replicas, "answers": run.answers,
                                 "failed": run.failed, "requests_per_s": round(run.answers / load.seconds, 1)})
                    print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for replicas in (1, 2):
        summary[replicas] = statistics.median(r["requests_per_s"] for r in rows if r["replicas"] == replicas)
    return {"clients": clients, "seconds": seconds, "rounds": rows, "median_requests_per_s": summary,
            "ratio_2_to_1": round(summary[2] / summary[1], 2)}


def disk_bytes(folder: Path) -> int:
    """Bytes on disk under `folder`, each hard-linked file once."""
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def pull_bytes(corpus: Path, base: int, steps: list[int]) -> dict:
    """Build a primary of `base` corpus articles, pull it; then for each step add that many new
    articles, build (a patch, as the nightly job does), pull, and count the bytes copied."""
    from bench.indexing import read_corpus, write_pages
    from fixtures.hashed import HashedEmbedder
    from indexer import pipeline, replicate
    from indexer.config import load_settings

    articles = read_corpus(corpus, base + sum(steps))
    embedder = HashedEmbedder(384)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pull-bytes-") as tmp:
        tmp = Path(tmp)
        primary = load_settings({"data_dir": tmp / "primary", "model": embedder.model_id})
        replica = tmp / "replica" / "index"
        start = 0
        for added in [base, *steps]:
            pages = tmp / f"pages-{start}"
            write_pages(articles[start:start + added], pages)
            start += added
            pipeline.ingest_files(primary, [pages], source="baomoi.example")
            built = pipeline.build_index(primary, embedder=embedder)
            report = replicate.pull(str(primary.index_root), replica, keep=3)
            manifest = vectors.read_manifest(vectors.versions_dir(replica) / report.version)
            size = sum(meta["bytes"] for meta in manifest["files"].values())
            rows.append({"articles_added": added, "articles": start, "method": built.method,
                         "version_bytes": size, "bytes_copied": report.bytes_copied,
                         "copied_share": round(report.bytes_copied / size, 4), "copied_by_part": report.copied,
                         "replica_disk_bytes_all_kept_versions": disk_bytes(replica),
                         "kept_versions": len(list(vectors.versions_dir(replica).iterdir())),
                         "vocabulary": manifest["vocabulary"]})
            print(json.dumps(rows[-1]), flush=True)
    return {"embedder": f"hashed words, dimension {embedder.dimension} (bytes do not depend on vector values)",
            "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput", help="requests/s through nginx with 1 and with 2 replicas")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the result to this file")
    p = sub.add_parser("pull-bytes", help="bytes a pull copies after nightly updates")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--base", type=int, default=10_000)
    p.add_argument("--steps", type=int, nargs="+", default=None, help="articles added per update (default: 1%%, 1000)")
    p.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.what == "throughput":
        result = throughput(args.data_dir, args.clients, args.seconds, args.rounds)
    else:
        result = pull_bytes(args.corpus, args.base, args.steps or [args.base // 100, 1000])
    print(json.dumps({k: v for k, v in result.items() if k not in ("rounds", "rows")}, indent=2))
    if args.json:
        save_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
