"""The master workbook: a real ledger built by intake, the master rebuilt from it, VBA and button intact, locks respected."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import os
import shutil
import struct
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from clerk.libreoffice import FillJob, fill_many_with_libreoffice, require_libreoffice
from defusedxml import ElementTree

from forms.schema import TZ, Campaign, IndicatorKind
from processors.cli import main
from processors.demo import fill_by_name
from processors.intake import IngestSummary, ingest_share
from processors.ledger import Ledger, open_ledger
from processors.master import BUSY, FAILED, UPDATED, button_module_path, read_master_stamp, update_master
from processors.master_rows import DATA_COLUMNS, LOG_COLUMNS, REPORT_SHEETS, SHEET_DATA, SHEET_LISTS, SHEET_LOG
from processors.master_vba import BUTTON_MACRO, CONF_SHEET, HANDLER_COMMAND, find_standalone_workbook, read_vba_project
from shared_folder_layout.share import Share, init_share

KEY = bytes(range(32))
DAY_1, DAY_2 = "Ngày 18/07/2023", "Ngày 19/07/2023"
ON_TIME_DAY_1 = "2023-07-18T16:00:00"  # day 1's deadline is 17:00
LATE_DAY_1 = "2023-07-19T10:00:00"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
XDR = {"xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"}


# ---------------------------------------------------------------- a real share and intake


@pytest.fixture
def share(tmp_path: Path, small_yaml: Path) -> Share:
    """A fresh share for the small campaign (3 reporting units)."""
    return init_share(tmp_path / "share", small_yaml, KEY)


def return_values(campaign: Campaign, unit_code: str, period_label: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid return of one unit by defined name: every input indicator typed by kind."""
    unit = campaign.unit_by_code[unit_code]
    values: dict[str, Any] = {"KY_BAO_CAO": period_label}
    typed = {
        IndicatorKind.COUNT: 100,
        IndicatorKind.PERCENT: 0.85,
        IndicatorKind.YES_NO: "Có",
        IndicatorKind.TEXT: "Không có",
    }
    for indicator in campaign.indicators_for(unit):
        if indicator.is_input:
            values[f"NHAP_{indicator.code}"] = typed.get(indicator.kind) or indicator.choices[-1]
    values["NHAP_HS_TRUC_TUYEN"] = 40  # ≤ HS_TONG
    values.update({f"NHAP_{code}": value for code, value in overrides.items()})
    return values


def fill_template(template: Path, values: dict[str, Any]) -> bytes:
    """The unit's template with ``values`` typed into its named cells (text stays text), as openpyxl saves it."""
    return fill_by_name(template.read_bytes(), values)


_mtime = [1_689_000_000]


def drop(share: Share, unit: str, name: str, data: bytes) -> Path:
    """Put a file into a unit's «Nộp báo cáo» folder, modified in the past (complete), in drop order."""
    path = share.layout.unit(unit).inbox / name
    path.write_bytes(data)
    _mtime[0] += 10
    os.utime(path, (_mtime[0], _mtime[0]))
    return path


def send(share: Share, unit: str, name: str, period: str = DAY_1, **overrides: Any) -> Path:
    """A unit returns its filled template."""
    values = return_values(share.campaign, unit, period, **overrides)
    return drop(share, unit, name, fill_template(share.layout.unit(unit).template, values))


def ingest(share: Share, monkeypatch: pytest.MonkeyPatch, now: str) -> IngestSummary:
    """One intake pass at ``now`` (CHITIEU_NOW), files settled."""
    monkeypatch.setenv("CHITIEU_NOW", now)
    return ingest_share(share, KEY, settle=0)


def ledger_of(share: Share) -> Ledger:
    """The share's ledger, opened."""
    return open_ledger(share.layout.ledger)


# ---------------------------------------------------------------- reading the master back


def sheet_rows(master: Path, name: str) -> list[tuple[Any, ...]]:
    """A sheet's rows below its header, as openpyxl reads the saved file."""
    book = openpyxl.load_workbook(master)
    return [tuple(row) for row in book[name].iter_rows(min_row=2, values_only=True)]


def to_second(value: Any) -> Any:
    """A datetime rounded to the second (Excel stores days as a float)."""
    return (value + timedelta(microseconds=500_000)).replace(microsecond=0) if isinstance(value, datetime) else value


def expected_data_rows(share: Share) -> list[tuple[Any, ...]]:
    """«Dữ liệu» as it must be: one row per ``ledger.effective_figures()``, in the ledger's order."""
    campaign = share.campaign
    labels = {"on_time": "Đúng hạn", "late": "Trễ hạn"}
    with ledger_of(share) as ledger:
        figures = ledger.effective_figures()
    return [
        (
            f["unit_code"],
            campaign.unit_by_code[f["unit_code"]].name,
            f["period_code"],
            campaign.period_by_code[f["period_code"]].label,
            f["indicator"],
            campaign.indicator_by_code[f["indicator"]].name,
            f["value"],
            f["received_at"].astimezone(TZ).replace(tzinfo=None),
            labels[f["timeliness"]],
            f["original_name"],
            f["sha256"],
            f["file_id"],
        )
        for f in figures
    ]


def assert_master_matches_ledger(share: Share) -> None:
    """The master's «Dữ liệu» is exactly the ledger's effective figures and «Nhật ký» lists every file."""
    master = share.layout.master
    got = [tuple(to_second(v) for v in row) for row in sheet_rows(master, SHEET_DATA)]
    assert got == expected_data_rows(share)
    with ledger_of(share) as ledger:
        files = ledger.files()
    log = sheet_rows(master, SHEET_LOG)
    assert [row[0] for row in log] == [f.id for f in files]


def zip_member(path: Path, member: str) -> bytes:
    """One member of a workbook's zip."""
    with zipfile.ZipFile(path) as book:
        return book.read(member)


def sheet_part(path: Path, sheet_name: str) -> str:
    """The zip member holding a sheet, found through workbook.xml and its relationships."""
    workbook = ElementTree.fromstring(zip_member(path, "xl/workbook.xml"))
    rels = ElementTree.fromstring(zip_member(path, "xl/_rels/workbook.xml.rels"))
    rid = next(s.get(REL_NS) for s in workbook.iterfind("m:sheets/m:sheet", NS) if s.get("name") == sheet_name)
    target = next(r.get("Target") for r in rels if r.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def raw_cells(path: Path, sheet_name: str) -> dict[str, tuple[str | None, str | None, bool]]:
    """Every cell of a sheet as saved: ref -> (type attribute, text it stands for, has a formula)."""
    strings = ["".join(si.itertext()) for si in ElementTree.fromstring(zip_member(path, "xl/sharedStrings.xml"))]
    sheet = ElementTree.fromstring(zip_member(path, sheet_part(path, sheet_name)))
    cells = {}
    for c in sheet.iter(f"{{{NS['m']}}}c"):
        kind, v = c.get("t"), c.find("m:v", NS)
        text = v.text if v is not None else "".join(c.find("m:is", NS).itertext()) if kind == "inlineStr" else None
        if kind == "s":
            text = strings[int(text)]
        cells[c.get("r")] = (kind, text, c.find("m:f", NS) is not None)
    return cells


def button_parts(path: Path) -> dict[str, str]:
    """What makes the «Tổng hợp» button: the sheet's legacy drawing, its relationship and the VML shape."""
    part = sheet_part(path, REPORT_SHEETS[0])
    rels_name = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
    rels = zip_member(path, rels_name).decode()
    vml_name = next(n for n in zipfile.ZipFile(path).namelist() if n.startswith("xl/drawings/vmlDrawing"))
    return {
        "sheet": zip_member(path, part).decode(),
        "rels": rels,
        "vml": zip_member(path, vml_name).decode(),
        "types": zip_member(path, "[Content_Types].xml").decode(),
        "workbook": zip_member(path, "xl/workbook.xml").decode(),
    }


def assert_wired(path: Path) -> None:
    """The VBA project is xlwings' own, byte for byte, and the button calls its macro."""
    assert zip_member(path, "xl/vbaProject.bin") == read_vba_project()
    parts = button_parts(path)
    assert "<legacyDrawing" in parts["sheet"]
    assert "vmlDrawing" in parts["rels"]
    assert 'ObjectType="Button"' in parts["vml"]
    assert f"<x:FmlaMacro>[0]!{BUTTON_MACRO}</x:FmlaMacro>" in parts["vml"]
    assert "Tổng hợp</font>" in parts["vml"]
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in parts["types"]
    assert 'codeName="ThisWorkbook"' in parts["workbook"]
    assert button_module_path(path).is_file()


# ---------------------------------------------------------------- reading the VBA project (MS-CFB, MS-OVBA)


def decompress_vba(data: bytes) -> bytes:
    """MS-OVBA 2.4.1 decompression of a module's source (or the dir stream)."""
    assert data[0] == 1, "not a compressed container"
    out, pos = bytearray(), 1
    while pos < len(data):
        header = struct.unpack_from("<H", data, pos)[0]
        end, start = pos + (header & 0x0FFF) + 3, len(out)
        pos += 2
        if not header & 0x8000:
            out += data[pos : pos + 4096]
            pos += 4096
            continue
        while pos < end:
            flags, pos = data[pos], pos + 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                token = struct.unpack_from("<H", data, pos)[0]
                pos += 2
                bits = max((len(out) - start - 1).bit_length(), 4)
                offset, length = (token >> (16 - bits)) + 1, (token & (0xFFFF >> bits)) + 3
                for _ in range(length):
                    out.append(out[-offset])
    return bytes(out)


def module_sources(vba: bytes) -> dict[str, str]:
    """Every module's VBA source: names and offsets from the dir stream, source from each module stream."""
    olefile = pytest.importorskip("olefile")
    ole = olefile.OleFileIO(io.BytesIO(vba))
    directory = decompress_vba(ole.openstream("VBA/dir").read())
    sources, pos, stream = {}, 0, None
    while pos + 6 <= len(directory):
        record, size = struct.unpack_from("<HI", directory, pos)
        if record == 0x0009:  # PROJECTVERSION: its size field lies (6 bytes follow, not 4)
            size = 6
        body = directory[pos + 6 : pos + 6 + size]
        if record == 0x001A:  # MODULESTREAMNAME
            stream = body.decode("latin-1")
        elif record == 0x0031:  # MODULEOFFSET
            data = ole.openstream(f"VBA/{stream}").read()
            sources[stream] = decompress_vba(data[struct.unpack("<I", body)[0] :]).decode("latin-1")
        pos += 6 + size
    return sources


# ---------------------------------------------------------------- tests


def test_master_holds_every_effective_figure_and_every_file(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    send(share, "XA_DAI", "xa_dai.xlsx", TK_MUC1=120)
    send(share, "HUYEN_A", "huyen_a.xlsx")
    drop(share, "HUYEN_A", "khong_phai_bao_cao.xlsx", b"not a workbook")
    send(share, "XA_DAI", "xa_dai_sua.xlsx", TK_MUC1=150)  # replaces the first return of day 1
    summary = ingest(share, monkeypatch, ON_TIME_DAY_1)
    assert (summary.accepted, summary.refused) == (3, 1)
    send(share, "PHUONG_1", "phuong_1.xlsx")
    assert ingest(share, monkeypatch, LATE_DAY_1).accepted == 1  # after day 1's deadline: late

    master = share.layout.master
    assert master.name == "tonghop.xlsm" and master.name.isascii()
    assert master.parent == share.layout.office / "Tổng hợp"
    assert_master_matches_ledger(share)
    data = sheet_rows(master, SHEET_DATA)
    assert {row[8] for row in data if row[0] == "PHUONG_1"} == {"Trễ hạn"}
    assert {row[8] for row in data if row[0] == "XA_DAI"} == {"Đúng hạn"}
    assert ("XA_DAI", "TK_MUC1", 150) in {(row[0], row[4], row[6]) for row in data}
    assert "xa_dai.xlsx" not in {row[9] for row in data}  # superseded

    book = openpyxl.load_workbook(master)
    assert book.sheetnames == [*REPORT_SHEETS, SHEET_DATA, SHEET_LOG, SHEET_LISTS, CONF_SHEET]
    assert book[CONF_SHEET].sheet_state == "hidden" and book[SHEET_LISTS].sheet_state == "hidden"
    conf = {row[0]: row[1] for row in book[CONF_SHEET].iter_rows(max_col=2, values_only=True)}
    assert {"Interpreter_Win", "Interpreter_Mac", "PYTHONPATH"} <= set(conf)
    assert Path(conf["PYTHONPATH"], "processors", "master_vba.py").is_file()
    assert "Cập nhật lúc 10:00:00 ngày 19/07/2023" in book[REPORT_SHEETS[0]]["C2"].value

    sheet = book[SHEET_DATA]
    assert [c.value for c in sheet[1]] == [c.header for c in DATA_COLUMNS]
    assert sheet.freeze_panes == "C2"
    assert sheet.auto_filter.ref.startswith("A1:L")
    formats = {(row[0].value, row[4].value): (row[6].number_format, row[7].number_format) for row in sheet.iter_rows(2)}
    assert formats[("XA_DAI", "TK_MUC1")] == ("#,##0", "dd/mm/yyyy hh:mm:ss")
    assert formats[("XA_DAI", "SO_HOA")][0] == "0.0%"
    log = book[SHEET_LOG]
    assert [c.value for c in log[1]] == [c.header for c in LOG_COLUMNS]
    outcomes = {row[7]: (row[8], row[10]) for row in log.iter_rows(2, values_only=True)}
    assert outcomes["khong_phai_bao_cao.xlsx"][0] == "Trả lại"
    assert outcomes["xa_dai.xlsx"][0] == "Tiếp nhận" and outcomes["xa_dai.xlsx"][1].startswith("Đã thay bằng tệp #")
    assert outcomes["xa_dai_sua.xlsx"] == ("Tiếp nhận", "Đang dùng")


def test_vba_project_and_button_survive_every_update(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(share, monkeypatch, ON_TIME_DAY_1)  # the first pass builds an empty master
    master = share.layout.master
    assert_wired(master)
    assert sheet_rows(master, SHEET_DATA) == []
    stamps = {read_master_stamp(master)}
    for n, unit in enumerate(("XA_DAI", "PHUONG_1", "HUYEN_A"), 1):
        send(share, unit, f"lan_{n}.xlsx")
        assert ingest(share, monkeypatch, ON_TIME_DAY_1).accepted == 1
        stamps.add(read_master_stamp(master))
        assert len(stamps) == n + 1, "each accepted file updates the master"
        assert_wired(master)
        assert_master_matches_ledger(share)


def test_vba_project_is_xlwings_standalone_module_and_the_button_macro_runs_the_handler(share: Share) -> None:
    assert find_standalone_workbook().parent.name in {"xlwings", "js"}
    sources = module_sources(read_vba_project())
    assert {"xlwings", "Module1", "Dictionary", "ThisWorkbook", "Sheet1", "Sheet2"} <= set(sources)
    xlwings_module = sources["xlwings"]
    assert "Public Function RunPython(PythonCommand As String)" in xlwings_module
    assert f'XLWINGS_VERSION As String = "{importlib.metadata.version("xlwings")}"' in xlwings_module
    assert 'PROJECT_NAME & ".conf"' in xlwings_module  # the settings sheet CONF_SHEET is named after this
    assert CONF_SHEET == "xlwings.conf"
    macro = sources["Module1"]
    assert f"Sub {BUTTON_MACRO}()" in macro
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in macro  # mymodule = workbook name

    with ledger_of(share) as ledger:
        assert update_master(share, ledger).status == UPDATED
    module = button_module_path(share.layout.master)
    assert module.name == "tonghop.py"
    tree = ast.parse(module.read_text(encoding="utf-8"))
    main_def = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
    assert "; ".join(ast.unparse(stmt) for stmt in main_def.body[1:]) == HANDLER_COMMAND


def test_open_master_is_left_alone_and_caught_up_after_it_closes(
    share: Share, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    send(share, "XA_DAI", "xa_dai.xlsx")
    ingest(share, monkeypatch, ON_TIME_DAY_1)
    master = share.layout.master
    owner = master.with_name("~$tonghop.xlsm")  # Excel's owner file while the workbook is open
    owner.write_bytes(b"\x0bNguyen Van A")
    before = (master.stat().st_mtime_ns, master.read_bytes())

    send(share, "PHUONG_1", "phuong_1.xlsx")
    send(share, "HUYEN_A", "huyen_a.xlsx")
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).accepted == 2
    assert (master.stat().st_mtime_ns, master.read_bytes()) == before
    with ledger_of(share) as ledger:
        assert {f["unit_code"] for f in ledger.effective_figures()} == {"XA_DAI", "PHUONG_1", "HUYEN_A"}
        result = update_master(share, ledger)
    assert result.status == BUSY and "~$tonghop.xlsm" in result.message
    capsys.readouterr()
    assert main(["master", str(share.layout.root)]) == 3
    assert "đang được mở" in capsys.readouterr().err
    assert (master.stat().st_mtime_ns, master.read_bytes()) == before

    owner.unlink()  # Excel closed the master
    summary = ingest(share, monkeypatch, ON_TIME_DAY_1)
    assert summary.total == 0, "nothing new arrived: the pass only catches the master up"
    assert master.stat().st_mtime_ns != before[0]
    assert_master_matches_ledger(share)
    assert {row[0] for row in sheet_rows(master, SHEET_DATA)} == {"XA_DAI", "PHUONG_1", "HUYEN_A"}
    assert_wired(master)


def test_master_that_cannot_be_replaced_waits_for_the_next_pass(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, for whom chmod stops nothing: use obstacles that fail for root too.
    master = share.layout.master
    master.mkdir()  # something that is not a workbook holds the master's name
    send(share, "XA_DAI", "xa_dai.xlsx")
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).accepted == 1
    assert master.is_dir()
    master.rmdir()

    folder = share.layout.master_dir
    shutil.rmtree(folder)
    folder.write_bytes(b"")  # the «Tổng hợp» folder is a file: nothing can be written under it
    send(share, "PHUONG_1", "phuong_1.xlsx")
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).accepted == 1
    with ledger_of(share) as ledger:
        result = update_master(share, ledger)
    assert result.status == BUSY and "Không ghi được" in result.message
    folder.unlink()
    folder.mkdir()

    assert ingest(share, monkeypatch, ON_TIME_DAY_1).total == 0
    assert_master_matches_ledger(share)
    assert {row[0] for row in sheet_rows(master, SHEET_DATA)} == {"XA_DAI", "PHUONG_1"}


def test_unchanged_ledger_leaves_master_untouched_and_refused_files_reach_the_log(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(share, "XA_DAI", "xa_dai.xlsx")
    ingest(share, monkeypatch, ON_TIME_DAY_1)
    master = share.layout.master
    before = master.stat().st_mtime_ns
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).total == 0
    assert master.stat().st_mtime_ns == before
    drop(share, "PHUONG_1", "anh.xlsx", b"\x89PNG\r\n\x1a\n")
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).refused == 1
    assert [row[7] for row in sheet_rows(master, SHEET_LOG)] == ["xa_dai.xlsx", "anh.xlsx"]


def test_clerk_text_stays_text(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    returns = [
        ("XA_DAI", "=HYPERLINK(1).xlsx", DAY_1, "=1+1"),
        ("PHUONG_1", "+phuong.xlsx", DAY_1, "+84 299 3822 001"),
        ("HUYEN_A", "-huyen.xlsx", DAY_1, "-5 hồ sơ"),
        ("XA_DAI", "@ngay_2.xlsx", DAY_2, "@SUM(A1)"),
    ]
    for unit, name, period, text in returns:
        send(share, unit, name, period, KHO_KHAN=text)
    assert ingest(share, monkeypatch, "2023-07-19T16:00:00").accepted == 4
    typed = {text for *_rest, text in returns}

    master = share.layout.master
    data = raw_cells(master, SHEET_DATA)
    values = {text: kind for kind, text, _f in data.values()}
    for text in typed:
        assert values.get(text) in {"s", "inlineStr", "str"}, f"{text!r} is not a string cell"
    assert values["=1+1"] == "s"
    log = raw_cells(master, SHEET_LOG)
    for cells in (data, log):
        assert not any(has_formula for _k, _t, has_formula in cells.values()), "a formula in the master"
    assert "=HYPERLINK(1).xlsx" in {t for _k, t, _f in log.values()}
    book = openpyxl.load_workbook(master)
    kho_khan = {row[6].value for row in book[SHEET_DATA].iter_rows(2) if row[4].value == "KHO_KHAN"}
    assert kho_khan == typed


def test_update_master_never_raises(share: Share) -> None:
    ledger = ledger_of(share)
    ledger.close()  # every query now fails
    result = update_master(share, ledger)
    assert result.status == FAILED and "sổ cái" in result.message
    assert not share.layout.master.exists()


def test_cli_master_rebuilds_from_the_ledger(
    share: Share, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    send(share, "XA_DAI", "xa_dai.xlsx")
    ingest(share, monkeypatch, ON_TIME_DAY_1)
    master = share.layout.master
    master.write_bytes(b"damaged")
    button_module_path(master).unlink()
    capsys.readouterr()
    assert main(["master", str(share.layout.root)]) == 0
    out = capsys.readouterr().out
    assert "Đã cập nhật sổ tổng hợp" in out and "tệp đã nhận" in out
    assert_master_matches_ledger(share)
    assert_wired(master)
    assert main(["master", str(share.layout.root / "khong_co")]) == 2


@pytest.mark.libreoffice
def test_libreoffice_opens_the_master(share: Share, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require_libreoffice()
    send(share, "XA_DAI", "xa_dai.xlsx", KHO_KHAN="=1+1")
    send(share, "HUYEN_A", "huyen_a.xlsx")
    ingest(share, monkeypatch, ON_TIME_DAY_1)
    pdf, resaved = tmp_path / "tonghop.pdf", tmp_path / "tonghop.xlsx"
    fill_many_with_libreoffice([FillJob(share.layout.master, pdf), FillJob(share.layout.master, resaved)])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    book = openpyxl.load_workbook(resaved)
    assert SHEET_DATA in book.sheetnames and SHEET_LOG in book.sheetnames
    rows = [tuple(r) for r in book[SHEET_DATA].iter_rows(min_row=2, values_only=True)]
    assert len(rows) == len(expected_data_rows(share))
    assert "=1+1" in {row[6] for row in rows}  # LibreOffice read it as text, not a formula


def test_master_opens_on_the_current_period_with_every_report_sheet_filled(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    from processors.master_rows import (
        LEVEL_CELL,
        LINE_HEIGHT,
        MISSING_COLUMNS,
        NAME_LEVEL,
        NAME_PERIOD,
        NAME_SHARE,
        PERIOD_CELL,
        SHARE_CELL,
        SHEET_MISSING,
        SHEET_PROGRESS,
        SHEET_RANKING,
        SUMMARY_TOP,
        wrapped_lines,
    )

    send(share, "XA_DAI", "xa_dai.xlsx", TK_MUC1=120)
    send(share, "HUYEN_A", "huyen_a.xlsx")
    ingest(share, monkeypatch, LATE_DAY_1)  # 10:00 on day 2: day 2 is the current period
    master = share.layout.master
    book = openpyxl.load_workbook(master)
    summary = book[REPORT_SHEETS[0]]
    assert (summary[PERIOD_CELL].value, summary[LEVEL_CELL].value) == (DAY_2, "Tất cả các cấp")
    lists = {str(v.sqref): v.formula1 for v in summary.data_validations.dataValidation}
    assert lists[PERIOD_CELL].startswith("'Danh mục'!$A$2:$A$") and lists[LEVEL_CELL].startswith("'Danh mục'!$B$2")
    periods = [row[0] for row in book[SHEET_LISTS].iter_rows(min_row=2, max_col=1, values_only=True) if row[0]]
    assert periods == [p.label for p in share.campaign.schedule]
    assert book[SHEET_LISTS][SHARE_CELL].value == str(share.layout.root)
    assert {NAME_PERIOD, NAME_LEVEL, NAME_SHARE} <= set(book.defined_names)
    header = [c.value for c in summary[SUMMARY_TOP + 1]]
    assert header[:3] == ["Hạng", "Mã đơn vị", "Tên đơn vị"]
    units = [row[1] for row in summary.iter_rows(min_row=SUMMARY_TOP + 2, values_only=True) if row[1]]
    assert sorted(units) == ["HUYEN_A", "PHUONG_1", "XA_DAI"]
    assert summary.freeze_panes == f"D{SUMMARY_TOP + 2}"
    for name in (SHEET_RANKING, SHEET_PROGRESS, SHEET_MISSING):
        sheet = book[name]
        assert sheet["A2"].value.startswith(f"Kỳ báo cáo: {DAY_2}")
        assert sheet.print_title_rows == "$4:$4"
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert book[SHEET_RANKING].freeze_panes == book[SHEET_MISSING].freeze_panes == "C5"
    assert book[SHEET_PROGRESS].freeze_panes is None, "a frozen pane would cut the chart beside the header"
    reminders = list(book[SHEET_MISSING].iter_rows(min_row=5, values_only=True))
    assert {row[0] for row in reminders} == {"XA_DAI", "PHUONG_1", "HUYEN_A"}, "nobody has sent day 2 yet"
    for r, row in enumerate(reminders, 5):  # the wrapped reminder has the height of its lines
        lines = wrapped_lines(row[-1], MISSING_COLUMNS[-1].width)
        height = book[SHEET_MISSING].row_dimensions[r].height
        assert lines > 1 and height == pytest.approx(LINE_HEIGHT * lines + 2, abs=1)
    progress = list(book[SHEET_PROGRESS].iter_rows(min_row=5, values_only=True))
    assert [row[0] for row in progress] == [DAY_1, DAY_2]
    assert progress[0][1] == datetime(2023, 7, 18) and book[SHEET_PROGRESS]["B5"].number_format == "dd/mm/yyyy"
    chart = zip_member(master, "xl/charts/chart1.xml").decode()
    assert "<c:lineChart>" in chart and "'Tiến độ'!$C$5" in chart and "'Tiến độ'!$D$5" in chart
    anchor = ElementTree.fromstring(zip_member(master, "xl/drawings/drawing1.xml")).find(".//xdr:from", XDR)
    columns = len(next(book[SHEET_PROGRESS].iter_rows(min_row=4, max_row=4, values_only=True)))
    assert (anchor.findtext("xdr:col", namespaces=XDR), anchor.findtext("xdr:row", namespaces=XDR)) == (
        str(columns),
        "3",
    ), "beside the table, top at its header: on the first screen and the first printed page"


def test_the_master_and_the_button_read_the_ledger_the_same_way(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from addin.handlers import compute
    from processors.completeness import ARRIVAL_COLUMNS, arrival_frame
    from processors.report import load_report, resolve_period
    from processors.report_source import read_report_inputs, read_report_source, report_of

    send(share, "XA_DAI", "xa_dai.xlsx", TK_MUC1=120)
    send(share, "HUYEN_A", "huyen_a.xlsx")
    ingest(share, monkeypatch, ON_TIME_DAY_1)
    send(share, "XA_DAI", "xa_dai_2.xlsx", TK_MUC1=130)  # supersedes the first
    ingest(share, monkeypatch, LATE_DAY_1)
    moment = datetime(2023, 7, 19, 10, tzinfo=TZ)
    with ledger_of(share) as ledger:
        figures, arrivals = read_report_inputs(ledger)
        records = ledger.files()
        source = read_report_source(ledger)
        pd.testing.assert_frame_equal(figures, ledger.effective_frame())
    slow = arrival_frame(records)[list(ARRIVAL_COLUMNS)]  # dataclasses.asdict per file
    pd.testing.assert_frame_equal(arrivals, slow, check_dtype=False)
    assert [r.id for r in source.records] == [r.id for r in records]
    day_1 = resolve_period(share.campaign, DAY_1, moment)
    kept = source.figures.copy(), source.arrivals.copy()
    fast = report_of(share.campaign, source, period=day_1, level=None, now=moment)
    expected = load_report(share, period=DAY_1, now=moment)
    for part in ("units", "indicators", "reminders"):
        pd.testing.assert_frame_equal(getattr(fast, part), getattr(expected, part))
    pd.testing.assert_frame_equal(source.figures, kept[0])  # the handler keeps the source: report_of must not touch it
    pd.testing.assert_frame_equal(source.arrivals, kept[1])
    button, files = compute(share, DAY_1, None, moment)
    pd.testing.assert_frame_equal(button.units, expected.units)
    assert [r.id for r in files] == [r.id for r in records]
