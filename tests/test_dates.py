from datetime import date

import pytest

from indexer.dates import parse_date_arg, parse_datetime, query_date_intent


@pytest.mark.parametrize(("text", "expected"), [
    ("25/1/2021", "2021-01-25T00:00:00+07:00"),
    ("25/01/2021 14:30", "2021-01-25T14:30:00+07:00"),
    ("Thứ Hai, 25/01/2021", "2021-01-25T00:00:00+07:00"),
    ("Chiều 25/1/2021", "2021-01-25T00:00:00+07:00"),
    ("Ngày đăng: 25-01-2021", "2021-01-25T00:00:00+07:00"),
    ("Cập nhật lúc 08:00 ngày 25/01/2021", "2021-01-25T08:00:00+07:00"),
    ("25 tháng 1 năm 2021, 14h30", "2021-01-25T14:30:00+07:00"),
    ("2021-01-25T14:30:00+07:00", "2021-01-25T14:30:00+07:00"),
    ("2021-01-25T07:30:00Z", "2021-01-25T07:30:00+00:00"),
    ("2021-01-25", "2021-01-25T00:00:00+07:00"),
])
def test_portal_date_formats(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "không có ngày", "31/02/2021", "Lượt xem: 1024"])
def test_not_a_date(text):
    assert parse_datetime(text) is None


def test_other_time_zone():
    assert parse_datetime("25/01/2021 14:30", tz="UTC") == "2021-01-25T14:30:00+00:00"


@pytest.mark.parametrize(("query", "start", "end", "rest"), [
    ("phòng chống thiên tai 2021", date(2021, 1, 1), date(2021, 12, 31), "phòng chống thiên tai"),
    ("năm 2020 tuyển quân", date(2020, 1, 1), date(2020, 12, 31), "tuyển quân"),
    ("bầu cử tháng 5/2021", date(2021, 5, 1), date(2021, 5, 31), "bầu cử"),
    ("quý I/2021 nông thôn mới", date(2021, 1, 1), date(2021, 3, 31), "nông thôn mới"),
    ("quy 4 nam 2022", date(2022, 10, 1), date(2022, 12, 31), ""),
])
def test_query_date_intent(query, start, end, rest):
    intent = query_date_intent(query)
    assert (intent.start, intent.end, intent.rest) == (start, end, rest)


def test_query_without_date():
    assert query_date_intent("UBND huyện Minh Sơn") is None
    assert query_date_intent("1250 hộ") is None


def test_parse_date_arg():
    assert parse_date_arg("2021-03-05") == date(2021, 3, 5)
    assert parse_date_arg("05/03/2021") == date(2021, 3, 5)
    assert parse_date_arg("2021") == date(2021, 1, 1)
    with pytest.raises(ValueError):
        parse_date_arg("hôm qua")


@pytest.mark.parametrize("text", ["Ngày đăng: 01/01/0001", "0001-01-01T00:00:00", "31/12/9999 23:59",
                                  "9999-12-31", "15/08/1945"])
def test_placeholder_and_impossible_publication_dates_are_no_dates(text):
    """A CMS's empty date (01/01/0001) once made a 24,241-month 'months without an article' list."""
    assert parse_datetime(text) is None


def test_a_placeholder_date_gives_way_to_the_pages_real_one():
    from indexer.extract import extract_article

    html = ('<html><head><meta property="article:published_time" content="0001-01-01T00:00:00">'
            '<title>Hội nghị tổng kết</title></head><body><h1>Hội nghị tổng kết</h1>'
            '<div class="date">Ngày đăng: 25/01/2021</div><div class="detail-content">'
            + "<p>Huyện tổ chức hội nghị tổng kết công tác năm 2020 và triển khai nhiệm vụ năm 2021.</p>" * 3
            + "</div></body></html>")
    article = extract_article(html, "https://huyen.example.vn/tin/a.html", "huyen")
    assert article.published_at.startswith("2021-01-25")


# A Wednesday, in a leap year's first days and at a month's end, a year's edge: each relative period.
@pytest.mark.parametrize(("today", "query", "start", "end", "rest"), [
    (date(2026, 12, 2), "bão lũ hôm nay", date(2026, 12, 2), date(2026, 12, 2), "bão lũ"),
    (date(2026, 12, 1), "hôm qua", date(2026, 11, 30), date(2026, 11, 30), ""),
    (date(2026, 12, 2), "họp tuần này", date(2026, 11, 30), date(2026, 12, 6), "họp"),
    (date(2026, 12, 2), "tuần trước", date(2026, 11, 23), date(2026, 11, 29), ""),
    (date(2026, 12, 2), "tuần qua", date(2026, 11, 26), date(2026, 12, 2), ""),
    (date(2026, 12, 2), "tháng này", date(2026, 12, 1), date(2026, 12, 31), ""),
    (date(2026, 1, 15), "tháng trước", date(2025, 12, 1), date(2025, 12, 31), ""),
    (date(2024, 3, 31), "tháng qua", date(2024, 2, 29), date(2024, 3, 31), ""),
    (date(2026, 12, 2), "năm nay", date(2026, 1, 1), date(2026, 12, 31), ""),
    (date(2026, 1, 1), "bão lũ năm ngoái", date(2025, 1, 1), date(2025, 12, 31), "bão lũ"),
    (date(2026, 1, 1), "nam truoc", date(2025, 1, 1), date(2025, 12, 31), ""),
    (date(2026, 12, 2), "gần đây", date(2026, 11, 3), date(2026, 12, 2), ""),
    (date(2026, 12, 2), "lũ quét 3 tháng qua", date(2026, 9, 2), date(2026, 12, 2), "lũ quét"),
    (date(2026, 12, 2), "10 ngày qua", date(2026, 11, 23), date(2026, 12, 2), ""),
    (date(2026, 12, 2), "đầu năm", date(2026, 1, 1), date(2026, 3, 31), ""),
    (date(2026, 12, 2), "thu hoạch cuối năm 2020", date(2020, 10, 1), date(2020, 12, 31), "thu hoạch"),
])
def test_periods_named_relative_to_the_day_of_the_search(today, query, start, end, rest):
    intent = query_date_intent(query, today)
    assert (intent.start, intent.end, intent.rest) == (start, end, rest)


def test_relative_periods_need_the_day_and_written_ones_win_nothing_from_it():
    assert query_date_intent("bão lũ năm ngoái") is None  # without the day of the search, no period
    assert query_date_intent("năm 2021", date(2026, 12, 2)).start == date(2021, 1, 1)


def test_the_search_resolves_relative_periods_in_the_newsrooms_zone(client, engine, monkeypatch):
    """At 23:30 UTC on 31 December it is already 1 January in Hà Nội: "năm nay" is the new year."""
    from datetime import datetime as real_datetime

    from service.search import engine as engine_module

    class Clock(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime(2025, 12, 31, 23, 30, tzinfo=__import__("datetime").UTC).astimezone(tz)

    monkeypatch.setattr(engine_module, "datetime", Clock)
    found = client.get("/api/search", query_string={"q": "thiên tai năm nay"}).get_json()
    assert found["date_intent"] == {"from": "2026-01-01", "to": "2026-12-31"}
    page = client.get("/", query_string={"q": "thiên tai năm ngoái"}).get_data(as_text=True)
    assert "giai đoạn 01/01/2025–31/12/2025" in page and "Bỏ giai đoạn khỏi câu hỏi" in page


def test_a_pasted_headline_keeps_its_relative_words_as_text():
    from service.search.query import parse_query

    assert parse_query("giá vàng hôm nay", today=date(2026, 6, 5)).date_intent.start == date(2026, 6, 5)
    headline = parse_query("Giá vàng hôm nay 5/6: Giảm mạnh, nhà đầu tư bán tháo", today=date(2026, 6, 5))
    assert headline.date_intent is None and "hom" in headline.terms
