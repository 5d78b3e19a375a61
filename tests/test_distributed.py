"""Embedding on a real multi-node Ray cluster on 127.0.0.1: the CLI's `--ray` path against a
local build, a worker node killed mid-build, a worker with another model, and bad clusters.

The cluster is `ray.cluster_utils.Cluster`: a head with no CPU (the driver's node, as an indexing
machine that leaves the work to the cluster) and two worker nodes of one CPU each, every one a
real raylet with its own object store. Skipped only when Ray itself cannot start here.
"""
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fixtures.ray_cluster import loopback_cluster  # first: it keeps Ray on 127.0.0.1
from fixtures.settings import DEMO, make_settings
from indexer.embed import VectorCache
from indexer.version import layout, reader

ROOT = Path(__file__).resolve().parent.parent
BATCH = 4  # passages per Ray batch: the demo's 44 passages make 11 batches over two nodes

pytest.importorskip("ray", reason="Ray is not installed (make test installs requirements-ray.txt)")


def start_cluster(worker_cpus: list[int]):
    try:
        return loopback_cluster(worker_cpus)
    except Exception as exc:  # whatever stops Ray starting here is the skip reason
        reason = f"Ray cannot start on this machine: {type(exc).__name__}: {exc}"
        print(reason, file=sys.stderr)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(model_dir):
    """Two worker nodes × 1 CPU; the model they unpack from the object store is removed after."""
    from indexer.distributed import model_fingerprint, unpacked_model_dir

    cluster, nodes = start_cluster([1, 1])
    yield cluster, nodes
    cluster.shutdown()
    shutil.rmtree(unpacked_model_dir(model_fingerprint(model_dir)), ignore_errors=True)


def indexer_cli(data_dir: Path, *args: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "NEWSSEARCH_DATA_DIR": str(data_dir), "NEWSSEARCH_MODEL": "",
                   "NEWSSEARCH_RAY_BATCH": str(BATCH)}
    environment.pop("NEWSSEARCH_KILL_AT", None)
    environment.update(env)
    return subprocess.Popen([sys.executable, "-m", "indexer", *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def demo_archive(tmp_path: Path, model_dir: Path, name: str) -> Path:
    """The demo corpus stored in a fresh data dir, nothing embedded yet; the vector cache counts
    every write of a vector (a trigger), so a passage embedded into it twice would show."""
    from indexer.pipeline import ingest_files

    settings = make_settings(tmp_path / name, model_dir)
    assert ingest_files(settings, [DEMO]).counts["new"] == 40
    VectorCache(settings.cache_dir / "vectors.sqlite3", "", 0).close()  # the cache's own table
    with sqlite3.connect(settings.cache_dir / "vectors.sqlite3") as conn:
        conn.executescript("""
            CREATE TABLE writes (content_hash TEXT NOT NULL);
            CREATE TRIGGER counted AFTER INSERT ON vectors BEGIN INSERT INTO writes VALUES (new.content_hash); END;
        """)
    return settings.data_dir


def cache_writes(data_dir: Path) -> list[int]:
    with sqlite3.connect(data_dir / "cache" / "vectors.sqlite3") as conn:
        return [n for (n,) in conn.execute("SELECT COUNT(*) FROM writes GROUP BY content_hash")]


def served_vectors(data_dir: Path) -> dict[int, np.ndarray]:
    """The published version's vectors by passage id."""
    root = data_dir / "index"
    name = layout.current_version(root)
    manifest = layout.load_manifest(layout.versions_dir(root) / name)
    loaded = reader.load_version(root, name, manifest.model, manifest.dimension)
    return {int(i): loaded.reconstruct(int(i)) for i in loaded.ids()}


NEW_ARTICLE = """<html><head><meta charset="utf-8"><title>Huyện tổ chức diễn tập phòng chống lụt bão năm 2023</title>
<meta property="article:published_time" content="2023-06-02T08:00:00+07:00"></head><body><article>
<h1>Huyện tổ chức diễn tập phòng chống lụt bão năm 2023</h1>
<p>Sáng 2/6, Ban Chỉ huy Phòng chống thiên tai và Tìm kiếm cứu nạn huyện tổ chức diễn tập ứng phó
bão mạnh kết hợp mưa lũ tại xã ven sông, với sự tham gia của lực lượng dân quân, công an và y tế.</p>
<p>Các tình huống giả định gồm sơ tán dân khỏi vùng trũng, cứu hộ người bị nạn trên sông và bảo đảm
thông tin liên lạc khi mất điện. Kết thúc buổi diễn tập, Ban Chỉ huy rút kinh nghiệm công tác phối hợp.</p>
</article></body></html>"""


def test_a_ray_build_survives_a_killed_worker_node_and_equals_a_local_build(cluster, demo_settings, model_dir,
                                                                            tmp_path):
    ray_cluster, nodes = cluster
    data_dir = demo_archive(tmp_path, model_dir, "ray")
    # The driver killed -9 after its first batch is cached: the next run embeds only the rest.
    code, _, err = finish(indexer_cli(data_dir, "build", "--ray", ray_cluster.address,
                                      NEWSSEARCH_KILL_AT="embedding"))
    assert code == -9 and len(cache_writes(data_dir)) == BATCH, err
    build = indexer_cli(data_dir, "build", "--ray", ray_cluster.address)
    deadline = time.monotonic() + 300
    while len(cache_writes(data_dir)) <= BATCH:  # a batch of this run is back: kill a worker node mid-build
        assert build.poll() is None and time.monotonic() < deadline, build.communicate()
        time.sleep(0.2)
    ray_cluster.remove_node(nodes[0], allow_graceful=False)
    code, out, err = finish(build)
    assert code == 0, err

    local = served_vectors(demo_settings.data_dir)
    on_ray = served_vectors(data_dir)
    assert sorted(on_ray) == sorted(local)  # the same passage ids
    assert min(float(on_ray[i] @ local[i]) for i in local) >= 0.9999
    writes = cache_writes(data_dir)
    with sqlite3.connect(data_dir / "archive.sqlite3") as conn:
        unique = conn.execute("SELECT COUNT(DISTINCT content_hash) FROM passages").fetchone()[0]
    assert len(writes) == unique and set(writes) == {1}  # none lost, none written twice
    assert f"{unique - BATCH} embedded" in out and f"on Ray at {ray_cluster.address}" in out

    # The nightly job takes the address from the environment; a new article is embedded on the
    # surviving node, and only it.
    new_page = tmp_path / "new.html"
    new_page.write_text(NEW_ARTICLE, encoding="utf-8")
    settings = make_settings(data_dir, model_dir)
    from indexer.pipeline import ingest_files

    assert ingest_files(settings, [new_page], source="moi", base_url="https://moi.example.gov.vn/").counts["new"] == 1
    code, out, err = finish(indexer_cli(data_dir, "nightly", NEWSSEARCH_RAY_ADDRESS=ray_cluster.address))
    assert code == 0, err + out
    report = json.loads(sorted((data_dir / "reports").glob("nightly-*.json"))[-1].read_text())
    assert report["embedded_on"] == f"Ray at {ray_cluster.address}"
    assert report["passages_embedded"] == report["passages"] - len(local) > 0
    assert set(cache_writes(data_dir)) == {1}


def test_a_worker_with_another_model_is_refused_and_nothing_is_published(cluster, model_dir, tmp_path):
    """A shared model path that holds another conversion (CLS instead of mean pooling: other vectors)."""
    ray_cluster, _ = cluster
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other, ignore=shutil.ignore_patterns("newssearch-onnx", "*.safetensors"))
    for weights in model_dir.glob("*.safetensors"):
        (other / weights.name).symlink_to(weights)
    pooling = json.loads((other / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (other / "1_Pooling" / "config.json").write_text(json.dumps(pooling))

    data_dir = demo_archive(tmp_path, model_dir, "refused")
    code, _, err = finish(indexer_cli(data_dir, "build", "--ray", ray_cluster.address,
                                      NEWSSEARCH_RAY_MODEL_PATH=str(other)))
    assert code == 2, err
    message = next(line for line in err.splitlines() if line.startswith("error:"))
    assert message.startswith("error: worker ") and "is not the driver's" in message and "refusing" in message
    assert not layout.current_version(data_dir / "index") and not cache_writes(data_dir)


def files_digest(data_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*")  # the job lock names its last holder: not the archive
                       if p.is_file() and "models" not in p.parts and p.name != "nightly.lock"):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_an_unusable_cluster_gets_one_line_and_exit_2_and_the_archive_is_untouched(model_dir, demo_settings,
                                                                                  tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(demo_settings.data_dir, data_dir, symlinks=True)
    before = files_digest(data_dir)

    def refused(address: str, *args: str) -> str:
        for command in ("build", "nightly", "update"):  # update refuses before it crawls anything
            code, _, err = finish(indexer_cli(data_dir, command, *args, NEWSSEARCH_RAY_ADDRESS=address))
            lines = [line for line in err.splitlines() if line.startswith("error:")]
            assert code == 2 and len(lines) == 1, err
            assert files_digest(data_dir) == before
        return lines[0]

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in refused(f"127.0.0.1:{port}")

    head_only, _ = start_cluster([])
    try:
        assert "has 0 CPUs and no GPU" in refused(head_only.address)
        # The cluster says it runs another Ray: rewrite the metadata its head recorded at start,
        # which every joining driver checks against its own version.
        from ray._common.usage.usage_constants import CLUSTER_METADATA_KEY
        from ray._private import ray_constants
        from ray._raylet import GcsClient

        gcs = GcsClient(address=head_only.address)
        metadata = json.loads(gcs.internal_kv_get(CLUSTER_METADATA_KEY, namespace=ray_constants.KV_NAMESPACE_CLUSTER))
        metadata["ray_version"] = "2.0.0"
        gcs.internal_kv_put(CLUSTER_METADATA_KEY, json.dumps(metadata).encode(), True,
                            namespace=ray_constants.KV_NAMESPACE_CLUSTER)
        line = refused(head_only.address)
        assert "Ray version mismatch" in line and "2.0.0" in line
    finally:
        head_only.shutdown()


def test_without_an_address_ray_is_not_imported(tmp_path):
    script = """
import sys
from indexer import models, store
from indexer.config import load_settings
from indexer.pipeline import build_index
from fixtures.hashed import HashedEmbedder
settings = load_settings({"data_dir": sys.argv[1], "model": HashedEmbedder().model_id})
conn = store.connect(settings.db_path)
store.upsert_article(conn, models.Article(url="https://u.example.vn/1", source="s", title="Phòng chống thiên tai", body="Bão lũ năm 2021."))
conn.close()
print(build_index(settings, embedder=HashedEmbedder()).embedded, "ray" in sys.modules)
"""
    env = {**os.environ}
    env.pop("NEWSSEARCH_RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["1", "False"], done.stderr
