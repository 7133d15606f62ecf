"""The report on the five real plans: the Sóc Trăng appendix's total, every sample computes, Vietnamese order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from report_helpers import arrivals, at

from forms.plan_yaml import load_yaml
from processors.consistency import CHECK_TARGET_DAILY, CHECK_TARGET_VALUE
from processors.report import build_report, current_period, format_report_table, report_json
from processors.vi_order import vi_sort_key

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NAMES = sorted(p.name for p in SAMPLES.iterdir() if (p / "ke_hoach.yaml").exists())
EMPTY = pd.DataFrame(
    columns=["unit_code", "period_code", "period_start", "period_end", "indicator", "value", "received_at"]
)


def test_the_soc_trang_province_row_beside_its_districts() -> None:
    c = load_yaml(SAMPLES / "soc_trang_2023" / "ke_hoach.yaml")
    districts = [t for t in c.targets if t.unit and t.unit != "SOC_TRANG"]
    province = next(t for t in c.targets if t.unit == "SOC_TRANG")
    report = build_report(c, EMPTY, arrivals([]), period=c.schedule[0], level=None, now=at("2023-07-18T10:00"))
    checks = report.consistency.set_index("check")
    daily, value = checks.loc[CHECK_TARGET_DAILY], checks.loc[CHECK_TARGET_VALUE]
    assert (daily["stated"], daily["children_sum"]) == (province.daily, sum(t.daily for t in districts))
    assert daily["difference"] == province.daily - sum(t.daily for t in districts) != 0
    assert (value["stated"], value["children_sum"], value["difference"]) == (province.value, province.value, 0)
    assert any("17.482" in w and "17.480" in w for w in report.warnings)
    assert not any("576.903" in w for w in report.warnings)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_reports_on_every_level(name: str) -> None:
    c = load_yaml(SAMPLES / name / "ke_hoach.yaml")
    p = current_period(c.schedule, c.info.start)
    report = build_report(c, EMPTY, arrivals([]), period=p, level=None, now=at(f"{c.info.end}T12:00"))
    assert set(report.units["code"]) == {u.code for u in c.reporting_units()}
    assert (report.units["status"] == "missing").all() and report.reporting_rate == 0
    assert len(report.reminders) == len(report.units)
    data = report_json(report)
    assert data["period"]["code"] == p.code and len(data["units"]) == len(report.units)
    assert "Kết quả và xếp hạng" in format_report_table(report)


def test_quang_ngai_tasks_are_listed_with_their_due_dates() -> None:
    c = load_yaml(SAMPLES / "quang_ngai_2023" / "ke_hoach.yaml")
    p = c.schedule[-1]
    report = build_report(c, EMPTY, arrivals([]), period=p, level=None, now=at("2024-01-10T09:00"))
    assert len(report.tasks) > 0
    # Nothing reported: a task is overdue once its due date is before the period's end, else in progress.
    wanted = ["overdue" if due < p.end else "in_progress" for due in report.tasks["due"]]
    assert list(report.tasks["state"]) == wanted and "overdue" in wanted
    assert (report.units["tasks_overdue"] > 0).any()


def test_vietnamese_order_puts_d_stroke_after_d_and_numbers_by_value() -> None:
    names = ["Đông Hải", "Dương Minh", "Ân Thi", "An Phú", "Phường 10", "Phường 2", "Bá", "Bà", "Ba", "Bàn"]
    ordered = sorted(names, key=vi_sort_key)
    assert ordered.index("Dương Minh") < ordered.index("Đông Hải")
    assert ordered.index("An Phú") < ordered.index("Ân Thi") < ordered.index("Ba")
    assert ordered.index("Ba") < ordered.index("Bà") < ordered.index("Bá") < ordered.index("Bàn")  # letters, then tones
    assert ordered.index("Phường 2") < ordered.index("Phường 10")
