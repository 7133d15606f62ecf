"""Receipts: the answer a unit finds in its receipt folder for every file it returned.

``render_receipt`` is pure (a ledger record in, Vietnamese text out); ``write_receipt``
writes it as UTF-8 with BOM so Notepad shows the diacritics, and ``write_annotated_copy``
gives back the clerk's own workbook with each wrong cell marked and a comment on what to fix.
Names derive from the ledger record, so writing a receipt again after a crash rewrites the
same file instead of adding a second one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forms.atomic import write_atomic
from forms.findings import Finding
from forms.schema import Campaign, IndicatorKind, format_deadline
from forms.vi_format import format_figure, format_moment, format_rate
from processors.annotate import annotate_bytes, marks_of
from processors.file_names import safe_display_name, safe_file_component
from processors.ledger import ACCEPTED, DUPLICATE, FileRecord

log = logging.getLogger(__name__)
TAGS = {ACCEPTED: "ĐÃ NHẬN", "refused": "TRẢ LẠI", DUPLICATE: "TRÙNG LẶP"}
TITLES = {ACCEPTED: "ĐÃ TIẾP NHẬN", "refused": "TRẢ LẠI — CHƯA GHI NHẬN", DUPLICATE: "TRÙNG LẶP — KHÔNG GHI THÊM"}
TIMELINESS_VI = {"on_time": "ĐÚNG HẠN", "late": "TRỄ HẠN"}
MARK_FILL = "FFFF9999"


# A POSIX file name holds 255 bytes, not characters: a clerk's name of 60 emoji or CJK
# characters is legal on the share, but too long once a time, a hash or a tag is added to it.
RECEIPT_NAME_BYTES = 120
ARCHIVE_NAME_BYTES = 200


def fit_file_component(name: str, limit: int, max_bytes: int) -> str:
    """``safe_file_component(name, limit)``, shortened until its UTF-8 form holds at most ``max_bytes`` bytes."""
    component = safe_file_component(name, limit)
    while len(component.encode("utf-8")) > max_bytes and limit > 1:
        limit -= 1
        component = safe_file_component(name, limit)
    return component


def receipt_stem(record: FileRecord) -> str:
    """The receipt's file name without extension: time, outcome, the clerk's file name and the ledger id."""
    original = Path(record.original_name or "tep").stem
    moment = record.received_at.strftime("%Y-%m-%d %H.%M.%S")
    return f"{moment} {TAGS[record.outcome]} - {fit_file_component(original, 60, RECEIPT_NAME_BYTES)} (#{record.id})"


def render_receipt(
    campaign: Campaign,
    record: FileRecord,
    figures: Mapping[str, Any],
    annotated_name: str | None = None,
    duplicate_of: FileRecord | None = None,
) -> str:
    """The Vietnamese text of the receipt for one received file."""
    unit = campaign.unit_by_code.get(record.folder_unit or "")
    period = campaign.period_by_code.get(record.period_code or "")
    lines = [
        f"PHIẾU PHẢN HỒI — {TITLES[record.outcome]}",
        "=" * 60,
        f"Chiến dịch:      {campaign.info.name}",
        f"Đơn vị nộp:      {unit.name if unit else record.folder_unit} ({record.folder_unit})",
        f"Tệp đã nộp:      {safe_display_name(record.original_name or '')}",
        f"Thời điểm nhận:  {format_moment(record.received_at)}",
        f"Mã tệp:          #{record.id} — SHA-256 {record.sha256[:16]}…",
    ]
    if period:
        lines.append(f"Kỳ báo cáo:      {period.label} (hạn nộp {format_deadline(period.deadline)})")
    if record.outcome == ACCEPTED:
        lines.append(f"Thời hạn:        {TIMELINESS_VI.get(record.timeliness or '', '')}")
        lines += ["", "SỐ LIỆU ĐÃ GHI NHẬN:"]
        for ind in campaign.indicators:
            if ind.code in figures:
                measure = f" {ind.measure}" if ind.measure and ind.kind is not IndicatorKind.PERCENT else ""
                value = figures[ind.code]
                shown = (
                    format_rate(value)
                    if ind.kind is IndicatorKind.PERCENT and value is not None
                    else format_figure(value)
                )
                lines.append(f"  • {ind.name}: {shown}{measure}")
        lines.append("Nếu nộp lại cho cùng kỳ, số liệu mới sẽ thay số liệu này (số cũ vẫn được lưu).")
    elif record.outcome == DUPLICATE:
        lines += [
            "",
            "Tệp này giống hệt (từng byte) một tệp đã nộp trước đó"
            + (f" lúc {format_moment(duplicate_of.received_at)} (#{duplicate_of.id})" if duplicate_of else "")
            + ".",
            "Số liệu đã được ghi nhận từ lần nộp trước; không cần làm gì thêm.",
        ]
    errors = [f for f in record.findings if f.is_error]
    warnings = [f for f in record.findings if not f.is_error]
    if errors:
        lines += ["", "TỆP CHƯA ĐƯỢC GHI NHẬN. CẦN SỬA:"]
        lines += [f"  {i}. {f.describe()}" for i, f in enumerate(errors, 1)]
        if annotated_name:
            lines += [
                "",
                f"Bản sao có đánh dấu ô cần sửa (tô đỏ, kèm ghi chú): «{annotated_name}»",
                "Mở bản đó, sửa các ô đã đánh dấu, lưu lại rồi nộp vào thư mục «Nộp báo cáo».",
            ]
        else:
            lines += ["", "Sửa theo hướng dẫn trên rồi nộp lại vào thư mục «Nộp báo cáo»."]
    if warnings:
        lines += ["", "LƯU Ý (không ảnh hưởng việc ghi nhận):"]
        lines += [f"  - {f.describe()}" for f in warnings]
    lines += ["", "Phiếu này do hệ thống chitieu tạo tự động."]
    return "\r\n".join(lines) + "\r\n"


def write_receipt(folder: Path, stem: str, text: str) -> Path:
    """Write ``text`` as ``<stem>.txt`` in UTF-8 with BOM (Notepad shows diacritics), replacing any earlier copy."""
    # As forms.atomic.write_atomic (a temp file ``.<stem>.<random>.tmp`` beside it, then a
    # rename), without a mkdir or path objects per receipt: the folder is made only when missing.
    directory = os.fspath(folder)
    target = os.path.join(directory, f"{stem}.txt")
    temp = os.path.join(directory, f".{stem}.{secrets.token_hex(4)}.tmp")
    data = text.encode("utf-8-sig")
    try:
        fh = open(temp, "wb")
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        fh = open(temp, "wb")
    try:
        with fh:
            fh.write(data)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return Path(target)


def annotated_name(stem: str) -> str:
    """File name of the marked-up copy that goes with a refusal."""
    return f"{stem} - SỬA LẠI.xlsx"


def discard_partial_answers(folder: Path, stem: str) -> None:
    """Remove the temp files a writer killed while answering ``stem`` left in the unit's receipt folder.

    ``write_atomic`` writes ``.<name stem>.<random>.tmp`` beside the target; a kill before its
    rename leaves one in a folder the clerk reads. Called when a recorded file is answered
    again after a crash (not on every answer: listing the folder costs on a share).
    """
    prefixes = (f".{stem}.", f".{Path(annotated_name(stem)).stem}.")
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(prefixes) and name.endswith(".tmp"):
            (folder / name).unlink(missing_ok=True)


def write_annotated_copy(original: bytes, findings: list[Finding], folder: Path, stem: str) -> Path | None:
    """The clerk's workbook with each wrong cell filled red and a comment saying what to fix; None if none has a cell."""
    marked = [f for f in findings if f.is_error and f.sheet and f.cell]
    if not marked:
        return None
    try:
        # Editing the few XML parts that change: milliseconds, where openpyxl takes about 0.1 s.
        data = annotate_bytes(original, marks_of(marked), MARK_FILL)
    except Exception as exc:  # Unsupported, or a part the direct edit cannot handle
        log.debug("annotate_fallback reason=%s", exc)
        data = _annotated_with_openpyxl(original, marked)
    folder.mkdir(parents=True, exist_ok=True)
    return write_atomic(folder / annotated_name(stem), data)


def _annotated_with_openpyxl(original: bytes, marked: list[Finding]) -> bytes:
    """The marked-up copy made by loading and saving the whole workbook (any workbook openpyxl reads)."""
    from openpyxl import load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    book = load_workbook(io.BytesIO(original))
    fill = PatternFill(fill_type="solid", start_color=MARK_FILL, end_color=MARK_FILL)
    for f in marked:
        if f.sheet not in book.sheetnames:
            continue
        cell = book[f.sheet][f.cell]
        cell.fill = fill
        note = f.message + (f" Cách sửa: {f.hint}" if f.hint else "")
        comment = Comment(note, "chitieu")
        comment.width, comment.height = 320, 120
        cell.comment = comment
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
