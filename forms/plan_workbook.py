"""The workbook form of a campaign definition: ``ke_hoach.xlsx``.

One sheet per section with Vietnamese headers, laid out like the plans' appendix tables so
a table can be pasted from a plan. The header row may sit below a title; columns may come
in any order; extra columns are ignored, except unit attribute columns written as
``Label [CODE]`` (e.g. ``Số cán bộ [CAN_BO]``).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from forms.definition import (
    ATTRIBUTE_HEADER,
    INFO_COLUMNS,
    SECTION_COLUMNS,
    SECTION_SHEETS,
    SHEET_INFO,
    Column,
    RawCell,
    RawDefinition,
    RawRow,
    build_campaign,
)
from forms.findings import Finding
from forms.parsing import fold, is_blank
from forms.plan_rows import campaign_rows
from forms.schema import Campaign, Frequency, IndicatorKind, Level, UnitKind

TABLE_SECTIONS = ("units", "indicators", "targets", "periods")
HEADER_SCAN_ROWS = 10
INFO_HEADERS = ("Mục", "Nội dung", "Hướng dẫn")
SHEET_GUIDE = "Hướng dẫn"


def _cell_value(cell: Any) -> Any:
    """A cell's value; a percent-formatted number becomes ``"70%"`` so it is not read as 0.7%."""
    value = cell.value
    if isinstance(value, int | float) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        return f"{round(value * 100, 9):g}%"
    if isinstance(value, str):
        return value.strip() or None
    return value


def _header_row(ws, columns: tuple[Column, ...]) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """Find the header row: the first of the top rows naming the first required column."""
    wanted = {fold(c.header): c.key for c in columns}
    first = fold(columns[0].header)
    for r in range(1, min(ws.max_row, HEADER_SCAN_ROWS) + 1):
        texts = {c: ws.cell(r, c).value for c in range(1, ws.max_column + 1)}
        if not any(isinstance(v, str) and fold(v) == first for v in texts.values()):
            continue
        keys: dict[str, int] = {}
        attrs: dict[str, str] = {}
        for c, v in texts.items():
            if not isinstance(v, str):
                continue
            key = wanted.get(fold(v))
            if key and key not in keys:
                keys[key] = c
                continue
            m = ATTRIBUTE_HEADER.match(v.strip())
            if m:
                keys[f"attr:{m.group('code')}"] = c
                attrs[m.group("code")] = m.group("label").strip() or m.group("code")
        return r, keys, attrs
    return None


def _read_table(ws, sheet: str, columns: tuple[Column, ...], raw: RawDefinition) -> list[RawRow]:
    found = _header_row(ws, columns)
    if found is None:
        raw.findings.append(
            Finding(
                code="missing_column",
                sheet=sheet,
                row=1,
                message=f"Không tìm thấy dòng tiêu đề có cột «{columns[0].header}».",
                hint="giữ nguyên dòng tiêu đề như trong tệp mẫu «chitieu new-plan».",
            )
        )
        return []
    header, keys, attrs = found
    for col in columns:
        if col.required and col.key not in keys:
            raw.findings.append(
                Finding(
                    code="missing_column",
                    sheet=sheet,
                    row=header,
                    message=f"Thiếu cột «{col.header}».",
                    hint="thêm cột này vào dòng tiêu đề.",
                )
            )
    raw.attributes.update(attrs)
    rows = []
    for r in range(header + 1, ws.max_row + 1):
        cells = {key: RawCell(_cell_value(ws.cell(r, c)), r, get_column_letter(c)) for key, c in keys.items()}
        if all(is_blank(cell.value) for cell in cells.values()):
            continue
        rows.append(RawRow(sheet=sheet, row=r, cells=cells))
    return rows


def _read_info(ws, raw: RawDefinition) -> RawRow:
    row = RawRow(sheet=SHEET_INFO, row=None)
    labels = {fold(c.header): c.key for c in INFO_COLUMNS}
    for r in range(1, ws.max_row + 1):
        label = ws.cell(r, 1).value
        key = labels.get(fold(label.replace("(*)", ""))) if isinstance(label, str) else None
        if key:
            row.cells[key] = RawCell(_cell_value(ws.cell(r, 2)), r, "B")
    return row


def read_plan_workbook(path: Path) -> RawDefinition:
    """Read ``ke_hoach.xlsx`` into raw rows; a missing sheet or header is a finding."""
    name = Path(path).name
    raw = RawDefinition(source=name, info=RawRow(SHEET_INFO, None))
    try:
        wb = load_workbook(path, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raw.findings.append(
            Finding(code="unreadable", message=f"Không mở được tệp: {err}.", hint="lưu lại tệp dạng Excel (.xlsx).")
        )
        return raw
    by_fold = {fold(ws.title): ws for ws in wb.worksheets}
    for section, sheet in SECTION_SHEETS.items():
        ws = by_fold.get(fold(sheet))
        if ws is None:
            raw.findings.append(
                Finding(
                    code="missing_sheet",
                    sheet=sheet,
                    message=f"Thiếu trang «{sheet}».",
                    hint="dùng tệp mẫu của «chitieu new-plan», giữ nguyên tên các trang.",
                )
            )
            continue
        if section == "info":
            raw.info = _read_info(ws, raw)
        else:
            setattr(raw, section, _read_table(ws, sheet, SECTION_COLUMNS[section], raw))
    return raw


def load_plan_workbook(path: Path) -> Campaign:
    """Load and check ``ke_hoach.xlsx``; raise DefinitionError listing every mistake."""
    return build_campaign(read_plan_workbook(path))


# ---------------------------------------------------------------- writing

_CHOICES: dict[tuple[str, str], list[str]] = {
    ("units", "level"): [m.label for m in Level],
    ("units", "kind"): [m.label for m in UnitKind],
    ("units", "reports"): ["có", "không"],
    ("indicators", "kind"): [m.label for m in IndicatorKind],
    ("indicators", "cumulative"): ["có", "không"],
    ("indicators", "targeted_only"): ["có", "không"],
    ("targets", "level"): [m.label for m in Level],
    ("targets", "kind"): [m.label for m in UnitKind],
    ("periods", "frequency"): [m.label for m in Frequency],
    ("periods", "deadline_weekday"): ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"],
}
_PERCENT_KEYS = {"rate", "score_rate_cap"}
BLANK_ROWS = 200

GUIDE_LINES = (
    "HƯỚNG DẪN LẬP KẾ HOẠCH GIAO CHỈ TIÊU",
    "",
    "Tệp này định nghĩa một chiến dịch: thông tin chung, các đơn vị, các chỉ tiêu, việc giao chỉ tiêu và các kỳ báo cáo.",
    "Điền lần lượt 5 trang, rồi chạy: chitieu forms ke_hoach.xlsx --out mau_bieu  (tạo mẫu biểu khóa cho từng đơn vị).",
    "Nếu có lỗi, chương trình liệt kê từng lỗi kèm tên trang, dòng, cột và cách sửa; khi còn lỗi thì chưa tạo mẫu nào.",
    "",
    "1. Trang «Thông tin chung»: mã chiến dịch (chữ không dấu, số, gạch dưới), tên, số và ngày văn bản, ngày bắt đầu/kết thúc.",
    "2. Trang «Đơn vị»: mỗi dòng một đơn vị. «Mã đơn vị cấp trên» tạo cây đơn vị (tỉnh → huyện → xã → thôn).",
    "   Dòng tổng toàn tỉnh trong phụ lục kế hoạch: khai là đơn vị cấp tỉnh, «Nộp báo cáo» = không.",
    "   Thuộc tính dùng làm mẫu số cho tỷ lệ (dân số trưởng thành, số cán bộ…): thêm cột tiêu đề dạng «Tên [MA]», ví dụ «Số cán bộ [CAN_BO]».",
    "3. Trang «Chỉ tiêu»: mỗi dòng một chỉ tiêu đơn vị phải báo cáo. Loại: số lượng, tổng tính (cộng các chỉ tiêu khác),",
    "   tỷ lệ tính (tử số ÷ mẫu số, tự tính trên mẫu), phần trăm, có/không, trạng thái (chọn trong danh sách), văn bản.",
    "   «Ràng buộc» ví dụ «<= HS_TONG»: số hồ sơ trực tuyến không vượt tổng số hồ sơ.",
    "4. Trang «Giao chỉ tiêu»: giao cho một đơn vị (mã hoặc tên đơn vị), hoặc theo cấp và loại hình",
    "   (ví dụ cấp xã, loại hình phường: 55%). Giao cho đơn vị cụ thể được ưu tiên hơn giao theo cấp.",
    "   Có thể dán thẳng bảng phụ lục của kế hoạch (cột Đơn vị, Chỉ tiêu, Chỉ tiêu trong ngày).",
    "5. Trang «Kỳ báo cáo»: các đợt liệt kê (Đợt 01…04, có hạn nộp), hoặc một dòng lặp lại hằng ngày/hằng tuần/hằng tháng",
    "   (ví dụ hằng tuần, hạn nộp 09:00 Thứ Sáu).",
    "",
    "Ngày nhập dạng ngày/tháng/năm; giờ dạng 09:00; tỷ lệ dạng 70 hoặc 70%. Ghi chú ở tiêu đề mỗi cột giải thích cột đó.",
)


def _write_value(ws, r: int, c: int, value: Any, key: str, fmt: dict[str, Any]) -> None:
    if value is None or value == "":
        return
    if key in _PERCENT_KEYS and isinstance(value, int | float):
        ws.write_number(r, c, value, fmt["percent"])
    elif isinstance(value, bool):
        ws.write_string(r, c, "có" if value else "không", fmt["cell"])
    elif isinstance(value, datetime):
        ws.write_datetime(r, c, value.replace(tzinfo=None), fmt["date"])
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime.combine(value, time(0)), fmt["date"])
    elif isinstance(value, time):
        ws.write_string(r, c, value.strftime("%H:%M"), fmt["cell"])
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, fmt["number"])
    else:
        ws.write_string(r, c, str(value), fmt["cell"])


def _formats(wb) -> dict[str, Any]:
    base = {"font_name": "Times New Roman", "font_size": 12, "valign": "top", "border": 1}
    return {
        "title": wb.add_format({"font_name": "Times New Roman", "font_size": 14, "bold": True}),
        "text": wb.add_format({"font_name": "Times New Roman", "font_size": 12}),
        "header": wb.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "text_wrap": True, "align": "center"}),
        "cell": wb.add_format({**base, "text_wrap": True}),
        "number": wb.add_format({**base, "num_format": "#,##0.##"}),
        "percent": wb.add_format({**base, "num_format": "0.##%"}),
        "date": wb.add_format({**base, "num_format": "dd/mm/yyyy"}),
        "label": wb.add_format({**base, "bold": True}),
    }


def _write_info(wb, rows: dict[str, Any] | None, fmt: dict[str, Any]) -> None:
    ws = wb.add_worksheet(SHEET_INFO)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 60)
    ws.set_column(2, 2, 60)
    for c, text in enumerate(INFO_HEADERS):
        ws.write_string(0, c, text, fmt["header"])
    for r, col in enumerate(INFO_COLUMNS, 1):
        ws.write_string(r, 0, col.header + (" (*)" if col.required else ""), fmt["label"])
        if rows:
            value = rows.get(col.key)
            _write_value(ws, r, 1, value, col.key, fmt)
        else:
            ws.write_blank(r, 1, None, fmt["cell"])
        ws.write_string(r, 2, col.help, fmt["cell"])
    ws.freeze_panes(1, 0)


def _write_table(wb, section: str, rows: list[dict[str, Any]], attributes: dict[str, str], fmt: dict[str, Any]) -> None:
    sheet = SECTION_SHEETS[section]
    ws = wb.add_worksheet(sheet)
    columns = list(SECTION_COLUMNS[section])
    if section == "targets":
        columns = [c for c in columns if c.key != "unit_name"] + [c for c in columns if c.key == "unit_name"]
    keys = [c.key for c in columns]
    headers = [c.header for c in columns]
    helps = [c.help for c in columns]
    if section == "units":
        for code, label in attributes.items():
            keys.append(f"attr:{code}")
            headers.append(f"{label} [{code}]")
            helps.append("Thuộc tính đơn vị, dùng làm mẫu số cho chỉ tiêu tỷ lệ.")
    ws.write_string(0, 0, "TT", fmt["header"])
    ws.set_column(0, 0, 5)
    for c, (header, help_text) in enumerate(zip(headers, helps, strict=True), 1):
        ws.write_string(0, c, header, fmt["header"])
        ws.set_column(c, c, max(12, min(40, len(header) + 4)))
        if help_text:
            ws.write_comment(0, c, help_text, {"x_scale": 2, "y_scale": 1.2})
        choices = _CHOICES.get((section, keys[c - 1]))
        if choices:
            ws.data_validation(
                1,
                c,
                BLANK_ROWS + len(rows),
                c,
                {
                    "validate": "list",
                    "source": choices,
                    "error_type": "warning",
                    "error_title": "Giá trị chưa có trong danh sách",
                    "error_message": "Chọn một giá trị trong danh sách.",
                },
            )
    for r, row in enumerate(rows, 1):
        ws.write_number(r, 0, r, fmt["cell"])
        for c, key in enumerate(keys, 1):
            _write_value(ws, r, c, row.get(key), key, fmt)
    ws.freeze_panes(1, 2)
    ws.autofilter(0, 0, max(1, len(rows)), len(keys))
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def write_plan_workbook(path: Path, campaign: Campaign | None = None) -> Path:
    """Write ``ke_hoach.xlsx``: the given campaign, or a blank definition with instructions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = campaign_rows(campaign) if campaign else None
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_formulas": False, "strings_to_urls": False})
        fmt = _formats(wb)
        guide = wb.add_worksheet(SHEET_GUIDE)
        guide.set_column(0, 0, 130)
        for r, line in enumerate(GUIDE_LINES):
            guide.write_string(r, 0, line, fmt["title"] if r == 0 else fmt["text"])
        _write_info(wb, rows["info"] if rows else None, fmt)
        for section in TABLE_SECTIONS:
            _write_table(wb, section, rows[section] if rows else [], rows["attributes"] if rows else {}, fmt)
        wb.worksheets()[1].activate()
        wb.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
