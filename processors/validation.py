"""Validating a returned template against the campaign: pure, values in, findings out.

``validate_return`` identifies the file (campaign, unit, version, signature, folder), checks
that its locked content is what was issued, that a period is chosen and open, and that
every figure fits its indicator (kind, bounds, relations, cumulative never decreasing). It
returns a ``Verdict``; nothing here reads or writes a file.
"""

from __future__ import annotations

import itertools
import re
import statistics
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from forms.findings import ERROR, WARNING, Finding
from forms.layout import (
    COL_VALUE,
    ROLE_FORMULA,
    SHEET_REPORT,
    TemplateLayout,
    canonical_value,
    input_name,
    layout_template,
    locked_content,
)
from forms.parsing import fold, suggest_thousands
from forms.schema import Campaign, Indicator, IndicatorKind, Period, Unit
from forms.signing import verify_identity

PERIOD_NAME = "KY_BAO_CAO"
UNIT_NAME = "MA_DON_VI"
MAX_TEXT = 500
JUMP_FACTOR = 10  # a step ten times the unit's usual step is worth a second look
YES = {"co", "x", "yes", "true", "1"}
NO = {"khong", "no", "false", "0"}
_VN_THOUSANDS = re.compile(r"^\d{1,3}([.,]\d{3})+$")


@dataclass(frozen=True)
class ReturnedFigures:
    """What the reader found in a returned workbook, before any judgement."""

    meta: Mapping[str, Any]
    names: Mapping[str, tuple[str, str]]  # defined name -> (sheet, cell)
    unit_code: Any
    period_label: Any
    inputs: Mapping[str, Any]  # indicator code -> raw value
    formulas: Mapping[str, str] = field(default_factory=dict)  # indicator code -> formula typed into its input cell
    locked: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # (sheet, cell) -> value of issued cells


@dataclass(frozen=True)
class History:
    """The unit's accepted past: per indicator, (period end as ISO date, value) in period order."""

    values: Mapping[str, list[tuple[str, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The judgement on one returned file."""

    accepted: bool
    findings: tuple[Finding, ...]
    unit_code: str | None = None
    period: Period | None = None
    template_version: int | None = None
    timeliness: str | None = None  # "on_time" | "late"
    values: Mapping[str, float | str | bool | None] = field(default_factory=dict)


LayoutSource = Callable[[Campaign, Unit], TemplateLayout]


def _refuse(findings: list[Finding], **known: Any) -> Verdict:
    return Verdict(accepted=False, findings=tuple(findings), **known)


def _finding(
    code: str,
    message: str,
    hint: str = "",
    *,
    place: tuple[str, str] | None = None,
    severity: str = ERROR,
    value: Any = None,
) -> Finding:
    sheet, cell = place or (None, None)
    row = column = None
    if cell:
        m = re.match(r"^\$?([A-Z]{1,3})\$?(\d+)$", cell)
        if m:
            column, row = m.group(1), int(m.group(2))
    return Finding(
        code=code,
        message=message,
        severity=severity,
        sheet=sheet,
        row=row,
        column=column,
        value=value,
        hint=hint or None,
    )


def identify(
    campaign: Campaign, folder_unit: str, got: ReturnedFigures, key: bytes, layout_of: LayoutSource = layout_template
) -> tuple[list[Finding], Unit | None, TemplateLayout | None]:
    """Check which template this is: ours, this campaign, a known unit, signed, current, in its own folder, untouched."""
    meta = got.meta
    if not meta or "campaign_code" not in meta:
        return (
            [
                _finding(
                    "not_our_template",
                    "Tệp không phải mẫu biểu do cơ quan tổng hợp phát hành (không có phần nhận dạng).",
                    "tải mẫu biểu của đơn vị trong thư mục «Mẫu biểu», nhập số liệu vào đó rồi nộp lại.",
                )
            ],
            None,
            None,
        )
    code = str(meta.get("campaign_code"))
    if code != campaign.info.code:
        return (
            [
                _finding(
                    "other_campaign",
                    f"Đây là mẫu biểu của chiến dịch khác («{code}»), không phải «{campaign.info.name}».",
                    "dùng đúng mẫu biểu của chiến dịch này trong thư mục «Mẫu biểu».",
                )
            ],
            None,
            None,
        )
    unit_code = str(meta.get("unit_code", ""))
    unit = campaign.unit_by_code.get(unit_code)
    try:
        version = int(float(meta.get("template_version", 0)))
    except (TypeError, ValueError):
        version = 0
    signature = str(meta.get("hmac", ""))
    digest = str(meta.get("layout_digest", ""))
    if unit is None or not verify_identity(key, code, unit_code, version, digest, signature):
        return (
            [
                _finding(
                    "bad_signature",
                    "Phần nhận dạng của mẫu biểu không hợp lệ (đã bị sửa hoặc không do cơ quan tổng hợp phát hành).",
                    "tải lại mẫu biểu gốc trong thư mục «Mẫu biểu», nhập lại số liệu rồi nộp.",
                )
            ],
            unit,
            None,
        )
    current = campaign.info.template_version
    layout = layout_of(campaign, unit)
    if version != current or digest != layout.digest:
        return (
            [
                _finding(
                    "old_template",
                    f"Mẫu biểu này là phiên bản cũ ({version}); phiên bản hiện hành là {current}.",
                    "tải mẫu biểu mới trong thư mục «Mẫu biểu», nhập lại số liệu vào mẫu mới rồi nộp.",
                )
            ],
            unit,
            None,
        )
    findings: list[Finding] = []
    if folder_unit != unit_code:
        findings.append(
            _finding(
                "wrong_folder",
                f"Đây là mẫu biểu của «{unit.name}» ({unit_code}) nhưng được nộp vào thư mục của đơn vị «{folder_unit}».",
                "mỗi đơn vị chỉ nộp mẫu biểu của mình, vào thư mục «Nộp báo cáo» của mình.",
            )
        )
        return findings, unit, layout
    if not got.locked:  # the report sheet was deleted (or emptied): one finding, not one per issued cell
        findings.append(
            _finding(
                "missing_sheet",
                f"Mẫu biểu thiếu trang «{SHEET_REPORT}» (trang đã bị xóa hoặc xóa hết nội dung).",
                "không xóa, đổi tên hay di chuyển các trang của mẫu biểu; tải lại mẫu gốc, nhập số liệu rồi nộp.",
            )
        )
        return findings, unit, layout
    changed = _changed_locked_cells(layout, got.locked)
    for sheet, cell, issued, found in changed[:20]:
        findings.append(
            _finding(
                "tampered",
                f"Ô đã khóa bị thay đổi: phát hành «{_shown(issued)}», nay là «{_shown(found)}».",
                "không sửa các ô đã khóa (tên chỉ tiêu, chỉ tiêu được giao); tải lại mẫu gốc.",
                place=(sheet, cell),
                value=found,
            )
        )
    missing = [
        n
        for n in (PERIOD_NAME, UNIT_NAME, *(input_name(i.code) for i in campaign.indicators_for(unit) if i.is_input))
        if n not in got.names
    ]
    if missing:
        findings.append(
            _finding(
                "missing_name",
                f"Mẫu biểu thiếu các ô nhập đã đặt tên: {', '.join(missing)}.",
                "không xóa dòng, cột hay trang của mẫu biểu; tải lại mẫu gốc.",
            )
        )
    if str(got.unit_code or "") != unit_code and UNIT_NAME in got.names:
        findings.append(
            _finding(
                "tampered",
                f"Ô mã đơn vị ghi «{got.unit_code}», khác «{unit_code}».",
                "không sửa ô mã đơn vị.",
                place=got.names[UNIT_NAME],
                value=got.unit_code,
            )
        )
    return findings, unit, layout


def _changed_locked_cells(
    layout: TemplateLayout, found: Mapping[tuple[str, str], Any]
) -> list[tuple[str, str, Any, Any]]:
    """``forms.layout.changed_locked_cells``, with the issued side worked out once per layout."""
    changes = []
    for place, issued, canonical in _issued_locked(layout):
        value = found.get(place)
        kind = type(value)
        # What certainly has the issued canonical form is unchanged: the same text, the same
        # non-zero number (-0.0 and 0.0 differ in it), nothing where nothing was issued.
        # Anything else is compared as the digest compares it.
        if kind is str or kind is float:
            if value == issued and (kind is str or (value and type(issued) in (int, float))):
                continue
        elif value is None and issued is None:
            continue
        if canonical_value(value) != canonical:
            changes.append((place[0], place[1], issued, value))
    return changes


# Per layout, its locked content with each issued value's canonical form; an entry goes with its layout.
_issued_by_layout: dict[int, list[tuple[tuple[str, str], Any, Any]]] = {}


def _issued_locked(layout: TemplateLayout) -> list[tuple[tuple[str, str], Any, Any]]:
    found = _issued_by_layout.get(id(layout))
    if found is None:
        found = [((sheet, ref), value, canonical_value(value)) for sheet, ref, value in locked_content(layout.cells)]
        _issued_by_layout[id(layout)] = found
        weakref.finalize(layout, _issued_by_layout.pop, id(layout), None)
    return found


def _shown(value: Any) -> str:
    """A cell value as a clerk reads it in a message: an empty cell is «(trống)», not «None»."""
    return "(trống)" if value is None or value == "" else str(value)


def check_period(
    campaign: Campaign, got: ReturnedFigures, now: datetime
) -> tuple[list[Finding], Period | None, str | None]:
    """Find the chosen period; refuse when none, unknown, not yet open or closed; tell on time or late."""
    place = got.names.get(PERIOD_NAME)
    label = str(got.period_label or "").strip()
    if not label:
        return (
            [
                _finding(
                    "no_period",
                    "Chưa chọn kỳ báo cáo.",
                    "chọn kỳ báo cáo trong danh sách ở ô «Kỳ báo cáo».",
                    place=place,
                )
            ],
            None,
            None,
        )
    period = campaign.period_by_label.get(label) or campaign.period_by_code.get(label)
    if period is None:
        return (
            [
                _finding(
                    "unknown_period",
                    f"Kỳ báo cáo «{label}» không có trong kế hoạch.",
                    "chọn kỳ trong danh sách, không gõ tay.",
                    place=place,
                    value=label,
                )
            ],
            None,
            None,
        )
    if now.date() < period.start:
        return (
            [
                _finding(
                    "period_not_open",
                    f"Kỳ «{period.label}» chưa bắt đầu (từ {period.start:%d/%m/%Y}).",
                    "chọn đúng kỳ hiện tại.",
                    place=place,
                    value=label,
                )
            ],
            period,
            None,
        )
    closes = period.closes_at(campaign.info.late_days)
    if now > closes:
        return (
            [
                _finding(
                    "period_closed",
                    f"Kỳ «{period.label}» đã khóa từ {closes:%H:%M %d/%m/%Y}, không nhận báo cáo nữa.",
                    "liên hệ cơ quan tổng hợp nếu cần bổ sung số liệu.",
                    place=place,
                    value=label,
                )
            ],
            period,
            None,
        )
    return [], period, ("on_time" if now <= period.deadline else "late")


def parse_figure(ind: Indicator, raw: Any, place: tuple[str, str] | None) -> tuple[Any, list[Finding]]:
    """Turn one input cell's raw value into a typed figure, or findings saying what to fix."""
    name = f"«{ind.name}»"

    def bad(code: str, message: str, hint: str) -> tuple[None, list[Finding]]:
        return None, [_finding(code, message, hint, place=place, value=raw)]

    blank = raw is None or (isinstance(raw, str) and not raw.strip())
    if blank:
        if ind.kind is IndicatorKind.TEXT:
            return None, []
        return bad("missing_value", f"{name}: chưa nhập số liệu.", "nhập số liệu vào ô này (không có thì nhập 0).")
    if ind.kind is IndicatorKind.COUNT:
        return _parse_count(ind, raw, bad)
    if ind.kind is IndicatorKind.PERCENT:
        return _parse_percent(ind, raw, bad)
    if ind.kind is IndicatorKind.YES_NO:
        key = fold(str(raw)) if not isinstance(raw, bool) else ("co" if raw else "khong")
        if key in YES:
            return True, []
        if key in NO:
            return False, []
        return bad(
            "bad_choice", f"{name}: «{raw}» không phải «Có» hoặc «Không».", "chọn «Có» hoặc «Không» trong danh sách."
        )
    if ind.kind is IndicatorKind.STATUS:
        for choice in ind.choices:
            if fold(str(raw)) == fold(choice):
                return choice, []
        return bad(
            "bad_choice", f"{name}: «{raw}» không có trong danh sách.", f"chọn một trong: {'; '.join(ind.choices)}."
        )
    text = str(raw)
    if len(text) > MAX_TEXT:
        return bad("text_too_long", f"{name}: dài {len(text)} ký tự, tối đa {MAX_TEXT}.", "viết ngắn gọn hơn.")
    return text, []


def _parse_count(ind: Indicator, raw: Any, bad) -> tuple[Any, list[Finding]]:
    name = f"«{ind.name}»"
    if isinstance(raw, bool):
        return bad("not_a_number", f"{name}: «{raw}» không phải là số.", "nhập một số nguyên.")
    if isinstance(raw, str):
        text = raw.strip().replace(" ", "").replace("\u00a0", "")
        if _VN_THOUSANDS.match(text):
            meant = int(re.sub(r"[.,]", "", text))
            return bad(
                "thousands_text",
                f"{name}: «{raw}» là chữ, không phải số.",
                f"nếu ý là {meant}, hãy nhập {meant} (không dùng dấu chấm hay phẩy ngăn cách hàng nghìn).",
            )
        if re.fullmatch(r"-?\d+", text):
            raw = float(text)  # digits typed into a text-formatted cell: a plain count, take it
        else:
            return bad("not_a_number", f"{name}: «{raw}» không phải là số.", "chỉ nhập chữ số, ví dụ 1250.")
    value = float(raw)
    if value < 0:
        return bad("negative", f"{name}: không được âm ({value:g}).", "nhập số từ 0 trở lên.")
    if not value.is_integer():
        meant = suggest_thousands(value)
        hint = (
            f"nếu ý là {meant}, hãy nhập {meant} (không dùng dấu chấm ngăn cách hàng nghìn)."
            if meant
            else "nhập số nguyên."
        )
        return bad("fractional_count", f"{name}: {value:g} không phải số nguyên.", hint)
    return _bounded(ind, int(value), bad)


def _parse_percent(ind: Indicator, raw: Any, bad) -> tuple[Any, list[Finding]]:
    name = f"«{ind.name}»"
    if isinstance(raw, str):
        text = raw.strip().rstrip("%").replace(",", ".").strip()
        try:
            raw = float(text) / 100
        except ValueError:
            return bad("not_a_number", f"{name}: «{raw}» không phải là tỷ lệ.", "nhập tỷ lệ, ví dụ 92%.")
    if isinstance(raw, bool):
        return bad("not_a_number", f"{name}: «{raw}» không phải là tỷ lệ.", "nhập tỷ lệ, ví dụ 92%.")
    value = float(raw)
    if value < 0 or value > 1:
        return bad(
            "percent_out_of_range",
            f"{name}: {value:.1%} nằm ngoài khoảng 0%–100%.",
            "nhập tỷ lệ từ 0% đến 100%, ví dụ 92%.",
        )
    return _bounded(ind, value, bad)


def _bounded(ind: Indicator, value: float, bad) -> tuple[Any, list[Finding]]:
    name = f"«{ind.name}»"
    if ind.minimum is not None and value < ind.minimum:
        return bad(
            "below_minimum",
            f"{name}: {value:g} nhỏ hơn mức tối thiểu {ind.minimum:g}.",
            f"nhập từ {ind.minimum:g} trở lên.",
        )
    if ind.maximum is not None and value > ind.maximum:
        return bad(
            "above_maximum", f"{name}: {value:g} lớn hơn mức tối đa {ind.maximum:g}.", f"nhập tối đa {ind.maximum:g}."
        )
    return value, []


def check_figures(
    campaign: Campaign,
    unit: Unit,
    period: Period | None,
    got: ReturnedFigures,
    history: History,
    layout: TemplateLayout | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    """Parse every input, then check relations, cumulative order and the warnings (jumps, above target).

    Sums (e.g. Mức 1 + Mức 2) are not typed but are what targets are set on: they are computed
    from their parts for the checks (never recorded), and placed at the template's formula cell.
    """
    findings: list[Finding] = []
    values: dict[str, Any] = {}
    indicators = campaign.indicators_for(unit)
    places = {i.code: got.names.get(input_name(i.code)) for i in indicators}
    for ind in indicators:
        if not ind.is_input:
            continue
        place = places[ind.code]
        if ind.code in got.formulas:
            findings.append(
                _finding(
                    "formula_in_input",
                    f"«{ind.name}»: ô nhập chứa công thức «={got.formulas[ind.code]}».",
                    "nhập con số, không nhập công thức.",
                    place=place,
                    value=got.formulas[ind.code],
                )
            )
            continue
        value, problems = parse_figure(ind, got.inputs.get(ind.code), place)
        findings += problems
        if not problems:
            values[ind.code] = value
    known = {**values, **_sums(indicators, values)}
    if layout is not None:
        places.update(
            {c.key: (c.sheet, c.ref) for c in layout.cells if c.role == ROLE_FORMULA and c.col == COL_VALUE and c.key}
        )
    for ind in indicators:
        for rel in ind.relations:
            left, right = known.get(rel.left), known.get(rel.right)
            if isinstance(left, int | float) and isinstance(right, int | float) and not isinstance(left, bool):
                if not rel.holds(left, right):
                    other = campaign.indicator_by_code[rel.right].name
                    findings.append(
                        _finding(
                            "relation_violated",
                            f"«{ind.name}» ({left:g}) phải {rel.op.label} «{other}» ({right:g}).",
                            "kiểm tra lại hai số liệu này.",
                            place=places.get(rel.left),
                            value=left,
                        )
                    )
    if period is not None:
        findings += _check_history(campaign, unit, period, known, places, history)
    return findings, values


def _sums(indicators: list[Indicator], values: Mapping[str, Any]) -> dict[str, float]:
    """Each sum indicator whose parts were all given as numbers, computed."""
    sums = {}
    for ind in indicators:
        if ind.kind is IndicatorKind.SUM:
            parts = [values.get(p) for p in ind.parts]
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in parts):
                sums[ind.code] = sum(parts)
    return sums


def _check_history(
    campaign: Campaign,
    unit: Unit,
    period: Period,
    values: Mapping[str, Any],
    places: Mapping[str, Any],
    history: History,
) -> list[Finding]:
    findings = []
    end = period.end.isoformat()
    for code, value in values.items():
        ind = campaign.indicator_by_code[code]
        if not ind.is_numeric or isinstance(value, bool):
            continue
        past = [(e, v) for e, v in history.values.get(code, []) if e < end and isinstance(v, int | float)]
        if ind.cumulative and past and value < past[-1][1]:
            findings.append(
                _finding(
                    "cumulative_decrease",
                    f"«{ind.name}» là số lũy kế nhưng {value:g} nhỏ hơn số đã báo cáo trước đó ({past[-1][1]:g}).",
                    "số lũy kế chỉ tăng hoặc giữ nguyên; kiểm tra lại.",
                    place=places.get(code),
                    value=value,
                )
            )
            continue
        series = [v for _s, v in past]
        if ind.cumulative:
            steps = [b - a for a, b in itertools.pairwise(series) if b > a]
            step = value - series[-1] if series else None
        else:
            steps, step = series, value
        if step is not None and len(steps) >= 2:
            usual = statistics.median(steps)
            if usual > 0 and step > JUMP_FACTOR * usual:
                findings.append(
                    _finding(
                        "unusual_jump",
                        f"«{ind.name}» tăng {step:g}, gấp hơn {JUMP_FACTOR} lần mức thường thấy ({usual:g}).",
                        "kiểm tra lại số liệu (đã được ghi nhận).",
                        place=places.get(code),
                        severity=WARNING,
                        value=value,
                    )
                )
        target = campaign.target_for(unit, code)
        if target and target.value and ind.kind in (IndicatorKind.COUNT, IndicatorKind.SUM) and value > target.value:
            findings.append(
                _finding(
                    "above_target",
                    f"«{ind.name}» ({value:g}) vượt chỉ tiêu được giao ({target.value:g}).",
                    "nếu đúng thì không cần làm gì.",
                    place=places.get(code),
                    severity=WARNING,
                    value=value,
                )
            )
    return findings


def validate_return(
    campaign: Campaign,
    folder_unit: str,
    got: ReturnedFigures,
    key: bytes,
    now: datetime,
    history: History | None = None,
    layout_of: LayoutSource = layout_template,
) -> Verdict:
    """Judge one returned workbook: accepted with typed values, or refused with every finding."""
    findings, unit, _layout = identify(campaign, folder_unit, got, key, layout_of)
    version = None
    try:
        version = int(float(got.meta.get("template_version"))) if got.meta else None
    except (TypeError, ValueError):
        version = None
    unit_code = unit.code if unit else None
    if unit is None or any(
        f.code
        in {"bad_signature", "old_template", "wrong_folder", "not_our_template", "other_campaign", "missing_sheet"}
        for f in findings
    ):
        return _refuse(findings, unit_code=unit_code, template_version=version)
    period_findings, period, timeliness = check_period(campaign, got, now)
    findings += period_findings
    figure_findings, values = check_figures(campaign, unit, period, got, history or History(), _layout)
    findings += figure_findings
    accepted = not any(f.is_error for f in findings)
    return Verdict(
        accepted=accepted,
        findings=tuple(findings),
        unit_code=unit_code,
        period=period,
        template_version=version,
        timeliness=timeliness,
        values=values if accepted else {},
    )
