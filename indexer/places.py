"""Places: the province, district and commune units of Vietnam across the administrative
reorganisation of 1 July 2025 (districts abolished, 63 provinces merged into 34, about 10,000
communes into 3,300), and the places a query names. place_mentions.py finds them in articles.

The gazetteer is the data of the `vietnamadminunits` package (MIT): the units before the
reorganisation, the units after it, and which old units each new one was formed from. Only its
JSON files are read (its parsers match addresses, not running text).

A unit's key names its era and its place in the hierarchy: ``o/<province>/<district>/<commune>``
before the reorganisation, ``n/<province>/<commune>`` after it. A province that the reform left
as it was (Nghệ An) is one unit, ``n/tinhnghean``, in both eras; a merged one has two, the old
area and the new (``o/tinhtuyenquang`` and ``n/tinhtuyenquang``, which also holds Hà Giang).
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from importlib.util import find_spec
from pathlib import Path

from indexer import text as vtext

# Bump when recognition or the dataset changes: the archive's places are recognised again
# (a schema migration) and the next build indexes them whole.
VERSION = "1:vietnamadminunits-1.0.4"
REFORM_DAY = "2025-07-01"  # the first day the new units existed
PROVINCE, DISTRICT, COMMUNE = "province", "district", "commune"
LEVELS = (PROVINCE, DISTRICT, COMMUNE)
MAX_NAME_WORDS = 5

# The word (or words) in front of a name, and the kinds of unit it announces ("thành phố" is a
# province-level city or a district-level one; the party committees are named the same way).
PREFIXES: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {
    ("tỉnh",): ((PROVINCE, "Tỉnh"),),
    ("tỉnh", "ủy"): ((PROVINCE, "Tỉnh"),),
    ("thành", "phố"): ((PROVINCE, "Thành phố"), (DISTRICT, "Thành phố")),
    ("tp",): ((PROVINCE, "Thành phố"), (DISTRICT, "Thành phố")),
    ("thành", "ủy"): ((PROVINCE, "Thành phố"), (DISTRICT, "Thành phố")),
    ("huyện",): ((DISTRICT, "Huyện"),),
    ("huyện", "ủy"): ((DISTRICT, "Huyện"),),
    ("quận",): ((DISTRICT, "Quận"),),
    ("quận", "ủy"): ((DISTRICT, "Quận"),),
    ("thị", "xã"): ((DISTRICT, "Thị xã"),),
    ("thị", "ủy"): ((DISTRICT, "Thị xã"),),
    ("xã",): ((COMMUNE, "Xã"),),
    ("phường",): ((COMMUNE, "Phường"),),
    ("thị", "trấn"): ((COMMUNE, "Thị trấn"),),
    ("đặc", "khu"): ((COMMUNE, "Đặc khu"),),
    # Abbreviations: "TX Hồng Ngự", "TT. Kim Sơn", "Q.Gò Vấp", "P. Phú Thủy", "H. Quế Phong".
    ("tx",): ((DISTRICT, "Thị xã"),),
    ("tt",): ((COMMUNE, "Thị trấn"),),
    ("q", "."): ((DISTRICT, "Quận"),),
    ("h", "."): ((DISTRICT, "Huyện"),),
    ("p", "."): ((COMMUNE, "Phường"),),
}
PREFIX_WORDS = max(len(p) for p in PREFIXES)
# Other spellings of province names, beside the dataset's short names.
_ALIASES = {"thừa thiên huế": "Huế", "tp hcm": "Hồ Chí Minh", "tphcm": "Hồ Chí Minh", "sài gòn": "Hồ Chí Minh",
            "đăk lăk": "Đắk Lắk", "đắk lăk": "Đắk Lắk", "đăk nông": "Đắk Nông", "kontum": "Kon Tum"}
# Province names that must have their word in front: alone they are a person ("Hồ Chí Minh") or,
# in a query typed in lower case, a common word ("hòa bình": peace; "hải dương": ocean).
NEEDS_PREFIX = {"hồ chí minh"}
_NEEDS_PREFIX_IN_QUERY = NEEDS_PREFIX | {"hòa bình", "thái bình", "hải dương", "bình định", "vĩnh phúc"}
_NEEDS_PREFIX_IN_QUERY |= {vtext.fold(name) for name in _NEEDS_PREFIX_IN_QUERY}  # typed without diacritics too
_ERA_NOTE = {"old": " (trước 7/2025)", "new": " (từ 7/2025)"}


@dataclass(frozen=True)
class Unit:
    key: str
    level: str
    kind: str       # Tỉnh, Thành phố, Huyện, Quận, Thị xã, Xã, Phường, Thị trấn, Đặc khu
    name: str       # the short name: "Anh Sơn", "3" for Phường 3
    parent: str | None
    era: str        # "old" (before REFORM_DAY), "new", or "both" for a province the reform kept


@dataclass
class Gazetteer:
    units: dict[str, Unit] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    by_folded: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    formed_from: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # new unit → old units
    became: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))       # old unit → new units
    names: set[str] = field(default_factory=set)  # every name any unit bears, as by_name spells it

    def add(self, unit: Unit, names: Iterable[str] = ()) -> None:
        self.units[unit.key] = unit
        for name in {unit.name, *names}:
            words = name_words(name)
            self.by_name[(unit.level, " ".join(words))].append(unit.key)
            self.names.add(" ".join(words))
            folded = (unit.level, " ".join(vtext.fold_word(w) for w in words))
            if unit.key not in self.by_folded[folded]:
                self.by_folded[folded].append(unit.key)

    def province_of(self, key: str) -> str:
        unit = self.units[key]
        return key if unit.parent is None else self.province_of(unit.parent)

    def ancestors(self, key: str) -> list[str]:
        out, unit = [key], self.units[key]
        while unit.parent is not None:
            out.append(unit.parent)
            unit = self.units[unit.parent]
        return out

    def lies_in(self, key: str, context: set[str]) -> bool:
        """Whether a unit lies in one of these units (provinces count with their other era's area)."""
        return bool(set(self.ancestors(key)) & context or self.area(self.province_of(key)) & context)

    def area(self, province: str) -> set[str]:
        """Province keys of both eras that share ground with this province: a new one and the
        old ones merged into it, or an old one and the new one it went into."""
        return {province} | self.formed_from.get(province, set()) | self.became.get(province, set())

    def same_place(self, key: str) -> set[str]:
        """The keys an article about this place may carry, in either era: a new province and the
        old ones merged into it; an old unit and the new communes formed from its communes; a new
        commune and the old ones it was formed from. Ancestors are tagged on every article, so a
        province's districts and communes need not be listed."""
        unit = self.units[key]
        if unit.era != "old":
            return {key} | self.formed_from.get(key, set())
        inside = self.children_deep(key)[1:] if unit.level == PROVINCE else self.children_deep(key)
        return {key} | {new for old in inside for new in self.became.get(old, ())}

    @cached_property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for unit in self.units.values():
            if unit.parent is not None:
                out[unit.parent].append(unit.key)
        return out

    def children_deep(self, key: str) -> list[str]:
        out, frontier = [key], [key]
        while frontier:
            frontier = [child for parent in frontier for child in self.children.get(parent, ())]
            out.extend(frontier)
        return out

    def label(self, key: str) -> str:
        """How a person reads the place: "huyện Anh Sơn, Nghệ An", "Tuyên Quang (từ 7/2025)"."""
        unit = self.units[key]
        if unit.level == PROVINCE:
            return unit.name + _ERA_NOTE.get(unit.era, "")
        parts = [f"{unit.kind.lower()} {unit.name}"]
        if unit.level == COMMUNE and unit.era == "old":
            district = self.units[unit.parent]
            parts.append(f"{district.kind.lower()} {district.name}")
        parts.append(self.units[self.province_of(key)].name)
        return ", ".join(parts) + _ERA_NOTE[unit.era]


def name_words(name: str) -> list[str]:
    """A name as the words it is compared by: canonical lower case, hyphens and dots dropped."""
    return [vtext.canonical_word(w) for w in vtext.words(name)]


def _short(entry: dict, short_field: str, kind: str) -> str:
    """The dataset's short name, without the kind it sometimes repeats ("Phường 3" → "3")."""
    name = entry[short_field]
    return name[len(kind) + 1:] if name.lower().startswith(kind.lower() + " ") else name


def _data_dir() -> Path:
    spec = find_spec("vietnamadminunits")  # located, not imported: its import parses every address table
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package vietnamadminunits is not installed (requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _wards(table: dict) -> Iterable[tuple[str, dict]]:
    """(key, entry) of every commune in a table, the dataset's blanks left out."""
    for key, entry in table.items():
        if key != "NaN" and isinstance(entry.get("wardShort"), str):
            yield key, entry


def _province_kind(entry: dict) -> str:
    return "Thành phố" if entry["province"].startswith("Thành phố") else "Tỉnh"


@cache
def gazetteer() -> Gazetteer:
    """The administrative units of both eras and how the old became the new (loaded once)."""
    data = _data_dir()
    legacy = json.loads((data / "parser_legacy.json").read_text(encoding="utf-8"))
    modern = json.loads((data / "parser_from_2025.json").read_text(encoding="utf-8"))
    converter = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))
    g = Gazetteer()
    kept = {new for new, olds in converter["DICT_PROVINCE"].items() if olds == [new]}

    def old_province(raw: str) -> str:
        return f"n/{raw}" if raw in kept else f"o/{raw}"

    aliases = defaultdict(list)
    for alias, name in _ALIASES.items():
        aliases[name].append(alias)
    for raw, entry in legacy["DICT_PROVINCE"].items():
        g.add(Unit(old_province(raw), PROVINCE, _province_kind(entry), entry["provinceShort"], None,
                   "both" if raw in kept else "old"), aliases[entry["provinceShort"]])
    for raw, entry in modern["DICT_PROVINCE"].items():
        if raw not in kept:
            g.add(Unit(f"n/{raw}", PROVINCE, _province_kind(entry), entry["provinceShort"], None, "new"),
                  aliases[entry["provinceShort"]])
    for raw, districts in legacy["DICT_PROVINCE_DISTRICT"].items():
        for draw, entry in districts.items():
            kind = entry["districtType"]
            g.add(Unit(f"o/{raw}/{draw}", DISTRICT, kind, _short(entry, "districtShort", kind),
                       old_province(raw), "old"))
    for table in ("DICT_PROVINCE_DISTRICT_WARD_NO_ACCENTED", "DICT_PROVINCE_DISTRICT_WARD_ACCENTED"):
        for raw, districts in legacy[table].items():
            for draw, wards in districts.items():
                for wraw, entry in _wards(wards):
                    kind = entry["wardType"]
                    g.add(Unit(f"o/{raw}/{draw}/{wraw}", COMMUNE, kind, _short(entry, "wardShort", kind),
                               f"o/{raw}/{draw}", "old"))
    for table in ("DICT_PROVINCE_WARD_NO_ACCENTED", "DICT_PROVINCE_WARD_ACCENTED"):
        for raw, wards in modern[table].items():
            for wraw, entry in _wards(wards):
                kind = entry["wardType"]
                g.add(Unit(f"n/{raw}/{wraw}", COMMUNE, kind, _short(entry, "wardShort", kind), f"n/{raw}", "new"))
    for new, olds in converter["DICT_PROVINCE"].items():
        if new not in kept:
            g.formed_from[f"n/{new}"] = {old_province(old) for old in olds}
            for old in olds:
                g.became[old_province(old)].add(f"n/{new}")

    def link(old_path: str, new_key: str) -> None:
        old_key = "o/" + old_path.rstrip("_").replace("_", "/")
        if old_key in g.units and new_key in g.units:
            g.formed_from[new_key].add(old_key)
            g.became[old_key].add(new_key)

    for new_raw, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for wraw, olds in wards.items():
            for old in olds:
                link(old, f"n/{new_raw}/{wraw}")
    for new_raw, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in divided.items():
            for part in parts:
                link(old, f"n/{new_raw}/{part['newWardKey']}")
    return g


def of_kind(units: Iterable[str], level: str, kind: str, g: Gazetteer) -> list[str]:
    """The units of the kind a prefix announces; "tỉnh", or no prefix, admits either kind of province.
    A district of another kind stands in when none is of this one: districts changed kind over the
    years the archive covers (huyện Kim Bảng became a thị xã in 2024) and kept their names."""
    units = list(units)
    same = [k for k in units if g.units[k].kind == kind or (level == PROVINCE and kind == "Tỉnh")]
    return same if same or level != DISTRICT else units


def province_area(province: str | None, g: Gazetteer) -> set[str]:
    """The area of a source's province (a configured name such as "Nghệ An")."""
    if not province:
        return set()
    units = g.by_name.get((PROVINCE, " ".join(name_words(province))), [])
    return {key for unit in units for key in g.area(unit)}


def is_province(name: str) -> bool:
    """Whether a configured name ("Nghệ An", "Thừa Thiên Huế") is a province's, of either era."""
    return bool(province_area(name, gazetteer()))


# --- queries ----------------------------------------------------------------------------------
def query_places(normalized: str) -> tuple[str, ...]:
    """The places a query names ("thiên tai Nghệ An 2021", "huyen anh son"), typed with
    diacritics or without: each as one unit key, or none where the name is ambiguous. A bare
    name counts only for provinces whose names are not also common words."""
    g = gazetteer()
    typed = vtext.has_diacritics(normalized)
    words = [vtext.canonical_word(w) if typed else vtext.fold_word(w) for w in vtext.words(normalized)]
    prefixes = _QUERY_PREFIXES[typed]
    table = g.by_name if typed else g.by_folded
    found: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(words):
        step, match = 1, None
        for size in range(PREFIX_WORDS, 0, -1):
            kinds = prefixes.get(tuple(words[i:i + size]))
            if kinds:
                match = _query_name(words, i + size, kinds, table, g)
                if match:
                    step = size + match[0]
                    break
        if match is None:
            match = _query_name(words, i, ((PROVINCE, "Tỉnh"),), table, g, bare=True)
            if match:
                step = match[0]
        if match:
            found.append((match[1], match[2]))
        i += step
    context = {key for level, units in found if level != COMMUNE and len(units) == 1
               for key in (g.area(units[0]) if level == PROVINCE else units)}
    keys = []
    for level, units in found:
        if level != PROVINCE and len(units) > 1 and context:
            units = [u for u in units if g.lies_in(u, context)]
        if level == PROVINCE:
            units = [u for u in units if g.units[u].era in ("new", "both")] or units
        if len(units) == 1:
            keys.append(units[0])
    return tuple(dict.fromkeys(keys))


# The prefixes as a query spells them: with diacritics (True) or folded (False).
_QUERY_PREFIXES = {typed: {tuple(vtext.canonical_word(w) if typed else vtext.fold(w) for w in p): kinds
                           for p, kinds in PREFIXES.items()} for typed in (True, False)}


def _query_name(words: list[str], begin: int, kinds: tuple[tuple[str, str], ...],
                table: dict[tuple[str, str], list[str]], g: Gazetteer, bare: bool = False,
                ) -> tuple[int, str, list[str]] | None:
    for size in range(min(MAX_NAME_WORDS, len(words) - begin), 0, -1):
        name = " ".join(words[begin:begin + size])
        if bare and (size < 2 or name in _NEEDS_PREFIX_IN_QUERY):
            continue
        for level, kind in kinds:
            units = of_kind(table.get((level, name), ()), level, kind, g)
            if units:
                return size, level, units
    return None


def label(key: str) -> str:
    return gazetteer().label(key)


def known(key: str) -> bool:
    return key in gazetteer().units


def same_place(keys: Iterable[str]) -> tuple[str, ...]:
    """Every key that counts as one of these places (old and new names of the same area)."""
    return _same_place(tuple(keys))


@lru_cache(maxsize=4096)
def _same_place(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Cached: a search with a place filter asks once per candidate list."""
    g = gazetteer()
    return tuple(sorted({k for key in keys for k in g.same_place(key)}))
