"""Composite scores and ranking within each level: ties share a rank, unrankable units apart."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from report_helpers import at, campaign, figures, on_time_arrivals, period, unit_row

from processors.ranking import composite_scores, rank_within, ranking_table
from processors.report import LEVEL_ORDER, build_report

DAY = date(2023, 7, 18)
CODE = f"N{DAY:%Y%m%d}"


def ranked(scores: dict[str, float | None], levels: dict[str, str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "code": list(scores),
            "name": [f"Đơn vị {c}" for c in scores],
            "level": [(levels or {}).get(c, "huyen") for c in scores],
            "score": [np.nan if s is None else s for s in scores.values()],
            "rankable": [s is not None for s in scores.values()],
        }
    )
    frame["rank"] = rank_within(frame)
    return frame


def test_equal_scores_share_a_rank_and_the_next_rank_skips() -> None:
    frame = ranked({"D": 0.5, "C": 0.8, "B": 0.8, "A": 0.9})
    assert dict(zip(frame["code"], frame["rank"], strict=True)) == {"A": 1, "B": 2, "C": 2, "D": 4}


def test_ties_are_listed_by_unit_code() -> None:
    frame = ranked({"Z": 0.8, "M": 0.8, "A": 0.1})
    table, _ = ranking_table(frame, LEVEL_ORDER)
    assert list(table["unit"]) == ["M", "Z", "A"]
    assert list(table["rank"]) == [1, 1, 3]


def test_scores_equal_but_for_float_rounding_are_a_tie() -> None:
    # (0.1 + 0.2) / 2 is 0.15000000000000002 in binary floating point, the other unit has 0.15.
    rates = np.array([[0.1, 0.2], [0.15, 0.15]])
    score, _ = composite_scores(rates, np.ones((2, 2), dtype=bool), np.array([1.0, 1.0]), 1.0)
    assert score[0] != score[1]
    frame = ranked({"X": float(score[0]), "Y": float(score[1])})
    assert list(frame["rank"]) == [1, 1]


def test_ranks_are_per_level_and_unrankable_units_are_listed_apart() -> None:
    frame = ranked(
        {"H1": 0.4, "H2": 0.9, "X1": 0.1, "X2": None},
        levels={"H1": "huyen", "H2": "huyen", "X1": "xa", "X2": "xa"},
    )
    table, apart = ranking_table(frame, LEVEL_ORDER)
    assert list(zip(table["level"], table["unit"], table["rank"], strict=True)) == [
        ("huyen", "H2", 1),
        ("huyen", "H1", 2),
        ("xa", "X1", 1),
    ]
    assert list(apart["unit"]) == ["X2"]
    assert pd.isna(frame.loc[frame["code"] == "X2", "rank"].iloc[0])


def test_composite_score_weights_caps_and_counts_a_missing_rate_as_zero() -> None:
    rates = np.array([[1.5, 0.5, np.nan], [np.nan, 0.5, 0.2]])
    targeted = np.array([[True, True, False], [True, True, True]])
    weights = np.array([2.0, 1.0, 1.0])
    score, rankable = composite_scores(rates, targeted, weights, cap=1.2)
    assert score[0] == pytest.approx((2 * 1.2 + 1 * 0.5) / 3)
    assert score[1] == pytest.approx((2 * 0 + 1 * 0.5 + 1 * 0.2) / 4)
    assert rankable.all()
    _, none = composite_scores(rates, np.zeros((2, 3), dtype=bool), weights, cap=1.0)
    assert not none.any()


def test_weights_from_the_campaign_through_the_report() -> None:
    c = campaign(
        [{"code": "U1", "name": "Huyện Một", "level": "huyen"}, {"code": "U2", "name": "Huyện Hai", "level": "huyen"}],
        [{"code": "A", "name": "Chỉ tiêu A", "weight": 3}, {"code": "B", "name": "Chỉ tiêu B", "weight": 1}],
        [{"indicator": "A", "level": "huyen", "value": 100}, {"indicator": "B", "level": "huyen", "value": 10}],
    )
    rows = [("U1", CODE, "A", 90), ("U1", CODE, "B", 2), ("U2", CODE, "A", 50), ("U2", CODE, "B", 10)]
    report = build_report(
        c, figures(c, rows), on_time_arrivals(c, ["U1", "U2"], CODE), period=period(c, DAY), level=None,
        now=at("2023-07-20T09:00"),
    )  # fmt: skip
    assert unit_row(report.units, "U1")["score"] == pytest.approx((3 * 0.9 + 1 * 0.2) / 4)
    assert unit_row(report.units, "U2")["score"] == pytest.approx((3 * 0.5 + 1 * 1.0) / 4)
    assert list(report.ranking["unit"]) == ["U1", "U2"]
