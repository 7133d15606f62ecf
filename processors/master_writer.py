"""Writing the master workbook (.xlsm) with XlsxWriter: xlwings' VBA project, the «Tổng hợp» button, the tables.

Every text is written with ``write_string`` (and the workbook refuses to turn strings into
formulas, numbers or links), so what a clerk typed, "=1+1" included, stays text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import xlsxwriter

from processors.master_rows import Column, Styled, Table

SHEET_SUMMARY = "Tổng hợp"
PLACEHOLDER_SHEETS = (SHEET_SUMMARY, "Xếp hạng", "Tiến độ", "Chưa báo cáo")
BUTTON_CAPTION = "Tổng hợp"
BUTTON_CELL = "A1"
STAMP_PROPERTY = "chitieu_stamp"
NUMBER_FORMATS = {
    "integer": "0",
    "count": "#,##0",
    "decimal": "#,##0.00",
    "percent": "0.0%",
    "moment": "dd/mm/yyyy hh:mm:ss",
}
PLACEHOLDER_NOTE = "Trang này được điền khi bấm nút «Tổng hợp» (trên trang «Tổng hợp»)."
GUIDE = (
    "Các trang «Tổng hợp», «Xếp hạng», «Tiến độ», «Chưa báo cáo» được điền khi bấm nút «Tổng hợp»; "
    "số liệu đã tiếp nhận ở trang «Dữ liệu», mọi tệp đã nhận ở trang «Nhật ký».",
    "Sổ này được chitieu tạo lại từ sổ cái mỗi khi có tệp mới: đừng ghi gì khác vào đây.",
)
_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


@dataclass(frozen=True)
class MasterContent:
    """Everything the master shows, ready to write."""

    title: str
    summary: str
    tables: tuple[Table, ...]
    conf_sheet: str
    conf_rows: tuple[tuple[str, str], ...]
    vba_project: bytes
    button_macro: str
    stamp: str


def render_master(content: MasterContent) -> bytes:
    """The master workbook's bytes (.xlsm)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, _OPTIONS)
    book.add_vba_project(io.BytesIO(content.vba_project), is_stream=True)
    book.set_vba_name("ThisWorkbook")
    book.set_properties(
        {"title": content.title, "subject": "Sổ tổng hợp", "author": "chitieu", "comments": " ".join(GUIDE)}
    )
    book.set_custom_property(STAMP_PROPERTY, content.stamp)
    formats = _add_formats(book)
    add_summary_sheet(book, content, formats)
    for name in PLACEHOLDER_SHEETS[1:]:
        add_placeholder_sheet(book, name, formats)
    for table in content.tables:
        add_table_sheet(book, table, formats)
    add_conf_sheet(book, content.conf_sheet, content.conf_rows)
    book.close()
    return buffer.getvalue()


def _add_formats(book: xlsxwriter.Workbook) -> dict[str, Any]:
    formats = {style: book.add_format({"num_format": code}) for style, code in NUMBER_FORMATS.items()}
    formats["header"] = book.add_format(
        {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "bottom": 1}
    )
    formats["title"] = book.add_format({"bold": True, "font_size": 14})
    formats["note"] = book.add_format({"italic": True, "font_color": "#595959"})
    return formats


def add_summary_sheet(book: xlsxwriter.Workbook, content: MasterContent, formats: dict[str, Any]) -> None:
    """The first sheet: the «Tổng hợp» button, the campaign's name and when the master was built."""
    sheet = book.add_worksheet(SHEET_SUMMARY)
    sheet.insert_button(
        BUTTON_CELL, {"macro": content.button_macro, "caption": BUTTON_CAPTION, "width": 120, "height": 36}
    )
    sheet.set_column("C:C", 110)
    sheet.write_string("C1", content.title, formats["title"])
    sheet.write_string("C2", content.summary)
    for row, line in enumerate(GUIDE, 2):
        sheet.write_string(row, 2, line, formats["note"])
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.activate()


def add_placeholder_sheet(book: xlsxwriter.Workbook, name: str, formats: dict[str, Any]) -> None:
    """A summary sheet that the «Tổng hợp» button fills."""
    sheet = book.add_worksheet(name)
    sheet.set_column("A:A", 80)
    sheet.write_string("A1", name, formats["title"])
    sheet.write_string("A2", PLACEHOLDER_NOTE, formats["note"])


def add_table_sheet(book: xlsxwriter.Workbook, table: Table, formats: dict[str, Any]) -> None:
    """A data sheet: header row frozen with the first two columns, a filter, Vietnamese number and date formats."""
    sheet = book.add_worksheet(table.name)
    last_col = len(table.columns) - 1
    for col, column in enumerate(table.columns):
        sheet.set_column(col, col, column.width)
        sheet.write_string(0, col, column.header, formats["header"])
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, max(len(table.rows), 1), last_col)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    for row, values in enumerate(table.rows, 1):
        for col, value in enumerate(values):
            write_value(sheet, row, col, value, table.columns[col], formats)


def write_value(sheet: Any, row: int, col: int, value: Any, column: Column, formats: dict[str, Any]) -> None:
    """One cell: text as text (never a formula), numbers and moments with the column's (or the value's) format."""
    if value is None or value == "":
        return
    if isinstance(value, str):
        sheet.write_string(row, col, value)
    elif isinstance(value, Styled):
        write_value(sheet, row, col, value.value, Column(column.header, column.width, value.style), formats)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats["moment"])
    elif isinstance(value, bool):
        sheet.write_string(row, col, "Có" if value else "Không")
    else:
        sheet.write_number(row, col, value, formats.get(column.style))


def add_conf_sheet(book: xlsxwriter.Workbook, name: str, rows: tuple[tuple[str, str], ...]) -> None:
    """The hidden ``xlwings.conf`` sheet: settings from A1 down (xlwings reads columns A and B only)."""
    sheet = book.add_worksheet(name)
    sheet.set_column("A:A", 18)
    sheet.set_column("B:B", 60)
    for row, (key, value) in enumerate(rows):
        sheet.write_string(row, 0, key)
        sheet.write_string(row, 1, value)
    sheet.write_string(0, 3, "Thiết lập xlwings của máy cài chitieu (trình thông dịch Python, PYTHONPATH).")
    sheet.hide()
