"""Units, targets and values as arrays; computed indicators; achievement rates. Pure, vectorised.

Every table here is laid out on the campaign's units in definition order (position ``u``) and
its indicators in definition order (position ``k``): a value table is a dict
``{indicator code: ndarray of shape (dates, units)}``. Working on arrays keeps a report of
10,000 units × 20 indicators well under a second (bench/report.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from forms.schema import Campaign, Indicator, IndicatorKind

INPUT_NUMERIC = frozenset({IndicatorKind.COUNT, IndicatorKind.PERCENT})
NUMERIC = frozenset({IndicatorKind.COUNT, IndicatorKind.SUM, IndicatorKind.RATIO, IndicatorKind.PERCENT})
ADDITIVE = frozenset({IndicatorKind.COUNT, IndicatorKind.SUM})  # a total is the sum of the parts

TARGET_VALUE = "value"  # an absolute quota (50.802 accounts)
TARGET_DAILY = "daily"  # a daily quota only: the period's quota is daily × days
TARGET_RATE = "rate"  # a rate for a ratio or percentage (25% for a xã)

UNIT_COLUMNS = ("code", "name", "level", "parent", "kind", "reports", "contact", "phone", "email")

Values = dict[str, np.ndarray]


def unit_table(campaign: Campaign) -> pd.DataFrame:
    """One row per unit in definition order, with its depth in the hierarchy (0 for a root)."""
    rows = [
        (
            u.code,
            u.name,
            u.level.value,
            u.parent,
            u.kind.value if u.kind else None,
            u.reports,
            u.contact,
            u.phone,
            u.email,
        )
        for u in campaign.units
    ]
    frame = pd.DataFrame(rows, columns=list(UNIT_COLUMNS))
    parents = dict(zip(frame["code"], frame["parent"], strict=True))
    depth: dict[str, int] = {}
    for code in frame["code"]:
        chain, seen = code, set()
        n = 0
        while parents.get(chain) in parents and chain not in seen:
            seen.add(chain)
            chain = parents[chain]
            n += 1
        depth[code] = n
    frame["depth"] = frame["code"].map(depth).astype(int)
    frame["parent_pos"] = pd.Index(frame["code"]).get_indexer(frame["parent"].fillna(""))
    return frame


def attribute_arrays(campaign: Campaign) -> Values:
    """Each unit attribute (e.g. CAN_BO) as an array over units, NaN where a unit lacks it."""
    codes = set(campaign.attributes)
    for u in campaign.units:
        codes.update(u.attributes)
    return {
        code: np.array([u.attributes.get(code, np.nan) for u in campaign.units], dtype="float64")
        for code in sorted(codes)
    }


def target_table(campaign: Campaign, units: pd.DataFrame) -> pd.DataFrame:
    """The target that applies to each (unit, indicator), the most specific one (``Campaign.target_for``, vectorised)."""
    columns = ["unit", "indicator", "value", "daily", "rate", "due", "note", "specificity", "order"]
    if not campaign.targets:
        return pd.DataFrame(columns=columns)
    targets = pd.DataFrame(
        [
            {
                "t_unit": t.unit,
                "t_level": t.level.value if t.level else None,
                "t_kind": t.kind.value if t.kind else None,
                "indicator": t.indicator,
                "value": t.value,
                "daily": t.daily,
                "rate": t.rate,
                "due": t.due,
                "note": t.note,
                "specificity": t.specificity(),
                "order": i,
            }
            for i, t in enumerate(campaign.targets)
        ]
    )
    people = units[["code", "level", "kind"]].rename(columns={"code": "unit"})
    parts = []
    by_unit = targets[targets["t_unit"].notna()]
    parts.append(by_unit.merge(people, left_on="t_unit", right_on="unit"))
    general = targets[targets["t_unit"].isna()]
    for has_level, has_kind in ((True, True), (True, False), (False, True), (False, False)):
        chosen = general[(general["t_level"].notna() == has_level) & (general["t_kind"].notna() == has_kind)]
        if chosen.empty:
            continue
        keys = [k for k, on in (("level", has_level), ("kind", has_kind)) if on]
        if keys:
            left = [f"t_{k}" for k in keys]
            parts.append(chosen.merge(people.dropna(subset=keys), left_on=left, right_on=keys))
        else:
            parts.append(chosen.merge(people, how="cross"))
    found = pd.concat(parts, ignore_index=True)
    found = found.sort_values(["unit", "indicator", "specificity", "order"], ascending=[True, True, False, True])
    found = found.drop_duplicates(["unit", "indicator"], keep="first")
    return found[columns].reset_index(drop=True)


@dataclass(frozen=True)
class TargetArrays:
    """Targets laid out as (units, indicators) arrays; NaN where there is none."""

    value: np.ndarray
    daily: np.ndarray
    rate: np.ndarray
    due: np.ndarray  # days since the campaign start, NaN when no due date
    has: np.ndarray  # bool: a target row applies (even one with only a due date)
    unit_specific: np.ndarray  # bool: the target names the unit


def target_arrays(table: pd.DataFrame, units: pd.DataFrame, indicators: list[Indicator], start: date) -> TargetArrays:
    """The target table as arrays over (unit position, indicator position)."""
    shape = (len(units), len(indicators))
    out = {name: np.full(shape, np.nan) for name in ("value", "daily", "rate", "due")}
    has = np.zeros(shape, dtype=bool)
    specific = np.zeros(shape, dtype=bool)
    if len(table):
        u = pd.Index(units["code"]).get_indexer(table["unit"])
        k = pd.Index([i.code for i in indicators]).get_indexer(table["indicator"])
        ok = (u >= 0) & (k >= 0)
        u, k, rows = u[ok], k[ok], table[ok]
        for name in ("value", "daily", "rate"):
            out[name][u, k] = rows[name].astype("float64").to_numpy()
        out["due"][u, k] = [np.nan if d is None or pd.isna(d) else (d - start).days for d in rows["due"]]
        has[u, k] = True
        specific[u, k] = (rows["specificity"] == 3).to_numpy()
    return TargetArrays(out["value"], out["daily"], out["rate"], out["due"], has, specific)


def relevance(campaign: Campaign, units: pd.DataFrame, targets: TargetArrays) -> np.ndarray:
    """Which indicators each unit reports (``Campaign.indicators_for``, vectorised): bool (units, indicators)."""
    indicators = list(campaign.indicators)
    levels = units["level"].to_numpy()
    mask = np.zeros((len(units), len(indicators)), dtype=bool)
    for k, ind in enumerate(indicators):
        if ind.targeted_only:
            mask[:, k] = targets.unit_specific[:, k]
        elif ind.levels:
            mask[:, k] = np.isin(levels, [lv.value for lv in ind.levels])
        else:
            mask[:, k] = True
    position = {ind.code: k for k, ind in enumerate(indicators)}
    changed = True
    while changed:  # a computed indicator brings its operands along
        changed = False
        for k, ind in enumerate(indicators):
            for code in ind.operands():
                j = position.get(code)
                if j is not None:
                    grown = mask[:, j] | mask[:, k]
                    if (grown != mask[:, j]).any():
                        mask[:, j] = grown
                        changed = True
    return mask


def is_cumulative(campaign: Campaign, ind: Indicator) -> bool:
    """True when the indicator's value only grows over the campaign (lũy kế), itself or through its parts."""
    if ind.cumulative:
        return True
    lookup = campaign.indicator_by_code
    if ind.kind is IndicatorKind.SUM:
        return all(p in lookup and is_cumulative(campaign, lookup[p]) for p in ind.parts)
    if ind.kind is IndicatorKind.RATIO and ind.numerator in lookup:
        return is_cumulative(campaign, lookup[ind.numerator])
    return False


def derive(campaign: Campaign, values: Values, attributes: Values, shape: tuple[int, int]) -> Values:
    """``values`` plus every computed indicator: sums of their parts, ratios numerator ÷ denominator.

    A sum needs all its parts; a ratio needs both operands and a denominator above zero.
    Operands may be indicators or unit attributes (arrays over units, broadcast over dates).
    A computed value given in ``values`` is kept where its operands are missing.
    """
    out = dict(values)
    for ind in _computed_in_order(campaign):
        arrays = [_operand(c, out, attributes, shape) for c in ind.operands()]
        if ind.kind is IndicatorKind.SUM:
            result = np.sum(arrays, axis=0)  # NaN when any part is missing
        else:
            num, den = arrays
            with np.errstate(divide="ignore", invalid="ignore"):
                result = np.where(den > 0, num / den, np.nan)
        given = values.get(ind.code)
        out[ind.code] = result if given is None else np.where(np.isnan(result), given, result)
    return out


def _computed_in_order(campaign: Campaign) -> list[Indicator]:
    """Sums and ratios, each after the computed indicators it is made from."""
    computed = {i.code: i for i in campaign.indicators if i.kind in (IndicatorKind.SUM, IndicatorKind.RATIO)}
    order: list[Indicator] = []
    done: set[str] = set()

    def visit(code: str, path: frozenset[str]) -> None:
        if code in done or code in path:
            return
        for operand in computed[code].operands():
            if operand in computed:
                visit(operand, path | {code})
        done.add(code)
        order.append(computed[code])

    for code in computed:
        visit(code, frozenset())
    return order


def _operand(code: str, values: Values, attributes: Values, shape: tuple[int, int]) -> np.ndarray:
    if code in values:
        return values[code]
    if code in attributes:
        return np.broadcast_to(attributes[code], shape)
    return np.full(shape, np.nan)


def achievement(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Value ÷ target where the target is above zero; NaN otherwise (no target, zero target, no value)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(targets > 0, values / targets, np.nan)
