"""Roll-up along the hierarchy without counting anything twice; a parent's own figure beside its children's."""

from __future__ import annotations

from datetime import date

import numpy as np
from report_helpers import at, campaign, cell, figures, on_time_arrivals, period

from processors import rates
from processors.consistency import CHECK_FIGURE
from processors.report import build_report
from processors.rollup import roll_up, top_units

DAY = date(2023, 7, 18)
CODE = f"N{DAY:%Y%m%d}"
TREE = [
    {"code": "TINH", "name": "Tỉnh", "level": "tinh", "reports": False},
    {"code": "H1", "name": "Huyện Một", "parent": "TINH", "level": "huyen"},
    {"code": "H2", "name": "Huyện Hai", "parent": "TINH", "level": "huyen", "reports": False},
    {"code": "X11", "name": "Xã Một Một", "parent": "H1", "level": "xa"},
    {"code": "X12", "name": "Xã Một Hai", "parent": "H1", "level": "xa"},
    {"code": "X21", "name": "Xã Hai Một", "parent": "H2", "level": "xa"},
    {"code": "X22", "name": "Xã Hai Hai", "parent": "H2", "level": "xa"},
]
FIGURES = {"H1": 100, "X11": 30, "X12": 60, "X21": 20, "X22": 25}


def tree_report():
    c = campaign(TREE, [{"code": "TK", "name": "Tài khoản", "cumulative": True}])
    rows = [(u, CODE, "TK", v) for u, v in FIGURES.items()]
    return build_report(
        c, figures(c, rows), on_time_arrivals(c, list(FIGURES), CODE), period=period(c, DAY), level=None,
        now=at("2023-07-20T09:00"),
    )  # fmt: skip


def test_a_parent_without_figures_is_the_sum_of_its_children() -> None:
    report = tree_report()
    assert cell(report.totals, "H2", "TK", "value") == FIGURES["X21"] + FIGURES["X22"]
    assert cell(report.totals, "H2", "TK", "children") == 2


def test_a_reporting_parent_counts_once_with_its_own_figure() -> None:
    report = tree_report()
    # The province adds H1's own figure and H2's communes, never H1's communes a second time.
    assert cell(report.totals, "TINH", "TK", "value") == FIGURES["H1"] + FIGURES["X21"] + FIGURES["X22"]
    assert cell(report.indicators, "H1", "TK", "value") == FIGURES["H1"]


def test_a_parent_figure_unlike_its_childrens_sum_is_flagged() -> None:
    report = tree_report()
    children = FIGURES["X11"] + FIGURES["X12"]
    rows = report.consistency[report.consistency["check"] == CHECK_FIGURE]
    assert list(rows["unit"]) == ["H1"]
    row = rows.iloc[0]
    assert (row["stated"], row["children_sum"], row["difference"]) == (100, children, 100 - children)
    assert any("Huyện Một" in w and "chênh +10" in w for w in report.warnings)


def test_matching_figures_raise_no_warning() -> None:
    c = campaign(TREE, [{"code": "TK", "name": "Tài khoản", "cumulative": True}])
    matching = {**FIGURES, "H1": FIGURES["X11"] + FIGURES["X12"]}
    report = build_report(
        c, figures(c, [(u, CODE, "TK", v) for u, v in matching.items()]), on_time_arrivals(c, list(matching), CODE),
        period=period(c, DAY), level=None, now=at("2023-07-20T09:00"),
    )  # fmt: skip
    assert report.consistency.empty
    assert not any("chênh" in w for w in report.warnings)


def test_roll_up_on_arrays_counts_children_with_a_value() -> None:
    c = campaign(TREE, [{"code": "TK", "name": "Tài khoản"}])
    units = rates.unit_table(c)
    order = list(units["code"])
    values = np.full((1, len(order)), np.nan)
    for code in ("X11", "X21"):
        values[0, order.index(code)] = 5.0
    rolled = roll_up({"TK": values}, units, ["TK"])
    assert rolled.values["TK"][0, order.index("H1")] == 5.0
    assert rolled.child_count["TK"][0, order.index("H1")] == 1
    assert rolled.values["TK"][0, order.index("TINH")] == 10.0
    assert np.isnan(rolled.child_sum["TK"][0, order.index("X11")])


def test_top_units_drop_those_whose_ancestor_is_in_scope() -> None:
    c = campaign(TREE, [{"code": "TK", "name": "Tài khoản"}])
    units = rates.unit_table(c)
    scope = units["code"].isin(["H1", "X11", "X21"]).to_numpy()
    assert set(units["code"][top_units(units, scope)]) == {"H1", "X21"}
