"""Task indicators (Quảng Ngãi): done, in progress or overdue against their due dates, per unit. Pure.

A task is a status (or yes/no) indicator whose target carries a due date. Its state is the
unit's latest reported status up to the end of the period: the last choice («Hoàn thành»)
or «Có» is done; otherwise it is overdue once the due date has passed (by the earlier of
the period's end and now), else in progress.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from forms.schema import Campaign, IndicatorKind

DONE = "done"
IN_PROGRESS = "in_progress"
OVERDUE = "overdue"
TASK_LABELS = {DONE: "Hoàn thành", IN_PROGRESS: "Đang thực hiện", OVERDUE: "Quá hạn"}
TASK_KINDS = frozenset({IndicatorKind.STATUS, IndicatorKind.YES_NO})
TASK_COLUMNS = ["unit", "name", "indicator", "task", "due", "value", "state"]


def latest_text(figures: pd.DataFrame, codes: set[str], until: date) -> dict[tuple[str, str], str]:
    """(unit, indicator) -> the latest non-blank text value of a period ending on or before ``until``."""
    if figures.empty or not codes:
        return {}
    rows = figures[figures["indicator"].isin(codes) & (figures["period_end"] <= until)]
    rows = rows[rows["value"].map(lambda v: isinstance(v, str) and bool(v.strip()))]
    rows = rows.sort_values(["period_end", "received_at"])
    last = rows.drop_duplicates(["unit_code", "indicator"], keep="last")
    return {(u, i): v for u, i, v in zip(last["unit_code"], last["indicator"], last["value"], strict=True)}


def task_table(
    campaign: Campaign, targets: pd.DataFrame, figures: pd.DataFrame, until: date, today: date
) -> pd.DataFrame:
    """One row per (unit, task) with a due date: its latest value and state; by unit order then task order."""
    tasks = {i.code: i for i in campaign.indicators if i.kind in TASK_KINDS}
    chosen = targets[targets["indicator"].isin(list(tasks)) & targets["due"].notna()] if len(targets) else targets
    if not len(chosen):
        return pd.DataFrame(columns=TASK_COLUMNS)
    values = latest_text(figures, set(tasks), until)
    reference = min(until, today)
    unit_order = {u.code: n for n, u in enumerate(campaign.units)}
    task_order = {code: n for n, code in enumerate(tasks)}
    rows = []
    for unit, code, due in zip(chosen["unit"], chosen["indicator"], chosen["due"], strict=True):
        ind = tasks[code]
        value = values.get((unit, code))
        done_value = ind.choices[-1] if ind.kind is IndicatorKind.STATUS else "Có"
        if value == done_value:
            state = DONE
        elif due < reference:
            state = OVERDUE
        else:
            state = IN_PROGRESS
        rows.append((unit, campaign.unit_by_code[unit].name, code, ind.name, due, value, state))
    frame = pd.DataFrame(rows, columns=TASK_COLUMNS)
    frame["_u"] = frame["unit"].map(unit_order)
    frame["_t"] = frame["indicator"].map(task_order)
    return frame.sort_values(["_u", "_t"]).drop(columns=["_u", "_t"]).reset_index(drop=True)


def task_counts(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per unit: how many tasks are done, in progress, overdue (index: unit)."""
    counts = pd.crosstab(tasks["unit"], tasks["state"]) if len(tasks) else pd.DataFrame()
    return counts.reindex(columns=[DONE, IN_PROGRESS, OVERDUE], fill_value=0)
