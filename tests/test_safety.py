"""processors.safety on real files: genuine workbooks pass, every unsafe or wrong kind is named.

Every file is made here: XlsxWriter and openpyxl workbooks, an .xlsm with the VBA project
xlwings ships, a real .xls (xlwt), a real password-protected .xlsx (msoffcrypto-tool), and
hand-built hostile zips (bombs, lying headers, billion laughs, sparse far-away cells).
Tests assert the finding code and that the message names the file; none asserts wording.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import timeit
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from clerk.libreoffice import require_libreoffice
from intake_helpers import make_encrypted, make_ods, make_pdf, make_xls, rewrite_zip

from processors.safety import ContainerReport, inspect_bytes, inspect_container, safe_display_name, safe_file_component
from processors.safety_messages import codes

NAME = "Báo cáo tháng 7 - Xã Đại Ân.xlsx"
SHEET = "Báo cáo"


# ---------------------------------------------------------------- making real files


def make_xlsxwriter_workbook(rows: int = 40) -> bytes:
    """A template-like workbook: Vietnamese labels, locked cells, defined names, a very hidden sheet."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(SHEET)
    locked = book.add_format({"locked": True, "bold": True, "border": 1})
    unlocked = book.add_format({"locked": False, "border": 1, "num_format": "#,##0"})
    sheet.set_column("A:A", 6)
    sheet.set_column("B:B", 60)
    sheet.set_column("C:D", 16)
    sheet.write("A1", "BÁO CÁO KẾT QUẢ THỰC HIỆN ĐỀ ÁN 06", locked)
    for row in range(2, rows + 2):
        sheet.write(row, 0, row - 1, locked)
        sheet.write(row, 1, f"Chỉ tiêu số {row - 1}: tài khoản định danh điện tử mức 2 kích hoạt", locked)
        sheet.write(row, 2, 1000 * row, locked)
        sheet.write_blank(row, 3, None, unlocked)
        book.define_name(f"NHAP_CT{row - 1:02d}", f"='{SHEET}'!$D${row + 1}")
    sheet.data_validation(2, 3, rows + 1, 3, {"validate": "integer", "criteria": ">=", "value": 0})
    sheet.protect("mat-khau")
    meta = book.add_worksheet("_meta")
    meta.write("A1", "THU_NGHIEM_2023|XA_DAI|v1|hmac")
    meta.very_hidden()
    book.close()
    return buffer.getvalue()


def make_openpyxl_workbook() -> bytes:
    """A workbook as openpyxl writes it."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(["STT", "Chỉ tiêu", "Kết quả"])
    for row in range(1, 41):
        sheet.append([row, f"Chỉ tiêu {row}: hồ sơ nộp trực tuyến", row * 17])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def read_member(data: bytes, name: str) -> bytes:
    """One member of a zip."""
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def sheet_xml(data: bytes) -> bytes:
    """The first worksheet of a workbook."""
    return read_member(data, "xl/worksheets/sheet1.xml")


def add_content_type(data: bytes, part: str, content_type: str) -> bytes:
    """A workbook whose [Content_Types].xml declares one more part."""
    types = read_member(data, "[Content_Types].xml")
    override = f'<Override PartName="/{part}" ContentType="{content_type}"/>'.encode()
    return rewrite_zip(data, {"[Content_Types].xml": types.replace(b"</Types>", override + b"</Types>")})


def make_xlsm() -> bytes:
    """A real macro workbook: XlsxWriter embedding the VBA project of xlwings' standalone quickstart."""
    xlwings = pytest.importorskip("xlwings")
    with zipfile.ZipFile(Path(xlwings.__file__).with_name("quickstart_standalone.xlsm")) as quickstart:
        vba = quickstart.read("xl/vbaProject.bin")
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet(SHEET).write("A1", "Có macro")
    book.add_vba_project(io.BytesIO(vba), is_stream=True)
    book.close()
    return buffer.getvalue()


def make_png() -> bytes:
    """A small real PNG (a photo of the paper form, as clerks sometimes send)."""
    raw = b"".join(b"\x00" + bytes(3 * 8) for _ in range(8))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def make_zip_bomb(base: bytes, megabytes: int) -> bytes:
    """A real workbook plus a member of `megabytes` MB of zeros, written in 1 MB chunks."""
    buffer = io.BytesIO(rewrite_zip(base))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as target:
        with target.open("xl/media/image1.png", "w", force_zip64=True) as member:
            chunk = bytes(2**20)
            for _ in range(megabytes):
                member.write(chunk)
    return buffer.getvalue()


def patch_member(data: bytes, name: str, crc: int, size: int | None = None) -> bytes:
    """The zip with one member's CRC (and uncompressed size) rewritten in both headers."""
    patched = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    struct.pack_into("<I", patched, info.header_offset + 14, crc)
    if size is not None:
        struct.pack_into("<I", patched, info.header_offset + 22, size)
    position = patched.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", patched, position + 28)[0]
        if patched[position + 46 : position + 46 + name_length] == name.encode():
            struct.pack_into("<I", patched, position + 16, crc)
            if size is not None:
                struct.pack_into("<I", patched, position + 24, size)
        position = patched.find(b"PK\x01\x02", position + 4)
    return bytes(patched)


def make_lying_header(base: bytes) -> bytes:
    """A workbook whose shared strings inflate to 8 MB while both headers declare 4 KB (CRC of those 4 KB).

    Python's zipfile stops at the declared size and reports nothing; readers that trust the
    deflate stream get all 8 MB.
    """
    content = read_member(base, "xl/sharedStrings.xml") + b" " * (8 * 2**20)
    declared = 4096
    data = rewrite_zip(base, {"xl/sharedStrings.xml": content})
    return patch_member(data, "xl/sharedStrings.xml", zlib.crc32(content[:declared]), declared)


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>"""

XXE = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>"""


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def workbook() -> bytes:
    """A genuine XlsxWriter workbook, made once."""
    return make_xlsxwriter_workbook()


def write(tmp_path: Path, data: bytes, name: str = NAME) -> Path:
    """The bytes as a file named `name` (as a clerk would drop it)."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_refused(report: ContainerReport, code: str, name: str = NAME) -> None:
    """The report refuses with `code`, names the file, says what to do, and is consistent."""
    assert not report.ok
    assert report.finding is not None
    assert report.finding.code == code, report.finding.message
    assert report.finding.is_error
    assert f"«{name}»" in report.finding.message
    assert report.finding.hint
    assert report.finding.message in report.finding.describe()
    assert report.kind


def assert_accepted(report: ContainerReport, data: bytes) -> None:
    """The report accepts an .xlsx and carries the bytes' hash and size."""
    assert report.ok, report.finding and report.finding.describe()
    assert report.finding is None
    assert report.kind == "xlsx"
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.size == len(data)


# ---------------------------------------------------------------- genuine workbooks pass


def test_xlsxwriter_workbook_is_accepted(tmp_path: Path, workbook: bytes) -> None:
    assert_accepted(inspect_container(write(tmp_path, workbook)), workbook)


def test_openpyxl_workbook_is_accepted(tmp_path: Path) -> None:
    data = make_openpyxl_workbook()
    assert_accepted(inspect_container(write(tmp_path, data)), data)


def test_project_template_is_accepted(tmp_path: Path, small_campaign) -> None:
    template_writer = pytest.importorskip("forms.template_writer")
    unit = next(u for u in small_campaign.units if u.code == "XA_DAI")
    path = template_writer.write_template(small_campaign, unit, tmp_path / "XA_DAI.xlsx", b"k" * 32)
    assert_accepted(inspect_container(path), path.read_bytes())


def test_untidy_names_are_accepted_and_hashed_as_bytes(tmp_path: Path, workbook: bytes) -> None:
    for name in ("Copy of Báo cáo (1).xlsx", "bao cao.XLSX", "Bá\u0301o cáo.xlsx", "x" * 200 + ".xlsx"):
        report = inspect_container(write(tmp_path, workbook, name))
        assert_accepted(report, workbook)


def test_inspect_bytes_matches_inspect_container(tmp_path: Path, workbook: bytes) -> None:
    assert inspect_bytes(workbook, NAME) == inspect_container(write(tmp_path, workbook))


# ---------------------------------------------------------------- not a file, empty, too large


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / NAME
    folder.mkdir()
    report = inspect_container(folder)
    assert_refused(report, "not_a_file")
    assert (report.kind, report.sha256, report.size) == ("folder", "", 0)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")
def test_link_and_fifo_are_not_files(tmp_path: Path, workbook: bytes) -> None:
    target = write(tmp_path, workbook, "that.xlsx")
    link = tmp_path / NAME
    link.symlink_to(target)
    assert_refused(inspect_container(link), "not_a_file")
    fifo = tmp_path / "fifo.xlsx"
    os.mkfifo(fifo)  # opening it for reading would block forever
    report = inspect_container(fifo)
    assert_refused(report, "not_a_file", "fifo.xlsx")
    assert report.kind == "special"


def test_empty_file(tmp_path: Path) -> None:
    report = inspect_container(write(tmp_path, b""))
    assert_refused(report, "empty_file")
    assert (report.kind, report.size, report.sha256) == ("empty", 0, hashlib.sha256(b"").hexdigest())


def test_too_large_is_refused_but_fully_hashed(tmp_path: Path, workbook: bytes) -> None:
    data = workbook + os.urandom(64 * 1024)  # a zip with trailing junk, bigger than the cap below
    report = inspect_container(write(tmp_path, data), max_bytes=len(workbook))
    assert_refused(report, "too_large")
    assert report.size == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert inspect_bytes(data, NAME, max_bytes=len(workbook)).finding.code == "too_large"


# ---------------------------------------------------------------- other formats


def test_xls(tmp_path: Path) -> None:
    report = inspect_container(write(tmp_path, make_xls(), "Báo cáo.xls"))
    assert_refused(report, "wrong_type_xls", "Báo cáo.xls")
    assert report.kind == "xls"


def test_xls_renamed_to_xlsx(tmp_path: Path) -> None:
    assert_refused(inspect_container(write(tmp_path, make_xls())), "wrong_type_xls")


def test_password_protected_xlsx(tmp_path: Path, workbook: bytes) -> None:
    report = inspect_container(write(tmp_path, make_encrypted(workbook)))
    assert_refused(report, "encrypted")
    assert report.kind == "encrypted"


def test_ods(tmp_path: Path) -> None:
    report = inspect_container(write(tmp_path, make_ods(), "Báo cáo.ods"))
    assert_refused(report, "wrong_type_ods", "Báo cáo.ods")
    assert report.kind == "ods"


def test_csv_in_utf8_with_bom_and_in_utf16(tmp_path: Path) -> None:
    text = "STT,Chỉ tiêu,Kết quả\r\n1,Tài khoản mức 2,50802\r\n"
    for data in ("\ufeff" + text).encode("utf-8"), text.encode("utf-16"), text.encode("cp1258", errors="replace"):
        report = inspect_container(write(tmp_path, data, "Báo cáo.csv"))
        assert_refused(report, "wrong_type_csv", "Báo cáo.csv")
        assert report.kind == "csv"


def test_pdf(tmp_path: Path) -> None:
    report = inspect_container(write(tmp_path, make_pdf(), "Báo cáo.pdf"))
    assert_refused(report, "wrong_type_pdf", "Báo cáo.pdf")
    assert report.kind == "pdf"


@pytest.mark.parametrize(
    ("maker", "kind"),
    [
        (lambda: os.urandom(64 * 1024), "unknown"),
        (make_png, "image"),
        (lambda: "<html><body><table><tr><td>Chỉ tiêu</td></tr></table></body></html>".encode(), "html"),
        (lambda: b'<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?><Workbook/>', "xml"),
    ],
    ids=["random", "png", "html-as-xls", "xml-spreadsheet-2003"],
)
def test_other_kinds_are_wrong_type(tmp_path: Path, maker: Callable[[], bytes], kind: str) -> None:
    report = inspect_container(write(tmp_path, maker()))
    assert_refused(report, "wrong_type")
    assert report.kind == kind


def test_plain_zip_and_docx_are_wrong_type(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Báo cáo.csv", "STT,Chỉ tiêu\r\n")
    assert inspect_container(write(tmp_path, buffer.getvalue())).kind == "zip"
    assert_refused(inspect_container(write(tmp_path, buffer.getvalue())), "wrong_type")
    docx = rewrite_zip(make_openpyxl_workbook(), {"xl/workbook.xml": None}, {"word/document.xml": b"<w:document/>"})
    report = inspect_container(write(tmp_path, docx))
    assert_refused(report, "wrong_type")
    assert report.kind == "docx"


@pytest.mark.libreoffice
def test_libreoffice_ods_refused_and_libreoffice_xlsx_accepted(tmp_path: Path, workbook: bytes) -> None:
    require_libreoffice()
    soffice = shutil.which("soffice")
    source = write(tmp_path, workbook, "mau.xlsx")
    profile = f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"
    for target, out in (("ods", tmp_path / "ods"), ("xlsx:Calc MS Excel 2007 XML", tmp_path / "xlsx")):
        subprocess.run(
            [soffice, profile, "--headless", "--convert-to", target, "--outdir", str(out), str(source)],
            check=True,
            capture_output=True,
            timeout=180,
        )
    assert_refused(inspect_container(tmp_path / "ods" / "mau.ods"), "wrong_type_ods", "mau.ods")
    saved = tmp_path / "xlsx" / "mau.xlsx"
    assert_accepted(inspect_container(saved), saved.read_bytes())


# ---------------------------------------------------------------- broken zips


def test_truncated_xlsx(tmp_path: Path, workbook: bytes) -> None:
    report = inspect_container(write(tmp_path, workbook[: len(workbook) // 2]))
    assert_refused(report, "corrupt_zip")


def test_crc_error_in_a_worksheet(tmp_path: Path, workbook: bytes) -> None:
    info = zipfile.ZipFile(io.BytesIO(workbook)).getinfo("xl/worksheets/sheet1.xml")
    data = patch_member(workbook, "xl/worksheets/sheet1.xml", info.CRC ^ 1)
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "corrupt_zip")
    assert report.finding.value == "xl/worksheets/sheet1.xml"


def test_flipped_bytes_in_compressed_data(tmp_path: Path, workbook: bytes) -> None:
    info = zipfile.ZipFile(io.BytesIO(workbook)).getinfo("xl/sharedStrings.xml")
    data = bytearray(workbook)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 5, start + 25):
        data[offset] ^= 0x5A
    assert_refused(inspect_container(write(tmp_path, bytes(data))), "corrupt_zip")


@pytest.mark.parametrize("missing", ["[Content_Types].xml", "xl/workbook.xml"])
def test_missing_required_part(tmp_path: Path, workbook: bytes, missing: str) -> None:
    report = inspect_container(write(tmp_path, rewrite_zip(workbook, {missing: None})))
    assert_refused(report, "corrupt_zip")
    assert report.finding.value == missing


def test_twin_part_names_differing_in_case(tmp_path: Path, workbook: bytes) -> None:
    data = rewrite_zip(workbook, add={"XL/Worksheets/Sheet1.xml": sheet_xml(workbook)})
    assert_refused(inspect_container(write(tmp_path, data)), "corrupt_zip")


def test_random_corruption_never_raises(workbook: bytes) -> None:
    generator = random.Random(6)
    for _ in range(300):
        data = bytearray(workbook)
        for _ in range(generator.randint(1, 8)):
            data[generator.randrange(len(data))] = generator.randrange(256)
        cut = generator.choice([len(data), generator.randrange(1, len(data))])
        report = inspect_bytes(bytes(data[:cut]), NAME)
        assert report.ok or report.finding.code in codes()


# ---------------------------------------------------------------- bombs


def test_zip_bomb_200_mb_of_zeros(tmp_path: Path, workbook: bytes) -> None:
    data = make_zip_bomb(workbook, 200)
    assert len(data) < 2**20
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "zip_bomb")


def test_zip_bomb_by_ratio_under_the_total(tmp_path: Path, workbook: bytes) -> None:
    data = make_zip_bomb(workbook, 8)
    assert_refused(inspect_container(write(tmp_path, data)), "zip_bomb")


def test_zip_bomb_by_member_count(tmp_path: Path, workbook: bytes) -> None:
    data = rewrite_zip(workbook, add={f"xl/media/image{i}.png": b"x" for i in range(600)})
    assert_refused(inspect_container(write(tmp_path, data)), "zip_bomb")


def test_lying_header_is_a_bomb(tmp_path: Path, workbook: bytes) -> None:
    data = make_lying_header(workbook)
    # Python's zipfile alone is fooled: it returns 4 KB, CRC "correct", no error.
    assert len(read_member(data, "xl/sharedStrings.xml")) == 4096
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "zip_bomb")
    assert report.finding.value == "xl/sharedStrings.xml"


# ---------------------------------------------------------------- XML declarations


def test_billion_laughs_in_shared_strings(tmp_path: Path, workbook: bytes) -> None:
    data = rewrite_zip(workbook, {"xl/sharedStrings.xml": BILLION_LAUGHS})
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "xml_entities")
    assert report.finding.value == "xl/sharedStrings.xml"


def test_xxe_in_a_worksheet(tmp_path: Path, workbook: bytes) -> None:
    data = rewrite_zip(workbook, {"xl/worksheets/sheet1.xml": XXE})
    assert_refused(inspect_container(write(tmp_path, data)), "xml_entities")


def test_doctype_hidden_in_utf16(tmp_path: Path, workbook: bytes) -> None:
    utf16 = BILLION_LAUGHS.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16")
    data = rewrite_zip(workbook, {"xl/sharedStrings.xml": utf16})
    assert_refused(inspect_container(write(tmp_path, data)), "xml_entities")


def test_utf7_declaration_is_refused(tmp_path: Path, workbook: bytes) -> None:
    # In UTF-7 "+ADw-" is "<": a DOCTYPE no byte search would see.
    utf7 = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-+ACE-DOCTYPE x+AD4-<sst/>'
    data = rewrite_zip(workbook, {"xl/sharedStrings.xml": utf7})
    assert_refused(inspect_container(write(tmp_path, data)), "xml_entities")


def test_doctype_in_a_part_outside_the_reader_set(tmp_path: Path, workbook: bytes) -> None:
    core = read_member(workbook, "docProps/core.xml")
    hostile = core.replace(b"?>", b'?><!DOCTYPE cp [<!ENTITY x SYSTEM "http://example.invalid/">]>', 1)
    data = rewrite_zip(workbook, {"docProps/core.xml": hostile})
    assert_refused(inspect_container(write(tmp_path, data)), "xml_entities")


def test_doctype_behind_a_long_prolog(tmp_path: Path, workbook: bytes) -> None:
    app = read_member(workbook, "docProps/app.xml")
    padding = b"<!--" + b" " * 8192 + b"-->"
    hostile = app.replace(b"?>", b"?>" + padding + b'<!DOCTYPE p [<!ENTITY x "x">]>', 1)
    data = rewrite_zip(workbook, {"docProps/app.xml": hostile})
    assert_refused(inspect_container(write(tmp_path, data)), "xml_entities")


def test_genuine_utf16_part_is_accepted(tmp_path: Path, workbook: bytes) -> None:
    strings = read_member(workbook, "xl/sharedStrings.xml").replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
    data = rewrite_zip(workbook, {"xl/sharedStrings.xml": strings.decode().encode("utf-16")})
    assert_accepted(inspect_container(write(tmp_path, data)), data)


# ---------------------------------------------------------------- macros and links


def test_xlsm_with_vba_project(tmp_path: Path) -> None:
    data = make_xlsm()
    report = inspect_container(write(tmp_path, data, "Báo cáo.xlsm"))
    assert_refused(report, "macro_enabled", "Báo cáo.xlsm")
    assert report.kind == "xlsm"


def test_xlsm_renamed_to_xlsx_is_still_macro_enabled(tmp_path: Path) -> None:
    assert_refused(inspect_container(write(tmp_path, make_xlsm())), "macro_enabled")


def test_macro_content_type_without_vba_member(tmp_path: Path, workbook: bytes) -> None:
    types = read_member(workbook, "[Content_Types].xml").replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
    )
    data = rewrite_zip(workbook, {"[Content_Types].xml": types})
    assert_refused(inspect_container(write(tmp_path, data)), "macro_enabled")


def test_xlsm_extension_alone(tmp_path: Path, workbook: bytes) -> None:
    assert_refused(inspect_container(write(tmp_path, workbook, "Báo cáo.xlsm")), "macro_enabled", "Báo cáo.xlsm")


def test_external_links(tmp_path: Path, workbook: bytes) -> None:
    link = (
        b'<?xml version="1.0" encoding="UTF-8"?><externalLink '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><externalBook/></externalLink>'
    )
    data = rewrite_zip(workbook, add={"xl/externalLinks/externalLink1.xml": link})
    data = add_content_type(
        data,
        "xl/externalLinks/externalLink1.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
    )
    assert_refused(inspect_container(write(tmp_path, data)), "external_links")


# ---------------------------------------------------------------- very large sheets


def test_dimension_of_the_whole_grid(tmp_path: Path, workbook: bytes) -> None:
    sheet = sheet_xml(workbook)
    start = sheet.index(b"<dimension")
    end = sheet.index(b"/>", start) + 2
    data = rewrite_zip(
        workbook, {"xl/worksheets/sheet1.xml": sheet[:start] + b'<dimension ref="A1:XFD1048576"/>' + sheet[end:]}
    )
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "very_large_sheet")
    assert report.finding.sheet == SHEET


@pytest.mark.parametrize(
    "far_cell",
    [b'<c r="XFD1048576"', b"<c\n r = \t'xfd1048576'", b'<c r="A1048576"', b'<c r="IV1"'],
    ids=["canonical", "spaced-quoted-lowercase", "far-row", "far-column"],
)
def test_sparse_far_cell_that_aborts_calamine(tmp_path: Path, workbook: bytes, far_cell: bytes) -> None:
    sheet = sheet_xml(workbook).replace(b"</sheetData>", b'<row r="2000"><c r="A2000"><v>1</v></c></row></sheetData>')
    sheet = sheet.replace(b'<c r="A2000"', far_cell)
    data = rewrite_zip(workbook, {"xl/worksheets/sheet1.xml": sheet})
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "very_large_sheet")
    assert report.finding.sheet == SHEET


def test_wide_but_reasonable_sheet_is_accepted(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(SHEET)
    for row in range(200):
        for column in range(0, 150, 7):
            sheet.write(row, column, row * column)
    book.close()
    data = buffer.getvalue()
    assert_accepted(inspect_container(write(tmp_path, data)), data)


def test_worksheet_part_over_20_mb(tmp_path: Path, workbook: bytes) -> None:
    row = b'<row r="1"><c r="A1"><v>%d</v></c></row>'
    generator = random.Random(7)
    body = b"".join(row % generator.getrandbits(40) for _ in range(21 * 2**20 // 36))
    sheet = sheet_xml(workbook).replace(b"</sheetData>", body + b"</sheetData>")
    assert len(sheet) > 20 * 2**20
    data = rewrite_zip(workbook, {"xl/worksheets/sheet1.xml": sheet})
    report = inspect_container(write(tmp_path, data))
    assert_refused(report, "very_large_sheet")
    assert report.finding.sheet == SHEET


# ---------------------------------------------------------------- the whole catalogue, cost


def test_every_code_has_a_test_with_a_real_file() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [code for code in codes() if f'"{code}")' not in source and f'"{code}",' not in source]
    assert not untested


def test_messages_name_untrusted_file_names_safely(tmp_path: Path) -> None:
    name = "Copy of Báo cáo\u202e\x07 (1).xlsx"
    report = inspect_bytes(b"", name)
    assert report.finding.code == "empty_file"
    assert "«Copy of Báo cáo (1).xlsx»" in report.finding.message
    assert "\u202e" not in report.finding.message and "\x07" not in report.finding.message


def test_cost_on_a_template_is_well_under_a_millisecond(workbook: bytes) -> None:
    runs = timeit.repeat(lambda: inspect_bytes(workbook, NAME), number=50, repeat=7)
    per_file = min(runs) / 50
    # Measured around 0.3-0.5 ms here; the bound leaves room for a loaded CI machine.
    assert per_file < 0.003, f"{per_file * 1000:.2f} ms per file"


# ---------------------------------------------------------------- untrusted names


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Báo cáo.xlsx", "Báo cáo.xlsx"),
        ("Ba\u0301o ca\u0301o.xlsx", "Báo cáo.xlsx"),  # NFD, as macOS writes it
        ("  Copy of\tBáo  cáo (1).xlsx ", "Copy of Báo cáo (1).xlsx"),
        ("bao_cao\u202excod.xlsx", "bao_caoxcod.xlsx"),  # a bidi override that reverses the shown extension
        ("a\x00b\x1bc.xlsx", "abc.xlsx"),
        ("", "(không tên)"),
    ],
)
def test_safe_display_name(name: str, shown: str) -> None:
    assert safe_display_name(name) == shown


def test_safe_display_name_cuts_the_middle_and_keeps_the_extension() -> None:
    name = "Báo cáo kết quả thực hiện Đề án 06 " * 10 + "bản cuối.xlsx"
    shown = safe_display_name(name, limit=60)
    assert len(shown) <= 60
    assert shown.startswith("Báo cáo kết quả") and shown.endswith("bản cuối.xlsx") and "…" in shown


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("Báo cáo Xã Đại Ân (1).xlsx", "Báo cáo Xã Đại Ân (1).xlsx"),
        ("../../Văn phòng/so_cai.sqlite", "_.._.._Văn phòng_so_cai.sqlite"),
        ('a<b>c:d"e|f?g*h\\i.xlsx', "a_b_c_d_e_f_g_h_i.xlsx"),
        ("bao cao. . .", "bao cao"),
        ("CON.xlsx", "_CON.xlsx"),
        ("nul", "_nul"),
        ("com1 .txt", "_com1.txt"),
        ("LPT9.tar.gz", "_LPT9.tar.gz"),
        ("~$Báo cáo.xlsx", "_~$Báo cáo.xlsx"),
        ("..", "_"),
        ("", "_"),
        ("tab\there\u202e.xlsx", "tab here_.xlsx"),
    ],
)
def test_safe_file_component(name: str, component: str) -> None:
    assert safe_file_component(name) == component


def test_safe_file_component_truncates_keeping_the_extension() -> None:
    component = safe_file_component("Báo cáo " * 40 + ".xlsx", limit=80)
    assert len(component) <= 80
    assert component.endswith(".xlsx") and not component[:-5].endswith((" ", "."))
    assert "/" not in component and "\\" not in component
