"""Composite score and ranking within each level. Pure.

Score = Σ weight × min(rate, cap) ÷ Σ weight over the unit's weighted indicators that carry a
target above zero; a missing rate (no figure reported) counts as 0. Equal scores share a
rank (1, 2, 2, 4); units without any such target cannot be ranked and are listed apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORE_DECIMALS = 9  # scores equal to this many decimals are a tie (0.1 + 0.2 == 0.3)


def composite_scores(
    rates: np.ndarray, targeted: np.ndarray, weights: np.ndarray, cap: float
) -> tuple[np.ndarray, np.ndarray]:
    """(score, rankable) per unit from rates (units × indicators), targets present (bool) and weights."""
    counted = targeted & (weights[None, :] > 0)
    total = (counted * weights[None, :]).sum(axis=1)
    capped = np.minimum(np.nan_to_num(rates, nan=0.0), cap)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, (capped * counted * weights[None, :]).sum(axis=1) / total, np.nan)
    return score, total > 0


def rank_within(frame: pd.DataFrame, group: str = "level") -> pd.Series:
    """Competition rank (1, 2, 2, 4) of ``score`` within each ``group``, highest first; NA when not ``rankable``."""
    score = frame["score"].where(frame["rankable"]).round(SCORE_DECIMALS)
    ranks = score.groupby(frame[group]).rank(method="min", ascending=False)
    return ranks.astype("Int64")


def ranking_table(units: pd.DataFrame, level_order: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranked, unranked): ranked units by level, rank, then unit code; unrankable units apart, by level and code."""
    order = {level: i for i, level in enumerate(level_order)}
    frame = units.assign(_level=units["level"].map(order))
    ranked = frame[frame["rankable"]].sort_values(["_level", "rank", "code"])
    unranked = frame[~frame["rankable"]].sort_values(["_level", "code"])
    columns = ["level", "rank", "code", "name", "score"]
    ranked = ranked[columns].rename(columns={"code": "unit"}).reset_index(drop=True)
    unranked = unranked[["level", "code", "name"]].rename(columns={"code": "unit"}).reset_index(drop=True)
    return ranked, unranked
