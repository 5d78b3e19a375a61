"""A fixture website with three portal layouts and the faults real portals have, on 127.0.0.1.

    /cms/…  modern CMS: Open Graph, JSON-LD, listing with ?page=2, sitemap.xml, robots-disallowed page
    /wp/…   WordPress-like theme: /category/…/page/2/, dated slugs, rel=next (source has no pattern)
    /old/…  old table portal, windows-1258 with decomposed tone marks, inline styles, RSS feed

Faults: a page that fails twice then succeeds, one that hangs past the timeout, a 404, a redirect,
a duplicate URL with tracking parameters, a PDF link and a PDF served at an article URL, and
truncated HTML. Every response carries an ETag and honours If-None-Match (304).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Encode as windows-1258 does: base letters precomposed (â, ơ, đ…), tone marks combining."""
    pieces = []
    for ch in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONES))
        pieces.append(base + "".join(c for c in decomposed if c in TONES))
    return "".join(pieces).encode("cp1258")


CMS_ARTICLES = {
    "hoi-nghi-phong-chong-thien-tai-2021": dict(
        title="Hội nghị triển khai công tác phòng chống thiên tai năm 2021", date="2021-03-12T15:20:00+07:00",
        shown="Thứ Sáu, 12/03/2021 15:20", author="Minh Châu", category="Phòng chống thiên tai",
        lead="Sáng 12/3/2021, Ban Chỉ huy Phòng chống thiên tai huyện tổ chức hội nghị triển khai nhiệm vụ.",
        paras=["Năm 2020, trên địa bàn huyện xảy ra 3 đợt mưa lớn, làm 126 ngôi nhà bị tốc mái.",
               "Năm 2021, các xã rà soát phương án ứng phó với bão mạnh và kiểm tra an toàn hồ đập."]),
    "le-giao-nhan-quan-2021": dict(
        title="Lễ giao nhận quân năm 2021", date="2021-02-26T09:40:00+07:00", shown="26/02/2021 09:40",
        author="Quang Huy", category="Quân sự - Quốc phòng",
        lead="Sáng 26/2/2021, huyện tổ chức lễ giao nhận quân, bảo đảm nhanh gọn và an toàn.",
        paras=["Toàn huyện có 168 thanh niên lên đường nhập ngũ, hoàn thành 100% chỉ tiêu.",
               "Các tân binh được căn dặn ra sức học tập, rèn luyện, xứng đáng với truyền thống quê hương."]),
    "flaky": dict(
        title="Tiêm vắc xin phòng Covid-19 đợt 1", date="2021-08-12T16:00:00+07:00", shown="12/08/2021",
        author="Hồng Nhung", category="Y tế",
        lead="Trung tâm Y tế huyện tổ chức tiêm vắc xin phòng Covid-19 cho hơn 4.800 người.",
        paras=["Đối tượng được tiêm gồm lực lượng tuyến đầu chống dịch, giáo viên và người trên 65 tuổi.",
               "Các điểm tiêm được bố trí giãn cách, có đội cấp cứu lưu động thường trực."]),
    "chi-trong-sitemap": dict(
        title="Trao học bổng cho học sinh nghèo vượt khó", date="2022-08-18T09:00:00+07:00", shown="18/08/2022",
        author="Văn Hoà", category="Giáo dục",
        lead="Hội Khuyến học huyện trao 150 suất học bổng cho học sinh có hoàn cảnh khó khăn.",
        paras=["Nguồn học bổng do các doanh nghiệp, nhà hảo tâm và con em xa quê đóng góp.",
               "Hội mong muốn các em tiếp tục nỗ lực, trở thành con ngoan, trò giỏi."]),
    "mat-noi-bo": dict(
        title="Tài liệu nội bộ", date="2021-01-01T00:00:00+07:00", shown="01/01/2021", author="X", category="Nội bộ",
        lead="Không được thu thập.", paras=["Trang này bị robots.txt chặn và không bao giờ được tải."]),
}
WP_ARTICLES = {
    "2021/05/23/cu-tri-no-nuc-di-bau-cu": dict(
        title="Cử tri nô nức đi bầu cử đại biểu Quốc hội và HĐND các cấp", date="23/05/2021 12:00",
        author="Thanh Tâm", category="Bầu cử",
        lead="Ngày 23/5/2021, hơn 95.000 cử tri đã đến 112 khu vực bỏ phiếu.",
        paras=["Tổ bầu cử mang hòm phiếu phụ đến tận nhà người cao tuổi, người ốm đau.",
               "Đến 17 giờ, tỷ lệ cử tri đi bầu toàn huyện đạt 99,6%."]),
    "2020/10/20/mua-lu-gay-ngap-nhieu-thon": dict(
        title="Mưa lũ gây ngập nhiều thôn, huyện tập trung sơ tán người dân", date="20/10/2020 16:30",
        author="Văn Hoà", category="Phòng chống thiên tai",
        lead="Mực nước sông dâng cao, gây ngập sâu tại nhiều thôn vùng trũng.",
        paras=["Huyện huy động hơn 500 cán bộ, chiến sĩ và dân quân giúp dân di dời tài sản.",
               "Các hộ bị ngập được cấp mì tôm, nước uống và thuốc men kịp thời."]),
    "2021/06/01/bai-bi-cat-cut-ngang": dict(
        title="Khai giảng lớp bồi dưỡng kiến thức quốc phòng an ninh", date="01/06/2021 08:00",
        author="Quang Huy", category="Quân sự - Quốc phòng",
        lead="Ban Chỉ huy Quân sự huyện khai giảng lớp bồi dưỡng kiến thức quốc phòng và an ninh.",
        paras=["Lớp học có 60 học viên là cán bộ chủ chốt các xã, thị trấn trên địa bàn huyện.",
               "Nội dung gồm các chuyên đề về chiến lược bảo vệ Tổ quốc trong tình hình mới."]),
}
OLD_ARTICLES = {
    101: dict(title="Khống chế bệnh dịch tả lợn châu Phi", date="25/07/2019", time="15:45", author="Thanh Tâm",
              category="Nông nghiệp", lead="Bệnh dịch tả lợn châu Phi xuất hiện tại 7 xã của huyện.",
              paras=["Huyện thành lập các chốt kiểm dịch tạm thời, phun khử trùng tại các ổ dịch.",
                     "Ngành thú y khuyến cáo người chăn nuôi thực hiện chăn nuôi an toàn sinh học."]),
    102: dict(title="Làm đường giao thông nông thôn: dân làm, Nhà nước hỗ trợ", date="12/04/2019", time="09:30",
              author="Hồng Nhung", category="Nông thôn mới", lead="Năm 2019, huyện bê tông hóa thêm 45 km đường.",
              paras=["Nhiều thôn hoàn thành kế hoạch trước thời hạn nhờ sự đồng thuận của người dân.",
                     "Các tuyến đường mới giúp vận chuyển nông sản thuận lợi hơn, nhất là mùa mưa."]),
}


def cms_article(slug: str, base: str) -> str:
    a = CMS_ARTICLES[slug]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a["title"],
          "datePublished": a["date"], "author": {"@type": "Person", "name": a["author"]}}
    paras = "".join(f"<p>{p}</p>" for p in a["paras"])
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{a['title']} | Cổng TTĐT huyện</title>
<meta property="og:title" content="{a['title']}"><meta property="og:site_name" content="Cổng TTĐT huyện">
<link rel="canonical" href="{base}/cms/bai/{slug}.html">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script></head>
<body><header><nav class="menu"><a href="/cms/">Trang chủ</a></nav></header>
<ol class="breadcrumb"><li><a href="/cms/">Trang chủ</a></li><li><a href="/cms/tin-tuc">{a['category']}</a></li></ol>
<article><h1>{a['title']}</h1><div class="date">{a['shown']}</div><div class="sapo">{a['lead']}</div>
<div class="detail-content">{paras}</div><p class="author">{a['author']}</p>
<div class="share-bar">Chia sẻ Facebook</div><div class="related-news"><h3>Tin liên quan</h3><ul><li><a href="/cms/">Tin khác</a></li></ul></div>
</article><footer>Cơ quan chủ quản: UBND huyện</footer></body></html>"""


def wp_article(path: str, truncated: bool = False) -> str:
    a = WP_ARTICLES[path]
    paras = "".join(f"<p>{p}</p>" for p in a["paras"])
    page = f"""<!DOCTYPE html><html lang="vi"><head><meta charset="UTF-8"><title>{a['title']} &#8211; Huyện</title>
<meta name="description" content="{a['lead']}"></head><body class="single-post">
<div id="masthead" class="site-header"><ul id="menu-main" class="menu"><li><a href="/wp/">Trang chủ</a></li></ul></div>
<div id="primary" class="content-area"><main id="main"><article class="post type-post">
<header class="entry-header"><h1 class="entry-title">{a['title']}</h1>
<div class="entry-meta"><span class="posted-on">Ngày đăng: {a['date']}</span> <span class="byline"><span class="author vcard">{a['author']}</span></span>
<span class="cat-links"><a href="/wp/category/tin-tuc/" rel="category tag">{a['category']}</a></span></div></header>
<div class="entry-content"><p class="lead"><strong>{a['lead']}</strong></p>{paras}
<div class="sharedaddy"><h3>Chia sẻ:</h3></div></div>
<nav class="post-navigation"><a href="/wp/">Bài trước</a></nav></article>
<div id="comments" class="comments-area"><h2>Bình luận</h2><p>Chưa có bình luận nào cho bài viết này cả.</p></div>
</main></div><aside id="secondary" class="widget-area"><h2>Bài mới</h2></aside><footer id="colophon">© Huyện</footer></body></html>"""
    if truncated:  # cut off mid-page: no closing tags after the second paragraph
        page = page[:page.index(a["paras"][1]) + len(a["paras"][1])]
    return page


def old_article(article_id: int) -> bytes:
    a = OLD_ARTICLES[article_id]
    paras = "".join(f'<p style="font-family:Arial;font-size:10pt" align="justify">{p}</p>' for p in a["paras"])
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">
<title>Cổng thông tin điện tử huyện</title></head><body bgcolor="#FFFFFF">
<table width="980"><tr><td class="menu"><a href="/old/">Trang chủ</a> | <a href="/old/index.php?option=com_content&view=category&id=5">Tin tức</a></td></tr>
<tr><td><table><tr><td class="duongdan"><a href="/old/">Trang chủ</a> &raquo; <a href="#">{a['category']}</a></td></tr>
<tr><td><font size="4" color="#003399"><b class="tieude">{a['title']}</b></font>
<div class="ngaydang">Cập nhật lúc {a['time']} ngày {a['date']}</div><div class="mota"><b>{a['lead']}</b></div>
<div class="noidung">{paras}<p class="tacgia" align="right"><b>{a['author']}</b></p></div>
<div class="tinkhac"><b>Các tin khác</b></div></td></tr></table></td></tr>
<tr><td class="chantrang">Bản quyền thuộc UBND huyện</td></tr></table></body></html>"""
    return to_cp1258(page)


@dataclass
class FixtureSite:
    """Routes, fault state and a request log; serve() starts it on 127.0.0.1."""

    hang_seconds: float = 3.0
    requests: list[tuple[str, dict]] = field(default_factory=list)
    hits: Counter = field(default_factory=Counter)
    base: str = ""
    extra_cms: int = 0  # generated extra CMS articles (for throughput runs)

    def route(self, path: str) -> tuple[int, dict, bytes]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /cms/bai/mat-\n"
        # --- CMS ---
        if path in ("/cms/tin-tuc", "/cms/tin-tuc?page=2"):
            if path == "/cms/tin-tuc":
                links = ["/cms/bai/hoi-nghi-phong-chong-thien-tai-2021.html",
                         "/cms/bai/hoi-nghi-phong-chong-thien-tai-2021.html?utm_source=facebook&fbclid=abc#top",
                         "/cms/bai/mat-noi-bo.html", "/cms/bai/khong-ton-tai.html", "/cms/files/bao-cao-2021.pdf"]
                links += [f"/cms/bai/extra-{i}.html" for i in range(self.extra_cms)]
                pager = '<div class="pagination"><a href="/cms/tin-tuc?page=2">2</a> <a href="/cms/tin-tuc?page=2">Trang sau</a></div>'
            else:
                links = ["/cms/bai/le-giao-nhan-quan-2021.html", "/cms/bai/flaky.html", "/cms/bai/ban-cu.html"]
                pager = '<div class="pagination"><a href="/cms/tin-tuc">1</a></div>'
            items = "".join(f'<li><a href="{u}">Bài {i}</a></li>' for i, u in enumerate(links))
            return 200, html, f"<html><body><ul class='list-news'>{items}</ul>{pager}</body></html>".encode()
        if path == "/cms/sitemap.xml":
            urls = ["/cms/bai/chi-trong-sitemap.html", "/cms/bai/le-giao-nhan-quan-2021.html"]
            body = "".join(f"<url><loc>{self.base}{u}</loc></url>" for u in urls)
            return 200, {"Content-Type": "application/xml"}, \
                f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()
        if path == "/cms/bai/flaky.html":
            self.hits[path] += 1
            if self.hits[path] <= 2:
                return 503, {"Content-Type": "text/plain", "Retry-After": "0"}, b"busy"
        if path == "/cms/bai/ban-cu.html":
            return 301, {"Location": "/cms/bai/le-giao-nhan-quan-2021.html"}, b""
        if path.startswith("/cms/bai/extra-"):
            n = path.split("extra-")[1].split(".")[0]
            a = dict(CMS_ARTICLES["le-giao-nhan-quan-2021"])
            CMS_ARTICLES.setdefault(f"extra-{n}", {**a, "title": f"Bài số {n}: {a['title']}"})
        if path.startswith("/cms/bai/") and path.endswith(".html"):
            slug = path[len("/cms/bai/"):-5]
            if slug in CMS_ARTICLES:
                return 200, html, cms_article(slug, self.base).encode()
        # --- WordPress-like ---
        if path in ("/wp/category/tin-tuc/", "/wp/category/tin-tuc/page/2/"):
            first = path.endswith("tin-tuc/")
            posts = ["2021/05/23/cu-tri-no-nuc-di-bau-cu", "2021/05/01/trang-treo-qua-thoi-gian"] if first else \
                ["2020/10/20/mua-lu-gay-ngap-nhieu-thon", "2021/06/01/bai-bi-cat-cut-ngang"]
            items = "".join(f'<h2 class="entry-title"><a href="/wp/{p}/">Bài</a></h2>' for p in posts)
            nav = ('<link rel="next" href="/wp/category/tin-tuc/page/2/">' if first else "") + \
                '<nav class="navigation"><a class="page-numbers" href="/wp/category/tin-tuc/page/2/">2</a>' \
                '<a href="/wp/category/phong-chong-thien-tai/">Phòng chống thiên tai</a></nav>'
            return 200, html, f"<html><head>{nav if first else ''}</head><body>{items}{nav}</body></html>".encode()
        if path == "/wp/2021/05/01/trang-treo-qua-thoi-gian/":
            time.sleep(self.hang_seconds)
            return 200, html, b"<html><body>too late</body></html>"
        if path.startswith("/wp/") and path.strip("/")[3:] in WP_ARTICLES:
            key = path.strip("/")[3:]
            return 200, html, wp_article(key, truncated="cat-cut" in key).encode()
        # --- old portal ---
        if path.startswith("/old/index.php?option=com_content&view=category&id=5"):
            second = path.endswith("&page=2")
            ids = [102, 999] if second else [101]
            items = "".join(f'<tr><td><a href="/old/index.php?option=com_content&view=article&id={i}">Tin {i}</a></td></tr>'
                            for i in ids)
            pager = "" if second else '<a href="/old/index.php?option=com_content&view=category&id=5&page=2">2</a>'
            return 200, {"Content-Type": "text/html"}, f"<html><body><table>{items}</table>{pager}</body></html>".encode()
        if path.startswith("/old/index.php?option=com_content&view=article&id="):
            article_id = int(path.rsplit("=", 1)[1])
            if article_id == 999:
                return 200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 not html"
            if article_id in OLD_ARTICLES:
                return 200, {"Content-Type": "text/html"}, old_article(article_id)
        if path == "/old/rss.xml":
            items = "".join(f"<item><title>Tin</title><link>{self.base}/old/index.php?option=com_content&amp;view=article&amp;id={i}</link></item>"
                            for i in OLD_ARTICLES)
            return 200, {"Content-Type": "application/rss+xml"}, f"<rss><channel>{items}</channel></rss>".encode()
        return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"

    def serve(self) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append((self.path, dict(self.headers)))
                status, headers, body = site.route(self.path)
                etag = '"' + hashlib.md5(body).hexdigest() + '"' if status == 200 else None
                if etag and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if etag:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", "Mon, 25 Jan 2021 08:00:00 GMT")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.base = f"http://127.0.0.1:{server.server_port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


SOURCES_TOML = """
[[source]]
name = "cms"
base_url = "{base}/cms/"
start_urls = ["{base}/cms/tin-tuc"]
sitemap = "{base}/cms/sitemap.xml"
article_pattern = "^/cms/bai/"
delay_seconds = 0

[[source]]
name = "wp"
base_url = "{base}/wp/"
start_urls = ["{base}/wp/category/tin-tuc/"]

[[source]]
name = "old"
base_url = "{base}/old/"
start_urls = ["{base}/old/index.php?option=com_content&view=category&id=5"]
rss = "{base}/old/rss.xml"
article_pattern = "view=article"
delay_seconds = 0

[source.selectors]
title = ".tieude"
"""
