"""Vietnamese administrative abbreviations, expanded both ways at query time.

A reviewed, deliberately small list: the abbreviations district news uses every day. Each maps to
the phrase(s) it stands for; ambiguous ones (BCH) list every reading. Keys and phrases are
written normally here and folded when used, so ``ubnd`` and ``UBND`` behave alike.
"""
from __future__ import annotations

import re

from indexer.text import fold

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "UBND": ("ủy ban nhân dân",),
    "HĐND": ("hội đồng nhân dân",),
    "MTTQ": ("mặt trận tổ quốc",),
    "UBMTTQ": ("ủy ban mặt trận tổ quốc",),
    "QS-QP": ("quân sự quốc phòng",),
    "QP-AN": ("quốc phòng an ninh",),
    "QPAN": ("quốc phòng an ninh",),
    "ANTT": ("an ninh trật tự",),
    "TTATXH": ("trật tự an toàn xã hội",),
    "ANCT": ("an ninh chính trị",),
    "BCH": ("ban chấp hành", "ban chỉ huy"),
    "BCHQS": ("ban chỉ huy quân sự",),
    "CHQS": ("chỉ huy quân sự",),
    "CCB": ("cựu chiến binh",),
    "CAND": ("công an nhân dân",),
    "QĐND": ("quân đội nhân dân",),
    "LLVT": ("lực lượng vũ trang",),
    "DQTV": ("dân quân tự vệ",),
    "NVQS": ("nghĩa vụ quân sự",),
    "PCTT": ("phòng chống thiên tai",),
    "TKCN": ("tìm kiếm cứu nạn",),
    "PCCC": ("phòng cháy chữa cháy",),
    "ATGT": ("an toàn giao thông",),
    "NTM": ("nông thôn mới",),
    "KT-XH": ("kinh tế xã hội",),
    "KTXH": ("kinh tế xã hội",),
    "HTX": ("hợp tác xã",),
    "BHYT": ("bảo hiểm y tế",),
    "BHXH": ("bảo hiểm xã hội",),
    "THPT": ("trung học phổ thông",),
    "THCS": ("trung học cơ sở",),
    "ĐBQH": ("đại biểu quốc hội",),
    "TNCS": ("thanh niên cộng sản",),
    "HĐQT": ("hội đồng quản trị",),
    "VH-TT": ("văn hóa thông tin",),
    "VHTT": ("văn hóa thông tin",),
    "GD-ĐT": ("giáo dục và đào tạo", "giáo dục đào tạo"),
    "NN-PTNT": ("nông nghiệp và phát triển nông thôn",),
    "TN-MT": ("tài nguyên và môi trường",),
    "LĐ-TB&XH": ("lao động thương binh và xã hội",),
    "CNH-HĐH": ("công nghiệp hóa hiện đại hóa",),
    "XHCN": ("xã hội chủ nghĩa",),
    "TP.HCM": ("thành phố hồ chí minh",),
}


def _key(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", fold(text)))


# folded word sequence of an abbreviation -> folded word sequences of its readings, and back
_FORWARD: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
_BACKWARD: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
for _abbr, _phrases in ABBREVIATIONS.items():
    for _phrase in _phrases:
        _FORWARD.setdefault(_key(_abbr), []).append(_key(_phrase))
        _BACKWARD.setdefault(_key(_phrase), []).append(_key(_abbr))
_MAX_LEN = max(len(k) for k in (*_FORWARD, *_BACKWARD))


def alternatives(folded_words: list[str]) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Each abbreviation or spelled-out phrase found in the query, with what it can also be written as.

    Longest match first, no overlaps: ``ubnd huyen`` → [(("ubnd",), [("uy", "ban", "nhan", "dan")])].
    """
    found, i = [], 0
    while i < len(folded_words):
        for length in range(min(_MAX_LEN, len(folded_words) - i), 0, -1):
            span = tuple(folded_words[i:i + length])
            other = _FORWARD.get(span, []) + _BACKWARD.get(span, [])
            if other:
                found.append((span, other))
                i += length
                break
        else:
            i += 1
    return found


def spelled_out(abbreviation: str) -> tuple[str, ...]:
    """The readings of an abbreviation as written in the dictionary (for the semantic query)."""
    return next((phrases for abbr, phrases in ABBREVIATIONS.items() if _key(abbr) == _key(abbreviation)), ())
