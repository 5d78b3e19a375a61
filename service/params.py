"""Request parameters → a validated search Query; one definition for the API and the pages."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from indexer import places
from indexer.dates import parse_date_arg
from indexer.models import Filters
from indexer.text import is_noncharacter
from service.search import MAX_RESULTS, MODES, SORTS, Query

MAX_QUERY_CHARS = 300
MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 10


# What the search page calls each parameter, for its Vietnamese error messages.
FIELD_LABELS = {"q": "Từ khóa", "page": "Trang", "per_page": "Số kết quả mỗi trang", "from": "Từ ngày",
                "to": "Đến ngày", "source": "Nguồn", "place": "Địa danh", "sort": "Sắp xếp", "mode": "Cách tìm",
                "explain": "Giải thích", "collapse": "Gộp bản đăng lại", "as_typed": "Tìm đúng như đã gõ",
                "limit": "Số bài liên quan", "article_id": "Mã bài viết"}


class BadRequest(ValueError):
    """Invalid input: `message` (English) for the API, beside its `field`; `vi` for the page."""

    def __init__(self, message: str, field: str | None = None, vi: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field, self.vi = message, field, vi or message


def label(name: str) -> str:
    return f"“{FIELD_LABELS.get(name, name)}”"


# What a search's links carry over (the page, the feed, the export): the parameters parse_search_args
# reads, and nothing a client adds (Flask's url_for takes _anchor, _external, … as its own).
SEARCH_PARAMS = ("q", "page", "per_page", "from", "to", "source", "place", "sort", "mode", "explain", "collapse",
                 "as_typed")
_DIGITS = re.compile(r"[0-9]{1,9}")


def link_args(args: Mapping, names: tuple[str, ...] = SEARCH_PARAMS) -> dict[str, list[str]]:
    """The request's known parameters, for building links: every other one is dropped."""
    return {name: args.getlist(name) for name in names if args.getlist(name)}


def whole_number(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer parameter: ASCII digits only (int() also reads '٣', ' 5 ' and '1_0')."""
    if raw in ("", None):
        return default
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"'{name}' must be a whole number", name, f"{label(name)} phải là một số nguyên")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}", name,
                         f"{label(name)} phải từ {low} đến {high}")
    return value


def _int(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    return whole_number(args.get(name, ""), name, default, low, high)


def _choice(args: Mapping, name: str, choices: tuple[str, ...]) -> str:
    value = (args.get(name) or choices[0]).strip()
    if value not in choices:
        raise BadRequest(f"'{name}' must be one of: {', '.join(choices)}", name,
                         f"{label(name)} chỉ nhận: {', '.join(choices)}")
    return value


def _date(args: Mapping, name: str) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_date_arg(raw).isoformat()
    except ValueError:
        raise BadRequest(f"'{name}' is not a valid date: use YYYY-MM-DD", name,
                         f"{label(name)} không phải một ngày: hãy viết 25/01/2021 hoặc 2021-01-25") from None


def _flag(args: Mapping, name: str, default: bool = False) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise BadRequest(f"'{name}' must be true or false", name, f"{label(name)} chỉ nhận true hoặc false")


def check_text(value: str, name: str, limit: int) -> str:
    """Reject what no person types: control characters, lone surrogates, over-long input."""
    if any((unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r") or is_noncharacter(c) for c in value):
        raise BadRequest(f"'{name}' contains control characters or noncharacters", name,
                         f"{label(name)} chứa ký tự không gõ được (ký tự điều khiển)")
    if len(value) > limit:
        raise BadRequest(f"'{name}' is longer than {limit} characters", name,
                         f"{label(name)} dài quá {limit} ký tự")
    return value


def _list(args: Mapping, name: str) -> tuple[str, ...]:
    """A parameter given several times, or as one comma-separated value."""
    raw = args.getlist(name) if hasattr(args, "getlist") else [args.get(name) or ""]
    return tuple(dict.fromkeys(v.strip() for part in raw for v in (part or "").split(",") if v.strip()))


def _query_text(args: Mapping) -> str:
    """The query as typed, checked (empty when none is given)."""
    return check_text((args.get("q") or "").strip(), "q", MAX_QUERY_CHARS)


def search_reading(args: Mapping) -> tuple[str, bool]:
    """(the query, whether it is searched as typed) of the search an article page was opened
    from; the query is empty when it was opened from none."""
    return _query_text(args), _flag(args, "as_typed")


def parse_search_args(args: Mapping) -> Query:
    q = _query_text(args)
    if not q:
        raise BadRequest("'q' is required: type what to search for", "q", "Hãy gõ điều cần tìm")
    per_page = _int(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int(args, "page", 1, 1, MAX_RESULTS)
    if (page - 1) * per_page >= MAX_RESULTS:
        raise BadRequest(f"results beyond the first {MAX_RESULTS} are not served: narrow the query", "page",
                         f"Chỉ xem được {MAX_RESULTS} kết quả đầu: hãy thu hẹp câu tìm kiếm")
    date_from, date_to = _date(args, "from"), _date(args, "to")
    if date_from and date_to and date_from > date_to:
        raise BadRequest("'from' is after 'to'", "from", "“Từ ngày” ở sau “Đến ngày”")
    sources = _list(args, "source")
    for source in sources:
        check_text(source, "source", 200)
    chosen = _list(args, "place")
    for place in chosen:
        if not places.known(check_text(place, "place", 200)):
            raise BadRequest(f"'place' {place!r} is not a known place key (the search's places facet lists them)",
                             "place", f"Không rõ địa danh {place!r}: hãy chọn trong mục “Địa danh” của kết quả")
    return Query(text=q, page=page, per_page=per_page,
                 filters=Filters(date_from, date_to, sources, chosen),
                 sort=_choice(args, "sort", SORTS), mode=_choice(args, "mode", MODES),
                 explain=_flag(args, "explain"), collapse=_flag(args, "collapse", default=True),
                 as_typed=_flag(args, "as_typed"))
