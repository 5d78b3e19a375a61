"""Hostile clients: whatever a request's parameters and headers hold, the service answers 2xx, 3xx or
a clear 4xx, builds its links from validated parameters only, and writes well-formed XML."""
import random
from xml.etree import ElementTree as ET

import pytest

from service.exports import xml_text

FLASK_OWN = ("_anchor", "_scheme", "_method", "_external", "endpoint", "values")


@pytest.mark.parametrize("path", ["/", "/search.atom", "/search.csv", "/api/search"])
@pytest.mark.parametrize("name", FLASK_OWN)
def test_url_for_keywords_in_the_query_string_are_ignored(client, path, name):
    r = client.get(f"{path}?q=thiên tai&{name}=x")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert f"{name}=" not in r.get_data(as_text=True)  # never carried into a link


@pytest.mark.parametrize("value", ["²", "٣", " 5", "5 ", "1_0", "+3", "-1", "0", "1e1", "0x5", "99999999999"])
def test_integer_parameters_take_ascii_digits_only(client, value):
    r = client.get(f"/api/articles/1/similar?limit={value}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "limit"
    r = client.get(f"/api/search?q=bão&page={value}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "page"
    assert client.get("/api/articles/1/similar?limit=21").status_code == 400
    assert client.get("/api/articles/1/similar?limit=3").status_code == 200


def test_noncharacters_are_refused_in_queries_and_never_reach_xml(client):
    r = client.get("/search.atom?q=%EF%BF%BF%20tin")
    assert r.status_code == 400 and "noncharacters" in r.get_json()["error"]["message"]
    assert xml_text("bão\uffff lũ\ufffe\x00\x1b số 9\U0001F600") == "bão lũ số 9\U0001F600"
    ET.fromstring(f"<t>{xml_text('a' + chr(0xFFFF) + chr(0xD800) + 'b')}</t>".encode("utf-8", "surrogatepass"))


def test_feeds_and_exports_never_echo_the_host_header(client, demo_settings):
    from dataclasses import replace

    from service import create_app

    for path in ("/search.atom?q=thiên tai", "/search.csv?q=thiên tai"):
        body = client.get(path, headers={"Host": "evil.example:666"}).get_data(as_text=True)
        assert "evil.example" not in body and "/articles/" in body
    public = create_app(replace(demo_settings, public_url="https://tintuc.huyen.gov.vn/")).test_client()
    feed = public.get("/search.atom?q=thiên tai", headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in feed and "https://tintuc.huyen.gov.vn/articles/" in feed
    assert "<id>https://tintuc.huyen.gov.vn/search.atom?q=" in feed
    with pytest.raises(ValueError, match="NEWSSEARCH_PUBLIC_URL"):
        replace(demo_settings, public_url="javascript:alert(1)")


HOSTILE_VALUES = ["", " ", "0", "1", "-1", "²", "٣", "1e9", "99999999999999999999", "true", "x", "../../etc/passwd",
                  "%", "%%", "<script>alert(1)</script>", "'\"", "\uffff", "\ufffe", "\x00", "\x1b[31m",
                  "a" * 400, "thiên tai", "phong chong thien tai 2021", '"phòng chống', "2021-02-30", "2021-13-01",
                  "9999-12-31", "0001-01-01", "o/tinhhagiang", "nowhere", "date", "relevance", "hybrid",
                  "semantic", "lexical", "minhson", "⁉️🌧", "𝟐𝟎𝟐𝟏", "NaN", "inf", "None", "[]", "{}", "\\",
                  "\u202etai thien", "tháng trước", "năm ngoái"]
PARAMS = ["q", "page", "per_page", "from", "to", "source", "place", "sort", "mode", "explain", "collapse", "limit",
          "p", *FLASK_OWN, "callback", "format"]


def test_a_fuzz_of_every_routes_parameters_never_gets_a_5xx(app, client):
    """Every GET route of the app (ids existing, missing and huge), 2,400 requests of 1–4 parameters
    with hostile values, and hostile headers: no answer is a 5xx."""
    rng = random.Random(30)
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        ids = ["1", "40", "0", "999999999", "99999999999999999999"] if "<int:article_id>" in rule.rule else [""]
        paths += [rule.rule.replace("<int:article_id>", i) for i in ids]
    assert {"/", "/api/search", "/search.atom", "/search.csv", "/metrics", "/api/health"} <= set(paths)
    failures = []
    for n in range(2400):
        path = paths[n % len(paths)]
        args = [(rng.choice(PARAMS), rng.choice(HOSTILE_VALUES)) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:  # most of the time a real query, so the search runs past its validation
            args.append(("q", rng.choice(["thiên tai", "bão", "xyzzy", "phòng chống thiên tai 2021"])))
        headers = {"Host": rng.choice(["localhost", "evil.example", "a" * 300, "[::1]:80"]),
                   "Accept": rng.choice(["*/*", "application/json", "text/html;q=0,*/*;q=x"]),
                   "Accept-Language": rng.choice(["vi", "x" * 500, ""])}
        if n % 10 == 0:  # bytes that are no UTF-8, a lone surrogate's, truncated and bare escapes
            r = client.get(f"{path}?q=%ED%A0%80%FF&{rng.choice(PARAMS)}=%C3%28%&page=%", headers=headers)
        else:
            r = client.get(path, query_string=args, headers=headers)
        if r.status_code >= 500:
            failures.append((path, args, r.status_code))
    assert not failures, failures[:5]


def test_conditional_get_answers_304_until_a_new_version_is_served(client, engine, monkeypatch):
    first = client.get("/api/search?q=thiên tai")
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/api/search?q=thiên tai", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/api/search?q=bão", headers={"If-None-Match": tag}).status_code == 200  # another request
    page = client.get("/?q=thiên+tai")
    assert client.get("/?q=thiên+tai", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    monkeypatch.setattr(type(engine), "served_version", lambda self: "a-newer-version")
    assert client.get("/api/search?q=thiên tai", headers={"If-None-Match": tag}).status_code == 200
    for uncached in ("/api/health", "/metrics"):
        response = client.get(uncached)
        assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers
    assert client.get("/metrics").headers["Content-Type"].count("charset") == 1


def test_cors_preflights_are_answered_whole_and_caches_told_the_origin_matters(demo_settings):
    from dataclasses import replace

    from service import create_app

    assert "Origin" in create_app(demo_settings).test_client().get("/api/sources").headers.get("Vary", "")
    allowed = create_app(replace(demo_settings, cors_origins="https://x.example")).test_client()
    preflight = allowed.options("/api/search", headers={"Origin": "https://x.example",
                                                        "Access-Control-Request-Method": "GET",
                                                        "Access-Control-Request-Headers": "If-None-Match"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://x.example"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "If-None-Match"
    other = allowed.get("/api/sources", headers={"Origin": "https://y.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]


@pytest.mark.parametrize("path", ["/api/articles/abc", "/api/articles/1e3/similar", "/api/articles/-1"])
def test_a_malformed_article_id_is_a_400_naming_it(client, path):
    r = client.get(path)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "article_id"


def test_the_page_speaks_vietnamese_keeps_its_state_and_its_urls_clean(client):
    for query, message in (({"q": "bão", "per_page": "99"}, "“Số kết quả mỗi trang” phải từ 1 đến 50"),
                           ({"q": "bão", "from": "2021-05-01", "to": "2021-01-01"}, "“Từ ngày” ở sau “Đến ngày”"),
                           ({"q": "bão", "from": "hôm kia"}, "“Từ ngày” không phải một ngày")):
        page = client.get("/", query_string=query)
        assert page.status_code == 400 and message in page.get_data(as_text=True)
    api = client.get("/api/search", query_string={"q": "bão", "per_page": "99"}).get_json()
    assert api["error"]["message"] == "'per_page' must be between 1 and 50"  # the API keeps its English
    # a submitted form's empty fields are dropped by one redirect
    submitted = client.get("/?q=thi%C3%AAn+tai&from=&to=&source=&sort=relevance")
    assert submitted.status_code == 303
    assert submitted.headers["Location"].endswith("/?q=thi%C3%AAn+tai&sort=relevance")
    # a result links its page with the whole search, and the page links back to it
    search = {"q": "thiên tai", "sort": "date", "page": "1", "mode": "hybrid"}
    html = client.get("/", query_string=search).get_data(as_text=True)
    link = html.split('<h2><a href="')[1].split('"')[0].replace("&amp;", "&")
    assert "sort=date" in link and "mode=hybrid" in link
    article = client.get(link.split("#")[0]).get_data(as_text=True)
    back = article.split('<p class="back"><a href="')[1].split('"')[0].replace("&amp;", "&")
    assert "sort=date" in back and "mode=hybrid" in back and "p=" not in back


def test_one_place_chip_removes_one_place(app):
    from service.templating import url_without

    with app.test_request_context("/?q=lũ&place=o/tinhhagiang&place=n/tinhtuyenquang&page=2"):
        url = url_without("place", "o/tinhhagiang")
    assert "place=n/tinhtuyenquang" in url and "tinhhagiang" not in url and "page=" not in url
