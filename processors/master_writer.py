"""Writing the master workbook (.xlsm) with XlsxWriter: xlwings' VBA project, the «Tổng hợp» button, the tables.

Every text is written with ``write_string`` (and the workbook refuses to turn strings into
formulas, numbers or links), so what a clerk typed, "=1+1" included, stays text.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from processors.master_rows import (
    CONTROL_LABELS,
    CONTROL_ROW,
    LEVEL_CELL,
    NAME_LEVEL,
    NAME_PERIOD,
    NAME_SHARE,
    PERIOD_CELL,
    REPORT_SHEETS,
    REPORT_TOP,
    SHARE_CELL,
    SHARE_LABEL,
    SHEET_LISTS,
    SHEET_PROGRESS,
    SHEET_SUMMARY,
    SUMMARY_TOP,
    Column,
    Styled,
    Table,
    row_heights,
)

BUTTON_CAPTION = "Tổng hợp"
BUTTON_CELL = "A1"
GUIDE_LAST_COL = 7  # the status line and the guide span C:H of «Tổng hợp», wrapped
STAMP_PROPERTY = "chitieu_stamp"
CHART_SIZE = (640, 320)  # pixels: «Tiến độ»'s chart, beside the table
NUMBER_FORMATS = {
    "integer": "0",
    "count": "#,##0",
    "decimal": "#,##0.00",
    "percent": "0.0%",
    "moment": "dd/mm/yyyy hh:mm:ss",
    "date": "dd/mm/yyyy",
}
PLACEHOLDER_NOTE = "Trang này được điền khi bấm nút «Tổng hợp» (trên trang «Tổng hợp»)."
GUIDE = (
    "Chọn kỳ báo cáo (ô B4) và cấp (ô B5) trong danh sách rồi bấm nút «Tổng hợp»: chitieu nhận các tệp mới nộp "
    "và điền lại các trang «Tổng hợp», «Xếp hạng», «Tiến độ», «Chưa báo cáo», «Nhật ký».",
    "Số liệu đã tiếp nhận ở trang «Dữ liệu». Sổ này được chitieu tạo lại từ sổ cái mỗi khi có tệp mới: "
    "đừng ghi gì khác vào đây.",
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
    report: tuple[Table, ...] = ()  # «Tổng hợp», «Xếp hạng», «Tiến độ», «Chưa báo cáo»
    controls: tuple[Any, ...] = ()  # B4:B7 of «Tổng hợp»: period, level, reporting rate, warnings
    periods: tuple[str, ...] = ()  # the period dropdown's choices
    levels: tuple[str, ...] = ()  # the level dropdown's choices
    share_root: str = ""


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
    report = {table.name: table for table in content.report}
    add_summary_sheet(book, content, report.get(SHEET_SUMMARY), formats)
    for name in REPORT_SHEETS[1:]:
        table = report.get(name) or Table(name, (), [], title=name, notes=(PLACEHOLDER_NOTE,), top=REPORT_TOP)
        charted = name == SHEET_PROGRESS and bool(table.series)
        sheet = add_table_sheet(book, table, formats, freeze_cols=None if charted else 2)
        if charted:
            add_progress_chart(book, sheet, table, max(len(table.rows), len(content.periods)))
    for table in content.tables:
        add_table_sheet(book, table, formats)
    add_lists_sheet(book, content, formats)
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
    formats["label"] = book.add_format({"bold": True})
    formats["input"] = book.add_format({"bg_color": "#FFF2CC", "border": 1, "bold": True})
    formats["wrap"] = book.add_format({"text_wrap": True, "valign": "top"})
    formats["top"] = book.add_format({"valign": "top"})
    formats["guide"] = book.add_format({"text_wrap": True, "valign": "top", "italic": True, "font_color": "#595959"})
    return formats


def setup_print(sheet: Any, header_row: int) -> None:
    """Print-ready: A4 landscape, one page wide, the header row on every page, page numbers in Vietnamese."""
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.repeat_rows(header_row)
    sheet.set_footer("&L&A&RTrang &P/&N")


def add_summary_sheet(
    book: xlsxwriter.Workbook, content: MasterContent, table: Table | None, formats: dict[str, Any]
) -> None:
    """The first sheet: the «Tổng hợp» button, the chosen period and level (dropdowns), the units' table."""
    table = table or Table(SHEET_SUMMARY, (), [], top=SUMMARY_TOP)
    sheet = add_table_sheet(book, table, formats, freeze_cols=3)
    sheet.insert_button(
        BUTTON_CELL, {"macro": content.button_macro, "caption": BUTTON_CAPTION, "width": 120, "height": 36}
    )
    sheet.write_string(0, 2, content.title, formats["title"])
    last = max(len(table.columns) - 1, GUIDE_LAST_COL)
    sheet.merge_range(1, 2, 1, GUIDE_LAST_COL, content.summary, formats["wrap"])  # the status line (C2)
    sheet.merge_range(2, 2, 2, GUIDE_LAST_COL, " ".join(GUIDE), formats["guide"])
    sheet.set_row(1, 30)
    sheet.set_row(2, 45)
    sheet.print_area(0, 0, SUMMARY_TOP + max(len(table.rows), 1), last)
    for i, label in enumerate(CONTROL_LABELS):
        sheet.write_string(CONTROL_ROW + i, 0, label, formats["label"])
        value = content.controls[i] if i < len(content.controls) else ""
        style = formats["input"] if i < 2 else None
        if value:
            sheet.write_string(CONTROL_ROW + i, 1, str(value), style)
        elif style:
            sheet.write_blank(CONTROL_ROW + i, 1, None, style)
    lists = f"'{SHEET_LISTS}'"
    for cell, column, count, prompt in (
        (PERIOD_CELL, "A", len(content.periods), "Chọn kỳ báo cáo rồi bấm nút «Tổng hợp»."),
        (LEVEL_CELL, "B", len(content.levels), "Chọn cấp đơn vị rồi bấm nút «Tổng hợp»."),
    ):
        if count:
            sheet.data_validation(
                cell,
                {
                    "validate": "list",
                    "source": f"={lists}!${column}$2:${column}${count + 1}",
                    "input_title": "Chọn trong danh sách",
                    "input_message": prompt,
                    "error_title": "Không có trong danh sách",
                    "error_message": "Hãy chọn một mục trong danh sách.",
                },
            )
    book.define_name(NAME_PERIOD, f"='{SHEET_SUMMARY}'!${PERIOD_CELL[0]}${PERIOD_CELL[1:]}")
    book.define_name(NAME_LEVEL, f"='{SHEET_SUMMARY}'!${LEVEL_CELL[0]}${LEVEL_CELL[1:]}")
    sheet.activate()


def add_table_sheet(
    book: xlsxwriter.Workbook, table: Table, formats: dict[str, Any], freeze_cols: int | None = 2
) -> Any:
    """A table sheet: title and notes, header row frozen with the first columns, a filter, Vietnamese formats, print-ready.

    ``freeze_cols`` None freezes nothing (a sheet with a chart beside its header: a frozen pane would cut the chart).
    """
    sheet = book.add_worksheet(table.name)
    top = table.top
    last_col = len(table.columns) - 1
    for i, line in enumerate((table.title, *table.notes)[:top]):
        if line:
            sheet.write_string(i, 0, line, formats["title"] if i == 0 else formats["note"])
    for col, column in enumerate(table.columns):
        sheet.set_column(col, col, column.width, formats.get(column.style))
        sheet.write_string(top, col, column.header, formats["header"])
    lines = max((math.ceil(len(c.header) / max(c.width - 1, 1)) for c in table.columns), default=1)
    if lines > 1:
        sheet.set_row(top, 15 * lines)  # long headers wrap onto this many lines
    setup_print(sheet, top)
    if not table.columns:
        sheet.set_column(0, 0, 80)
        return sheet
    if freeze_cols is not None:
        sheet.freeze_panes(top + 1, min(freeze_cols, len(table.columns)))
    sheet.autofilter(top, 0, top + max(len(table.rows), 1), last_col)
    write_rows(sheet, table, formats)
    for row, height in row_heights(table).items():  # wrapped text («Nội dung nhắc») gets its lines' height,
        sheet.set_row(top + 1 + row, height, formats["top"])  # and the row's other cells start at its top
    return sheet


def add_progress_chart(book: xlsxwriter.Workbook, sheet: Any, table: Table, rows: int) -> None:
    """A native line chart of «Tiến độ»: cumulative done (solid) against expected (dashed), per period.

    The series point at cells (``rows`` of them: every period the button may write), so the chart
    follows whatever the button writes there next. The chart stands beside the table, its top at
    the header row: below the table it would sit under the rows kept for every period of the
    schedule, far down the printed page, out of sight on screen and cut from the docs' picture.
    """
    first, last = table.top + 1, table.top + rows
    name = f"'{table.name}'"
    chart = book.add_chart({"type": "line"})
    palette = ("#2E75B6", "#C55A11", "#548235", "#7030A0")
    for i, col in enumerate(table.series):
        letter = xl_col_to_name(col)
        done = i % 2 == 0
        chart.add_series(
            {
                "name": [table.name, table.top, col],
                "categories": f"={name}!$B${first + 1}:$B${last + 1}",  # «Đến ngày», shown as 18/07
                "values": f"={name}!${letter}${first + 1}:${letter}${last + 1}",
                "line": {
                    "color": palette[i // 2 % len(palette)],
                    "width": 2.25,
                    "dash_type": "solid" if done else "dash",
                },
                "marker": {"type": "circle" if done else "none"},
            }
        )
    chart.set_title({"name": "Thực hiện lũy kế so với kế hoạch"})
    chart.set_x_axis({"text_axis": True, "num_format": "dd/mm", "num_font": {"rotation": -45}})
    chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": CHART_SIZE[0], "height": CHART_SIZE[1]})
    sheet.insert_chart(table.top, len(table.columns), chart, {"x_offset": 16, "object_position": 1})


def add_lists_sheet(book: xlsxwriter.Workbook, content: MasterContent, formats: dict[str, Any]) -> None:
    """The hidden «Danh mục» sheet: the dropdowns' choices and the share's folder (the button's way home)."""
    sheet = book.add_worksheet(SHEET_LISTS)
    sheet.set_column("A:B", 24)
    sheet.set_column("C:C", 60)
    for col, (header, values) in enumerate((("Kỳ báo cáo", content.periods), ("Cấp", content.levels))):
        sheet.write_string(0, col, header, formats["header"])
        for row, value in enumerate(values, 1):
            sheet.write_string(row, col, value)
    sheet.write_string(0, 2, SHARE_LABEL, formats["header"])
    if content.share_root:
        sheet.write_string(SHARE_CELL, content.share_root)
    book.define_name(NAME_SHARE, f"='{SHEET_LISTS}'!${SHARE_CELL[0]}${SHARE_CELL[1:]}")
    sheet.hide()


def write_rows(sheet: Any, table: Table, formats: dict[str, Any]) -> None:
    """The table's rows below its header, as ``write_value`` writes each cell.

    The common cells (text, whole and decimal numbers, local moments, styled figures) are
    written here with each column's format looked up once: «Dữ liệu» and «Nhật ký» hold
    hundreds of thousands of cells. Anything else goes through ``write_value``.
    """
    columns = table.columns
    text_formats = [formats["wrap"] if c.style == "wrap" else None for c in columns]
    number_formats = [formats.get(c.style) for c in columns]
    moment_format = formats["moment"]
    write_string, write_number, write_datetime = sheet.write_string, sheet.write_number, sheet.write_datetime
    for row, values in enumerate(table.rows, table.top + 1):
        for col, value in enumerate(values):
            kind = type(value)
            if kind is str:
                if value:
                    write_string(row, col, value, text_formats[col])
            elif value is None:
                continue
            elif kind is float or kind is int:
                write_number(row, col, value, number_formats[col])
            elif kind is Styled and type(value.value) in (float, int):
                write_number(row, col, value.value, formats.get(value.style))
            elif isinstance(value, datetime):
                write_datetime(row, col, value, moment_format)
            else:
                write_value(sheet, row, col, value, columns[col], formats)


def write_value(sheet: Any, row: int, col: int, value: Any, column: Column, formats: dict[str, Any]) -> None:
    """One cell: text as text (never a formula), numbers and moments with the column's (or the value's) format."""
    if value is None or value == "":
        return
    if isinstance(value, str):
        sheet.write_string(row, col, value, formats["wrap"] if column.style == "wrap" else None)
    elif isinstance(value, Styled):
        write_value(sheet, row, col, value.value, Column(column.header, column.width, value.style), formats)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats["moment"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats["date"])
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
