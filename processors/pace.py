"""Pace: the figure expected by a date, on track or behind, and when a target will be reached. Pure.

Days are counted from the campaign's start: the end of the first day is day 1. A daily quota
expects ``daily × days`` by a date (never more than the whole target, when one is given); a
target with an end date (its own due date, else the campaign's end) expects a straight line
from zero at the start to the target at the end.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from forms.schema import Campaign, Period

RECENT_DAYS = 7  # "the recent pace": the change over about the last week of reports


def family(campaign: Campaign, period: Period) -> list[Period]:
    """The periods of ``period``'s kind (its series, else the listed periods) ending no later than it, one per end date."""
    chosen: list[Period] | None = None
    for series in campaign.series:
        expanded = series.expand()
        if any(p.code == period.code for p in expanded):
            chosen = expanded
            break
    if chosen is None:
        chosen = [p for p in campaign.periods] or [period]
    by_end: dict[date, Period] = {}
    for p in sorted(chosen, key=lambda p: (p.end, p.start, p.code)):
        if p.end <= period.end:
            by_end[p.end] = p
    by_end[period.end] = period
    return [by_end[d] for d in sorted(by_end)]


def days_elapsed(start: date, moments: list[date]) -> np.ndarray:
    """Days from ``start`` to the end of each date, counting both (the start's own end is 1); never below 0."""
    return np.maximum(np.array([(d - start).days + 1 for d in moments], dtype="float64"), 0.0)


def expected_cumulative(
    elapsed: np.ndarray, value: np.ndarray, daily: np.ndarray, rate: np.ndarray, due: np.ndarray
) -> np.ndarray:
    """The cumulative figure expected after ``elapsed`` days (dates × units) for one indicator's targets (units).

    ``due`` is the target's end as days since the start (NaN: none). Rates expect a straight
    line too, for ratios whose numerator only grows (signatures ÷ adults).
    """
    el = elapsed[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.clip(el / (due[None, :] + 1), 0.0, 1.0)
        by_daily = daily[None, :] * el
        by_daily = np.where(np.isnan(value)[None, :], by_daily, np.minimum(by_daily, value[None, :]))
        by_line = value[None, :] * fraction
        by_rate = rate[None, :] * fraction
    out = np.where(~np.isnan(daily)[None, :], by_daily, np.where(~np.isnan(value)[None, :], by_line, by_rate))
    return np.where(np.isnan(due)[None, :] & np.isnan(daily)[None, :], np.nan, out)


def eta(series: np.ndarray, moments: list[date], threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """When each unit reaches ``threshold``: (date as datetime64[D] or NaT, reached already) from a dates × units series.

    Reached: the first date the series met it. Not yet: the last value plus the recent pace
    (change per day from the earliest date within RECENT_DAYS of the last, else the one
    before it); NaT when the pace is not positive or there is too little history.
    """
    n_dates, n_units = series.shape
    result = np.full(n_units, np.datetime64("NaT"), dtype="datetime64[D]")
    if n_dates == 0:
        return result, np.zeros(n_units, dtype=bool)
    days = np.array(moments, dtype="datetime64[D]")
    last = series[-1]
    met = series >= threshold[None, :]
    reached = met[-1] & ~np.isnan(threshold)
    first = np.argmax(met, axis=0)
    result[reached] = days[first[reached]]
    if n_dates >= 2:
        window = days >= days[-1] - np.timedelta64(RECENT_DAYS, "D")
        ref = int(np.argmax(window))
        if ref >= n_dates - 1:
            ref = n_dates - 2
        span = float((days[-1] - days[ref]).astype(int))
        with np.errstate(invalid="ignore", divide="ignore"):
            pace = (last - series[ref]) / span
            need = np.ceil((threshold - last) / pace)
        going = ~reached & (pace > 0) & np.isfinite(need)
        result[going] = days[-1] + need[going].astype("int64").astype("timedelta64[D]")
    return result, reached


def to_date(value: np.datetime64) -> date | None:
    """A numpy day as a date, None for NaT."""
    if np.isnat(value):
        return None
    return date(1970, 1, 1) + timedelta(days=int(value.astype("datetime64[D]").astype("int64")))
