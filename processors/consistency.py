"""Consistency of the definition and the figures: a total beside its units, a parent beside its children. Pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forms.schema import Campaign
from forms.vi_format import format_number

CHECK_TARGET_VALUE = "target_value"
CHECK_TARGET_DAILY = "target_daily"
CHECK_FIGURE = "figure"
CHECK_LABELS = {
    CHECK_TARGET_VALUE: "chỉ tiêu",
    CHECK_TARGET_DAILY: "chỉ tiêu trong ngày",
    CHECK_FIGURE: "số liệu",
}
COLUMNS = ["check", "unit", "name", "indicator", "stated", "children_sum", "difference", "children", "children_total"]


def target_totals(campaign: Campaign, targets: pd.DataFrame, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every parent whose target sits beside its units' targets: the total as printed, the units' sum, the difference.

    ``units``: ``rates.unit_table(campaign)`` when already made. Rows by the first of each
    parent's units in the target table, value checks before daily ones.
    """
    if not len(targets):
        return pd.DataFrame(columns=COLUMNS)
    if units is None:
        from processors.rates import unit_table

        units = unit_table(campaign)
    codes, names = units["code"].to_numpy(dtype=object), units["name"].to_numpy(dtype=object)
    parent_pos = units["parent_pos"].to_numpy()
    n_children = np.bincount(parent_pos[parent_pos >= 0], minlength=len(units))
    unit_pos = pd.Index(codes).get_indexer(targets["unit"].to_numpy(dtype=object))
    ind_id, ind_codes = pd.factorize(targets["indicator"].to_numpy(dtype=object))
    parent = np.where(unit_pos >= 0, parent_pos[np.maximum(unit_pos, 0)], -1)
    parts = []
    for field, check in (("value", CHECK_TARGET_VALUE), ("daily", CHECK_TARGET_DAILY)):
        given = targets[field].to_numpy(dtype="float64", na_value=np.nan)
        has = ~np.isnan(given)
        # The figure stated for (unit, indicator); a child's parent outside the plan states nothing.
        stated = np.full((len(codes), len(ind_codes)), np.nan)
        stated[unit_pos[has & (unit_pos >= 0)], ind_id[has & (unit_pos >= 0)]] = given[has & (unit_pos >= 0)]
        children = has & (parent >= 0)
        cell = pd.Series(parent[children] * len(ind_codes) + ind_id[children])
        sums = pd.Series(given[children]).groupby(cell, sort=False).agg(["sum", "count"])
        p, k = sums.index.to_numpy() // len(ind_codes), sums.index.to_numpy() % len(ind_codes)
        both = ~np.isnan(stated[p, k])
        if not both.any():
            continue
        p, k = p[both], k[both]
        total, count = sums["sum"].to_numpy()[both], sums["count"].to_numpy()[both]
        parts.append(
            pd.DataFrame(
                {
                    "check": check,
                    "unit": pd.array(codes[p], dtype=targets["unit"].dtype),
                    "name": pd.array(names[p], dtype=units["name"].dtype),
                    "indicator": pd.array(np.asarray(ind_codes, dtype=object)[k], dtype=targets["indicator"].dtype),
                    "stated": stated[p, k],
                    "children_sum": total.astype(float),
                    "difference": stated[p, k] - total.astype(float),
                    "children": count.astype(int),
                    "children_total": n_children[p].astype(int),
                },
                columns=COLUMNS,
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def figure_mismatches(
    own: dict[str, np.ndarray],
    child_sum: dict[str, np.ndarray],
    child_count: dict[str, np.ndarray],
    units: pd.DataFrame,
    n_children: np.ndarray,
) -> pd.DataFrame:
    """Units whose own figure differs from the sum of their children's (arrays over units, the period's date)."""
    rows = []
    codes, names = units["code"].to_numpy(), units["name"].to_numpy()
    for indicator, mine in own.items():
        total = child_sum[indicator]
        differs = ~np.isnan(mine) & ~np.isnan(total) & ~np.isclose(mine, total, rtol=0, atol=1e-9)
        for u in np.flatnonzero(differs):
            rows.append(
                (
                    CHECK_FIGURE,
                    codes[u],
                    names[u],
                    indicator,
                    float(mine[u]),
                    float(total[u]),
                    float(mine[u] - total[u]),
                    int(child_count[indicator][u]),
                    int(n_children[u]),
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)


MAX_WARNINGS = 10  # per kind of check; beyond this, one summary line (the table lists every difference)


def consistency_warnings(table: pd.DataFrame, campaign: Campaign) -> list[str]:
    """A Vietnamese warning for each row whose difference is not zero: the first few of each kind, then a count."""
    out = []
    differing = table[table["difference"].abs() >= 1e-9]
    parts = []
    for check in (CHECK_TARGET_VALUE, CHECK_TARGET_DAILY, CHECK_FIGURE):
        rows = differing[differing["check"] == check]
        if len(rows) > MAX_WARNINGS:
            out.append(
                f"{len(rows)} {CHECK_LABELS[check]} của {rows['unit'].nunique()} đơn vị khác tổng các đơn vị trực "
                f"thuộc; dưới đây là {MAX_WARNINGS} trường hợp đầu, xem đủ trong bảng đối chiếu."
            )
        parts.append(rows.head(MAX_WARNINGS))
    shown = pd.concat(parts)
    for row in shown.itertuples(index=False):
        if abs(row.difference) < 1e-9:
            continue
        name = campaign.indicator_by_code[row.indicator].name if row.indicator in campaign.indicator_by_code else ""
        what = f"«{row.indicator}»" + (f" ({name})" if name else "")
        diff = ("+" if row.difference > 0 else "−") + _num(abs(row.difference))
        if row.check == CHECK_FIGURE:
            out.append(
                f"«{row.name}»: số liệu tự báo cáo của chỉ tiêu {what} là {_num(row.stated)}, khác tổng "
                f"{row.children}/{row.children_total} đơn vị trực thuộc đã có số liệu ({_num(row.children_sum)}), "
                f"chênh {diff}."
            )
        else:
            out.append(
                f"Kế hoạch ghi {CHECK_LABELS[row.check]} của «{row.name}» cho {what} là {_num(row.stated)}, "
                f"nhưng tổng của {row.children} đơn vị trực thuộc là {_num(row.children_sum)} (chênh {diff})."
            )
    return out


def _num(value: float) -> str:
    return format_number(value) if float(value).is_integer() else format_number(value, 2)
