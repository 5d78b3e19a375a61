"""schemathesis against /api/openapi.json on a live loopback server: no 5xx, no schema violations."""
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_openapi_document_lists_every_route(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and set(doc["paths"]) == {
        "/api/search", "/api/articles/{article_id}", "/api/articles/{article_id}/similar", "/api/suggest", "/api/sources",
        "/api/health"}


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(live_server, tmp_path):
    run = subprocess.run(
        [str(BIN / "st"), "run", f"{live_server}/api/openapi.json", "--checks",
         "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
         "--max-examples", "25", "--seed", "7", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    summary = [line for line in run.stdout.splitlines() if "generated" in line or "issues" in line.lower()]
    print("\n".join(summary))
    assert run.returncode == 0, run.stdout[-4000:]
    assert "No issues found" in run.stdout
