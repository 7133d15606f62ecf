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


def target_totals(campaign: Campaign, targets: pd.DataFrame) -> pd.DataFrame:
    """Every parent whose target sits beside its units' targets: the total as printed, the units' sum, the difference."""
    if not len(targets):
        return pd.DataFrame(columns=COLUMNS)
    parent_of = {u.code: u.parent for u in campaign.units}
    n_children: dict[str, int] = {}
    for u in campaign.units:
        if u.parent:
            n_children[u.parent] = n_children.get(u.parent, 0) + 1
    frame = targets.assign(parent=targets["unit"].map(parent_of))
    rows = []
    for field, check in (("value", CHECK_TARGET_VALUE), ("daily", CHECK_TARGET_DAILY)):
        children = frame[frame["parent"].notna() & frame[field].notna()]
        sums = children.groupby(["parent", "indicator"])[field].agg(["sum", "count"])
        for (parent, indicator), (total, count) in sums.iterrows():
            stated = frame[(frame["unit"] == parent) & (frame["indicator"] == indicator)][field]
            if stated.empty or pd.isna(stated.iloc[0]):
                continue
            value = float(stated.iloc[0])
            rows.append(
                (
                    check,
                    parent,
                    campaign.unit_by_code[parent].name,
                    indicator,
                    value,
                    float(total),
                    value - float(total),
                    int(count),
                    n_children.get(parent, 0),
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)


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


def consistency_warnings(table: pd.DataFrame, campaign: Campaign) -> list[str]:
    """A Vietnamese warning for each row whose difference is not zero."""
    out = []
    for row in table.itertuples(index=False):
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
