"""Vietnamese date expressions → ISO 8601, for pages (publication dates) and queries (date intent)."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from indexer.text import fold

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
                  r"(Z|[+-]\d{2}:?\d{2})?)?")
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_DMY_WORDS = re.compile(r"(?<!\d)(\d{1,2})\s+thang\s+(\d{1,2})\s*(?:,|nam)\s*(\d{4})(?!\d)")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])\s*(?::|h|gio)\s*([0-5]\d)(?!\d)")


_MERIDIEM = re.compile(r"^(?::[0-5]\d)?\s*(sa|ch|am|pm|sang|chieu|toi)\b")


def _hour_of_day(hour: int, after: str) -> int:
    """A 12-hour clock as Vietnamese portals print it: "2:15:00 CH" (chiều) is 14:15, "12:05 SA" 00:05."""
    marker = _MERIDIEM.match(after)
    if not marker or hour > 12:
        return hour
    if marker.group(1) in ("ch", "pm", "chieu", "toi"):
        return hour % 12 + 12
    return hour % 12


# A publication date outside these bounds is a placeholder (01/01/0001, 31/12/9999) or a typo,
# never a news date: it is skipped, and the page's next date candidate is read instead.
EARLIEST_NEWS_DAY = date(1990, 1, 1)


def plausible(day: date) -> bool:
    return EARLIEST_NEWS_DAY <= day <= date.today() + timedelta(days=366)


def _offset(tz: str, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def parse_datetime(text: str, tz: str = "Asia/Ho_Chi_Minh") -> str | None:
    """The first date (and time, if given) in a portal's date line, as ISO 8601 with offset.

    Handles ``25/1/2021``, ``25/01/2021 14:30``, ``Thứ Hai, 25/01/2021``, ``Chiều 25/1/2021``,
    ``Ngày đăng: 25-01-2021``, ``Cập nhật lúc 08:00 ngày 25/01/2021``, ``25 tháng 1 năm 2021``,
    ``14h30``, ``2:30:00 CH`` (12-hour clock, SA/CH), and ISO 8601 from meta tags or JSON-LD.
    Dates without a zone are in ``tz``; one before 1990 or over a year ahead is no news date (None).
    """
    if not text:
        return None
    iso = _ISO.search(text)
    if iso:
        y, mo, d, hh, mm, ss, zone = iso.groups()
        try:
            day = date(int(y), int(mo), int(d))
        except ValueError:
            return None
        if not plausible(day):
            return None
        at = time(int(hh or 0), int(mm or 0), int(ss or 0))
        if zone:
            zone = "+00:00" if zone == "Z" else zone if ":" in zone else zone[:3] + ":" + zone[3:]
            return datetime.fromisoformat(f"{day.isoformat()}T{at.isoformat()}{zone}").isoformat()
        return _offset(tz, day, at).isoformat()
    folded = fold(text)
    found = _DMY.search(folded) or _DMY_WORDS.search(folded)
    if not found:
        return None
    d, mo, y = (int(g) for g in found.groups())
    try:
        day = date(y, mo, d)
    except ValueError:
        return None
    if not plausible(day):
        return None
    rest = folded[:found.start()] + " " + folded[found.end():]
    clock = _TIME.search(rest)
    at = time(_hour_of_day(int(clock.group(1)), rest[clock.end():]), int(clock.group(2))) if clock else time(0, 0)
    return _offset(tz, day, at).isoformat()


def parse_date_arg(value: str) -> date:
    """A filter bound typed by a person: ``2021-01-25``, ``25/01/2021``, ``2021-01`` or ``2021``."""
    value = value.strip()
    for pattern, build in (
        (r"(\d{4})-(\d{1,2})-(\d{1,2})", lambda y, m, d: date(y, m, d)),
        (r"(\d{1,2})/(\d{1,2})/(\d{4})", lambda d, m, y: date(y, m, d)),
        (r"(\d{4})-(\d{1,2})", lambda y, m: date(y, m, 1)),
        (r"(\d{4})", lambda y: date(y, 1, 1)),
    ):
        match = re.fullmatch(pattern, value)
        if match:
            return build(*(int(g) for g in match.groups()))
    raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD)")


@dataclass(frozen=True)
class DateIntent:
    """A period named in a query, and the query text without it."""

    start: date
    end: date  # inclusive
    rest: str


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_QUERY_PATTERNS = [
    # quý I/2021, quy 2 nam 2021
    (re.compile(r"\bquy\s+(iv|iii|ii|i|[1-4])\s*(?:/|nam|-)\s*((?:19|20)\d{2})\b"), "quarter"),
    # tháng 1/2021, thang 01 nam 2021, 1/2021
    (re.compile(r"\b(?:thang\s+)?(1[0-2]|0?[1-9])\s*(?:/|-|nam)\s*((?:19|20)\d{2})\b"), "month"),
    # năm 2021, 2021
    (re.compile(r"\b(?:nam\s+)?((?:19|20)\d{2})\b"), "year"),
]


# Periods named relative to the day of the search (folded): the longer phrases first.
_RELATIVE = re.compile(r"\b(?:(?P<n>\d{1,3})\s+(?P<unit>ngay|tuan|thang|nam)\s+(?:qua|gan day|vua qua)"
                       r"|(?P<part>dau|cuoi)\s+nam(?:\s+(?P<year>(?:19|20)\d{2}))?"
                       r"|(?P<named>hom nay|hom qua|tuan nay|tuan truoc|tuan qua|thang nay|thang truoc|thang qua"
                       r"|nam nay|nam ngoai|nam truoc|nam qua|gan day))\b")
RECENT_DAYS = 30  # "gần đây": the last month


def _months_back(day: date, months: int) -> date:
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _relative(match: re.Match, today: date) -> tuple[date, date]:
    """The days a relative period covers, seen from `today` (the day of the search in the newsroom's zone)."""
    named, monday = match.group("named"), today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    if match.group("n"):
        n, unit = int(match.group("n")), match.group("unit")
        start = {"ngay": lambda: today - timedelta(days=n - 1), "tuan": lambda: today - timedelta(weeks=n),
                 "thang": lambda: _months_back(today, n), "nam": lambda: _months_back(today, 12 * n)}[unit]()
        return start, today
    if match.group("part"):  # đầu năm: its first quarter; cuối năm: its last
        year = int(match.group("year") or today.year)
        return (date(year, 1, 1), date(year, 3, 31)) if match.group("part") == "dau" else \
            (date(year, 10, 1), date(year, 12, 31))
    last_month_end = first_of_month - timedelta(days=1)
    periods = {
        "hom nay": (today, today), "hom qua": (today - timedelta(days=1),) * 2,
        "tuan nay": (monday, monday + timedelta(days=6)),
        "tuan truoc": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "tuan qua": (today - timedelta(days=6), today),
        "thang nay": (first_of_month, date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])),
        "thang truoc": (last_month_end.replace(day=1), last_month_end),
        "thang qua": (_months_back(today, 1), today),
        "nam nay": (date(today.year, 1, 1), date(today.year, 12, 31)),
        "nam ngoai": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "nam qua": (_months_back(today, 12), today),
        "gan day": (today - timedelta(days=RECENT_DAYS - 1), today),
    }
    periods["nam truoc"] = periods["nam ngoai"]
    return periods[named]


def query_date_intent(query: str, today: date | None = None) -> DateIntent | None:
    """Find ``2021``, ``năm 2021``, ``tháng 1/2021`` or ``quý I/2021`` in a query, and with `today`
    the periods named relative to it: ``hôm nay``, ``hôm qua``, ``tuần này``/``trước``/``qua``,
    ``tháng này``/``trước``/``qua``, ``năm nay``/``ngoái``/``trước``/``qua``, ``gần đây``,
    ``3 tháng qua``, ``đầu năm``, ``cuối năm 2020``.

    Matching runs on the folded query, whose characters line up one-to-one with the NFC original
    for Vietnamese, so the span can be cut out of the original text.
    """
    folded = fold(query)
    if len(folded) != len(query):
        return None
    relative = _RELATIVE.search(folded) if today is not None else None
    if relative:
        start, end = _relative(relative, today)
        rest = (query[:relative.start()] + " " + query[relative.end():]).strip()
        return DateIntent(start, end, re.sub(r"\s+", " ", rest))
    for pattern, kind in _QUERY_PATTERNS:
        match = pattern.search(folded)
        if not match:
            continue
        if kind == "year":
            year = int(match.group(1))
            start, end = date(year, 1, 1), date(year, 12, 31)
        elif kind == "month":
            month, year = int(match.group(1)), int(match.group(2))
            start = date(year, month, 1)
            end = date(year, month, calendar.monthrange(year, month)[1])
        else:
            quarter, year = _ROMAN[match.group(1)], int(match.group(2))
            start = date(year, 3 * quarter - 2, 1)
            end_month = 3 * quarter
            end = date(year, end_month, calendar.monthrange(year, end_month)[1])
        rest = (query[:match.start()] + " " + query[match.end():]).strip()
        return DateIntent(start, end, re.sub(r"\s+", " ", rest))
    return None
