"""Several machines, on 127.0.0.1: a primary publishes, two replicas (gunicorn, each its own data
dir) pull from it through nginx (the shipped deploy/nginx.conf), nginx balances a search loop
over them. Zero failed requests through a publish, a pull and a corrupt pull; through a kill -9,
none but the responses the killed replica had begun to send (nginx passes a response on as it
comes, so it cannot retry one it has started)."""
import re
import shutil
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from fixtures.cluster import NGINX, SHIPPED, Cluster, Load, get_json, publish_new_version
from fixtures.load import prepare_data_dir
from fixtures.pages import write_pages
from indexer.version import layout
from service import create_app

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason="nginx is missing: `make test` installs it (Debian package nginx)")

NEW_STORIES = [{"id": f"lu-quet-{i}", "title": f"Khắc phục hậu quả lũ quét tại xã Minh Sơn đợt {i}",
                "sapo": "Ban chỉ huy phòng chống thiên tai huyện chỉ đạo khắc phục hậu quả lũ quét.",
                "body": "Lực lượng dân quân giúp dân dọn dẹp nhà cửa.\nHuyện hỗ trợ gạo cho các hộ bị thiệt hại."}
               for i in range(3)]
QUERIES = ["phòng chống thiên tai 2021", "lu quet Minh Son", "nông thôn mới", "giao nhận quân"]


def comparable(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "took_ms"}


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_replicas_behind_nginx_pull_switch_survive_a_kill_and_refuse_a_corrupt_pull(demo_settings, tmp_path):
    primary = tmp_path / "primary"
    prepare_data_dir(demo_settings.data_dir, primary, "http://127.0.0.1:9")
    old = layout.current_version(primary / "index")
    write_pages(NEW_STORIES, tmp_path / "new-pages")
    with Cluster(primary, tmp_path / "cluster", replicas=2) as cluster:
        assert [cluster.health(i)["index_version"] for i in range(2)] == [old, old]
        load = Load(cluster.base, clients=8)
        with load as run:
            time.sleep(1)
            new = publish_new_version(primary, tmp_path / "new-pages")
            assert new != old
            # A corrupt copy of the new version (one flipped byte in its new FAISS segment): refused.
            share = tmp_path / "corrupt-share"
            shutil.copytree(primary / "index", share)
            flip_a_byte(layout.segment_files(layout.versions_dir(share) / new)[-1])
            refused = cluster.pull(0, str(share))
            assert refused.returncode == 6 and "does not match its manifest" in refused.stderr
            assert layout.current_version(cluster.data[0] / "index") == old
            assert cluster.health(0)["index_version"] == old
            # The real pull: only what the replica lacks is copied, and both replicas switch.
            pulls = [cluster.pull(i) for i in range(2)]
            assert all(p.returncode == 0 and "linked from local versions" in p.stdout for p in pulls), pulls
            assert all(cluster.wait_for_version(i, new) for i in range(2))
            time.sleep(1)
            killed_at = time.monotonic()
            cluster.kill(1)
            time.sleep(3)  # nginx retries on the live replica, then leaves the dead one out
        cut = run.failures["cut short"]
        assert run.failed == cut, (run.summary(), run.examples)  # nothing else failed, at any moment
        assert cut <= cluster.workers * cluster.threads, run.summary()  # at most what it was answering
        assert all(at >= killed_at for at in run.cut_short_at), run.summary()  # only by the kill
        assert set(run.by_version) == {old, new} and run.by_version[new] > 0, run.summary()
        # nginx still answers, from the replica left; its health says which version it serves.
        assert get_json(f"{cluster.base}/api/health")["index_version"] == new
        # No response header names a replica's address; /metrics answers the allowed network (here
        # 127.0.0.1, in place of the shipped 10.0.0.0/24) and nobody else.
        with urllib.request.urlopen(f"{cluster.base}/api/health", timeout=30) as response:
            assert not any(str(port) in value for port in cluster.ports for value in response.headers.values())
            assert "X-Upstream" not in response.headers
        with urllib.request.urlopen(f"{cluster.base}/metrics", timeout=30) as response:
            assert b"newssearch" in response.read()
        metrics = re.search(r"location = /metrics \{(.*?)\n    \}", SHIPPED.read_text(), re.S).group(1)
        assert "deny all;" in metrics and "allow 10.0.0.0/24;" in metrics
        # A replica gives exactly the primary's answers for the same version.
        reference = create_app({"data_dir": primary, "model": ""}).test_client()
        for text in QUERIES:
            for mode in ("hybrid", "lexical", "semantic"):
                path = "/api/search?" + urlencode({"q": text, "mode": mode, "explain": 1})
                expected = reference.get(path).get_json()
                assert expected["index_version"] == new and expected["total"] > 0
                assert comparable(get_json(f"http://127.0.0.1:{cluster.ports[0]}{path}")) == comparable(expected)
        first = reference.get("/api/search?q=lũ quét Minh Sơn").get_json()["results"][0]
        assert first["title"].startswith("Khắc phục hậu quả lũ quét")
        assert not (cluster.data[0] / "archive.sqlite3").exists()  # a replica holds versions, not the archive
