"""Acceptance of the templates on the five real plans: `chitieu forms` on each sample, every template checked."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from forms.layout import NAME_PERIOD, NAME_PERIOD_LIST, NAME_UNIT_CODE, SHEET_META, input_name
from forms.loader import load_campaign
from forms.signing import load_or_create_key
from processors.cli import main
from processors.workbook_reader import read_return

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NAMES = ["soc_trang_2023", "tien_giang_2023", "an_giang_2023", "ky_thuong_2024", "quang_ngai_2023"]


def _destination(book: openpyxl.Workbook, name: str) -> tuple[str, str]:
    ((sheet, ref),) = list(book.defined_names[name].destinations)
    return sheet, ref.replace("$", "")


@pytest.mark.parametrize("name", NAMES)
def test_forms_writes_a_locked_template_per_unit(tmp_path, name):
    definition = SAMPLES / name / "ke_hoach.xlsx"
    out, key_file = tmp_path / "mau_bieu", tmp_path / "secret.key"
    assert main(["forms", str(definition), "--out", str(out), "--key", str(key_file)]) == 0
    campaign = load_campaign(definition)
    key = load_or_create_key(key_file)
    units = campaign.reporting_units()
    assert sorted(p.stem for p in out.glob("*.xlsx")) == sorted(u.code for u in units)
    labels = [p.label for p in campaign.schedule]
    for unit in units:
        path = out / f"{unit.code}.xlsx"
        book = openpyxl.load_workbook(path)
        inputs = [input_name(i.code) for i in campaign.indicators_for(unit) if i.is_input]
        unlocked = set()
        for defined in [*inputs, NAME_PERIOD]:
            sheet, ref = _destination(book, defined)
            assert book[sheet][ref].protection.locked is False, (unit.code, defined)
            unlocked.add((sheet, ref))
        sheet, ref = _destination(book, NAME_UNIT_CODE)
        assert book[sheet][ref].value == unit.code and book[sheet][ref].protection.locked is True
        for ws in book.worksheets:
            assert ws.protection.sheet is True, (unit.code, ws.title)
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None and (ws.title, cell.coordinate) not in unlocked:
                        assert cell.protection.locked is True, (unit.code, ws.title, cell.coordinate)
        assert book.security is not None and book.security.lockStructure
        assert "<workbookProtection" in zipfile.ZipFile(path).read("xl/workbook.xml").decode()
        sheet, ref = _destination(book, NAME_PERIOD_LIST)
        assert sheet == SHEET_META and book[SHEET_META].sheet_state == "veryHidden"
        assert [c.value for (c,) in book[sheet][ref]] == labels
        got = read_return(path)
        assert got.unit_code == unit.code and got.is_signed_by(key)
        assert not got.is_signed_by(bytes(32))
