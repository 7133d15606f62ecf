"""Is a zip a plain .xlsx? Package kind, macros, links, XML declarations and worksheet reach.

What is read, and why:
- [Content_Types].xml, xl/workbook.xml and its relationships, the shared strings, every
  worksheet under xl/worksheets/ and every part the workbook's relationships point to (a
  worksheet may live elsewhere; readers follow the relationship) are inflated whole, CRC
  checked and searched for DOCTYPE/ENTITY: these are what readers parse.
- Every other XML part (docProps, drawings, comments…) only has its first 4 KB checked: a
  DOCTYPE can only stand before the root element, so the prolog is enough.
- Worksheets are checked for their reach, not only their <dimension>: python-calamine builds a
  dense grid from the cell references, and a 5 KB sheet with cells A1 and XFD1048576 makes it
  abort the whole process (a Rust allocation failure Python cannot catch). Tried here, also
  with quoted, spaced and lower-case spellings of the reference, which it accepts too.
"""

from __future__ import annotations

import functools
import html
import posixpath
import re
import threading
import zipfile
from dataclasses import dataclass

from processors.file_names import safe_display_name
from processors.safety_messages import Refusal, format_size
from processors.zip_members import Members, raw_data, read_member, read_member_head

PROLOG_BYTES = 4096
CONTENT_TYPES = "[content_types].xml"
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
SHARED_STRINGS = "xl/sharedstrings.xml"
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_NOT_SHEETS = frozenset({WORKBOOK, SHARED_STRINGS, "xl/styles.xml", "xl/theme/theme1.xml", "xl/calcchain.xml"})
_MACRO_EXTENSIONS = (".xlsm", ".xlsb", ".xltm", ".xlam")
# VBA projects, Excel 4 macro sheets and ActiveX controls.
_MACRO_PREFIXES = ("xl/macrosheets/", "xl/activex/")
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
# OPC allows only UTF-8 and UTF-16; others (UTF-7, EBCDIC…) could spell "<!DOCTYPE" unseen.
_ALLOWED_ENCODINGS = frozenset({b"utf-8", b"utf8", b"utf-16", b"utf16", b"utf-16le", b"utf-16be"})
_UTF32_STARTS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"<\x00\x00\x00", b"\x00\x00\x00<")
# A part starts with a tag; group 1 is the encoding its XML declaration names, if any.
_XML_START = re.compile(rb"""\s*<(?:\?xml[^>]*?encoding\s*=\s*["']([^"']*)["'])?""")
_ROOT_START = re.compile(rb"<[^?!]")
# Canonical form for reference scanning: XML white space and "$" deleted, one kind of quote.
_CANONICAL = bytes.maketrans(b"'", b'"')
_CANONICAL_DELETE = b" \t\r\n$"
_DIMENSION = b'dimensionref="'
_TARGET = re.compile(rb"""\sTarget\s*=\s*["']([^"']*)""")
_RELATIONSHIP_TAG = re.compile(rb"<(?:[\w.-]+:)?Relationship\s[^>]*>")
_SHEET_TAG = re.compile(rb"<(?:[\w.-]+:)?sheet\s[^>]*>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL = re.compile(rb"([A-Za-z]+)([0-9]+)")


@dataclass(frozen=True, slots=True)
class SheetLimits:
    """How big a worksheet may be: XML bytes, and rows and columns it reaches."""

    max_bytes: int
    max_rows: int
    max_columns: int


def check_workbook_package(
    data: bytes, members: Members, name: str, limits: SheetLimits, keep: dict[str, bytes] | None = None
) -> str:
    """The kind ("xlsx") of a zip that is a plain, safe workbook; raises Refusal otherwise.

    ``keep``: filled with the parts read whole (workbook, relationships, shared strings,
    worksheets), inflated and checked, by normalised name, for a reader to parse without
    inflating them again.
    """
    check_package_kind(data, members)
    try:
        _check_workbook_parts(data, members, name, limits, {} if keep is None else keep)
    except Refusal as refusal:
        # Past the package check the file is known to be a workbook, even a broken one.
        refusal.kind = "xlsx" if refusal.kind == "zip" else refusal.kind
        raise
    return "xlsx"


def _check_workbook_parts(
    data: bytes, members: Members, name: str, limits: SheetLimits, keep: dict[str, bytes]
) -> None:
    """Macros, links, then every XML part: what check_workbook_package checks after the package kind."""
    if _has_macro_parts(name, members):
        raise Refusal("macro_enabled", "xlsm")
    if any(n.startswith("xl/externallinks/") or n == "xl/connections.xml" for n in members):
        raise Refusal("external_links", "xlsx")
    _raw, content_types = _read_whole(data, members, CONTENT_TYPES, limits)
    if b"macroenabled" in content_types.lower():
        raise Refusal("macro_enabled", "xlsm")
    relations = b""
    if WORKBOOK_RELS in members:
        keep[WORKBOOK_RELS], relations = _read_whole(data, members, WORKBOOK_RELS, limits)
    # Everything the workbook points to is read whole: a worksheet may live outside
    # xl/worksheets/ and readers follow the relationship to it.
    targets = {_resolve_target(t) for t in _TARGET.findall(relations)} & members.keys()
    whole = {WORKBOOK, SHARED_STRINGS} | targets
    # Where a worksheet lives outside xl/worksheets/, its content tells.
    maybe_sheets = targets - _NOT_SHEETS
    for part, info in members.items():
        if part.startswith("xl/worksheets/") and part.endswith(".xml"):
            whole.add(part)
            if info.file_size > limits.max_bytes:
                raise _sheet_refusal(data, members, part, f"{format_size(info.file_size)} dữ liệu XML")
    for part, info in members.items():
        if part in (CONTENT_TYPES, WORKBOOK_RELS):
            continue
        if part in whole:
            keep[part], _text = _read_whole(data, members, part, limits, part in maybe_sheets)
        elif part.endswith(_XML_SUFFIXES):
            _check_head(data, info)


def _read_whole(
    data: bytes, members: Members, part: str, limits: SheetLimits, maybe_sheet: bool = False
) -> tuple[bytes, bytes]:
    """A part read whole and checked (XML declarations; a worksheet's reach): its bytes, and as check_xml gives them.

    A part whose compressed bytes were checked before (the same theme, styles, workbook… in
    every unit's copy of a template) is not inflated and checked again: the same compressed
    bytes inflate to the same content, which passes the same checks.
    """
    info = members[part]
    key = _PASSED.key(data, info, ("whole", part, maybe_sheet, limits))
    found = _PASSED.get(key)
    if found is not None:
        return found
    raw = read_member(data, info)
    text = check_xml(raw, info.filename)
    if part.startswith("xl/worksheets/") or (maybe_sheet and b"sheetData" in text):
        check_sheet_extent(data, members, part, text, limits)
    _PASSED.put(key, (raw, text))
    return raw, text


def _check_head(data: bytes, info: zipfile.ZipInfo) -> None:
    """Check the prolog of a part readers do not parse (a DOCTYPE can only stand before the root element)."""
    key = _PASSED.key(data, info, ("head",))
    if _PASSED.get(key) is not None:
        return
    check_xml(read_member_head(data, info, PROLOG_BYTES), info.filename, complete=info.file_size <= PROLOG_BYTES)
    _PASSED.put(key, (b"", b""))


class _Passed:
    """Parts that passed the checks, by their compressed bytes (and what decides which checks ran).

    Bounded in entries and bytes; only small parts are kept.
    """

    MAX_ENTRIES = 256
    MAX_PART = 256 * 1024  # compressed or inflated size of a part kept at most
    MAX_BYTES = 16 * 2**20

    def __init__(self) -> None:
        self.entries: dict[tuple, tuple[bytes, bytes]] = {}
        self.size = 0
        self.lock = threading.Lock()

    def key(self, data: bytes, info: zipfile.ZipInfo, what: tuple) -> tuple | None:
        """The key of a member's content, or None when it is too big to keep; the local header is checked here."""
        if info.compress_size > self.MAX_PART or info.file_size > self.MAX_PART:
            return None
        raw = raw_data(data, info)  # refuses a local header that disagrees with the directory
        return (what, info.compress_type, info.file_size, info.CRC, bytes(raw))

    def get(self, key: tuple | None) -> tuple[bytes, bytes] | None:
        return None if key is None else self.entries.get(key)

    def put(self, key: tuple | None, value: tuple[bytes, bytes]) -> None:
        if key is None:
            return
        with self.lock:
            if key not in self.entries:
                self.entries[key] = value
                self.size += _entry_size(key, value)
            while len(self.entries) > self.MAX_ENTRIES or self.size > self.MAX_BYTES:
                oldest = next(iter(self.entries))
                self.size -= _entry_size(oldest, self.entries.pop(oldest))


def _entry_size(key: tuple, value: tuple[bytes, bytes]) -> int:
    return len(key[-1]) + len(value[0]) + (len(value[1]) if value[1] is not value[0] else 0)


_PASSED = _Passed()


def check_package_kind(data: bytes, members: Members) -> None:
    """Refuse zips that are not Office Open XML workbooks: ODS, DOCX, PPTX, XLSB, a plain zip."""
    mimetype = members.get("mimetype")
    if mimetype is not None and mimetype.file_size <= 256:
        content = read_member(data, mimetype).strip()
        if content.startswith(_ODS_MIMETYPE):
            raise Refusal("wrong_type_ods", "ods")
        if content.startswith(b"application/vnd.oasis.opendocument"):
            raise Refusal("wrong_type", "odf")
    has_workbook = WORKBOOK in members
    if "xl/workbook.bin" in members and not has_workbook:
        raise Refusal("macro_enabled", "xlsb")
    if CONTENT_TYPES in members and has_workbook:
        return
    if "word/document.xml" in members:
        raise Refusal("wrong_type", "docx")
    if "ppt/presentation.xml" in members:
        raise Refusal("wrong_type", "pptx")
    if CONTENT_TYPES not in members and not any(n.startswith("xl/") for n in members):
        raise Refusal("wrong_type", "zip")
    missing = "[Content_Types].xml" if CONTENT_TYPES not in members else "xl/workbook.xml"
    raise Refusal("corrupt_zip", "zip", value=missing)


def _has_macro_parts(name: str, members: Members) -> bool:
    """A VBA project, macro sheets or ActiveX controls inside, or a macro-enabled file extension."""
    if name.lower().rstrip(". ").endswith(_MACRO_EXTENSIONS):
        return True
    return any(n.endswith("vbaproject.bin") or n.startswith(_MACRO_PREFIXES) for n in members)


def check_xml(content: bytes, part: str, complete: bool = True) -> bytes:
    """Refuse a DTD (billion laughs, XXE) or an encoding that could hide one; the part as ASCII-compatible bytes.

    `complete` is False for a part's first bytes only: its root element must then start within them.
    """
    text = content
    if b"\x00" in content:
        # NUL is never XML text: the part is UTF-16 (allowed by OPC) or UTF-32 (not).
        if content.startswith(_UTF32_STARTS):
            raise _xml_refusal(part, "mã hóa ký tự UTF-32")
        if content.startswith((b"\xff\xfe", b"\xfe\xff")):
            encoding = "utf-16"
        else:
            encoding = "utf-16-be" if content[:1] == b"\x00" else "utf-16-le"
        text = content.decode(encoding, errors="replace").encode("utf-8")
    elif text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    if not text:
        return text
    start = _XML_START.match(text, 0, 512)
    if not start:
        raise _xml_refusal(part, "không bắt đầu bằng thẻ XML")
    if start.group(1) is not None and start.group(1).lower() not in _ALLOWED_ENCODINGS:
        raise _xml_refusal(part, f"mã hóa ký tự «{start.group(1).decode('ascii', 'replace')}»")
    if not complete and not _ROOT_START.search(text):
        raise _xml_refusal(part, "phần mở đầu quá dài")
    # A genuine part holds no "!" at all in markup; bytes.find of one byte is memchr-fast,
    # whereas searching "<!" directly costs a comparison at every "<".
    if b"!" in text:
        position = text.find(b"<!")
        while position != -1:
            # Excel writes no comments, CDATA or DTD; only a DTD can declare entities.
            if not text.startswith((b"<!--", b"<![CDATA["), position):
                raise _xml_refusal(part, "DOCTYPE/ENTITY")
            position = text.find(b"<!", position + 2)
    return text


def _xml_refusal(part: str, why: str) -> Refusal:
    """An xml_entities refusal for one part."""
    return Refusal("xml_entities", "xlsx", value=part, part=part, why=why)


def check_sheet_extent(data: bytes, members: Members, part: str, text: bytes, limits: SheetLimits) -> None:
    """Refuse a worksheet that is too big, or whose dimension or cell references reach too far."""
    if len(text) > limits.max_bytes:
        raise _sheet_refusal(data, members, part, f"{format_size(len(text))} dữ liệu XML")
    canonical = text.translate(_CANONICAL, _CANONICAL_DELETE)
    rows = columns = 0
    start = canonical.find(_DIMENSION)
    if start != -1:
        start += len(_DIMENSION)
        corners = [_parse_cell(c) for c in canonical[start : canonical.find(b'"', start)].split(b":")]
        if corners and all(corners):
            rows = max(r for _, r in corners) - min(r for _, r in corners) + 1
            columns = max(c for c, _ in corners) - min(c for c, _ in corners) + 1
    # Only references long enough to exceed a limit are collected: a template has hundreds.
    for letters, digits in _far_references(limits.max_rows, limits.max_columns).findall(canonical):
        rows = max(rows, int(digits))
        columns = max(columns, _column_number(letters))
    if rows > limits.max_rows or columns > limits.max_columns:
        reach = f"tới {rows:,} dòng và {columns:,} cột".replace(",", ".")
        raise _sheet_refusal(data, members, part, reach)


@functools.lru_cache(maxsize=8)
def _far_references(max_rows: int, max_columns: int) -> re.Pattern[bytes]:
    """A pattern for the r="…" references that could exceed the limits (in canonical form).

    A row number with fewer digits than max_rows + 1 cannot exceed max_rows; one letter
    reaches column 26, two letters column 702.
    """
    digits = len(str(max_rows + 1))
    letters = 1 if max_columns < 26 else 2 if max_columns < 702 else 3
    return re.compile(rb'r="(?=[A-Za-z]{%d}|[A-Za-z]*[0-9]{%d})([A-Za-z]*)([0-9]+)' % (letters, digits))


def _parse_cell(reference: bytes) -> tuple[int, int] | None:
    """(column, row) of b"AB12", 1-based; None when it is not a cell reference."""
    match = _CELL.fullmatch(reference)
    return (_column_number(match.group(1)), int(match.group(2))) if match else None


def _column_number(letters: bytes) -> int:
    """1 for A, 27 for AA, 16384 for XFD; 0 for none (a row reference)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _sheet_refusal(data: bytes, members: Members, part: str, why: str) -> Refusal:
    """A very_large_sheet refusal naming the sheet's tab when the workbook says which it is."""
    sheet = _sheet_name(data, members, part) or members[part].filename.rsplit("/", 1)[-1]
    return Refusal("very_large_sheet", "xlsx", value=members[part].filename, sheet=sheet, why=why)


def _sheet_name(data: bytes, members: Members, part: str) -> str | None:
    """The tab name of a worksheet part, from workbook.xml and its relationships; None if unknown."""
    try:
        workbook = read_member(data, members[WORKBOOK])
        relations = read_member(data, members[WORKBOOK_RELS])
    except (KeyError, Refusal):
        return None
    by_id = {rel_id: target for rel_id, _, target in _relationships(relations)}
    for tag in _SHEET_TAG.findall(workbook):
        attributes = _attributes(tag)
        rel_id = next((v for k, v in attributes.items() if k.endswith(":id")), "")
        if by_id.get(rel_id) == part:
            return safe_display_name(attributes.get("name", ""), limit=40)
    return None


def _relationships(relations: bytes) -> list[tuple[str, str, str]]:
    """(id, type's last word, normalised target part) of each internal relationship."""
    found = []
    for tag in _RELATIONSHIP_TAG.findall(relations):
        attributes = _attributes(tag)
        if attributes.get("TargetMode", "").lower() == "external":
            continue
        kind = attributes.get("Type", "").rsplit("/", 1)[-1]
        found.append((attributes.get("Id", ""), kind, _resolve_target(attributes.get("Target", ""))))
    return found


def _resolve_target(target: bytes | str) -> str:
    """The normalised part name a workbook relationship points to (relative to xl/ unless absolute)."""
    if isinstance(target, bytes):
        target = target.decode("utf-8", "replace")
        target = html.unescape(target) if "&" in target else target
    target = target.replace("\\", "/")
    target = target.lstrip("/") if target.startswith("/") else "xl/" + target
    # Readers resolve "..", so do we (normpath is slow: only when needed).
    if "." in target.rpartition("/")[0] or "//" in target:
        target = posixpath.normpath(target)
    return target.lower()


def _attributes(tag: bytes) -> dict[str, str]:
    """Attributes of one XML start tag, unescaped."""
    return {
        key.decode("ascii", "replace"): html.unescape((double or single).decode("utf-8", "replace"))
        for key, double, single in _ATTRIBUTE.findall(tag)
    }
