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
    units = campaign.units
    frame = pd.DataFrame(
        {
            "code": [u.code for u in units],
            "name": [u.name for u in units],
            "level": [u.level._value_ for u in units],  # ``_value_``: ``value`` without the enum property's cost
            "parent": [u.parent for u in units],
            "kind": [u.kind._value_ if u.kind else None for u in units],
            "reports": [u.reports for u in units],
            "contact": [u.contact for u in units],
            "phone": [u.phone for u in units],
            "email": [u.email for u in units],
        },
        columns=list(UNIT_COLUMNS),
    )
    parent_pos = pd.Index(frame["code"]).get_indexer(frame["parent"].fillna(""))
    frame["depth"] = _depths(frame, parent_pos)
    frame["parent_pos"] = parent_pos
    return frame


MAX_DEPTH = 64  # deeper (or a cycle, refused by the definition): walked unit by unit


def _depths(frame: pd.DataFrame, parent_pos: np.ndarray) -> np.ndarray:
    """Each unit's number of ancestors, one level of the whole hierarchy at a time."""
    depth = np.zeros(len(parent_pos), dtype=int)
    ancestor = parent_pos.copy()
    for _ in range(MAX_DEPTH):
        has = ancestor >= 0
        if not has.any():
            return depth
        depth[has] += 1
        ancestor[has] = parent_pos[ancestor[has]]
    parents = dict(zip(frame["code"], frame["parent"], strict=True))
    out = []
    for code in frame["code"]:
        chain, seen = code, set()
        n = 0
        while parents.get(chain) in parents and chain not in seen:
            seen.add(chain)
            chain = parents[chain]
            n += 1
        out.append(n)
    return np.array(out, dtype=int)


def attribute_arrays(campaign: Campaign) -> Values:
    """Each unit attribute (e.g. CAN_BO) as an array over units, NaN where a unit lacks it."""
    codes = set(campaign.attributes)
    attributes = [u.attributes for u in campaign.units]
    for given in attributes:
        codes.update(given)
    return {
        code: np.array([given.get(code, np.nan) for given in attributes], dtype="float64") for code in sorted(codes)
    }


NUMBERS = ("value", "daily", "rate")
TARGET_COLUMNS = ["unit", "indicator", "value", "daily", "rate", "due", "note", "specificity", "order"]


@dataclass(frozen=True)
class TargetChoice:
    """The target chosen for each (unit, indicator) that has one: parallel arrays, by unit code then indicator code."""

    unit: np.ndarray  # the unit's position in the unit table
    target: np.ndarray  # the target's position in campaign.targets
    indicator: np.ndarray  # the indicator's position in ``indicators``
    indicators: np.ndarray  # the indicator codes the targets name (objects)
    specificity: np.ndarray


def choose_targets(campaign: Campaign, units: pd.DataFrame) -> TargetChoice:
    """The most specific target of each (unit, indicator) (``Campaign.target_for``, vectorised).

    Most specific: a target naming the unit, then level and kind, then level or kind, then
    none; among equals the first listed.
    """
    targets = campaign.targets
    named = np.array([t.unit for t in targets] + [None], dtype=object)[:-1]
    indicator_id, indicators = pd.factorize(np.array([t.indicator for t in targets] + [None], dtype=object)[:-1])
    codes = units["code"].to_numpy(dtype=object)
    # Targets naming a unit: one row each (a unit not in the plan: none).
    by_unit = np.flatnonzero(named != None)  # noqa: E711 (elementwise)
    where = pd.Index(codes).get_indexer(pd.Index(named[by_unit], dtype=object))
    row_unit, row_target = [where[where >= 0]], [by_unit[where >= 0]]
    # General targets: every unit of their level and kind.
    levels = units["level"].to_numpy(dtype=object)
    kinds = units["kind"].to_numpy(dtype=object)
    specificity = np.full(len(targets), 3, dtype=np.int64)
    for n in np.flatnonzero(named == None).tolist():  # noqa: E711
        t = targets[n]
        specificity[n] = t.specificity()
        match = np.ones(len(codes), dtype=bool)
        if t.level is not None:
            match &= levels == t.level.value
        if t.kind is not None:
            match &= kinds == t.kind.value
        found = np.flatnonzero(match)
        row_unit.append(found)
        row_target.append(np.full(len(found), n, dtype=np.int64))
    unit_pos = np.concatenate(row_unit)
    target_pos = np.concatenate(row_target)
    # The most specific target per (unit, indicator), the first listed among equals.
    cell = unit_pos * max(len(indicators), 1) + indicator_id[target_pos]
    order = np.lexsort((target_pos, -specificity[target_pos], cell))
    cell = cell[order]
    first = np.ones(len(cell), dtype=bool)
    first[1:] = cell[1:] != cell[:-1]
    unit_pos, target_pos = unit_pos[order][first], target_pos[order][first]
    # By unit code, then indicator code.
    unit_rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
    ind_rank = np.argsort(np.argsort(np.asarray(indicators, dtype=object), kind="stable"), kind="stable")
    by_code = np.lexsort((ind_rank[indicator_id[target_pos]], unit_rank[unit_pos]))
    unit_pos, target_pos = unit_pos[by_code], target_pos[by_code]
    return TargetChoice(
        unit_pos, target_pos, indicator_id[target_pos], np.asarray(indicators, dtype=object), specificity[target_pos]
    )


NUMBERS = ("value", "daily", "rate")
TARGET_COLUMNS = ["unit", "indicator", "value", "daily", "rate", "due", "note", "specificity", "order"]


def target_table(campaign: Campaign, units: pd.DataFrame, choice: TargetChoice | None = None) -> pd.DataFrame:
    """The target that applies to each (unit, indicator), the most specific one, by unit code then indicator code."""
    targets = campaign.targets
    if not targets:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    choice = choice or choose_targets(campaign, units)
    chosen = [targets[n] for n in choice.target.tolist()]
    return pd.DataFrame(
        {
            "unit": units["code"].array.take(choice.unit),
            "indicator": pd.array(choice.indicators, dtype="str").take(choice.indicator),
            "value": np.array([t.value for t in chosen], dtype="float64"),
            "daily": np.array([t.daily for t in chosen], dtype="float64"),
            "rate": np.array([t.rate for t in chosen], dtype="float64"),
            "due": pd.Series([t.due for t in chosen], dtype=object),
            "note": [t.note for t in chosen],
            "specificity": choice.specificity,
            "order": choice.target,
        },
        columns=TARGET_COLUMNS,
    )


@dataclass(frozen=True)
class TargetArrays:
    """Targets laid out as (units, indicators) arrays; NaN where there is none."""

    value: np.ndarray
    daily: np.ndarray
    rate: np.ndarray
    due: np.ndarray  # days since the campaign start, NaN when no due date
    has: np.ndarray  # bool: a target row applies (even one with only a due date)
    unit_specific: np.ndarray  # bool: the target names the unit


def target_arrays(
    table: pd.DataFrame,
    units: pd.DataFrame,
    indicators: list[Indicator],
    start: date,
    choice: TargetChoice | None = None,
) -> TargetArrays:
    """The target table as arrays over (unit position, indicator position); ``choice``: the table's own rows."""
    shape = (len(units), len(indicators))
    out = {name: np.full(shape, np.nan) for name in ("value", "daily", "rate", "due")}
    has = np.zeros(shape, dtype=bool)
    specific = np.zeros(shape, dtype=bool)
    if len(table):
        if choice is not None:
            u = choice.unit
            k = pd.Index([i.code for i in indicators]).get_indexer(pd.Index(choice.indicators))[choice.indicator]
        else:
            u = pd.Index(units["code"]).get_indexer(table["unit"])
            k = pd.Index([i.code for i in indicators]).get_indexer(table["indicator"])
        ok = (u >= 0) & (k >= 0)
        u, k, rows = u[ok], k[ok], table[ok] if not ok.all() else table
        for name in NUMBERS:
            out[name][u, k] = rows[name].to_numpy(dtype="float64", na_value=np.nan)
        due = rows["due"].to_numpy(dtype=object)
        dated = pd.notna(due)
        out["due"][u[dated], k[dated]] = [(d - start).days for d in due[dated]]
        has[u, k] = True
        specific[u, k] = rows["specificity"].to_numpy() == 3
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
