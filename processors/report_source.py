"""What a report is computed from, read from the ledger once: the effective figures and the received files as tables.

The master (processors.master, at every rebuild) and the «Tổng hợp» button (addin.handlers, at
every press) both read the ledger here and hand the two tables to ``build_report``. The files'
table is built straight from the ``FileRecord``s' fields: 39,000 files take about 0.1 s, where
converting each record with ``dataclasses.asdict`` (what ``completeness.arrival_frame`` does
when given records) takes seconds, because it deep-copies every finding of every file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from forms.schema import Campaign, Level, Period
from processors.completeness import ARRIVAL_COLUMNS
from processors.ledger import FileRecord, Ledger

if TYPE_CHECKING:
    from processors.report import Report


@dataclass(frozen=True)
class ReportSource:
    """One read of the ledger: what a report needs, and every file (for «Nhật ký»)."""

    figures: pd.DataFrame  # Ledger.effective_frame(): every figure of every effective accepted file
    arrivals: pd.DataFrame  # every received file, columns ARRIVAL_COLUMNS
    records: list[FileRecord]  # Ledger.files(), in the order received


def arrival_table(records: Sequence[FileRecord]) -> pd.DataFrame:
    """The received files as the report reads them (ARRIVAL_COLUMNS), one row per file, without ``asdict``."""
    return pd.DataFrame(
        [(r.id, r.unit_code, r.period_code, r.outcome, r.timeliness, r.received_at, r.superseded_by) for r in records],
        columns=list(ARRIVAL_COLUMNS),
    )


def read_report_source(ledger: Ledger) -> ReportSource:
    """The ledger's effective figures and files, read once, as tables ready for ``build_report``."""
    figures = ledger.effective_frame()
    records = ledger.files()
    return ReportSource(figures, arrival_table(records), records)


def read_report_inputs(ledger: Ledger) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(figures, arrivals)``: the two tables ``build_report`` takes, from one read of the ledger."""
    source = read_report_source(ledger)
    return source.figures, source.arrivals


def report_of(
    campaign: Campaign, source: ReportSource, *, period: Period, level: Level | None, now: datetime
) -> Report:
    """The report of ``period`` for ``level`` from one read of the ledger; the source is left as it was (it may be kept)."""
    from processors.report import build_report

    return build_report(campaign, source.figures.copy(), source.arrivals.copy(), period=period, level=level, now=now)
