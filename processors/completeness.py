"""Completeness and timeliness per unit and period, the reporting rate, and reminders. Pure.

A unit's status for a period comes from its first accepted file for that period: on time or
late as judged at intake by the time the file arrived; no accepted file is ``missing`` (a
refused file does not count, but the reminder says it was refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

import pandas as pd

from forms.schema import Campaign, Period, format_deadline
from forms.vi_format import format_moment
from processors.ledger import ACCEPTED, LATE, ON_TIME, REFUSED, FileRecord

MISSING = "missing"
STATUSES = (ON_TIME, LATE, MISSING)
STATUS_LABELS = {ON_TIME: "Đúng hạn", LATE: "Trễ hạn", MISSING: "Chưa nộp"}
ARRIVAL_COLUMNS = ("id", "unit_code", "period_code", "outcome", "timeliness", "received_at", "superseded_by")


def arrival_frame(arrivals: pd.DataFrame | Sequence[FileRecord]) -> pd.DataFrame:
    """Received files as a table with at least ARRIVAL_COLUMNS (from ``Ledger.files()`` or a DataFrame)."""
    if isinstance(arrivals, pd.DataFrame):
        frame = arrivals.copy()
    else:
        frame = pd.DataFrame([asdict(r) for r in arrivals])
    for column in ARRIVAL_COLUMNS:
        if column not in frame:
            frame[column] = None
    if "id" in frame and frame["id"].isna().all():
        frame["id"] = range(len(frame))
    return frame


def unit_statuses(codes: Sequence[str], arrivals: pd.DataFrame, period: Period, now: datetime) -> pd.DataFrame:
    """Per unit (index: code): status, received_at (first accepted), last_received_at, refused (count), overdue."""
    mine = arrivals[(arrivals["period_code"] == period.code) & arrivals["unit_code"].isin(list(codes))]
    accepted = mine[mine["outcome"] == ACCEPTED].sort_values(["received_at", "id"])
    first = accepted.drop_duplicates("unit_code", keep="first").set_index("unit_code")
    last = accepted.drop_duplicates("unit_code", keep="last").set_index("unit_code")
    refused = mine[mine["outcome"] == REFUSED].groupby("unit_code").size()
    index = pd.Index(list(codes), name="code")
    frame = pd.DataFrame(index=index)
    frame["status"] = first["timeliness"].reindex(index).fillna(MISSING).astype(object)
    frame.loc[~frame["status"].isin(STATUSES), "status"] = ON_TIME  # an accepted file without a verdict
    frame["received_at"] = first["received_at"].reindex(index).astype(object)
    frame["last_received_at"] = last["received_at"].reindex(index).astype(object)
    frame["refused"] = refused.reindex(index).fillna(0).astype(int)
    frame["overdue"] = (frame["status"] == MISSING) & (now > period.deadline)
    return frame


def reporting_rate(statuses: pd.Series) -> float:
    """Share of units that sent their report (on time or late); NaN when there is no unit."""
    if not len(statuses):
        return float("nan")
    return float((statuses != MISSING).mean())


def reminder_message(
    campaign: Campaign, period: Period, name: str, contact: str, status: str, received_at, refused: int, now: datetime
) -> str:
    """A ready-to-send Vietnamese reminder for one late or missing unit."""
    to = f"Kính gửi: {contact} – {name}." if contact else f"Kính gửi: {name}."
    office = campaign.info.coordinator or "Cơ quan tổng hợp"
    deadline = format_deadline(period.deadline)
    if status == LATE:
        body = (
            f"Báo cáo «{period.label}» của đơn vị nhận lúc {format_moment(received_at)}, sau hạn nộp {deadline}. "
            "Đề nghị đơn vị nộp báo cáo các kỳ sau đúng hạn."
        )
    else:
        when = "đã quá hạn" if now > period.deadline else "hạn nộp là"
        body = f"Đến {format_moment(now)}, chưa nhận được báo cáo «{period.label}» của đơn vị ({when} {deadline})."
        if refused:
            body += f" Đơn vị đã nộp {refused} tệp nhưng bị trả lại: xem phiếu phản hồi, sửa rồi nộp lại."
        body += " Đề nghị đơn vị điền mẫu biểu và chép vào thư mục «Nộp báo cáo» của đơn vị trên thư mục dùng chung."
    return f"{to} {body} Trân trọng, {office}."


def reminders(units: pd.DataFrame, campaign: Campaign, period: Period, now: datetime) -> pd.DataFrame:
    """Late and missing units with their contact and a message: missing first, then late; in the units' order."""
    columns = ["unit", "name", "status", "status_label", "contact", "phone", "email", "message"]
    chosen = units[units["status"].isin([MISSING, LATE])]
    chosen = chosen.assign(_order=(chosen["status"] == LATE).astype(int)).sort_values("_order", kind="stable")
    rows = [
        (
            row.code,
            row.name,
            row.status,
            STATUS_LABELS[row.status],
            row.contact,
            row.phone,
            row.email,
            reminder_message(
                campaign, period, row.name, row.contact, row.status, row.received_at, int(row.refused), now
            ),
        )
        for row in chosen.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=columns)
