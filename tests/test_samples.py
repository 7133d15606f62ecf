"""The five sample plans: each loads, and its ke_hoach.xlsx says the same as its YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.loader import load_campaign

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NAMES = ["soc_trang_2023", "tien_giang_2023", "an_giang_2023", "ky_thuong_2024", "quang_ngai_2023"]


@pytest.mark.parametrize("name", NAMES)
def test_sample_workbook_matches_yaml(name):
    folder = SAMPLES / name
    assert (folder / "README.md").is_file()
    assert load_campaign(folder / "ke_hoach.xlsx") == load_campaign(folder / "ke_hoach.yaml")


def test_soc_trang_appendix_as_printed():
    campaign = load_campaign(SAMPLES / "soc_trang_2023" / "ke_hoach.xlsx")
    reporting = campaign.reporting_units()
    assert len(reporting) == 11
    by_name = {u.name: u for u in campaign.units}
    tp = by_name["TP Sóc Trăng"]
    totals = [t for t in campaign.targets if t.unit == tp.code and t.value]
    assert [(t.value, t.daily) for t in totals] == [(50802, 1539)]
    province = next(u for u in campaign.units if not u.reports)
    province_total = next(t for t in campaign.targets if t.unit == province.code and t.value)
    assert (province_total.value, province_total.daily) == (576903, 17482)
    unit_sum = sum(t.value for t in campaign.targets if t.unit in {u.code for u in reporting} and t.value)
    assert unit_sum == 576903
    days = [p for p in campaign.schedule if p.start == p.end]
    assert days[0].start.isoformat() == "2023-07-18" and days[-1].start.isoformat() == "2023-08-18"
