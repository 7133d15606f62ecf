"""The marked-up copy of a refused workbook, made by editing its XML parts directly.

The clerk's own file comes back with each wrong cell filled red and a note saying what to
fix. openpyxl does that by loading the whole workbook into objects and writing it all out
again (about a tenth of a second per file, most of a large intake's time when hundreds of
files are refused); here only three things change: one fill and a few cell formats are
appended to xl/styles.xml, the marked cells' ``s`` attributes point at them, and a comments
part with its VML drawing is added to the sheet. Everything else is copied as it was.

The file has passed the safety checks before it gets here (it was read and judged). Anything
unusual (prefixed tags, a cell or sheet that is not there, a sheet that already has notes)
raises ``Unsupported`` and the caller falls back to openpyxl.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Mapping, Sequence

from forms.findings import Finding

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_COMMENTS = f"{DOC_REL_NS}/comments"
REL_VML = f"{DOC_REL_NS}/vmlDrawing"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
AUTHOR = "chitieu"
NOTE_WIDTH, NOTE_HEIGHT = 320, 120  # px, as the openpyxl path sets them

_CONTENT_TYPES = "[Content_Types].xml"
_WORKBOOK = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_STYLES_TYPE = f"{DOC_REL_NS}/styles"
_ATTRIBUTE = re.compile(r"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SHEET_TAG = re.compile(r"<sheet\b[^>]*>")
_RELATIONSHIP = re.compile(r"<Relationship\b[^>]*>")
_FILLS = re.compile(r"<fills\b[^>]*?(/?)>")
_FILL_ELEMENT = re.compile(r"<fill\b[^>]*?/>|<fill\b[^>]*>.*?</fill>", re.S)
_CELL_XFS = re.compile(r"<cellXfs\b[^>]*?(/?)>")
_XF_ELEMENT = re.compile(r"<xf\b[^>]*?/>|<xf\b[^>]*>.*?</xf>", re.S)
_XF_OPEN = re.compile(r"<xf\b[^>]*?(/?)>")
_COUNT = re.compile(r"""\scount\s*=\s*(["'])\d*\1""")
_WORKSHEET = re.compile(r"<worksheet\b[^>]*>")
_ROW = re.compile(r"<row\b[^>]*?(/?)>")
_CELL_TAG = re.compile(r"<c\b[^>]*?(/?)>")
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
# Elements that follow <legacyDrawing> in a worksheet (ECMA-376 CT_Worksheet order), and the
# ends of the elements before it that may hold an <extLst> of their own.
_AFTER_LEGACY = re.compile(
    r"<(?:legacyDrawingHF|drawingHF|picture|oleObjects|controls|webPublishItems|tableParts|extLst)\b|</worksheet>"
)
_BEFORE_LEGACY_ENDS = (
    "</sheetData>", "</autoFilter>", "</sortState>", "</customSheetViews>", "</conditionalFormatting>",
    "</dataValidations>", "</headerFooter>", "</customProperties>", "</cellWatches>", "</ignoredErrors>",
    "</smartTags>", "<drawing ",
)  # fmt: skip


class Unsupported(Exception):
    """This workbook is not one the direct edit handles; use the general (openpyxl) path."""


def annotate_bytes(original: bytes, marks: Sequence[tuple[str, str, str]], fill_rgb: str) -> bytes:
    """``original`` with each (sheet, cell, note) cell filled ``fill_rgb`` and carrying the note; raises Unsupported."""
    if not marks:
        raise Unsupported("nothing to mark")
    try:
        archive = zipfile.ZipFile(io.BytesIO(original))
        infos = archive.infolist()
        parts = {info.filename: archive.read(info) for info in infos}
    # NotImplementedError is zipfile's answer to a compression method it lacks (e.g. Deflate64):
    # not a placeholder here, just another file the direct edit hands to openpyxl.
    except (zipfile.BadZipFile, ValueError, EOFError, KeyError, NotImplementedError) as exc:
        raise Unsupported(f"zip: {exc}") from exc
    names = {name.lower(): name for name in parts}
    book = _text(parts, names, _WORKBOOK)
    rels = _text(parts, names, _WORKBOOK_RELS)
    targets = {}
    styles_part = None
    for tag in _RELATIONSHIP.findall(rels):
        attrs = _attributes(tag)
        target = _resolve(attrs.get("Target", ""), "xl")
        targets[attrs.get("Id", "")] = target
        if attrs.get("Type") == _STYLES_TYPE:
            styles_part = target
    sheet_parts: dict[str, str] = {}
    for tag in _SHEET_TAG.findall(book):
        attrs = _attributes(tag)
        rel_id = next((v for k, v in attrs.items() if k.endswith(":id") and k != "sheetId"), "")
        sheet_parts[_unescape(attrs.get("name", ""))] = targets.get(rel_id, "")
    if styles_part is None:
        raise Unsupported("no styles part")
    by_sheet: dict[str, dict[str, list[str]]] = {}
    for sheet, cell, note in marks:
        if sheet not in sheet_parts or not _CELL_REF.match(cell):
            raise Unsupported(f"sheet or cell not found: {sheet}!{cell}")
        by_sheet.setdefault(sheet, {}).setdefault(cell, []).append(note)
    styles_name = _member(names, styles_part)
    styles = _text(parts, names, styles_part)
    styles, fill_id = _add_fill(styles, fill_rgb)
    content_types = _text(parts, names, _CONTENT_TYPES)
    added: dict[str, bytes] = {}
    restyled: dict[int, int] = {}  # original cell format -> the same with the mark fill
    for sheet, cells in by_sheet.items():
        part = _member(names, sheet_parts[sheet])
        xml = _text(parts, names, part)
        xml, styles = _restyle_cells(xml, list(cells), styles, fill_id, restyled)
        number = _free_number(names, added)
        comments_part = f"xl/comments{number}.xml"
        vml_part = f"xl/drawings/vmlDrawing{number}.vml"
        rels_part = _rels_of(part)
        rels_name = names.get(rels_part.lower())
        sheet_rels = _text(parts, names, rels_part) if rels_name else None
        sheet_rels, _comments_id, vml_id = _add_sheet_relationships(sheet_rels, part, comments_part, vml_part)
        xml = _add_legacy_drawing(xml, vml_id)
        added[comments_part] = _comments_xml(cells).encode("utf-8")
        added[vml_part] = _vml(cells, number).encode("utf-8")
        parts[part] = xml.encode("utf-8")
        if rels_name:
            parts[rels_name] = sheet_rels.encode("utf-8")
        else:
            added[rels_part] = sheet_rels.encode("utf-8")
        content_types = _add_content_types(content_types, comments_part)
    parts[styles_name] = styles.encode("utf-8")
    parts[names[_CONTENT_TYPES.lower()]] = content_types.encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as writer:
        for info in infos:
            writer.writestr(_fresh_info(info.filename), parts[info.filename])
        for name, data in added.items():
            writer.writestr(_fresh_info(name), data)
    return out.getvalue()


def _unescape(text: str) -> str:
    """An attribute's value as its text (the five XML entities and character references resolved)."""
    return html.unescape(text) if "&" in text else text


def _fresh_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _text(parts: Mapping[str, bytes], names: Mapping[str, str], part: str) -> str:
    name = names.get(part.lower())
    if name is None:
        raise Unsupported(f"missing {part}")
    try:
        text = parts[name].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unsupported(f"{part} is not UTF-8") from exc
    return text.removeprefix("\ufeff")


def _member(names: Mapping[str, str], part: str) -> str:
    name = names.get(part.lower())
    if name is None:
        raise Unsupported(f"missing {part}")
    return name


def _attributes(tag: str) -> dict[str, str]:
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTRIBUTE.finditer(tag)}


def _resolve(target: str, base: str) -> str:
    """A relationship target as a zip member name (relative to ``base``, or absolute)."""
    if target.startswith("/"):
        return target.lstrip("/")
    path = f"{base}/{target}".split("/")
    out: list[str] = []
    for piece in path:
        if piece == "..":
            if out:
                out.pop()
        elif piece not in ("", "."):
            out.append(piece)
    return "/".join(out)


def _rels_of(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels"


def _free_number(names: Mapping[str, str], added: Mapping[str, bytes]) -> int:
    taken = set(names) | {n.lower() for n in added}
    number = 1
    while f"xl/comments{number}.xml" in taken or f"xl/drawings/vmldrawing{number}.vml" in taken:
        number += 1
    return number


def _set_count(open_tag: str, count: int) -> str:
    if _COUNT.search(open_tag):
        return _COUNT.sub(f' count="{count}"', open_tag, count=1)
    return open_tag[:-1].rstrip("/") + f' count="{count}"' + (" />" if open_tag.endswith("/>") else ">")


def _add_fill(styles: str, rgb: str) -> tuple[str, int]:
    """styles.xml with one more solid fill appended; its index."""
    fill = f'<fill><patternFill patternType="solid"><fgColor rgb="{rgb}"/><bgColor indexed="64"/></patternFill></fill>'
    found = _FILLS.search(styles)
    if found is None or found[1]:
        raise Unsupported("no <fills> list")
    end = styles.find("</fills>", found.end())
    if end < 0:
        raise Unsupported("unclosed <fills>")
    index = len(_FILL_ELEMENT.findall(styles, found.end(), end))
    if index < 2:
        raise Unsupported("fills without the two reserved ones")
    opening = _set_count(found[0], index + 1)
    styles = styles[: found.start()] + opening + styles[found.end() : end] + fill + styles[end:]
    return styles, index


def _cell_formats(styles: str) -> tuple[re.Match[str], int, list[str]]:
    found = _CELL_XFS.search(styles)
    if found is None or found[1]:
        raise Unsupported("no <cellXfs> list")
    end = styles.find("</cellXfs>", found.end())
    if end < 0:
        raise Unsupported("unclosed <cellXfs>")
    return found, end, _XF_ELEMENT.findall(styles, found.end(), end)


def _marked_format(styles: str, original: int, fill_id: int) -> tuple[str, int]:
    """styles.xml with a copy of cell format ``original`` that uses fill ``fill_id``; the copy's index."""
    found, end, formats = _cell_formats(styles)
    if not formats:
        raise Unsupported("empty <cellXfs>")
    source = formats[original] if 0 <= original < len(formats) else formats[0]
    head = _XF_OPEN.match(source)
    if head is None:
        raise Unsupported("odd <xf>")
    attrs = {k: v for k, v in _attributes(head[0]).items() if k not in ("fillId", "applyFill")}
    attrs.update(fillId=str(fill_id), applyFill="1")
    opening = "<xf " + " ".join(f'{k}="{v}"' for k, v in attrs.items())
    copy = opening + ("/>" if head[1] else ">") + source[head.end() :]
    index = len(formats)
    styles = styles[: found.start()] + _set_count(found[0], index + 1) + styles[found.end() : end] + copy + styles[end:]
    return styles, index


def _column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def _restyle_cells(xml: str, cells: list[str], styles: str, fill_id: int, restyled: dict[int, int]) -> tuple[str, str]:
    """The sheet with each of ``cells`` given the marked copy of its format (a missing cell added to its row)."""
    data_start = xml.find("<sheetData")
    data_end = xml.find("</sheetData>")
    if data_start < 0 or data_end < 0:
        raise Unsupported("no <sheetData>")
    # Cell and row positions in the sheet data, found once.
    cell_tags = {}
    for tag in _CELL_TAG.finditer(xml, data_start, data_end):
        ref = _attributes(tag[0]).get("r")
        if ref is None:
            raise Unsupported("a cell without its reference")
        cell_tags[ref] = tag
    edits: list[tuple[int, int, str]] = []
    for cell in cells:
        tag = cell_tags.get(cell)
        if tag is not None:
            attrs = _attributes(tag[0])
            original = int(attrs.get("s", "0") or 0)
        else:
            original = 0
        if original not in restyled:
            styles, restyled[original] = _marked_format(styles, original, fill_id)
        style = restyled[original]
        if tag is not None:
            text = tag[0]
            if re.search(r"""\ss\s*=\s*["']\d*["']""", text):
                text = re.sub(r"""\ss\s*=\s*["']\d*["']""", f' s="{style}"', text, count=1)
            else:
                text = text[:2] + f' s="{style}"' + text[2:]
            edits.append((tag.start(), tag.end(), text))
        else:
            edits.append(_new_cell(xml, data_start, data_end, cell, style))
    for start, end, text in sorted(edits, reverse=True):
        xml = xml[:start] + text + xml[end:]
    return xml, styles


def _new_cell(xml: str, data_start: int, data_end: int, cell: str, style: int) -> tuple[int, int, str]:
    """Where to insert an empty styled cell for ``cell`` inside its existing row (Unsupported when the row is missing)."""
    letters, row = _CELL_REF.match(cell).groups()
    column = _column_number(letters)
    for row_tag in _ROW.finditer(xml, data_start, data_end):
        if _attributes(row_tag[0]).get("r") != row:
            continue
        if row_tag[1]:
            raise Unsupported("empty row element")
        row_end = xml.find("</row>", row_tag.end())
        position = row_end
        for tag in _CELL_TAG.finditer(xml, row_tag.end(), row_end):
            ref = _CELL_REF.match(_attributes(tag[0]).get("r", ""))
            if ref and _column_number(ref[1]) > column:
                position = tag.start()
                break
        return position, position, f'<c r="{cell}" s="{style}"/>'
    raise Unsupported(f"row {row} not in the sheet")


def _add_sheet_relationships(rels: str | None, part: str, comments: str, vml: str) -> tuple[str, str, str]:
    """The sheet's relationships with its comments and VML drawing added; refuses a sheet that has notes already."""
    if rels is None:
        rels = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
        )
    rels = rels.removeprefix("\ufeff")
    ids = set()
    for tag in _RELATIONSHIP.findall(rels):
        attrs = _attributes(tag)
        if attrs.get("Type") in (REL_COMMENTS, REL_VML):
            raise Unsupported("the sheet has notes already")
        ids.add(attrs.get("Id", ""))
    end = rels.find("</Relationships>")
    if end < 0:
        raise Unsupported("odd sheet relationships")
    new_ids = []
    number = 1
    while len(new_ids) < 2:
        if f"rId{number}" not in ids:
            new_ids.append(f"rId{number}")
        number += 1
    folder = part.rpartition("/")[0]
    added = (
        f'<Relationship Id="{new_ids[0]}" Type="{REL_COMMENTS}" Target="{_relative(folder, comments)}"/>'
        f'<Relationship Id="{new_ids[1]}" Type="{REL_VML}" Target="{_relative(folder, vml)}"/>'
    )
    return rels[:end] + added + rels[end:], new_ids[0], new_ids[1]


def _relative(folder: str, target: str) -> str:
    base, parts = folder.split("/"), target.split("/")
    common = 0
    while common < min(len(base), len(parts) - 1) and base[common] == parts[common]:
        common += 1
    return "/".join([".."] * (len(base) - common) + parts[common:])


def _add_legacy_drawing(xml: str, rel_id: str) -> str:
    """The sheet with ``<legacyDrawing r:id>`` in its place, declaring the relationships namespace if needed."""
    if re.search(r"<legacyDrawing\b", xml):
        raise Unsupported("the sheet has a legacy drawing already")
    root = _WORKSHEET.search(xml)
    if root is None:
        raise Unsupported("no <worksheet> root")
    attrs = _attributes(root[0])
    prefix = next((k[6:] for k, v in attrs.items() if k.startswith("xmlns:") and v == DOC_REL_NS), None)
    if prefix is None:
        prefix = "r"
        while f"xmlns:{prefix}" in attrs:
            prefix += "r"
        tag = root[0]
        new_root = tag[:-1].rstrip("/") + f' xmlns:{prefix}="{DOC_REL_NS}"' + (" />" if tag.endswith("/>") else ">")
        xml = xml[: root.start()] + new_root + xml[root.end() :]
    after = _AFTER_LEGACY.search(xml, max(xml.rfind(end) for end in _BEFORE_LEGACY_ENDS))
    if after is None:
        raise Unsupported("no </worksheet>")
    element = f'<legacyDrawing {prefix}:id="{rel_id}"/>'
    return xml[: after.start()] + element + xml[after.start() :]


def _add_content_types(content_types: str, comments_part: str) -> str:
    end = content_types.find("</Types>")
    if end < 0:
        raise Unsupported("odd [Content_Types].xml")
    added = f'<Override PartName="/{comments_part}" ContentType="{CT_COMMENTS}"/>'
    if not re.search(r"""<Default\b[^>]*Extension\s*=\s*["']vml["']""", content_types, re.I):
        added = f'<Default Extension="vml" ContentType="{CT_VML}"/>' + added
    return content_types[:end] + added + content_types[end:]


def _xml_text(text: str) -> str:
    """Text for an XML element: escaped, without the characters XML 1.0 cannot hold."""
    cleaned = "".join(
        ch
        for ch in text
        if ch in "\t\n\r" or ("\x20" <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd") or ch >= "\U00010000"
    )
    return html.escape(cleaned, quote=False)


def _comments_xml(cells: Mapping[str, list[str]]) -> str:
    items = "".join(
        f'<comment ref="{cell}" authorId="0"><text><t xml:space="preserve">{_xml_text(chr(10).join(notes))}</t></text></comment>'
        for cell, notes in cells.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<comments xmlns="{MAIN_NS}"><authors><author>{AUTHOR}</author></authors>'
        f"<commentList>{items}</commentList></comments>"
    )


def _vml(cells: Mapping[str, list[str]], number: int) -> str:
    shapes = []
    for index, cell in enumerate(cells, 1):
        letters, row = _CELL_REF.match(cell).groups()
        shapes.append(
            f'<v:shape id="_x0000_s{number * 1024 + index:04d}" type="#_x0000_t202" '
            f'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:{NOTE_WIDTH}px;'
            f'height:{NOTE_HEIGHT}px;z-index:{index};visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
            '<v:fill color2="#ffffe1"/><v:shadow color="black" obscured="t"/><v:path o:connecttype="none"/>'
            '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
            f"<x:Row>{int(row) - 1}</x:Row><x:Column>{_column_number(letters) - 1}</x:Column></x:ClientData>"
            "</v:shape>"
        )
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">'
        f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{number}"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
        '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
        + "".join(shapes)
        + "</xml>"
    )


def marks_of(findings: Sequence[Finding]) -> list[tuple[str, str, str]]:
    """(sheet, cell, note) of each error finding placed on a cell, the note saying what is wrong and how to fix it."""
    return [
        (f.sheet, f.cell, f.message + (f" Cách sửa: {f.hint}" if f.hint else ""))
        for f in findings
        if f.is_error and f.sheet and f.cell
    ]
