"""Building a campaign from the rows of a definition, with every mistake located.

The workbook and YAML readers both turn their input into a ``RawDefinition`` (values with
the sheet, row and column they came from). ``build_campaign`` parses every cell, checks
the definition as a whole, and either returns a ``Campaign`` or raises ``DefinitionError``
listing every finding. The column tables here are the one description of the definition
format: the readers, the blank ``ke_hoach.xlsx`` writer and the README follow them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from forms.findings import DefinitionError, Finding
from forms.parsing import (
    CellError,
    enum_parser,
    fold,
    is_blank,
    list_parser,
    parse_amount,
    parse_bool,
    parse_code,
    parse_date,
    parse_list,
    parse_number,
    parse_percent,
    parse_text,
    parse_time,
    parse_weekday,
    parse_whole,
    relations_parser,
    suggest_thousands,
)
from forms.schema import (
    TZ,
    Campaign,
    CampaignInfo,
    Frequency,
    Indicator,
    IndicatorKind,
    Level,
    Period,
    PeriodSeries,
    Target,
    Unit,
    UnitKind,
)

SHEET_INFO = "Thông tin chung"
SHEET_UNITS = "Đơn vị"
SHEET_INDICATORS = "Chỉ tiêu"
SHEET_TARGETS = "Giao chỉ tiêu"
SHEET_PERIODS = "Kỳ báo cáo"
SECTION_SHEETS = {
    "info": SHEET_INFO,
    "units": SHEET_UNITS,
    "indicators": SHEET_INDICATORS,
    "targets": SHEET_TARGETS,
    "periods": SHEET_PERIODS,
}


@dataclass(frozen=True)
class Column:
    """One field of the definition: its key, Vietnamese header, parser and help text."""

    key: str
    header: str
    parse: Callable[[Any], Any]
    required: bool = False
    help: str = ""


def _cap(value: Any) -> float:
    return parse_amount(parse_text(value).rstrip("%") if isinstance(value, str) else value) / 100


INFO_COLUMNS = (
    Column("code", "Mã chiến dịch", parse_code, True, "Chữ không dấu, số, gạch dưới; ví dụ SOC_TRANG_2023."),
    Column("name", "Tên chiến dịch", parse_text, True, "Tên đầy đủ, in trên mọi mẫu biểu."),
    Column("document_number", "Số văn bản", parse_text, False, "Ví dụ 142/KH-UBND."),
    Column("document_date", "Ngày ban hành", parse_date, False, "Ngày/tháng/năm."),
    Column("issuer", "Cơ quan ban hành", parse_text, False, "Ví dụ UBND tỉnh Sóc Trăng."),
    Column("coordinator", "Cơ quan đầu mối tổng hợp", parse_text, False, "Nơi nhận và tổng hợp báo cáo."),
    Column("legal_basis", "Căn cứ", parse_text, False, "Các văn bản làm căn cứ, in trên mẫu biểu."),
    Column("start", "Ngày bắt đầu", parse_date, True, "Ngày/tháng/năm."),
    Column("end", "Ngày kết thúc", parse_date, True, "Ngày/tháng/năm."),
    Column(
        "template_version",
        "Phiên bản mẫu biểu",
        parse_whole,
        False,
        "Tăng lên 1 mỗi khi sửa định nghĩa và phát lại mẫu.",
    ),
    Column(
        "late_days",
        "Số ngày còn nhận báo cáo trễ",
        parse_whole,
        False,
        "Sau hạn nộp bao nhiêu ngày thì khóa kỳ (mặc định 7).",
    ),
    Column(
        "score_rate_cap",
        "Tỷ lệ tối đa khi tính điểm (%)",
        _cap,
        False,
        "Tỷ lệ đạt vượt mức này không được cộng thêm điểm (mặc định 100%).",
    ),
)

UNIT_COLUMNS = (
    Column("code", "Mã đơn vị", parse_code, True, "Chữ không dấu, số, gạch dưới; không trùng nhau."),
    Column("name", "Tên đơn vị", parse_text, True, "Tên in trên mẫu biểu."),
    Column("parent", "Mã đơn vị cấp trên", parse_code, False, "Để trống với đơn vị cao nhất."),
    Column(
        "level",
        "Cấp",
        enum_parser(Level, "cấp"),
        True,
        "tỉnh, huyện, xã, thôn, sở, ban, ngành, đoàn thể, trường học, cơ quan, khác.",
    ),
    Column(
        "kind",
        "Loại hình",
        enum_parser(UnitKind, "loại hình"),
        False,
        "xã, phường, thị trấn, huyện, thị xã, thành phố…",
    ),
    Column("reports", "Nộp báo cáo", parse_bool, False, "«có» (mặc định) hoặc «không» (ví dụ dòng tổng toàn tỉnh)."),
    Column("contact", "Người liên hệ", parse_text),
    Column("phone", "Điện thoại", parse_text),
    Column("email", "Thư điện tử", parse_text),
)
ATTRIBUTE_HEADER = re.compile(r"^(?P<label>.*?)\s*\[(?P<code>[A-Za-z0-9_]+)\]\s*$")

INDICATOR_COLUMNS = (
    Column("code", "Mã chỉ tiêu", parse_code, True, "Chữ không dấu, số, gạch dưới; dùng trong tên ô NHAP_<mã>."),
    Column("name", "Tên chỉ tiêu", parse_text, True),
    Column("measure", "Đơn vị tính", parse_text, False, "Ví dụ tài khoản, hồ sơ, %."),
    Column(
        "kind",
        "Loại",
        enum_parser(IndicatorKind, "loại chỉ tiêu"),
        False,
        "số lượng (mặc định), tổng tính, tỷ lệ tính, phần trăm, có/không, trạng thái, văn bản.",
    ),
    Column("cumulative", "Lũy kế", parse_bool, False, "«có» nếu số báo cáo là số cộng dồn từ đầu chiến dịch."),
    Column(
        "parts",
        "Cộng từ các chỉ tiêu",
        list_parser(parse_code),
        False,
        "Với loại «tổng tính»: các mã chỉ tiêu cộng lại.",
    ),
    Column("numerator", "Tử số", parse_code, False, "Với loại «tỷ lệ tính»: mã chỉ tiêu ở tử số."),
    Column("denominator", "Mẫu số", parse_code, False, "Với loại «tỷ lệ tính»: mã chỉ tiêu hoặc mã thuộc tính đơn vị."),
    Column("minimum", "Giá trị nhỏ nhất", parse_number),
    Column("maximum", "Giá trị lớn nhất", parse_number),
    Column("relations", "Ràng buộc", parse_text, False, "Ví dụ «<= HS_TONG»; nhiều ràng buộc cách nhau bởi dấu «;»."),
    Column("choices", "Các lựa chọn", parse_list, False, "Với loại «trạng thái»: các lựa chọn cách nhau bởi dấu «;»."),
    Column("levels", "Áp dụng cho cấp", list_parser(enum_parser(Level, "cấp")), False, "Để trống: mọi đơn vị."),
    Column(
        "targeted_only",
        "Chỉ đơn vị được giao",
        parse_bool,
        False,
        "«có»: chỉ đơn vị có dòng giao chỉ tiêu này mới báo cáo.",
    ),
    Column("weight", "Trọng số", parse_amount, False, "Trọng số khi tính điểm tổng hợp (0 = không tính)."),
    Column("coordinating", "Cơ quan phối hợp", parse_text),
    Column("note", "Ghi chú", parse_text),
)

TARGET_COLUMNS = (
    Column("unit", "Mã đơn vị", parse_code, False, "Để trống khi giao theo cấp/loại hình."),
    Column("unit_name", "Đơn vị", parse_text, False, "Có thể dán tên đơn vị thay cho mã."),
    Column("indicator", "Mã chỉ tiêu", parse_code, True),
    Column("level", "Cấp", enum_parser(Level, "cấp"), False, "Giao cho mọi đơn vị thuộc cấp này."),
    Column("kind", "Loại hình", enum_parser(UnitKind, "loại hình"), False, "Kết hợp với cấp: xã, phường, thị trấn…"),
    Column("value", "Chỉ tiêu", parse_amount, False, "Số lượng phải đạt (ví dụ 50.802)."),
    Column("daily", "Chỉ tiêu trong ngày", parse_amount, False, "Số lượng mỗi ngày."),
    Column("rate", "Tỷ lệ (%)", parse_percent, False, "Tỷ lệ phải đạt, từ 0 đến 100."),
    Column("due", "Hạn hoàn thành", parse_date, False, "Ngày/tháng/năm."),
    Column("note", "Ghi chú", parse_text),
)

PERIOD_COLUMNS = (
    Column("code", "Mã kỳ", parse_code, True, "Với kỳ lặp lại: tiền tố của mã, ví dụ N → N20230718."),
    Column("label", "Tên kỳ", parse_text, True, "Hiện trong danh sách chọn kỳ; với kỳ lặp lại: tiền tố, ví dụ «Tuần»."),
    Column("start", "Từ ngày", parse_date, True),
    Column("end", "Đến ngày", parse_date, True),
    Column("deadline_date", "Hạn nộp (ngày)", parse_date, False, "Để trống: ngày cuối kỳ cộng «Hạn nộp sau kỳ»."),
    Column("deadline_time", "Giờ hạn nộp", parse_time, False, "Ví dụ 09:00 (mặc định 23:59)."),
    Column(
        "frequency",
        "Lặp lại",
        enum_parser(Frequency, "cách lặp"),
        False,
        "hằng ngày, hằng tuần, hằng tháng; trống = một kỳ.",
    ),
    Column("deadline_weekday", "Thứ hạn nộp", parse_weekday, False, "Với kỳ hằng tuần, ví dụ «Thứ Sáu»."),
    Column("deadline_days_after", "Hạn nộp sau kỳ (ngày)", parse_whole, False, "Số ngày sau ngày cuối kỳ."),
    Column("note", "Ghi chú", parse_text),
)

SECTION_COLUMNS = {
    "info": INFO_COLUMNS,
    "units": UNIT_COLUMNS,
    "indicators": INDICATOR_COLUMNS,
    "targets": TARGET_COLUMNS,
    "periods": PERIOD_COLUMNS,
}


@dataclass(frozen=True)
class RawCell:
    """A value as read, with the place it came from."""

    value: Any
    row: int | None = None
    column: str | None = None


@dataclass
class RawRow:
    """One row of a section (or the whole info section), keyed by column key."""

    sheet: str
    row: int | None
    cells: dict[str, RawCell] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """The raw value of ``key``, or None."""
        cell = self.cells.get(key)
        return None if cell is None else cell.value

    def place(self, key: str) -> tuple[int | None, str | None]:
        """Row and column of ``key`` (the row's own number when the column is absent)."""
        cell = self.cells.get(key)
        if cell is None:
            return self.row, None
        return cell.row or self.row, cell.column


@dataclass
class RawDefinition:
    """A definition as read from a workbook or YAML, before any parsing."""

    source: str
    info: RawRow
    units: list[RawRow] = field(default_factory=list)
    indicators: list[RawRow] = field(default_factory=list)
    targets: list[RawRow] = field(default_factory=list)
    periods: list[RawRow] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


class _Collector:
    """Collects findings while rows are parsed and checked."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings

    def add(self, code: str, message: str, row: RawRow, key: str | None = None, hint: str = "", value: Any = None):
        r, c = row.place(key) if key else (row.row, None)
        self.findings.append(
            Finding(code=code, message=message, sheet=row.sheet, row=r, column=c, value=value, hint=hint or None)
        )

    def parse_row(self, row: RawRow, columns: tuple[Column, ...]) -> dict[str, Any] | None:
        """Parse every cell of ``row``; None when one of them is wrong."""
        out: dict[str, Any] = {}
        ok = True
        for col in columns:
            raw = row.value(col.key)
            if is_blank(raw):
                if col.required:
                    self.add("missing_value", f"Thiếu «{col.header}».", row, col.key, "điền giá trị vào ô này.")
                    ok = False
                continue
            try:
                out[col.key] = col.parse(raw)
            except CellError as err:
                self.add(err.code, f"«{col.header}»: {err.message}", row, col.key, err.hint, raw)
                ok = False
        return out if ok else None


def build_campaign(raw: RawDefinition) -> Campaign:
    """Parse and check a raw definition; return the campaign or raise DefinitionError."""
    findings = list(raw.findings)
    col = _Collector(findings)
    info = col.parse_row(raw.info, INFO_COLUMNS)
    if info and info["end"] < info["start"]:
        col.add("campaign_end_before_start", "Ngày kết thúc trước ngày bắt đầu.", raw.info, "end")
        info = None
    units = _build_units(raw, col)
    attributes = set(raw.attributes)
    indicators = _build_indicators(raw, col, attributes)
    targets = _build_targets(raw, col, units, indicators)
    periods, series = _build_periods(raw, col)
    if findings:
        raise DefinitionError(raw.source, findings)
    try:
        return Campaign(
            info=CampaignInfo(**info),
            units=tuple(units.values()),
            indicators=tuple(indicators.values()),
            targets=tuple(targets),
            periods=tuple(periods),
            series=tuple(series),
            attributes=dict(raw.attributes),
        )
    except ValidationError as err:  # a check missed above: still answer in Vietnamese
        raise DefinitionError(
            raw.source,
            [
                Finding(
                    code="invalid", message=f"Định nghĩa không hợp lệ: {e['msg']} ({'.'.join(map(str, e['loc']))})."
                )
                for e in err.errors()
            ],
        ) from None


def _build_units(raw: RawDefinition, col: _Collector) -> dict[str, Unit]:
    parsed: dict[str, tuple[RawRow, dict]] = {}
    for row in raw.units:
        values = col.parse_row(row, UNIT_COLUMNS)
        attrs = {}
        for code, label in raw.attributes.items():
            value = row.value(f"attr:{code}")
            if is_blank(value):
                continue
            try:
                attrs[code] = parse_amount(value)
            except CellError as err:
                col.add(err.code, f"«{label}»: {err.message}", row, f"attr:{code}", err.hint, value)
                values = None
        if values is None:
            continue
        if values["code"] in parsed:
            first = parsed[values["code"]][0]
            col.add(
                "duplicate_unit",
                f"Mã đơn vị «{values['code']}» bị trùng (đã có ở dòng {first.row}).",
                row,
                "code",
                "đặt mã khác cho một trong hai đơn vị.",
                values["code"],
            )
            continue
        values["attributes"] = attrs
        parsed[values["code"]] = (row, values)
    if not raw.units:
        col.add("empty_section", "Chưa có đơn vị nào.", RawRow(SHEET_UNITS, None), hint="thêm ít nhất một đơn vị.")
    for row, values in parsed.values():
        parent = values.get("parent")
        if parent and parent not in parsed:
            col.add(
                "unknown_parent",
                f"Đơn vị cấp trên «{parent}» không có trong danh sách đơn vị.",
                row,
                "parent",
                "sửa mã cấp trên hoặc thêm đơn vị đó.",
                parent,
            )
    for code, (row, _values) in parsed.items():
        seen = [code]
        current = parsed[code][1].get("parent")
        while current in parsed and current not in seen:
            seen.append(current)
            current = parsed[current][1].get("parent")
        if current == code:
            chain = " → ".join([*seen, code])
            col.add(
                "hierarchy_cycle",
                f"Quan hệ cấp trên bị vòng lặp: {chain}.",
                row,
                "parent",
                "sửa mã cấp trên để mỗi đơn vị có một đơn vị cao nhất.",
                code,
            )
    return {code: Unit(**values) for code, (_row, values) in parsed.items()}


def _build_indicators(raw: RawDefinition, col: _Collector, attributes: set[str]) -> dict[str, Indicator]:
    parsed: dict[str, tuple[RawRow, dict]] = {}
    for row in raw.indicators:
        values = col.parse_row(row, INDICATOR_COLUMNS)
        if values is None:
            continue
        code = values["code"]
        # Excel's defined names ignore case: NHAP_tk and NHAP_TK would be one cell.
        clash = next((c for c in parsed if c.upper() == code.upper()), None)
        if clash is not None:
            col.add(
                "duplicate_indicator",
                f"Mã chỉ tiêu «{code}» trùng với «{clash}» ở dòng {parsed[clash][0].row} "
                "(tên ô trong Excel không phân biệt chữ hoa, chữ thường).",
                row,
                "code",
                "đặt mã khác.",
                code,
            )
            continue
        if code in attributes:
            col.add(
                "code_clash",
                f"Mã «{code}» vừa là chỉ tiêu vừa là thuộc tính đơn vị.",
                row,
                "code",
                "đổi một trong hai mã.",
            )
        try:
            values["relations"] = relations_parser(code)(values.get("relations", ""))
        except CellError as err:
            col.add(err.code, err.message, row, "relations", err.hint, row.value("relations"))
            continue
        parsed[code] = (row, values)
    if not raw.indicators:
        col.add(
            "empty_section", "Chưa có chỉ tiêu nào.", RawRow(SHEET_INDICATORS, None), hint="thêm ít nhất một chỉ tiêu."
        )
    result: dict[str, Indicator] = {}
    for code, (row, values) in parsed.items():
        kind = values.get("kind", IndicatorKind.COUNT)
        ok = True
        for rel in values["relations"]:
            if rel.right not in parsed:
                col.add(
                    "unknown_relation_indicator",
                    f"Ràng buộc «{rel.text()}» nêu chỉ tiêu «{rel.right}» không có trong danh sách.",
                    row,
                    "relations",
                    "sửa mã chỉ tiêu trong ràng buộc.",
                    rel.right,
                )
                ok = False
        if kind is IndicatorKind.RATIO:
            for key, label in (("numerator", "Tử số"), ("denominator", "Mẫu số")):
                operand = values.get(key)
                if not operand:
                    col.add(
                        "missing_value", f"Chỉ tiêu loại «tỷ lệ tính» cần «{label}».", row, key, "điền mã chỉ tiêu."
                    )
                    ok = False
                elif operand not in parsed and not (key == "denominator" and operand in attributes):
                    col.add(
                        "unknown_ratio_operand",
                        f"«{label}» nêu «{operand}», không phải chỉ tiêu hay thuộc tính đơn vị nào.",
                        row,
                        key,
                        "sửa mã cho đúng.",
                        operand,
                    )
                    ok = False
        if kind is IndicatorKind.SUM:
            if not values.get("parts"):
                col.add(
                    "missing_value",
                    "Chỉ tiêu loại «tổng tính» cần «Cộng từ các chỉ tiêu».",
                    row,
                    "parts",
                    "điền các mã chỉ tiêu.",
                )
                ok = False
            for part in values.get("parts", ()):
                if part not in parsed:
                    col.add(
                        "unknown_ratio_operand",
                        f"«Cộng từ các chỉ tiêu» nêu «{part}» không có trong danh sách.",
                        row,
                        "parts",
                        "sửa mã cho đúng.",
                        part,
                    )
                    ok = False
        if kind is IndicatorKind.STATUS and not values.get("choices"):
            col.add(
                "missing_choices",
                "Chỉ tiêu loại «trạng thái» cần «Các lựa chọn».",
                row,
                "choices",
                "ví dụ «Chưa thực hiện; Đang thực hiện; Hoàn thành».",
            )
            ok = False
        lo, hi = values.get("minimum"), values.get("maximum")
        if lo is not None and hi is not None and lo > hi:
            col.add(
                "bad_bounds",
                f"Giá trị nhỏ nhất ({lo:g}) lớn hơn giá trị lớn nhất ({hi:g}).",
                row,
                "maximum",
                "sửa lại hai giới hạn.",
            )
            ok = False
        if ok:
            result[code] = Indicator(**values)
    return result


def _build_targets(
    raw: RawDefinition, col: _Collector, units: dict[str, Unit], indicators: dict[str, Indicator]
) -> list[Target]:
    names: dict[str, list[str]] = {}
    for unit in units.values():
        names.setdefault(fold(unit.name), []).append(unit.code)
    targets = []
    for row in raw.targets:
        values = col.parse_row(row, TARGET_COLUMNS)
        if values is None:
            continue
        unit_name = values.pop("unit_name", "")
        if not values.get("unit") and unit_name and "level" not in values and "kind" not in values:
            matches = names.get(fold(unit_name), [])
            if len(matches) != 1:
                col.add(
                    "unknown_unit",
                    f"Không tìm thấy đúng một đơn vị tên «{unit_name}».",
                    row,
                    "unit_name",
                    "điền «Mã đơn vị» hoặc sửa tên cho khớp trang «Đơn vị».",
                    unit_name,
                )
                continue
            values["unit"] = matches[0]
        if values.get("unit") and values["unit"] not in units:
            col.add(
                "unknown_unit",
                f"Mã đơn vị «{values['unit']}» không có trong trang «{SHEET_UNITS}».",
                row,
                "unit",
                "sửa mã hoặc thêm đơn vị.",
                values["unit"],
            )
            continue
        indicator = indicators.get(values["indicator"])
        if indicator is None:
            if not any(values["indicator"] == r.value("code") for r in raw.indicators):
                col.add(
                    "unknown_indicator",
                    f"Mã chỉ tiêu «{values['indicator']}» không có trong trang «{SHEET_INDICATORS}».",
                    row,
                    "indicator",
                    "sửa mã hoặc thêm chỉ tiêu.",
                    values["indicator"],
                )
            continue
        # A task (status, yes/no, text) is assigned by its due date alone; numbers need an amount or a rate.
        task = indicator.kind in (IndicatorKind.STATUS, IndicatorKind.YES_NO, IndicatorKind.TEXT) and values.get("due")
        if all(values.get(k) is None for k in ("value", "daily", "rate")) and not task:
            col.add(
                "empty_target",
                "Dòng giao chỉ tiêu chưa có số lượng, chỉ tiêu trong ngày hay tỷ lệ.",
                row,
                "value",
                "điền «Chỉ tiêu» hoặc «Tỷ lệ (%)».",
            )
            continue
        fractional = [k for k in ("value", "daily") if values.get(k) is not None and not float(values[k]).is_integer()]
        if fractional and indicator.kind in (IndicatorKind.COUNT, IndicatorKind.SUM):
            key = fractional[0]
            amount = values[key]
            meant = suggest_thousands(amount)
            hint = (
                f"nếu ý là {meant} (dấu chấm ngăn cách hàng nghìn), hãy nhập {meant}." if meant else "nhập số nguyên."
            )
            col.add("fractional_count", f"Chỉ tiêu {amount:g} không phải số nguyên.", row, key, hint, amount)
            continue
        if values.get("rate") is not None and indicator.kind not in (IndicatorKind.RATIO, IndicatorKind.PERCENT):
            col.add(
                "target_kind_mismatch",
                f"Chỉ tiêu «{indicator.code}» là {indicator.kind.label}, không giao theo tỷ lệ.",
                row,
                "rate",
                "giao số lượng ở cột «Chỉ tiêu», hoặc đổi loại chỉ tiêu.",
            )
            continue
        targets.append(Target(**values))
    return targets


def _build_periods(raw: RawDefinition, col: _Collector) -> tuple[list[Period], list[PeriodSeries]]:
    periods: list[Period] = []
    series: list[PeriodSeries] = []
    seen: dict[str, int | None] = {}
    for row in raw.periods:
        values = col.parse_row(row, PERIOD_COLUMNS)
        if values is None:
            continue
        start, end = values["start"], values["end"]
        if end < start:
            col.add(
                "period_end_before_start",
                f"Kỳ kết thúc ({end:%d/%m/%Y}) trước khi bắt đầu ({start:%d/%m/%Y}).",
                row,
                "end",
                "sửa «Từ ngày» hoặc «Đến ngày».",
            )
            continue
        at = values.get("deadline_time", time(23, 59))
        if "frequency" in values:
            made = PeriodSeries(
                code_prefix=values["code"],
                label_prefix=values["label"],
                frequency=values["frequency"],
                start=start,
                end=end,
                deadline_time=at,
                deadline_weekday=values.get("deadline_weekday"),
                deadline_days_after=values.get("deadline_days_after", 0),
                note=values.get("note", ""),
            )
            items = made.expand()
        else:
            day = values.get("deadline_date") or end + timedelta(days=values.get("deadline_days_after", 0))
            deadline = datetime.combine(day, at, TZ)
            if deadline < datetime.combine(start, time(0), TZ):
                col.add(
                    "deadline_before_start",
                    f"Hạn nộp ({day:%d/%m/%Y}) trước ngày bắt đầu kỳ ({start:%d/%m/%Y}).",
                    row,
                    "deadline_date",
                    "sửa hạn nộp cho sau ngày bắt đầu kỳ.",
                )
                continue
            made = Period(
                code=values["code"],
                label=values["label"],
                start=start,
                end=end,
                deadline=deadline,
                note=values.get("note", ""),
            )
            items = [made]
        clash = [p for p in items if p.code in seen or p.label in seen]
        if clash:
            col.add(
                "duplicate_period",
                f"Kỳ «{clash[0].code}» / «{clash[0].label}» bị trùng mã hoặc tên với kỳ khác.",
                row,
                "code",
                "đặt mã và tên kỳ khác nhau.",
                clash[0].code,
            )
            continue
        for p in items:
            seen[p.code] = seen[p.label] = row.row
        (series if isinstance(made, PeriodSeries) else periods).append(made)
    if not raw.periods:
        col.add("empty_section", "Chưa có kỳ báo cáo nào.", RawRow(SHEET_PERIODS, None), hint="thêm ít nhất một kỳ.")
    return periods, series
