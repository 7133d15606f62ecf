"""Pace: the figure expected by the end of the period, on track or behind, and the date the target will be reached."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from report_helpers import END, START, at, campaign, cell, figures, on_time_arrivals, period

from processors import pace
from processors.report import build_report

DAYS = [START + timedelta(days=n) for n in range(5)]  # 18/7 … 22/7
LAST = DAYS[-1]
UNITS = [
    {"code": "QUOTA", "name": "Theo chỉ tiêu ngày", "level": "huyen"},
    {"code": "CAPPED", "name": "Chỉ tiêu nhỏ", "level": "huyen"},
    {"code": "LINE", "name": "Theo hạn", "level": "huyen"},
    {"code": "FLAT", "name": "Đứng yên", "level": "huyen"},
]
TARGETS = [
    {"indicator": "TK", "unit": "QUOTA", "value": 50802, "daily": 1539, "due": END},
    {"indicator": "TK", "unit": "CAPPED", "value": 3000, "daily": 1000, "due": END},
    {"indicator": "TK", "unit": "LINE", "value": 3200, "due": END},
    {"indicator": "TK", "unit": "FLAT", "value": 900},
]
SERIES = {
    "QUOTA": [1000 * (n + 1) for n in range(5)],
    "CAPPED": [1000 * (n + 1) for n in range(5)],
    "LINE": [100 * (n + 1) for n in range(5)],
    "FLAT": [500] * 5,
}


def pace_report():
    c = campaign(UNITS, [{"code": "TK", "name": "Tài khoản", "cumulative": True, "weight": 1}], TARGETS)
    rows = [(u, f"N{d:%Y%m%d}", "TK", v) for u, series in SERIES.items() for d, v in zip(DAYS, series, strict=True)]
    code = f"N{LAST:%Y%m%d}"
    return build_report(
        c, figures(c, rows), on_time_arrivals(c, list(SERIES), code), period=period(c, LAST), level=None,
        now=at("2023-07-23T09:00"),
    )  # fmt: skip


def elapsed(day: date) -> int:
    return (day - START).days + 1


def test_a_daily_quota_expects_quota_times_days() -> None:
    report = pace_report()
    expected = 1539 * elapsed(LAST)
    assert cell(report.indicators, "QUOTA", "TK", "expected") == expected
    assert SERIES["QUOTA"][-1] < expected
    assert not bool(cell(report.indicators, "QUOTA", "TK", "on_track"))


def test_the_expected_figure_never_exceeds_the_whole_target() -> None:
    report = pace_report()
    assert 1000 * elapsed(LAST) > 3000
    assert cell(report.indicators, "CAPPED", "TK", "expected") == 3000
    assert bool(cell(report.indicators, "CAPPED", "TK", "on_track"))


def test_a_target_with_an_end_date_expects_a_straight_line() -> None:
    report = pace_report()
    line = 3200 * elapsed(LAST) / elapsed(END)
    assert cell(report.indicators, "LINE", "TK", "expected") == pytest.approx(line)
    assert bool(cell(report.indicators, "LINE", "TK", "on_track")) == (SERIES["LINE"][-1] >= line)


def test_eta_at_the_recent_pace() -> None:
    report = pace_report()
    values = SERIES["QUOTA"]
    per_day = (values[-1] - values[0]) / (LAST - DAYS[0]).days  # all five days lie within the last week
    wanted = LAST + timedelta(days=math.ceil((50802 - values[-1]) / per_day))
    assert cell(report.indicators, "QUOTA", "TK", "eta").date() == wanted
    assert not cell(report.indicators, "QUOTA", "TK", "reached")


def test_a_target_already_met_gives_the_day_it_was_met() -> None:
    report = pace_report()
    first = next(d for d, v in zip(DAYS, SERIES["CAPPED"], strict=True) if v >= 3000)
    assert cell(report.indicators, "CAPPED", "TK", "eta").date() == first
    assert cell(report.indicators, "CAPPED", "TK", "reached")


def test_no_progress_means_no_date() -> None:
    report = pace_report()
    assert pd.isna(cell(report.indicators, "FLAT", "TK", "eta"))
    # No end date of its own: the line runs to the campaign's end.
    assert cell(report.indicators, "FLAT", "TK", "expected") == pytest.approx(900 * elapsed(LAST) / elapsed(END))


def test_progress_sums_the_scope_per_period() -> None:
    report = pace_report()
    progress = report.progress[report.progress["indicator"] == "TK"]
    assert list(progress["end"]) == DAYS
    for n, row in enumerate(progress.itertuples(index=False)):
        assert row.actual == sum(series[n] for series in SERIES.values())
    last = progress.iloc[-1]
    assert last["expected"] == pytest.approx(sum(cell(report.indicators, u, "TK", "expected") for u in SERIES))


def test_eta_uses_the_last_week_only() -> None:
    days = [START + timedelta(days=n) for n in range(12)]
    series = np.array([[0.0]] * 12)
    series[:, 0] = [0, 0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70]
    when, reached = pace.eta(series, days, np.array([170.0]))
    per_day = (70 - series[12 - 1 - 7, 0]) / 7
    assert pace.to_date(when[0]) == days[-1] + timedelta(days=math.ceil((170 - 70) / per_day))
    assert not reached[0]


def test_family_keeps_the_periods_of_the_same_series() -> None:
    c = campaign(UNITS, [{"code": "TK", "name": "Tài khoản"}])
    got = pace.family(c, period(c, LAST))
    assert [p.end for p in got] == DAYS
