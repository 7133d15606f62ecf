"""A report as JSON (English keys, numbers as numbers, dates ISO) and as a Vietnamese table for the terminal."""

from __future__ import annotations

import io
import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from forms.schema import format_date, format_deadline
from forms.vi_format import format_moment, format_number, format_rate
from processors.completeness import STATUS_LABELS
from processors.tasks import TASK_LABELS

if TYPE_CHECKING:
    from processors.report import Report

PERCENT_KINDS = ("ratio", "percent")


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: None for NaN/NA/NaT, ISO text for dates, Python numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat() if value.tzinfo else value.date().isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    chosen = frame if columns is None else frame[[c for c in columns if c in frame]]
    return [{k: _plain(v) for k, v in row.items()} for row in chosen.to_dict("records")]


def _indicator_map(rows: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """unit -> {indicator code: {value, target, rate, target_kind, expected, on_track, eta}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    keys = ["value", "target", "rate", "target_kind", "expected", "on_track", "eta"]
    for row in rows[["unit", "indicator", *keys]].itertuples(index=False):
        out.setdefault(row.unit, {})[row.indicator] = {k: _plain(getattr(row, k)) for k in keys}
    return out


def report_json(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict: campaign, period, warnings, units (status, indicators, score, rank)…"""
    info, period = report.campaign.info, report.period
    by_unit = _indicator_map(report.indicators)
    units = []
    for row in report.units.to_dict("records"):
        units.append(
            {
                **{
                    k: _plain(row[k])
                    for k in ("code", "name", "level", "parent", "kind", "status", "received_at", "score", "rank")
                },
                "rankable": bool(row["rankable"]),
                "completeness": _plain(row["completeness"]),
                "contact": row["contact"],
                "phone": row["phone"],
                "email": row["email"],
                "tasks": {s: int(row[f"tasks_{s}"]) for s in TASK_LABELS},
                "indicators": by_unit.get(row["code"], {}),
            }
        )
    totals_by_unit = _indicator_map(report.totals)
    totals = [
        {"code": code, "name": report.campaign.unit_by_code[code].name, "indicators": indicators}
        for code, indicators in totals_by_unit.items()
    ]
    return {
        "campaign": {"code": info.code, "name": info.name, "document": info.document_ref},
        "period": {
            "code": period.code,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "deadline": period.deadline.isoformat(),
        },
        "level": report.level.value if report.level else None,
        "as_of": report.as_of.isoformat(timespec="seconds"),
        "reporting_rate": _plain(report.reporting_rate),
        "warnings": list(report.warnings),
        "units": units,
        "unranked": report.unranked["unit"].tolist(),
        "totals": totals,
        "reminders": _records(report.reminders),
        "tasks": _records(report.tasks),
        "consistency": _records(report.consistency),
        "progress": _records(report.progress),
    }


def _figure(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind in PERCENT_KINDS:
        return format_rate(value)
    return format_number(value) if float(value).is_integer() else format_number(value, 2)


def _rate(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format_rate(value)


def format_report_table(report: Report, width: int = 160) -> str:
    """The report for the terminal: headline, ranked units with their figures, totals, consistency, warnings."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, color_system=None, soft_wrap=True)
    info, period = report.campaign.info, report.period
    units = report.units
    counts = units["status"].value_counts()
    console.print(f"[bold]{info.name}[/bold]")
    level = f" — cấp {report.level.label}" if report.level else ""
    console.print(
        f"Kỳ «{period.label}» ({format_date(period.start)}–{format_date(period.end)}, "
        f"hạn {format_deadline(period.deadline)}){level}. Số liệu đến {format_moment(report.as_of)}."
    )
    console.print(
        f"Đã nộp {int((units['status'] != 'missing').sum())}/{len(units)} đơn vị ({_rate(report.reporting_rate)}): "
        + ", ".join(f"{STATUS_LABELS[s].lower()} {int(counts.get(s, 0))}" for s in STATUS_LABELS)
        + "."
    )
    shown = _shown_indicators(report)
    table = Table(title="Kết quả và xếp hạng", show_lines=False)
    for header in ("Hạng", "Đơn vị", "Cấp", "Tình trạng", "Điểm"):
        table.add_column(header, justify="right" if header in ("Hạng", "Điểm") else "left")
    for code in shown:
        table.add_column(f"{code}\nsố liệu / chỉ tiêu (tỷ lệ)", justify="right")
    cells = report.indicators.set_index(["unit", "indicator"])
    order = units.assign(_r=units["rank"].fillna(10**9)).sort_values(["_r"], kind="stable")
    for row in order.itertuples(index=False):
        values = []
        for code in shown:
            key = (row.code, code)
            if key not in cells.index:
                values.append("")
                continue
            c = cells.loc[key]
            text = f"{_figure(c['value'], c['kind'])} / {_figure(c['target'], c['kind'])} ({_rate(c['rate'])})"
            if c["on_track"] is not pd.NA and c["on_track"] is not None and not bool(c["on_track"]):
                text += " ↓"
            values.append(text)
        rank = "–" if row.rank is pd.NA else str(int(row.rank))
        table.add_row(rank, row.name, row.level_label, row.status_label, _rate(row.score), *values)
    console.print(table, soft_wrap=False)
    console.print("↓: chậm so với tiến độ (dưới số cần đạt đến cuối kỳ). Điểm: tỷ lệ đạt bình quân theo trọng số.")
    if len(report.totals):
        console.print("[bold]Tổng hợp (cộng từ các đơn vị trực thuộc)[/bold]")
        for row in report.totals.itertuples(index=False):
            if row.indicator in shown or not math.isnan(row.target):
                eta = f", dự kiến đạt {format_date(row.eta.date())}" if not pd.isna(row.eta) else ""
                console.print(
                    f"  {row.name} – {row.indicator}: {_figure(row.value, row.kind)} / {_figure(row.target, row.kind)} "
                    f"({_rate(row.rate)}){eta}"
                )
    if len(report.tasks):
        summary = report.tasks["state"].value_counts()
        console.print(
            "[bold]Nhiệm vụ:[/bold] "
            + ", ".join(f"{TASK_LABELS[s].lower()} {int(summary.get(s, 0))}" for s in TASK_LABELS)
        )
    if len(report.unranked):
        console.print("Không xếp hạng (chưa có chỉ tiêu): " + ", ".join(report.unranked["name"]))
    if len(report.reminders):
        console.print("[bold]Cần đôn đốc[/bold]")
        for row in report.reminders.itertuples(index=False):
            phone = f", {row.phone}" if row.phone else ""
            console.print(f"  {row.name} ({STATUS_LABELS[row.status].lower()}): {row.contact}{phone}")
    if report.warnings:
        console.print("[bold]Lưu ý[/bold]")
        for text in report.warnings:
            console.print(f"  • {text}")
    return buffer.getvalue()


def _shown_indicators(report: Report, limit: int = 6) -> list[str]:
    """Indicators worth a column: weighted ones with a target first, then others with a target."""
    rows = report.indicators[report.indicators["target"].notna()]
    weighted = rows[rows["weight"] > 0]["indicator"].unique().tolist()
    others = [c for c in rows["indicator"].unique().tolist() if c not in weighted]
    return (weighted + others)[:limit]
