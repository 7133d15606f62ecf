"""Rendering a ``TemplateLayout`` as a locked .xlsx (XlsxWriter, no macros).

Every sheet is protected with the campaign's derived password; the workbook structure is
protected by inserting ``<workbookProtection lockStructure="1">`` into xl/workbook.xml
after XlsxWriter has written it (XlsxWriter has no API for it). XlsxWriter renders each
distinct shape of template once; every unit's file is that rendering with its own values
filled in (see "skeletons" below). Files are written to a temporary name in the target
folder and renamed, so a half-written template never appears on the share.
``write_templates`` spreads many units over a process pool.
"""

from __future__ import annotations

import functools
import io
import multiprocessing
import os
import re
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import xlsxwriter

from forms.atomic import write_atomic
from forms.layout import (
    ROLE_FORMULA,
    ROLE_META,
    CellSpec,
    SheetSpec,
    TemplateLayout,
    Validation,
    layout_template,
)
from forms.schema import TZ, Campaign, Target, Unit
from forms.signing import derive_sheet_password, hash_legacy_password, sign_identity

FONT = {"font_name": "Times New Roman", "font_size": 12}
YELLOW = "#FFFF99"
BORDER = {"border": 1, "valign": "vcenter"}
# Style keys of forms.layout → XlsxWriter format properties (locking is added from the role).
STYLES: dict[str, dict[str, Any]] = {
    "title": {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter", "text_wrap": True},
    "subtitle": {"italic": True, "align": "center", "valign": "vcenter", "text_wrap": True},
    "label": {"bold": True, "align": "right", "valign": "vcenter"},
    "value_bold": {"bold": True, "valign": "vcenter"},
    "note": {"italic": True, "font_size": 11, "valign": "vcenter"},
    "header": {**BORDER, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9D9D9"},
    "cell_center": {**BORDER, "align": "center"},
    "cell_text": {**BORDER, "text_wrap": True},
    "cell_int": {**BORDER, "num_format": "#,##0"},
    "cell_decimal": {**BORDER, "num_format": "#,##0.00"},
    "cell_pct": {**BORDER, "num_format": "0.0%"},
    "formula_int": {**BORDER, "num_format": "#,##0", "bg_color": "#F2F2F2"},
    "formula_pct": {**BORDER, "num_format": "0.0%", "bg_color": "#F2F2F2"},
    "input_int": {**BORDER, "num_format": "#,##0", "bg_color": YELLOW},
    "input_pct": {**BORDER, "num_format": "0.0%", "bg_color": YELLOW},
    # Text format ("@") keeps what a clerk types as text, so "=..." is never a formula.
    "input_choice": {**BORDER, "num_format": "@", "bg_color": YELLOW},
    "input_text": {**BORDER, "num_format": "@", "text_wrap": True, "bg_color": YELLOW, "valign": "top"},
    "input_period": {**BORDER, "num_format": "@", "bold": True, "bg_color": YELLOW},
    "guide_title": {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"},
    "guide_heading": {"bold": True, "valign": "vcenter"},
    "guide_number": {"align": "center", "valign": "top"},
    "guide_text": {"text_wrap": True, "valign": "top"},
    "meta": {"num_format": "@"},
}
CONDITIONAL_STYLES = {
    "shortfall": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    "achieved": {"bg_color": "#C6EFCE", "font_color": "#006100"},
}
PROTECT_OPTIONS = {"select_locked_cells": True, "select_unlocked_cells": True, "format_cells": False}
POOL_THRESHOLD = 64  # below this, starting worker processes costs more than it saves


def write_template(campaign: Campaign, unit: Unit, path: Path, key: bytes) -> Path:
    """Write ``unit``'s locked template for ``campaign`` to ``path`` atomically; return ``path``."""
    layout = layout_template(campaign, unit)
    data = render_template(layout, key)
    return write_atomic(Path(path), data)


def render_template(layout: TemplateLayout, key: bytes, issued_at: datetime | None = None) -> bytes:
    """The .xlsx bytes of ``layout``: signed meta sheet, protected sheets and workbook structure."""
    password = derive_sheet_password(key, layout.campaign_code)
    meta = {
        "hmac": sign_identity(key, layout.campaign_code, layout.unit_code, layout.template_version, layout.digest),
        "issued_at": (issued_at or datetime.now(TZ)).isoformat(timespec="seconds"),
    }
    values = [meta.get(c.key, c.value) if c.role == ROLE_META and c.key else c.value for c in layout.cells]
    skeleton = _skeleton_for(layout, values, password)
    return skeleton.fill([*values, layout.title])


def write_templates(
    campaign: Campaign,
    out_dir: Path,
    key: bytes,
    progress: Callable[[int, int], None] | None = None,
    processes: int | None = None,
) -> list[Path]:
    """Write one template per reporting unit into ``out_dir`` as ``<unit code>.xlsx``; paths in unit order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    codes = [u.code for u in campaign.reporting_units()]
    total = len(codes)
    workers = processes if processes is not None else min(os.cpu_count() or 1, 8)
    if total < POOL_THRESHOLD or workers <= 1:
        batch = _Batch(campaign, key, out_dir)
        return _collect(map(batch.write, codes), total, progress)
    # "spawn" everywhere: the same behaviour on the office's Windows machines, and no
    # fork of a process that may be running watcher threads.
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(50, total // (workers * 8)))
    with context.Pool(workers, initializer=_start_worker, initargs=(campaign, key, out_dir)) as pool:
        return _collect(pool.imap(_write_in_worker, codes, chunksize=chunk), total, progress)


def _collect(results: Iterable[Path], total: int, progress: Callable[[int, int], None] | None) -> list[Path]:
    paths = []
    for done, path in enumerate(results, 1):
        paths.append(path)
        if progress:
            progress(done, total)
    return paths


class _Batch:
    """One campaign's templates being written into one folder."""

    def __init__(self, campaign: Campaign, key: bytes, out_dir: Path):
        # Compute the cached lookups once on the original: the per-unit copies below share
        # them instead of each expanding the period series again.
        _ = campaign.unit_by_code, campaign.indicator_by_code, campaign.schedule
        self.campaign, self.key, self.out_dir = campaign, key, out_dir
        self.generic = tuple(t for t in campaign.targets if t.unit is None)
        self.by_unit: dict[str, list[Target]] = {}
        for t in campaign.targets:
            if t.unit is not None:
                self.by_unit.setdefault(t.unit, []).append(t)

    def write(self, unit_code: str) -> Path:
        """Write one unit's template; return its path."""
        unit = self.campaign.unit_by_code[unit_code]
        # Campaign.target_for/indicators_for scan every target; with one target per unit that
        # is quadratic over 10,000 units. A copy holding only the targets that can apply to
        # this unit gives the same answers (unit-specific targets always outrank generic ones).
        targets = self.generic + tuple(self.by_unit.get(unit_code, ()))
        narrowed = self.campaign.model_copy(update={"targets": targets})
        data = render_template(layout_template(narrowed, unit), self.key)
        return write_atomic(self.out_dir / f"{unit_code}.xlsx", data)


# The pool's per-process batch, set once by the initializer so the campaign is pickled once
# per worker rather than once per unit.
_worker_batch: _Batch | None = None


def _start_worker(campaign: Campaign, key: bytes, out_dir: Path) -> None:
    global _worker_batch
    _worker_batch = _Batch(campaign, key, out_dir)


def _write_in_worker(unit_code: str) -> Path:
    if _worker_batch is None:
        raise RuntimeError("pool worker started without its batch")
    return _worker_batch.write(unit_code)


# ---------------------------------------------------------------- skeletons

# XlsxWriter spends ~15 ms assembling one template's XML; 10,000 units must be written in
# under a minute on two cores. The units of a campaign share a handful of shapes (same
# cells, styles, names and validations; only the values differ), so each shape is rendered
# once with a placeholder in every value cell — text as ⟦i⟧, numbers as -9000000000000000-i —
# and each unit's file is that skeleton with its own values put back: the XML XlsxWriter
# would have written, for a fraction of the cost.
_NUMBER_BASE = 9 * 10**15
_SLOT = re.compile(r"<t>⟦(\d+)⟧</t>|<v>-9(\d{15})</v>|⟦(\d+)⟧")
_CONTROL_ESCAPED = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")
_SKELETON_CACHE_SIZE = 32
_skeletons: OrderedDict[tuple, _Skeleton] = OrderedDict()
_skeletons_lock = threading.Lock()  # a watcher thread and a button may render at once


class _Skeleton:
    """A rendered template with numbered slots where each unit's values go."""

    def __init__(self, xlsx: bytes):
        archive = zipfile.ZipFile(io.BytesIO(xlsx))
        # Per part: (name, None, compressed entry) when it has no slots — compressed once
        # here, not per unit — else (name, (chunks, slots), None).
        self.parts: list[tuple[str, tuple[list[str], list[tuple[int, int]]] | None, _Entry | None]] = []
        for info in archive.infolist():
            text = archive.read(info).decode("utf-8")
            pieces = _SLOT.split(text)
            if len(pieces) == 1:
                self.parts.append((info.filename, None, _Entry.of(info.filename, text.encode("utf-8"))))
                continue
            slots = []
            for text_slot, number, bare in zip(pieces[1::4], pieces[2::4], pieces[3::4], strict=True):
                if text_slot is not None:
                    slots.append((0, int(text_slot)))
                elif number is not None:
                    slots.append((1, int(number)))
                else:
                    slots.append((2, int(bare)))
            self.parts.append((info.filename, (pieces[0::4], slots), None))

    def fill(self, values: list[Any]) -> bytes:
        """The .xlsx bytes with ``values[i]`` in slot ``i``."""
        entries = []
        for name, template, entry in self.parts:
            if template is not None:
                chunks, slots = template
                pieces = [chunks[0]]
                for (kind, index), chunk in zip(slots, chunks[1:], strict=True):
                    pieces.append(_fill_slot(kind, values[index]))
                    pieces.append(chunk)
                entry = _Entry.of(name, "".join(pieces).encode("utf-8"))
            entries.append(entry)
        return _zip_entries(entries)


class _Entry(NamedTuple):
    """One deflated zip member, ready to be laid down."""

    name: bytes
    data: bytes  # raw deflate stream
    crc: int
    size: int

    @classmethod
    def of(cls, name: str, content: bytes) -> _Entry:
        return cls(name.encode("ascii"), zlib.compress(content, 6, wbits=-15), zlib.crc32(content), len(content))


_DOS_DATE_1980 = 0x21  # 1 January 1980, XlsxWriter's own timestamp for in-memory files


def _zip_entries(entries: list[_Entry]) -> bytes:
    """A plain zip (deflate, no zip64, no data descriptors) of already-compressed entries."""
    # zipfile cannot write precompressed members; laying the headers down directly lets the
    # parts every unit shares be compressed once per skeleton instead of once per unit.
    out, directory, offset = [], [], 0
    for e in entries:
        # version needed 2.0, no flags, deflate, time 00:00, date, crc, sizes, name length, no extra
        common = struct.pack("<HHHHHIIIH", 20, 0, 8, 0, _DOS_DATE_1980, e.crc, len(e.data), e.size, len(e.name))
        local = struct.pack("<I", 0x04034B50) + common + b"\0\0" + e.name
        # made by 2.0, then as above, then no extra/comment, disk 0, no attributes, offset
        central = struct.pack("<IH", 0x02014B50, 20) + common + struct.pack("<HHHHII", 0, 0, 0, 0, 0, offset)
        directory.append(central + e.name)
        out += (local, e.data)
        offset += len(local) + len(e.data)
    listing = b"".join(directory)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(listing), offset, 0)
    return b"".join([*out, listing, end])


@functools.lru_cache(maxsize=4096)
def _fill_slot(kind: int, value: Any) -> str:
    """The XML for one slot; cached, as most values (labels, headers) repeat in every unit."""
    if kind == 1:
        return f"<v>{value:.16G}</v>"
    if kind == 2:
        return _escape_xml(str(value))
    text = str(value)
    if not _NEEDS_ESCAPE.search(text):
        return f"<t>{text}</t>"
    # A shared string, escaped the way XlsxWriter escapes it: control characters as _xHHHH_.
    text = _CONTROL_ESCAPED.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m[1]):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    preserve = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f"<t{preserve}>{_escape_xml(text)}</t>"


def _escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _skeleton_for(layout: TemplateLayout, values: list[Any], password: str) -> _Skeleton:
    """The cached skeleton of this layout's shape, rendered on first use."""
    # A cell's shape is all of it but the value, plus the value's type; a formula is shape.
    kinds = tuple([c.value if c.role == ROLE_FORMULA else type(v) for c, v in zip(layout.cells, values, strict=True)])
    cells = tuple([c[:3] + c[4:] for c in layout.cells])
    shape = (password, layout.sheets, layout.names, cells, kinds)
    with _skeletons_lock:
        skeleton = _skeletons.get(shape)
        if skeleton is not None:
            _skeletons.move_to_end(shape)
            return skeleton
    placeholders = [_placeholder(i, c, v) for i, (c, v) in enumerate(zip(layout.cells, values, strict=True))]
    skeleton = _Skeleton(protect_structure(_render_xlsx(layout, placeholders, password, len(values)), password))
    with _skeletons_lock:
        _skeletons[shape] = skeleton
        if len(_skeletons) > _SKELETON_CACHE_SIZE:
            _skeletons.popitem(last=False)
    return skeleton


def _placeholder(index: int, cell: CellSpec, value: Any) -> Any:
    """What the skeleton holds in a cell: the formula or blank itself, else a numbered slot."""
    if cell.role == ROLE_FORMULA or value is None:
        return value
    return f"⟦{index}⟧" if isinstance(value, str) else -(_NUMBER_BASE + index)


def _render_xlsx(layout: TemplateLayout, values: list[Any], password: str, title_slot: int) -> bytes:
    """XlsxWriter rendering of ``layout`` with ``values`` (placeholders) in its cells."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "default_format_properties": dict(FONT)})
    book.set_properties({"title": f"⟦{title_slot}⟧", "author": "chitieu", "comments": "Mẫu biểu báo cáo"})
    formats = _Formats(book)
    sheets = {spec.name: _add_sheet(book, spec) for spec in layout.sheets}
    specs = {spec.name: spec for spec in layout.sheets}
    anchors = {(spec.name, m[0], m[1]): m for spec in layout.sheets for m in spec.merges}
    for cell, value in zip(layout.cells, values, strict=True):
        _write_cell(sheets[cell.sheet], cell, value, formats, anchors.get((cell.sheet, cell.row, cell.col)))
    for name in layout.names:
        book.define_name(name.name, name.formula)
    for sheet_name, sheet in sheets.items():
        _finish_sheet(sheet, specs[sheet_name], formats)
        sheet.protect(password, dict(PROTECT_OPTIONS))
    sheets[layout.sheets[0].name].activate()
    book.close()
    return buffer.getvalue()


# ---------------------------------------------------------------- sheets and cells


class _Formats:
    """XlsxWriter formats by (style key, locked), created on first use (they belong to one workbook)."""

    def __init__(self, book: xlsxwriter.Workbook):
        self.book = book
        self.cache: dict[tuple[str, bool], Any] = {}

    def get(self, style: str, locked: bool = True) -> Any:
        found = self.cache.get((style, locked))
        if found is None:
            found = self.book.add_format({**FONT, **STYLES[style], "locked": locked})
            self.cache[(style, locked)] = found
        return found

    def conditional(self, style: str) -> Any:
        found = self.cache.get((f"cf:{style}", True))
        if found is None:
            found = self.book.add_format(CONDITIONAL_STYLES[style])
            self.cache[(f"cf:{style}", True)] = found
        return found


def _add_sheet(book: xlsxwriter.Workbook, spec: SheetSpec) -> Any:
    sheet = book.add_worksheet(spec.name)
    for col, width in enumerate(spec.widths):
        sheet.set_column(col, col, width)
    for row, height in spec.heights:
        sheet.set_row(row - 1, height)
    if spec.state == "veryHidden":
        sheet.very_hidden()
    return sheet


def _write_cell(sheet: Any, cell: CellSpec, value: Any, formats: _Formats, merge: tuple | None) -> None:
    fmt = formats.get(cell.style, cell.locked)
    row, col = cell.row - 1, cell.col - 1
    if merge is not None:
        first_row, first_col, last_row, last_col = merge
        # merge_range writes the value with write(), which would turn "=..." text into a
        # formula; write blank first, then the value explicitly.
        sheet.merge_range(first_row - 1, first_col - 1, last_row - 1, last_col - 1, None, fmt)
    if cell.role == ROLE_FORMULA:
        sheet.write_formula(row, col, value, fmt, cell.cached if cell.cached is not None else 0)
    elif value is None:
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, str):
        sheet.write_string(row, col, value, fmt)
    else:
        sheet.write_number(row, col, value, fmt)
    if cell.validation is not None:
        sheet.data_validation(row, col, row, col, _validation_options(cell.validation))


def _validation_options(rule: Validation) -> dict[str, Any]:
    options: dict[str, Any] = {"validate": rule.kind, "criteria": rule.criteria, "ignore_blank": True}
    if rule.kind == "list":
        options["source"] = f"={rule.source}" if rule.source else list(rule.items)
    elif rule.criteria == "between":
        options.update(minimum=rule.minimum, maximum=rule.maximum)
    else:
        options["value"] = rule.minimum if rule.criteria == ">=" else rule.maximum
    for field in ("input_title", "input_message", "error_title", "error_message"):
        if getattr(rule, field):
            options[field] = getattr(rule, field)
    return options


def _finish_sheet(sheet: Any, spec: SheetSpec, formats: _Formats) -> None:
    for rule in spec.conditional:
        first, last = rule.range.split(":")
        sheet.conditional_format(
            f"{first}:{last}", {"type": "formula", "criteria": rule.formula, "format": formats.conditional(rule.style)}
        )
    if spec.freeze_row:
        sheet.freeze_panes(spec.freeze_row - 1, 0)
    if spec.state != "visible":
        return
    sheet.set_paper(9)  # A4
    sheet.set_portrait()
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.5, right=0.4, top=0.6, bottom=0.6)
    sheet.center_horizontally()
    sheet.set_footer("&CTrang &P/&N")
    if spec.print_area:
        sheet.print_area(spec.print_area)
    if spec.repeat_rows:
        sheet.repeat_rows(spec.repeat_rows[0] - 1, spec.repeat_rows[1] - 1)


# ---------------------------------------------------------------- workbook structure protection

_WORKBOOK_PR = re.compile(rb"<workbookPr\b[^>]*?/>|<workbookPr\b[^>]*>.*?</workbookPr>", re.S)
_BOOK_VIEWS = re.compile(rb"<bookViews\b")


def protect_structure(xlsx: bytes, password: str) -> bytes:
    """``xlsx`` with ``<workbookProtection lockStructure="1">`` in xl/workbook.xml (after workbookPr, before bookViews)."""
    element = f'<workbookProtection workbookPassword="{hash_legacy_password(password)}" lockStructure="1"/>'.encode()
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = _insert_protection(data, element)
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _insert_protection(workbook_xml: bytes, element: bytes) -> bytes:
    if b"<workbookProtection" in workbook_xml:
        return workbook_xml
    found = _WORKBOOK_PR.search(workbook_xml)
    if found:
        return workbook_xml[: found.end()] + element + workbook_xml[found.end() :]
    views = _BOOK_VIEWS.search(workbook_xml)
    if views is None:
        raise ValueError("xl/workbook.xml has neither workbookPr nor bookViews")
    return workbook_xml[: views.start()] + element + workbook_xml[views.start() :]
