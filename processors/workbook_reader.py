"""Reading a returned unit template: identity, period, inputs and locked content.

The file is untrusted. The reader caps its size and its uncompressed size, parses
xl/workbook.xml with defusedxml (no entities), never evaluates anything, and reads cell
values with python-calamine. Cells are found through defined names (``MA_DON_VI``,
``KY_BAO_CAO``, ``NHAP_<code>``), so a file saved by Excel, LibreOffice or WPS reads the
same. Values are kept raw (calamine gives floats for whole numbers, datetimes for dates,
``None`` here for an empty cell); judging them is validation's job, not the reader's.
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree
from python_calamine import CalamineError, CalamineWorkbook

from forms.layout import (
    INPUT_PREFIX,
    META_COL_KEY,
    META_COL_VALUE,
    NAME_PERIOD,
    NAME_UNIT_CODE,
    SHEET_META,
    SHEET_REPORT,
    cell_ref,
)
from forms.signing import verify_identity
from processors.zip_members import normalise_name

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_PART_BYTES = 20 * 1024 * 1024
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_SHEET_STATES = {"visible", "hidden", "veryHidden"}
# 'Báo cáo'!$F$12, Sheet1!F12, 'It''s'!$D$2:$D$34 — Excel and LibreOffice both write these.
_NAME_TARGET = re.compile(
    r"^(?:'(?P<quoted>(?:[^']|'')+)'|(?P<plain>[^'!]+))!"
    r"\$?(?P<c1>[A-Za-z]{1,3})\$?(?P<r1>\d+)(?::\$?(?P<c2>[A-Za-z]{1,3})\$?(?P<r2>\d+))?$"
)
_CELL = re.compile(r"^([A-Z]{1,3})(\d+)$")
# Opening tags of cells and formulas, with or without a namespace prefix.
_CELL_OR_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?(?P<kind>[cf])(?=[\s/>])(?P<attrs>[^>]*)>")
_REF_ATTRIBUTE = re.compile(rb"""\br\s*=\s*(["'])([^"']*)\1""")


_WORKBOOK = "xl/workbook.xml"  # normalised part names (processors.zip_members.normalise_name)
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_BOOK_CACHE = 64  # distinct workbook.xml parts remembered (a campaign has a few template shapes)
_BOOK_CACHE_BYTES = 64 * 1024  # larger ones are not remembered
_book_cache: dict[tuple[bytes, bytes | None], _BookXml] = {}


class UnreadableWorkbook(Exception):
    """Raised when a returned file cannot be read at all; ``reason`` is a stable code, the message Vietnamese."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class ReturnedWorkbook:
    """What a returned template holds, as read: names, meta, identity, period and inputs."""

    source: str  # the file's name or path, for messages
    names: dict[str, tuple[str, str]]  # defined name → (sheet, "F12" or "D2:D34")
    sheet_states: dict[str, str]  # sheet → "visible" | "hidden" | "veryHidden", in workbook order
    structure_locked: bool  # LibreOffice drops structure protection on save: not a sign of tampering
    meta: dict[str, str]  # key/value rows of the "_chitieu" sheet, as text
    unit_code: Any
    period_label: Any
    inputs: dict[str, Any]  # indicator code → raw value (None when empty), for every NHAP_* name
    formulas: dict[str, str] = field(default_factory=dict)  # indicator code → formula found in its input cell
    cells: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)  # report sheet, non-empty, raw
    missing: tuple[str, ...] = ()  # required parts not found: names, or the meta sheet

    @property
    def template_version(self) -> int | None:
        """The meta sheet's template version as a number, or None when absent or not a number."""
        text = self.meta.get("template_version", "")
        return int(text) if text.isdigit() else None

    def is_signed_by(self, key: bytes) -> bool:
        """True when the meta sheet's HMAC is the office's signature of this file's stated identity."""
        version = self.template_version
        needed = ("campaign_code", "unit_code", "layout_digest", "hmac")
        if version is None or not all(self.meta.get(k) for k in needed):
            return False
        m = self.meta
        return verify_identity(key, m["campaign_code"], m["unit_code"], version, m["layout_digest"], m["hmac"])


def read_return(path: Path) -> ReturnedWorkbook:
    """Read a returned template from disk (raises ``UnreadableWorkbook`` only when it cannot be read at all)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableWorkbook("too_large", _too_large(path.name, size))
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableWorkbook("unreadable", f"Không mở được tệp «{path.name}»: {exc.strerror or exc}.") from exc
    return read_return_bytes(data, str(path))


def read_return_bytes(data: bytes, name: str = "", parts: Mapping[str, bytes] | None = None) -> ReturnedWorkbook:
    """Read a returned template from its bytes; ``name`` is only used in messages.

    ``parts``: the workbook's parts as ``processors.safety.inspect_bytes(keep_parts=True)``
    inflated and checked them (that check also bounds the file's and the parts' sizes);
    then they are parsed from there instead of from the zip again.
    """
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableWorkbook("too_large", _too_large(Path(name).name, len(data)))
    source: zipfile.ZipFile | _CheckedParts = _open_zip(data) if parts is None else _CheckedParts(parts)
    book_xml = _read_workbook_xml(source)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except CalamineError as exc:
        raise UnreadableWorkbook(
            "not_a_workbook", f"Không đọc được tệp «{Path(name).name}»: tệp hỏng hoặc không phải Excel."
        ) from exc
    names = book_xml.names
    grids = _SheetGrids(book)
    missing = [n for n in (NAME_UNIT_CODE, NAME_PERIOD) if n not in names]
    if grids.get(SHEET_META) is None:
        missing.append(SHEET_META)
    input_refs = {n[len(INPUT_PREFIX) :]: target for n, target in names.items() if n.startswith(INPUT_PREFIX)}
    return ReturnedWorkbook(
        source=name,
        names=names,
        sheet_states=book_xml.states,
        structure_locked=book_xml.structure_locked,
        meta=_read_meta(grids.get(SHEET_META)),
        unit_code=grids.value(*names[NAME_UNIT_CODE]) if NAME_UNIT_CODE in names else None,
        period_label=grids.value(*names[NAME_PERIOD]) if NAME_PERIOD in names else None,
        inputs={code: grids.value(*target) for code, target in input_refs.items()},
        formulas=_input_formulas(source, book_xml, input_refs),
        cells=_non_empty_cells(SHEET_REPORT, grids.get(SHEET_REPORT)),
        missing=tuple(missing),
    )


def parse_name_target(text: str) -> tuple[str, str] | None:
    """``'Báo cáo'!$F$12`` → ``("Báo cáo", "F12")``; a range keeps both ends; None for #REF!, unions, externals."""
    found = _NAME_TARGET.match(text.strip().lstrip("="))
    if not found:
        return None
    sheet = found["quoted"].replace("''", "'") if found["quoted"] is not None else found["plain"]
    if sheet.startswith("["):  # a reference into another workbook
        return None
    first = f"{found['c1'].upper()}{found['r1']}"
    if found["c2"] is None:
        return sheet, first
    last = f"{found['c2'].upper()}{found['r2']}"
    return sheet, first if first == last else f"{first}:{last}"


def _too_large(name: str, size: int) -> str:
    return f"Tệp «{name}» quá lớn ({size // 1048576} MB); mẫu biểu chỉ vài chục KB."


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableWorkbook("not_a_workbook", "Tệp không phải bảng tính Excel (.xlsx) hoặc đã bị hỏng.") from exc
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableWorkbook("too_large", "Tệp giải nén ra quá lớn; không phải mẫu biểu đã phát.")
    return archive


@dataclass(frozen=True)
class _BookXml:
    """What xl/workbook.xml and its relationships say: names, sheets and their parts."""

    names: dict[str, tuple[str, str]]
    states: dict[str, str]
    parts: dict[str, str]  # sheet name → zip member of its XML
    structure_locked: bool


def _read_workbook_xml(archive: zipfile.ZipFile | _CheckedParts) -> _BookXml:
    """Global defined names, sheet visibility and parts, and whether the structure is protected."""
    if isinstance(archive, _CheckedParts):
        # Every unit's template of one shape, saved by one program, has the very same
        # workbook.xml: parse those bytes once (the answer depends on nothing else).
        book, rels = archive.parts.get(_WORKBOOK), archive.parts.get(_WORKBOOK_RELS)
        if book is not None and len(book) + len(rels or b"") <= _BOOK_CACHE_BYTES:
            key = (book, rels)
            found = _book_cache.get(key)
            if found is None:
                found = _parse_workbook_xml(archive)
                if len(_book_cache) >= _BOOK_CACHE:
                    _book_cache.pop(next(iter(_book_cache)))
                _book_cache[key] = found
            return found
    return _parse_workbook_xml(archive)


def _parse_workbook_xml(archive: zipfile.ZipFile | _CheckedParts) -> _BookXml:
    root = _parse_member(archive, "xl/workbook.xml", required=True)
    rels = _parse_member(archive, "xl/_rels/workbook.xml.rels", required=False)
    targets = {}
    for rel in rels.iter(f"{_REL_NS}Relationship") if rels is not None else ():
        target = rel.get("Target", "")
        targets[rel.get("Id", "")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    states, parts = {}, {}
    for sheet in root.iter(f"{_MAIN_NS}sheet"):
        name = sheet.get("name", "")
        state = sheet.get("state", "visible")
        states[name] = state if state in _SHEET_STATES else "visible"
        parts[name] = targets.get(sheet.get(f"{_DOC_REL_NS}id", ""), "")
    names: dict[str, tuple[str, str]] = {}
    for element in root.iter(f"{_MAIN_NS}definedName"):
        name = element.get("name", "")
        if element.get("localSheetId") is not None or name.startswith("_xlnm."):
            continue  # print areas and other sheet-local names are not ours
        target = parse_name_target(element.text or "")
        if target is not None:
            names[name] = target
    protection = root.find(f"{_MAIN_NS}workbookProtection")
    locked = protection is not None and protection.get("lockStructure", "0").lower() in ("1", "true")
    return _BookXml(names, states, parts, locked)


class _CheckedParts:
    """Parts already inflated and checked by the safety checks, looked up as zip members are."""

    def __init__(self, parts: Mapping[str, bytes]):
        self.parts = parts

    def read(self, member: str) -> bytes:
        """The part's bytes (KeyError when the package has no such part, or it was not read whole)."""
        # The safety checks' names: forward slashes, ".." resolved, no leading slash, lower case.
        name = member.replace("\\", "/")
        if "." in name.rpartition("/")[0] or "//" in name:
            name = posixpath.normpath(name)
        return self.parts[normalise_name(name)]


def _parse_member(archive: zipfile.ZipFile | _CheckedParts, member: str, required: bool) -> Any:
    """A zip member parsed with defusedxml (no entities, no DTDs), size-capped; None when absent and optional."""
    if isinstance(archive, _CheckedParts):
        try:
            content = archive.read(member)
        except KeyError as exc:
            if not required:
                return None
            raise UnreadableWorkbook(
                "not_a_workbook", f"Tệp không phải bảng tính Excel (.xlsx): thiếu {member}."
            ) from exc
        if len(content) > MAX_PART_BYTES:
            raise UnreadableWorkbook("too_large", "Một phần của bảng tính quá lớn; không phải mẫu biểu đã phát.")
        try:
            return ElementTree.fromstring(content)
        except (ElementTree.ParseError, ValueError) as exc:
            raise UnreadableWorkbook("not_a_workbook", "Tệp Excel bị hỏng hoặc chứa nội dung không được phép.") from exc
    try:
        info = archive.getinfo(member)
    except KeyError as exc:
        if not required:
            return None
        raise UnreadableWorkbook("not_a_workbook", f"Tệp không phải bảng tính Excel (.xlsx): thiếu {member}.") from exc
    if info.file_size > MAX_PART_BYTES:
        raise UnreadableWorkbook("too_large", "Một phần của bảng tính quá lớn; không phải mẫu biểu đã phát.")
    try:
        return ElementTree.fromstring(archive.read(info))
    except (ElementTree.ParseError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        # defusedxml's refusals (entities, DTDs) are ValueError subclasses.
        raise UnreadableWorkbook("not_a_workbook", "Tệp Excel bị hỏng hoặc chứa nội dung không được phép.") from exc


def _input_formulas(
    archive: zipfile.ZipFile | _CheckedParts, book: _BookXml, refs: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """Formulas found in input cells (a clerk typed ``=...`` into a number cell); calamine only gives results."""
    wanted: dict[str, dict[str, str]] = {}
    for code, (sheet, ref) in refs.items():
        wanted.setdefault(sheet, {})[ref.split(":")[0]] = code
    found = {}
    for sheet, cells in wanted.items():
        part = book.parts.get(sheet)
        if not part or not _may_hold_formula(archive, part, cells):
            continue
        root = _parse_member(archive, part, required=False)
        for cell in root.iter(f"{_MAIN_NS}c") if root is not None else ():
            code = cells.get(cell.get("r", ""))
            formula = cell.find(f"{_MAIN_NS}f") if code else None
            if formula is not None:
                found[code] = formula.text or ""
    return found


def _may_hold_formula(archive: zipfile.ZipFile | _CheckedParts, part: str, refs: Mapping[str, str]) -> bool:
    """Cheap scan: does any formula element sit in one of ``refs``? False only when certainly not."""
    # Parsing a sheet with defusedxml costs more than everything else the reader does; a
    # linear scan of the tags settles the usual case (no formula typed) without it. Anything
    # odd (comments, CDATA) can only make this say True, and then the real parse decides.
    try:
        xml = archive.read(part)
    except (KeyError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    cell = None  # the latest cell's tag; its reference is only worked out when a formula follows
    for tag in _CELL_OR_FORMULA.finditer(xml):
        if tag["kind"] == b"c":
            cell = tag
        elif cell is not None:
            ref = _REF_ATTRIBUTE.search(cell["attrs"])
            if ref and ref[2].decode("ascii", "replace") in refs:
                return True
    return False


class _SheetGrids:
    """Sheets read on demand, each once, as rows aligned at A1."""

    def __init__(self, book: CalamineWorkbook):
        self.book = book
        self.grids: dict[str, list[list[Any]] | None] = {}

    def get(self, sheet: str) -> list[list[Any]] | None:
        if sheet not in self.grids:
            try:
                self.grids[sheet] = self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except CalamineError:
                self.grids[sheet] = None
        return self.grids[sheet]

    def value(self, sheet: str, ref: str) -> Any:
        """The raw value of one cell (the first cell of a range); None when empty or absent."""
        grid = self.get(sheet)
        position = _position(ref)
        if grid is None or position is None:
            return None
        row, col = position
        if row >= len(grid) or col >= len(grid[row]):
            return None
        value = grid[row][col]
        return None if value == "" else value


@functools.lru_cache(maxsize=4096)
def _position(ref: str) -> tuple[int, int] | None:
    """0-based (row, column) of ``F12`` (of a range's first cell); None when it is not a cell reference."""
    found = _CELL.match(ref.split(":")[0])
    return (int(found[2]) - 1, _column_index(found[1])) if found else None


def _read_meta(grid: list[list[Any]] | None) -> dict[str, str]:
    meta: dict[str, str] = {}
    for row in (grid or [])[1:]:
        key = row[META_COL_KEY - 1] if len(row) >= META_COL_KEY else ""
        value = row[META_COL_VALUE - 1] if len(row) >= META_COL_VALUE else ""
        if isinstance(key, str) and key.strip():
            meta[key.strip()] = _as_text(value)
    return meta


def _as_text(value: Any) -> str:
    """A meta value as text; a writer that turned "2" into the number 2.0 still gives "2"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _non_empty_cells(sheet: str, grid: list[list[Any]] | None) -> dict[tuple[str, str], Any]:
    cells = {}
    for r, row in enumerate(grid or [], 1):
        for c, value in enumerate(row, 1):
            if value != "":
                cells[(sheet, _ref(r, c))] = value
    return cells


@functools.lru_cache(maxsize=16384)
def _ref(row: int, col: int) -> str:
    """``cell_ref``, remembered: a template's few hundred cells are named again in every file read."""
    return cell_ref(row, col)


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1
