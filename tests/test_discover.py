"""Discovery on one listing page: every pagination form the issue names, and what is not a listing."""
import pytest

from indexer.crawl.discover import page_links
from indexer.crawl.sources import Source
from indexer.extract import extract_article

BASE = "https://portal.example.gov.vn"
SOURCE = Source(name="p", base_url=BASE + "/", start_urls=[BASE + "/tin-tuc"])
STORY = '<a href="/tin-tuc/huyen-to-chuc-hoi-nghi-tong-ket-2021.html">Huyện tổ chức hội nghị</a>'


@pytest.mark.parametrize(("pager", "expected"), [
    ('<link rel="next" href="/tin-tuc?trang=2">', "/tin-tuc?trang=2"),
    ('<a href="/tin-tuc/danh-sach-2.html">Trang sau ›</a>', "/tin-tuc/danh-sach-2.html"),
    ('<a href="/tin-tuc/p/2">Tiếp »</a>', "/tin-tuc/p/2"),
    ('<a href="/tin-tuc/xem-tiep">Xem tiếp</a>', "/tin-tuc/xem-tiep"),
    ('<a href="/tin-tuc?page=2">»</a>', "/tin-tuc?page=2"),
    ('<a href="/tin-tuc?p=2">›</a>', "/tin-tuc?p=2"),
    ('<a href="/tin-tuc/page/2/">2</a>', "/tin-tuc/page/2/"),
    ('<a href="/tin-tuc/trang-2">2</a>', "/tin-tuc/trang-2"),
    ('<a href="/web/guest/tin-tuc?p_p_id=101_INSTANCE_x&_101_INSTANCE_x_cur=2">Cuối</a>',
     "/web/guest/tin-tuc?p_p_id=101_INSTANCE_x&_101_INSTANCE_x_cur=2"),
    ('<div class="phantrang"><a href="/tin-tuc/ds2.html">2</a></div>', "/tin-tuc/ds2.html"),  # a pager by its class
    ('<ul class="pagination"><li><a href="/tin-tuc/l-3">Trang 3</a></li></ul>', "/tin-tuc/l-3"),
])
def test_every_pagination_form_is_followed(pager, expected):
    found = page_links(f"<html><head></head><body>{STORY}{pager}</body></html>", BASE + "/tin-tuc", SOURCE)
    assert [item.url for item in found.listings] == [BASE + expected]
    assert found.articles == [BASE + "/tin-tuc/huyen-to-chuc-hoi-nghi-tong-ket-2021.html"]


def test_aspnet_postback_pager_becomes_a_form_post():
    html = ('<form method="post" action="./DanhSach.aspx"><input type="hidden" name="__VIEWSTATE" value="abc">'
            f"{STORY}<a href=\"javascript:__doPostBack('ctl00$Pager','Page$2')\">2</a></form>")
    [listing] = page_links(html, BASE + "/TinTuc/DanhSach.aspx", SOURCE).listings
    fields = dict(listing.form)
    assert listing.url == BASE + "/TinTuc/DanhSach.aspx"
    assert fields == {"__VIEWSTATE": "abc", "__EVENTTARGET": "ctl00$Pager", "__EVENTARGUMENT": "Page$2"}


def test_links_that_are_no_listing_pages_are_not_followed():
    html = (f'{STORY}<a href="/gioi-thieu">Giới thiệu</a><a href="https://other.example/tin-tuc?page=2">2</a>'
            '<a href="/tin-tuc/bao-cao-2021.pdf">Tải về</a><div class="paging"><a href="/tin-tuc/bai-moi-nhat-ve-nong-thon-moi.html">Sau</a></div>'
            '<a href="/tin-tuc/xa-son-thuy-dat-chuan-nong-thon-moi.html">Xem tiếp »</a>')
    found = page_links(html, BASE + "/tin-tuc", SOURCE)
    assert found.listings == []  # another site; a story inside a pager, or behind "read more", is a story
    assert BASE + "/tin-tuc/bai-moi-nhat-ve-nong-thon-moi.html" in found.articles
    assert BASE + "/tin-tuc/xa-son-thuy-dat-chuan-nong-thon-moi.html" in found.articles


def test_a_plain_capitalised_last_line_is_the_byline():
    html = ("<html><body><h1>Huyện tổ chức hội nghị tổng kết</h1><div class='noidung'>"
            "<p>Sáng nay, huyện tổ chức hội nghị tổng kết công tác năm với sự tham dự của nhiều đại biểu.</p>"
            "<p>Hội nghị đã đánh giá kết quả đạt được và đề ra nhiệm vụ cho năm tới của toàn huyện.</p>"
            "<p style='text-align:right'>Nguyễn Minh Anh</p></div></body></html>")
    article = extract_article(html, BASE + "/a", "p")
    assert article.author == "Nguyễn Minh Anh" and "Nguyễn Minh Anh" not in article.body
