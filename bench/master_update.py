"""Rebuilding the master with XlsxWriter against updating it in place with openpyxl (keep_vba=True).

Run: .venv/bin/python bench/master_update.py [FIGURES ...]   (default 5000 25000)

Both paths write the same «Dữ liệu» rows; the openpyxl path loads the master built by the
first, replaces the data sheet and saves, as an in-place update would. Also checks that the
openpyxl path kept the VBA project byte for byte and the button's VML drawing.
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from processors.master_rows import DATA_COLUMNS, LOG_COLUMNS, SHEET_DATA, SHEET_LOG, Styled, Table
from processors.master_vba import BUTTON_MACRO, CONF_SHEET, conf_rows, read_vba_project
from processors.master_writer import MasterContent, render_master


def make_rows(count: int) -> list[tuple]:
    """``count`` figure rows: 170 communes, 15 indicators, daily periods."""
    start = datetime(2023, 7, 18, 16, 0)
    return [
        (
            f"XA_{i % 170:03d}", f"Xã số {i % 170}", f"N{i // 2550:04d}", f"Ngày {i // 2550}", f"CT_{i % 15:02d}",
            "Tài khoản mức 2 kích hoạt thành công", Styled(float(i), "count"), start + timedelta(minutes=i),
            "Đúng hạn", f"bao_cao_{i % 170}.xlsx", "ab" * 32, i // 15,
        )
        for i in range(count)
    ]  # fmt: skip


def content(rows: list[tuple]) -> MasterContent:
    """A master with these data rows and an empty log."""
    return MasterContent(
        title="Bench",
        summary="",
        tables=(Table(SHEET_DATA, DATA_COLUMNS, rows), Table(SHEET_LOG, LOG_COLUMNS, [])),
        conf_sheet=CONF_SHEET,
        conf_rows=tuple(conf_rows()),
        vba_project=read_vba_project(),
        button_macro=BUTTON_MACRO,
        stamp="bench",
    )


def update_in_place(data: bytes, rows: list[tuple]) -> bytes:
    """openpyxl: load with keep_vba, replace «Dữ liệu», save."""
    book = openpyxl.load_workbook(io.BytesIO(data), keep_vba=True)
    index = book.sheetnames.index(SHEET_DATA)
    del book[SHEET_DATA]
    sheet = book.create_sheet(SHEET_DATA, index)
    sheet.append([c.header for c in DATA_COLUMNS])
    for r, row in enumerate(rows, 2):
        for c, value in enumerate(row, 1):
            cell = sheet.cell(r, c, value.value if isinstance(value, Styled) else value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main(counts: list[int]) -> None:
    """Print the time of both paths for each size."""
    for count in counts:
        rows = make_rows(count)
        t0 = time.perf_counter()
        built = render_master(content(rows))
        t1 = time.perf_counter()
        updated = update_in_place(built, rows)
        t2 = time.perf_counter()
        with zipfile.ZipFile(io.BytesIO(updated)) as book:
            vba_kept = book.read("xl/vbaProject.bin") == read_vba_project()
            vml = [n for n in book.namelist() if "vmlDrawing" in n]
            button_kept = bool(vml) and b"FmlaMacro" in book.read(vml[0])
        print(
            f"{count:>7} figures: XlsxWriter rebuild {t1 - t0:6.2f} s, openpyxl in place {t2 - t1:6.2f} s "
            f"(VBA kept: {vba_kept}, button kept: {button_kept})"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000, 25000])
