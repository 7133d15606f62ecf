"""The «Tổng hợp» button: take in new files, then fill the master's sheets for the chosen period and level.

One thin function serves every way the button is pressed: desktop Excel through xlwings'
RunPython (``tong_hop()`` finds the calling workbook), and xlwings' remote clients (RunRemotePython
from VBA, Office Scripts, Office.js) through ``addin.server``, which builds the book from the
JSON the client sent (``xw.Book(json=…)``) and returns ``book.json()``'s actions. The handler
only reads two cells and writes tables: what the sheets hold is decided once, in
``processors.master_rows``, for this handler and for the master file alike.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from filelock import Timeout

from forms.clock import now_local
from forms.schema import Campaign, Level
from forms.signing import default_key_path, load_or_create_key
from forms.vi_format import format_moment
from processors.master_rows import (
    ALL_LEVELS,
    LEVEL_CELL,
    PERIOD_CELL,
    SHARE_CELL,
    SHEET_LISTS,
    SHEET_LOG,
    SHEET_SUMMARY,
    STATUS_CELL,
    Styled,
    Table,
    column_styles,
    level_choices,
    log_table,
    report_tables,
    summary_controls,
    table_grid,
)
from processors.master_writer import NUMBER_FORMATS
from processors.report import ReportError, load_report, resolve_period
from processors.report_source import ReportSource, read_report_source, report_of
from shared_folder_layout.layout import ShareLayout
from shared_folder_layout.share import Share, ShareError, open_share

OK, REFUSED_CHOICE, NO_SHARE = "ok", "refused_choice", "no_share"
INTAKE_LOCK_TIMEOUT = 20.0  # the watcher holds the share for one pass at a time; do not wait longer
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TongHopResult:
    """What one press of the button did, with the Vietnamese line written into «Tổng hợp»."""

    status: str
    message: str
    period: str | None = None
    level: str | None = None


class Choice(ValueError):
    """A period or level cell holds something the campaign does not know (message in Vietnamese)."""


# ---------------------------------------------------------------- finding the share and the key


def share_root_of(book: Any) -> Path | None:
    """The share's folder as the master records it («Danh mục»), else from the master's own path."""
    try:
        recorded = book.sheets[SHEET_LISTS][SHARE_CELL].value
    except Exception:  # the sheet was deleted or renamed: fall back to the path
        recorded = None
    if isinstance(recorded, str) and recorded.strip():
        return Path(recorded.strip())
    fullname = Path(str(book.fullname))
    if fullname.is_absolute() and len(fullname.parents) >= 3:
        return fullname.parents[2]  # SHARE/Văn phòng/Tổng hợp/tonghop.xlsm
    return None


def find_share(book: Any) -> Share:
    """The share the master belongs to; ShareError (Vietnamese) when it cannot be opened."""
    root = share_root_of(book)
    if root is None or not ShareLayout(root).manifest.is_file():
        raise ShareError(
            f"Không tìm thấy thư mục dùng chung của sổ này ({root or 'không rõ'}). "
            "Mở sổ tổng hợp ngay trong thư mục «Văn phòng/Tổng hợp» của thư mục dùng chung."
        )
    return open_share(root)


def office_key(key_file: Path | None = None) -> bytes | None:
    """The office's secret key if this machine holds it; never created here (a new key would refuse every file)."""
    path = key_file or default_key_path()
    return load_or_create_key(path) if path.is_file() else None


def run_intake(share: Share, key: bytes | None) -> str:
    """One ingest pass; the Vietnamese line saying what it did (or why it was skipped)."""
    from processors.intake import ingest_share

    if key is None:
        return f"Máy này không có khóa bí mật ({default_key_path()}): chưa nhận tệp mới, chỉ tổng hợp số liệu đã có."
    try:
        return ingest_share(share, key, lock_timeout=INTAKE_LOCK_TIMEOUT).describe()
    except Timeout:
        return "Một tiến trình khác đang nhận tệp; tổng hợp số liệu đã có, bấm lại sau ít phút để thấy tệp mới."


# ---------------------------------------------------------------- the chosen period and level


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_period(campaign: Campaign, value: Any) -> str | None:
    """The period code a cell names (by label or code); None when empty (the report's current period)."""
    text = _cell_text(value)
    if not text:
        return None
    by_label = {p.label.casefold(): p.code for p in campaign.schedule}
    found = by_label.get(text.casefold()) or (text if text in campaign.period_by_code else None)
    if found is None:
        raise Choice(f"Kỳ báo cáo «{text}» không có trong kế hoạch: hãy chọn một kỳ trong danh sách ở ô {PERIOD_CELL}.")
    return found


def parse_level(campaign: Campaign, value: Any) -> Level | None:
    """The level a cell names (label or code, any case); None for every level."""
    text = _cell_text(value)
    if not text or text.casefold() == ALL_LEVELS.casefold():
        return None
    for label, level in level_choices(campaign):
        if level is not None and text.casefold() in {label.casefold(), level.value, level.label.casefold()}:
            return level
    raise Choice(f"Cấp «{text}» không có trong danh sách: hãy chọn một cấp ở ô {LEVEL_CELL}.")


# ---------------------------------------------------------------- writing tables into the open book


def _used_extent(sheet: Any) -> tuple[int, int]:
    """Rows and columns of the sheet's used range, counted from A1."""
    used = sheet.used_range
    return used.last_cell.row, used.last_cell.column


def write_table(sheet: Any, table: Table, *, keep_above: bool = False) -> None:
    """Replace a sheet's table: clear, write title, header and rows in one range assignment, then number formats.

    ``keep_above`` keeps the rows above the header (the button, the chosen period and level).
    A table with wrapped text («Nội dung nhắc») has its rows autofitted: Excel measures the text,
    where the master file can only estimate it (``master_rows.row_heights``). The remote clients
    (RunRemotePython's VBA, Office Scripts) apply ``setAutofit`` but not ``setRowHeight``.
    """
    grid = table_grid(table)
    first = table.top + 1 if keep_above else 1
    wrapped = any(c.style == "wrap" for c in table.columns)
    rows, cols = _used_extent(sheet) if keep_above or wrapped else (0, 0)
    if keep_above:
        grid = grid[table.top :]
        if rows >= first:
            sheet.range((first, 1), (rows, max(cols, len(table.columns), 1))).clear_contents()
    else:
        sheet.clear_contents()
    if not table.columns:
        return
    put_grid(sheet, first, grid)
    data_top, data_last = table.top + 2, table.top + 1 + len(table.rows)
    if wrapped and max(rows, data_last) >= data_top:  # fit rows to their text; emptied rows back to one line
        sheet.range((data_top, 1), (max(rows, data_last), len(table.columns))).rows.autofit()
    if not table.rows:
        return
    for col, style in column_styles(table):
        sheet.range((data_top, col + 1), (data_last, col + 1)).number_format = NUMBER_FORMATS[style]
    for r, row in enumerate(table.rows):  # a figure whose own style differs from its column's (1,5 among counts)
        for c, value in enumerate(row):
            if isinstance(value, Styled) and value.style != table.columns[c].style:
                sheet.range((data_top + r, c + 1)).number_format = NUMBER_FORMATS[value.style]


def remote_value(value: Any) -> Any:
    """A value as xlwings' remote clients take it (what its converter would send, done once here)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return ""
    return value


def put_grid(sheet: Any, top: int, grid: list[list[Any]]) -> None:
    """Write a 2-D grid at row ``top`` in one assignment; ``raw_value`` skips xlwings' per-cell conversion.

    Desktop Excel (COM) takes Python values as they are; the remote engine needs JSON values,
    which ``remote_value`` gives for the few types the tables hold.
    """
    if not grid:
        return
    target = sheet.range((top, 1), (top + len(grid) - 1, len(grid[0])))
    if sheet.book.app.engine.type == "remote":
        grid = [[remote_value(v) for v in row] for row in grid]
    target.raw_value = grid


def write_status(book: Any, message: str) -> None:
    """The status line of «Tổng hợp» (C2)."""
    book.sheets[SHEET_SUMMARY][STATUS_CELL].value = "'" + message


def write_report(book: Any, campaign: Campaign, report: Any, records: list[Any] | None) -> None:
    """Fill «Tổng hợp» (below its controls), «Xếp hạng», «Tiến độ», «Chưa báo cáo» and «Nhật ký» from a report."""
    tables = report_tables(campaign, report)
    summary = book.sheets[SHEET_SUMMARY]
    summary.range(PERIOD_CELL).value = [["'" + str(v)] for v in summary_controls(report)]
    write_table(summary, tables[0], keep_above=True)
    names = {sheet.name for sheet in book.sheets}
    for table in tables[1:]:
        if table.name in names:
            write_table(book.sheets[table.name], table)
    if records is not None and SHEET_LOG in names:
        write_table(book.sheets[SHEET_LOG], log_table(campaign, records))


# ---------------------------------------------------------------- the button


def tong_hop(
    book: Any = None,
    *,
    share: Share | None = None,
    key: bytes | None = None,
    key_file: Path | None = None,
    now: datetime | None = None,
) -> TongHopResult:
    """The «Tổng hợp» button: ingest new files, then fill the sheets for the period and level chosen in B4 and B5."""
    if book is None:
        import xlwings as xw

        book = xw.Book.caller()
    moment = now or now_local()
    try:
        share = share or find_share(book)
    except ShareError as err:
        write_status(book, str(err))
        return TongHopResult(NO_SHARE, str(err))
    campaign = share.campaign
    intake = run_intake(share, key if key is not None else office_key(key_file))
    summary = book.sheets[SHEET_SUMMARY]
    try:
        period = parse_period(campaign, summary[PERIOD_CELL].value)
        level = parse_level(campaign, summary[LEVEL_CELL].value)
    except Choice as err:
        message = f"{err} {intake}"
        write_status(book, message)
        return TongHopResult(REFUSED_CHOICE, message)
    try:
        report, records = compute(share, period, level, moment)
    except ReportError as err:
        message = f"{err} {intake}"
        write_status(book, message)
        return TongHopResult(REFUSED_CHOICE, message)
    write_report(book, campaign, report, records)
    message = f"Tổng hợp lúc {format_moment(moment)}. {intake}"
    write_status(book, message)
    return TongHopResult(OK, message, getattr(report.period, "code", period), level.value if level else None)


_ledger_cache: dict[Path, tuple[tuple, ReportSource]] = {}
_cache_lock = threading.Lock()


def ledger_source(share: Share) -> ReportSource:
    """The ledger's effective figures and files, read once and kept while the ledger holds the same files.

    The ledger only grows (a file is added, never removed; a file is superseded only when another
    arrives), so the count of files per outcome identifies what it holds. A server answering many
    presses, or one clerk trying several periods and levels, reads the ledger once.
    """
    from processors.ledger import open_ledger

    path = share.layout.ledger
    with open_ledger(path) as ledger:
        stamp = tuple(sorted(ledger.count_by_outcome().items()))
        with _cache_lock:
            cached = _ledger_cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        source = read_report_source(ledger)
    with _cache_lock:
        _ledger_cache.clear()  # one share per process in practice: keep only the latest
        _ledger_cache[path] = (stamp, source)
    return source


def compute(share: Share, period: str | None, level: Level | None, moment: datetime) -> tuple[Any, list[Any]]:
    """The report for the chosen period and level, and every received file (for «Nhật ký»)."""
    campaign = share.campaign
    chosen = resolve_period(campaign, period, moment)
    if not share.layout.ledger.exists():
        return load_report(share, period=period, now=moment), []  # raises ReportError: no ledger yet
    source = ledger_source(share)
    return report_of(campaign, source, period=chosen, level=level, now=moment), source.records
