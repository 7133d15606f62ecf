"""Values, targets and rates: ratio indicators against rate targets by level and commune kind, zero and missing targets."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from report_helpers import at, campaign, cell, figures, on_time_arrivals, period, unit_row

from forms.schema import Level
from processors import rates
from processors.report import build_report

DAY = date(2023, 7, 18)
CODE = f"N{DAY:%Y%m%d}"

# Tiền Giang's rule (mục II.1.b): 70% sở, 60% huyện, 25% xã, 55% phường, 45% thị trấn.
RATE_BY_PLACE = {"so": 0.70, "huyen": 0.60, "xa": 0.25, "phuong": 0.55, "thi_tran": 0.45}
PLACES = [
    {"code": "TINH", "name": "Tỉnh Thử", "level": "tinh", "reports": False},
    {"code": "SO_TP", "name": "Sở Tư pháp", "parent": "TINH", "level": "so"},
    {"code": "HUYEN", "name": "Huyện Chợ Gạo", "parent": "TINH", "level": "huyen", "kind": "huyen"},
    {"code": "XA_1", "name": "Xã Bình Phan", "parent": "HUYEN", "level": "xa", "kind": "xa"},
    {"code": "PHUONG_1", "name": "Phường 1", "parent": "HUYEN", "level": "xa", "kind": "phuong"},
    {"code": "TT_1", "name": "Thị trấn Chợ Gạo", "parent": "HUYEN", "level": "xa", "kind": "thi_tran"},
]
DOSSIERS = [
    {"code": "HS_TONG", "name": "Tổng số hồ sơ"},
    {"code": "HS_TT", "name": "Hồ sơ trực tuyến"},
    {"code": "TL_TT", "name": "Tỷ lệ hồ sơ trực tuyến", "kind": "ratio", "numerator": "HS_TT",
     "denominator": "HS_TONG", "weight": 1},
]  # fmt: skip
RATE_TARGETS = [
    {"indicator": "TL_TT", "level": "so", "rate": RATE_BY_PLACE["so"]},
    {"indicator": "TL_TT", "level": "huyen", "rate": RATE_BY_PLACE["huyen"]},
    {"indicator": "TL_TT", "level": "xa", "kind": "xa", "rate": RATE_BY_PLACE["xa"]},
    {"indicator": "TL_TT", "level": "xa", "kind": "phuong", "rate": RATE_BY_PLACE["phuong"]},
    {"indicator": "TL_TT", "level": "xa", "kind": "thi_tran", "rate": RATE_BY_PLACE["thi_tran"]},
]
ONLINE = {"SO_TP": (200, 150), "HUYEN": (100, 50), "XA_1": (80, 24), "PHUONG_1": (60, 30), "TT_1": (40, 12)}


def dossier_campaign(cap: float = 1.0):
    return campaign(PLACES, DOSSIERS, RATE_TARGETS, cap=cap)


def dossier_figures(c):
    rows = []
    for unit, (total, online) in ONLINE.items():
        rows += [(unit, CODE, "HS_TONG", total), (unit, CODE, "HS_TT", online)]
    return figures(c, rows)


def dossier_report(cap: float = 1.0, level: Level | None = None):
    c = dossier_campaign(cap)
    return build_report(
        c,
        dossier_figures(c),
        on_time_arrivals(c, list(ONLINE), CODE),
        period=period(c, DAY),
        level=level,
        now=at("2023-07-20T09:00"),
    )


def place_key(unit: dict) -> str:
    return unit.get("kind") if unit["level"] == "xa" else unit["level"]


def test_ratio_against_the_rate_target_of_its_level_and_commune_kind() -> None:
    report = dossier_report()
    for unit in PLACES[1:]:
        total, online = ONLINE[unit["code"]]
        wanted = RATE_BY_PLACE[place_key(unit)]
        assert cell(report.indicators, unit["code"], "TL_TT", "value") == pytest.approx(online / total)
        assert cell(report.indicators, unit["code"], "TL_TT", "target") == pytest.approx(wanted)
        assert cell(report.indicators, unit["code"], "TL_TT", "target_kind") == rates.TARGET_RATE
        assert cell(report.indicators, unit["code"], "TL_TT", "rate") == pytest.approx(online / total / wanted)


def test_a_unit_above_100_percent_keeps_its_rate_but_its_score_is_capped() -> None:
    report = dossier_report()
    total, online = ONLINE["XA_1"]
    rate = online / total / RATE_BY_PLACE["xa"]
    assert rate > 1
    assert cell(report.indicators, "XA_1", "TL_TT", "rate") == pytest.approx(rate)
    assert unit_row(report.units, "XA_1")["score"] == pytest.approx(1.0)
    assert unit_row(dossier_report(cap=1.1).units, "XA_1")["score"] == pytest.approx(1.1)
    assert unit_row(dossier_report(cap=2.0).units, "XA_1")["score"] == pytest.approx(rate)


def test_the_province_ratio_is_recomputed_from_summed_operands_not_averaged() -> None:
    report = dossier_report()
    # HUYEN reports its own figures: they stand for the district, its communes are not added again.
    total = ONLINE["SO_TP"][0] + ONLINE["HUYEN"][0]
    online = ONLINE["SO_TP"][1] + ONLINE["HUYEN"][1]
    assert cell(report.totals, "TINH", "HS_TONG", "value") == total
    assert cell(report.totals, "TINH", "TL_TT", "value") == pytest.approx(online / total)
    assert "TINH" not in set(report.units["code"])  # a total is not a reporting unit


def test_level_filter_keeps_only_that_level() -> None:
    report = dossier_report(level=Level.XA)
    assert set(report.units["code"]) == {"XA_1", "PHUONG_1", "TT_1"}
    assert set(report.indicators["unit"]) == {"XA_1", "PHUONG_1", "TT_1"}
    assert set(report.ranking["level"]) == {"xa"}


QUOTA_UNITS = [
    {"code": "A_ZERO", "name": "Đơn vị A", "level": "huyen"},
    {"code": "B_NONE", "name": "Đơn vị B", "level": "huyen"},
    {"code": "C_OVER", "name": "Đơn vị C", "level": "huyen"},
    {"code": "D_SILENT", "name": "Đơn vị D", "level": "huyen"},
]
QUOTA_TARGETS = [
    {"indicator": "TK", "unit": "A_ZERO", "value": 0},
    {"indicator": "TK", "unit": "C_OVER", "value": 100},
    {"indicator": "TK", "unit": "D_SILENT", "value": 100},
]


def quota_report():
    c = campaign(QUOTA_UNITS, [{"code": "TK", "name": "Tài khoản", "weight": 1}], QUOTA_TARGETS)
    rows = [("A_ZERO", CODE, "TK", 40), ("B_NONE", CODE, "TK", 70), ("C_OVER", CODE, "TK", 150)]
    return build_report(
        c,
        figures(c, rows),
        on_time_arrivals(c, ["A_ZERO", "B_NONE", "C_OVER"], CODE),
        period=period(c, DAY),
        level=None,
        now=at("2023-07-20T09:00"),
    )


def test_zero_and_missing_targets_give_no_rate_and_no_rank() -> None:
    report = quota_report()
    assert math.isnan(cell(report.indicators, "A_ZERO", "TK", "rate"))
    assert math.isnan(cell(report.indicators, "B_NONE", "TK", "target"))
    assert math.isnan(cell(report.indicators, "B_NONE", "TK", "rate"))
    for code in ("A_ZERO", "B_NONE"):
        row = unit_row(report.units, code)
        assert not row["rankable"] and pd.isna(row["rank"])
    assert list(report.unranked["unit"]) == ["A_ZERO", "B_NONE"]
    assert set(report.ranking["unit"]) == {"C_OVER", "D_SILENT"}


def test_a_unit_without_figures_scores_zero_and_ranks_last() -> None:
    report = quota_report()
    silent = unit_row(report.units, "D_SILENT")
    assert silent["status"] == "missing" and silent["score"] == 0
    assert silent["rank"] == 2 and unit_row(report.units, "C_OVER")["rank"] == 1
    assert math.isnan(cell(report.indicators, "D_SILENT", "TK", "value"))


def test_targets_pick_the_most_specific_rule_like_campaign_target_for() -> None:
    c = dossier_campaign()
    units = rates.unit_table(c)
    arrays = rates.target_arrays(rates.target_table(c, units), units, list(c.indicators), c.info.start)
    k = [i.code for i in c.indicators].index("TL_TT")
    for n, unit in enumerate(c.units):
        expected = c.target_for(unit, "TL_TT")
        got = arrays.rate[n, k]
        assert (expected is None and np.isnan(got)) or got == pytest.approx(expected.rate)


def test_a_sum_needs_every_part_and_a_ratio_a_positive_denominator() -> None:
    c = campaign(
        [{"code": "U1", "name": "Một", "level": "xa"}, {"code": "U2", "name": "Hai", "level": "xa"}],
        [
            {"code": "M1", "name": "Mức 1"},
            {"code": "M2", "name": "Mức 2"},
            {"code": "TONG", "name": "Tổng", "kind": "sum", "parts": ["M1", "M2"]},
            {"code": "TL", "name": "Tỷ lệ", "kind": "ratio", "numerator": "M1", "denominator": "M2"},
        ],
    )
    values = {"M1": np.array([[5.0, 7.0]]), "M2": np.array([[0.0, np.nan]])}
    out = rates.derive(c, values, {}, (1, 2))
    assert out["TONG"][0, 0] == 5.0 and np.isnan(out["TONG"][0, 1])
    assert np.isnan(out["TL"]).all()


def test_a_ratio_over_a_unit_attribute() -> None:
    c = campaign(
        [
            {"code": "THON_1", "name": "Thôn 1", "level": "thon", "attributes": {"NGUOI": 400}},
            {"code": "THON_2", "name": "Thôn 2", "level": "thon"},
        ],
        [
            {"code": "CKS", "name": "Chữ ký số", "cumulative": True},
            {
                "code": "TL_CKS",
                "name": "Tỷ lệ",
                "kind": "ratio",
                "numerator": "CKS",
                "denominator": "NGUOI",
                "weight": 1,
            },
        ],
        [{"indicator": "TL_CKS", "level": "thon", "rate": 0.4}],
        attributes={"NGUOI": "Người trưởng thành"},
    )
    report = build_report(
        c,
        figures(c, [("THON_1", CODE, "CKS", 100), ("THON_2", CODE, "CKS", 50)]),
        on_time_arrivals(c, ["THON_1", "THON_2"], CODE),
        period=period(c, DAY),
        level=None,
        now=at("2023-07-20T09:00"),
    )
    assert cell(report.indicators, "THON_1", "TL_CKS", "rate") == pytest.approx(100 / 400 / 0.4)
    assert math.isnan(cell(report.indicators, "THON_2", "TL_CKS", "value"))
    assert any("NGUOI" in w and "Thôn 2" in w for w in report.warnings)
