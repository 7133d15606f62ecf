"""Time recomputing a report: by default 10,000 units × 20 indicators, 7 daily periods of history.

Run: .venv/bin/python bench/report.py [--units N] [--days N] [--repeat N] [--baseline-units N]
The campaign: a province (a total, not reporting), 100 districts and their communes (xã,
phường, thị trấn); 10 cumulative counts with a quota and a daily quota per unit (100,000
target rows), 4 pairs of counts per period and 2 ratios of them against rate targets by level
and commune kind. Every unit reports every day. ``build_report`` (pure, vectorised) does the
whole report: rates, pace and ETA over the history, roll-up, scores, ranks, completeness,
reminders, consistency.

First call: a campaign object never reported on (so its indexing — target matching, hierarchy,
Vietnamese name order — is timed too), with the files as ``Ledger.files()`` gives them to
``chitieu report``: what a command or a button click in a fresh process pays. Repeat: the same
campaign object again (its indexing kept).

Baseline, measured in the same run: the same report written as a straightforward per-unit Python
loop — for each unit and indicator, the values at every date of the history (cumulative ones
carried forward), sums and ratios, the most specific target (dicts built once over the plan),
target, rate, expected figure by date, on track, ETA from the recent pace, the score; the
unit's status from its first accepted file and how many figures it filled; each unit's figures
added to every ancestor at every date; ranks within each level; the long table as a DataFrame.
It runs on the first ``--baseline-units`` units and is scaled up linearly (its plan-wide dicts
are timed once, not scaled); its scores and ETAs are checked against ``build_report``'s.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import zlib
from datetime import date, datetime, timedelta
from datetime import time as clock

import numpy as np
import pandas as pd

from forms.schema import TZ, Campaign, CampaignInfo, Indicator, IndicatorKind, PeriodSeries, Target, Unit
from processors.ledger import FileRecord
from processors.pace import RECENT_DAYS
from processors.report import build_report

START = date(2023, 7, 18)
COUNTS = [f"TK_{i:02d}" for i in range(10)]
PAIRS = [(f"HS_TONG_{i}", f"HS_TT_{i}") for i in range(4)]
RATIOS = [(f"TL_{i}", *PAIRS[i]) for i in range(2)]
KINDS = ("xa", "phuong", "thi_tran")
RATE_BY = {("huyen", None): 0.6, ("xa", "xa"): 0.25, ("xa", "phuong"): 0.55, ("xa", "thi_tran"): 0.45}


def make_campaign(n_units: int) -> Campaign:
    """A province, 100 districts and their communes: ``n_units`` reporting units in all."""
    districts = min(100, max(1, n_units // 10))
    units = [Unit(code="TINH", name="Tỉnh Thử", level="tinh", reports=False)]
    units += [
        Unit(code=f"H{d:03d}", name=f"Huyện {d}", parent="TINH", level="huyen", kind="huyen") for d in range(districts)
    ]
    for n in range(n_units - districts):
        kind = KINDS[n % 3]
        units.append(Unit(code=f"X{n:05d}", name=f"Xã {n}", parent=f"H{n % districts:03d}", level="xa", kind=kind))
    indicators = [Indicator(code=c, name=f"Số lượng {c}", cumulative=True, weight=1) for c in COUNTS]
    for total, online in PAIRS:
        indicators += [Indicator(code=total, name=f"Tổng {total}"), Indicator(code=online, name=f"Trực tuyến {online}")]
    indicators += [
        Indicator(code=c, name=f"Tỷ lệ {c}", kind="ratio", numerator=num, denominator=den, weight=1)
        for c, den, num in RATIOS
    ]
    targets = []
    for u in units[1:]:
        for k, code in enumerate(COUNTS):
            quota = 3000 + 10 * k + zlib.crc32(u.code.encode()) % 500
            targets.append(Target(indicator=code, unit=u.code, value=quota, daily=round(quota / 32)))
    for code, _, _ in RATIOS:
        for (level, kind), rate in RATE_BY.items():
            targets.append(Target(indicator=code, level=level, kind=kind, rate=rate))
    series = PeriodSeries(
        code_prefix="N", label_prefix="Ngày", frequency="daily", start=START, end=START + timedelta(days=31),
        deadline_time=clock(8, 0), deadline_days_after=1,
    )  # fmt: skip
    info = CampaignInfo(code="BENCH", name="Thử hiệu năng", start=START, end=START + timedelta(days=31))
    return Campaign(
        info=info, units=tuple(units), indicators=tuple(indicators), targets=tuple(targets), series=(series,)
    )


def make_figures(campaign: Campaign, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(effective figures, files) as the ledger returns them: every unit, every input, every day."""
    rng = np.random.default_rng(6)
    units = [u.code for u in campaign.reporting_units()]
    inputs = COUNTS + [c for pair in PAIRS for c in pair]
    frames, files = [], []
    for d in range(days):
        p = campaign.period_by_code[f"N{START + timedelta(days=d):%Y%m%d}"]
        n = len(units) * len(inputs)
        values = np.empty((len(units), len(inputs)))
        values[:, : len(COUNTS)] = (d + 1) * rng.integers(50, 150, (len(units), len(COUNTS)))
        totals = rng.integers(20, 200, (len(units), len(PAIRS)))
        values[:, len(COUNTS) :: 2] = totals
        values[:, len(COUNTS) + 1 :: 2] = (totals * rng.uniform(0.1, 0.9, totals.shape)).round()
        received = pd.Timestamp(p.deadline - timedelta(hours=2))
        frames.append(
            pd.DataFrame(
                {
                    "file_id": np.repeat(np.arange(len(units)) + d * len(units), len(inputs)),
                    "unit_code": np.repeat(units, len(inputs)),
                    "period_code": p.code,
                    "period_start": p.start,
                    "period_end": p.end,
                    "indicator": np.tile(inputs, len(units)),
                    "value": values.reshape(n),
                    "received_at": received,
                    "timeliness": "on_time",
                }
            )
        )
        files.append(
            pd.DataFrame(
                {
                    "id": np.arange(len(units)) + d * len(units),
                    "unit_code": units,
                    "period_code": p.code,
                    "outcome": "accepted",
                    "timeliness": "on_time",
                    "received_at": received,
                    "superseded_by": None,
                }
            )
        )
    figures = pd.concat(frames, ignore_index=True)
    figures["value_num"] = figures["value"].astype("float64")
    figures["value"] = figures["value"].astype(object)
    return figures, pd.concat(files, ignore_index=True)


def file_records(files: pd.DataFrame) -> list[FileRecord]:
    """The files as ``Ledger.files()`` returns them to ``load_report``: records with aware datetimes."""
    return [
        FileRecord(
            id=int(f.id),
            arrival_key=f"a{f.id}",
            sha256="0" * 64,
            size=None,
            original_name=None,
            folder_unit=f.unit_code,
            unit_code=f.unit_code,
            campaign_code="BENCH",
            template_version=1,
            period_code=f.period_code,
            period_start=None,
            period_end=None,
            received_at=f.received_at.to_pydatetime(),
            outcome=f.outcome,
            timeliness=f.timeliness,
            findings=(),
            archive_path=None,
            receipt_path=None,
            superseded_by=None,
            duplicate_of=None,
        )
        for f in files.itertuples(index=False)
    ]


def baseline(
    campaign: Campaign, figures: pd.DataFrame, records: list[FileRecord], period, limit: int
) -> tuple[float, float, dict[str, float], dict[tuple[str, str], date | None]]:
    """The report as a per-unit Python loop over the first ``limit`` reporting units.

    Returns (seconds for the plan-wide dicts, seconds for the units, score per unit, ETA per unit and indicator).
    """
    began = time.perf_counter()
    info = campaign.info
    # Plan-wide, once: targets by key (the most specific wins, as Campaign.target_for), indicators, hierarchy.
    by_key: dict[tuple, Target] = {}
    for t in campaign.targets:
        key = (t.indicator, t.unit) if t.unit else (t.indicator, t.level, t.kind)
        by_key.setdefault(key, t)
    parent_of = {u.code: u.parent for u in campaign.units}
    indicators = list(campaign.indicators)
    inputs = [i for i in indicators if i.kind in (IndicatorKind.COUNT, IndicatorKind.PERCENT)]
    periods = [p for p in campaign.schedule if p.end <= period.end]
    elapsed = [(p.end - info.start).days + 1 for p in periods]
    campaign_days = (info.end - info.start).days
    by_code = campaign.indicator_by_code
    cumulative_of = {
        i.code: i.cumulative or (i.kind is IndicatorKind.RATIO and by_code[i.numerator].cumulative) for i in indicators
    }
    fixed = time.perf_counter() - began

    began = time.perf_counter()
    units = campaign.reporting_units()[:limit]
    wanted = {u.code for u in units}
    mine = figures[figures["unit_code"].isin(wanted)]
    values: dict[tuple[str, str, str], float] = {}
    for unit, code, indicator, number in zip(
        mine["unit_code"], mine["period_code"], mine["indicator"], mine["value_num"], strict=True
    ):
        values[(unit, indicator, code)] = number
    first: dict[tuple[str, str], FileRecord] = {}
    for r in sorted(
        (r for r in records if r.unit_code in wanted and r.outcome == "accepted"), key=lambda r: (r.received_at, r.id)
    ):
        first.setdefault((r.unit_code, r.period_code), r)
    totals: dict[str, dict[str, list[float]]] = {}
    scores: dict[str, float] = {}
    etas: dict[tuple[str, str], date | None] = {}
    rows = []
    period_days = (period.end - period.start).days + 1
    for u in units:
        history: dict[str, list[float]] = {}
        filled = 0
        for ind in inputs:
            carried, line = math.nan, []
            for p in periods:
                v = values.get((u.code, ind.code, p.code), math.nan)
                if ind.cumulative:
                    carried = v if not math.isnan(v) else carried
                    v = carried
                line.append(v)
            history[ind.code] = line
            filled += not math.isnan(values.get((u.code, ind.code, period.code), math.nan))
        for ind in indicators:
            if ind.kind is IndicatorKind.RATIO:
                nums, dens = history.get(ind.numerator), history.get(ind.denominator)
                history[ind.code] = [n / d if d > 0 else math.nan for n, d in zip(nums, dens, strict=True)]
        weighted = total_weight = 0.0
        for ind in indicators:
            line = history[ind.code]
            value = line[-1]
            target = (
                by_key.get((ind.code, u.code))
                or by_key.get((ind.code, u.level, u.kind))
                or by_key.get((ind.code, u.level, None))
                or by_key.get((ind.code, None, u.kind))
                or by_key.get((ind.code, None, None))
            )
            goal = expected = math.nan
            eta, reached = None, False
            if target is not None:
                cumulative = cumulative_of[ind.code]
                if target.value is not None:
                    goal = target.value
                elif target.daily is not None:
                    goal = target.daily * (elapsed[-1] if cumulative else period_days)
                elif target.rate is not None and ind.kind in (IndicatorKind.RATIO, IndicatorKind.PERCENT):
                    goal = target.rate
                due = (target.due - info.start).days if target.due else campaign_days
                line_goal = goal if target.value is not None or target.rate is not None else math.nan
                expected_line = []
                for el in elapsed:
                    if target.daily is not None:
                        e = target.daily * el
                        expected_line.append(min(e, target.value) if target.value is not None else e)
                    else:
                        expected_line.append(line_goal * min(max(el / (due + 1), 0.0), 1.0))
                expected = (
                    expected_line[-1]
                    if cumulative
                    else (target.daily * period_days if target.daily is not None else goal)
                )
                if cumulative and not math.isnan(line_goal):
                    met = [v >= line_goal for v in line]
                    reached = met[-1]
                    if reached:
                        eta = periods[met.index(True)].end
                    elif len(line) >= 2:
                        last_day = periods[-1].end
                        ref = next(n for n, p in enumerate(periods) if (last_day - p.end).days <= RECENT_DAYS)
                        ref = min(ref, len(periods) - 2)
                        pace = (line[-1] - line[ref]) / (last_day - periods[ref].end).days
                        if pace > 0:
                            eta = last_day + timedelta(days=math.ceil((line_goal - line[-1]) / pace))
                etas[(u.code, ind.code)] = eta
            rate = value / goal if goal > 0 else math.nan
            on_track = None if math.isnan(value) or math.isnan(expected) else value >= expected
            rows.append((u.code, u.name, ind.code, value, goal, rate, expected, on_track, eta, reached))
            if ind.weight and goal > 0:
                weighted += ind.weight * min(0.0 if math.isnan(rate) else rate, info.score_rate_cap)
                total_weight += ind.weight
        if total_weight:
            scores[u.code] = weighted / total_weight
        arrived = first.get((u.code, period.code))
        rows.append((u.code, "status", arrived.timeliness if arrived else "missing", filled))
        ancestor = u.parent
        while ancestor:
            sums = totals.setdefault(ancestor, {})
            for ind in inputs:
                line = history[ind.code]
                into = sums.setdefault(ind.code, [0.0] * len(line))
                for n, v in enumerate(line):
                    if not math.isnan(v):
                        into[n] += v
            ancestor = parent_of.get(ancestor)
    by_level: dict[str, list[tuple[float, str]]] = {}
    for u in units:
        if u.code in scores:
            by_level.setdefault(u.level.value, []).append((-round(scores[u.code], 9), u.code))
    ranks: dict[str, int] = {}
    for entries in by_level.values():
        entries.sort()
        previous, rank = None, 0
        for n, (score, code) in enumerate(entries, 1):
            if score != previous:
                rank, previous = n, score
            ranks[code] = rank
    pd.DataFrame([r for r in rows if len(r) == 10])
    return fixed, time.perf_counter() - began, scores, etas


def check_baseline(report, scores: dict[str, float], etas: dict[tuple[str, str], date | None]) -> None:
    """The baseline computed the same figures: every score and ETA matches ``build_report``'s."""
    mine = report.units.set_index("code")["score"]
    for code, score in scores.items():
        assert math.isclose(score, mine[code], rel_tol=1e-9), (code, score, mine[code])
    table = report.indicators.set_index(["unit", "indicator"])["eta"]
    for key, eta in etas.items():
        got = table[key]
        assert (eta is None and pd.isna(got)) or (eta is not None and got.date() == eta), (key, eta, got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-units", type=int, default=2_000)
    args = parser.parse_args()
    campaign = make_campaign(args.units)
    figures, files = make_figures(campaign, args.days)
    records = file_records(files)
    code = f"N{START + timedelta(days=args.days - 1):%Y%m%d}"
    period = campaign.period_by_code[code]
    now = datetime.combine(period.end + timedelta(days=1), clock(12, 0), TZ)
    n_units = len(campaign.reporting_units())
    fresh = make_campaign(args.units)  # never reported on: the first call indexes it
    began = time.perf_counter()
    report = build_report(fresh, figures, records, period=period, level=None, now=now)
    first = time.perf_counter() - began
    timings = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        report = build_report(fresh, figures, records, period=period, level=None, now=now)
        timings.append(time.perf_counter() - began)
    assert len(report.units) == n_units and report.reporting_rate == 1.0
    best, median = min(timings), statistics.median(timings)
    base_units = min(args.baseline_units, n_units)
    fixed, looped, scores, etas = baseline(campaign, figures, records, period, base_units)
    check_baseline(report, scores, etas)
    base = fixed + looped * n_units / base_units
    verdict = " and ".join(
        f"{name} {'met' if seconds < 1 else 'NOT met'}" for name, seconds in (("first call", first), ("repeat", median))
    )
    print(
        f"build_report: {n_units} units x {len(campaign.indicators)} indicators, {args.days} days of history "
        f"({len(figures)} figures, {len(records)} files): first call {first:.3f} s (campaign indexing included); "
        f"repeat best {best:.3f} s, median {median:.3f} s of {args.repeat} (target < 1 s: {verdict})"
    )
    print(
        f"baseline: the same report as a per-unit Python loop (history, targets, pace and ETA, score, status, "
        f"roll-up, ranks), {base_units} units scaled to {n_units}: {base:.3f} s; ratio baseline / build_report: "
        f"first call {base / first:.1f}x, repeat median {base / median:.1f}x"
    )


if __name__ == "__main__":
    main()
