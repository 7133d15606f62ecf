"""docs/make_pictures.py: which PDF page shows a sheet, receipts as a sheet, and (with LibreOffice) a real PNG."""

from __future__ import annotations

import importlib.util
import io
import struct
import sys
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from clerk.libreoffice import require_libreoffice

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "make_pictures.py"
_spec = importlib.util.spec_from_file_location("make_pictures", SCRIPT)
pictures = sys.modules.setdefault("make_pictures", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(pictures)  # registered first: its dataclasses look their module up

RECEIPT = (
    "\ufeffPHIẾU PHẢN HỒI — TRẢ LẠI — CHƯA GHI NHẬN\r\n"
    + "=" * 60
    + "\r\nĐơn vị nộp:      Mỹ Tú (MY_TU)\r\n"
    + "Thời điểm nhận:  20:30:00 ngày 19/07/2023\r\n\r\n"
    + "  1. trang «Báo cáo», dòng 10, cột F (ô F10): "
    + "«Số tài khoản định danh điện tử mức 1» là chữ, không phải số. " * 4
    + "\r\n"
)


def workbook(*sheets: tuple[str, bool]) -> bytes:
    """An .xlsx with these (name, hidden) sheets, in order."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, hidden in sheets:
        sheet = book.add_worksheet(name)
        sheet.write(0, 0, name)
        if hidden:
            sheet.hide()
    book.close()
    return buffer.getvalue()


def test_a_sheet_is_printed_on_the_page_of_its_position_hidden_sheets_included() -> None:
    data = workbook(("Tổng hợp", False), ("Danh mục", True), ("Dữ liệu & nhật ký", False))
    assert pictures.sheet_names(data) == ["Tổng hợp", "Danh mục", "Dữ liệu & nhật ký"]
    assert pictures.page_of(data, "Dữ liệu & nhật ký") == 3
    with pytest.raises(KeyError, match="Xếp hạng"):
        pictures.page_of(data, "Xếp hạng")


def test_a_receipt_becomes_label_and_value_rows_wrapped_to_width() -> None:
    rows = pictures.receipt_rows(RECEIPT, width=80)
    assert rows[0] == ("PHIẾU PHẢN HỒI — TRẢ LẠI — CHƯA GHI NHẬN", "")
    assert ("Đơn vị nộp:", "Mỹ Tú (MY_TU)") in rows
    assert ("Thời điểm nhận:", "20:30:00 ngày 19/07/2023") in rows
    finding = [label for label, _value in rows if "F10" in label or label.startswith("     ")]
    assert len(finding) > 1 and all(len(line) <= 80 for line in finding)
    assert " ".join(part.strip() for part in finding).count("là chữ, không phải số") == 4


def test_a_receipt_workbook_holds_every_line() -> None:
    book = openpyxl.load_workbook(io.BytesIO(pictures.receipt_workbook(RECEIPT)))
    sheet = book["Phiếu phản hồi"]
    got = [(row[0] or "", row[1] or "") for row in sheet.iter_rows(values_only=True, max_col=2)]
    assert got == [(label, value) for label, value in pictures.receipt_rows(RECEIPT)]


@pytest.mark.libreoffice
def test_a_real_picture_is_made_with_libreoffice_and_pdftoppm(tmp_path: Path) -> None:
    require_libreoffice("pdftoppm", "pdfinfo")
    receipt = tmp_path / "phieu.xlsx"
    receipt.write_bytes(pictures.receipt_workbook(RECEIPT))
    two = tmp_path / "hai_trang.xlsx"
    two.write_bytes(workbook(("Một", False), ("Ẩn", True), ("Ba", False)))
    shown = [pictures.Picture("phieu", receipt, "Phiếu phản hồi", 300), pictures.Picture("ba", two, "Ba", 200)]
    written = pictures.render(shown, tmp_path / "hinh", tmp_path / "tam")
    assert [p.name for p in written] == ["phieu.png", "ba.png"]
    for path, picture in zip(written, shown, strict=True):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert 0 < width <= pictures.MAX_WIDTH and 0 < height <= picture.height
