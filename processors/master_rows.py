"""The master's tables as plain rows: every effective figure («Dữ liệu») and every received file («Nhật ký»).

Pure: takes the campaign and what the ledger returned, gives sheets of values. The writer
(processors.master_writer) decides how each value is stored; text is always text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forms.schema import TZ, Campaign, IndicatorKind
from processors.ledger import ACCEPTED, DUPLICATE, LATE, ON_TIME, REFUSED, FileRecord

SHEET_DATA = "Dữ liệu"
SHEET_LOG = "Nhật ký"
TIMELINESS_LABELS = {ON_TIME: "Đúng hạn", LATE: "Trễ hạn"}
OUTCOME_LABELS = {ACCEPTED: "Tiếp nhận", REFUSED: "Trả lại", DUPLICATE: "Trùng lặp"}
PERCENT_KINDS = frozenset({IndicatorKind.PERCENT, IndicatorKind.RATIO})
CELL_TEXT_LIMIT = 32_767  # Excel's longest cell text


@dataclass(frozen=True)
class Column:
    """One column of a master table: Vietnamese header, width in characters and how numbers show."""

    header: str
    width: float
    style: str = "text"  # text | integer | count | decimal | percent | moment


@dataclass(frozen=True)
class Styled:
    """A value whose number style depends on its row (a figure: count, decimal or percent)."""

    value: Any
    style: str


@dataclass(frozen=True)
class Table:
    """A sheet of the master: name, columns and rows of values (str, float, int, datetime, Styled, None)."""

    name: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]


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
    rows = []
    for f in figures:
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
                local_moment(f["received_at"]),
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
