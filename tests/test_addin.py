"""The «Tổng hợp» button: the handler run through xlwings' remote engine on a real master, over HTTP, in LibreOffice."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from defusedxml import ElementTree
from test_master import DAY_1, KEY, LATE_DAY_1, ON_TIME_DAY_1, ingest, ledger_of, send

from addin.book_json import KNOWN_ACTIONS, apply_actions, book_payload
from addin.handlers import NO_SHARE, OK, REFUSED_CHOICE, tong_hop
from addin.server import ENDPOINT, ServerSettings, make_server
from processors.master_rows import (
    ALL_LEVELS,
    LEVEL_CELL,
    PERIOD_CELL,
    RATE_CELL,
    REPORT_SHEETS,
    SHEET_LISTS,
    SHEET_LOG,
    SHEET_MISSING,
    SHEET_PROGRESS,
    SHEET_RANKING,
    SHEET_SUMMARY,
    STATUS_CELL,
    SUMMARY_TOP,
    WARNINGS_CELL,
    report_tables,
)
from processors.master_vba import BUTTON_MACRO
from shared_folder_layout.share import Share, init_share

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # xlwings PRO's remote engine, non-commercial use
xw = pytest.importorskip("xlwings")
Engine = pytest.importorskip("xlwings.pro._xlremote").Engine
load_report = pytest.importorskip("processors.report").load_report

XA = "Xã"


# ---------------------------------------------------------------- helpers


def set_cell(payload: dict[str, Any], sheet: str, ref: str, value: Any) -> None:
    """Type ``value`` into a cell of the payload, as a clerk choosing in the dropdown would (the client sends it)."""
    values = next(s for s in payload["sheets"] if s["name"] == sheet)["values"]
    row, col = int(ref[1:]) - 1, ord(ref[0]) - ord("A")
    while len(values) <= row:
        values.append([""] * len(values[0]))
    for line in values:
        line.extend([""] * (col + 1 - len(line)))
    values[row][col] = value


def press(served: Share, payload: dict[str, Any], now: str, monkeypatch: pytest.MonkeyPatch, **kw: Any):
    """The button on a remote book built from ``payload``: the result and the actions Excel would apply."""
    monkeypatch.setenv("CHITIEU_NOW", now)
    book = xw.Book(json=payload)
    result = tong_hop(book, **{"share": served, "key": KEY, **kw})
    return result, book.json()["actions"]


def applied(master: Path, actions: list[dict[str, Any]]) -> openpyxl.Workbook:
    """The master with the actions replayed as Excel applies them."""
    book = openpyxl.load_workbook(master, keep_vba=True)
    apply_actions(book, actions)
    return book


def rows_of(book: openpyxl.Workbook, name: str, top: int) -> list[tuple[Any, ...]]:
    """A sheet's rows under its header (``top`` 0-based), trailing empty rows dropped."""
    rows = [tuple(r) for r in book[name].iter_rows(min_row=top + 2, values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def expected_rows(share: Share, period: str | None, level: str | None, now: str, name: str) -> list[tuple[Any, ...]]:
    """What a sheet must hold: the report computed directly, through the same tables, as Excel stores it."""
    from addin.book_json import excel_input
    from processors.master_rows import table_grid

    report = load_report(share, period=period, level=level, now=_moment(now))
    table = next(t for t in report_tables(share.campaign, report) if t.name == name)
    grid = table_grid(table)[table.top + 1 :]
    to_json = Engine.prepare_xl_data_element  # what the remote engine sends for a value
    return [tuple(excel_input(to_json(v, None)) for v in row) for row in grid]


def _moment(text: str):
    from forms.clock import now_local

    os.environ["CHITIEU_NOW"] = text
    return now_local()


def has_formula(book: openpyxl.Workbook) -> list[str]:
    """Every cell that became a formula."""
    return [
        f"{s.title}!{c.coordinate}" for s in book.worksheets for row in s.iter_rows() for c in row if c.data_type == "f"
    ]


@pytest.fixture
def reported(tmp_path: Path, small_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> Share:
    """Day 1: XA_DAI (a file name that looks like a formula) and HUYEN_A on time; PHUONG_1 drops late, not yet taken in."""
    share = init_share(tmp_path / "share", small_yaml, KEY)
    send(share, "XA_DAI", "=1+1.xlsx", TK_MUC1=120)  # a file name Excel would take for a formula
    send(share, "HUYEN_A", "huyen_a.xlsx")
    assert ingest(share, monkeypatch, ON_TIME_DAY_1).accepted == 2
    send(share, "PHUONG_1", "phuong_1.xlsx")  # waiting in the inbox: the button takes it in
    return share


# ---------------------------------------------------------------- the handler through the remote engine


def test_button_takes_in_new_files_and_fills_every_sheet(reported: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share, master = reported, reported.layout.master
    payload = book_payload(master)
    assert [s["name"] for s in payload["sheets"]][: len(REPORT_SHEETS)] == list(REPORT_SHEETS)
    set_cell(payload, SHEET_SUMMARY, PERIOD_CELL, DAY_1)
    set_cell(payload, SHEET_SUMMARY, LEVEL_CELL, XA)
    result, actions = press(share, payload, LATE_DAY_1, monkeypatch)
    assert result.status == OK, result.message
    assert (result.period, result.level) == (share.campaign.period_by_label[DAY_1].code, "xa")
    assert "Đã xử lý 1 tệp: 1 tiếp nhận" in result.message
    with ledger_of(share) as ledger:
        assert "PHUONG_1" in {r.unit_code for r in ledger.files()}

    assert {a["func"] for a in actions} <= KNOWN_ACTIONS
    per_sheet = Counter(a["sheet_position"] for a in actions if a["func"] == "setValues")
    names = [s["name"] for s in payload["sheets"]]
    for name in (SHEET_RANKING, SHEET_PROGRESS, SHEET_MISSING, SHEET_LOG):
        assert per_sheet[names.index(name)] == 1, f"{name}: one range assignment"
    assert per_sheet[names.index(SHEET_SUMMARY)] == 3  # controls B4:B7, the table, the status line
    fitted = [(a["sheet_position"], a["args"]) for a in actions if a["func"] == "setAutofit"]
    assert fitted == [(names.index(SHEET_MISSING), ["rows"])], "the wrapped reminders: Excel fits their rows"

    book = applied(master, actions)
    assert has_formula(book) == [], "a clerk's text became a formula"
    summary = book[SHEET_SUMMARY]
    assert (summary[PERIOD_CELL].value, summary[LEVEL_CELL].value) == (DAY_1, XA)
    assert "Tổng hợp lúc" in summary[STATUS_CELL].value and "đơn vị" in summary[RATE_CELL].value
    assert summary[WARNINGS_CELL].value
    period = share.campaign.period_by_label[DAY_1].code
    for name, top in ((SHEET_SUMMARY, SUMMARY_TOP), (SHEET_RANKING, 3), (SHEET_PROGRESS, 3), (SHEET_MISSING, 3)):
        assert rows_of(book, name, top) == expected_rows(share, period, "xa", LATE_DAY_1, name), name
    units = {row[1] for row in rows_of(book, SHEET_SUMMARY, SUMMARY_TOP)}
    assert units == {"XA_DAI", "PHUONG_1"}, "the chosen level only"
    status = {row[1]: row[5] for row in rows_of(book, SHEET_SUMMARY, SUMMARY_TOP)}
    assert status == {"XA_DAI": "Đúng hạn", "PHUONG_1": "Trễ hạn"}
    log = rows_of(book, SHEET_LOG, 0)
    assert [row[7] for row in log] == ["=1+1.xlsx", "huyen_a.xlsx", "phuong_1.xlsx"]
    assert book[SHEET_PROGRESS]["A1"].value == "Tiến độ"
    reminders = len(rows_of(book, SHEET_MISSING, 3))
    assert reminders and all(book[SHEET_MISSING].row_dimensions[r].height is None for r in range(5, 5 + reminders))

    # Applied and saved, the master still opens and keeps its button's wiring.
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as saved:
        assert any("vmlDrawing" in n for n in saved.namelist())
        assert "xl/vbaProject.bin" in saved.namelist()


def test_every_level_and_the_current_period_when_the_cells_were_emptied(
    reported: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = book_payload(reported.layout.master)
    set_cell(payload, SHEET_SUMMARY, PERIOD_CELL, "")
    set_cell(payload, SHEET_SUMMARY, LEVEL_CELL, None)
    result, actions = press(reported, payload, LATE_DAY_1, monkeypatch)
    assert result.status == OK, result.message
    book = applied(reported.layout.master, actions)
    assert book[SHEET_SUMMARY][LEVEL_CELL].value == ALL_LEVELS
    assert book[SHEET_SUMMARY][PERIOD_CELL].value in share_labels(reported)
    assert {row[1] for row in rows_of(book, SHEET_SUMMARY, SUMMARY_TOP)} == {"XA_DAI", "PHUONG_1", "HUYEN_A"}


def share_labels(share: Share) -> set[str]:
    """Every period label of the campaign."""
    return {p.label for p in share.campaign.schedule}


@pytest.mark.parametrize(
    ("cell", "typed", "said"),
    [
        (PERIOD_CELL, "Ngày 30/02/2023", "không có trong kế hoạch"),
        (PERIOD_CELL, 45000.0, "không có trong kế hoạch"),
        (LEVEL_CELL, "Thôn", "không có trong danh sách"),
    ],
)
def test_unknown_choice_is_answered_in_the_sheet(
    reported: Share, monkeypatch: pytest.MonkeyPatch, cell: str, typed: Any, said: str
) -> None:
    payload = book_payload(reported.layout.master)
    set_cell(payload, SHEET_SUMMARY, cell, typed)
    result, actions = press(reported, payload, LATE_DAY_1, monkeypatch)
    assert result.status == REFUSED_CHOICE and said in result.message
    book = applied(reported.layout.master, actions)
    assert said in book[SHEET_SUMMARY][STATUS_CELL].value
    assert "Đã xử lý 1 tệp" in book[SHEET_SUMMARY][STATUS_CELL].value, "new files are still taken in"
    assert [a["func"] for a in actions] == ["setValues"], "nothing but the message is written"


def test_master_that_lost_its_share_says_so(reported: Share, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    payload = book_payload(reported.layout.master)
    set_cell(payload, SHEET_LISTS, "C2", str(tmp_path / "khong_co"))
    result, actions = press(reported, payload, LATE_DAY_1, monkeypatch, share=None)
    assert result.status == NO_SHARE and "Không tìm thấy thư mục dùng chung" in result.message
    book = applied(reported.layout.master, actions)
    assert "Không tìm thấy" in book[SHEET_SUMMARY][STATUS_CELL].value


def test_button_finds_its_share_from_the_master(reported: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = book_payload(reported.layout.master)
    result, _actions = press(reported, payload, LATE_DAY_1, monkeypatch, share=None)
    assert result.status == OK, result.message


# ---------------------------------------------------------------- the same handler over HTTP


@pytest.fixture
def server(reported: Share) -> Iterator[str]:
    """The button's server on a free loopback port, with a token."""
    srv = make_server(ServerSettings(reported, KEY, token="bi-mat"), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def post(url: str, body: bytes, token: str = "bi-mat") -> tuple[int, bytes]:
    """POST over real HTTP; (status, body)."""
    request = urllib.request.Request(
        url, body, {"Content-Type": "application/json", "Authorization": token}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def raw_post(server: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """A POST with hand-set headers and no body (what urllib will not send); (status, body)."""
    address = urllib.parse.urlsplit(server)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_server_runs_the_button_over_http(reported: Share, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHITIEU_NOW", LATE_DAY_1)
    payload = book_payload(reported.layout.master)
    set_cell(payload, SHEET_SUMMARY, PERIOD_CELL, DAY_1)
    status, body = post(server + ENDPOINT, json.dumps(payload).encode())
    assert status == 200, body.decode()
    actions = json.loads(body)["actions"]
    book = applied(reported.layout.master, actions)
    assert "Tổng hợp lúc" in book[SHEET_SUMMARY][STATUS_CELL].value
    assert {row[1] for row in rows_of(book, SHEET_SUMMARY, SUMMARY_TOP)} == {"XA_DAI", "PHUONG_1", "HUYEN_A"}
    assert [row[7] for row in rows_of(book, SHEET_LOG, 0)][-1] == "phuong_1.xlsx"

    assert post(server + ENDPOINT, json.dumps(payload).encode(), token="sai")[0] == 401
    status, body = post(server + ENDPOINT, b"{not json")
    assert status == 400 and "không phải sổ tính" in body.decode()
    status, body = post(server + ENDPOINT, b"")
    assert status == 400 and "quá lớn hoặc rỗng" in body.decode()
    status, body = raw_post(server, ENDPOINT, {"Content-Length": "abc", "Authorization": "bi-mat"})
    assert status == 400 and "quá lớn hoặc rỗng" in body.decode()
    status, body = raw_post(server, ENDPOINT, {"Content-Length": str(10**12), "Authorization": "bi-mat"})
    assert status == 413 and "quá lớn hoặc rỗng" in body.decode()
    with urllib.request.urlopen(server + "/", timeout=10) as response:
        page = response.read().decode()
    assert reported.campaign.info.name in page and "phi thương mại" in page
    with urllib.request.urlopen(server + "/office-script.ts", timeout=10) as response:
        script = response.read().decode()
    assert f'runPython(workbook, "{server}{ENDPOINT}", {{ auth: "bi-mat" }})' in script
    assert "async function runPython(" in script


# ---------------------------------------------------------------- LibreOffice: the master opens, the button is bound


@pytest.mark.libreoffice
def test_libreoffice_prints_the_master_and_binds_its_button(reported: Share, tmp_path: Path) -> None:
    from clerk.libreoffice import _clean_env, find_soffice, require_libreoffice

    require_libreoffice()
    master, out = reported.layout.master, tmp_path / "out"
    profile = (tmp_path / "profile").as_uri()
    for target in ("pdf", "ods"):
        subprocess.run(
            [find_soffice(), f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to",
             target, "--outdir", str(out), str(master)],
            check=True, capture_output=True, timeout=180, env=_clean_env(),
        )  # fmt: skip
    pdf = (out / "tonghop.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    content = ElementTree.fromstring(zipfile.ZipFile(out / "tonghop.ods").read("content.xml"))
    ns = {
        "form": "urn:oasis:names:tc:opendocument:xmlns:form:1.0",
        "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "xlink": "http://www.w3.org/1999/xlink",
    }
    buttons = content.findall(".//form:button", ns)
    assert [b.get(f"{{{ns['form']}}}label") for b in buttons] == ["Tổng hợp"]
    bound = [e.get(f"{{{ns['xlink']}}}href") for e in buttons[0].findall(".//script:event-listener", ns)]
    assert bound and bound[0].startswith(f"vnd.sun.star.script:VBAProject.Module1.{BUTTON_MACRO}?")
    sheets = [t.get(f"{{{ns['table']}}}name") for t in content.findall(".//table:table", ns)]
    assert sheets[: len(REPORT_SHEETS)] == list(REPORT_SHEETS)
    assert content.findall(".//table:content-validation", ns), "the period and level dropdowns"
    assert any(n.startswith("Object") for n in zipfile.ZipFile(out / "tonghop.ods").namelist()), "the chart"
