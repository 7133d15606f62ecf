"""The locked unit templates: names, locking, protection, validation, signature, and reading them back."""

from __future__ import annotations

import io
import os
import stat
import unicodedata
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from forms.layout import (
    COL_DAILY,
    COL_NOTE,
    COL_RATE,
    COL_TARGET,
    COL_VALUE,
    FOLDER_RECEIPTS,
    FOLDER_SUBMIT,
    NAME_PERIOD,
    NAME_PERIOD_LIST,
    NAME_UNIT_CODE,
    ROLE_META,
    SHEET_GUIDE,
    SHEET_META,
    SHEET_REPORT,
    changed_locked_cells,
    input_name,
    layout_digest,
    layout_template,
)
from forms.schema import (
    Campaign,
    CampaignInfo,
    Frequency,
    Indicator,
    IndicatorKind,
    Level,
    Period,
    PeriodSeries,
    Relation,
    RelationOp,
    Target,
    Unit,
    UnitKind,
)
from forms.signing import (
    KEY_ENV,
    derive_sheet_password,
    hash_legacy_password,
    load_or_create_key,
    sign_identity,
    verify_identity,
)
from forms.template_writer import POOL_THRESHOLD, render_template, write_template, write_templates
from processors.workbook_reader import UnreadableWorkbook, parse_name_target, read_return, read_return_bytes

K = IndicatorKind


def build_campaign(extra_units: int = 0) -> Campaign:
    """A campaign with every indicator kind, a ratio to a unit attribute, rate and absolute+daily targets."""
    info = CampaignInfo(
        code="THU_NGHIEM_2023",
        name="Kế hoạch thử nghiệm cao điểm định danh điện tử",
        document_number="142/KH-UBND",
        document_date=date(2023, 7, 14),
        issuer="UBND tỉnh Thử Nghiệm",
        coordinator="Công an tỉnh (PC06)",
        legal_basis="Đề án 06/QĐ-TTg",
        start=date(2023, 7, 18),
        end=date(2023, 8, 18),
        template_version=2,
    )
    units = [
        Unit(code="TINH", name="Tỉnh Thử Nghiệm", level=Level.TINH, reports=False),
        Unit(code="HUYEN_A", name="Huyện Ánh Dương", parent="TINH", level=Level.HUYEN, kind=UnitKind.HUYEN),
        Unit(
            code="PHUONG_1",
            name="Phường 1 & <Chợ mới>",  # characters XML must escape
            parent="HUYEN_A",
            level=Level.XA,
            kind=UnitKind.PHUONG,
            attributes={"CAN_BO": 25},
        ),
        Unit(
            code="XA_DAI",
            name="Xã Đại Ân",
            parent="HUYEN_A",
            level=Level.XA,
            kind=UnitKind.XA,
            attributes={"CAN_BO": 18},
        ),
    ]
    units += [
        Unit(code=f"XA_{n:04d}", name=f"Xã số {n}", parent="HUYEN_A", level=Level.XA, kind=UnitKind.XA)
        for n in range(extra_units)
    ]
    indicators = (
        Indicator(code="TK_MUC1", name="Tài khoản mức 1 kích hoạt thành công", measure="tài khoản", cumulative=True),
        Indicator(code="TK_MUC2", name="Tài khoản mức 2 kích hoạt thành công", measure="tài khoản", cumulative=True),
        Indicator(
            code="TK_TONG",
            name="Tổng tài khoản kích hoạt (mức 1 + mức 2)",
            measure="tài khoản",
            kind=K.SUM,
            parts=("TK_MUC1", "TK_MUC2"),
        ),
        Indicator(code="HS_TONG", name="Tổng số hồ sơ thủ tục hành chính", measure="hồ sơ", maximum=100000),
        Indicator(
            code="HS_TRUC_TUYEN",
            name="Hồ sơ nộp trực tuyến",
            measure="hồ sơ",
            relations=(Relation(left="HS_TRUC_TUYEN", op=RelationOp.LE, right="HS_TONG"),),
        ),
        Indicator(
            code="TL_TRUC_TUYEN",
            name="Tỷ lệ hồ sơ trực tuyến",
            measure="%",
            kind=K.RATIO,
            numerator="HS_TRUC_TUYEN",
            denominator="HS_TONG",
        ),
        Indicator(code="CKS_CAN_BO", name="Cán bộ có chữ ký số", measure="người", levels=(Level.XA,)),
        Indicator(
            code="TL_CKS",
            name="Tỷ lệ cán bộ có chữ ký số",
            measure="%",
            kind=K.RATIO,
            numerator="CKS_CAN_BO",
            denominator="CAN_BO",
            levels=(Level.XA,),
        ),
        Indicator(code="SO_HOA", name="Tỷ lệ số hóa hồ sơ", measure="%", kind=K.PERCENT),
        Indicator(code="CO_KE_HOACH", name="Đã ban hành kế hoạch", kind=K.YES_NO),
        Indicator(
            code="TIEN_DO",
            name="Tiến độ triển khai",
            kind=K.STATUS,
            choices=("Chưa thực hiện", "Đang thực hiện, có khó khăn", "Hoàn thành"),
        ),
        Indicator(code="KHO_KHAN", name="Khó khăn, vướng mắc", kind=K.TEXT),
    )
    targets = [
        Target(indicator="TK_TONG", unit="HUYEN_A", value=50802, daily=1539, due=date(2023, 8, 18)),
        Target(indicator="TK_TONG", unit="PHUONG_1", value=20000, daily=606),
        Target(indicator="TK_TONG", unit="XA_DAI", value=15000, daily=455),
        Target(indicator="TL_TRUC_TUYEN", level=Level.HUYEN, rate=0.6),
        Target(indicator="TL_TRUC_TUYEN", level=Level.XA, kind=UnitKind.XA, rate=0.25),
        Target(indicator="TL_TRUC_TUYEN", level=Level.XA, kind=UnitKind.PHUONG, rate=0.55),
        Target(indicator="TL_CKS", level=Level.XA, rate=1.0, due=date(2023, 8, 15)),
        Target(indicator="SO_HOA", rate=0.9),
    ]
    targets += [Target(indicator="TK_TONG", unit=f"XA_{n:04d}", value=1000 + n, daily=30) for n in range(extra_units)]
    return Campaign(
        info=info,
        units=tuple(units),
        indicators=indicators,
        targets=tuple(targets),
        # 32 daily periods plus a final report: far beyond what an inline dropdown list can hold.
        series=(
            PeriodSeries(
                code_prefix="N",
                label_prefix="Ngày",
                frequency=Frequency.DAILY,
                start=date(2023, 7, 18),
                end=date(2023, 8, 18),
                deadline_time=time(17, 0),
            ),
        ),
        periods=(
            Period(
                code="TK",
                label="Báo cáo tổng kết",
                start=date(2023, 7, 18),
                end=date(2023, 8, 18),
                deadline=datetime(2023, 8, 19, 23, 59),
            ),
        ),
        attributes={"CAN_BO": "Số cán bộ, công chức"},
    )


@pytest.fixture(scope="module")
def tpl_campaign() -> Campaign:
    return build_campaign()


@pytest.fixture(scope="module")
def tpl_key() -> bytes:
    return bytes(range(32))


@pytest.fixture(scope="module")
def tpl_files(tmp_path_factory: pytest.TempPathFactory, tpl_campaign: Campaign, tpl_key: bytes) -> dict[str, Path]:
    """Every reporting unit's template, keyed by unit code."""
    out = tmp_path_factory.mktemp("mau_bieu")
    return {path.stem: path for path in write_templates(tpl_campaign, out, tpl_key)}


@pytest.fixture(scope="module")
def books(tpl_files: dict[str, Path]) -> dict[str, openpyxl.Workbook]:
    return {code: openpyxl.load_workbook(path) for code, path in tpl_files.items()}


def named_cell(book: openpyxl.Workbook, name: str):
    """The (single) cell a workbook-level defined name points at."""
    ((sheet, ref),) = list(book.defined_names[name].destinations)
    return book[sheet][ref.replace("$", "")]


def validation_of(sheet, coordinate: str):
    found = [dv for dv in sheet.data_validations.dataValidation if coordinate in dv.sqref]
    assert len(found) == 1, coordinate
    return found[0]


# ---------------------------------------------------------------- files and names


def test_one_template_per_reporting_unit(tmp_path: Path, tpl_campaign: Campaign, tpl_key: bytes):
    calls: list[tuple[int, int]] = []
    paths = write_templates(tpl_campaign, tmp_path, tpl_key, progress=lambda done, total: calls.append((done, total)))
    assert [p.name for p in paths] == ["HUYEN_A.xlsx", "PHUONG_1.xlsx", "XA_DAI.xlsx"]  # TINH does not report
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HUYEN_A.xlsx", "PHUONG_1.xlsx", "XA_DAI.xlsx"]


def test_input_and_period_names_point_at_unlocked_cells(books, tpl_campaign: Campaign):
    for code, book in books.items():
        unit = tpl_campaign.unit_by_code[code]
        expected = {input_name(i.code) for i in tpl_campaign.indicators_for(unit) if i.is_input}
        found = {name for name in book.defined_names if name.startswith("NHAP_")}
        assert found == expected, code
        for name in [*expected, NAME_PERIOD]:
            cell = named_cell(book, name)
            assert cell.parent.title == SHEET_REPORT
            assert cell.protection.locked is False, (code, name)


def test_unit_code_name_points_at_the_locked_code_cell(books):
    for code, book in books.items():
        cell = named_cell(book, NAME_UNIT_CODE)
        assert cell.value == code
        assert cell.protection.locked is True


def test_every_other_content_cell_is_locked(books):
    for code, book in books.items():
        unlocked = {
            (sheet, ref.replace("$", ""))
            for name in book.defined_names
            if name.startswith("NHAP_") or name == NAME_PERIOD
            for sheet, ref in book.defined_names[name].destinations
        }
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is not None and (sheet.title, cell.coordinate) not in unlocked:
                        assert cell.protection.locked is True, (code, sheet.title, cell.coordinate)


def test_every_sheet_and_the_structure_are_protected(books, tpl_files, tpl_campaign: Campaign, tpl_key: bytes):
    password_hash = hash_legacy_password(derive_sheet_password(tpl_key, tpl_campaign.info.code))
    for code, book in books.items():
        for sheet in book.worksheets:
            assert sheet.protection.sheet is True, (code, sheet.title)
            assert sheet.protection.password == password_hash
            assert sheet.protection.formatCells is True  # formatting cells stays forbidden
        assert book.security is not None and book.security.lockStructure
        xml = zipfile.ZipFile(tpl_files[code]).read("xl/workbook.xml").decode()
        # The schema's order: workbookPr, then workbookProtection, then bookViews.
        assert xml.index("<workbookPr") < xml.index("<workbookProtection") < xml.index("<bookViews")
        assert f'workbookPassword="{password_hash}"' in xml


def test_period_list_lives_on_the_meta_sheet_and_feeds_the_dropdown(books, tpl_campaign: Campaign):
    labels = [p.label for p in tpl_campaign.schedule]
    assert len(",".join(labels)) > 255  # too long for an inline list
    for book in books.values():
        ((sheet, ref),) = list(book.defined_names[NAME_PERIOD_LIST].destinations)
        assert sheet == SHEET_META
        assert [c.value for (c,) in book[sheet][ref.replace("$", "")]] == labels
        period = named_cell(book, NAME_PERIOD)
        rule = validation_of(period.parent, period.coordinate)
        assert rule.type == "list"
        assert rule.formula1.lstrip("=") == NAME_PERIOD_LIST
        assert rule.prompt and rule.error


def test_meta_sheet_is_very_hidden_and_holds_the_identity(books, tpl_campaign: Campaign):
    for code, book in books.items():
        meta = book[SHEET_META]
        assert meta.sheet_state == "veryHidden"
        values = {row[0].value: row[1].value for row in meta.iter_rows(min_row=2, max_col=2) if row[0].value}
        layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code[code])
        assert values["campaign_code"] == tpl_campaign.info.code
        assert values["unit_code"] == code
        assert values["template_version"] == "2"
        assert values["layout_digest"] == layout.digest == layout_digest(layout)
        assert datetime.fromisoformat(values["issued_at"]).tzinfo is not None


def test_hmac_verifies_with_the_office_key_only(tpl_files, tpl_key: bytes):
    for code, path in tpl_files.items():
        got = read_return(path)
        m = got.meta
        assert verify_identity(tpl_key, m["campaign_code"], code, 2, m["layout_digest"], m["hmac"])
        assert got.is_signed_by(tpl_key)
        other = bytes(32)
        assert not verify_identity(other, m["campaign_code"], code, 2, m["layout_digest"], m["hmac"])
        assert not got.is_signed_by(other)
        # The signature binds unit, version and digest: changing any of them breaks it.
        assert not verify_identity(tpl_key, m["campaign_code"], "XA_KHAC", 2, m["layout_digest"], m["hmac"])
        assert not verify_identity(tpl_key, m["campaign_code"], code, 1, m["layout_digest"], m["hmac"])
        assert not verify_identity(tpl_key, m["campaign_code"], code, 2, "0" * 64, m["hmac"])


# ---------------------------------------------------------------- the report table


def row_of(book: openpyxl.Workbook, code: str, layout) -> int:
    return next(c.row for c in layout.cells if c.key == code and c.col == COL_VALUE)


def test_validation_by_indicator_kind(books, tpl_campaign: Campaign):
    book = books["XA_DAI"]
    sheet = book[SHEET_REPORT]

    def rule(code: str):
        return validation_of(sheet, named_cell(book, input_name(code)).coordinate)

    count = rule("TK_MUC1")
    assert (count.type, count.operator, count.formula1) == ("whole", "greaterThanOrEqual", "0")
    bounded = rule("HS_TONG")  # maximum from the definition
    assert (bounded.type, bounded.operator or "between") == ("whole", "between")  # "between" is the default
    assert (bounded.formula1, bounded.formula2) == ("0", "100000")
    percent = rule("SO_HOA")
    assert (percent.type, float(percent.formula1), float(percent.formula2)) == ("decimal", 0.0, 1.0)
    assert named_cell(book, "NHAP_SO_HOA").number_format == "0.0%"
    assert rule("CO_KE_HOACH").formula1 == '"Có,Không"'
    status = rule("TIEN_DO")
    assert status.type == "list"
    ((meta_sheet, ref),) = list(book.defined_names[status.formula1.lstrip("=")].destinations)
    choices = [c.value for (c,) in book[meta_sheet][ref.replace("$", "")]]
    assert choices == list(tpl_campaign.indicator_by_code["TIEN_DO"].choices)
    text = rule("KHO_KHAN")
    assert (text.type, text.operator, text.formula1) == ("textLength", "lessThanOrEqual", "500")
    for code in ("TK_MUC1", "SO_HOA", "CO_KE_HOACH", "TIEN_DO", "KHO_KHAN"):
        assert rule(code).prompt and rule(code).error and rule(code).errorTitle, code
    assert named_cell(book, "NHAP_TK_MUC1").fill.fgColor.rgb.endswith("FFFF99")  # yellow input cells


def test_sum_and_ratio_to_attribute_are_locked_formulas(books, tpl_campaign: Campaign):
    book = books["XA_DAI"]
    sheet = book[SHEET_REPORT]
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["XA_DAI"])
    total = sheet.cell(row_of(book, "TK_TONG", layout), COL_VALUE)
    parts = [named_cell(book, input_name(c)).coordinate for c in ("TK_MUC1", "TK_MUC2")]
    assert f"SUM({','.join(parts)})" in total.value
    assert total.protection.locked
    base = next(c for c in layout.cells if c.key == "CAN_BO" and c.col == COL_VALUE)
    assert sheet[base.ref].value == 18 and sheet[base.ref].protection.locked
    assert sheet.cell(base.row, 2).value == "Số cán bộ, công chức"
    ratio = sheet.cell(row_of(book, "TL_CKS", layout), COL_VALUE)
    numerator = named_cell(book, "NHAP_CKS_CAN_BO").coordinate
    assert f"IFERROR({numerator}/{base.ref}" in ratio.value
    assert ratio.protection.locked and ratio.number_format == "0.0%"


@pytest.mark.parametrize(("unit", "rate"), [("HUYEN_A", 0.6), ("PHUONG_1", 0.55), ("XA_DAI", 0.25)])
def test_rate_target_by_level_and_kind(books, tpl_campaign: Campaign, unit: str, rate: float):
    book = books[unit]
    sheet = book[SHEET_REPORT]
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code[unit])
    row = row_of(book, "TL_TRUC_TUYEN", layout)
    target = sheet.cell(row, COL_TARGET)
    assert target.value == rate and target.number_format == "0.0%" and target.protection.locked
    value = sheet.cell(row, COL_VALUE).coordinate
    assert sheet.cell(row, COL_RATE).value == f'=IF({value}="","",IFERROR({value}/{target.coordinate},""))'


def test_absolute_and_daily_target_with_due_date(books, tpl_campaign: Campaign):
    book = books["HUYEN_A"]
    sheet = book[SHEET_REPORT]
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["HUYEN_A"])
    row = row_of(book, "TK_TONG", layout)
    assert sheet.cell(row, COL_TARGET).value == 50802
    assert sheet.cell(row, COL_TARGET).number_format == "#,##0"
    assert sheet.cell(row, COL_DAILY).value == 1539
    assert "18/08/2023" in sheet.cell(row, COL_NOTE).value
    assert sheet.cell(row, COL_RATE).value.startswith("=IF(")
    untargeted = row_of(book, "HS_TONG", layout)
    assert sheet.cell(untargeted, COL_TARGET).value is None
    assert sheet.cell(untargeted, COL_RATE).value is None


def test_shortfall_formatting_print_setup_and_panes(books):
    for book in books.values():
        sheet = book[SHEET_REPORT]
        rules = [(str(cf.sqref), rule.formula[0]) for cf in sheet.conditional_formatting for rule in cf.rules]
        assert any("<1" in formula for _, formula in rules) and any(">=1" in formula for _, formula in rules)
        assert all(ref.startswith("G") for ref, _ in rules)
        assert sheet.freeze_panes == "A10"
        assert sheet.print_title_rows == "$9:$9"
        assert sheet.print_area.startswith(f"'{SHEET_REPORT}'!$A$1:$H$")
        assert int(sheet.page_setup.paperSize) == 9 and sheet.page_setup.orientation == "portrait"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and int(sheet.page_setup.fitToHeight) == 0
        assert book[SHEET_GUIDE].protection.sheet


def test_every_cell_in_the_file_is_the_layouts(books, tpl_campaign: Campaign):
    for code, book in books.items():
        layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code[code])
        for cell in layout.cells:
            if cell.role == ROLE_META and cell.key in ("hmac", "issued_at"):
                continue
            assert book[cell.sheet][cell.ref].value == cell.value, (code, cell.sheet, cell.ref)
            assert book[cell.sheet][cell.ref].protection.locked is cell.locked
    assert books["PHUONG_1"][SHEET_REPORT]["C4"].value == "Phường 1 & <Chợ mới>"


def test_instructions_name_the_shares_real_folders():
    from shared_folder_layout.layout import INBOX_DIR, RECEIPTS_DIR

    assert (FOLDER_SUBMIT, FOLDER_RECEIPTS) == (INBOX_DIR, RECEIPTS_DIR)


def test_user_facing_text_is_nfc_vietnamese(tpl_campaign: Campaign):
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["XA_DAI"])
    texts = [c.value for c in layout.cells if isinstance(c.value, str) and c.sheet != SHEET_META]
    for c in layout.cells:
        if c.validation:
            v = c.validation
            texts += [v.input_title, v.input_message, v.error_title, v.error_message]
            assert len(v.input_title) <= 32 and len(v.error_title) <= 32
            assert len(v.input_message) <= 255 and len(v.error_message) <= 255
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)
    guide = " ".join(str(c.value) for c in layout.cells if c.sheet == SHEET_GUIDE)
    assert "Nộp báo cáo" in guide and "Phiếu phản hồi" in guide and ".xlsx" in guide


# ---------------------------------------------------------------- reading returns


def test_read_return_after_filling_with_openpyxl(tpl_files, tmp_path: Path, tpl_campaign: Campaign, tpl_key: bytes):
    book = openpyxl.load_workbook(tpl_files["XA_DAI"])
    typed = {"TK_MUC1": 1234, "TK_MUC2": 56, "SO_HOA": 0.85, "CO_KE_HOACH": "Có", "KHO_KHAN": "=1+1 là chữ"}
    for code, value in typed.items():
        named_cell(book, input_name(code)).value = value
    named_cell(book, input_name("KHO_KHAN")).data_type = "s"  # typed as text, not a formula
    named_cell(book, input_name("HS_TONG")).value = "=2*3"  # a formula typed into a number cell
    named_cell(book, NAME_PERIOD).value = "Ngày 19/07/2023"
    filled = tmp_path / "XA_DAI.xlsx"
    book.save(filled)

    got = read_return(filled)
    assert got.unit_code == "XA_DAI" and got.period_label == "Ngày 19/07/2023"
    assert got.inputs["TK_MUC1"] == 1234.0 and isinstance(got.inputs["TK_MUC1"], float)  # calamine: floats
    assert got.inputs["SO_HOA"] == 0.85 and got.inputs["CO_KE_HOACH"] == "Có"
    assert got.inputs["KHO_KHAN"] == "=1+1 là chữ"
    assert got.inputs["TIEN_DO"] is None
    assert got.formulas == {"HS_TONG": "2*3"}
    assert not got.missing and got.structure_locked
    assert got.sheet_states[SHEET_META] == "veryHidden"
    assert got.names[NAME_UNIT_CODE] == (SHEET_REPORT, named_cell(book, NAME_UNIT_CODE).coordinate)
    assert got.is_signed_by(tpl_key)
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["XA_DAI"])
    assert changed_locked_cells(layout, got.cells) == []
    assert read_return_bytes(filled.read_bytes(), filled.name).inputs == got.inputs


def test_a_changed_target_or_label_is_detected(tpl_files, tmp_path: Path, tpl_campaign: Campaign):
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["XA_DAI"])
    target = next(c for c in layout.cells if c.key == "TK_TONG" and c.col == COL_TARGET)
    book = openpyxl.load_workbook(tpl_files["XA_DAI"])  # openpyxl ignores sheet protection
    book[SHEET_REPORT][target.ref].value = 1500
    book[SHEET_REPORT]["B10"].value = "Chỉ tiêu khác"
    tampered = tmp_path / "XA_DAI.xlsx"
    book.save(tampered)
    changes = changed_locked_cells(layout, read_return(tampered).cells)
    assert {(sheet, ref) for sheet, ref, _, _ in changes} == {(SHEET_REPORT, target.ref), (SHEET_REPORT, "B10")}
    assert (SHEET_REPORT, target.ref, 15000, 1500.0) in changes


def test_a_merely_hidden_meta_sheet_reads_the_same(tpl_files, tmp_path: Path, tpl_key: bytes):
    book = openpyxl.load_workbook(tpl_files["HUYEN_A"])
    book[SHEET_META].sheet_state = "hidden"  # what LibreOffice does to a very hidden sheet
    path = tmp_path / "HUYEN_A.xlsx"
    book.save(path)
    got = read_return(path)
    assert got.sheet_states[SHEET_META] == "hidden"
    assert got.meta["unit_code"] == "HUYEN_A" and got.is_signed_by(tpl_key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Báo cáo'!$F$12", ("Báo cáo", "F12")),
        ("Sheet1!F12", ("Sheet1", "F12")),
        ("_chitieu!$D$2:$D$34", ("_chitieu", "D2:D34")),
        ("'It''s'!$A$1:$A$1", ("It's", "A1")),
        ("#REF!", None),
        ("'Báo cáo'!#REF!", None),
        ("[1]Sheet1!$A$1", None),
        ("'Báo cáo'!$A$1,'Báo cáo'!$B$2", None),
    ],
)
def test_defined_name_targets_as_excel_and_libreoffice_write_them(text: str, expected):
    assert parse_name_target(text) == expected


def test_a_file_that_is_not_a_workbook_is_unreadable(tmp_path: Path):
    path = tmp_path / "bao_cao.xlsx"
    path.write_text("không phải Excel", encoding="utf-8")
    with pytest.raises(UnreadableWorkbook) as err:
        read_return(path)
    assert err.value.reason == "not_a_workbook"
    entity_bomb = io.BytesIO()
    with zipfile.ZipFile(entity_bomb, "w") as archive:
        archive.writestr("xl/workbook.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><workbook>&a;</workbook>')
    with pytest.raises(UnreadableWorkbook):
        read_return_bytes(entity_bomb.getvalue(), "bomb.xlsx")


def test_a_workbook_without_our_names_reports_what_is_missing(tmp_path: Path):
    path = tmp_path / "tu_lam.xlsx"
    book = openpyxl.Workbook()
    book.active["A1"] = "Tự lập"
    book.save(path)
    got = read_return(path)
    assert set(got.missing) == {NAME_UNIT_CODE, NAME_PERIOD, SHEET_META}
    assert got.meta == {} and got.inputs == {} and got.unit_code is None


# ---------------------------------------------------------------- speed paths and the key


def test_pool_and_serial_write_the_same_templates(tmp_path: Path, tpl_key: bytes):
    campaign = build_campaign(extra_units=POOL_THRESHOLD)
    pooled = write_templates(campaign, tmp_path / "pool", tpl_key, processes=2)
    assert [p.stem for p in pooled] == [u.code for u in campaign.reporting_units()]
    for path in (pooled[0], pooled[-1]):
        unit = campaign.unit_by_code[path.stem]
        got = read_return(path)
        assert got.is_signed_by(tpl_key) and got.unit_code == unit.code
        assert changed_locked_cells(layout_template(campaign, unit), got.cells) == []
    serial = write_template(campaign, campaign.unit_by_code["XA_0007"], tmp_path / "XA_0007.xlsx", tpl_key)
    assert read_return(serial).cells == read_return(tmp_path / "pool" / "XA_0007.xlsx").cells


def test_render_is_deterministic_apart_from_issue_time(tpl_campaign: Campaign, tpl_key: bytes):
    layout = layout_template(tpl_campaign, tpl_campaign.unit_by_code["XA_DAI"])
    when = datetime(2023, 7, 17, 8, 0).astimezone()
    assert render_template(layout, tpl_key, when) == render_template(layout, tpl_key, when)


def test_key_is_created_once_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "khoa" / "secret.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and load_or_create_key(path) == key
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.key"))
    assert load_or_create_key() != key and (tmp_path / "env.key").exists()
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        load_or_create_key(path)


def test_sheet_password_is_derived_and_short(tpl_key: bytes):
    first = derive_sheet_password(tpl_key, "THU_NGHIEM_2023")
    assert first == derive_sheet_password(tpl_key, "THU_NGHIEM_2023")
    assert first != derive_sheet_password(tpl_key, "KHAC_2024")
    assert first != derive_sheet_password(bytes(32), "THU_NGHIEM_2023")
    assert 6 <= len(first) <= 12 and first.isalnum()
    assert sign_identity(tpl_key, "A", "B", 1, "d") != sign_identity(tpl_key, "A", "B", 2, "d")
    assert hash_legacy_password("abc") == "CC1A"  # openpyxl writes the same hash for "abc"
