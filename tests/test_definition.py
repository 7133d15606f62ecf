"""Campaign definitions: round trips between forms, and every mistake refused with its place."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from forms.definition import SECTION_SHEETS, SHEET_INFO
from forms.findings import DefinitionError
from forms.loader import load_campaign
from forms.plan_workbook import write_plan_workbook
from forms.plan_yaml import dump_yaml
from forms.schema import Level, UnitKind
from processors.cli import main


def test_workbook_and_yaml_round_trip(tmp_path, small_campaign, small_plan):
    assert load_campaign(small_plan) == small_campaign
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(small_campaign), encoding="utf-8")
    assert load_campaign(again) == small_campaign


def test_campaign_content(small_campaign):
    huyen = small_campaign.unit_by_code["HUYEN_A"]
    phuong = small_campaign.unit_by_code["PHUONG_1"]
    xa = small_campaign.unit_by_code["XA_DAI"]
    assert small_campaign.target_for(huyen, "TK_TONG").value == 50802
    assert small_campaign.target_for(huyen, "TK_TONG").daily == 1539
    # Rate targets depend on level and commune kind; a unit-specific target wins.
    assert small_campaign.target_for(huyen, "TL_TRUC_TUYEN").rate == pytest.approx(0.60)
    assert small_campaign.target_for(phuong, "TL_TRUC_TUYEN").rate == pytest.approx(0.55)
    assert small_campaign.target_for(xa, "TL_TRUC_TUYEN").rate == pytest.approx(0.25)
    assert small_campaign.target_for(xa, "TK_TONG").value == 15000  # given by unit name
    assert phuong.kind is UnitKind.PHUONG and phuong.level is Level.XA
    assert [u.code for u in small_campaign.reporting_units()] == ["HUYEN_A", "PHUONG_1", "XA_DAI"]
    # 32 daily periods (18/7–18/8) and the final report; deadlines carry their time.
    assert len(small_campaign.schedule) == 33
    first = small_campaign.period_by_code["N20230718"]
    assert first.label == "Ngày 18/07/2023" and first.deadline.hour == 17
    assert small_campaign.period_by_code["TK"].note == "Kế hoạch ghi «trước ngày 19/8/2023»."  # kept, round trip too
    # Indicators by level; a ratio brings its operands along.
    codes = [i.code for i in small_campaign.indicators_for(xa)]
    assert "TL_CKS" in codes and "CKS_CAN_BO" in codes and "CO_KE_HOACH" not in codes
    assert "CO_KE_HOACH" in [i.code for i in small_campaign.indicators_for(huyen)]


def _edit(path: Path, sheet: str, header: str, value, *, row_code: str | None = None, row: int | None = None) -> int:
    """Set the cell under ``header`` in the row whose first code column is ``row_code``; return the row."""
    wb = load_workbook(path)
    ws = wb[sheet]
    headers = {ws.cell(1, c).value: c for c in range(1, ws.max_column + 1)}
    if row is None:
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 2).value == row_code)
    ws.cell(row, headers[header]).value = value
    wb.save(path)
    return row


def _info_row(path: Path, label: str) -> int:
    ws = load_workbook(path)[SHEET_INFO]
    return next(r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value).startswith(label))


UNITS, INDICATORS, TARGETS, PERIODS = (SECTION_SHEETS[s] for s in ("units", "indicators", "targets", "periods"))

# (finding code, sheet, header, value, row selector): each plants one mistake in a valid plan.
MISTAKES = [
    ("duplicate_unit", UNITS, "Mã đơn vị", "HUYEN_A", {"row_code": "XA_DAI"}),
    ("unknown_parent", UNITS, "Mã đơn vị cấp trên", "KHONG_CO", {"row_code": "XA_DAI"}),
    ("hierarchy_cycle", UNITS, "Mã đơn vị cấp trên", "XA_DAI", {"row_code": "TINH"}),
    ("bad_code", UNITS, "Mã đơn vị", "Xã Đại Ân", {"row_code": "XA_DAI"}),
    ("unknown_unit", TARGETS, "Mã đơn vị", "KHONG_CO", {"row": 2}),
    ("unknown_indicator", TARGETS, "Mã chỉ tiêu", "KHONG_CO", {"row": 2}),
    ("not_a_number", TARGETS, "Chỉ tiêu", "năm mươi nghìn", {"row": 3}),
    ("negative", TARGETS, "Chỉ tiêu", -50802, {"row": 3}),
    ("fractional_count", TARGETS, "Chỉ tiêu", 50.802, {"row": 3}),
    ("rate_above_100", TARGETS, "Tỷ lệ (%)", "120%", {"row": 6}),
    ("period_end_before_start", PERIODS, "Đến ngày", "01/07/2023", {"row_code": "TK"}),
    ("deadline_before_start", PERIODS, "Hạn nộp (ngày)", "01/07/2023", {"row_code": "TK"}),
    ("unknown_relation_indicator", INDICATORS, "Ràng buộc", "<= HS_KHONG_CO", {"row_code": "HS_TRUC_TUYEN"}),
    ("unknown_ratio_operand", INDICATORS, "Mẫu số", "KHONG_CO", {"row_code": "TL_TRUC_TUYEN"}),
    ("unknown_ratio_operand", INDICATORS, "Tử số", "KHONG_CO", {"row_code": "TL_CKS"}),
    ("bad_choice", UNITS, "Cấp", "vũ trụ", {"row_code": "XA_DAI"}),
    ("duplicate_indicator", INDICATORS, "Mã chỉ tiêu", "tk_muc1", {"row_code": "TK_MUC2"}),
    ("bad_date", PERIODS, "Từ ngày", "32/13/2023", {"row_code": "TK"}),
]


@pytest.mark.parametrize(
    ("code", "sheet", "header", "value", "where"), MISTAKES, ids=[m[0] + "-" + m[2] for m in MISTAKES]
)
def test_mistake_is_refused_with_place(tmp_path, small_plan, capsys, code, sheet, header, value, where):
    row = _edit(small_plan, sheet, header, value, **where)
    with pytest.raises(DefinitionError) as caught:
        load_campaign(small_plan)
    findings = caught.value.findings
    hit = [f for f in findings if f.code == code]
    assert hit, [f.describe() for f in findings]
    assert hit[0].sheet == sheet and hit[0].row == row and hit[0].column
    # The CLI refuses it: message naming sheet, row and column; non-zero exit; nothing written.
    out = tmp_path / "mau_bieu"
    key = tmp_path / "khoa" / "secret.key"
    assert main(["forms", str(small_plan), "--out", str(out), "--key", str(key)]) == 2
    err = capsys.readouterr().err
    assert f"trang «{sheet}»" in err and f"dòng {row}" in err and f"cột {hit[0].column}" in err
    assert not out.exists() and not key.exists()


def test_every_mistake_listed_at_once(tmp_path, small_plan):
    _edit(small_plan, UNITS, "Mã đơn vị cấp trên", "KHONG_CO", row_code="XA_DAI")
    _edit(small_plan, TARGETS, "Tỷ lệ (%)", 150, row=6)
    _edit(small_plan, PERIODS, "Đến ngày", "01/07/2023", row_code="TK")
    with pytest.raises(DefinitionError) as caught:
        load_campaign(small_plan)
    assert {f.code for f in caught.value.findings} >= {"unknown_parent", "rate_above_100", "period_end_before_start"}
    text = caught.value.describe()
    assert "chưa ghi gì cả" in text and text.count("\n") == len(caught.value.findings)


def test_missing_required_info_names_its_cell(tmp_path, small_plan):
    row = _info_row(small_plan, "Mã chiến dịch")
    wb = load_workbook(small_plan)
    wb[SHEET_INFO].cell(row, 2).value = None
    wb.save(small_plan)
    with pytest.raises(DefinitionError) as caught:
        load_campaign(small_plan)
    f = caught.value.findings[0]
    assert (f.code, f.sheet, f.cell) == ("missing_value", SHEET_INFO, f"B{row}")


def test_missing_sheet_and_column(tmp_path, small_plan):
    wb = load_workbook(small_plan)
    del wb[PERIODS]
    ws = wb[UNITS]
    ws.cell(1, 4).value = "Cột lạ"  # was «Mã đơn vị cấp trên»: optional, so no finding
    ws.cell(1, 5).value = "Cột khác"  # was «Cấp»: required
    wb.save(small_plan)
    with pytest.raises(DefinitionError) as caught:
        load_campaign(small_plan)
    got = {(f.code, f.sheet) for f in caught.value.findings}
    assert ("missing_sheet", PERIODS) in got and ("missing_column", UNITS) in got


def test_yaml_mistakes_name_line(tmp_path, small_yaml):
    text = small_yaml.read_text(encoding="utf-8").replace(
        "parent: HUYEN_A, level: xã, kind: xã", "parent: NOWHERE, level: xã, kind: xã"
    )
    small_yaml.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_campaign(small_yaml)
    f = next(f for f in caught.value.findings if f.code == "unknown_parent")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "NOWHERE" in t)
    assert f.row == line and f.column == "parent"


def test_pasted_appendix_numbers_are_understood(tmp_path, small_plan):
    # A plan's table pasted as text keeps Vietnamese thousands separators: 50.802 means 50802.
    _edit(small_plan, TARGETS, "Chỉ tiêu", "50.802", row=3)
    _edit(small_plan, TARGETS, "Chỉ tiêu trong ngày", "1.539", row=3)
    campaign = load_campaign(small_plan)
    target = campaign.target_for(campaign.unit_by_code["HUYEN_A"], "TK_TONG")
    assert (target.value, target.daily) == (50802, 1539)


def test_new_plan_writes_blank_definition_that_explains_itself(tmp_path, capsys):
    path = tmp_path / "ke_hoach.xlsx"
    assert main(["new-plan", str(path)]) == 0
    wb = load_workbook(path)
    assert wb.sheetnames == ["Hướng dẫn", SHEET_INFO, UNITS, INDICATORS, TARGETS, PERIODS]
    assert "HƯỚNG DẪN" in wb["Hướng dẫn"]["A1"].value
    with pytest.raises(DefinitionError) as caught:
        load_campaign(path)
    assert {f.code for f in caught.value.findings} == {"missing_value", "empty_section"}
    assert main(["new-plan", str(path)]) == 2  # never overwrites silently


def test_unsupported_and_missing_files(tmp_path):
    other = tmp_path / "ke_hoach.csv"
    other.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_campaign(other)
    assert caught.value.findings[0].code == "unsupported_format"
    with pytest.raises(DefinitionError) as caught:
        load_campaign(tmp_path / "khong_co.xlsx")
    assert caught.value.findings[0].code == "missing_file"


def test_plan_written_from_campaign_opens_on_first_sheet(tmp_path, small_campaign):
    path = write_plan_workbook(tmp_path / "x.xlsx", small_campaign)
    wb = load_workbook(path)
    ws = wb[UNITS]
    assert ws["B1"].value == "Mã đơn vị"
    assert any(str(ws.cell(1, c).value).endswith("[CAN_BO]") for c in range(1, ws.max_column + 1))
