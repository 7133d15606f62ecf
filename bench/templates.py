"""Time writing a synthetic campaign's templates against a straightforward openpyxl writer.

Run: .venv/bin/python bench/templates.py [--units 10000] [--baseline-units 500] [--processes N] [--dir DIR]

Target (issue): the templates of a campaign with 10,000 units are written in under 60 s on a
2-core machine. The campaign is built here: one province, districts, communes (xã, phường,
thị trấn) reporting 9 indicators (a sum, two ratios, a percentage, absolute and daily targets
per commune, rate targets by kind) over 30 daily periods. ``write_templates`` writes every
unit; the baseline renders the same ``TemplateLayout`` with openpyxl (values, fonts, fills,
borders, locked flags, validations, defined names, sheet and structure protection, the very
hidden meta sheet), one workbook per unit, saved, on ``--baseline-units`` units only, and its
total is extrapolated per template. The machine is shared: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from forms.layout import ROLE_FORMULA, ROLE_META, CellSpec, SheetSpec, TemplateLayout, Validation, layout_template
from forms.plan_yaml import load_yaml
from forms.schema import TZ, Campaign, Target
from forms.signing import derive_sheet_password, sign_identity
from forms.template_writer import FONT, STYLES, write_templates

TARGET_SECONDS = 60.0
KEY = bytes(range(32))
CAMPAIGN_CODE = "DO_THI_2023"
FIRST_DAY, DAYS = "2023-07-18", 30
COMMUNES_PER_DISTRICT = 100
# xã / phường / thị trấn in roughly a province's proportions.
KINDS = ("xã",) * 7 + ("phường",) * 2 + ("thị trấn",)
NAME_PARTS = ("An", "Bình", "Tân", "Phú", "Long", "Hòa", "Thạnh", "Mỹ", "Vĩnh", "Phước", "Đông", "Tây")

HEADER = f"""\
info:
  code: {CAMPAIGN_CODE}
  name: Cao điểm kích hoạt tài khoản định danh điện tử và dịch vụ công trực tuyến (chiến dịch tổng hợp để đo hiệu năng)
  document_number: 99/KH-UBND
  document_date: 2023-07-14
  issuer: UBND tỉnh Thử Nghiệm
  coordinator: Công an tỉnh (Phòng PC06)
  legal_basis: Quyết định số 06/QĐ-TTg ngày 06/01/2022 của Thủ tướng Chính phủ (Đề án 06)
  start: {FIRST_DAY}
  end: 2023-08-16
  late_days: 30
attributes:
  CAN_BO: Số cán bộ, công chức
indicators:
  - {{code: TK_MUC1, name: Tài khoản mức 1 kích hoạt thành công (lũy kế), measure: tài khoản, cumulative: true}}
  - {{code: TK_MUC2, name: Tài khoản mức 2 kích hoạt thành công (lũy kế), measure: tài khoản, cumulative: true}}
  - {{code: TK_TONG, name: Tổng tài khoản kích hoạt (mức 1 + mức 2), measure: tài khoản, kind: tổng tính, parts: [TK_MUC1, TK_MUC2], cumulative: true, weight: 2}}
  - {{code: HS_TONG, name: Tổng số hồ sơ thủ tục hành chính tiếp nhận trong ngày, measure: hồ sơ}}
  - {{code: HS_TRUC_TUYEN, name: Hồ sơ nộp trực tuyến trong ngày, measure: hồ sơ, relations: "<= HS_TONG"}}
  - {{code: TL_TRUC_TUYEN, name: Tỷ lệ hồ sơ trực tuyến, measure: "%", kind: tỷ lệ tính, numerator: HS_TRUC_TUYEN, denominator: HS_TONG, weight: 1}}
  - {{code: CKS_CAN_BO, name: Cán bộ, công chức có chữ ký số, measure: người}}
  - {{code: TL_CKS, name: Tỷ lệ cán bộ, công chức có chữ ký số, measure: "%", kind: tỷ lệ tính, numerator: CKS_CAN_BO, denominator: CAN_BO}}
  - {{code: SO_HOA, name: Tỷ lệ số hóa hồ sơ, kết quả giải quyết thủ tục hành chính, measure: "%", kind: phần trăm}}
periods:
  - {{code: N, label: Ngày, start: {FIRST_DAY}, end: 2023-08-16, frequency: hằng ngày, deadline_time: "17:00"}}
"""
RATE_TARGETS = """\
  - {level: xã, kind: xã, indicator: TL_TRUC_TUYEN, rate: "25%"}
  - {level: xã, kind: phường, indicator: TL_TRUC_TUYEN, rate: "55%"}
  - {level: xã, kind: thị trấn, indicator: TL_TRUC_TUYEN, rate: "40%"}
  - {level: xã, indicator: TL_CKS, rate: "100%", due: 2023-08-15}
  - {indicator: SO_HOA, rate: "90%"}
"""


def commune_code(n: int) -> str:
    """Code of the n-th commune (0-based)."""
    return f"XA_{n:05d}"


def campaign_yaml(units: int) -> str:
    """YAML of a province with ``units`` reporting communes under districts of 100."""
    districts = max(1, -(-units // COMMUNES_PER_DISTRICT))
    lines = [HEADER, "units:\n", "  - {code: TINH, name: Tỉnh Thử Nghiệm, level: tỉnh, reports: false}\n"]
    for d in range(districts):
        name = f"{NAME_PARTS[d % 12]} {NAME_PARTS[(d // 12) % 12]} {d + 1}"
        lines.append(
            f"  - {{code: HUYEN_{d:03d}, name: Huyện {name}, parent: TINH, level: huyện, kind: huyện, reports: false}}\n"
        )
    for n in range(units):
        kind = KINDS[n % len(KINDS)]
        label = {"xã": "Xã", "phường": "Phường", "thị trấn": "Thị trấn"}[kind]
        name = f"{label} {NAME_PARTS[n % 12]} {NAME_PARTS[(n // 12) % 12]} {n + 1}"
        lines.append(
            f"  - {{code: {commune_code(n)}, name: {name}, parent: HUYEN_{n // COMMUNES_PER_DISTRICT:03d}, "
            f'level: xã, kind: {kind}, contact: Cán bộ một cửa, phone: "0299 3{n:06d}", '
            f"attributes: {{CAN_BO: {15 + n % 20}}}}}\n"
        )
    lines += ["targets:\n", RATE_TARGETS]
    for n in range(units):
        total = 3000 + (n * 37) % 9000
        lines.append(
            f"  - {{unit: {commune_code(n)}, indicator: TK_TONG, value: {total}, daily: {-(-total // DAYS)}}}\n"
        )
    return "".join(lines)


def write_campaign(units: int, folder: Path) -> tuple[Campaign, Path]:
    """Write the synthetic definition as ke_hoach.yaml in ``folder``; return it loaded and its path."""
    path = folder / "ke_hoach.yaml"
    path.write_text(campaign_yaml(units), encoding="utf-8")
    return load_yaml(path), path


def narrowed_layouts(campaign: Campaign, codes: Iterable[str]) -> Iterable[TemplateLayout]:
    """Each unit's layout, computed as ``write_templates`` does (only the targets that can apply)."""
    # Campaign.target_for scans every target; with one per unit that is quadratic, which
    # would time the lookup instead of the writer. The template writer narrows the same way.
    generic = tuple(t for t in campaign.targets if t.unit is None)
    by_unit: dict[str, list[Target]] = {}
    for t in campaign.targets:
        if t.unit is not None:
            by_unit.setdefault(t.unit, []).append(t)
    for code in codes:
        narrowed = campaign.model_copy(update={"targets": generic + tuple(by_unit.get(code, ()))})
        yield layout_template(narrowed, campaign.unit_by_code[code])


# ---------------------------------------------------------------- the openpyxl baseline


class OpenpyxlStyles:
    """openpyxl style objects per (style key, locked), built from the template writer's own table."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, bool], dict[str, Any]] = {}

    def get(self, style: str, locked: bool) -> dict[str, Any]:
        """Font, fill, border, alignment, number format and protection of one style key."""
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

        found = self.cache.get((style, locked))
        if found is None:
            spec = {**FONT, **STYLES[style]}
            side = Side(style="thin") if spec.get("border") else Side()
            colour = spec.get("bg_color", "").lstrip("#")
            found = {
                "font": Font(
                    name=spec["font_name"], size=spec["font_size"], bold=spec.get("bold"), italic=spec.get("italic")
                ),
                "fill": PatternFill("solid", fgColor=colour) if colour else PatternFill(),
                "border": Border(left=side, right=side, top=side, bottom=side),
                "alignment": Alignment(
                    horizontal=spec.get("align"),
                    vertical={"vcenter": "center"}.get(spec.get("valign", ""), spec.get("valign")),
                    wrap_text=spec.get("text_wrap"),
                ),
                "number_format": spec.get("num_format", "General"),
                "protection": Protection(locked=locked),
            }
            self.cache[(style, locked)] = found
        return found


def openpyxl_validation(rule: Validation, ref: str) -> Any:
    """The openpyxl DataValidation of one cell."""
    from openpyxl.worksheet.datavalidation import DataValidation

    kind = {"length": "textLength", "integer": "whole"}.get(rule.kind, rule.kind)
    operator = {"between": "between", ">=": "greaterThanOrEqual", "<=": "lessThanOrEqual"}[rule.criteria]
    if rule.kind == "list":
        first, second = (rule.source if rule.source else '"' + ",".join(rule.items) + '"'), None
    elif rule.criteria == "between":
        first, second = rule.minimum, rule.maximum
    else:
        first, second = (rule.minimum if rule.criteria == ">=" else rule.maximum), None
    dv = DataValidation(
        type=kind,
        operator=None if rule.kind == "list" else operator,
        formula1=None if first is None else str(first),
        formula2=None if second is None else str(second),
        allow_blank=True,
        showInputMessage=bool(rule.input_message),
        showErrorMessage=True,
        promptTitle=rule.input_title or None,
        prompt=rule.input_message or None,
        errorTitle=rule.error_title or None,
        error=rule.error_message or None,
    )
    dv.add(ref)
    return dv


def write_openpyxl_template(layout: TemplateLayout, key: bytes, path: Path, styles: OpenpyxlStyles) -> Path:
    """Render ``layout`` with openpyxl the straightforward way, one workbook, and save it to ``path``."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.workbook.protection import WorkbookProtection

    password = derive_sheet_password(key, layout.campaign_code)
    meta = {
        "hmac": sign_identity(key, layout.campaign_code, layout.unit_code, layout.template_version, layout.digest),
        "issued_at": datetime.now(TZ).isoformat(timespec="seconds"),
    }
    book = Workbook()
    book.remove(book.active)
    book.properties.title = layout.title
    book.properties.creator = "chitieu"
    sheets = {spec.name: _openpyxl_sheet(book, spec) for spec in layout.sheets}
    for cell in layout.cells:
        value = meta.get(cell.key, cell.value) if cell.role == ROLE_META and cell.key else cell.value
        _openpyxl_cell(sheets[cell.sheet], cell, value, styles)
    for name in layout.names:
        book.defined_names[name.name] = DefinedName(name.name, attr_text=name.formula.lstrip("="))
    for spec in layout.sheets:
        sheet = sheets[spec.name]
        for rule in spec.conditional:
            colours = {"shortfall": ("FFC7CE", "9C0006"), "achieved": ("C6EFCE", "006100")}[rule.style]
            sheet.conditional_formatting.add(
                rule.range,
                FormulaRule(
                    formula=[rule.formula.lstrip("=")],
                    fill=PatternFill("solid", bgColor=colours[0]),
                    font=Font(color=colours[1]),
                ),
            )
        sheet.protection.sheet = True
        sheet.protection.password = password
        sheet.protection.formatCells = False
    book.security = WorkbookProtection(workbookPassword=password, lockStructure=True)
    book.save(path)
    return path


def _openpyxl_sheet(book: Any, spec: SheetSpec) -> Any:
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(spec.name)
    for col, width in enumerate(spec.widths, 1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    for row, height in spec.heights:
        sheet.row_dimensions[row].height = height
    for first_row, first_col, last_row, last_col in spec.merges:
        sheet.merge_cells(start_row=first_row, start_column=first_col, end_row=last_row, end_column=last_col)
    if spec.state == "veryHidden":
        sheet.sheet_state = "veryHidden"
        return sheet
    if spec.freeze_row:
        sheet.freeze_panes = f"A{spec.freeze_row}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left, sheet.page_margins.right = 0.5, 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "Trang &P/&N"
    if spec.print_area:
        sheet.print_area = spec.print_area
    if spec.repeat_rows:
        sheet.print_title_rows = f"{spec.repeat_rows[0]}:{spec.repeat_rows[1]}"
    return sheet


def _openpyxl_cell(sheet: Any, spec: CellSpec, value: Any, styles: OpenpyxlStyles) -> None:
    cell = sheet.cell(row=spec.row, column=spec.col)
    if value is not None:
        cell.value = value
        if spec.role != ROLE_FORMULA and isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # typed text, never a formula
    for attribute, style in styles.get(spec.style, spec.locked).items():
        setattr(cell, attribute, style)
    if spec.validation is not None:
        sheet.add_data_validation(openpyxl_validation(spec.validation, spec.ref))


# ---------------------------------------------------------------- timing


def time_ours(campaign: Campaign, folder: Path, processes: int | None) -> float:
    """Seconds for ``write_templates`` to write every reporting unit's template into ``folder``."""
    began = time.perf_counter()
    written = write_templates(campaign, folder, KEY, processes=processes)
    seconds = time.perf_counter() - began
    assert len(written) == len(campaign.reporting_units())
    return seconds


def time_baseline(campaign: Campaign, codes: list[str], folder: Path) -> float:
    """Seconds for the openpyxl writer to lay out and save the templates of ``codes``, one by one."""
    folder.mkdir(parents=True, exist_ok=True)
    styles = OpenpyxlStyles()
    began = time.perf_counter()
    for layout in narrowed_layouts(campaign, codes):
        write_openpyxl_template(layout, KEY, folder / f"{layout.unit_code}.xlsx", styles)
    return time.perf_counter() - began


def check_same_content(ours: Path, baseline: Path) -> None:
    """Both files read back with the same names, identity and locked content (the baseline is a fair one)."""
    from processors.workbook_reader import read_return

    a, b = read_return(ours), read_return(baseline)
    assert a.names == b.names, "defined names differ"
    assert {k: v for k, v in a.meta.items() if k != "issued_at"} == {
        k: v for k, v in b.meta.items() if k != "issued_at"
    }, "meta differs"
    assert a.cells == b.cells, "report sheet content differs"
    assert a.sheet_states == b.sheet_states and a.structure_locked and b.structure_locked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000, help="reporting units of the campaign")
    parser.add_argument("--baseline-units", type=int, default=500, help="units the openpyxl baseline writes")
    parser.add_argument("--processes", type=int, default=None, help="write_templates workers (default: its own)")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the files (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench_templates_") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        campaign, _ = write_campaign(args.units, folder)
        load_seconds = time.perf_counter() - began
        units = campaign.reporting_units()
        sample = [u.code for u in units[: min(args.baseline_units, len(units))]]
        ours = time_ours(campaign, folder / "ours", args.processes)
        # The same sample in one process: the writer's per-core cost next to the baseline's.
        serial_campaign = campaign.model_copy(
            update={"units": tuple(u for u in campaign.units if u.code in set(sample) or not u.reports)}
        )
        serial = time_ours(serial_campaign, folder / "ours_serial", 1)
        baseline = time_baseline(campaign, sample, folder / "openpyxl")
        check_same_content(folder / "ours" / f"{sample[0]}.xlsx", folder / "openpyxl" / f"{sample[0]}.xlsx")
        size = (folder / "ours" / f"{sample[0]}.xlsx").stat().st_size
        baseline_size = (folder / "openpyxl" / f"{sample[0]}.xlsx").stat().st_size
    report(len(units), len(sample), load_seconds, ours, serial, baseline, size, baseline_size, args.processes)


def report(
    units: int,
    sampled: int,
    load_seconds: float,
    ours: float,
    serial: float,
    baseline: float,
    size: int,
    baseline_size: int,
    processes: int | None,
) -> None:
    """Print the figures and the verdict."""
    workers = processes if processes is not None else min(os.cpu_count() or 1, 8)
    per = ours / units * 1000
    per_serial = serial / sampled * 1000
    per_base = baseline / sampled * 1000
    verdict = "ĐẠT" if ours < TARGET_SECONDS else "KHÔNG ĐẠT"
    print(
        f"Chiến dịch tổng hợp: {units:,} đơn vị báo cáo, 9 chỉ tiêu, 30 kỳ ngày (đọc định nghĩa {load_seconds:.1f} s)"
    )
    print(
        f"write_templates ({workers} tiến trình): {ours:.1f} s cho {units:,} mẫu = {per:.2f} ms/mẫu ({size:,} byte/tệp)"
    )
    print(f"write_templates (1 tiến trình), {sampled:,} mẫu đầu: {serial:.2f} s = {per_serial:.2f} ms/mẫu")
    print(
        f"openpyxl (1 tiến trình), đo trên {sampled:,} mẫu: {baseline:.1f} s = {per_base:.1f} ms/mẫu "
        f"({baseline_size:,} byte/tệp); ngoại suy cho {units:,} mẫu: {per_base * units / 1000:.0f} s"
    )
    print(f"Tỷ lệ openpyxl ÷ chitieu (mỗi mẫu, thời gian thực): {per_base / per:.1f}×")
    print(f"Tỷ lệ trên một lõi (cùng {sampled:,} mẫu, 1 tiến trình mỗi bên): {per_base / per_serial:.1f}×")
    print(f"Mục tiêu < {TARGET_SECONDS:.0f} s cho {units:,} mẫu: {verdict} ({ours:.1f} s)")


if __name__ == "__main__":
    main()
