"""The JSON API and the pages, through Flask's test client."""
import pytest

from indexer import models


def test_search_json_shape(client):
    r = client.get("/api/search", query_string={"q": "phòng chống thiên tai 2021", "per_page": 3})
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert {"query", "total", "took_ms", "results", "page", "per_page", "mode", "facets"} <= set(body)
    assert body["query"] == "phòng chống thiên tai 2021" and body["total"] >= 3 and len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) >= {"id", "url", "title", "published_at", "source", "score", "snippet"}
    assert first["published_at"].startswith("2021-") and "<mark>" in first["snippet"]


def test_article_json(client):
    hit = client.get("/api/search?q=bầu cử&per_page=1").get_json()["results"][0]
    article = client.get(f"/api/articles/{hit['id']}").get_json()
    assert set(article) == {"id", "url", "source", "source_title", "title", "summary", "body", "author",
                            "published_at", "category", "copies", "places"}
    assert article["url"] == hit["url"] and article["published_at"][:10].count("-") == 2


def test_health(client):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["articles"] == 40 and body["passages"] >= 40
    assert body["index_version"] and "e5-small" in body["model"]


@pytest.mark.parametrize(("query", "field"), [
    ("", "q"),
    ("q=%20%20", "q"),
    ("q=" + "a" * 301, "q"),
    ("q=x&per_page=51", "per_page"),
    ("q=x&per_page=0", "per_page"),
    ("q=x&page=abc", "page"),
    ("q=x&from=2021-13-01", "from"),
    ("q=x&from=2022-01-01&to=2021-01-01", "from"),
    ("q=x&sort=popular", "sort"),
    ("q=x&mode=magic", "mode"),
    ("q=x%00y", "q"),
    ("q=x&page=500", "page"),
])
def test_bad_input_is_a_clear_400(client, query, field):
    r = client.get("/api/search?" + query)
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "bad_request" and error["field"] == field and error["message"]


def test_unknown_ids_and_paths_are_json_404(client):
    beyond_sqlite = 10 ** 30  # found by schemathesis: once a 500 (OverflowError in sqlite3)
    for path in ("/api/articles/999999", "/api/nothing-here", f"/api/articles/{beyond_sqlite}",
                 f"/api/articles/{beyond_sqlite}/similar"):
        r = client.get(path)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/articles/{beyond_sqlite}").status_code == 404
    first = client.get("/api/search", query_string={"q": "thiên tai"}).get_json()["results"][0]["id"]
    assert client.get(f"/articles/{first}", query_string={"p": beyond_sqlite}).status_code == 200


def test_search_page_renders_results_without_javascript(client):
    r = client.get("/", query_string={"q": "phòng chống thiên tai 2021"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'value="phòng chống thiên tai 2021"' in html
    assert "thiên tai</mark>" in html and "/articles/" in html
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in r.headers[
        "Content-Security-Policy"]


def test_search_page_shows_errors_in_the_page(client):
    r = client.get("/?q=x&from=hôm+qua")
    assert r.status_code == 400 and "“Từ ngày” không phải một ngày" in r.get_data(as_text=True)  # in Vietnamese
    assert "not a valid date" not in r.get_data(as_text=True)


def test_article_page_highlights_the_matched_passage(client):
    hit = client.get("/api/search?q=dang van quang&per_page=1").get_json()["results"][0]
    r = client.get(f"/articles/{hit['id']}?q=dang+van+quang&p={hit['passage_id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="match"' in html and "<mark>Đặng Văn Quang</mark>" in html


def test_query_is_escaped_in_the_page(client):
    r = client.get("/", query_string={"q": '<script>alert(1)</script>"onerror='})
    html = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_similar_articles(client):
    hit = client.get("/api/search?q=phòng chống thiên tai&per_page=1").get_json()["results"][0]
    body = client.get(f"/api/articles/{hit['id']}/similar?limit=3").get_json()
    assert body["id"] == hit["id"] and len(body["results"]) == 3
    assert hit["id"] not in [r["id"] for r in body["results"]]
    assert "Phòng chống thiên tai" in [r["category"] for r in body["results"]]
    assert client.get(f"/api/articles/{hit['id']}/similar?limit=0").status_code == 400
    assert client.get("/api/articles/999999/similar").status_code == 404


def test_sources(client):
    sources = client.get("/api/sources").get_json()["sources"]
    assert {s["source"]: s["articles"] for s in sources} == {"minhson.example.gov.vn": 22, "phulam.example.gov.vn": 18}


def test_a_portal_is_shown_by_its_own_name(client):
    """Results, filters, feeds and CSV name the portal as its pages do, never by its host name."""
    name = "Cổng thông tin điện tử huyện Phú Lâm"
    assert {s["source"]: s["title"] for s in client.get("/api/sources").get_json()["sources"]} == {
        "minhson.example.gov.vn": "Cổng thông tin điện tử huyện Minh Sơn", "phulam.example.gov.vn": name}
    query = {"q": "bão", "source": "phulam.example.gov.vn"}
    hit = client.get("/api/search", query_string=query).get_json()["results"][0]
    assert hit["source"] == "phulam.example.gov.vn" and hit["source_title"] == name
    page = client.get("/", query_string=query).get_data(as_text=True)
    assert f"· {name}" in page and f">{name} (18)</option>" in page and "· phulam.example.gov.vn" not in page
    empty = client.get("/", query_string={**query, "q": "xyzzy"}).get_data(as_text=True)
    assert f"nguồn {name}" in empty  # "Đang lọc: …" in the empty state
    assert f"<name>{name}</name>" in client.get("/search.atom", query_string=query).get_data(as_text=True)
    header, row = client.get("/search.csv", query_string=query).get_data(as_text=True).splitlines()[:2]
    assert header.split(",")[3:5] == ["source", "source_title"] and f"phulam.example.gov.vn,{name}," in row


def test_invalid_utf8_is_rejected(client):
    r = client.get("/api/search?q=%ff%fe")
    assert r.status_code == 400 and "UTF-8" in r.get_json()["error"]["message"]


def test_cors_is_off_by_default_and_configurable(client, demo_settings):
    from dataclasses import replace

    from service import create_app

    assert "Access-Control-Allow-Origin" not in client.get("/api/health", headers={"Origin": "https://x.example"}).headers
    allowed = create_app(replace(demo_settings, cors_origins="https://x.example")).test_client()
    assert allowed.get("/api/health", headers={"Origin": "https://x.example"}).headers[
        "Access-Control-Allow-Origin"] == "https://x.example"
    assert "Access-Control-Allow-Origin" not in allowed.get("/api/health", headers={"Origin": "https://y.example"}).headers
    assert "Access-Control-Allow-Origin" not in allowed.get("/", headers={"Origin": "https://x.example"}).headers


def test_metrics_in_prometheus_text(client):
    client.get("/api/search?q=bầu cử")
    client.get("/api/search?q=")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'newssearch_requests_total{endpoint="api.search",status="200"}' in text
    assert 'newssearch_requests_total{endpoint="api.search",status="400"}' in text
    assert 'newssearch_request_seconds_bucket{endpoint="api.search",le="+Inf"}' in text
    assert "newssearch_index_info{version=" in text and "newssearch_errors_total 0" in text


def test_no_results_page_helps(client):
    r = client.get("/", query_string={"q": "phòng chống thiên tai 2021", "mode": "lexical", "source": "không-có-nguồn-này"})
    html = r.get_data(as_text=True)
    assert "Không tìm thấy bài viết phù hợp" in html
    assert "phong chong thien tai 2021" in html  # without diacritics
    assert "Bỏ năm/thời gian" in html and "bỏ bộ lọc" in html and "không-có-nguồn-này" in html


def test_article_page_lists_related_articles(client):
    hit = client.get("/api/search?q=bầu cử&per_page=1").get_json()["results"][0]
    html = client.get(f"/articles/{hit['id']}").get_data(as_text=True)
    assert "Bài liên quan" in html and html.count('href="/articles/') >= 3


def test_script_injection_in_an_article_is_escaped(make_archive, fake_embedder):
    from service import create_app

    evil = '<script>alert(1)</script> "onerror=alert(2) <img src=x onerror=alert(3)>'
    engine = make_archive([models.Article(url="https://x.example/evil", source="x", title=f"Tin {evil}",
                                          body=f"Phòng chống thiên tai {evil}. " * 5)])
    client = create_app(engine.settings, fake_embedder).test_client()
    for path in ("/?q=thiên+tai+<script>", "/articles/1?q=<script>"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html
    snippet = client.get("/api/search?q=thiên tai").get_json()["results"][0]["snippet"]
    assert "<script>" not in snippet and "&lt;img src=x onerror=alert(3)&gt;" in snippet


def test_a_version_of_an_earlier_layout_is_a_clear_503_until_rebuilt(make_archive, fake_embedder):
    """The service reads only published versions: the archive's schema is the indexer's business,
    and a version the previous release wrote (before versions held everything) is refused."""
    import json
    import sqlite3

    from indexer.pipeline import build_index
    from indexer.store import migrations
    from indexer.version import layout
    from service import create_app

    engine = make_archive([("Bầu cử", "Cử tri đi bầu cử đại biểu Quốc hội. " * 5)])
    settings = engine.settings
    with sqlite3.connect(settings.db_path) as raw:  # an archive the previous release wrote
        raw.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) - 1}")
    assert create_app(settings, fake_embedder).test_client().get("/api/search?q=bầu cử").status_code == 200
    path = layout.versions_dir(settings.index_root) / layout.current_version(settings.index_root) / layout.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    del manifest["layout"]
    path.write_text(json.dumps(manifest))
    client = create_app(settings, fake_embedder).test_client()
    r = client.get("/api/search?q=bầu cử")
    assert r.status_code == 503 and "indexer build" in r.get_json()["error"]["message"]
    assert client.get("/api/health").get_json()["status"] == "unavailable"
    assert build_index(settings, embedder=fake_embedder).method == "full (previous version of an earlier layout)"
    assert create_app(settings, fake_embedder).test_client().get("/api/search?q=bầu cử").status_code == 200


def test_the_service_is_warm_before_its_first_request(make_archive):
    """create_app loads the served version, runs one query through every stage and compiles the
    templates, so the first reader does not pay for them (bench.api_latency measures the time)."""
    from dataclasses import replace

    from fixtures.hashed import HashedEmbedder
    from service import create_app

    class Counting(HashedEmbedder):
        def __init__(self):
            super().__init__()
            self.asked = []

        def query_future(self, text):
            self.asked.append(text)
            return super().query_future(text)

    settings = make_archive([("Bầu cử", "Cử tri đi bầu cử đại biểu Quốc hội. " * 5)]).settings
    embedder = Counting()
    app = create_app(settings, embedder)
    assert app.extensions["engine"].index.loaded is not None and len(embedder.asked) == 1
    assert {"search.html", "article.html", "error.html"} <= {name for _, name in app.jinja_env.cache}
    nothing = Counting()  # nothing published: nothing to warm, and the service still starts
    empty = create_app(replace(settings, data_dir=settings.data_dir / "empty"), nothing)
    assert empty.test_client().get("/api/health").get_json()["index_version"] is None and not nothing.asked
