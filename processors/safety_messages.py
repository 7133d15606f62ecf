"""The Vietnamese catalogue for container checks: what happened, and what the clerk should do.

One entry per finding code (wrong_type also varies by the detected kind). The message says
what the system saw, naming the file; the hint (shown after "Cách sửa:") says what to do.
Codes are stable; the wording may change freely. ``Refusal`` carries a code and its details
from deep inside the checks to the one place that turns it into a Finding.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A file refused: a finding code, the detected kind and the details its message needs."""

    def __init__(self, code: str, kind: str, value: Any = None, sheet: str | None = None, **details: Any):
        super().__init__(code)
        self.code = code
        self.kind = kind
        self.value = value
        self.sheet = sheet
        self.details = details


_REDO_IN_TEMPLATE = (
    "mở mẫu biểu .xlsx đã gửi cho đơn vị (trong thư mục «Mẫu biểu»), nhập số liệu, "
    "lưu lại dạng .xlsx (Excel Workbook) rồi nộp lại tệp đó."
)

_CATALOGUE: dict[str, tuple[str, str]] = {
    "not_a_file": (
        "«{name}» là một thư mục hoặc lối tắt, không phải tệp bảng tính.",
        "chỉ chép tệp .xlsx của đơn vị vào thư mục «Nộp báo cáo», không chép cả thư mục hay lối tắt.",
    ),
    "empty_file": (
        "Tệp «{name}» rỗng (0 byte), có thể việc lưu hoặc sao chép đã bị gián đoạn.",
        "mở tệp trên máy của đơn vị, kiểm tra số liệu, lưu lại rồi nộp lại.",
    ),
    "too_large": (
        "Tệp «{name}» nặng {size}, vượt giới hạn {limit}, trong khi mẫu biểu chỉ nặng vài chục KB.",
        "xóa hình ảnh hoặc trang tính đã thêm vào, hoặc " + _REDO_IN_TEMPLATE,
    ),
    "wrong_type_xls": (
        "Tệp «{name}» là bảng tính Excel 97-2003 (.xls), không phải mẫu biểu .xlsx.",
        _REDO_IN_TEMPLATE,
    ),
    "encrypted": (
        "Tệp «{name}» đã được đặt mật khẩu mở tệp nên hệ thống không đọc được.",
        "mở tệp, vào Tệp › Thông tin › Bảo vệ Sổ làm việc › Mã hóa bằng Mật khẩu, xóa mật khẩu, "
        "lưu lại rồi nộp lại (không cần gỡ khóa trang tính của mẫu biểu).",
    ),
    "wrong_type_ods": (
        "Tệp «{name}» là bảng tính OpenDocument (.ods, của LibreOffice/OpenOffice), không phải .xlsx.",
        "mở tệp bằng LibreOffice, chọn Lưu dạng (Save As), chọn kiểu «Excel 2007-365 (.xlsx)», "
        "giữ định dạng Excel khi được hỏi, rồi nộp lại tệp .xlsx.",
    ),
    "wrong_type_csv": (
        "Tệp «{name}» là tệp văn bản (CSV/TXT), không phải bảng tính Excel, "
        "nên đã mất thông tin nhận diện của mẫu biểu.",
        _REDO_IN_TEMPLATE,
    ),
    "wrong_type_pdf": (
        "Tệp «{name}» là tệp PDF; hệ thống không đọc số liệu từ tệp PDF.",
        _REDO_IN_TEMPLATE,
    ),
    "wrong_type": (
        "Tệp «{name}» là {what}, không phải bảng tính Excel (.xlsx).",
        _REDO_IN_TEMPLATE,
    ),
    "corrupt_zip": (
        "Tệp «{name}» bị hỏng hoặc chưa được sao chép hết nên không mở được như một bảng tính .xlsx.",
        "mở tệp trên máy của đơn vị; nếu mở được thì lưu lại và nộp lại, nếu không thì " + _REDO_IN_TEMPLATE,
    ),
    "zip_bomb": (
        "Tệp «{name}» có cấu trúc nén bất thường ({why}) nên bị từ chối để bảo vệ hệ thống.",
        _REDO_IN_TEMPLATE,
    ),
    "xml_entities": (
        "Tệp «{name}» có phần «{part}» chứa nội dung XML bất thường ({why}) mà Excel không bao giờ tạo ra; "
        "tệp bị từ chối để bảo vệ hệ thống.",
        _REDO_IN_TEMPLATE,
    ),
    "macro_enabled": (
        "Tệp «{name}» là bảng tính có macro hoặc dạng nhị phân (.xlsm/.xlsb); hệ thống không nhận tệp loại này.",
        "mở tệp, chọn Lưu thành (Save As), chọn kiểu «Excel Workbook (*.xlsx)», đồng ý lưu không có macro, "
        "rồi nộp lại tệp .xlsx.",
    ),
    "external_links": (
        "Tệp «{name}» có liên kết tới tệp hoặc nguồn dữ liệu khác; hệ thống không đọc theo liên kết.",
        "mở tệp, vào Dữ liệu › Sửa Liên kết (Edit Links), chọn Ngắt Liên kết (Break Link) để giữ lại giá trị, "
        "lưu lại rồi nộp lại.",
    ),
    "very_large_sheet": (
        "Trang tính «{sheet}» trong tệp «{name}» lớn bất thường ({why}), trong khi mẫu biểu chỉ có vài chục dòng.",
        "xóa các dòng, cột thừa đã dán vào trang tính, hoặc " + _REDO_IN_TEMPLATE,
    ),
}

# What a file of each detected kind is, for the wrong_type message.
_KIND_WHAT = {
    "image": "một hình ảnh",
    "archive": "một tệp nén",
    "zip": "một tệp nén .zip",
    "docx": "một văn bản Word",
    "doc": "một văn bản Word",
    "pptx": "một tệp PowerPoint",
    "ppt": "một tệp PowerPoint",
    "odf": "một tài liệu OpenDocument không phải bảng tính",
    "html": "một trang web (HTML) mang tên bảng tính",
    "xml": "một tệp XML (có thể là «XML Spreadsheet 2003»)",
}
_UNKNOWN_WHAT = "một loại tệp không nhận ra được"


def render(code: str, name: str, kind: str, **details: Any) -> tuple[str, str]:
    """The (message, hint) of a code for a display name; `details` fill the code's placeholders."""
    message, hint = _CATALOGUE[code]
    fields = {"what": _KIND_WHAT.get(kind, _UNKNOWN_WHAT), "sheet": "", "part": "", "why": "", **details}
    return message.format(name=name, **fields), hint


def format_size(size: int) -> str:
    """Bytes as people read them, Vietnamese style: 25,3 MB; 812 KB; 40 byte."""
    if size >= 2**20:
        return f"{size / 2**20:.1f} MB".replace(".", ",")
    if size >= 2**10:
        return f"{size // 2**10} KB"
    return f"{size} byte"


def codes() -> tuple[str, ...]:
    """Every code this catalogue knows."""
    return tuple(_CATALOGUE)
