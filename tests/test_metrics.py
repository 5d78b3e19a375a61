"""/metrics under gunicorn adds up every worker's counts: one scrape gives the machine's totals."""
import re
import shutil
import urllib.request

from fixtures.servers import free_port, gunicorn_command, start_server


def count(text: str, endpoint: str, status: str) -> float:
    found = re.search(rf'^newssearch_requests_total{{endpoint="{endpoint}",status="{status}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_one_scrape_counts_the_requests_of_every_gunicorn_worker(demo_settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_settings.data_dir, data, symlinks=True)
    port = free_port()
    env = {"NEWSSEARCH_DATA_DIR": str(data), "NEWSSEARCH_MODEL": "", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    server = start_server(port, env, gunicorn_command(port, workers=2, threads=2))
    base = f"http://127.0.0.1:{port}"
    try:
        for i in range(40):  # new connections each: the kernel spreads them over both workers
            urllib.request.urlopen(f"{base}/api/search?q=thi%C3%AAn+tai&page={1 + i % 3}", timeout=60).read()
        for _ in range(6):  # whichever worker answers the scrape, it reports both workers' totals
            text = urllib.request.urlopen(f"{base}/metrics", timeout=60).read().decode()
            assert count(text, "api.search", "200") == 40.0
            assert re.search(r'^newssearch_index_info\{version="\d{8}T\d+Z",pid="\d+"\} 1$', text, re.M)
            assert 'newssearch_request_seconds_count{endpoint="api.search"} 40.0' in text
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert len(list((tmp_path / "prom").glob("*.db"))) >= 2  # both workers wrote their counts
