"""Shared helpers for the intake tests: real shares, templates filled by defined name, drops, ingest, receipts.

Everything here works on real files: a share made by ``init_share`` (or ``chitieu init``), the
unit's issued template filled with openpyxl through its defined names (``KY_BAO_CAO``,
``NHAP_<code>``) as another tool would, files dropped into a unit's «Nộp báo cáo» folder with
a chosen modification time, ``ingest_share`` run with ``CHITIEU_NOW`` set, and the receipts
read back from «Phiếu phản hồi» (checking the UTF-8 BOM).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from forms.layout import SHEET_REPORT
from forms.schema import TZ
from processors.file_names import safe_display_name
from processors.intake import IngestSummary, ingest_share
from processors.ledger import FileRecord, Ledger, open_ledger
from processors.receipts import MARK_FILL
from shared_folder_layout.layout import ShareLayout
from shared_folder_layout.share import Share, init_share

ROOT = Path(__file__).resolve().parents[1]
SOC_TRANG = ROOT / "samples" / "soc_trang_2023"
KEY = bytes(range(32))  # the office key of every test share (never a real one)
BOM = b"\xef\xbb\xbf"
# Letters only Vietnamese uses (with their tone marks): a receipt without any is not Vietnamese.
VIETNAMESE_LETTERS = re.compile("[ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")
RECEIPT_ID = re.compile(r"\(#(\d+)\)(?: - SỬA LẠI)?\.(?:txt|xlsx)$")


# ---------------------------------------------------------------- shares


def make_share(root: Path, definition: Path, key: bytes = KEY) -> Share:
    """A fresh share at ``root`` for ``definition`` (``chitieu init`` without the console)."""
    return init_share(root, definition, key)


def clone_share(pristine: Share, root: Path) -> Share:
    """A copy of an unused share (no ledger yet) at ``root``: as good as a new ``init``, in milliseconds."""
    assert not pristine.layout.ledger.exists(), "clone only a share nothing was ingested into"
    shutil.copytree(pristine.layout.root, root)
    return Share(layout=ShareLayout(Path(root).resolve()), campaign=pristine.campaign, manifest=pristine.manifest)


def write_definition(text: str, path: Path, **replace: str) -> Path:
    """A YAML definition from ``text`` with each ``old=new`` replacement applied once (and checked)."""
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def sample_yaml(**replace: str) -> str:
    """The Sóc Trăng definition as YAML text, with textual replacements."""
    text = (SOC_TRANG / "ke_hoach.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# ---------------------------------------------------------------- filling templates


def name_target(book: openpyxl.Workbook, name: str) -> tuple[str, str]:
    """(sheet, cell) a workbook-level defined name points at."""
    defined = book.defined_names[name]
    sheet, ref = next(iter(defined.destinations))
    return sheet, ref.replace("$", "").split(":")[0]


def fill(
    template: Path | bytes,
    values: Mapping[str, Any] | None = None,
    *,
    formulas: Mapping[str, str] | None = None,
    cells: Mapping[tuple[str, str], Any] | None = None,
    edit: Any = None,
) -> bytes:
    """The template's bytes with ``values`` typed into named cells, as openpyxl saves them.

    ``values`` maps defined names (or indicator codes, prefixed with ``NHAP_`` here) to what a
    clerk typed; a string is always stored as text (so "=1+1" stays text), ``formulas`` are
    stored as formulas. ``cells`` writes (sheet, cell) directly (tampering); ``edit(book)`` may
    change anything else before saving.
    """
    data = template if isinstance(template, bytes) else Path(template).read_bytes()
    book = openpyxl.load_workbook(io.BytesIO(data))
    for name, value in (values or {}).items():
        sheet, ref = name_target(book, _name(name))
        cell = book[sheet][ref]
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # text, even when it starts with "=": what a text-formatted cell keeps
    for name, formula in (formulas or {}).items():
        sheet, ref = name_target(book, _name(name))
        book[sheet][ref].value = formula if formula.startswith("=") else f"={formula}"
    for (sheet, ref), value in (cells or {}).items():
        book[sheet][ref].value = value
    if edit is not None:
        edit(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _name(name: str) -> str:
    return name if name.isupper() and (name.startswith(("NHAP_", "KY_", "MA_"))) else f"NHAP_{name}"


def period_values(period_label: str, **figures: Any) -> dict[str, Any]:
    """Named values of a return: the period and one figure per indicator code."""
    return {"KY_BAO_CAO": period_label, **{f"NHAP_{code}": value for code, value in figures.items()}}


def cell_of(template: Path | bytes, name: str) -> str:
    """The cell (e.g. ``F10``) a defined name of a template points at."""
    data = template if isinstance(template, bytes) else Path(template).read_bytes()
    return name_target(openpyxl.load_workbook(io.BytesIO(data)), _name(name))[1]


# ---------------------------------------------------------------- dropping and ingesting


_clock = [1_690_000_000]  # a monotonically increasing fake mtime, so drops are processed in drop order


def drop(share: Share, unit: str, name: str, data: bytes | None = None, *, mtime: float | None = None) -> Path:
    """Put ``data`` as ``name`` into ``unit``'s drop folder (a folder when data is None), settled (mtime in the past)."""
    path = share.layout.unit(unit).inbox / name
    if data is None:
        path.mkdir()
        (path / "Báo cáo.xlsx").write_bytes(b"")
    else:
        path.write_bytes(data)
    if mtime is None:
        _clock[0] += 10
        mtime = _clock[0]
    os.utime(path, (mtime, mtime))
    return path


def moment(text: str) -> datetime:
    """An ISO local time in Asia/Ho_Chi_Minh."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def ingest(share: Share, monkeypatch: pytest.MonkeyPatch, now: str, key: bytes = KEY) -> IngestSummary:
    """One intake pass with the clock set by ``CHITIEU_NOW`` (settled files only: drops are in the past)."""
    monkeypatch.setenv("CHITIEU_NOW", now)
    return ingest_share(share, key, settle=1.0)


def ledger(share: Share) -> Ledger:
    """The share's ledger, opened (use as a context manager)."""
    return open_ledger(share.layout.ledger)


def records(share: Share) -> list[FileRecord]:
    """Every file recorded in the share's ledger, in order."""
    with ledger(share) as book:
        return book.files()


def record_of(share: Share, unit: str, name: str) -> FileRecord:
    """The one record of a file ``name`` dropped into ``unit``'s folder."""
    found = [r for r in records(share) if r.folder_unit == unit and r.original_name == name]
    assert len(found) == 1, f"{unit}/{name}: {len(found)} records"
    return found[0]


def effective(share: Share, unit: str) -> dict[tuple[str, str], Any]:
    """The unit's effective figures: (period code, indicator) -> value."""
    with ledger(share) as book:
        return {(row["period_code"], row["indicator"]): row["value"] for row in book.effective_figures(unit_code=unit)}


def ledger_state(share: Share) -> tuple[list[FileRecord], dict[str, dict[tuple[str, str], Any]]]:
    """Every recorded file, and every unit's effective figures ((period, indicator) -> value), in one look."""
    with ledger(share) as book:
        figures: dict[str, dict[tuple[str, str], Any]] = {}
        for row in book.effective_figures():
            figures.setdefault(row["unit_code"], {})[(row["period_code"], row["indicator"])] = row["value"]
        return book.files(), figures


# ---------------------------------------------------------------- receipts


@dataclass(frozen=True)
class Receipt:
    """One receipt file and its text."""

    path: Path
    text: str
    file_id: int


def read_receipt(path: Path) -> str:
    """A receipt's text; it must be UTF-8 with a BOM."""
    data = path.read_bytes()
    assert data.startswith(BOM), f"{path.name}: no UTF-8 BOM"
    return data[len(BOM) :].decode("utf-8")


def receipts(share: Share, unit: str) -> list[Receipt]:
    """Every .txt receipt in a unit's receipt folder."""
    found = []
    for path in sorted(share.layout.unit(unit).receipts.glob("*.txt")):
        match = RECEIPT_ID.search(path.name)
        assert match, f"receipt without a file id: {path.name}"
        found.append(Receipt(path, read_receipt(path), int(match[1])))
    return found


def receipt_for(share: Share, record: FileRecord) -> Receipt:
    """The one receipt answering a recorded file, checked: Vietnamese, BOM, names the file."""
    found = [r for r in receipts(share, record.folder_unit) if r.file_id == record.id]
    assert len(found) == 1, f"#{record.id} {record.original_name}: {len(found)} receipts"
    receipt = found[0]
    assert VIETNAMESE_LETTERS.search(receipt.text), "the receipt is not Vietnamese"
    assert safe_display_name(record.original_name or "") in receipt.text, "the receipt does not name the file"
    for finding in record.findings:
        assert finding.message in receipt.text, f"{finding.code} missing from the receipt"
        if finding.cell:
            assert f"ô {finding.cell}" in receipt.text, f"the receipt does not name cell {finding.cell}"
    return receipt


def annotated_copies(share: Share, unit: str) -> list[Path]:
    """The marked-up copies («… - SỬA LẠI.xlsx») in a unit's receipt folder."""
    return sorted(share.layout.unit(unit).receipts.glob("* - SỬA LẠI.xlsx"))


def annotated_copy_of(share: Share, record: FileRecord) -> Path | None:
    """The marked-up copy that goes with a refused file's receipt, or None."""
    found = [p for p in annotated_copies(share, record.folder_unit) if RECEIPT_ID.search(p.name)[1] == str(record.id)]
    assert len(found) <= 1
    return found[0] if found else None


def assert_marked(share: Share, record: FileRecord, cell: str, sheet: str = SHEET_REPORT) -> None:
    """The refused file's marked-up copy exists and has ``cell`` filled red with a comment saying what to fix."""
    copy = annotated_copy_of(share, record)
    assert copy is not None, f"no «SỬA LẠI» copy for #{record.id} {record.original_name}"
    marked = openpyxl.load_workbook(copy)[sheet][cell]
    assert marked.fill.fill_type == "solid" and marked.fill.fgColor.rgb == MARK_FILL, f"{cell} is not marked"
    finding = next(f for f in record.findings if f.cell == cell)
    assert marked.comment is not None and finding.message in marked.comment.text


def codes(record: FileRecord) -> list[str]:
    """The finding codes of a record, in order."""
    return [f.code for f in record.findings]


def errors(record: FileRecord) -> list[tuple[str, str | None]]:
    """(code, cell) of every error of a record."""
    return [(f.code, f.cell) for f in record.findings if f.is_error]


def warnings_of(record: FileRecord) -> list[tuple[str, str | None]]:
    """(code, cell) of every warning of a record."""
    return [(f.code, f.cell) for f in record.findings if not f.is_error]


def inbox_names(share: Share, unit: str) -> list[str]:
    """What is left in a unit's drop folder."""
    return sorted(p.name for p in share.layout.unit(unit).inbox.iterdir())


# ---------------------------------------------------------------- hostile files


def rewrite_zip(
    data: bytes, replace: Mapping[str, bytes | None] | None = None, add: Mapping[str, bytes] | None = None
) -> bytes:
    """A copy of a zip with members replaced (None removes one) and members added."""
    replace = replace or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = replace.get(info.filename, source.read(info.filename))
            if content is not None:
                target.writestr(info.filename, content)
        for member, content in (add or {}).items():
            target.writestr(member, content)
    return buffer.getvalue()


def make_zip_bomb(base: bytes, megabytes: int = 200) -> bytes:
    """A real workbook plus a member that inflates to ``megabytes`` MB of zeros (about 200 KB on disk).

    The deflate stream is one megabyte's block repeated: after a full flush a compressor starts
    afresh, so the next megabyte of zeros would compress to the very same bytes.
    """
    source = zipfile.ZipFile(io.BytesIO(base))
    entries = []
    for info in source.infolist():
        content = source.read(info)
        entries.append((info.filename, _deflate(content), zlib.crc32(content), len(content)))
    chunk = bytes(2**20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    entries.append(("xl/media/image1.png", block * megabytes + compressor.flush(), crc, megabytes * 2**20))
    return _zip_of(entries)


def _deflate(content: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(content) + compressor.flush()


def _zip_of(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A plain zip of (name, raw deflate data, CRC, uncompressed size) entries."""
    out, directory = bytearray(), bytearray()
    for name, data, crc, size in entries:
        encoded = name.encode()
        common = struct.pack("<HHHHHIIIH", 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded))
        directory += struct.pack("<IH", 0x02014B50, 20) + common + struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(out))
        directory += encoded
        out += struct.pack("<I", 0x04034B50) + common + b"\0\0" + encoded + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(out), 0)
    return bytes(out + directory + end)


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>"""


LAUGHS_DTD = b"""<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>"""


def make_entity_attack(base: bytes, part: str = "xl/sharedStrings.xml") -> bytes:
    """A filled return with nested entities (billion laughs) declared in ``part`` and, in a worksheet, used in a cell.

    A part the workbook lacks (openpyxl writes no shared strings) is added as a billion-laughs shared-strings part.
    """
    archive = zipfile.ZipFile(io.BytesIO(base))
    if part not in archive.namelist():
        return rewrite_zip(base, add={part: BILLION_LAUGHS})
    xml = archive.read(part)
    if xml.startswith(b"<?xml"):
        end = xml.index(b"?>") + 2
        xml = xml[:end] + LAUGHS_DTD + xml[end:]
    else:
        xml = LAUGHS_DTD + xml
    if "worksheets/" in part:
        xml = re.sub(rb"<t>[^<]*</t>", b"<t>&lol9;</t>", xml, count=1)
    return rewrite_zip(base, {part: xml})


def make_encrypted(plain: bytes) -> bytes:
    """A real password-protected .xlsx (agile encryption, msoffcrypto-tool), as in test_safety."""
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    buffer = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(plain)).encrypt("matkhau123", buffer)
    return buffer.getvalue()


def make_macro_workbook(base: bytes) -> bytes:
    """A filled return turned into an .xlsm: xlwings' real VBA project added, content type switched."""
    xlwings = pytest.importorskip("xlwings")
    with zipfile.ZipFile(Path(xlwings.__file__).with_name("quickstart_standalone.xlsm")) as quickstart:
        vba = quickstart.read("xl/vbaProject.bin")
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml")
    types = types.replace(b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
    types = types.replace(
        b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>'
    )
    return rewrite_zip(base, {"[Content_Types].xml": types}, {"xl/vbaProject.bin": vba})


def make_xls() -> bytes:
    """A real Excel 97-2003 workbook (xlwt)."""
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Bao cao")
    sheet.write(0, 0, "Chỉ tiêu")
    sheet.write(0, 1, 50802)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_ods() -> bytes:
    """An OpenDocument spreadsheet (mimetype member stored first)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        target.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
        target.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?><office:document-content/>')
    return buffer.getvalue()


def make_pdf() -> bytes:
    """A minimal PDF 1.4 with one text page."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
        b"4 0 obj<</Length 44>>stream\nBT /F1 12 Tf 72 712 Td (Bao cao) Tj ET\nendstream endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def make_csv() -> bytes:
    """The figures saved as CSV (UTF-8 with BOM, as Excel writes it)."""
    return "\ufeffTT,Chỉ tiêu,Số liệu\r\n1,Tài khoản mức 1,1200\r\n".encode()


def random_bytes(size: int = 4096, seed: int = 6) -> bytes:
    """Reproducible noise that is no known format."""
    state = seed
    out = bytearray()
    while len(out) < size:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out += struct.pack("<Q", state)
    return bytes(out[:size])
