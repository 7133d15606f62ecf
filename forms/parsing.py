"""Turning what people type into a definition cell into typed values.

Each parser takes the raw value (from openpyxl or YAML) and returns a typed value, or raises
``CellError`` with a finding code and a Vietnamese message. They accept what a Vietnamese
office pastes from a plan: ``50.802`` for fifty thousand, ``70%``, ``09:00``, ``Thứ Sáu``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from enum import Enum
from typing import Any

from forms.schema import CODE_RE, Relation, RelationOp


class CellError(ValueError):
    """A value that cannot be understood: a finding code, a message and a hint."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def fold(text: str) -> str:
    """Lower-case, diacritic-free, single-spaced form of a label, for matching."""
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    return " ".join(text.split())


def is_blank(value: Any) -> bool:
    """True for None and strings of white space only."""
    return value is None or (isinstance(value, str) and not value.strip())


def parse_text(value: Any) -> str:
    """Any value as trimmed NFC text; blank gives ''."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def parse_code(value: Any) -> str:
    """A code of ASCII letters, digits and underscores."""
    text = parse_text(value)
    if not CODE_RE.match(text):
        raise CellError(
            "bad_code",
            f"Mã «{text}» không hợp lệ: mã chỉ gồm chữ cái không dấu, chữ số và dấu gạch dưới.",
            "viết lại mã, ví dụ TP_SOC_TRANG.",
        )
    return text


_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+$")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def parse_number(value: Any) -> float:
    """A number; Vietnamese text such as ``50.802`` (thousands) or ``1,5`` is understood."""
    if isinstance(value, bool):
        raise CellError("not_a_number", f"«{value}» không phải là số.", "nhập một số.")
    if isinstance(value, int | float):
        return float(value)
    text = parse_text(value).replace(" ", "").replace("\u00a0", "")
    if _THOUSANDS.match(text):
        text = text.replace(".", "")
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise CellError(
            "not_a_number", f"«{parse_text(value)}» không phải là số.", "nhập một số, ví dụ 50802."
        ) from None


def suggest_thousands(amount: float) -> int | None:
    """The whole number meant when ``50.802`` was typed with a dot between thousands, if it fits.

    An English-locale spreadsheet reads "1.500" as 1.5, so any non-whole amount with at most
    three decimals is taken as thousands: 50.802 -> 50802, 1.5 -> 1500.
    """
    scaled = amount * 1000
    if amount.is_integer() or abs(scaled - round(scaled)) > 1e-6:
        return None
    return round(scaled)


def parse_amount(value: Any) -> float:
    """A number that is not negative (a quota, a bound on a count)."""
    number = parse_number(value)
    if number < 0:
        raise CellError("negative", f"Chỉ tiêu không được âm (đang là {number:g}).", "nhập số từ 0 trở lên.")
    return number


def parse_percent(value: Any) -> float:
    """A rate given as ``70``, ``70%`` or a percent-formatted cell, as a fraction (0.7)."""
    text = parse_text(value)
    if text.endswith("%"):
        number = parse_number(text[:-1])
    else:
        number = parse_number(value)
    if number < 0:
        raise CellError("negative", f"Tỷ lệ không được âm (đang là {number:g}%).", "nhập từ 0 đến 100.")
    if number > 100:
        raise CellError("rate_above_100", f"Tỷ lệ {number:g}% vượt quá 100%.", "nhập từ 0 đến 100.")
    return number / 100


def parse_whole(value: Any) -> int:
    """A whole number that is not negative."""
    number = parse_amount(value)
    if not number.is_integer():
        raise CellError("not_whole", f"«{parse_text(value)}» phải là số nguyên.", "nhập số nguyên, ví dụ 7.")
    return int(number)


def parse_date(value: Any) -> date:
    """A date from a date cell, ``dd/mm/yyyy`` or ``yyyy-mm-dd``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = parse_text(value)
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError("bad_date", f"«{text}» không phải là ngày.", "nhập ngày dạng ngày/tháng/năm, ví dụ 18/07/2023.")


_TIME = re.compile(r"^(\d{1,2})\s*(?:[:hg]|giờ)\s*(\d{0,2})\s*(?:phút|p)?$")


def parse_time(value: Any) -> time:
    """A time of day from a time cell, ``09:00``, ``9h`` or ``9 giờ 00``."""
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, float) and 0 <= value < 1:
        minutes = round(value * 24 * 60)
        return time(minutes // 60, minutes % 60)
    m = _TIME.match(fold(parse_text(value)).replace("gio", "giờ"))
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise CellError("bad_time", f"«{parse_text(value)}» không phải là giờ.", "nhập giờ dạng 09:00.")


_TRUE = {"co", "x", "yes", "true", "1", "dung"}
_FALSE = {"khong", "no", "false", "0", "sai"}


def parse_bool(value: Any) -> bool:
    """Yes or no: ``có`` / ``không`` (also x, 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    key = fold(parse_text(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise CellError("bad_choice", f"«{parse_text(value)}» không phải «có» hoặc «không».", "nhập «có» hoặc «không».")


def enum_parser(enum: type[Enum], what: str) -> Callable[[Any], Any]:
    """A parser accepting an enum member by Vietnamese label or by code, with or without accents."""
    table: dict[str, Enum] = {}
    for member in enum:
        table[fold(member.value)] = member
        table[fold(member.value.replace("_", " "))] = member
        for label in member.label.split("/"):
            table[fold(label)] = member
        table[fold(member.label)] = member
    allowed = ", ".join(m.label for m in enum)

    def parse(value: Any) -> Enum:
        key = fold(parse_text(value))
        for prefix in ("cap ", "loai "):
            if key.startswith(prefix) and key[len(prefix) :] in table:
                key = key[len(prefix) :]
        if key in table:
            return table[key]
        raise CellError("bad_choice", f"«{parse_text(value)}» không phải {what} hợp lệ.", f"chọn một trong: {allowed}.")

    return parse


def parse_list(value: Any) -> tuple[str, ...]:
    """Items separated by ``;`` or new lines (or a YAML list)."""
    if isinstance(value, list | tuple):
        return tuple(parse_text(v) for v in value if not is_blank(v))
    return tuple(p.strip() for p in re.split(r"[;\n]", parse_text(value)) if p.strip())


def list_parser(item: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    """A parser for a list whose items all go through ``item``."""

    def parse(value: Any) -> tuple:
        if isinstance(value, str) and "," in value and ";" not in value:
            value = value.replace(",", ";")
        return tuple(item(v) for v in parse_list(value))

    return parse


_WEEKDAYS = {
    "thu hai": 0,
    "thu 2": 0,
    "t2": 0,
    "thu ba": 1,
    "thu 3": 1,
    "t3": 1,
    "thu tu": 2,
    "thu 4": 2,
    "t4": 2,
    "thu nam": 3,
    "thu 5": 3,
    "t5": 3,
    "thu sau": 4,
    "thu 6": 4,
    "t6": 4,
    "thu bay": 5,
    "thu 7": 5,
    "t7": 5,
    "chu nhat": 6,
    "cn": 6,
}


def parse_weekday(value: Any) -> int:
    """A weekday from its Vietnamese name (``Thứ Sáu``, ``thứ 6``, ``CN``), Monday being 0."""
    key = fold(parse_text(value))
    if key in _WEEKDAYS:
        return _WEEKDAYS[key]
    raise CellError("bad_weekday", f"«{parse_text(value)}» không phải tên thứ trong tuần.", "nhập ví dụ «Thứ Sáu».")


_RELATION = re.compile(r"^(<=|>=|=|≤|≥|<|>)\s*([A-Za-z0-9_]+)$")
_OPS = {
    "<=": RelationOp.LE,
    "≤": RelationOp.LE,
    "<": RelationOp.LE,
    ">=": RelationOp.GE,
    "≥": RelationOp.GE,
    ">": RelationOp.GE,
    "=": RelationOp.EQ,
}


def relations_parser(left: str) -> Callable[[Any], tuple[Relation, ...]]:
    """A parser for rules such as ``<= HS_TONG; >= TK_MUC2`` on indicator ``left``."""

    def parse(value: Any) -> tuple[Relation, ...]:
        rules = []
        for part in parse_list(value):
            m = _RELATION.match(part.strip())
            if not m:
                raise CellError("bad_relation", f"Ràng buộc «{part}» không đúng dạng.", "viết ví dụ «<= HS_TONG».")
            rules.append(Relation(left=left, op=_OPS[m.group(1)], right=m.group(2)))
        return tuple(rules)

    return parse
