"""LibreOffice as a real clerk: templates filled headless, saved as .xlsx, and read back intact."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from clerk.libreoffice import (
    FillJob,
    LibreOfficeError,
    fill_many_with_libreoffice,
    fill_with_libreoffice,
    require_libreoffice,
)

from forms.loader import load_campaign
from forms.schema import Campaign, Indicator, IndicatorKind, Unit

pytestmark = pytest.mark.libreoffice

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "soc_trang_2023"
REPORT = "Báo cáo"
PERIODS = ("Ngày 18/07/2023", "Ngày 19/07/2023", "Báo cáo tổng kết")


@pytest.fixture(scope="module", autouse=True)
def libreoffice() -> None:
    """Skip on a developer machine without LibreOffice; in CI its absence is a failure."""
    require_libreoffice()


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template-like workbook: protected sheet, unlocked named input cells, very hidden meta sheet, period list."""
    path = tmp_path_factory.mktemp("handmade") / "PHUONG_1.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet(REPORT)
    meta = book.add_worksheet("_chitieu")
    meta.very_hidden()
    meta.write_column("A1", ["campaign_code", "unit_code"])
    meta.write_column("B1", ["THU_NGHIEM_2023", "PHUONG_1"])
    meta.write_column("D1", PERIODS)
    unlocked = book.add_format({"locked": False, "bg_color": "#FFF2CC"})
    rows = [
        ("Mã đơn vị", "PHUONG_1", "MA_DON_VI", None),
        ("Kỳ báo cáo", None, "KY_BAO_CAO", unlocked),
        ("Tài khoản mức 1", None, "NHAP_TK_MUC1", unlocked),
        ("Tài khoản mức 2", None, "NHAP_TK_MUC2", unlocked),
        ("Khó khăn, vướng mắc", None, "NHAP_KHO_KHAN", unlocked),
        ("Chỉ tiêu được giao", 50802, "CHI_TIEU", None),
    ]
    for row, (label, value, name, fmt) in enumerate(rows):
        sheet.write(row, 0, label)
        sheet.write(row, 1, value, fmt) if value is not None else sheet.write_blank(row, 1, None, fmt)
        book.define_name(name, f"='{REPORT}'!$B${row + 1}")
    sheet.write(6, 0, "Tổng")
    sheet.write_formula(6, 1, "=B3+B4")
    sheet.data_validation("B2", {"validate": "list", "source": "=_chitieu!$D$1:$D$3"})
    sheet.protect("mat-khau")
    book.close()
    return path


def test_clerk_types_numbers_text_and_formulas_by_name(handmade: Path, tmp_path: Path):
    filled, pdf = tmp_path / "filled.xlsx", tmp_path / "filled.pdf"
    values = {
        "KY_BAO_CAO": PERIODS[1],
        "NHAP_TK_MUC1": 120,
        "NHAP_TK_MUC2": 3.5,
        "NHAP_KHO_KHAN": "=1+1 là chữ, không phải công thức",
    }
    reports = fill_many_with_libreoffice(
        [FillJob(handmade, filled, values, {"NHAP_TK_MUC2": "=IF(B3>100,B3*2,0)"}), FillJob(handmade, pdf)]
    )

    assert reports[0]["cells"]["NHAP_TK_MUC1"] == {"cell": f"$'{REPORT}'.$B$3", "type": "VALUE", "value": 120.0}
    assert pdf.read_bytes().startswith(b"%PDF")
    book = openpyxl.load_workbook(filled)
    sheet = book[REPORT]
    assert (sheet["B2"].value, sheet["B2"].data_type) == (PERIODS[1], "s")
    assert (sheet["B3"].value, sheet["B3"].data_type) == (120, "n")
    assert sheet["B4"].value == "=IF(B3>100,B3*2,0)"
    assert (sheet["B5"].value, sheet["B5"].data_type) == (values["NHAP_KHO_KHAN"], "s")
    assert sheet["B6"].value == 50802 and sheet["B7"].value == "=B3+B4"
    assert sheet.protection.sheet and not sheet["B3"].protection.locked and sheet["B6"].protection.locked
    assert book["_chitieu"].sheet_state in {"hidden", "veryHidden"}
    assert {"MA_DON_VI", "KY_BAO_CAO", "NHAP_TK_MUC1", "NHAP_TK_MUC2", "NHAP_KHO_KHAN"} <= set(book.defined_names)


def test_clerk_cannot_type_into_locked_cells(handmade: Path, tmp_path: Path):
    with pytest.raises(LibreOfficeError) as failure:
        fill_many_with_libreoffice(
            [
                FillJob(handmade, tmp_path / "locked.xlsx", {"CHI_TIEU": 1}),
                FillJob(handmade, tmp_path / "unknown.xlsx", {"NHAP_KHONG_CO": 1}),
            ]
        )
    message = str(failure.value)
    assert "CHI_TIEU" in message and "locked cell on a protected sheet" in message
    assert "no defined name 'NHAP_KHONG_CO'" in message
    assert not (tmp_path / "locked.xlsx").exists() and not (tmp_path / "unknown.xlsx").exists()


def sample_definition() -> Path:
    """The Sóc Trăng plan: ke_hoach.xlsx, or its YAML while the workbook is not generated."""
    workbook = SAMPLE / "ke_hoach.xlsx"
    return workbook if workbook.is_file() else SAMPLE / "ke_hoach.yaml"


def clerk_value(indicator: Indicator, n: int) -> Any:
    """What a clerk would type for ``indicator`` (the ``n``-th unit)."""
    if indicator.kind is IndicatorKind.COUNT:
        low = int(indicator.minimum or 0)
        value = low + 1000 * n + 37 * len(indicator.code)
        return min(value, int(indicator.maximum)) if indicator.maximum is not None else value
    if indicator.kind is IndicatorKind.PERCENT:
        return 0.85  # typed as "85%" in Excel
    if indicator.kind is IndicatorKind.YES_NO:
        return "Có"
    if indicator.kind is IndicatorKind.STATUS:
        return indicator.choices[-1]
    return f"Đơn vị thứ {n}: thiếu máy đọc căn cước gắn chíp, đề nghị hỗ trợ."


def clerk_values(campaign: Campaign, unit: Unit, n: int) -> dict[str, Any]:
    """Every input indicator of ``unit`` with a typed value, keyed by indicator code."""
    return {ind.code: clerk_value(ind, n) for ind in campaign.indicators_for(unit) if ind.is_input}


def meta_field(meta: Any, key: str) -> Any:
    """One identity field of a returned workbook's metadata (a mapping or an object)."""
    return meta[key] if isinstance(meta, Mapping) else getattr(meta, key)


def test_sample_templates_filled_in_libreoffice_read_back_intact(tmp_path: Path):
    from forms.layout import COL_VALUE, ROLE_FORMULA, SHEET_META, SHEET_REPORT, layout_template
    from forms.signing import load_or_create_key, verify_identity
    from forms.template_writer import write_templates
    from processors.workbook_reader import read_return

    campaign = load_campaign(sample_definition())
    key = load_or_create_key(tmp_path / "secret.key")
    templates = {path.stem: path for path in write_templates(campaign, tmp_path / "mau_bieu", key)}
    reporting = campaign.reporting_units()
    units = [reporting[0], reporting[-1]]
    daily = [p for p in campaign.schedule if p.start == p.end]
    longer = [p for p in campaign.schedule if p.start != p.end]
    periods = [daily[1] if len(daily) > 1 else campaign.schedule[0], (longer or daily)[-1]]

    typed = {unit.code: clerk_values(campaign, unit, n) for n, unit in enumerate(units, 1)}
    assert all(typed.values()), "the sample should have input indicators for both units"
    jobs = [
        FillJob(
            templates[unit.code],
            tmp_path / "nop" / f"{unit.code}.xlsx",
            {"KY_BAO_CAO": period.label} | {f"NHAP_{code}": value for code, value in typed[unit.code].items()},
        )
        for unit, period in zip(units, periods, strict=True)
    ]
    fill_many_with_libreoffice(jobs)

    for unit, period, job in zip(units, periods, jobs, strict=True):
        returned = read_return(job.dst)
        assert returned.unit_code == unit.code
        assert returned.period_label == period.label
        for code, value in typed[unit.code].items():
            assert returned.inputs[code] == value, code
        assert not returned.missing
        assert returned.sheet_states[SHEET_META] in {"hidden", "veryHidden"}  # LibreOffice: very hidden → hidden
        layout = layout_template(campaign, unit)
        for cell in layout.cells:  # LibreOffice recalculated the sums it saved (cached values)
            indicator = campaign.indicator_by_code.get(cell.key or "")
            if cell.role == ROLE_FORMULA and cell.col == COL_VALUE and indicator.kind is IndicatorKind.SUM:
                expected = sum(typed[unit.code][part] for part in indicator.parts)
                assert returned.cells[(SHEET_REPORT, cell.ref)] == expected, cell.ref
        meta = returned.meta
        assert meta_field(meta, "unit_code") == unit.code
        assert meta_field(meta, "layout_digest") == layout.digest
        assert verify_identity(
            key,
            meta_field(meta, "campaign_code"),
            meta_field(meta, "unit_code"),
            int(meta_field(meta, "template_version")),
            meta_field(meta, "layout_digest"),
            meta_field(meta, "hmac"),
        ), f"{unit.code}: the identity signature no longer verifies after LibreOffice saved the file"
        assert returned.is_signed_by(key)


def test_single_fill_helper(handmade: Path, tmp_path: Path):
    report = fill_with_libreoffice(handmade, tmp_path / "one.xlsx", {"NHAP_TK_MUC1": 7})
    assert report["ok"] and report["cells"]["NHAP_TK_MUC1"]["value"] == 7.0
    assert openpyxl.load_workbook(tmp_path / "one.xlsx")[REPORT]["B3"].value == 7
