"""Places: recognised in articles and queries, resolved by context or left out, the same area under
its names before and after the reorganisation of 1 July 2025 (real merges: Hà Giang into Tuyên
Quang, Quảng Nam into Đà Nẵng), and a filter, a facet and a boost in every search mode."""
import csv
import io
import json
from dataclasses import replace

import feedparser
import pytest

from indexer import models, place_mentions, places, store
from indexer.store import migrations
from indexer.version import layout
from service.search import rank


@pytest.fixture()
def conn(tmp_path):
    return store.connect(tmp_path / "archive.sqlite3")


def units(text, day=None, home=None):
    return [m.unit for m in place_mentions.recognise(text, day, home)]


def test_a_prefixed_name_is_resolved_by_the_unit_named_after_it():
    assert units("Lũ quét ở xã Minh Sơn, huyện Hữu Lũng, tỉnh Lạng Sơn.") == [
        "o/tinhlangson/huyenhuulung/xaminhson", "o/tinhlangson/huyenhuulung", "n/tinhlangson"]
    assert units("Lũ quét ở xã Minh Sơn, huyện Đô Lương.")[0] == "o/tinhnghean/huyendoluong/xaminhson"
    assert units("Mưa lớn tại huyện Châu Thành, tỉnh An Giang.") == ["o/tinhangiang/huyenchauthanh", "o/tinhangiang"]


def test_a_name_many_units_share_is_not_guessed_without_context():
    assert units("Lũ quét ở xã Minh Sơn.") == []  # eight communes were named Minh Sơn
    assert units("Mưa lớn tại huyện Châu Thành.") == []  # ten districts
    assert units("Lũ quét ở xã Minh Sơn.", home="Lạng Sơn") == ["o/tinhlangson/huyenhuulung/xaminhson"]
    assert units("Lũ quét ở xã Minh Sơn.", home="Nghệ An") == []  # Đô Lương and Thanh Chương both had one
    assert units("Họp tại huyện Châu Thành.\n\nTỉnh An Giang chỉ đạo.") == [
        "o/tinhangiang/huyenchauthanh", "o/tinhangiang"]  # the article's other places are context


def test_people_oceans_abbreviations_and_common_words_are_not_places():
    text = ("Ông Nguyễn Thái Bình nói về Thái Bình Dương. Chủ tịch Hồ Chí Minh. ẢNH: HẢI DƯƠNG. "
            "Giữ gìn hòa bình. Phát triển xã hội. Quan Âm Thị Kính.")
    assert units(text) == []
    assert units("Chủ tịch UBND tỉnh Nghệ An Nguyễn Đức Trung phát biểu.") == ["n/tinhnghean"]
    assert units("Tại Thái Bình, mưa lớn.") == ["o/tinhthaibinh"]  # a sentence's first word is no name
    assert units("TP.HCM và TP Hồ Chí Minh") == ["o/thanhphohochiminh"] * 2


def test_lists_chains_and_a_district_named_before_its_province():
    assert units("Các xã Hòa Sơn, Minh Sơn và Tân Sơn của huyện Đô Lương.") == [
        "o/tinhnghean/huyendoluong/xahoason", "o/tinhnghean/huyendoluong/xaminhson",
        "o/tinhnghean/huyendoluong/xatanson", "o/tinhnghean/huyendoluong"]
    assert units("trú tại xã Cẩm Quan, Cẩm Xuyên, Hà Tĩnh") == [
        "o/tinhhatinh/huyencamxuyen/xacamquan", "o/tinhhatinh/huyencamxuyen", "n/tinhhatinh"]
    assert units("ở Hoài Đức, Hà Nội") == ["o/thanhphohanoi/huyenhoaiduc", "n/thanhphohanoi"]
    assert units("ở Hoài Đức.") == []  # a bare district name needs its province after it
    assert units("Ngân hàng chi nhánh Đắk Lắk- Đắk Nông") == ["o/tinhdaklak",
                                                               "o/tinhdaknong"]


def test_abbreviated_prefixes_and_districts_that_changed_kind():
    assert units("ngụ Q.Gò Vấp, TP.HCM") == ["o/thanhphohochiminh/quangovap", "o/thanhphohochiminh"]
    assert units("P. Phú Thủy, TP Phan Thiết") == [
        "o/tinhbinhthuan/thanhphophanthiet/phuongphuthuy", "o/tinhbinhthuan/thanhphophanthiet"]
    # huyện Kim Bảng became a thị xã in 2024; articles from before still say huyện.
    assert units("Công an huyện Kim Bảng đã có mặt.") == ["o/tinhhanam/thixakimbang"]


def test_the_era_of_the_article_decides_which_province_a_kept_name_is():
    assert units("Mưa lớn ở tỉnh Tuyên Quang.", "2024-05-01") == ["o/tinhtuyenquang"]
    assert units("Mưa lớn ở tỉnh Tuyên Quang.", "2025-08-01") == ["n/tinhtuyenquang"]
    assert units("Sạt lở tại xã Minh Ngọc, tỉnh Tuyên Quang.", "2026-01-05") == [
        "n/tinhtuyenquang/xaminhngoc", "n/tinhtuyenquang"]
    # A province the reform left alone is one place in both eras.
    assert units("Nghệ An", "2020-01-01") == units("Nghệ An", "2026-01-01") == ["n/tinhnghean"]


def test_old_and_new_names_of_the_same_area_are_one_place_both_ways():
    # 2026 province → the old provinces merged into it (real merges of 1 July 2025).
    assert {"o/tinhhagiang", "o/tinhtuyenquang"} <= set(places.same_place(["n/tinhtuyenquang"]))
    assert set(places.same_place(["n/thanhphodanang"])) == {"n/thanhphodanang", "o/thanhphodanang", "o/tinhquangnam"}
    assert {"o/tinhhaugiang", "o/tinhsoctrang"} <= set(places.same_place(["n/thanhphocantho"]))
    # An abolished name → the new communes formed from its communes, not the whole new province.
    ha_giang = set(places.same_place(["o/tinhhagiang"]))
    assert "n/tinhtuyenquang/xaminhngoc" in ha_giang and "n/tinhtuyenquang" not in ha_giang
    assert "o/tinhtuyenquang" not in ha_giang
    # A new commune ↔ the old communes it was formed from (Yên Định of Bắc Mê was divided).
    assert "o/tinhhagiang/huyenbacme/xayendinh" in places.same_place(["n/tinhtuyenquang/xaminhngoc"])
    assert places.same_place(["n/tinhnghean"]) == ("n/tinhnghean",)
    assert places.label("o/tinhhagiang") == "Hà Giang (trước 7/2025)"
    assert places.label("n/tinhtuyenquang") == "Tuyên Quang (từ 7/2025)"
    assert places.label("o/tinhnghean/huyendoluong") == "huyện Đô Lương, Nghệ An (trước 7/2025)"
    assert places.label("n/tinhnghean") == "Nghệ An"


def test_an_article_is_about_the_places_of_its_head_and_those_named_twice():
    about = place_mentions.article_places("Hội nghị ở huyện Đô Lương", "", "UBND tỉnh Hà Tĩnh và tỉnh Lạng Sơn "
                                  "gửi thư. Tỉnh Lạng Sơn cảm ơn.", "2021-01-01")
    assert about == {"o/tinhnghean/huyendoluong": 1, "n/tinhnghean": 1, "n/tinhlangson": 2}


@pytest.mark.parametrize(("query", "expected"), [
    ("phòng chống thiên tai Nghệ An 2021", ("n/tinhnghean",)),
    ("thien tai nghe an 2021", ("n/tinhnghean",)),
    ("lũ quét Tuyên Quang", ("n/tinhtuyenquang",)),   # a name both eras use: today's province
    ("lu quet ha giang", ("o/tinhhagiang",)),
    ("bảo vệ hòa bình", ()),                          # peace, not the province
    ("tỉnh Hòa Bình", ("o/tinhhoabinh",)),
    ("huyen do luong", ("o/tinhnghean/huyendoluong",)),
    ("xã Minh Sơn", ()),                              # eight communes: not guessed
    ("xã Minh Sơn huyện Đô Lương", ("o/tinhnghean/huyendoluong/xaminhson", "o/tinhnghean/huyendoluong")),
    ("an sinh xã hội", ()),
])
def test_places_named_in_a_query(query, expected):
    assert places.query_places(query) == expected


# --- in the archive and the search ------------------------------------------------------------

def dated(url, title, body, day, source="s"):
    return models.Article(url=url, source=source, title=title, body=body, published_at=f"{day}T08:00:00+07:00")


ARCHIVE = [
    dated("https://u.example.vn/1", "Lũ quét ở huyện Bắc Mê, tỉnh Hà Giang", "Lũ quét gây thiệt hại nặng cho bà con.", "2020-07-10"),
    dated("https://u.example.vn/2", "Sạt lở tại xã Minh Ngọc, tỉnh Tuyên Quang", "Lũ quét và sạt lở đất làm hư hỏng nhà.", "2026-01-05"),
    dated("https://u.example.vn/3", "Mưa lớn ở tỉnh Tuyên Quang", "Lũ quét làm ngập ruộng lúa của bà con.", "2021-06-02"),
    dated("https://u.example.vn/4", "Lũ quét ở tỉnh Nghệ An", "Lũ quét gây thiệt hại nặng cho bà con.", "2021-06-03"),
    dated("https://u.example.vn/5", "Bão đổ bộ tỉnh Quảng Nam", "Lũ quét, bão lớn làm tốc mái nhà dân.", "2019-10-30"),
    # Stories without a place, so that "lũ quét" is not too common a pair of words to match.
    *(dated(f"https://u.example.vn/{n}", f"Hội nghị tổng kết công tác năm {year}", "Hội nghị tổng kết công tác dân vận, "
            "triển khai nhiệm vụ năm mới.", f"{year}-12-20") for n, year in zip(range(6, 26), range(2000, 2020))),
]


def test_the_place_filter_admits_a_place_under_all_its_names_in_every_mode(make_archive):
    from service.search import Query

    engine = make_archive(ARCHIVE)
    engine.params = replace(engine.params, boundary=False)  # what the filter admits, whichever the boundary keeps
    def found(mode, *keys):
        result = engine.search(Query("lũ quét", mode=mode, filters=models.Filters(places=keys), per_page=50))
        return {h.id for h in result.hits}

    for mode in ("hybrid", "lexical", "semantic"):
        assert found(mode, "n/tinhtuyenquang") == {1, 2, 3}, mode  # new province ← Hà Giang and old Tuyên Quang
        assert found(mode, "o/tinhhagiang") == {1, 2}, mode        # Hà Giang → the new commune formed from it
        assert found(mode, "n/thanhphodanang") == {5}, mode        # Đà Nẵng ← Quảng Nam
        assert found(mode, "n/tinhnghean", "o/tinhquangnam") == {4, 5}, mode


def test_a_place_in_the_query_boosts_its_articles_and_explains_it(make_archive):
    from service.search import Query

    engine = make_archive(ARCHIVE)
    for mode in ("hybrid", "lexical", "semantic"):
        plain = engine.search(Query("lũ quét", mode=mode, explain=True, per_page=50))
        assert all(h.explanation.place_factor == 1 for h in plain.hits)
        named = engine.search(Query("lũ quét Hà Giang", mode=mode, explain=True, per_page=50))
        boosted = {h.id for h in named.hits if h.explanation.place_factor == rank.DEFAULT.place_boost}
        assert boosted == {1, 2}, mode
        assert named.parsed.places == ("o/tinhhagiang",)
        today = engine.search(Query("lu quet da nang", mode=mode, explain=True, per_page=50))
        assert {h.id for h in today.hits if h.explanation.place_factor > 1} == {5}, mode
        without = engine.search(Query("lũ quét Hà Giang", mode=mode, per_page=50))
        assert [h.id for h in without.hits] == [h.id for h in named.hits]  # explain changes nothing


def test_the_api_and_pages_show_filter_and_explain_places(make_archive, fake_embedder):
    from service import create_app

    engine = make_archive(ARCHIVE)
    app = create_app(engine.settings, embedder=fake_embedder)
    served = app.extensions["engine"]
    served.params = replace(served.params, boundary=False)  # the filter's articles, whichever the boundary keeps
    client = app.test_client()
    body = client.get("/api/search?q=lũ quét Tuyên Quang&explain=true").get_json()
    assert body["query_places"] == [{"key": "n/tinhtuyenquang", "label": "Tuyên Quang (từ 7/2025)"}]
    facet = {p["key"]: p for p in body["facets"]["places"]}
    assert facet["o/tinhtuyenquang"]["count"] == 1 and facet["o/tinhhagiang"]["label"] == "Hà Giang (trước 7/2025)"
    assert {r["id"] for r in body["results"] if r["explain"]["place_factor"] > 1} == {1, 2, 3}
    filtered = client.get("/api/search?q=lũ quét&place=o/tinhhagiang").get_json()
    assert {r["id"] for r in filtered["results"]} == {1, 2}
    bad = client.get("/api/search?q=lũ quét&place=nowhere")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "place"
    feed = feedparser.parse(client.get("/search.atom?q=lũ quét&place=o/tinhhagiang").get_data())
    assert sorted(entry.link.split("?")[0] for entry in feed.entries) == [
        "/articles/1", "/articles/2"]  # relative: this app has no NEWSSEARCH_PUBLIC_URL
    rows = list(csv.DictReader(io.StringIO(client.get("/search.csv?q=lũ quét&place=o/tinhhagiang").get_data(as_text=True))))
    assert sorted(row["url"] for row in rows) == ["https://u.example.vn/1", "https://u.example.vn/2"]
    assert client.get("/search.atom?q=lũ quét&place=nowhere").status_code == 400
    assert [p["key"] for p in client.get("/api/articles/1").get_json()["places"]] == [
        "o/tinhhagiang", "o/tinhhagiang/huyenbacme"]
    page = client.get("/?q=lũ quét Tuyên Quang").get_data(as_text=True)
    assert "Ưu tiên bài về: <em>Tuyên Quang (từ 7/2025)</em>" in page and "Về địa danh trong câu hỏi" in page
    assert 'href="/?q=l%C5%A9+qu%C3%A9t+Tuy%C3%AAn+Quang&amp;place=o/tinhhagiang"' in page
    chosen = client.get("/?q=lũ quét&place=o/tinhhagiang").get_data(as_text=True)
    assert 'class="chosen">Hà Giang (trước 7/2025)' in chosen and 'name="place" value="o/tinhhagiang"' in chosen
    assert "Địa danh: Hà Giang (trước 7/2025) · huyện Bắc Mê" in client.get("/articles/1").get_data(as_text=True)


def places_of(conn, article_ids):
    out = {}
    for aid, place in conn.execute(f"SELECT article_id, place FROM article_places WHERE article_id IN "
                                   f"({','.join('?' * len(article_ids))})", article_ids):
        out.setdefault(aid, set()).add(place)
    return out


def test_the_source_province_resolves_and_a_migration_finds_places_of_an_older_archive(conn):
    aid, _ = store.upsert_article(conn, dated("https://u.example.vn/1", "Lũ quét ở xã Minh Sơn", "Thiệt hại lớn.", "2021-01-01"),
                                  home_province="Lạng Sơn")
    assert places_of(conn, [aid]) == {aid: {"o/tinhlangson/huyenhuulung/xaminhson", "o/tinhlangson/huyenhuulung",
                                                  "n/tinhlangson"}}
    other, _ = store.upsert_article(conn, dated("https://u.example.vn/2", "Họp ở tỉnh Nghệ An", "Nội dung.", "2021-01-01"))
    conn.execute("DELETE FROM article_places")
    migrations.STEPS["recognise_places"](conn)
    assert places_of(conn, [aid, other]) == {other: {"n/tinhnghean"}}  # no source province: not guessed


def test_a_source_with_an_unknown_province_is_refused(tmp_path):
    from indexer.crawl.sources import SourcesError, load_sources

    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "a"\nbase_url = "http://127.0.0.1/"\nstart_urls = ["http://127.0.0.1/"]\n'
                    'province = "Thừa Thiên Huế"\n')
    assert load_sources(path)[0].province == "Thừa Thiên Huế"
    path.write_text(path.read_text().replace("Thừa Thiên Huế", "Atlantis"))
    with pytest.raises(SourcesError, match="names no Vietnamese province"):
        load_sources(path)


def test_versions_carry_places_patched_or_built_before_them(make_archive, fake_embedder):
    from indexer.pipeline import build_index
    from service.search import Query

    engine = make_archive(ARCHIVE[:2])
    settings = engine.settings
    conn = store.connect(settings.db_path)
    store.upsert_article(conn, ARCHIVE[4])
    conn.close()
    report = build_index(settings, embedder=fake_embedder)
    assert report.method.startswith("patched")
    hits = engine.search(Query("lũ quét", filters=models.Filters(places=("n/thanhphodanang",)), mode="lexical"))
    assert [h.id for h in hits.hits] == [3]
    # A version whose places another gazetteer recognised is rebuilt whole.
    manifest_path = layout.versions_dir(settings.index_root) / report.version / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["lexical"]["places"] = "0:an-older-gazetteer"
    manifest_path.write_text(json.dumps(manifest))
    assert build_index(settings, embedder=fake_embedder).method.startswith("full (places recognised anew")
