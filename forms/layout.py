"""The per-unit template as data: every cell, its role, style, validation and defined name.

``layout_template(campaign, unit)`` is pure: it decides what the locked template looks like
and returns a frozen ``TemplateLayout``; ``forms.template_writer`` renders it with
XlsxWriter and the tests and the workbook reader use the same description. Row positions
are deterministic for a given campaign and unit, but readers should go through the
defined names (``MA_DON_VI``, ``KY_BAO_CAO``, ``NHAP_<indicator code>``), never through rows.

``layout_digest`` hashes the locked content of the report sheet (labels, targets, the unit
code and base figures) so a returned file whose locked cells differ from the issued ones
is recognised as tampered with.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from forms.schema import Campaign, Indicator, IndicatorKind, Period, Target, Unit, format_date, format_deadline

SHEET_REPORT = "Báo cáo"
SHEET_GUIDE = "Hướng dẫn"
SHEET_META = "_chitieu"

# Folder names on the share as clerks see them. The share layout lives in
# shared_folder_layout/, which forms/ may not import; its tests should check these agree.
FOLDER_SUBMIT = "Nộp báo cáo"
FOLDER_RECEIPTS = "Phiếu phản hồi"

NAME_UNIT_CODE = "MA_DON_VI"
NAME_PERIOD = "KY_BAO_CAO"
NAME_PERIOD_LIST = "DS_KY_BAO_CAO"
INPUT_PREFIX = "NHAP_"
CHOICE_PREFIX = "CHON_"

ROLE_LABEL = "label"
ROLE_TARGET = "target"
ROLE_INPUT = "input"
ROLE_FORMULA = "formula"
ROLE_PERIOD = "period"
ROLE_UNIT_CODE = "unit_code"
ROLE_ATTRIBUTE = "attribute"  # a unit's base figure (e.g. number of cadres), a ratio's denominator
ROLE_META = "meta"
UNLOCKED_ROLES = frozenset({ROLE_INPUT, ROLE_PERIOD})
DIGEST_ROLES = frozenset({ROLE_LABEL, ROLE_TARGET, ROLE_UNIT_CODE, ROLE_ATTRIBUTE})
# Only the report sheet is hashed: it holds everything a figure is judged against. The
# instructions sheet is prose; a stray edit there must not turn a good return into "tampered".
DIGEST_SHEETS = (SHEET_REPORT,)

META_KEYS = ("campaign_code", "unit_code", "template_version", "layout_digest", "hmac", "issued_at")
TEXT_MAX_LENGTH = 500

# Report sheet geometry: fixed header block, then one table row per indicator.
ROW_TITLE, ROW_BASIS, ROW_COORDINATOR = 1, 2, 3
ROW_UNIT, ROW_CODE, ROW_PERIOD, ROW_HINT = 4, 5, 6, 7
ROW_HEADER = 9
FIRST_DATA_ROW = ROW_HEADER + 1
COL_TT, COL_NAME, COL_MEASURE, COL_TARGET, COL_DAILY, COL_VALUE, COL_RATE, COL_NOTE = range(1, 9)
REPORT_HEADERS = (
    "TT",
    "Chỉ tiêu",
    "Đơn vị tính",
    "Chỉ tiêu được giao",
    "Chỉ tiêu trong ngày",
    "Số liệu báo cáo",
    "Tỷ lệ đạt",
    "Ghi chú",
)
REPORT_WIDTHS = (5, 42, 11, 13, 12, 15, 10, 24)
# Characters per column-width unit, measured on LibreOffice's rendering of Times New Roman 12
# (plain text) and 14 bold capitals (titles), rounded down so text is never cut off.
TEXT_FACTOR = 0.85
TITLE_FACTOR = 0.5
TEXT_INPUT_LINES = 4
GUIDE_WIDTHS = (6, 44, 30, 46)
# Meta sheet columns: key/value pairs, then the period list, then one column per status list.
META_COL_KEY, META_COL_VALUE, META_COL_PERIOD_LABEL, META_COL_PERIOD_CODE, META_COL_FIRST_CHOICE = 1, 2, 4, 5, 7


@dataclass(frozen=True, slots=True)
class Validation:
    """Data validation of one unlocked cell, with the Vietnamese prompt and error texts."""

    kind: str  # "integer" | "decimal" | "list" | "length"
    criteria: str = "between"  # "between" | ">=" | "<="
    minimum: float | None = None
    maximum: float | None = None
    items: tuple[str, ...] = ()  # an inline list (short, no commas inside items)
    source: str | None = None  # a defined name holding the list, e.g. "DS_KY_BAO_CAO"
    input_title: str = ""
    input_message: str = ""
    error_title: str = ""
    error_message: str = ""


class CellSpec(NamedTuple):
    """One cell: where it is, what it holds, what it is for and how it looks."""

    # A NamedTuple rather than a frozen dataclass: a template has ~400 cells, 10,000
    # templates are laid out in a run, and frozen-dataclass construction showed in profiles.
    sheet: str
    row: int  # 1-based, as Excel shows it
    col: int  # 1-based
    value: str | float | int | None
    role: str
    style: str
    name: str | None = None  # the workbook-level defined name pointing at this cell
    validation: Validation | None = None
    key: str | None = None  # indicator code, attribute code or meta key the cell is about
    cached: str | float | None = None  # a formula's result before any recalculation

    @property
    def ref(self) -> str:
        """The cell as Excel shows it, e.g. ``F12``."""
        return cell_ref(self.row, self.col)

    @property
    def locked(self) -> bool:
        """True unless a clerk types into this cell."""
        return self.role not in UNLOCKED_ROLES


@dataclass(frozen=True, slots=True)
class DefinedName:
    """A workbook-level name and the cell or range it refers to."""

    name: str
    sheet: str
    ref: str  # relative A1 form, "F12" or "D2:D33"

    @property
    def formula(self) -> str:
        """The name's target as a workbook formula, e.g. ``='Báo cáo'!$F$12``."""
        return f"={quote_sheet(self.sheet)}!{absolute_ref(self.ref)}"


@dataclass(frozen=True, slots=True)
class ConditionalRule:
    """A formula-based conditional format over a range; ``style`` names the fill."""

    range: str
    formula: str
    style: str


@dataclass(frozen=True, slots=True)
class SheetSpec:
    """A sheet's own settings: visibility, widths, merges, panes and page setup."""

    name: str
    state: str = "visible"  # "visible" | "veryHidden"
    widths: tuple[float, ...] = ()
    heights: tuple[tuple[int, float], ...] = ()  # (row, height in points)
    merges: tuple[tuple[int, int, int, int], ...] = ()  # (first row, first col, last row, last col)
    freeze_row: int | None = None  # first row below the frozen panes
    print_area: str | None = None
    repeat_rows: tuple[int, int] | None = None
    conditional: tuple[ConditionalRule, ...] = ()


@dataclass(frozen=True)
class TemplateLayout:
    """Every cell, sheet setting and defined name of one unit's template."""

    campaign_code: str
    unit_code: str
    template_version: int
    title: str
    sheets: tuple[SheetSpec, ...]
    cells: tuple[CellSpec, ...]
    names: tuple[DefinedName, ...]
    digest: str
    _by_name: dict[str, CellSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.cells if c.name})

    def named(self, name: str) -> CellSpec:
        """The cell carrying defined name ``name`` (KeyError when there is none)."""
        return self._by_name[name]

    def input_cells(self) -> dict[str, CellSpec]:
        """Input cells keyed by indicator code, in table order."""
        return {c.key: c for c in self.cells if c.role == ROLE_INPUT and c.key}

    def sheet_cells(self, sheet: str) -> list[CellSpec]:
        """The cells of one sheet, in layout order."""
        return [c for c in self.cells if c.sheet == sheet]


def cell_ref(row: int, col: int) -> str:
    """A1 reference of a 1-based (row, column)."""
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def absolute_ref(ref: str) -> str:
    """``F12`` → ``$F$12``; ``D2:D33`` → ``$D$2:$D$33``."""
    parts = []
    for part in ref.split(":"):
        letters = part.rstrip("0123456789")
        parts.append(f"${letters}${part[len(letters) :]}")
    return ":".join(parts)


def quote_sheet(sheet: str) -> str:
    """A sheet name as formulas need it: always quoted, inner quotes doubled."""
    return "'" + sheet.replace("'", "''") + "'"


def input_name(indicator_code: str) -> str:
    """The defined name of an indicator's input cell, ``NHAP_<code>``."""
    return f"{INPUT_PREFIX}{indicator_code}"


# ---------------------------------------------------------------- digest


def canonical_value(value: Any) -> Any:
    """A cell value in a form that is equal for what was written and what a reader gets back."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int | float):
        # calamine returns floats for integers; 50802 and 50802.0 must hash alike.
        number = float(value)
        return ["n", repr(number)] if math.isfinite(number) else ["s", str(value)]
    if isinstance(value, datetime | date | time):
        return ["d", value.isoformat()]
    if isinstance(value, timedelta):
        return ["d", str(value)]
    return ["s", str(value)]


def compute_digest(entries: Iterable[tuple[str, str, Any]]) -> str:
    """SHA-256 (hex) over canonical (sheet, cell, value) triples, in the order given."""
    canonical = [[sheet, ref, canonical_value(value)] for sheet, ref, value in entries]
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def locked_content(cells: Iterable[CellSpec]) -> list[tuple[str, str, Any]]:
    """The (sheet, cell, value) triples the digest covers, in sheet then row then column order."""
    chosen = [c for c in cells if c.role in DIGEST_ROLES and c.sheet in DIGEST_SHEETS]
    chosen.sort(key=lambda c: (DIGEST_SHEETS.index(c.sheet), c.row, c.col))
    return [(c.sheet, c.ref, c.value) for c in chosen]


def layout_digest(layout: TemplateLayout) -> str:
    """SHA-256 (hex) of the layout's locked content cells (labels, targets, unit code, base figures)."""
    return compute_digest(locked_content(layout.cells))


def changed_locked_cells(
    layout: TemplateLayout, found: Mapping[tuple[str, str], Any]
) -> list[tuple[str, str, Any, Any]]:
    """Locked content cells whose value in ``found`` ((sheet, cell) → value) differs: (sheet, cell, issued, found)."""
    changes = []
    for sheet, ref, issued in locked_content(layout.cells):
        value = found.get((sheet, ref))
        if canonical_value(value) != canonical_value(issued):
            changes.append((sheet, ref, issued, value))
    return changes


# ---------------------------------------------------------------- the layout


def layout_template(campaign: Campaign, unit: Unit) -> TemplateLayout:
    """The complete, deterministic description of ``unit``'s template for ``campaign``."""
    indicators = campaign.indicators_for(unit)
    report = _ReportBuilder(campaign, unit, indicators)
    report.build()
    meta_cells, meta_names, meta_sheet = _meta_sheet(campaign, unit, indicators)
    guide_cells, guide_sheet = _guide_sheet(campaign, unit, indicators, report.numbers)
    content = report.cells + guide_cells
    digest = compute_digest(locked_content(content))
    meta_cells = [_fill_meta(c, digest) for c in meta_cells]
    cells = tuple(content + meta_cells)
    names = tuple(DefinedName(c.name, c.sheet, c.ref) for c in cells if c.name) + tuple(meta_names)
    return TemplateLayout(
        campaign_code=campaign.info.code,
        unit_code=unit.code,
        template_version=campaign.info.template_version,
        title=f"{campaign.info.name} — {unit.name}",
        sheets=(report.sheet_spec(), guide_sheet, meta_sheet),
        cells=cells,
        names=names,
        digest=digest,
    )


class _ReportBuilder:
    """Builds the "Báo cáo" sheet: header block, indicator table, base figures, legend."""

    def __init__(self, campaign: Campaign, unit: Unit, indicators: list[Indicator]):
        self.campaign = campaign
        self.unit = unit
        self.indicators = indicators
        self.cells: list[CellSpec] = []
        self.merges: list[tuple[int, int, int, int]] = []
        self.heights: list[tuple[int, float]] = []
        self.numbers = {ind.code: n for n, ind in enumerate(indicators, 1)}
        self.rows = {ind.code: FIRST_DATA_ROW + n for n, ind in enumerate(indicators)}
        # Operands that are not indicators are the unit's base figures; each gets a row after the table.
        operands = (op for ind in indicators for op in ind.operands() if op and op not in campaign.indicator_by_code)
        self.attribute_codes = list(dict.fromkeys(operands))
        first_attribute_row = FIRST_DATA_ROW + len(indicators)
        self.rows.update({a: first_attribute_row + n for n, a in enumerate(self.attribute_codes)})
        self.last_row = first_attribute_row + len(self.attribute_codes) - 1
        self.legend_row = self.last_row + 2

    def add(self, row: int, col: int, value: Any, role: str, style: str, **extra: Any) -> None:
        self.cells.append(CellSpec(SHEET_REPORT, row, col, value, role, style, **extra))

    def build(self) -> None:
        self._header_block()
        for col, header in enumerate(REPORT_HEADERS, 1):
            self.add(ROW_HEADER, col, header, ROLE_LABEL, "header")
        for ind in self.indicators:
            self._indicator_row(ind)
        for code in self.attribute_codes:
            self._attribute_row(code)
        self.add(self.legend_row, COL_TT, LEGEND, ROLE_LABEL, "note")
        self.merges.append((self.legend_row, COL_TT, self.legend_row, COL_NOTE))

    def _header_block(self) -> None:
        info = self.campaign.info
        self.add(ROW_TITLE, COL_TT, info.name.upper(), ROLE_LABEL, "title")
        self.heights.append((ROW_TITLE, _row_height(_lines(info.name, sum(REPORT_WIDTHS), TITLE_FACTOR), 14)))
        basis = "; ".join(
            p for p in (info.document_ref, f"Căn cứ: {info.legal_basis}" if info.legal_basis else "") if p
        )
        if basis:
            self.add(ROW_BASIS, COL_TT, basis, ROLE_LABEL, "subtitle")
            self.heights.append((ROW_BASIS, _row_height(_lines(basis, sum(REPORT_WIDTHS)))))
        if info.coordinator:
            self.add(ROW_COORDINATOR, COL_TT, f"Cơ quan tổng hợp: {info.coordinator}", ROLE_LABEL, "subtitle")
        for row in (ROW_TITLE, ROW_BASIS, ROW_COORDINATOR, ROW_HINT):
            self.merges.append((row, COL_TT, row, COL_NOTE))
        self.add(ROW_UNIT, COL_NAME, "Đơn vị:", ROLE_LABEL, "label")
        self.add(ROW_UNIT, COL_MEASURE, self.unit.name, ROLE_LABEL, "value_bold")
        self.merges.append((ROW_UNIT, COL_MEASURE, ROW_UNIT, COL_NOTE))
        self.add(ROW_CODE, COL_NAME, "Mã đơn vị:", ROLE_LABEL, "label")
        self.add(ROW_CODE, COL_MEASURE, self.unit.code, ROLE_UNIT_CODE, "value_bold", name=NAME_UNIT_CODE)
        self.merges.append((ROW_CODE, COL_MEASURE, ROW_CODE, COL_DAILY))
        self.add(ROW_PERIOD, COL_NAME, "Kỳ báo cáo:", ROLE_LABEL, "label")
        self.add(
            ROW_PERIOD, COL_MEASURE, None, ROLE_PERIOD, "input_period", name=NAME_PERIOD, validation=PERIOD_VALIDATION
        )
        self.merges.append((ROW_PERIOD, COL_MEASURE, ROW_PERIOD, COL_DAILY))
        self.add(ROW_PERIOD, COL_VALUE, "← bấm vào ô màu vàng, chọn kỳ báo cáo", ROLE_LABEL, "note")
        self.add(ROW_HINT, COL_TT, HINT, ROLE_LABEL, "note")

    def _indicator_row(self, ind: Indicator) -> None:
        row = self.rows[ind.code]
        target = self.campaign.target_for(self.unit, ind.code)
        self.add(row, COL_TT, self.numbers[ind.code], ROLE_LABEL, "cell_center")
        self.add(row, COL_NAME, ind.name, ROLE_LABEL, "cell_text")
        self.add(row, COL_MEASURE, ind.measure or None, ROLE_LABEL, "cell_center")
        self._target_cells(row, ind, target)
        if ind.is_input:
            self.add(
                row, COL_VALUE, None, ROLE_INPUT, INPUT_STYLES[ind.kind], name=input_name(ind.code),
                validation=input_validation(ind), key=ind.code,
            )  # fmt: skip
        else:
            formula, style, cached = self._computed(ind)
            self.add(row, COL_VALUE, formula, ROLE_FORMULA, style, key=ind.code, cached=cached)
        rate = _rate_formula(row, ind, target)
        if rate:
            self.add(row, COL_RATE, rate, ROLE_FORMULA, "formula_pct", key=ind.code, cached="")
        else:
            self.add(row, COL_RATE, None, ROLE_LABEL, "cell_pct")
        note = self._note(ind, target)
        self.add(row, COL_NOTE, note or None, ROLE_LABEL, "cell_text")
        # Neither Excel nor LibreOffice grows a row for wrapped text on opening a generated
        # file, so the height is set from the text; a text answer gets room to be read.
        lines = max(_lines(ind.name, REPORT_WIDTHS[COL_NAME - 1]), _lines(note, REPORT_WIDTHS[COL_NOTE - 1]))
        self.heights.append((row, _row_height(max(lines, TEXT_INPUT_LINES if ind.kind is IndicatorKind.TEXT else 1))))

    def _target_cells(self, row: int, ind: Indicator, target: Target | None) -> None:
        value_style = "cell_pct" if ind.kind in (IndicatorKind.PERCENT, IndicatorKind.RATIO) else "cell_int"
        if target is not None and target.value is not None:
            self.add(row, COL_TARGET, _number(target.value), ROLE_TARGET, value_style, key=ind.code)
        elif target is not None and target.rate is not None:
            self.add(row, COL_TARGET, target.rate, ROLE_TARGET, "cell_pct", key=ind.code)
        else:
            self.add(row, COL_TARGET, None, ROLE_LABEL, "cell_int")
        if target is not None and target.daily is not None:
            self.add(row, COL_DAILY, _number(target.daily), ROLE_TARGET, value_style, key=ind.code)
        else:
            self.add(row, COL_DAILY, None, ROLE_LABEL, "cell_int")

    def _computed(self, ind: Indicator) -> tuple[str, str, Any]:
        """(formula, style, result before recalculation) of a sum or ratio."""
        refs = [cell_ref(self.rows[op], COL_VALUE) for op in ind.operands()]
        if ind.kind is IndicatorKind.SUM:
            # Blank until a part is typed, so an untouched form shows no 0% shortfall.
            parts = ",".join(refs)
            return f'=IF(COUNT({parts})=0,"",SUM({parts}))', "formula_int", ""
        num, den = refs
        return f'=IF({num}="","",IFERROR({num}/{den},""))', "formula_pct", ""

    def _note(self, ind: Indicator, target: Target | None) -> str:
        parts = []
        if not ind.is_input:
            parts.append("Tự tính = " + formula_text(self.campaign, ind, self.numbers))
        if ind.cumulative:
            parts.append("Số lũy kế")
        if target is not None and target.due:
            parts.append(f"Hạn hoàn thành: {format_date(target.due)}")
        if target is not None and target.note:
            parts.append(target.note)
        return "; ".join(parts)

    def _attribute_row(self, code: str) -> None:
        row = self.rows[code]
        value = self.unit.attributes.get(code)
        label = self.campaign.attributes.get(code, code)
        style = "cell_int" if value is None or float(value).is_integer() else "cell_decimal"
        note = "Số liệu nền do cơ quan tổng hợp cung cấp" if value is not None else "Chưa có số liệu nền"
        for col in (COL_TT, COL_MEASURE, COL_TARGET, COL_DAILY):
            self.add(row, col, None, ROLE_LABEL, "cell_text")
        self.add(row, COL_NAME, label, ROLE_LABEL, "cell_text")
        self.add(row, COL_VALUE, _number(value) if value is not None else None, ROLE_ATTRIBUTE, style, key=code)
        self.add(row, COL_RATE, None, ROLE_LABEL, "cell_text")
        self.add(row, COL_NOTE, note, ROLE_LABEL, "cell_text")
        lines = max(_lines(label, REPORT_WIDTHS[COL_NAME - 1]), _lines(note, REPORT_WIDTHS[COL_NOTE - 1]))
        self.heights.append((row, _row_height(lines)))

    def sheet_spec(self) -> SheetSpec:
        last_indicator_row = FIRST_DATA_ROW + len(self.indicators) - 1
        rate_range = (
            f"{cell_ref(FIRST_DATA_ROW, COL_RATE)}:{cell_ref(max(last_indicator_row, FIRST_DATA_ROW), COL_RATE)}"
        )
        first = cell_ref(FIRST_DATA_ROW, COL_RATE)
        return SheetSpec(
            name=SHEET_REPORT,
            widths=REPORT_WIDTHS,
            heights=(*self.heights, (ROW_HEADER, 45.0)),
            merges=tuple(self.merges),
            freeze_row=FIRST_DATA_ROW,
            print_area=f"A1:{cell_ref(self.legend_row, COL_NOTE)}",
            repeat_rows=(ROW_HEADER, ROW_HEADER),
            conditional=(
                ConditionalRule(rate_range, f"=AND(ISNUMBER({first}),{first}<1)", "shortfall"),
                ConditionalRule(rate_range, f"=AND(ISNUMBER({first}),{first}>=1)", "achieved"),
            ),
        )


HINT = "Chỉ nhập số liệu vào các ô màu vàng. Các ô khác đã được khóa; tổng, tỷ lệ và tỷ lệ đạt tự tính."
LEGEND = "Tỷ lệ đạt = Số liệu báo cáo ÷ Chỉ tiêu được giao. Ô tỷ lệ đạt màu đỏ: chưa đạt chỉ tiêu; màu xanh: đã đạt."

INPUT_STYLES = {
    IndicatorKind.COUNT: "input_int",
    IndicatorKind.PERCENT: "input_pct",
    IndicatorKind.YES_NO: "input_choice",
    IndicatorKind.STATUS: "input_choice",
    IndicatorKind.TEXT: "input_text",
}

PERIOD_VALIDATION = Validation(
    kind="list",
    source=NAME_PERIOD_LIST,
    input_title="Chọn kỳ báo cáo",
    input_message="Bấm mũi tên bên phải ô và chọn đúng kỳ báo cáo trong danh sách; không gõ tay.",
    error_title="Kỳ báo cáo không hợp lệ",
    error_message="Chỉ chọn một kỳ báo cáo có trong danh sách thả xuống.",
)


def _rate_formula(row: int, ind: Indicator, target: Target | None) -> str | None:
    """The achievement formula (result ÷ target), or None when there is nothing to compare with."""
    if target is None or not ind.is_numeric:
        return None
    value = cell_ref(row, COL_VALUE)
    if target.value is not None or target.rate is not None:
        goal = cell_ref(row, COL_TARGET)
    elif target.daily is not None and not ind.cumulative:
        # A day's figure against the day's quota; a cumulative figure has no daily comparison.
        goal = cell_ref(row, COL_DAILY)
    else:
        return None
    return f'=IF({value}="","",IFERROR({value}/{goal},""))'


def input_validation(ind: Indicator) -> Validation:
    """The data validation of an input indicator's cell, by kind, with Vietnamese texts."""
    name = _shorten(ind.name, 90)
    if ind.kind is IndicatorKind.COUNT:
        low = ind.minimum if ind.minimum is not None else 0
        bounds = _bounds_text(low, ind.maximum, _format_number)
        return Validation(
            kind="integer",
            criteria="between" if ind.maximum is not None else ">=",
            minimum=_number(low),
            maximum=_number(ind.maximum) if ind.maximum is not None else None,
            input_title="Nhập số lượng",
            input_message=f"{name}: gõ số nguyên {bounds}, không gõ dấu chấm hay dấu phẩy ngăn cách hàng nghìn.",
            error_title="Số liệu không hợp lệ",
            error_message=f"Chỉ nhận số nguyên {bounds}. Ví dụ: gõ 50802, không gõ 50.802.",
        )
    if ind.kind is IndicatorKind.PERCENT:
        # Bounds are fractions (0.9 = 90%); values outside 0..1 in the definition are ignored
        # rather than guessed at.
        low = ind.minimum if ind.minimum is not None and 0 <= ind.minimum <= 1 else 0.0
        high = ind.maximum if ind.maximum is not None and low <= ind.maximum <= 1 else 1.0
        bounds = _bounds_text(low, high, _format_percent)
        return Validation(
            kind="decimal",
            minimum=low,
            maximum=high,
            input_title="Nhập tỷ lệ phần trăm",
            input_message=f"{name}: gõ tỷ lệ kèm dấu %, ví dụ 85%. Giá trị {bounds}.",
            error_title="Tỷ lệ không hợp lệ",
            error_message=f"Chỉ nhận tỷ lệ {bounds}. Gõ kèm dấu %, ví dụ 85%.",
        )
    if ind.kind is IndicatorKind.YES_NO:
        return Validation(
            kind="list",
            items=YES_NO,
            input_title="Chọn Có hoặc Không",
            input_message=f"{name}: bấm mũi tên bên phải ô và chọn «Có» hoặc «Không».",
            error_title="Giá trị không hợp lệ",
            error_message="Chỉ chọn «Có» hoặc «Không» trong danh sách.",
        )
    if ind.kind is IndicatorKind.STATUS:
        return Validation(
            kind="list",
            source=f"{CHOICE_PREFIX}{ind.code}",
            input_title="Chọn trạng thái",
            input_message=_shorten(f"{name}: chọn một trong: {'; '.join(ind.choices)}.", 255),
            error_title="Trạng thái không hợp lệ",
            error_message="Chỉ chọn một trạng thái có trong danh sách thả xuống.",
        )
    return Validation(
        kind="length",
        criteria="<=",
        maximum=TEXT_MAX_LENGTH,
        input_title="Nhập nội dung",
        input_message=f"{name}: ghi ngắn gọn, tối đa {TEXT_MAX_LENGTH} ký tự.",
        error_title="Nội dung quá dài",
        error_message=f"Nội dung dài quá {TEXT_MAX_LENGTH} ký tự, hãy rút gọn.",
    )


YES_NO = ("Có", "Không")


def how_to_enter(ind: Indicator, formula: str = "") -> str:
    """One Vietnamese line telling a clerk how to fill an indicator."""
    if ind.kind is IndicatorKind.COUNT:
        low = ind.minimum if ind.minimum is not None else 0
        return f"Gõ số nguyên {_bounds_text(low, ind.maximum, _format_number)}"
    if ind.kind is IndicatorKind.PERCENT:
        return "Gõ tỷ lệ kèm dấu %, ví dụ 85%"
    if ind.kind is IndicatorKind.YES_NO:
        return "Chọn «Có» hoặc «Không»"
    if ind.kind is IndicatorKind.STATUS:
        return "Chọn một trong: " + "; ".join(ind.choices)
    if ind.kind is IndicatorKind.TEXT:
        return f"Ghi nội dung, tối đa {TEXT_MAX_LENGTH} ký tự"
    return f"Không nhập; tự tính = {formula}"


# ---------------------------------------------------------------- instructions sheet


GUIDE_STEPS = (
    "Mở trang «Báo cáo», bấm vào ô «Kỳ báo cáo» (ô màu vàng) và chọn đúng kỳ trong danh sách thả xuống; không gõ tay.",
    "Chỉ nhập số liệu vào các ô màu vàng ở cột «Số liệu báo cáo». Các ô khác (tên chỉ tiêu, chỉ tiêu được giao, "
    "tổng, tỷ lệ, tỷ lệ đạt) đã được khóa hoặc tự tính.",
    "Số lượng: gõ số nguyên, không gõ dấu chấm hay dấu phẩy ngăn cách hàng nghìn (gõ 50802, không gõ 50.802). "
    "Tỷ lệ phần trăm: gõ kèm dấu %, ví dụ 85%. Có/không và trạng thái: chọn trong danh sách.",
    "Không đổi tên, thêm, xóa hay di chuyển các trang tính. Không chép số liệu sang mẫu biểu của đơn vị khác: "
    "mỗi đơn vị chỉ dùng mẫu biểu mang mã đơn vị của mình.",
    "Lưu tệp dưới dạng Excel (.xlsx); không lưu thành .xls, .ods hay .csv.",
    f"Chép tệp đã lưu vào thư mục «{FOLDER_SUBMIT}» của đơn vị trên thư mục dùng chung.",
    f"Sau khi tệp được tiếp nhận, mở thư mục «{FOLDER_RECEIPTS}» của đơn vị để đọc phiếu phản hồi: phiếu cho biết "
    "báo cáo đã được chấp nhận hay cần sửa, và sửa ở ô nào.",
    f"Muốn sửa số liệu đã nộp: sửa trong tệp, giữ đúng kỳ báo cáo, lưu lại rồi chép vào thư mục «{FOLDER_SUBMIT}» "
    "một lần nữa.",
)


def _guide_sheet(
    campaign: Campaign, unit: Unit, indicators: list[Indicator], numbers: dict[str, int]
) -> tuple[list[CellSpec], SheetSpec]:
    cells: list[CellSpec] = []
    merges: list[tuple[int, int, int, int]] = []
    heights: list[tuple[int, float]] = []
    width = sum(GUIDE_WIDTHS[1:])

    def add(row: int, col: int, value: Any, style: str) -> None:
        cells.append(CellSpec(SHEET_GUIDE, row, col, value, ROLE_LABEL, style))

    def add_wide(row: int, value: str, style: str, first_col: int = 1) -> None:
        add(row, first_col, value, style)
        merges.append((row, first_col, row, len(GUIDE_WIDTHS)))
        heights.append((row, _row_height(_lines(value, width if first_col > 1 else sum(GUIDE_WIDTHS)))))

    add_wide(1, "HƯỚNG DẪN ĐIỀN MẪU BIỂU BÁO CÁO", "guide_title")
    add_wide(2, campaign.info.name, "subtitle")
    add_wide(3, f"Đơn vị: {unit.name} — mã đơn vị: {unit.code}", "value_bold")
    add_wide(5, "Các bước thực hiện", "guide_heading")
    steps = list(GUIDE_STEPS)
    if campaign.info.coordinator:
        steps.append(f"Cần hỗ trợ, liên hệ {campaign.info.coordinator}.")
    row = 6
    for n, step in enumerate(steps, 1):
        add(row, 1, n, "guide_number")
        add_wide(row, step, "guide_text", first_col=2)
        row += 1

    row += 1
    add_wide(row, "Kỳ báo cáo và hạn nộp", "guide_heading")
    row += 1
    for col, header in enumerate(("TT", "Kỳ báo cáo", "Thời gian", "Hạn nộp"), 1):
        add(row, col, header, "header")
    for values in _period_rows(campaign.schedule):
        row += 1
        for col, value in enumerate(values, 1):
            add(row, col, value, "cell_center" if col == 1 else "cell_text")

    row += 2
    add_wide(row, "Các chỉ tiêu báo cáo", "guide_heading")
    row += 1
    for col, header in enumerate(("TT", "Chỉ tiêu", "Cách nhập", "Ý nghĩa, ghi chú"), 1):
        add(row, col, header, "header")
    for ind in indicators:
        row += 1
        name = f"{ind.name} ({ind.measure})" if ind.measure else ind.name
        how = how_to_enter(ind, formula_text(campaign, ind, numbers))
        meaning = _meaning(campaign, ind, numbers)
        for col, value in enumerate((numbers[ind.code], name, how, meaning or None), 1):
            add(row, col, value, "cell_center" if col == 1 else "cell_text")
        lines = max(_lines(text, width) for text, width in zip((name, how, meaning), GUIDE_WIDTHS[1:], strict=True))
        heights.append((row, _row_height(lines)))
    spec = SheetSpec(
        name=SHEET_GUIDE,
        widths=GUIDE_WIDTHS,
        heights=tuple(heights),
        merges=tuple(merges),
        print_area=f"A1:{cell_ref(row, len(GUIDE_WIDTHS))}",
    )
    return cells, spec


# Every unit of a campaign lists the same periods; formatting 32 deadlines for each of
# 10,000 units showed in profiles. Keyed by the schedule object, which is kept alive with
# its entry so its id cannot be reused by another object.
_period_rows_cache: dict[int, tuple[tuple[Period, ...], list[tuple[int, str, str, str]]]] = {}


def _period_rows(schedule: tuple[Period, ...]) -> list[tuple[int, str, str, str]]:
    """(number, label, dates, deadline) of every period, as the instructions sheet lists them."""
    cached = _period_rows_cache.get(id(schedule))
    if cached is not None and cached[0] is schedule:
        return cached[1]
    rows = []
    for n, period in enumerate(schedule, 1):
        span = format_date(period.start)
        if period.end != period.start:
            span += f" – {format_date(period.end)}"
        rows.append((n, period.label, span, format_deadline(period.deadline)))
    if len(_period_rows_cache) >= 8:
        _period_rows_cache.clear()
    _period_rows_cache[id(schedule)] = (schedule, rows)
    return rows


def formula_text(campaign: Campaign, ind: Indicator, numbers: Mapping[str, int]) -> str:
    """How a computed indicator is made, in the row numbers clerks see: ``(1) + (2)``, ``(7) ÷ số cán bộ``."""
    terms = [f"({numbers[op]})" if op in numbers else campaign.attributes.get(op, op).lower() for op in ind.operands()]
    return (" + " if ind.kind is IndicatorKind.SUM else " ÷ ").join(terms)


def _meaning(campaign: Campaign, ind: Indicator, numbers: dict[str, int]) -> str:
    parts = [ind.note] if ind.note else []
    if ind.cumulative:
        parts.append("Báo cáo số lũy kế đến ngày báo cáo.")
    for rel in ind.relations:
        other = campaign.indicator_by_code.get(rel.right)
        other_text = f"({numbers[rel.right]}) {other.name}" if other and rel.right in numbers else rel.right
        parts.append(f"Điều kiện: {rel.op.label} {other_text}.")
    if ind.coordinating:
        parts.append(f"Cơ quan theo dõi: {ind.coordinating}.")
    return " ".join(parts)


# ---------------------------------------------------------------- hidden meta sheet


def _meta_sheet(
    campaign: Campaign, unit: Unit, indicators: list[Indicator]
) -> tuple[list[CellSpec], list[DefinedName], SheetSpec]:
    cells: list[CellSpec] = []

    def add(row: int, col: int, value: Any, key: str | None = None) -> None:
        cells.append(CellSpec(SHEET_META, row, col, value, ROLE_META, "meta", key=key))

    for col, header in ((META_COL_KEY, "key"), (META_COL_VALUE, "value")):
        add(1, col, header)
    values = {
        "campaign_code": campaign.info.code,
        "unit_code": unit.code,
        # Stored as text: every meta value reads back as the same string from any writer.
        "template_version": str(campaign.info.template_version),
    }
    for row, key in enumerate(META_KEYS, 2):
        add(row, META_COL_KEY, key)
        add(row, META_COL_VALUE, values.get(key), key=key)

    add(1, META_COL_PERIOD_LABEL, "period_label")
    add(1, META_COL_PERIOD_CODE, "period_code")
    schedule = campaign.schedule
    for row, period in enumerate(schedule, 2):
        add(row, META_COL_PERIOD_LABEL, period.label)
        add(row, META_COL_PERIOD_CODE, period.code)
    last = max(len(schedule), 1) + 1
    names = [
        DefinedName(
            NAME_PERIOD_LIST,
            SHEET_META,
            f"{cell_ref(2, META_COL_PERIOD_LABEL)}:{cell_ref(last, META_COL_PERIOD_LABEL)}",
        )
    ]

    # Status choices live in ranges too: an inline list cannot hold commas and stops at 255 characters.
    col = META_COL_FIRST_CHOICE
    for ind in indicators:
        if ind.kind is IndicatorKind.STATUS and ind.is_input:
            add(1, col, f"choices:{ind.code}")
            for row, choice in enumerate(ind.choices, 2):
                add(row, col, choice)
            end = cell_ref(len(ind.choices) + 1, col)
            names.append(DefinedName(f"{CHOICE_PREFIX}{ind.code}", SHEET_META, f"{cell_ref(2, col)}:{end}"))
            col += 1
    return cells, names, SheetSpec(name=SHEET_META, state="veryHidden", widths=(18, 66))


def _fill_meta(cell: CellSpec, digest: str) -> CellSpec:
    return cell._replace(value=digest) if cell.key == "layout_digest" else cell


# ---------------------------------------------------------------- small helpers


def _number(value: float) -> int | float:
    """Whole numbers as int so they print without a decimal part."""
    return int(value) if float(value).is_integer() else value


def _format_number(value: float) -> str:
    """Vietnamese number text: ``.`` groups thousands, ``,`` marks decimals."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _format_percent(value: float) -> str:
    return _format_number(round(value * 100, 4)) + "%"


def _bounds_text(low: float | None, high: float | None, fmt) -> str:
    if low is not None and high is not None:
        return f"từ {fmt(low)} đến {fmt(high)}"
    if high is not None:
        return f"không quá {fmt(high)}"
    return f"từ {fmt(low or 0)} trở lên"


def _shorten(text: str, limit: int) -> str:
    """Text cut to ``limit`` characters with an ellipsis (Excel caps validation texts)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _lines(text: str | None, width: float, factor: float = TEXT_FACTOR) -> int:
    """Lines ``text`` wraps to in a column ``width`` units wide (an estimate, on the safe side)."""
    if not text:
        return 1
    per_line = max(width * factor, 4.0)
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _row_height(lines: int, font_size: float = 12) -> float:
    """Row height in points for ``lines`` lines of text."""
    return round(lines * font_size * 1.3 + 3, 1)
