"""Time recomputing a report: by default 10,000 units × 20 indicators, 7 daily periods of history.

Run: .venv/bin/python bench/report.py [--units N] [--days N] [--repeat N] [--baseline-units N]
The campaign: a province (a total, not reporting), 100 districts and their communes (xã,
phường, thị trấn); 10 cumulative counts with a quota and a daily quota per unit, 4 pairs of
counts per period and 2 ratios of them against rate targets by level and commune kind.
Every unit reports every day. ``build_report`` (pure, vectorised) does the whole report
(rates, pace and ETA over the history, roll-up, scores, ranks, completeness, reminders).
The baseline, measured in the same run, is a straightforward per-unit Python loop doing
less (the chosen period only: values, sums and ratios, most specific target, rate, expected
figure, score, rank, roll-up) on the first ``--baseline-units`` units, scaled up linearly.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime, timedelta
from datetime import time as clock

import numpy as np
import pandas as pd

from forms.schema import TZ, Campaign, CampaignInfo, Indicator, PeriodSeries, Target, Unit
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
            quota = 3000 + 10 * k + hash(u.code) % 500
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


def baseline(campaign: Campaign, figures: pd.DataFrame, period_code: str, limit: int) -> float:
    """A straightforward per-unit loop over the first ``limit`` reporting units; seconds taken."""
    began = time.perf_counter()
    period = campaign.period_by_code[period_code]
    units = campaign.reporting_units()[:limit]
    wanted = {u.code for u in units}
    values: dict[tuple[str, str], float] = {}
    for row in figures[figures["period_code"] == period_code].itertuples(index=False):
        if row.unit_code in wanted:
            values[(row.unit_code, row.indicator)] = row.value_num
    # The most specific target: unit > level and kind > level > all, as Campaign.target_for.
    by_key: dict[tuple, Target] = {}
    for t in campaign.targets:
        key = (t.indicator, t.unit) if t.unit else (t.indicator, t.level, t.kind)
        by_key.setdefault(key, t)
    days = (period.end - campaign.info.start).days + 1
    scores: dict[str, float] = {}
    totals: dict[str, dict[str, float]] = {}
    for u in units:
        weighted, total_weight = 0.0, 0.0
        mine: dict[str, float] = {}
        for ind in campaign.indicators:
            if ind.kind.value == "ratio":
                num, den = values.get((u.code, ind.numerator)), values.get((u.code, ind.denominator))
                value = num / den if num is not None and den else None
            else:
                value = values.get((u.code, ind.code))
            mine[ind.code] = value
            target = (
                by_key.get((ind.code, u.code))
                or by_key.get((ind.code, u.level, u.kind))
                or by_key.get((ind.code, u.level, None))
                or by_key.get((ind.code, None, None))
            )
            if target is None or not ind.weight:
                continue
            goal = target.value if target.value is not None else target.rate
            if not goal:
                continue
            rate = (value or 0.0) / goal
            _expected = min(target.daily * days, target.value) if target.daily and target.value else None
            weighted += ind.weight * min(rate, campaign.info.score_rate_cap)
            total_weight += ind.weight
        if total_weight:
            scores[u.code] = weighted / total_weight
        parent = totals.setdefault(u.parent or "", {})
        for code in COUNTS:
            parent[code] = parent.get(code, 0.0) + (mine[code] or 0.0)
    by_level: dict[str, list[tuple[float, str]]] = {}
    for u in units:
        if u.code in scores:
            by_level.setdefault(u.level.value, []).append((-scores[u.code], u.code))
    ranks: dict[str, int] = {}
    for entries in by_level.values():
        entries.sort()
        previous, rank = None, 0
        for n, (score, code) in enumerate(entries, 1):
            if score != previous:
                rank, previous = n, score
            ranks[code] = rank
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-units", type=int, default=2_000)
    args = parser.parse_args()
    campaign = make_campaign(args.units)
    figures, files = make_figures(campaign, args.days)
    code = f"N{START + timedelta(days=args.days - 1):%Y%m%d}"
    period = campaign.period_by_code[code]
    now = datetime.combine(period.end + timedelta(days=1), clock(12, 0), TZ)
    n_units = len(campaign.reporting_units())
    began = time.perf_counter()
    build_report(campaign, figures, files, period=period, level=None, now=now)
    cold = time.perf_counter() - began  # includes indexing the campaign (targets, order), kept for the next calls
    timings = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        report = build_report(campaign, figures, files, period=period, level=None, now=now)
        timings.append(time.perf_counter() - began)
    assert len(report.units) == n_units and report.reporting_rate == 1.0
    best, median = min(timings), statistics.median(timings)
    base_units = min(args.baseline_units, n_units)
    base = baseline(campaign, figures, code, base_units) * n_units / base_units
    print(
        f"build_report: {n_units} units x {len(campaign.indicators)} indicators, {args.days} days of history "
        f"({len(figures)} figures): best {best:.3f} s, median {median:.3f} s of {args.repeat} "
        f"(target < 1 s: {'met' if median < 1 else 'NOT met'}); first call with the campaign's indexing {cold:.3f} s"
    )
    print(
        f"baseline per-unit Python loop (period only, no pace history), {base_units} units scaled to {n_units}: "
        f"{base:.3f} s; ratio baseline / build_report (median) = {base / median:.1f}x"
    )


if __name__ == "__main__":
    main()
