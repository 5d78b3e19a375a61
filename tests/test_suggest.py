"""Completions for the search box: what each version holds, how a prefix is answered, the API."""
import json

import pytest

from indexer import models
from indexer.version import layout

BODY = "Nội dung bài viết về hoạt động của địa phương trong năm. " * 4


def titled(*titles, source="s"):
    return [models.Article(url=f"https://tin.example.vn/{source}/{i}", source=source, title=t, body=BODY)
            for i, t in enumerate(titles)]


@pytest.fixture()
def district(make_archive):
    return make_archive(titled(
        "Hội nghị triển khai công tác phòng chống thiên tai năm 2021",
        "Tổng kết công tác phòng chống thiên tai năm 2020",
        "Diễn tập phòng chống thiên tai và tìm kiếm cứu nạn",
        "Tiêm vắc xin Covid-19 cho người dân",
        "Xét nghiệm Covid-19 tại các xã",
        "UBND huyện Anh Sơn họp báo quý III",
        "Ủy ban nhân dân tỉnh Nghệ An chỉ đạo chống hạn",
        "Bị hại trình báo công an"))


def texts(engine, typed, limit=8):
    return [found.text for _, found in engine.suggest(typed, limit)]


def test_a_headline_phrase_completes_without_diacritics_heaviest_first(district):
    assert texts(district, "thien t") == ["thiên tai"]
    assert texts(district, "phong chong")[0] == "phòng chống thiên tai"  # not "phòng chống thiên": it only begins it
    assert "Covid-19" in texts(district, "covid")  # written as the headlines write it
    assert texts(district, "hội nghị") == []  # one headline's wording is no suggestion
    assert not [t for t in texts(district, "b") if t.startswith(("bị", "Bị"))]  # "bị …" is cut mid-thought


def test_the_words_before_the_completed_part_stay_as_typed(district):
    (head, found), *_ = district.suggest("dien tap phong chong th", 8)
    assert (head, found.text) == ("dien tap", "phòng chống thiên tai")
    assert district.suggest("phòng chống thiên tai", 8) == []  # nothing continues a complete phrase


def test_places_of_both_eras_sources_and_abbreviations(make_archive):
    portal = models.Article(url="https://other.example.vn/1", source="other", title="Tin vắn", body=BODY,
                            site_name="Cổng thông tin điện tử huyện Anh Sơn")
    before, after = (models.Article(url=f"https://tin.example.vn/tq/{day}", source="tq", title="Tin tỉnh",
                                    body="Tỉnh Tuyên Quang tổ chức hội nghị. " * 5, published_at=f"{day}T08:00:00+07:00")
                     for day in ("2024-03-01", "2026-03-01"))
    engine = make_archive([*titled("UBND huyện Anh Sơn họp báo", "Ủy ban nhân dân xã Tường Sơn họp",
                                   "Đại hội Đoàn huyện Anh Sơn, Nghệ An", source="anhson"), portal, before, after])
    places = {found.text: found.ref for _, found in engine.suggest("tuyen q", 8) if found.kind == "place"}
    assert places == {"Tuyên Quang (trước 7/2025)": "o/tinhtuyenquang", "Tuyên Quang (từ 7/2025)": "n/tinhtuyenquang"}
    assert ("huyện Anh Sơn, Nghệ An (trước 7/2025)", "o/tinhnghean/huyenanhson") in [
        (found.text, found.ref) for _, found in engine.suggest("anh s", 8)]  # from a capitalised word of its name
    short = [(found.text, found.ref) for _, found in engine.suggest("ubn", 8)]
    assert ("ủy ban nhân dân", "UBND") in short
    portal = [(found.text, found.ref) for _, found in engine.suggest("cong thong tin", 8) if found.kind == "source"]
    assert portal == [("Cổng thông tin điện tử huyện Anh Sơn", "other")]


def test_the_completions_are_part_of_the_version_a_replica_pulls(district):
    index = district.index.get()
    manifest = json.loads((index.directory / layout.MANIFEST_FILE).read_text())
    assert "suggest.tsv" in manifest["files"] and manifest["suggestions"]["entries"] == len(index.suggestions.keys)


def test_a_version_built_before_completions_completes_nothing(district, tmp_path):
    from indexer.suggest import Suggestions

    assert Suggestions.open(tmp_path).complete("thien t") == []


def test_the_api_answers_each_keystroke(client):
    body = client.get("/api/suggest", query_string={"q": "thien t"}).get_json()
    assert body["query"] == "thien t" and body["suggestions"][0] == {
        "text": "thiên tai", "kind": "phrase", "count": body["suggestions"][0]["count"], "query": "thiên tai"}
    portal = client.get("/api/suggest", query_string={"q": "bão phu l"}).get_json()["suggestions"][0]
    assert portal["kind"] == "source" and portal["source"] == "phulam.example.gov.vn" and portal["query"] == "bão"
    assert client.get("/api/suggest?q=").get_json()["suggestions"] == []
    assert client.get("/api/suggest?q=b&limit=0").status_code == 400
    assert client.get("/api/suggest", query_string={"q": "a" * 301}).status_code == 400
    assert "ETag" in client.get("/api/suggest?q=b").headers  # cached like every answer of one version
