"""The master workbook (Văn phòng/Tổng hợp/tonghop.xlsm): a view of the ledger, rebuilt whole when it changes.

Intake calls ``update_master`` at the end of every pass; ``chitieu master`` forces a rebuild.
The master records a stamp of the ledger it shows (a custom document property): a pass that
finds the stamp current does nothing, so an update deferred because the master was open in
Excel is simply done by the next pass after it is closed. Nothing is queued: the ledger is
the truth and the master can always be rebuilt from it.

Why rebuild with XlsxWriter instead of updating in place with openpyxl (``keep_vba=True``):
both keep the VBA project byte for byte and the button (openpyxl copies the VML drawing and
vbaProject.bin it does not understand), but openpyxl is 4-8 times slower: loading the master,
replacing «Dữ liệu» and saving took 2.3 s for 5,000 figures and 15.8 s for 25,000, where
XlsxWriter writes the whole file in 0.6 s and 2.1 s (bench/master_update.py, this project's
2-CPU machine). A rebuild also repairs a master someone damaged and never carries stale cells
over. The cost: anything typed into the master by hand is replaced, which its first sheet says.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from defusedxml import ElementTree

from forms.atomic import write_atomic
from forms.clock import now_local
from forms.schema import Campaign
from forms.vi_format import format_moment, format_number
from processors.ledger import Ledger
from processors.master_rows import (
    data_table,
    level_choices,
    log_table,
    period_choices,
    report_tables,
    summary_controls,
)
from processors.master_writer import STAMP_PROPERTY, MasterContent, render_master
from shared_folder_layout.share import Share

if TYPE_CHECKING:  # pandas is loaded only when the master is rebuilt: an intake pass that finds it current stays light
    import pandas as pd

    from processors.report_source import ReportSource

UPDATED = "updated"
CURRENT = "current"
BUSY = "busy"
FAILED = "failed"
DEFERRED = "Số liệu vẫn an toàn trong sổ cái; sổ tổng hợp sẽ được cập nhật khi đóng sổ (lần xử lý sau hoặc lệnh «chitieu master»)."
LAYOUT_VERSION = 2  # bump when the master's sheets change, so every share's master is rebuilt
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterResult:
    """What one update of the master did, with a Vietnamese message."""

    status: str
    message: str
    path: Path
    figures: int = 0
    files: int = 0


def owner_files(master: Path) -> list[Path]:
    """The lock files an editor keeps beside an open workbook: Excel's ``~$`` owner file, LibreOffice's ``.~lock.…#``."""
    return [master.with_name(f"~${master.name}"), master.with_name(f".~lock.{master.name}#")]


def find_busy_reason(master: Path) -> str | None:
    """Why the master cannot be replaced now (open in Excel, read only, folder not writable), or None."""
    for lock in owner_files(master):
        if lock.exists():
            return (
                f"Sổ tổng hợp «{master.name}» đang được mở (có tệp «{lock.name}» bên cạnh; nếu không máy nào "
                "đang mở sổ, xóa tệp đó)."
            )
    if master.parent.is_dir() and not os.access(master.parent, os.W_OK):
        return f"Không có quyền ghi vào thư mục «{master.parent}»."
    if master.is_dir():
        return f"«{master}» là một thư mục, không phải sổ tổng hợp."
    if master.exists():
        if not os.access(master, os.W_OK):
            return f"Sổ tổng hợp «{master.name}» chỉ đọc."
        try:
            with open(master, "ab"):  # Windows refuses this while Excel has the file open; writes nothing
                pass
        except OSError as err:
            return f"Sổ tổng hợp «{master.name}» đang bị khóa ({err.strerror})."
    return None


def button_module_path(master: Path) -> Path:
    """The Python module the button's macro imports: named after the workbook, beside it."""
    return master.with_suffix(".py")


@lru_cache(maxsize=1)
def _wiring() -> tuple[bytes, tuple[tuple[str, str], ...], str]:
    from processors.master_vba import conf_rows, read_vba_project  # the xlwings VBA project and conf sheet

    vba, conf = read_vba_project(), tuple(conf_rows())
    digest = hashlib.sha256(vba + repr(conf).encode()).hexdigest()
    return vba, conf, digest


def ledger_stamp(share: Share, ledger: Ledger) -> str:
    """What the master shows, in one string: file counts (the ledger only grows), the campaign and the wiring."""
    counts = ";".join(f"{k}={v}" for k, v in sorted(ledger.count_by_outcome().items()))
    digest = hashlib.sha256(share.campaign.model_dump_json().encode() + _wiring()[2].encode()).hexdigest()
    return f"v{LAYOUT_VERSION};{counts};{digest[:16]}"


def read_master_stamp(master: Path) -> str | None:
    """The stamp recorded in the master, or None when there is no readable master."""
    try:
        with zipfile.ZipFile(master) as book:
            xml = book.read("docProps/custom.xml")
        root = ElementTree.fromstring(xml)
    except (OSError, KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    for prop in root:
        if prop.get("name") == STAMP_PROPERTY:
            return "".join(prop.itertext())
    return None


def current_report(campaign: Campaign, source: ReportSource, moment: datetime) -> tuple[object | None, str]:
    """The report the master opens on (the current period, every level), or None and why not."""
    try:
        from processors.report import resolve_period
        from processors.report_source import report_of

        period = resolve_period(campaign, None, moment)
        return report_of(campaign, source, period=period, level=None, now=moment), ""
    except Exception as err:  # the master still shows every figure and file; the button can retry
        log.exception("report for the master failed")
        return None, f" Chưa lập được báo cáo tổng hợp ({type(err).__name__}: {err}); bấm nút «Tổng hợp» để thử lại."


def figure_records(frame: pd.DataFrame) -> list[dict]:
    """The figures' table as one dict per row, as ``to_dict("records")`` gives them, built column by column (faster)."""
    columns = list(frame.columns)
    return [dict(zip(columns, row, strict=True)) for row in zip(*(frame[c].tolist() for c in columns), strict=True)]


def build_content(share: Share, ledger: Ledger, stamp: str, moment: datetime) -> MasterContent:
    """The master's content from one read of the ledger: «Dữ liệu», «Nhật ký» and the current report."""
    from processors.master_vba import BUTTON_MACRO, CONF_SHEET
    from processors.report_source import read_report_source

    campaign = share.campaign
    source = read_report_source(ledger)
    figures, records = figure_records(source.figures), source.records
    in_use = sum(1 for r in records if r.is_effective)
    summary = (
        f"Cập nhật lúc {format_moment(moment)}: {format_number(len(figures))} số liệu của {format_number(in_use)} "
        f"tệp đang dùng; đã nhận {format_number(len(records))} tệp."
    )
    report, problem = current_report(campaign, source, moment)
    vba, conf, _digest = _wiring()
    return MasterContent(
        title=campaign.info.name,
        summary=summary + problem,
        tables=(data_table(campaign, figures), log_table(campaign, records)),
        conf_sheet=CONF_SHEET,
        conf_rows=conf,
        vba_project=vba,
        button_macro=BUTTON_MACRO,
        stamp=stamp,
        report=report_tables(campaign, report) if report is not None else (),
        controls=tuple(summary_controls(report)) if report is not None else (),
        periods=tuple(period_choices(campaign)),
        levels=tuple(label for label, _level in level_choices(campaign)),
        share_root=str(share.layout.root),
    )


def write_button_module(master: Path) -> None:
    """Write ``tonghop.py`` beside the master when missing or different."""
    from processors.master_vba import render_button_module

    path = button_module_path(master)
    text = render_button_module(master.stem).encode("utf-8")
    if not path.is_file() or path.read_bytes() != text:
        write_atomic(path, text)


def sweep_temps(master: Path) -> None:
    """Remove temp files a killed update left beside the master (``.tonghop.<hex>.tmp``)."""
    for temp in master.parent.glob(f".{master.stem}.*.tmp"):
        temp.unlink(missing_ok=True)


def refresh_master(share: Share, ledger: Ledger, *, force: bool = False) -> MasterResult:
    """Rebuild the master when it is missing or behind the ledger (always when ``force``); busy means deferred."""
    path = share.layout.master
    stamp = ledger_stamp(share, ledger)
    if not force and read_master_stamp(path) == stamp and button_module_path(path).is_file():
        return MasterResult(CURRENT, f"Sổ tổng hợp «{path}» đã cập nhật.", path)
    reason = find_busy_reason(path)
    if reason:
        return MasterResult(BUSY, f"{reason} {DEFERRED}", path)
    content = build_content(share, ledger, stamp, now_local())
    data = render_master(content)
    try:
        sweep_temps(path)
        write_button_module(path)
        write_atomic(path, data, durable=True)
    except OSError as err:  # Excel opened it meanwhile (Windows), or the share refused the write
        return MasterResult(BUSY, f"Không ghi được sổ tổng hợp «{path}» ({err.strerror or err}). {DEFERRED}", path)
    figures, files = len(content.tables[0].rows), len(content.tables[1].rows)
    message = f"Đã cập nhật sổ tổng hợp «{path}»: {format_number(figures)} số liệu, {format_number(files)} tệp đã nhận."
    return MasterResult(UPDATED, message, path, figures, files)


def update_master(share: Share, ledger: Ledger, *, force: bool = False) -> MasterResult:
    """Bring the master up to date with the ledger; never raises (a failure is reported and retried next pass)."""
    try:
        result = refresh_master(share, ledger, force=force)
    except Exception as err:  # a view must never stop intake: the ledger already holds everything
        log.exception("master update failed")
        message = f"Chưa cập nhật được sổ tổng hợp ({type(err).__name__}: {err}). {DEFERRED}"
        return MasterResult(FAILED, message, share.layout.master)
    if result.status == BUSY:
        log.info("%s", result.message)
    return result
