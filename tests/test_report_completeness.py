"""Completeness and timeliness per unit and period, the reporting rate, reminders; task indicators."""

from __future__ import annotations

import math
from datetime import date, timedelta

from report_helpers import arrivals, at, campaign, figures, period, unit_row

from forms.schema import format_deadline
from processors.completeness import LATE, MISSING, reporting_rate, unit_statuses
from processors.ledger import ON_TIME
from processors.report import build_report
from processors.tasks import DONE, IN_PROGRESS, OVERDUE

DAY = date(2023, 7, 20)
CODE = f"N{DAY:%Y%m%d}"
UNITS = [
    {"code": "DUNG_HAN", "name": "Huyện Đúng Hạn", "level": "huyen", "contact": "Nguyễn Văn A", "phone": "0299 1"},
    {"code": "TRE_HAN", "name": "Huyện Trễ Hạn", "level": "huyen", "contact": "Trần Thị B", "phone": "0299 2"},
    {"code": "SUA_LAI", "name": "Huyện Sửa Lại", "level": "huyen", "contact": "Lê Văn C"},
    {"code": "TRA_LAI", "name": "Huyện Trả Lại", "level": "huyen", "contact": "Phạm Thị D", "email": "d@x.example"},
    {"code": "IM_LANG", "name": "Huyện Im Lặng", "level": "huyen"},
]


def setup():
    c = campaign(UNITS, [{"code": "TK", "name": "Tài khoản"}, {"code": "GHI_CHU", "name": "Ghi chú", "kind": "text"}])
    p = period(c, DAY)
    before, after = p.deadline - timedelta(hours=2), p.deadline + timedelta(hours=3)
    files = arrivals(
        [
            ("DUNG_HAN", CODE, "accepted", ON_TIME, before),
            ("TRE_HAN", CODE, "accepted", LATE, after),
            ("SUA_LAI", CODE, "accepted", ON_TIME, before),  # on time, corrected after the deadline
            ("SUA_LAI", CODE, "accepted", LATE, after),
            ("TRA_LAI", CODE, "refused", None, before),
            ("IM_LANG", f"N{DAY - timedelta(days=1):%Y%m%d}", "accepted", ON_TIME, before),  # another day
        ]
    )
    rows = [(u, CODE, "TK", 10) for u in ("DUNG_HAN", "TRE_HAN", "SUA_LAI")]
    return c, p, files, figures(c, rows)


def test_status_from_the_first_accepted_file() -> None:
    _c, p, files, _ = setup()
    status = unit_statuses([u["code"] for u in UNITS], files, p, at("2023-07-22T09:00"))
    assert status["status"].to_dict() == {
        "DUNG_HAN": ON_TIME,
        "TRE_HAN": LATE,
        "SUA_LAI": ON_TIME,
        "TRA_LAI": MISSING,
        "IM_LANG": MISSING,
    }
    assert status.loc["TRA_LAI", "refused"] == 1
    assert status.loc["SUA_LAI", "last_received_at"] > status.loc["SUA_LAI", "received_at"]
    assert status["overdue"].to_dict()["IM_LANG"]


def test_reporting_rate_counts_late_reports_as_sent() -> None:
    c, p, files, fig = setup()
    report = build_report(c, fig, files, period=p, level=None, now=at("2023-07-22T09:00"))
    assert report.reporting_rate == 3 / 5
    assert reporting_rate(report.units["status"]) == report.reporting_rate
    assert math.isnan(reporting_rate(report.units["status"].iloc[:0]))


def test_completeness_counts_the_figures_a_unit_should_type() -> None:
    c, p, files, fig = setup()
    report = build_report(c, fig, files, period=p, level=None, now=at("2023-07-22T09:00"))
    row = unit_row(report.units, "DUNG_HAN")
    assert (row["filled"], row["expected"], row["completeness"]) == (1, 1, 1.0)  # free text is optional
    assert unit_row(report.units, "IM_LANG")["completeness"] == 0


def test_reminders_list_missing_then_late_with_contact_and_a_vietnamese_message() -> None:
    c, p, files, fig = setup()
    now = at("2023-07-22T09:00")
    report = build_report(c, fig, files, period=p, level=None, now=now)
    reminders = report.reminders
    assert list(reminders["status"]) == [MISSING, MISSING, LATE]
    assert set(reminders["unit"]) == {"TRA_LAI", "IM_LANG", "TRE_HAN"}
    for row in reminders.itertuples(index=False):
        unit = c.unit_by_code[row.unit]
        assert (row.contact, row.phone, row.email) == (unit.contact, unit.phone, unit.email)
        assert p.label in row.message and format_deadline(p.deadline) in row.message
        assert row.message.startswith("Kính gửi")
    refused = reminders[reminders["unit"] == "TRA_LAI"]["message"].iloc[0]
    assert "bị trả lại" in refused and "quá hạn" in refused
    late = reminders[reminders["unit"] == "TRE_HAN"]["message"].iloc[0]
    assert "sau hạn nộp" in late


def test_before_the_deadline_a_missing_report_is_not_overdue() -> None:
    c, p, files, fig = setup()
    now = p.deadline - timedelta(hours=5)
    report = build_report(c, fig, files.iloc[:0], period=p, level=None, now=now)
    assert not report.units["overdue"].any()
    assert all("hạn nộp là" in m for m in report.reminders["message"])
    assert any("chưa đến hạn" in w for w in report.warnings)


TASK_UNITS = [
    {"code": "CONG_AN", "name": "Công an tỉnh", "level": "nganh"},
    {"code": "SO_TP", "name": "Sở Tư pháp", "level": "so"},
    {"code": "VP", "name": "Văn phòng UBND tỉnh", "level": "co_quan"},
]
CHOICES = ["Chưa thực hiện", "Đang thực hiện", "Hoàn thành"]


def test_tasks_done_in_progress_or_overdue_against_due_dates() -> None:
    c = campaign(
        TASK_UNITS,
        [{"code": "NV_1", "name": "Ban hành kế hoạch", "kind": "status", "choices": CHOICES, "targeted_only": True}],
        [
            {"indicator": "NV_1", "unit": "CONG_AN", "due": date(2023, 7, 20)},
            {"indicator": "NV_1", "unit": "SO_TP", "due": date(2023, 7, 20)},
            {"indicator": "NV_1", "unit": "VP", "due": date(2023, 8, 10)},
        ],
    )
    rows = [
        ("CONG_AN", "N20230719", "NV_1", "Hoàn thành"),  # reported done earlier: stays done
        ("SO_TP", "N20230725", "NV_1", "Đang thực hiện"),
        ("VP", "N20230725", "NV_1", "Chưa thực hiện"),
    ]
    report = build_report(
        c, figures(c, rows), arrivals([]), period=period(c, date(2023, 7, 25)), level=None,
        now=at("2023-07-26T09:00"),
    )  # fmt: skip
    states = dict(zip(report.tasks["unit"], report.tasks["state"], strict=True))
    assert states == {"CONG_AN": DONE, "SO_TP": OVERDUE, "VP": IN_PROGRESS}
    assert report.tasks.set_index("unit").loc["SO_TP", "value"] == "Đang thực hiện"
    assert unit_row(report.units, "SO_TP")["tasks_overdue"] == 1
    assert unit_row(report.units, "CONG_AN")["tasks_done"] == 1
    # Seen from a period before the due date, the same task was still in progress.
    early = build_report(
        c, figures(c, rows[:1]), arrivals([]), period=period(c, date(2023, 7, 19)), level=None,
        now=at("2023-07-26T09:00"),
    )  # fmt: skip
    assert dict(zip(early.tasks["unit"], early.tasks["state"], strict=True))["SO_TP"] == IN_PROGRESS
