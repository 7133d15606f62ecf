"""The report of one period and level: rates, pace, roll-up, scores and ranks, completeness, tasks, consistency.

``build_report`` is pure (campaign + ledger tables in, a ``Report`` of DataFrames out);
``load_report`` is the edge that opens a share's ledger. ``report_json`` and
``format_report_table`` (processors.report_output) present it. What every figure means:
docs/bao_cao.md.
"""

from __future__ import annotations

import functools
import gc
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from forms.schema import Campaign, IndicatorKind, Level, Period, format_deadline
from processors import completeness, consistency, pace, ranking, rates, rollup, tasks
from processors.ledger import FileRecord
from processors.vi_order import vi_sort_key

LEVEL_ORDER = [lv.value for lv in Level]
INDICATOR_COLUMNS = [
    "unit", "name", "indicator", "indicator_name", "kind", "weight", "value", "target", "target_kind", "rate",
    "expected", "on_track", "eta", "reached", "due",
]  # fmt: skip
PROGRESS_COLUMNS = ["period", "label", "start", "end", "indicator", "actual", "expected"]


_NONE, _VALUE, _DAILY, _RATE = 0, 1, 2, 3  # the kind of a cell's target, as a code
_TARGET_KINDS = np.array([None, rates.TARGET_VALUE, rates.TARGET_DAILY, rates.TARGET_RATE], dtype=object)


class ReportError(Exception):
    """A report that cannot be made as asked; the message is Vietnamese and lists the valid choices."""


@dataclass(frozen=True)
class Report:
    """One period's report for one level (or every level): tables for the master, the terminal and JSON."""

    campaign: Campaign
    period: Period
    level: Level | None
    as_of: datetime
    units: pd.DataFrame  # reporting units in scope, one row each
    indicators: pd.DataFrame  # long: one row per (reporting unit, numeric indicator it reports)
    ranking: pd.DataFrame  # ranked units: level, rank, unit, name, score
    unranked: pd.DataFrame  # units that cannot be ranked (no target): level, unit, name
    progress: pd.DataFrame  # per period of the same kind up to this one: actual and expected cumulative
    reminders: pd.DataFrame  # late and missing units with contact and message
    tasks: pd.DataFrame  # task indicators per unit: due, value, state
    consistency: pd.DataFrame  # totals beside their units: definition targets and figures
    totals: pd.DataFrame  # long: units that do not report (province…), figures rolled up from their children
    warnings: tuple[str, ...]
    reporting_rate: float
    statuses: pd.DataFrame = field(default_factory=pd.DataFrame)  # status of every unit in scope per period so far


# --------------------------------------------------------------------------- the pure core


@dataclass(frozen=True)
class _Frame:
    """What the computations share: units, indicators, targets and positions."""

    campaign: Campaign
    units: pd.DataFrame
    indicators: list
    codes: list[str]
    targets: pd.DataFrame
    target: rates.TargetArrays
    relevant: np.ndarray
    attributes: rates.Values
    cumulative: np.ndarray
    target_checks: pd.DataFrame  # the plan's totals beside their units' targets
    vi_rank: np.ndarray  # each unit's place when names are sorted the Vietnamese way
    period_pos: dict[str, int]  # each period's position in campaign.schedule, by code


_LAST_FRAME: list[tuple[Campaign, _Frame]] = []  # the campaign last reported on and what was derived from it


def _frame(campaign: Campaign) -> _Frame:
    """What the report derives from the campaign alone; kept for the same (immutable) campaign object."""
    if _LAST_FRAME and _LAST_FRAME[0][0] is campaign:
        return _LAST_FRAME[0][1]
    frame = _derive_frame(campaign)
    _LAST_FRAME[:] = [(campaign, frame)]
    return frame


def _derive_frame(campaign: Campaign) -> _Frame:
    units = rates.unit_table(campaign)
    indicators = list(campaign.indicators)
    choice = rates.choose_targets(campaign, units) if campaign.targets else None
    table = rates.target_table(campaign, units, choice)
    target = rates.target_arrays(table, units, indicators, campaign.info.start, choice)
    return _Frame(
        campaign=campaign,
        units=units,
        indicators=indicators,
        codes=[i.code for i in indicators],
        targets=table,
        target=target,
        relevant=rates.relevance(campaign, units, target),
        attributes=rates.attribute_arrays(campaign),
        cumulative=np.array([rates.is_cumulative(campaign, i) for i in indicators], dtype=bool),
        target_checks=consistency.target_totals(campaign, table, units),
        vi_rank=_vi_rank(units["name"].tolist()),
        period_pos={p.code: n for n, p in reversed(list(enumerate(campaign.schedule)))},
    )


@dataclass(frozen=True)
class _Rows:
    """Numeric figures of input indicators as parallel arrays: unit, indicator, schedule period, value, arrival."""

    unit: np.ndarray
    indicator: np.ndarray
    period: np.ndarray  # position in campaign.schedule
    value: np.ndarray
    arrival: pd.Series  # every figure's received_at
    chosen: np.ndarray  # which figures these rows are

    def received(self) -> np.ndarray:
        """Each row's arrival as int64 ticks since the epoch: needed only to break ties, so made only then."""
        moments = self.arrival
        if not isinstance(moments.dtype, pd.DatetimeTZDtype):
            moments = pd.to_datetime(moments, utc=True)
        return moments.array.asi8[self.chosen]


@dataclass(frozen=True)
class _Keys:
    """Positions of every figure's unit, indicator and period (-1: unknown), and its number (NaN: none)."""

    unit: np.ndarray
    indicator: np.ndarray
    period: np.ndarray
    number: np.ndarray


def _keys(figures: pd.DataFrame, f: _Frame) -> _Keys:
    """Each figure's positions, looked up once: a few distinct codes over many rows."""
    number = figures["value_num"] if "value_num" in figures else pd.to_numeric(figures["value"], errors="coerce")
    units, periods = f.units["code"], pd.Index([p.code for p in f.campaign.schedule])
    runs = _file_runs(figures)
    if runs is not None:  # a file's figures share its unit and period: look them up once per file
        starts, lengths = runs
        unit = np.repeat(_positions(figures["unit_code"].to_numpy(dtype=object)[starts], units), lengths)
        period = np.repeat(_positions(figures["period_code"].to_numpy(dtype=object)[starts], periods), lengths)
    else:
        unit, period = _positions(figures["unit_code"], units), _positions(figures["period_code"], periods)
    return _Keys(
        unit,
        _positions(figures["indicator"], pd.Index(f.codes)),
        period,
        number.to_numpy(dtype="float64", na_value=np.nan),
    )


def _file_runs(figures: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(first row, length) of each run of rows of one file, when the ledger's ``file_id`` gives them and there are
    few runs; None otherwise. A file's figures carry its unit and period (the ledger joins them from the file):
    checked at both ends of every run."""
    if "file_id" not in figures or len(figures) < 50_000 or not pd.api.types.is_integer_dtype(figures["file_id"]):
        return None
    ids = figures["file_id"].to_numpy()
    new = np.ones(len(ids), dtype=bool)
    new[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(new)
    if len(starts) > len(ids) // 4:
        return None
    ends = np.append(starts[1:], len(ids)) - 1
    for column in ("unit_code", "period_code"):
        values = figures[column].to_numpy(dtype=object)
        if not (values[starts] == values[ends]).all():
            return None
    return starts, ends - starts + 1


def _numeric_rows(figures: pd.DataFrame, keys: _Keys, f: _Frame) -> _Rows:
    """The figures the computations use: numbers of input indicators, of known units and periods."""
    is_input = np.array([i.kind in rates.INPUT_NUMERIC for i in f.indicators] + [False])
    ok = (keys.unit >= 0) & (keys.period >= 0) & ~np.isnan(keys.number) & is_input[keys.indicator]
    return _Rows(keys.unit[ok], keys.indicator[ok], keys.period[ok], keys.number[ok], figures["received_at"], ok)


def _positions(column: pd.Series | np.ndarray, among: pd.Index | pd.Series) -> np.ndarray:
    """Each value's position in ``among`` (-1 when absent), factorising first: a few distinct codes, many rows."""
    values = column.to_numpy(dtype=object) if isinstance(column, pd.Series) else column
    codes, uniques = _factorize(values)
    where = pd.Index(among).get_indexer(pd.Index(uniques, dtype=object)).astype(np.int32)
    return np.where(codes >= 0, where[np.maximum(codes, 0)], np.int32(-1))


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of a column of codes, faster when it repeats itself (the ledger's order: by unit, period,
    indicator): where a value equals the one ``stride`` rows before, it takes that row's code, so only the
    others are hashed. Comparing two strings costs a fraction of looking one up."""
    n, sample = len(values), values[:4096]
    if n < 50_000:
        return pd.factorize(values)
    try:
        for stride in _strides(sample):
            changes = np.count_nonzero(sample[stride:] != sample[:-stride])
            if changes > len(sample) // 8:
                continue
            new = np.ones(n, dtype=bool)
            new[stride:] = values[stride:] != values[:-stride]
            rows = -(-n // stride)
            if not new[stride:].any():  # the first ``stride`` values, over and over
                codes, uniques = pd.factorize(values[:stride])
                return np.tile(codes.astype(np.int32), rows)[:n], uniques
            codes = np.full(n, -1, dtype=np.int32)
            codes[new], uniques = pd.factorize(values[new])
            # Every other row: the code of the nearest new row above it by whole strides.
            latest = np.zeros(rows * stride, dtype=np.int32 if n < 2**31 else np.int64)
            latest[:n][new] = np.flatnonzero(new)
            latest = np.maximum.accumulate(latest.reshape(rows, stride), axis=0).reshape(-1)[:n]
            return codes[latest], uniques
    except TypeError:  # a value that cannot say whether it equals another (pd.NA)
        pass
    return pd.factorize(values)


def _strides(sample: np.ndarray) -> list[int]:
    """Candidate repeat lengths: 1 (runs of one value), then the distance to the first value's next appearance."""
    out = [1]
    again = np.flatnonzero(sample[1:] == sample[0])
    if len(again) and again[0] + 1 > 1:
        out.append(int(again[0]) + 1)
    return out


def _strict(rows: _Rows, f: _Frame, period: Period) -> rates.Values:
    """Input figures of exactly this period, (1, units) per indicator."""
    here = f.period_pos[period.code]
    sel = rows.period == here
    grid = np.full((len(f.units), len(f.codes)), np.nan)
    grid[rows.unit[sel], rows.indicator[sel]] = rows.value[sel]
    return {
        ind.code: grid[:, k][None, :].copy() for k, ind in enumerate(f.indicators) if ind.kind in rates.INPUT_NUMERIC
    }


def _basis(rows: _Rows, f: _Frame, periods: list[Period]) -> rates.Values:
    """Input figures at each date of ``periods``: cumulative ones as of that date (latest report), others of that period."""
    schedule = f.campaign.schedule
    n_dates, n_units = len(periods), len(f.units)
    ends = np.array([p.end.toordinal() for p in schedule])
    dates = np.array([p.end.toordinal() for p in periods])
    family_of = np.full(len(schedule), -1)
    for n, p in enumerate(periods):
        family_of[f.period_pos[p.code]] = n
    # Where the figures of each (indicator, schedule period) go, as a row of the (indicator, date) grid; -1: nowhere.
    # Cumulative: as of the first date on or after the period's end; others: their own period of the family.
    row_of = np.arange(len(f.codes))[:, None] * n_dates
    cumulative = f.cumulative[:, None]
    as_of = np.where(cumulative & (ends <= dates[-1])[None, :], row_of + np.searchsorted(dates, ends)[None, :], -1)
    own = np.where(~cumulative & (family_of >= 0)[None, :], row_of + family_of[None, :], -1)
    pair = rows.indicator.astype(np.int64) * len(schedule) + rows.period
    grid = np.full((len(f.codes) * n_dates, n_units), np.nan)
    # Cumulative: the latest figure ending on or before each date (a period of the family wins a tie).
    slot = as_of.reshape(-1)[pair]
    sel = slot >= 0
    cell = slot[sel] * n_units + rows.unit[sel]
    value = rows.value[sel]
    seen = np.zeros(grid.size, dtype=bool)
    seen[cell] = True
    if np.count_nonzero(seen) < len(cell):  # several figures for a cell: the latest wins
        period = rows.period[sel]
        order = np.lexsort((rows.received()[sel], family_of[period] >= 0, ends[period], cell))
        cell, value = cell[order], value[order]
        last = np.ones(len(cell), dtype=bool)
        last[:-1] = cell[1:] != cell[:-1]
        cell, value = cell[last], value[last]
    grid.reshape(-1)[cell] = value
    grid = grid.reshape(len(f.codes), n_dates, n_units)
    for n in range(1, n_dates):
        grid[:, n] = np.where(np.isnan(grid[:, n]), grid[:, n - 1], grid[:, n])
    # Others: the figure of that very period.
    slot = own.reshape(-1)[pair]
    sel = slot >= 0
    grid.reshape(-1)[slot[sel] * n_units + rows.unit[sel]] = rows.value[sel]
    return {ind.code: grid[k] for k, ind in enumerate(f.indicators) if ind.kind in rates.INPUT_NUMERIC}


def _without_gc(function: Callable[..., Report]) -> Callable[..., Report]:
    """``function`` run with the cyclic garbage collector paused (and restored as it was)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Report:
        collecting = gc.isenabled()
        gc.disable()  # no reference cycles are made here; a full collection over a big plan's models costs ~0.25 s
        try:
            return function(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return run


@_without_gc
def build_report(
    campaign: Campaign,
    figures: pd.DataFrame,
    arrivals: pd.DataFrame | Sequence[FileRecord],
    *,
    period: Period,
    level: Level | None,
    now: datetime,
) -> Report:
    """The report of ``period`` for ``level`` (None: every level) from the ledger's effective figures and files. Pure."""
    f = _frame(campaign)
    units, n_units = f.units, len(f.units)
    info = campaign.info
    periods = pace.family(campaign, period)
    dates = [p.end for p in periods]
    keys = _keys(figures, f)
    rows = _numeric_rows(figures, keys, f)

    # Values: a reporting unit's own figures of this period; above it, figures rolled up from the children.
    strict = rates.derive(campaign, _strict(rows, f, period), f.attributes, (1, n_units))
    basis = _basis(rows, f, periods)
    additive = [i.code for i in f.indicators if i.kind is IndicatorKind.COUNT]
    rolled = rollup.roll_up(basis, units, additive)
    rolled_attributes = rollup.roll_up({a: v[None, :] for a, v in f.attributes.items()}, units, f.attributes).values
    history = rates.derive(
        campaign, {**basis, **rolled.values}, {a: v[0] for a, v in rolled_attributes.items()}, (len(dates), n_units)
    )
    reports = units["reports"].to_numpy(dtype=bool)
    numeric = np.array([i.kind in rates.NUMERIC for i in f.indicators])
    value = np.full((n_units, len(f.codes)), np.nan)
    for k, code in enumerate(f.codes):
        if numeric[k]:
            value[:, k] = np.where(reports, strict[code][0], history[code][-1])

    # Targets, rates and pace.
    t = f.target
    elapsed = pace.days_elapsed(info.start, dates)
    period_days = (period.end - period.start).days + 1
    # The kind of each target as a small code (0: none; 1, 2, 3: _TARGET_KINDS).
    is_rate_ind = np.array([i.kind in (IndicatorKind.RATIO, IndicatorKind.PERCENT) for i in f.indicators])
    kind = np.where(
        ~np.isnan(t.value),
        _VALUE,
        np.where(~np.isnan(t.daily), _DAILY, np.where(~np.isnan(t.rate) & is_rate_ind[None, :], _RATE, _NONE)),
    ).astype(np.int8)
    days_for_daily = np.where(f.cumulative, elapsed[-1], period_days)[None, :]
    target = np.where(
        kind == _VALUE,
        t.value,
        np.where(kind == _DAILY, t.daily * days_for_daily, np.where(kind == _RATE, t.rate, np.nan)),
    )
    rate = rates.achievement(value, target)
    due_or_end = np.where(np.isnan(t.due), float((info.end - info.start).days), t.due)
    expected = np.full_like(value, np.nan)
    expected_history: dict[str, np.ndarray] = {}
    eta = np.full(value.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    reached = np.zeros(value.shape, dtype=bool)
    for k, code in enumerate(f.codes):
        if not numeric[k] or not kind[:, k].any():
            continue
        target_rate = np.where(kind[:, k] == _RATE, t.rate[:, k], np.nan)
        if f.cumulative[k]:
            absolute = np.where(kind[:, k] == _RATE, np.nan, t.value[:, k])
            exp = pace.expected_cumulative(elapsed, absolute, t.daily[:, k], target_rate, due_or_end[:, k])
            expected_history[code] = exp
            expected[:, k] = exp[-1]
            threshold = np.where(np.isnan(absolute), target_rate, absolute)
            eta[:, k], reached[:, k] = pace.eta(history[code], dates, threshold)
        else:
            expected[:, k] = np.where(~np.isnan(t.daily[:, k]), t.daily[:, k] * period_days, target_rate)
    on_track = np.where(np.isnan(value) | np.isnan(expected), np.nan, value >= expected)

    # Scores and ranks (reporting units only: a total does not compete with its own units).
    weights = np.array([i.weight for i in f.indicators], dtype="float64")
    targeted = f.relevant & numeric[None, :] & (target > 0)
    score, rankable = ranking.composite_scores(rate, targeted, weights, info.score_rate_cap)

    # Scope.
    in_level = np.ones(n_units, dtype=bool) if level is None else (units["level"].to_numpy() == level.value)
    scope_reporting = in_level & reports
    codes_in_scope = units["code"][scope_reporting].tolist()
    arrivals_frame = completeness.Arrivals(arrivals)
    status = completeness.unit_statuses(codes_in_scope, arrivals_frame, period, now)
    filled, expected_count = _filled(figures, keys, f, period)

    table = units[scope_reporting].copy()
    positions = np.flatnonzero(scope_reporting)
    table["level_label"] = table["level"].map({lv.value: lv.label for lv in Level})
    table = table.join(status, on="code")
    table["status_label"] = table["status"].map(completeness.STATUS_LABELS)
    table["filled"] = filled[positions]
    table["expected"] = expected_count[positions]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["completeness"] = np.where(table["expected"] > 0, table["filled"] / table["expected"], np.nan)
    table["score"] = score[positions]
    table["rankable"] = rankable[positions]
    table["rank"] = ranking.rank_within(table)
    task_table = tasks.task_table(campaign, f.targets, figures, period.end, now.date())
    task_table = task_table[task_table["unit"].isin(units["code"].to_numpy()[in_level])].reset_index(drop=True)
    counts = tasks.task_counts(task_table)
    for state in (tasks.DONE, tasks.IN_PROGRESS, tasks.OVERDUE):
        table[f"tasks_{state}"] = counts[state].reindex(table["code"]).fillna(0).astype(int).to_numpy()
    table = _vi_sorted(table, f)
    ranked, unranked = ranking.ranking_table(table, LEVEL_ORDER)

    cube = _Cube(f, value, target, kind, rate, expected, on_track, eta, reached)
    indicator_rows = cube.long(scope_reporting, only_with_data=False)
    total_rows = cube.long(in_level & ~reports, only_with_data=True)
    n_children = rollup.children_total(units)
    pos = pd.Index(units["code"]).get_indexer(total_rows["unit"])
    total_rows["children"] = pd.array(
        [
            int(rolled.child_count[c][-1, p]) if c in rolled.child_count else None
            for c, p in zip(total_rows["indicator"], pos, strict=True)
        ],
        dtype="Int64",
    )
    total_rows["children_total"] = n_children[pos] if len(pos) else []

    # Consistency: the plan's totals beside their units, a parent's own figures beside its children's.
    own = {c: np.where(reports & in_level, strict[c][0], np.nan) for c in additive}
    parts = [
        f.target_checks,
        consistency.figure_mismatches(
            own,
            {c: v[-1] for c, v in rolled.child_sum.items()},
            {c: v[-1] for c, v in rolled.child_count.items()},
            units,
            n_children,
        ),
    ]
    parts = [p for p in parts if len(p)]
    checks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=consistency.COLUMNS)
    checks = checks[checks["unit"].isin(units["code"].to_numpy()[in_level])].reset_index(drop=True)

    warnings = _warnings(f, period, now, table, checks, figures["unit_code"][keys.unit < 0], in_level)
    progress = _progress(f, periods, history, expected_history, in_level, level)
    reminders = completeness.reminders(table, campaign, period, now)
    statuses = completeness.status_history(codes_in_scope, arrivals_frame, periods)
    return Report(
        campaign=campaign,
        period=period,
        level=level,
        as_of=now,
        units=table.reset_index(drop=True),
        indicators=indicator_rows,
        ranking=ranked,
        unranked=unranked,
        progress=progress,
        reminders=reminders,
        tasks=task_table,
        consistency=checks,
        totals=total_rows,
        warnings=tuple(warnings),
        reporting_rate=completeness.reporting_rate(table["status"]),
        statuses=statuses,
    )


def _nonempty(frame: pd.DataFrame) -> pd.DataFrame | None:
    return frame if len(frame) else None


@dataclass(frozen=True)
class _Cube:
    """The (units × indicators) results, turned into long tables."""

    f: _Frame
    value: np.ndarray
    target: np.ndarray
    kind: np.ndarray
    rate: np.ndarray
    expected: np.ndarray
    on_track: np.ndarray
    eta: np.ndarray
    reached: np.ndarray

    def long(self, scope: np.ndarray, only_with_data: bool) -> pd.DataFrame:
        """One row per (unit in scope, numeric indicator it reports), in unit then indicator order."""
        f = self.f
        numeric = np.array([i.kind in rates.NUMERIC for i in f.indicators])
        mask = f.relevant & numeric[None, :] & scope[:, None]
        if only_with_data:
            mask &= ~np.isnan(self.value) | ~np.isnan(self.target)
        u, k = np.nonzero(mask)
        cell = u * mask.shape[1] + k  # one flat position per row: a single gather from each (units × indicators) array
        inds = f.indicators
        due = f.target.due.ravel()[cell]
        start = np.datetime64(f.campaign.info.start, "D")
        kind = self.kind.ravel()[cell]
        on_track = self.on_track.ravel()[cell]
        # Text columns: gathered from short string arrays (no per-row check that each is a string).
        text = {
            "indicator": f.codes,
            "indicator_name": [i.name for i in inds],
            "kind": [i.kind.value for i in inds],
        }
        text |= {"unit": f.units["code"].array, "name": f.units["name"].array}
        strings = {
            column: pd.array(values, dtype="str").take(u if column in ("unit", "name") else k)
            if len(u)
            else np.array([], dtype=object)  # as pandas makes an empty column of strings
            for column, values in text.items()
        }
        frame = pd.DataFrame(
            {
                **strings,
                "weight": np.array([i.weight for i in inds], dtype="float64")[k],
                "value": self.value.ravel()[cell],
                "target": self.target.ravel()[cell],
                "target_kind": (
                    pd.array(_TARGET_KINDS, dtype="str").take(kind)
                    if kind.any()
                    else pd.Series(_TARGET_KINDS[kind], dtype=object)
                ),
                "rate": self.rate.ravel()[cell],
                "expected": self.expected.ravel()[cell],
                "on_track": pd.arrays.BooleanArray(on_track == 1, np.isnan(on_track)),
                "eta": self.eta.ravel()[cell].astype("datetime64[s]"),
                "reached": self.reached.ravel()[cell],
                "due": np.where(
                    np.isnan(due),
                    np.datetime64("NaT"),
                    start + np.nan_to_num(due).astype("int64").astype("timedelta64[D]"),
                ).astype("datetime64[s]"),
            },
            columns=INDICATOR_COLUMNS,
        )
        return frame


def _filled(figures: pd.DataFrame, keys: _Keys, f: _Frame, period: Period) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: how many of the figures it should type were given for the period, and how many it should type."""
    typed = np.array([i.is_input and i.kind is not IndicatorKind.TEXT for i in f.indicators] + [False])
    expected = (f.relevant & typed[None, :-1]).sum(axis=1)
    sel = (keys.period == f.period_pos[period.code]) & (keys.unit >= 0) & typed[keys.indicator]
    given = ~np.isnan(keys.number[sel])
    texts = figures["value"].to_numpy(dtype=object)[sel][~given]
    given[~given] = [isinstance(v, str) and bool(v.strip()) for v in texts]
    u, k = keys.unit[sel][given], keys.indicator[sel][given]
    keep = f.relevant[u, k]
    return np.bincount(u[keep], minlength=len(f.units)), expected


def _vi_rank(names: list[str]) -> np.ndarray:
    """Each name's place in Vietnamese order."""
    rank = np.empty(len(names), dtype=int)
    rank[sorted(range(len(names)), key=lambda i: vi_sort_key(names[i]))] = np.arange(len(names))
    return rank


def _vi_sorted(table: pd.DataFrame, f: _Frame) -> pd.DataFrame:
    """Units by level, then by name in Vietnamese order (positions worked out once per campaign)."""
    order = {level: i for i, level in enumerate(LEVEL_ORDER)}
    positions = pd.Index(f.units["code"]).get_indexer(table["code"])
    return table.iloc[np.lexsort((f.vi_rank[positions], table["level"].map(order).to_numpy()))]


def _progress(
    f: _Frame,
    periods: list[Period],
    history: rates.Values,
    expected_history: dict[str, np.ndarray],
    in_level: np.ndarray,
    level: Level | None,
) -> pd.DataFrame:
    """Per period of the same kind: the total (actual) and the expected total of the scope's units, cumulative."""
    scope = rollup.top_units(f.units, in_level)
    rows = []
    for k, ind in enumerate(f.indicators):
        if not (f.cumulative[k] and ind.kind in rates.ADDITIVE and ind.code in expected_history):
            continue
        actual = history[ind.code][:, scope]
        exp = expected_history[ind.code][:, scope]
        if np.isnan(exp).all():
            continue
        for d, p in enumerate(periods):
            a, e = actual[d], exp[d]
            rows.append(
                (
                    p.code,
                    p.label,
                    p.start,
                    p.end,
                    ind.code,
                    float(np.nansum(a)) if (~np.isnan(a)).any() else np.nan,
                    float(np.nansum(e)) if (~np.isnan(e)).any() else np.nan,
                )
            )
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


def _warnings(
    f: _Frame,
    period: Period,
    now: datetime,
    table: pd.DataFrame,
    checks: pd.DataFrame,
    strangers: pd.Series,
    in_level: np.ndarray,
) -> list[str]:
    out: list[str] = []
    if now <= period.deadline:
        out.append(f"Kỳ «{period.label}» chưa đến hạn nộp ({format_deadline(period.deadline)}): số liệu chưa đầy đủ.")
    missing = table[table["status"] == completeness.MISSING]
    if len(missing) and now > period.deadline:
        out.append(
            f"{len(missing)}/{len(table)} đơn vị chưa nộp báo cáo «{period.label}» "
            f"(hạn {format_deadline(period.deadline)}): xem danh sách đôn đốc."
        )
    out += consistency.consistency_warnings(checks, f.campaign)
    for ind in f.indicators:
        if ind.kind is IndicatorKind.RATIO and ind.denominator in f.attributes:
            k = f.codes.index(ind.code)
            lacking = (
                f.relevant[:, k] & np.isnan(f.attributes[ind.denominator]) & in_level & f.units["reports"].to_numpy()
            )
            if lacking.any():
                names = f.units["name"].to_numpy()[lacking]
                shown = ", ".join(f"«{n}»" for n in names[:5]) + (
                    f" và {len(names) - 5} đơn vị khác" if len(names) > 5 else ""
                )
                out.append(f"Chưa có thuộc tính «{ind.denominator}» của {shown}: không tính được «{ind.name}».")
    unknown = sorted(set(strangers.unique()))
    if unknown:
        out.append(f"Sổ cái có số liệu của đơn vị không còn trong kế hoạch: {', '.join(unknown)} (không tính).")
    return out


# --------------------------------------------------------------------------- the edge


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold()


def resolve_period(campaign: Campaign, text: str | None, now: datetime) -> Period:
    """The period with this code or dropdown label; without one, the period current at ``now``."""
    schedule = campaign.schedule
    if not schedule:
        raise ReportError("Kế hoạch chưa có kỳ báo cáo nào.")
    if text is None:
        return current_period(schedule, now.date())
    wanted = _fold(text)
    for p in schedule:
        if _fold(p.code) == wanted or _fold(p.label) == wanted:
            return p
    shown = "; ".join(f"{p.code} («{p.label}»)" for p in schedule[:12])
    more = f"; … (tổng cộng {len(schedule)} kỳ)" if len(schedule) > 12 else ""
    raise ReportError(f"Không có kỳ báo cáo «{text}». Chọn mã hoặc tên kỳ: {shown}{more}.")


def current_period(schedule: Sequence[Period], today: date) -> Period:
    """The shortest period covering ``today``; else the last one ended; else the first."""
    covering = [p for p in schedule if p.start <= today <= p.end]
    if covering:
        return min(covering, key=lambda p: ((p.end - p.start).days, p.end, p.code))
    ended = [p for p in schedule if p.end < today]
    if ended:
        return max(ended, key=lambda p: (p.end, -(p.end - p.start).days, p.deadline))
    return schedule[0]


def resolve_level(text: str | None) -> Level | None:
    """The level with this code (``huyen``) or Vietnamese label (``huyện``); None for every level."""
    if text is None:
        return None
    wanted = _fold(text)
    for lv in Level:
        if wanted in (lv.value, _fold(lv.label)):
            return lv
    choices = "; ".join(f"{lv.value} ({lv.label})" for lv in Level)
    raise ReportError(f"Không có cấp «{text}». Chọn một trong: {choices}.")


def load_report(share, *, period: str | None = None, level: str | None = None, now: datetime | None = None) -> Report:
    """The report of a share's ledger (the edge: opens the ledger); raise ReportError on a bad choice or no ledger."""
    from forms.clock import now_local
    from processors.ledger import open_ledger

    moment = now or now_local()
    campaign = share.campaign
    chosen = resolve_period(campaign, period, moment)
    chosen_level = resolve_level(level)
    if not share.layout.ledger.exists():
        raise ReportError(
            f"Chưa có sổ cái «{share.layout.ledger}»: chưa nhận báo cáo nào. Chạy «chitieu ingest THƯ_MỤC» "
            "(hoặc «chitieu watch») sau khi đơn vị nộp báo cáo."
        )
    with open_ledger(share.layout.ledger) as ledger:
        figures = ledger.effective_frame()
        arrivals = ledger.files()
    return build_report(campaign, figures, arrivals, period=chosen, level=chosen_level, now=moment)


# The presentations, importable from here too (processors.report_output never imports this module at run time).
from processors.report_output import format_report_table, report_json  # noqa: E402

__all__ = ["Report", "ReportError", "build_report", "format_report_table", "load_report", "report_json"]
