"""Make the README's pictures (docs/hinh/*.png) from the real files of a ``chitieu demo`` run.

    .venv/bin/python docs/make_pictures.py [--out docs/hinh]

Runs the demo into a temporary folder (with its own key), then for each picture takes a real
file the demo made: a filled template as it was returned, the marked-up copy of a refused
one, two receipts, the master's sheets and the sample plan's sheets. Each sheet is printed
alone to PDF by LibreOffice (headless; every other sheet hidden in a copy of the file, the
sheet on one page) and the PDF turned into a PNG by pdftoppm (poppler-utils) at 100 dpi, cut
to a readable size. Run it again after changing templates, receipts or the master: the
pictures then show the product as it is.

Needs: soffice (libreoffice-calc-nogui) and pdftoppm (poppler-utils).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "hinh"
DPI, MIN_DPI = 100, 72
MAX_WIDTH, MAX_HEIGHT = 1400, 900  # pixels kept from the top-left corner of a page
RECEIPT_FONT = "DejaVu Sans"  # has every Vietnamese letter precomposed (DejaVu Sans Mono lacks some)
RECEIPT_WIDTH = 150  # characters a receipt line is wrapped at in the picture
LABELLED = re.compile(r"^(\S[^:]{0,20}:)\s{2,}(\S.*)$")  # «Đơn vị nộp:      Mỹ Tú»
PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
SHEET_TAG = re.compile(r"<sheet\b[^>]*/>")


@dataclass(frozen=True)
class Picture:
    """One picture: which sheet of which workbook, and the PNG's name (without .png)."""

    name: str
    workbook: Path
    sheet: str
    height: int = MAX_HEIGHT  # pixels kept from the top (long tables: the first rows say enough)


def sheet_names(workbook: bytes) -> list[str]:
    """The workbook's sheets in order, hidden ones included (LibreOffice prints each on its own page)."""
    xml = zipfile.ZipFile(io.BytesIO(workbook)).read("xl/workbook.xml").decode("utf-8")
    return [_xml_unescape(re.search(r'\bname="([^"]*)"', tag)[1]) for tag in SHEET_TAG.findall(xml)]


def page_of(workbook: bytes, sheet: str) -> int:
    """The PDF page (1-based) that shows ``sheet`` when the workbook is printed one sheet a page."""
    names = sheet_names(workbook)
    if sheet not in names:
        raise KeyError(f"no sheet «{sheet}» (sheets: {', '.join(names)})")
    return names.index(sheet) + 1


def _xml_unescape(text: str) -> str:
    return text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def receipt_rows(text: str, width: int = RECEIPT_WIDTH) -> list[tuple[str, str]]:
    """A receipt's lines as (label, value) rows: «Đơn vị nộp:      Mỹ Tú» split in two, long lines wrapped."""
    rows: list[tuple[str, str]] = []
    for line in text.lstrip("\ufeff").replace("\r\n", "\n").rstrip("\n").split("\n"):
        labelled = LABELLED.match(line)
        if labelled:
            rows.append((labelled[1], labelled[2]))
            continue
        indent = " " * (len(line) - len(line.lstrip()) + 3)
        wrapped = textwrap.wrap(line, width, subsequent_indent=indent, drop_whitespace=False) or [""]
        rows += [(part.rstrip(), "") for part in wrapped]
    return rows


def receipt_workbook(text: str) -> bytes:
    """A receipt's text as a one-sheet workbook, one line a row, for LibreOffice to print as the clerk reads it."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("Phiếu phản hồi")
    style = book.add_format({"font_name": RECEIPT_FONT, "font_size": 10})
    sheet.set_column(0, 0, 16, style)
    sheet.set_column(1, 1, 100, style)
    for row, (label, value) in enumerate(receipt_rows(text)):
        sheet.write_string(row, 0, label, style)
        if value:
            sheet.write_string(row, 1, value, style)
    book.close()
    return buffer.getvalue()


def find_tools() -> tuple[str, str, str]:
    """soffice, pdftoppm and pdfinfo, or SystemExit saying which Debian package to install."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftoppm, pdfinfo = shutil.which("pdftoppm"), shutil.which("pdfinfo")
    needs = ((soffice, "libreoffice-calc-nogui"), (pdftoppm and pdfinfo, "poppler-utils"))
    missing = [package for tool, package in needs if not tool]
    if missing:
        raise SystemExit(f"Thiếu công cụ; cài: apt-get install --no-install-recommends {' '.join(missing)}")
    return soffice, pdftoppm, pdfinfo


def to_pdfs(soffice: str, files: list[Path], out: Path, profile: Path) -> None:
    """Print every workbook to PDF (each sheet on one page) with one LibreOffice start."""
    command = [
        soffice,
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        PDF_FILTER,
        "--outdir",
        str(out),
        *map(str, files),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def page_width(pdfinfo: str, pdf: Path, page: int) -> float:
    """The page's width in points."""
    out = subprocess.run(
        [pdfinfo, "-f", str(page), "-l", str(page), str(pdf)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return float(re.search(rf"Page\s+{page} size:\s+([\d.]+) x", out)[1])


def to_png(pdftoppm: str, pdf: Path, page: int, png: Path, width_pt: float, height: int = MAX_HEIGHT) -> Path:
    """One page as a PNG: at most DPI, less (down to MIN_DPI) to fit MAX_WIDTH; cut to MAX_WIDTH × ``height``."""
    dpi = round(max(MIN_DPI, min(DPI, MAX_WIDTH * 72 / width_pt)))
    command = [pdftoppm, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile"]
    command += ["-x", "0", "-y", "0", "-W", str(MAX_WIDTH), "-H", str(height), str(pdf), str(png.with_suffix(""))]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return png


def render(pictures: list[Picture], out: Path, work: Path) -> list[Path]:
    """Every picture as ``out/<name>.png``: each workbook printed once, one sheet a page."""
    soffice, pdftoppm, pdfinfo = find_tools()
    copies = work / "in"
    copies.mkdir(parents=True, exist_ok=True)
    sources = list(dict.fromkeys(p.workbook for p in pictures))
    copy_of = {src: copies / f"so_{i}{src.suffix}" for i, src in enumerate(sources)}  # plain names for soffice
    for src, copy in copy_of.items():
        shutil.copyfile(src, copy)
    pdfs = work / "pdf"
    to_pdfs(soffice, list(copy_of.values()), pdfs, work / "lo_profile")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for picture in pictures:
        copy = copy_of[picture.workbook]
        page = page_of(copy.read_bytes(), picture.sheet)
        pdf = pdfs / f"{copy.stem}.pdf"
        width = page_width(pdfinfo, pdf, page)
        written.append(to_png(pdftoppm, pdf, page, out / f"{picture.name}.png", width, picture.height))
    return written


def demo_pictures(demo_root: Path, work: Path) -> list[Picture]:
    """What to show, from the files of a finished demo in ``demo_root``."""
    from processors.demo import SAMPLE_PLAN, SHARE_DIR
    from shared_folder_layout.layout import ShareLayout

    layout = ShareLayout((demo_root / SHARE_DIR).resolve())
    filled = _one(layout.accepted_archive / "TP_SOC_TRANG" / "2023-07-21", "*.xlsx")
    receipts = layout.unit("MY_TU").receipts
    marked = _one(receipts, "* - SỬA LẠI.xlsx")
    refused = _one(receipts, "*TRẢ LẠI*.txt")
    accepted = _one(receipts, "*ĐÃ NHẬN*(đã sửa)*.txt")
    texts = work / "phieu"
    texts.mkdir(parents=True, exist_ok=True)
    for name, receipt in (("phieu_tra_lai", refused), ("phieu_da_nhan", accepted)):
        (texts / f"{name}.xlsx").write_bytes(receipt_workbook(receipt.read_text(encoding="utf-8-sig")))
    master = layout.master
    return [
        Picture("mau_bieu_da_dien", filled, "Báo cáo"),
        Picture("mau_bieu_huong_dan", filled, "Hướng dẫn", 600),
        Picture("ban_sua_lai", marked, "Báo cáo"),
        Picture("phieu_tra_lai", texts / "phieu_tra_lai.xlsx", "Phiếu phản hồi"),
        Picture("phieu_da_nhan", texts / "phieu_da_nhan.xlsx", "Phiếu phản hồi"),
        Picture("tong_hop", master, "Tổng hợp"),
        Picture("tong_hop_xep_hang", master, "Xếp hạng"),
        Picture("tong_hop_tien_do", master, "Tiến độ", 400),
        Picture("tong_hop_chua_bao_cao", master, "Chưa báo cáo"),
        Picture("tong_hop_du_lieu", master, "Dữ liệu", 360),
        Picture("tong_hop_nhat_ky", master, "Nhật ký", 360),
        Picture("ke_hoach_don_vi", SAMPLE_PLAN, "Đơn vị", 500),
        Picture("ke_hoach_giao_chi_tieu", SAMPLE_PLAN, "Giao chỉ tiêu"),
    ]


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise FileNotFoundError(f"{folder}: no {pattern}")
    return found[0]


def run_demo_quietly(root: Path) -> None:
    """``chitieu demo`` into ``root`` with a throwaway key, its output discarded."""
    from rich.console import Console
    from rich.progress import Progress

    from processors.demo import run_demo

    quiet = Console(file=io.StringIO())
    code = run_demo(root / "chitieu_demo", root / "secret.key", quiet, lambda: Progress(console=quiet))
    if code != 0:
        raise SystemExit(f"chitieu demo failed ({code}):\n{quiet.file.getvalue()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Tạo lại hình minh họa docs/hinh/*.png từ tệp thật của «chitieu demo»."
    )
    parser.add_argument("--out", type=Path, default=OUT, help="thư mục ghi hình (mặc định docs/hinh)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chitieu_hinh_") as tmp:
        work = Path(tmp)
        run_demo_quietly(work)
        written = render(demo_pictures(work / "chitieu_demo", work), args.out, work)
    for path in written:
        print(f"{path}  ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
