"""Completeness and timeliness per unit and period, the reporting rate, and reminders. Pure.

A unit's status for a period comes from its first accepted file for that period: on time or
late as judged at intake by the time the file arrived; no accepted file is ``missing`` (a
refused file does not count, but the reminder says it was refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
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
    elif not arrivals:
        frame = pd.DataFrame()
    else:
        records = list(arrivals)
        columns = {c: [getattr(r, c) for r in records] for c in ARRIVAL_COLUMNS if c != "received_at"}
        frame = pd.DataFrame(columns, columns=list(ARRIVAL_COLUMNS))
        moments = [r.received_at for r in records]
        frame["received_at"] = _moments(moments) if _one_zone(moments) else moments
    for column in ARRIVAL_COLUMNS:
        if column not in frame:
            frame[column] = None
    if "id" in frame and frame["id"].isna().all():
        frame["id"] = range(len(frame))
    return frame


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _one_zone(values: list) -> bool:
    """True when every value is a ``datetime`` of the same time zone (or every one naive)."""
    if not values or type(values[0]) is not datetime:
        return False
    tz = values[0].tzinfo
    return all(type(v) is datetime and v.tzinfo == tz for v in values)


def _moments(values: list) -> pd.Series:
    """Datetimes of one time zone (``_one_zone``) as a datetime column, as pandas would infer it, through
    integer microseconds: pandas' own inference of 70,000 aware datetimes takes a third of a second."""
    tz = values[0].tzinfo
    epoch = _EPOCH.replace(tzinfo=UTC) if tz is not None else _EPOCH
    ticks = np.array([(v - epoch) // _MICROSECOND for v in values], dtype="int64").astype("datetime64[us]")
    moments = pd.DatetimeIndex(ticks)
    return pd.Series(moments.tz_localize("UTC").tz_convert(tz) if tz is not None else moments)


ARRIVAL_TEXT = ("unit_code", "period_code", "outcome", "timeliness")


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class Arrivals:
    """The received files' columns that statuses need, as arrays, from ``Ledger.files()`` or a DataFrame.

    The arrival moments of records are converted only where they decide or show something (a
    unit with several files for a period; the first and last file shown), a few rows among many.
    """

    def __init__(self, arrivals: pd.DataFrame | Sequence[FileRecord] | Arrivals) -> None:
        if isinstance(arrivals, Arrivals):
            self.__dict__.update(arrivals.__dict__)
            return
        self._column: pd.Series | None = None  # received_at as a column, when it is one
        self._moments: list = []  # else the records' datetimes, all of one time zone
        if isinstance(arrivals, pd.DataFrame):
            n = len(arrivals)

            def column(name: str) -> pd.Series:
                given = arrivals[name] if name in arrivals else pd.Series([None] * n, dtype=object)
                return given.reset_index(drop=True)

            self._column = column("received_at")
            ids = column("id")
            text = {name: column(name).to_numpy(dtype=object) for name in ARRIVAL_TEXT}
        else:
            records = list(arrivals)
            n = len(records)
            moments = [r.received_at for r in records]
            if _one_zone(moments):
                self._moments = moments
            else:
                self._column = pd.Series(moments, dtype=None if moments else object)
            ids = pd.Series([r.id for r in records], dtype=None if records else object)
            text = {
                "unit_code": _objects([r.unit_code for r in records]),
                "period_code": _objects([r.period_code for r in records]),
                "outcome": _objects([r.outcome for r in records]),
                "timeliness": _objects([r.timeliness for r in records]),
            }
        self.unit_code, self.period_code = text["unit_code"], text["period_code"]
        self._codes = {name: pd.factorize(text[name]) for name in ("unit_code", "period_code")}
        self.outcome, self._timeliness = text["outcome"], text["timeliness"]
        self._ids = pd.Series(range(n)) if ids.isna().all() else ids

    def __len__(self) -> int:
        return len(self.unit_code)

    def received(self, rows: np.ndarray) -> pd.Series:
        """The arrival moments at ``rows`` (-1: none, NaT), as the whole column would hold them."""
        if self._column is not None:
            return pd.Series(self._column.array.take(rows, allow_fill=True))
        distinct, where = np.unique(rows, return_inverse=True)  # -1 sorts first
        given = distinct[distinct >= 0]
        picked = [self._moments[i] for i in given.tolist()] or self._moments[:1]
        where = where.reshape(-1) - (len(distinct) - len(given))  # positions in ``given``; -1 stays -1 (none)
        return pd.Series(_moments(picked).array.take(np.where(rows >= 0, where, -1), allow_fill=True))

    def timeliness(self, rows: np.ndarray) -> pd.Series:
        """The intake's verdicts at ``rows`` (-1: none)."""
        verdicts = np.append(self._timeliness, None)  # row -1: none
        return pd.Series(verdicts[rows], dtype=object)

    def first_and_last(self, rows: np.ndarray, group: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per group (0…n-1), its first and last row by arrival, then id (-1: no row). ``rows`` ascending."""
        first, last = np.full(n, -1), np.full(n, -1)
        count = np.bincount(group, minlength=n)
        single = count[group] == 1
        first[group[single]] = rows[single]
        last[group[single]] = rows[single]
        several = ~single
        if several.any():  # only here does the moment of arrival decide
            rows, group = rows[several], group[several]
            keys = pd.DataFrame({"received_at": self.received(rows), "id": self._ids.take(rows).to_numpy()})
            order = keys.sort_values(["received_at", "id"]).index.to_numpy()
            rows, group = rows[order], group[order]
            seen, where = np.unique(group, return_index=True)
            first[seen] = rows[where]
            seen, where = np.unique(group[::-1], return_index=True)
            last[seen] = rows[::-1][where]
        return first, last

    def positions(self, name: str, among: Sequence[str]) -> np.ndarray:
        """Each row's position of its ``name`` (unit_code, period_code) in ``among`` (-1: not there)."""
        codes, uniques = self._codes[name]
        among = among if isinstance(among, pd.Index) else pd.Index(list(among), dtype=object)
        where = among.get_indexer(pd.Index(uniques, dtype=object))
        return np.where(codes >= 0, where[np.maximum(codes, 0)], -1) if len(codes) else np.zeros(0, dtype=int)


def unit_statuses(
    codes: Sequence[str], arrivals: pd.DataFrame | Arrivals, period: Period, now: datetime
) -> pd.DataFrame:
    """Per unit (index: code): status, received_at (first accepted), last_received_at, refused (count), overdue."""
    files = Arrivals(arrivals)
    index = pd.Index(list(codes), name="code")
    unit = files.positions("unit_code", index)
    mine = (files.period_code == period.code) & (unit >= 0)
    accepted = np.flatnonzero(mine & (files.outcome == ACCEPTED))
    first, last = files.first_and_last(accepted, unit[accepted], len(index))
    frame = pd.DataFrame(index=index)
    frame["status"] = files.timeliness(first).fillna(MISSING).astype(object).set_axis(index)
    frame.loc[~frame["status"].isin(STATUSES), "status"] = ON_TIME  # an accepted file without a verdict
    both = files.received(np.concatenate([first, last])).astype(object)  # converted together: mostly the same rows
    frame["received_at"] = both.iloc[: len(index)].set_axis(index)
    frame["last_received_at"] = both.iloc[len(index) :].set_axis(index)
    frame["refused"] = np.bincount(unit[mine & (files.outcome == REFUSED)], minlength=len(index)).astype(int)
    frame["overdue"] = (frame["status"] == MISSING) & (now > period.deadline)
    return frame


def status_history(codes: Sequence[str], arrivals: pd.DataFrame | Arrivals, periods: Sequence[Period]) -> pd.DataFrame:
    """Status of each unit for each period (long: unit, period, label, status): its first accepted file's verdict."""
    files = Arrivals(arrivals)
    labels = {p.code: p.label for p in periods}
    index, which = pd.Index(list(codes)), pd.Index(list(labels))
    unit = files.positions("unit_code", index)
    period = files.positions("period_code", which)
    accepted = np.flatnonzero((files.outcome == ACCEPTED) & (unit >= 0) & (period >= 0))
    cell = unit[accepted] * len(which) + period[accepted]
    first, _ = files.first_and_last(accepted, cell, len(index) * len(which))
    status = files.timeliness(first).fillna(MISSING).to_numpy(dtype=object)
    across = np.tile(np.arange(len(which)), len(index))
    return pd.DataFrame(
        {
            "unit": index.take(np.repeat(np.arange(len(index)), len(which))),
            "period": which.take(across),
            "label": pd.Index(list(labels.values())).take(across),
            "status": pd.Series(status, dtype=object),
        }
    )


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
