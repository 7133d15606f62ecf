"""Hand-made campaigns and ledger tables for the report tests (no files, no ledger)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from forms.schema import TZ, Campaign, CampaignInfo, Indicator, Period, PeriodSeries, Target, Unit

START = date(2023, 7, 18)
END = date(2023, 8, 18)


def campaign(
    units: list[dict[str, Any]],
    indicators: list[dict[str, Any]],
    targets: list[dict[str, Any]] = (),
    *,
    periods: list[Period] | None = None,
    daily: bool = True,
    cap: float = 1.0,
    attributes: dict[str, str] | None = None,
) -> Campaign:
    """A campaign from plain dicts; by default daily periods N20230718… with deadline 08:00 the next day."""
    series = ()
    if daily:
        series = (
            PeriodSeries(
                code_prefix="N",
                label_prefix="Ngày",
                frequency="daily",
                start=START,
                end=END,
                deadline_time=time(8, 0),
                deadline_days_after=1,
            ),
        )
    return Campaign(
        info=CampaignInfo(
            code="THU_BAO_CAO", name="Chiến dịch thử báo cáo", start=START, end=END, score_rate_cap=cap,
            coordinator="Công an tỉnh (PC06)",
        ),
        units=tuple(Unit(**u) for u in units),
        indicators=tuple(Indicator(**i) for i in indicators),
        targets=tuple(Target(**t) for t in targets),
        periods=tuple(periods or ()),
        series=series,
        attributes=attributes or {},
    )  # fmt: skip


def period(c: Campaign, day: date) -> Period:
    """The daily period of ``day``."""
    return c.period_by_code[f"N{day:%Y%m%d}"]


def figures(c: Campaign, rows: list[tuple[str, str, str, Any]]) -> pd.DataFrame:
    """A table shaped like ``Ledger.effective_frame()`` from (unit, period code, indicator, value) rows."""
    records = []
    for n, (unit, code, indicator, value) in enumerate(rows):
        p = c.period_by_code[code]
        records.append(
            {
                "file_id": n,
                "unit_code": unit,
                "period_code": code,
                "period_start": p.start,
                "period_end": p.end,
                "indicator": indicator,
                "value": value,
                "received_at": pd.Timestamp(p.deadline - timedelta(hours=1)),
                "timeliness": "on_time",
                "original_name": f"{unit}.xlsx",
                "sha256": "0" * 64,
            }
        )
    frame = pd.DataFrame(records, columns=[
        "file_id", "unit_code", "period_code", "period_start", "period_end", "indicator", "value",
        "received_at", "timeliness", "original_name", "sha256",
    ])  # fmt: skip
    frame["value"] = frame["value"].astype(object)
    frame["value_num"] = [float(v) if isinstance(v, int | float) else np.nan for v in frame["value"]]
    return frame


def arrivals(rows: list[tuple[str, str, str, str | None, datetime]]) -> pd.DataFrame:
    """A table shaped like ``Ledger.files()`` from (unit, period code, outcome, timeliness, received_at) rows."""
    return pd.DataFrame(
        [
            {"id": n + 1, "unit_code": u, "period_code": p, "outcome": o, "timeliness": t, "received_at": r}
            for n, (u, p, o, t, r) in enumerate(rows)
        ],
        columns=["id", "unit_code", "period_code", "outcome", "timeliness", "received_at"],
    )


def on_time_arrivals(c: Campaign, units: list[str], code: str) -> pd.DataFrame:
    """Every unit in ``units`` sent one accepted file for ``code`` an hour before the deadline."""
    p = c.period_by_code[code]
    return arrivals([(u, code, "accepted", "on_time", p.deadline - timedelta(hours=1)) for u in units])


def at(text: str) -> datetime:
    """A local moment in Asia/Ho_Chi_Minh."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def cell(frame: pd.DataFrame, unit: str, indicator: str, column: str) -> Any:
    """One value of a long (unit, indicator) table."""
    rows = frame[(frame["unit"] == unit) & (frame["indicator"] == indicator)]
    assert len(rows) == 1, f"{unit}/{indicator}: {len(rows)} rows"
    return rows.iloc[0][column]


def unit_row(frame: pd.DataFrame, code: str) -> pd.Series:
    """The row of one unit in the report's units table."""
    rows = frame[frame["code"] == code]
    assert len(rows) == 1, f"{code}: {len(rows)} rows"
    return rows.iloc[0]
