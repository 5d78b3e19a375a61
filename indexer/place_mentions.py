"""Places named in running text: an article's mentions resolved to units of the gazetteer
(places.py), and the places it is about.

Recognition favours precision: a district or commune needs its word in front ("huyện Anh Sơn",
"xã Minh Sơn", "UBND phường 3"); a province may stand alone, but only as a whole run of
capitalised words ("Nghệ An", not "Nguyễn Thái Bình" nor "Thái Bình Dương"). A name that more
than one unit bears is resolved by its context (the unit named right after it, "xã X, huyện Y";
the article's other places; the province of the source) and is not guessed when that leaves
more than one.

Pure functions over the loaded gazetteer; the archive stores what `article_places` returns.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from indexer import text as vtext
from indexer.places import (
    COMMUNE,
    DISTRICT,
    LEVELS,
    MAX_NAME_WORDS,
    NEEDS_PREFIX,
    PREFIX_WORDS,
    PREFIXES,
    PROVINCE,
    REFORM_DAY,
    Gazetteer,
    gazetteer,
    name_words,
    of_kind,
    province_area,
)

# An article is about a place it names in its title or lead, or at least this often in all.
ABOUT_MENTIONS = 2
_KINDS = {level: tuple(dict.fromkeys(kind for kinds in PREFIXES.values() for lv, kind in kinds if lv == level))
          for level in LEVELS}
_PREFIX_WORD_SET = {w for p in PREFIXES for w in p}
_PREFIX_FIRST_WORDS = {p[0] for p in PREFIXES}  # most words begin none: one set lookup
_OPENERS = _PREFIX_FIRST_WORDS | {"tp", "tphcm"}  # the words a prefix or Ho Chi Minh City begins with
# A run of capitalised words after a place can go on into a person's name ("UBND tỉnh Nghệ An
# Nguyễn Đức Trung"): the name ends where a family name begins.
_FAMILY_NAMES = frozenset(vtext.words(
    "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh trịnh lưu mai đào cao "
    "lương tạ hà đoàn văn thái lâm quách triệu chu tô kiều vương mạc thân lò lộc nông ma hứa"))
# Words a sentence often begins with, capitalised only for that: "Tại Thái Bình, …" names Thái Bình.
_SENTENCE_OPENERS = frozenset(vtext.words(
    "tại ở về theo trong cùng sáng chiều tối trưa đêm ngày hôm sau từ đến tới với cho các những nhiều "
    "toàn còn riêng năm tháng khi nếu để do vì đối như tuy nhưng và hiện trước qua ngoài giữa tỉnh"))
_TOKEN = re.compile(r"\w+|[^\w\s]|\n")  # a line break ends a run of names
_CHAIN_GAP = {",", "-", "(", ")", "–"}


@dataclass(frozen=True)
class Mention:
    """A place named in a text: where, as what, and the unit it was resolved to."""

    start: int
    end: int
    level: str
    unit: str


@dataclass
class _Candidate:
    start: int        # character offsets
    end: int
    first: int        # token positions
    last: int
    level: str
    units: list[str]
    parent: int | None = None  # the candidate named right after it ("xã X, huyện Y"), a level up
    needs_parent: bool = False  # a bare district name: a place only when its province follows it


def _is_name_word(token: str, digits: bool) -> bool:
    """A capitalised word (not an all-capitals abbreviation such as UBND), or a number after a
    prefix ("phường 3")."""
    if digits and token.isdigit():
        return True
    return token[:1].isupper() and not (len(token) > 1 and token.isupper()) and token.isalpha()


def _run_end(tokens: list[tuple[str, int, int]], begin: int, digits: bool) -> int:
    """The end (exclusive) of the run of name words from `begin`; a hyphen joins two of them."""
    end = begin
    while end < len(tokens):
        word = tokens[end][0]
        joins = word == "-" and end > begin and end + 1 < len(tokens) and _is_name_word(tokens[end + 1][0], False)
        if not (_is_name_word(word, digits) or joins):
            break
        end += 1
    return end


def _match_name(lower: list[str], begin: int, end: int, kinds: tuple[tuple[str, str], ...],
                g: Gazetteer, whole: bool) -> tuple[int, str, list[str]] | None:
    """(end, level, units): the longest name of one of these kinds at `begin` (`lower`: the
    canonical words), which ends the run or is followed by a family name (unless `whole`: then
    only the whole run counts)."""
    positions = [i for i in range(begin, end) if lower[i] != "-"]
    if whole and len(positions) > MAX_NAME_WORDS:
        return None
    words = [lower[i] for i in positions]
    for size in range(min(len(words), MAX_NAME_WORDS), 0, -1):
        if size < len(words) and (whole or words[size] not in _FAMILY_NAMES):
            continue
        name = " ".join(words[:size])
        for level, kind in kinds:
            bearers = g.by_name.get((level, name))
            units = of_kind(bearers, level, kind, g) if bearers else None
            if units:
                return positions[size - 1] + 1, level, units
    return None


def _prefix_at(words: list[str], i: int) -> tuple[int, tuple[tuple[str, str], ...]] | None:
    if words[i] not in _PREFIX_FIRST_WORDS:
        return None
    for size in range(PREFIX_WORDS, 0, -1):
        found = PREFIXES.get(tuple(words[i:i + size]))
        if found:
            return size, found
    return None


def _candidates(text: str, g: Gazetteer) -> list[_Candidate]:
    """Every place-like name in a text, with the units that bear it (not yet resolved)."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    lower = list(map(vtext.canonical_word, (t[0] for t in tokens)))
    out: list[_Candidate] = []
    i = 0
    # Only a prefix, "TP" or a capitalised word can begin a name: the other tokens are passed over.
    for mark in [n for n, (token, word) in enumerate(zip(tokens, lower)) if word in _OPENERS or token[0][:1].isupper()]:
        if mark < i:
            continue
        i = mark
        prefix = _prefix_at(lower, i)
        hcm = _hcm(lower, i) if lower[i] in ("tp", "tphcm") else 0
        if hcm:
            units = list(g.by_name[(PROVINCE, "hồ chí minh")])
            out.append(_Candidate(tokens[i][1], tokens[i + hcm - 1][2], i, i + hcm - 1, PROVINCE, units))
            i += hcm
            continue
        if prefix:
            size, kinds = prefix
            begin = i + size + (1 if i + size < len(tokens) and tokens[i + size][0] == "." else 0)
            end = _run_end(tokens, begin, digits=True)
            found = _match_name(lower, begin, end, kinds, g, whole=False) if end > begin else None
            if found:
                stop, level, units = found
                out.append(_Candidate(tokens[begin][1], tokens[stop - 1][2], begin, stop - 1, level, units))
                i = _list_continues(tokens, lower, stop, level, g, out)
                continue
            i += size
            continue
        if _is_name_word(tokens[i][0], False):
            end = _run_end(tokens, i, digits=False)
            if lower[i] in _SENTENCE_OPENERS and (i == 0 or lower[i - 1] in ".!?:;\"“\n") and end - i > 1:
                i += 1  # the sentence's first word, capitalised as such: the run after it may be a name
                continue
            out.extend(_bare(tokens, lower, i, end, g))
            i = end
            continue
        i += 1
    for n, (here, after) in enumerate(pairwise(out)):
        gap = lower[here.last + 1:after.first]
        if LEVELS.index(after.level) < LEVELS.index(here.level) and gap and all(
                t in _CHAIN_GAP or t in _PREFIX_WORD_SET for t in gap):
            here.parent = n + 1
    return out


def _bare(tokens: list[tuple[str, int, int]], lower: list[str], begin: int, end: int,
          g: Gazetteer) -> list[_Candidate]:
    """A run of capitalised words with no prefix: a province if the whole run names one (or each
    part of "Đắk Lắk - Đắk Nông" does); a district if its province follows ("Hoài Đức, Hà Nội")."""
    if "-" not in lower[begin:end] and " ".join(lower[begin:end]) not in g.names:
        return []  # most runs of capitals (people, bodies) name no unit: what follows would find none
    parts, start = [], begin
    for i in range(begin, end + 1):
        if i == end or tokens[i][0] == "-":
            parts.append((start, i))
            start = i + 1

    def province(first: int, last: int) -> _Candidate | None:
        match = _match_name(lower, first, last, ((PROVINCE, "Tỉnh"),), g, whole=True)
        if match and " ".join(w for w in lower[first:last] if w != "-") not in NEEDS_PREFIX:
            return _Candidate(tokens[first][1], tokens[last - 1][2], first, last - 1, PROVINCE, match[2])
        return None

    whole = province(begin, end)
    if whole:
        return [whole]
    found = [c for c in (province(first, last) for first, last in parts) if c] if len(parts) > 1 else []
    if found:
        return found
    district = _match_name(lower, begin, end, tuple((DISTRICT, k) for k in _KINDS[DISTRICT]), g, whole=True)
    if district and lower[end:end + 1] == [","]:
        return [_Candidate(tokens[begin][1], tokens[end - 1][2], begin, end - 1, DISTRICT, district[2],
                           needs_parent=True)]
    return []


def _hcm(lower: list[str], i: int) -> int:
    """How many tokens spell Ho Chi Minh City from here: "TP.HCM", "TP HCM", "TPHCM"."""
    if lower[i] == "tphcm":
        return 1
    if lower[i + 1:i + 2] == ["hcm"]:
        return 2
    if lower[i + 1:i + 3] == [".", "hcm"]:
        return 3
    return 0


def _list_continues(tokens: list[tuple[str, int, int]], lower: list[str], i: int, level: str,
                    g: Gazetteer, out: list[_Candidate]) -> int:
    """"các xã Minh Sơn, Hòa Sơn và Tân Sơn": more names of the same level after a comma or "và"
    (of any kind: "các quận Hoàn Kiếm, Ba Đình, Gia Lâm" lists a huyện with the quận)."""
    kinds = tuple((level, kind) for kind in _KINDS[level])
    while i < len(tokens) and lower[i] in (",", "và"):
        begin = i + 1 + (1 if lower[i] == "," and lower[i + 1:i + 2] == ["và"] else 0)
        end = _run_end(tokens, begin, digits=True)
        found = _match_name(lower, begin, end, kinds, g, whole=True) if end > begin else None
        name = " ".join(w for w in lower[begin:end] if w != "-")
        if not found or any(name_words(g.units[up].name) == name.split()
                            for unit in out[-1].units for up in g.ancestors(unit)[1:]):
            break  # "xã Cẩm Quan, Cẩm Xuyên": the district Cẩm Quan lies in, not another commune
        stop, level, units = found
        out.append(_Candidate(tokens[begin][1], tokens[stop - 1][2], begin, stop - 1, level, units))
        i = stop
    return i


def _era(published_day: str | None) -> str:
    return "new" if published_day and published_day >= REFORM_DAY else "old"


def _pick(units: list[str], g: Gazetteer, era: str) -> list[str]:
    """Of a province name's units, the one of the article's era ("Tuyên Quang" in 2024 is the
    old province, in 2026 the new one)."""
    if len(units) < 2:
        return units
    return [u for u in units if g.units[u].era in (era, "both")] or units


def _resolve(candidates: list[_Candidate], g: Gazetteer, era: str, home: set[str]) -> list[str | None]:
    """Each candidate's unit, or None where its context leaves more than one."""
    resolved: list[str | None] = [None] * len(candidates)
    for level in LEVELS:
        provinces = {g.province_of(u) for u in resolved if u}
        districts = {a for u in resolved if u for a in g.ancestors(u) if g.units[a].level == DISTRICT}
        for n, cand in enumerate(candidates):
            if cand.level != level:
                continue
            units = _pick(cand.units, g, era) if level == PROVINCE else cand.units
            if cand.parent is not None and (parent := resolved[cand.parent]):
                within = g.area(parent) if g.units[parent].level == PROVINCE else {parent}
                units = [u for u in units if g.lies_in(u, within)]
            elif cand.needs_parent:
                continue
            for context in (districts, provinces, home):
                if len(units) < 2:
                    break
                units = [u for u in units if g.lies_in(u, context)] or units
            if len(units) > 1 and level == COMMUNE:
                units = [u for u in units if g.units[u].era == era] or units
            if len(units) == 1:
                resolved[n] = units[0]
    return resolved


def recognise(text: str, published_day: str | None = None, home_province: str | None = None) -> list[Mention]:
    """The places a text names, resolved to units; a name its context cannot resolve is left out."""
    g = gazetteer()
    candidates = _candidates(text, g)
    resolved = _resolve(candidates, g, _era(published_day), province_area(home_province, g))
    return [Mention(c.start, c.end, c.level, unit) for c, unit in zip(candidates, resolved) if unit]


def article_text(title: str, summary: str, body: str) -> tuple[str, int]:
    """(the text places are recognised in, the length of its head: title and lead)."""
    head = f"{title}\n\n{summary}"
    return f"{head}\n\n{body}", len(head)


def article_places(title: str, summary: str, body: str, published_day: str | None = None,
                   home_province: str | None = None) -> dict[str, int]:
    """The places an article is about, with how often each (or a place inside it) is named:
    those in its title or lead, and those named at least ABOUT_MENTIONS times. Each counts its
    ancestors too, so an article about a commune is also about its district and province."""
    text, head = article_text(title, summary, body)
    counts: Counter[str] = Counter()
    in_head: set[str] = set()
    g = gazetteer()
    for mention in recognise(text, published_day, home_province):
        for key in g.ancestors(mention.unit):
            counts[key] += 1
            if mention.end <= head:
                in_head.add(key)
    return {key: n for key, n in counts.items() if key in in_head or n >= ABOUT_MENTIONS}
