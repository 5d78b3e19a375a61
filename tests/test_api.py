"""The JSON API and the pages, through Flask's test client."""
import pytest


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
    assert set(article) == {"id", "url", "source", "title", "summary", "body", "author", "published_at", "category"}
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
    for path in ("/api/articles/999999", "/api/nothing-here"):
        r = client.get(path)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_search_page_renders_results_without_javascript(client):
    r = client.get("/", query_string={"q": "phòng chống thiên tai 2021"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'value="phòng chống thiên tai 2021"' in html
    assert "<mark>thiên</mark>" in html and "/articles/" in html
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in r.headers[
        "Content-Security-Policy"]


def test_search_page_shows_errors_in_the_page(client):
    r = client.get("/?q=x&from=hôm+qua")
    assert r.status_code == 400 and "không phải" not in r.get_data(as_text=True)
    assert "not a valid date" in r.get_data(as_text=True)


def test_article_page_highlights_the_matched_passage(client):
    hit = client.get("/api/search?q=dang van quang&per_page=1").get_json()["results"][0]
    r = client.get(f"/articles/{hit['id']}?q=dang+van+quang&p={hit['passage_id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="match"' in html and "<mark>Đặng</mark>" in html


def test_query_is_escaped_in_the_page(client):
    r = client.get("/", query_string={"q": '<script>alert(1)</script>"onerror='})
    html = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
