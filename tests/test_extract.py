from dataclasses import replace
from pathlib import Path

import pytest

from indexer.config import load_settings
from indexer.extract import ExtractionError, Selectors, extract_article

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


def test_modern_portal_page_all_fields():
    page = DEMO / "minhson" / "hoi-nghi-tong-ket-cong-tac-dong-quan-canh-phong-nam-2020.html"
    a = extract_article(page.read_text(), page.as_uri(), "minhson")
    assert a.url == "https://minhson.example.gov.vn/tin-tuc/hoi-nghi-tong-ket-cong-tac-dong-quan-canh-phong-nam-2020.html"
    assert a.title == ("Hội nghị tổng kết công tác đóng quân canh phòng năm 2020, "
                       "triển khai nhiệm vụ công tác năm 2021")
    assert a.published_at == "2021-01-25T16:45:00+07:00"
    assert a.author == "Liên Huyền- Văn Hoà"
    assert a.category == "Quân sự - Quốc phòng"
    assert a.summary.startswith("Chiều 25/1/2021, Ban Chỉ huy Quân sự huyện")
    assert "Toàn cảnh hội nghị" in a.body  # image caption kept
    assert a.body.endswith("nhiệm vụ QS-QP.")
    assert a.site_name == "Cổng thông tin điện tử huyện Minh Sơn"  # og:site_name
    for furniture in ("Tin liên quan", "Chia sẻ", "Trang chủ", "Cơ quan chủ quản", "Lượt xem"):
        assert furniture not in a.body


def test_legacy_table_portal_page():
    page = DEMO / "phulam" / "phu-lam-chu-dong-ung-pho-bao-so-5.html"
    a = extract_article(page.read_text(), page.as_uri(), "phulam")
    assert a.url.startswith("http://phulam.example.gov.vn/index.php?option=com_content")
    assert a.title == "Phú Lâm chủ động ứng phó với bão số 5, bảo đảm an toàn cho người dân"
    assert a.published_at == "2021-09-10T07:45:00+07:00"
    assert a.author == "Thanh Tâm" and a.category == "Phòng chống thiên tai"
    assert a.summary.startswith("Trước diễn biến phức tạp của bão số 5")
    assert "Các tin khác" not in a.body and "Bản quyền" not in a.body and "Thanh Tâm" not in a.body
    assert a.site_name == "Cổng thông tin điện tử huyện Phú Lâm"  # the document title, that names only the portal


@pytest.mark.parametrize(("title", "name"), [
    ("Họp báo quý III - Cổng TTĐT huyện Yên Thành", "Cổng TTĐT huyện Yên Thành"),
    ("Trang chủ | Trang thông tin điện tử xã Minh Hòa", "Trang thông tin điện tử xã Minh Hòa"),
    ("Họp báo quý III", ""),  # a headline alone names no portal
    ("UBND huyện họp báo quý III", ""),
])
def test_the_portal_name_comes_from_the_document_title_only_where_it_reads_as_one(title, name):
    body = "<p>" + "Nội dung bài viết về cuộc họp báo của huyện trong quý ba năm nay. " * 5 + "</p>"
    html = f"<html><head><title>{title}</title></head><body><h1>Họp báo quý III</h1>{body}</body></html>"
    assert extract_article(html, "https://x.example.vn/a-b-c-d.html", "x").site_name == name


def test_every_demo_page_extracts_completely():
    pages = sorted(DEMO.rglob("*.html"))
    assert len(pages) == 40
    for page in pages:
        a = extract_article(page.read_text(), page.as_uri(), "demo")
        assert a.title and a.published_at and a.author and a.category and a.summary and len(a.body) > 200


def test_per_source_selectors_override_generic_rules():
    html = """<html><head><title>Trang</title></head><body><div id="tieude">Tiêu đề thật</div>
    <span class="ngay">Cập nhật lúc 08:00 ngày 25/01/2021</span>
    <div id="bai"><p>Đoạn một của bài viết có đủ độ dài để được xem là nội dung chính của bài.</p>
    <p>Đoạn hai cũng vậy, với nhiều chữ hơn nữa để vượt ngưỡng tối thiểu.</p></div></body></html>"""
    a = extract_article(html, "http://x.example/1", "x", Selectors(title="#tieude", date=".ngay", body="#bai"))
    assert a.title == "Tiêu đề thật" and a.published_at == "2021-01-25T08:00:00+07:00"
    assert a.body.startswith("Đoạn một")
    # tried on the command line (probe --selector, --remove): some replaced, more taken out, a typo named
    own = Selectors(title="#tieude", remove=[".quangcao"])
    assert own.overridden({"date": ".ngay"}, [".menu"]) == Selectors(title="#tieude", date=".ngay",
                                                                     remove=[".quangcao", ".menu"])
    assert own.overridden({}, []) == own and own.remove == [".quangcao"]  # the source's own are not changed
    with pytest.raises(ValueError, match=r"unknown selector.*colour: use title, date, body, lead, author, category"):
        own.overridden({"colour": ".x"}, [])


PARAGRAPHS = ["Sáng 12/3, Ủy ban nhân dân huyện tổ chức hội nghị triển khai kế hoạch phòng chống thiên tai năm 2021.",
              "Hội nghị đã nghe báo cáo tình hình mưa lũ năm trước và bàn các giải pháp ứng phó cho từng xã.",
              "Các xã ven sông được giao chuẩn bị vật tư, phương tiện và lực lượng tại chỗ trước mùa mưa bão."]


def _described(description: str, shown: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (f'<html><head><title>Triển khai phòng chống thiên tai</title>'
            f'<meta property="og:description" content="{description}"></head><body>'
            f'<h1>Triển khai phòng chống thiên tai</h1>{shown}<div class="detail-content">{body}</div></body></html>')


@pytest.mark.parametrize(("description", "shown", "lead", "first"), [
    # the body's first paragraph: the lead, out of the body
    (PARAGRAPHS[0], "", PARAGRAPHS[0], PARAGRAPHS[1]),
    # shown above the body, in no element the lead rules know: the lead
    ("Huyện chủ động phòng chống thiên tai từ sớm.", "<div><em>Huyện chủ động phòng chống thiên tai từ sớm.</em></div>",
     "Huyện chủ động phòng chống thiên tai từ sớm.", PARAGRAPHS[0]),
    # a teaser only the metadata carries: not the article's text
    ("Đọc ngay: huyện nói gì về mùa mưa bão?", "", "", PARAGRAPHS[0]),
    # the first paragraph cut short: the body holds it already
    (PARAGRAPHS[0][:60] + "…", "", "", PARAGRAPHS[0]),
])
def test_a_declared_description_is_the_lead_only_where_the_page_shows_it(description, shown, lead, first):
    a = extract_article(_described(description, shown), "http://x.example/bai-1", "x")
    assert a.summary == lead and a.body.startswith(first)
    assert a.body.count(PARAGRAPHS[2]) == 1 and (not lead or lead not in a.body)


def test_page_without_body_is_an_error_not_an_empty_article():
    with pytest.raises(ExtractionError, match="body"):
        extract_article("<html><head><title>Danh mục</title></head><body><nav>menu</nav></body></html>",
                        "http://x.example/list", "x")


def test_the_crawl_probe_and_ingest_turn_a_page_into_an_article_one_way(tmp_path, site, monkeypatch):
    """The same bytes give the same article, or the same refusal, through page_to_article, whichever
    way they came: binary data, markup nested 30,000 deep, a parser that recurses too far."""
    from indexer import page
    from indexer.crawl import Fetcher
    from indexer.crawl.probe import probe, site_source
    from indexer.decode import DecodeError
    from indexer.pipeline import ingest_files

    nested = b"<html><body><h1>Tin</h1>" + b"<div>" * 30_000 + b"chu" + b"</div>" * 30_000 + b"</body></html>"
    with pytest.raises(DecodeError, match="binary data served as text/html"):
        page.page_to_article(b"\x89PNG\x00\x00", "text/html; charset=utf-8", "https://u.example.vn/a", "s")
    with pytest.raises(ExtractionError):
        page.page_to_article(nested, "text/html", "https://u.example.vn/a", "s")
    # saved pages that fail, fail alone, as fetched ones do; ingest goes on
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "sau.html").write_bytes(nested)
    (tmp_path / "pages" / "anh.html").write_bytes(b"\x89PNG\x00\x00")
    settings = load_settings({"data_dir": tmp_path / "data", "model": ""})
    report = ingest_files(settings, [tmp_path / "pages"], source="s", base_url="https://u.example.vn/")
    assert report.counts["failed"] == 2 and any("binary data" in why for _, why in report.failures)
    # probe shows what the crawl stores: the fixture's article, field for field
    url = site.base + "/cms/bai/hoi-nghi-phong-chong-thien-tai-2021.html"
    previewed = probe(url, site_source(url), Fetcher(delay=0)).article
    fetched = Fetcher(delay=0).get(url)
    stored = page.page_to_article(fetched.body, fetched.headers.get("content-type", ""), url, previewed.source)
    assert previewed.title and previewed == replace(stored, fetched_at=previewed.fetched_at)  # but when
    # a parser that recurses past Python's limit is a page that is not an article, not a crash

    def recursing(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(page, "extract_article", recursing)
    with pytest.raises(ExtractionError, match="nested too deeply"):
        page.page_to_article(b"<html><body>Tin</body></html>", "text/html", "https://u.example.vn/a", "s")
