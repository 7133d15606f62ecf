"""The master's tables as plain rows: the report sheets, every effective figure («Dữ liệu») and every file («Nhật ký»).

Pure: takes the campaign, a report and what the ledger returned, gives sheets of values with
their column formats. The same tables feed both writers: the XlsxWriter master
(processors.master_writer) and the «Tổng hợp» button's handler (addin.handlers), which writes
``table_grid(table)`` into the open workbook in one range assignment. Text is always text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forms.schema import TZ, Campaign, IndicatorKind, Level
from forms.vi_format import format_moment, format_rate
from processors.ledger import ACCEPTED, DUPLICATE, LATE, ON_TIME, REFUSED, FileRecord

SHEET_DATA = "Dữ liệu"
SHEET_LOG = "Nhật ký"
TIMELINESS_LABELS = {ON_TIME: "Đúng hạn", LATE: "Trễ hạn"}
OUTCOME_LABELS = {ACCEPTED: "Tiếp nhận", REFUSED: "Trả lại", DUPLICATE: "Trùng lặp"}
PERCENT_KINDS = frozenset({IndicatorKind.PERCENT, IndicatorKind.RATIO})
CELL_TEXT_LIMIT = 32_767  # Excel's longest cell text
LINE_HEIGHT = 15.0  # points: one line of Excel's default font (Calibri 11), its default row height
MAX_ROW_HEIGHT = 409.0  # Excel's tallest row, in points


@dataclass(frozen=True)
class Column:
    """One column of a master table: Vietnamese header, width in characters and how numbers show."""

    header: str
    width: float
    style: str = "text"  # text | integer | count | decimal | percent | moment | date


@dataclass(frozen=True)
class Styled:
    """A value whose number style depends on its row (a figure: count, decimal or percent)."""

    value: Any
    style: str


@dataclass(frozen=True)
class Table:
    """A sheet of the master: name, columns and rows of values (str, float, int, datetime, Styled, None).

    ``top`` is the 0-based row of the header; the lines above it hold ``title`` and ``notes``.
    """

    name: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    title: str = ""
    notes: tuple[str, ...] = ()
    top: int = 0
    series: tuple[int, ...] = ()  # columns a chart draws (pairs: done, expected), for «Tiến độ»


DATA_COLUMNS = (
    Column("Mã đơn vị", 16),
    Column("Tên đơn vị", 28),
    Column("Mã kỳ", 13),
    Column("Kỳ báo cáo", 24),
    Column("Mã chỉ tiêu", 16),
    Column("Chỉ tiêu", 40),
    Column("Giá trị", 14),
    Column("Thời điểm nhận", 20, "moment"),
    Column("Thời hạn", 11),
    Column("Tệp nguồn", 30),
    Column("Mã băm SHA-256 của tệp", 24),
    Column("Số hiệu tệp", 11, "integer"),
)

LOG_COLUMNS = (
    Column("Số hiệu tệp", 11, "integer"),
    Column("Thời điểm nhận", 20, "moment"),
    Column("Thư mục đơn vị", 16),
    Column("Mã đơn vị", 16),
    Column("Tên đơn vị", 28),
    Column("Mã kỳ", 13),
    Column("Kỳ báo cáo", 24),
    Column("Tệp", 30),
    Column("Kết quả", 12),
    Column("Thời hạn", 11),
    Column("Tình trạng", 24),
    Column("Số lỗi", 8, "integer"),
    Column("Số cảnh báo", 11, "integer"),
    Column("Nội dung", 60),
    Column("Mã băm SHA-256 của tệp", 24),
)


def local_moment(moment: datetime) -> datetime:
    """A moment as Excel stores it: local time in Asia/Ho_Chi_Minh, without a zone."""
    return moment.astimezone(TZ).replace(tzinfo=None)


def clip_text(text: str) -> str:
    """Text cut to what one Excel cell holds."""
    return text if len(text) <= CELL_TEXT_LIMIT else text[: CELL_TEXT_LIMIT - 1] + "…"


def figure_style(campaign: Campaign, indicator: str, value: Any) -> str:
    """How a figure shows: percentages as %, whole numbers with thousands dots, others with 2 decimals."""
    found = campaign.indicator_by_code.get(indicator)
    if found is not None and found.kind in PERCENT_KINDS:
        return "percent"
    return "count" if float(value).is_integer() else "decimal"


def make_figure(campaign: Campaign, indicator: str, value: Any) -> Any:
    """A figure as the master stores it: numbers styled, text as text, blanks empty."""
    if value is None or isinstance(value, str):
        return value
    return Styled(value, figure_style(campaign, indicator, value))


def data_table(campaign: Campaign, figures: Iterable[Mapping[str, Any]]) -> Table:
    """«Dữ liệu»: one row per effective accepted figure, in the ledger's order."""
    units, periods, indicators = campaign.unit_by_code, campaign.period_by_code, campaign.indicator_by_code
    moments: dict[Any, datetime] = {}  # a file's figures share its moment: convert it once
    rows = []
    for f in figures:
        received = f["received_at"]
        moment = moments.get(received)
        if moment is None:
            local = local_moment(received)  # a plain datetime (the ledger's frame gives pandas Timestamps):
            moment = moments[received] = datetime(*local.timetuple()[:6], local.microsecond)  # quicker to write
        unit, period = units.get(f["unit_code"]), periods.get(f["period_code"])
        indicator = indicators.get(f["indicator"])
        rows.append(
            (
                f["unit_code"],
                unit.name if unit else "",
                f["period_code"],
                period.label if period else "",
                f["indicator"],
                indicator.name if indicator else "",
                make_figure(campaign, f["indicator"], f["value"]),
                moment,
                TIMELINESS_LABELS.get(f["timeliness"] or "", ""),
                clip_text(f["original_name"] or ""),
                f["sha256"],
                f["file_id"],
            )
        )
    return Table(SHEET_DATA, DATA_COLUMNS, rows)


def describe_status(record: FileRecord) -> str:
    """Whether a file's figures count now: in use, replaced by a later file, or a repeat of an earlier one."""
    if record.outcome == ACCEPTED:
        return f"Đã thay bằng tệp #{record.superseded_by}" if record.superseded_by else "Đang dùng"
    if record.outcome == DUPLICATE:
        return f"Trùng tệp #{record.duplicate_of}" if record.duplicate_of else "Trùng tệp đã nhận"
    return ""


def log_table(campaign: Campaign, records: Iterable[FileRecord]) -> Table:
    """«Nhật ký»: every received file and its outcome, in the order received."""
    units, periods = campaign.unit_by_code, campaign.period_by_code
    rows = []
    for r in records:
        unit = units.get(r.unit_code or "")
        period = periods.get(r.period_code or "")
        errors = sum(1 for f in r.findings if f.is_error)
        rows.append(
            (
                r.id,
                local_moment(r.received_at),
                r.folder_unit or "",
                r.unit_code or "",
                unit.name if unit else "",
                r.period_code or "",
                period.label if period else "",
                clip_text(r.original_name or ""),
                OUTCOME_LABELS.get(r.outcome, r.outcome),
                TIMELINESS_LABELS.get(r.timeliness or "", ""),
                describe_status(r),
                errors,
                len(r.findings) - errors,
                clip_text("\n".join(f.describe() for f in r.findings)),
                r.sha256,
            )
        )
    return Table(SHEET_LOG, LOG_COLUMNS, rows)


# ---------------------------------------------------------------- the report sheets

SHEET_SUMMARY = "Tổng hợp"
SHEET_RANKING = "Xếp hạng"
SHEET_PROGRESS = "Tiến độ"
SHEET_MISSING = "Chưa báo cáo"
SHEET_LISTS = "Danh mục"  # hidden: the dropdowns' choices and the share's folder
REPORT_SHEETS = (SHEET_SUMMARY, SHEET_RANKING, SHEET_PROGRESS, SHEET_MISSING)
ALL_LEVELS = "Tất cả các cấp"
STATUS_LABELS = {"on_time": "Đúng hạn", "late": "Trễ hạn", "missing": "Chưa nộp"}  # as processors.completeness
# «Tổng hợp»: the button over A1:B2, the title in C1, the status line in C2, the chosen period
# and level in B4 and B5 (dropdowns), the reporting rate and the warnings in B6 and B7, the
# table's header on row 9. The handler reads and writes these exact cells.
STATUS_CELL = "C2"
CONTROL_LABELS = ("Kỳ báo cáo", "Cấp", "Tỷ lệ báo cáo", "Lưu ý")
CONTROL_ROW = 3  # 0-based: row 4
PERIOD_CELL, LEVEL_CELL, RATE_CELL, WARNINGS_CELL = "B4", "B5", "B6", "B7"
SUMMARY_TOP = 8  # 0-based header row of «Tổng hợp»'s table (row 9)
REPORT_TOP = 3  # 0-based header row of the other report sheets (row 4)
SHARE_LABEL = "Thư mục dùng chung"
SHARE_CELL = "C2"  # in «Danh mục»: the share's root folder, written by chitieu (the button's fallback)
NAME_PERIOD, NAME_LEVEL, NAME_SHARE = "TH_KY_BAO_CAO", "TH_CAP", "TH_THU_MUC"

RANKING_COLUMNS = (
    Column("Cấp", 14),
    Column("Hạng", 8, "integer"),
    Column("Mã đơn vị", 16),
    Column("Tên đơn vị", 32),
    Column("Điểm", 10, "decimal"),
)
PROGRESS_COLUMNS = (Column("Kỳ báo cáo", 24), Column("Đến ngày", 12, "date"))
MISSING_COLUMNS = (
    Column("Mã đơn vị", 16),
    Column("Tên đơn vị", 28),
    Column("Tình trạng", 14),
    Column("Người liên hệ", 22),
    Column("Điện thoại", 16),
    Column("Thư điện tử", 26),
    Column("Nội dung nhắc", 90, "wrap"),
)
SUMMARY_UNIT_COLUMNS = (
    Column("Hạng", 13, "integer"),
    Column("Mã đơn vị", 18),
    Column("Tên đơn vị", 28),
    Column("Cấp", 10),
    Column("Đơn vị cấp trên", 22),
    Column("Tình trạng", 14),
    Column("Thời điểm nhận", 20, "moment"),
    Column("Điểm", 9, "decimal"),
)
TEXT_KINDS = frozenset({IndicatorKind.YES_NO, IndicatorKind.STATUS, IndicatorKind.TEXT})


def records(data: Any) -> list[dict[str, Any]]:
    """Rows of a report table as dicts, whether a DataFrame, dataclasses or dicts; missing values become None."""
    if data is None:
        return []
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        missing = data.isna().to_numpy()
        names = list(data.columns)
        return [
            {name: None if gone else value for name, value, gone in zip(names, row, absent, strict=True)}
            for row, absent in zip(data.itertuples(index=False, name=None), missing, strict=True)
        ]
    rows = []
    for item in data:
        if isinstance(item, Mapping):
            rows.append(dict(item))
        elif hasattr(item, "__dataclass_fields__"):
            rows.append({name: getattr(item, name) for name in item.__dataclass_fields__})
        else:
            rows.append(dict(item._asdict()))
    return rows


def level_label(level: Any) -> str:
    """A level as the dropdown shows it: «Xã», «Huyện»… (None: every level)."""
    if level in (None, ""):
        return ALL_LEVELS
    label = getattr(level, "label", None) or str(level)
    try:
        label = Level(str(level)).label
    except ValueError:
        pass
    return label[:1].upper() + label[1:]


def level_choices(campaign: Campaign) -> list[tuple[str, Level | None]]:
    """The level dropdown: every level, then each level that has reporting units, in the hierarchy's order."""
    present = {u.level for u in campaign.reporting_units()}
    return [(ALL_LEVELS, None)] + [(level_label(level), level) for level in Level if level in present]


def period_choices(campaign: Campaign) -> list[str]:
    """The period dropdown: every period's label, in schedule order."""
    return [p.label for p in campaign.schedule]


def _moment(value: Any) -> Any:
    if isinstance(value, datetime):
        return local_moment(value) if value.tzinfo else value
    if hasattr(value, "to_pydatetime"):
        return _moment(value.to_pydatetime())
    return value


def _number(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return None if number != number else number  # NaN


def _rate_text(rate: Any) -> str:
    number = _number(rate)
    return format_rate(number) if isinstance(number, float) else ""


def report_context(report: Any) -> str:
    """The line under each report sheet's title: period, level, moment of the figures."""
    period = getattr(report, "period", None)
    label = getattr(period, "label", None) or str(period or "")
    parts = [f"Kỳ báo cáo: {label}", f"cấp: {level_label(getattr(report, 'level', None)).lower()}"]
    as_of = getattr(report, "as_of", None)
    if isinstance(as_of, datetime):
        parts.append(f"số liệu đến {format_moment(as_of)}")
    return "; ".join(parts) + "."


def summary_controls(report: Any) -> list[Any]:
    """The values of B4:B7 on «Tổng hợp»: chosen period and level, reporting rate, warnings."""
    units = records(getattr(report, "units", None))
    reported = sum(1 for u in units if u.get("status") in ("on_time", "late"))
    rate = getattr(report, "reporting_rate", None)
    rate_text = f"{reported}/{len(units)} đơn vị đã báo cáo"
    if _rate_text(rate):
        rate_text += f" ({_rate_text(rate)})"
    warnings = getattr(report, "warnings", ()) or ()
    period = getattr(report, "period", None)
    return [
        getattr(period, "label", None) or str(period or ""),
        level_label(getattr(report, "level", None)),
        rate_text,
        clip_text(" ".join(warnings)) if warnings else "Không có.",
    ]


def _indicator_columns(campaign: Campaign, facts: list[dict[str, Any]]) -> list[tuple[str, str, Column]]:
    """(indicator, field, column) for each indicator in the report: its value, then its rate when it has targets."""
    present = {f["indicator"] for f in facts}
    targeted = {f["indicator"] for f in facts if _number(f.get("target")) is not None}
    columns = []
    for indicator in campaign.indicators:
        if indicator.code not in present:
            continue
        if indicator.kind in TEXT_KINDS:
            style = "text"
        else:
            style = "percent" if indicator.kind in PERCENT_KINDS else "count"
        columns.append((indicator.code, "value", Column(indicator.name, 16 if style != "text" else 24, style)))
        if indicator.code in targeted:
            columns.append((indicator.code, "rate", Column(f"{indicator.name}: tỷ lệ đạt", 12, "percent")))
    return columns


def _figure(value: Any, column: Column) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Có" if value else "Không"
    number = _number(value)
    if column.style == "count" and isinstance(number, float) and not number.is_integer():
        return Styled(number, "decimal")
    return number


def summary_table(campaign: Campaign, report: Any) -> Table:
    """«Tổng hợp»: one row per unit of the chosen level, its status, score and each indicator's value and rate."""
    units = records(getattr(report, "units", None))
    facts = records(getattr(report, "indicators", None))
    extra = _indicator_columns(campaign, facts)
    by_unit: dict[str, dict[tuple[str, str], Any]] = {}
    for f in facts:
        cells = by_unit.setdefault(f["unit"], {})
        cells[(f["indicator"], "value")] = f.get("value")
        cells[(f["indicator"], "rate")] = f.get("rate")
    names = campaign.unit_by_code
    rows = []
    for u in units:
        parent = names.get(u.get("parent") or "")
        cells = by_unit.get(u["code"], {})
        rows.append(
            (
                _number(u.get("rank")) if u.get("rankable", True) else None,
                u["code"],
                u.get("name") or "",
                level_label(u.get("level")),
                parent.name if parent else (u.get("parent") or ""),
                u.get("status_label") or STATUS_LABELS.get(u.get("status") or "", u.get("status") or ""),
                _moment(u.get("received_at")),
                _number(u.get("score")),
                *(_figure(cells.get((code, field)), column) for code, field, column in extra),
            )
        )
    columns = SUMMARY_UNIT_COLUMNS + tuple(column for _code, _field, column in extra)
    return Table(SHEET_SUMMARY, columns, rows, top=SUMMARY_TOP)


def ranking_table(report: Any) -> Table:
    """«Xếp hạng»: each level's ranking, then the units that cannot be ranked (no target) without a rank."""
    rows = [
        (level_label(r.get("level")), _number(r.get("rank")), r.get("unit") or "", r.get("name") or "",
         _number(r.get("score")))
        for r in records(getattr(report, "ranking", None))
    ]  # fmt: skip
    rows += [
        (
            level_label(r.get("level")),
            None,
            r.get("unit") or "",
            r.get("name") or "",
            "Chưa xếp hạng (không có chỉ tiêu)",
        )
        for r in records(getattr(report, "unranked", None))
    ]
    return Table(
        SHEET_RANKING, RANKING_COLUMNS, rows, title="Xếp hạng", notes=(report_context(report),), top=REPORT_TOP
    )


def progress_table(campaign: Campaign, report: Any) -> Table:
    """«Tiến độ»: per period, each cumulative indicator's total done against the total expected by then."""
    facts = records(getattr(report, "progress", None))
    codes = list(dict.fromkeys(f["indicator"] for f in facts))
    periods: dict[str, list[Any]] = {}
    for f in facts:
        row = periods.setdefault(f["period"], [f.get("label") or f["period"], f.get("end")] + [None] * (3 * len(codes)))
        actual, expected = _number(f.get("actual")), _number(f.get("expected"))
        at = 2 + 3 * codes.index(f["indicator"])
        row[at : at + 3] = [actual, expected, actual / expected if actual is not None and expected else None]
    columns = list(PROGRESS_COLUMNS)
    for code in codes:
        indicator = campaign.indicator_by_code.get(code)
        name = indicator.name if indicator else code
        columns += [
            Column(f"{name}: thực hiện lũy kế", 16, "count"),
            Column(f"{name}: kế hoạch lũy kế", 16, "count"),
            Column(f"{name}: tỷ lệ so với kế hoạch", 13, "percent"),
        ]
    series = tuple(col for k in range(len(codes)) for col in (2 + 3 * k, 3 + 3 * k))
    return Table(
        SHEET_PROGRESS,
        tuple(columns),
        [tuple(row) for row in periods.values()],
        title="Tiến độ",
        notes=(report_context(report),),
        top=REPORT_TOP,
        series=series,
    )


def missing_table(report: Any) -> Table:
    """«Chưa báo cáo»: late and missing units, whom to call and the reminder to send."""
    rows = [
        (r.get("unit") or "", r.get("name") or "", r.get("status_label") or STATUS_LABELS.get(r.get("status") or "", ""),
         r.get("contact") or "", r.get("phone") or "", r.get("email") or "", clip_text(r.get("message") or ""))
        for r in records(getattr(report, "reminders", None))
    ]  # fmt: skip
    title = "Đơn vị trễ hạn, chưa báo cáo"
    return Table(SHEET_MISSING, MISSING_COLUMNS, rows, title=title, notes=(report_context(report),), top=REPORT_TOP)


def report_tables(campaign: Campaign, report: Any) -> tuple[Table, ...]:
    """The four report sheets of one report, in the master's order."""
    return (
        summary_table(campaign, report),
        ranking_table(report),
        progress_table(campaign, report),
        missing_table(report),
    )


def table_grid(table: Table) -> list[list[Any]]:
    """A table as the handler writes it from A1: title, notes, header, rows; text marked so Excel keeps it text."""
    width = len(table.columns)
    grid: list[list[Any]] = [[None] * width for _ in range(table.top)]
    for i, line in enumerate((table.title, *table.notes)[: table.top]):
        grid[i][0] = as_excel_text(line) if line else None
    grid.append([as_excel_text(c.header) for c in table.columns])
    for row in table.rows:
        grid.append([grid_value(v) for v in row])
    return grid


def grid_value(value: Any) -> Any:
    """One value for a 2-D range assignment: Styled unwrapped, text kept text, yes/no in words."""
    if isinstance(value, Styled):
        value = value.value
    if isinstance(value, bool):
        return as_excel_text("Có" if value else "Không")
    if isinstance(value, str):
        return as_excel_text(value) if value else None
    return value


def as_excel_text(text: str) -> str:
    """Text Excel stores as typed: a leading apostrophe stops «=1+1», «0912…», «18/07/2023» becoming formula, number or date."""
    return "'" + text


def wrapped_lines(text: str, width: float) -> int:
    """How many lines a wrapped cell ``width`` characters wide shows ``text`` on: an estimate, word by word.

    XlsxWriter cannot fit a row to its text, and LibreOffice prints a row at the height the file
    gives (the lines overlap otherwise), so the master sets each row's height from this estimate.
    A column's width counts the digit «0»; most letters are narrower, so a line holds a little
    more than the width: in LibreOffice's DejaVu Sans, wider than Excel's Calibri, a column 90
    wide held over 91 of the demo's reminder text. The estimate counts 5% more, wrapping whole words.
    """
    per_line = max(round(width * 1.05), 1)
    return sum(len(textwrap.wrap(part, per_line, break_on_hyphens=False)) or 1 for part in text.split("\n"))


def row_heights(table: Table) -> dict[int, float]:
    """{0-based row of ``table.rows``: height in points} for the rows whose wrapped text needs more than one line."""
    wrapped = [(i, c.width) for i, c in enumerate(table.columns) if c.style == "wrap"]
    heights: dict[int, float] = {}
    if not wrapped:
        return heights
    for r, row in enumerate(table.rows):
        lines = max((wrapped_lines(row[i], width) for i, width in wrapped if isinstance(row[i], str)), default=1)
        if lines > 1:
            heights[r] = min(LINE_HEIGHT * lines + 2, MAX_ROW_HEIGHT)
    return heights


def column_styles(table: Table) -> list[tuple[int, str]]:
    """(0-based column, style) of the table's number and date columns; rows' own styles (Styled) win when written."""
    return [(i, c.style) for i, c in enumerate(table.columns) if c.style not in ("text", "wrap")]
