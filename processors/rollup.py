"""Roll-up along the hierarchy (communes → district → province) without counting anything twice. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from processors.rates import Values


@dataclass(frozen=True)
class RollUp:
    """Rolled values, and per unit the sum and count of its children's rolled values."""

    values: Values  # a unit's own figure, or the sum of its children's when it has none
    child_sum: Values  # NaN where no child has a value
    child_count: Values  # how many children have a value


def roll_up(values: Values, units: pd.DataFrame, codes: Iterable[str]) -> RollUp:
    """Bottom-up: a unit's own figure when it has one, else the sum of its children's rolled figures.

    A parent that reports its own figure counts once with it; its children are then not added
    again above it (its own figure already covers them), so nothing is counted twice.
    """
    parent_pos = units["parent_pos"].to_numpy()
    depth = units["depth"].to_numpy()
    rolled: Values = {}
    sums_out: Values = {}
    counts_out: Values = {}
    for code in codes:
        arr = np.array(values[code], dtype="float64", copy=True)
        sums = np.zeros_like(arr)
        counts = np.zeros(arr.shape, dtype="int64")
        for d in range(int(depth.max(initial=0)), 0, -1):
            kids = np.flatnonzero((depth == d) & (parent_pos >= 0))
            if not len(kids):
                continue
            vals = arr[:, kids]
            # bincount over (date, parent) cells: much faster than np.add.at for thousands of children.
            cells = (np.arange(arr.shape[0])[:, None] * arr.shape[1] + parent_pos[kids][None, :]).ravel()
            size = arr.size
            sums += np.bincount(cells, weights=np.nan_to_num(vals).ravel(), minlength=size).reshape(arr.shape)
            counts += (
                np.bincount(cells, weights=~np.isnan(vals).ravel(), minlength=size).reshape(arr.shape).astype("int64")
            )
            parents = np.unique(parent_pos[kids])
            from_children = np.where(counts[:, parents] > 0, sums[:, parents], np.nan)
            own = arr[:, parents]
            arr[:, parents] = np.where(np.isnan(own), from_children, own)
        rolled[code] = arr
        sums_out[code] = np.where(counts > 0, sums, np.nan)
        counts_out[code] = counts
    return RollUp(rolled, sums_out, counts_out)


def children_total(units: pd.DataFrame) -> np.ndarray:
    """How many children each unit has."""
    parent_pos = units["parent_pos"].to_numpy()
    return np.bincount(parent_pos[parent_pos >= 0], minlength=len(units))


def top_units(units: pd.DataFrame, scope: np.ndarray) -> np.ndarray:
    """Units of ``scope`` (bool mask) with no ancestor in scope: adding their figures counts nothing twice."""
    parent_pos = units["parent_pos"].to_numpy()
    keep = scope.copy()
    ancestor = parent_pos.copy()
    for _ in range(len(units)):  # bounded: a (refused) cycle in parents cannot loop forever
        has = ancestor >= 0
        if not has.any():
            break
        inside = np.zeros(len(units), dtype=bool)
        inside[has] = scope[ancestor[has]]
        keep &= ~inside
        nxt = np.full_like(ancestor, -1)
        nxt[has] = parent_pos[ancestor[has]]
        ancestor = nxt
    return keep
