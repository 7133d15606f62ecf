#!/usr/bin/python3
"""A clerk in LibreOffice: open .xlsx files, type values into named cells, save them back.

Run with Debian's system python, which has the ``uno`` module from python3-uno (not the venv):

    /usr/bin/python3 tests/clerk/lo_fill.py '{"in": "a.xlsx", "out": "b.xlsx", "values": {"NHAP_TK_MUC1": 120}}'
    /usr/bin/python3 tests/clerk/lo_fill.py jobs.json
    /usr/bin/python3 tests/clerk/lo_fill.py - < jobs.json

The JSON is one job, or ``{"jobs": [job, ...], "timeout": 300, "profile": "/tmp/dir"}`` to fill
many files with one start of LibreOffice. A job:

    in, out        the workbook to open and where to save it (.xlsx; a .pdf ``out`` exports a PDF)
    values         {defined name: value}: a number is typed as a number (setValue), a string as
                   text (setString), true/false as a boolean, null clears the cell,
                   {"typed": "50.802"} as if typed on the keyboard (LibreOffice's en-US parsing),
                   {"date": "2023-07-18"} as a date
    formulas       {defined name: "=SUM(A1,B1)"} in Excel syntax
    recalc         true to recalculate every formula before saving (default false: as saved by a clerk)
    respect_protection
                   true (default): refuse a locked cell of a protected sheet, which a clerk cannot edit

Names are workbook-level defined names (``NHAP_<code>``, ``KY_BAO_CAO``, ``MA_DON_VI``); a name
only defined on a sheet is found too. Nothing is ever unprotected.

Prints a JSON report on stdout: ``{"ok": bool, "seconds": s, "jobs": [{"in", "out", "ok",
"cells": {name: {"cell", "type", "value"}}, "error"}]}``. Exit code 0 when every job succeeded,
1 when a job failed, 2 when the input is wrong or LibreOffice could not be started or timed out.
LibreOffice runs with a private profile, listens on a private pipe only, and is terminated
(killed if need be, with any process left on its profile) when the script ends, also on error,
timeout or SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from datetime import date
from pathlib import Path

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException

XLSX_FILTER = "Calc Office Open XML"
PDF_FILTER = "calc_pdf_Export"
SOFFICE_CANDIDATES = ("soffice", "/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice")
START_TIMEOUT = 90.0
DEFAULT_TIMEOUT = 300.0
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseLocking" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseDocumentSystemFileLocking" oor:op="fuse">\
<value>false</value></prop></item>
</oor:items>
"""
EPOCH = date(1899, 12, 30)  # serial day 0 of Calc and Excel (1900 date system)


class ClerkError(Exception):
    """A job could not be done as a clerk would do it (unknown name, locked cell, bad value)."""


class OfficeError(Exception):
    """LibreOffice could not be started, or died, or the run timed out."""


def make_property(name: str, value) -> PropertyValue:
    """One UNO PropertyValue."""
    prop = PropertyValue()
    prop.Name = name
    prop.Value = value
    return prop


def to_url(path: str | Path) -> str:
    """A file URL for ``path`` (absolute)."""
    return uno.systemPathToFileUrl(str(Path(path).resolve()))


def find_soffice() -> str:
    """The soffice launcher to start."""
    for candidate in SOFFICE_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise OfficeError("soffice not found: install libreoffice-calc-nogui (apt-get install libreoffice-calc-nogui)")


def find_processes_using(marker: str) -> list[int]:
    """Process ids whose command line contains ``marker`` (the option naming our private profile)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


class Office:
    """One headless soffice with a private profile, reached over a private UNO pipe."""

    def __init__(self, profile: str | None = None):
        self.own_profile = profile is None
        self.profile = Path(profile or tempfile.mkdtemp(prefix="chitieu-lo-profile-")).resolve()
        self.profile.mkdir(parents=True, exist_ok=True)
        self.pipe = f"chitieu_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        self.log_path = self.profile.parent / f"{self.profile.name}.soffice.log"
        self.proc: subprocess.Popen | None = None
        self.desktop = None
        self.killed = threading.Event()
        self.kill_reason = ""
        self.lock = threading.Lock()

    def write_settings(self) -> None:
        """Preset the profile: no document lock files (no ``.~lock.*#`` beside workbooks, no stale-lock refusals)."""
        settings = self.profile / "user" / "registrymodifications.xcu"
        if settings.exists():
            return
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(PROFILE_SETTINGS, encoding="utf-8")

    def start(self) -> None:
        """Start soffice and connect to it; raise OfficeError when it does not come up."""
        self.write_settings()
        accept = f"pipe,name={self.pipe};urp;StarOffice.ComponentContext"
        args = [
            find_soffice(),
            f"-env:UserInstallation={to_url(self.profile)}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            "--nolockcheck",
            f"--accept={accept}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["SAL_USE_VCLPLUGIN"] = "svp"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
            )
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.killed.is_set():
                raise OfficeError(f"{self.kill_reason} while LibreOffice was starting")
            try:
                context = resolver.resolve(f"uno:{accept}")
                break
            except NoConnectException:
                if self.proc.poll() is not None:
                    raise OfficeError(
                        f"soffice exited with code {self.proc.returncode} before accepting a connection\n{self.log()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise OfficeError(
                        f"soffice did not accept a connection within {START_TIMEOUT:.0f} s\n{self.log()}"
                    ) from None
                time.sleep(0.1)
        self.desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)

    def log(self) -> str:
        """What soffice printed, for error messages."""
        try:
            return self.log_path.read_text("utf-8", "replace").strip()
        except OSError:
            return ""

    def kill(self, reason: str = "stopped") -> None:
        """Kill soffice at once (its process group and anything else on our profile)."""
        with self.lock:
            if not self.killed.is_set():
                self.kill_reason = reason
            self.killed.set()
            if self.proc is not None and self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for pid in find_processes_using(f"-env:UserInstallation={to_url(self.profile)}"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def stop(self) -> None:
        """Ask LibreOffice to quit, then make sure it and its helpers are gone; remove our profile."""
        if self.desktop is not None and not self.killed.is_set():
            try:
                self.desktop.terminate()
            except Exception:  # the bridge closes under us while terminating: expected
                pass
        self.desktop = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    self.proc.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        self.kill("stopped")  # leftovers: the process group and anything still running on our profile
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.log_path.unlink()
        except OSError:
            pass
        if self.own_profile:
            shutil.rmtree(self.profile, ignore_errors=True)


def find_named_cell(doc, name: str):
    """The single cell a defined name refers to (workbook names first, then sheet-local names)."""
    ranges = []
    if doc.NamedRanges.hasByName(name):
        ranges.append(doc.NamedRanges.getByName(name))
    else:
        sheets = doc.Sheets
        for i in range(sheets.getCount()):
            local = sheets.getByIndex(i).NamedRanges
            if local.hasByName(name):
                ranges.append(local.getByName(name))
    if not ranges:
        raise ClerkError(f"no defined name {name!r} in the workbook")
    cells = ranges[0].getReferredCells()
    if cells is None:
        raise ClerkError(f"defined name {name!r} does not refer to cells ({ranges[0].getContent()!r})")
    address = cells.getRangeAddress()
    if address.StartColumn != address.EndColumn or address.StartRow != address.EndRow:
        raise ClerkError(f"defined name {name!r} refers to a range, not one cell: {cells.AbsoluteName}")
    return cells.getCellByPosition(0, 0)


def check_editable(doc, name: str, cell) -> None:
    """Refuse a locked cell of a protected sheet: a clerk could not type there."""
    sheet = doc.Sheets.getByIndex(cell.getCellAddress().Sheet)
    if sheet.isProtected() and cell.CellProtection.IsLocked:
        raise ClerkError(
            f"{name} ({cell.AbsoluteName}) is a locked cell on a protected sheet: a clerk cannot type there; "
            "nothing was unprotected"
        )


def set_number_format(doc, cell, kind: str) -> None:
    """Give ``cell`` the locale's standard format of ``kind`` (DATE or LOGICAL)."""
    formats = doc.getNumberFormats()
    key = formats.getStandardFormat(uno.getConstantByName(f"com.sun.star.util.NumberFormat.{kind}"), cell.CharLocale)
    cell.NumberFormat = key


def type_value(doc, cell, value) -> None:
    """Put ``value`` into ``cell`` with its type: number, text, boolean, date, typed input or nothing."""
    if value is None:
        flags = sum(
            uno.getConstantByName(f"com.sun.star.sheet.CellFlags.{f}")
            for f in ("VALUE", "DATETIME", "STRING", "FORMULA")
        )
        cell.clearContents(flags)
    elif isinstance(value, bool):
        cell.setValue(1.0 if value else 0.0)
        set_number_format(doc, cell, "LOGICAL")
    elif isinstance(value, int | float):
        cell.setValue(float(value))
    elif isinstance(value, str):
        cell.setString(value)
    elif isinstance(value, dict) and set(value) == {"typed"}:
        cell.setFormula(str(value["typed"]))
    elif isinstance(value, dict) and set(value) == {"date"}:
        cell.setValue(float((date.fromisoformat(value["date"]) - EPOCH).days))
        set_number_format(doc, cell, "DATE")
    else:
        raise ClerkError(f"cannot type {value!r}: use a number, a string, true/false, null, {{'typed'}} or {{'date'}}")


def set_excel_formula(doc, cell, formula: str) -> None:
    """Put an Excel-syntax formula (English names, commas) into ``cell``."""
    parser = doc.createInstance("com.sun.star.sheet.FormulaParser")
    mapper = doc.createInstance("com.sun.star.sheet.FormulaOpCodeMapper")
    language = uno.getConstantByName("com.sun.star.sheet.FormulaLanguage.XL_ENGLISH")
    special = mapper.getAvailableMappings(language, uno.getConstantByName("com.sun.star.sheet.FormulaMapGroup.SPECIAL"))
    rest = mapper.getAvailableMappings(
        language, uno.getConstantByName("com.sun.star.sheet.FormulaMapGroup.ALL_EXCEPT_SPECIAL")
    )
    parser.OpCodeMap = tuple(special) + tuple(rest)
    parser.FormulaConvention = uno.getConstantByName("com.sun.star.sheet.AddressConvention.XL_A1")
    text = formula if formula.startswith("=") else "=" + formula
    cell.setTokens(parser.parseFormula(text, cell.getCellAddress()))


def describe_cell(cell) -> dict:
    """What LibreOffice now holds in ``cell``: address, type and value."""
    kind = cell.getType().value
    if kind == "FORMULA":
        return {"cell": cell.AbsoluteName, "type": kind, "value": cell.getString(), "formula": cell.getFormula()}
    value = cell.getValue() if kind == "VALUE" else cell.getString()
    return {"cell": cell.AbsoluteName, "type": kind, "value": value}


def load_document(desktop, path: Path):
    """Open ``path`` hidden, for editing, with macros never run and links never updated."""
    if not path.is_file():
        raise ClerkError(f"input file not found: {path}")
    props = (
        make_property("Hidden", True),
        make_property("ReadOnly", False),
        make_property("MacroExecutionMode", 0),  # NEVER_EXECUTE
        make_property("UpdateDocMode", 0),  # NO_UPDATE
    )
    doc = desktop.loadComponentFromURL(to_url(path), "_blank", 0, props)
    if doc is None:
        raise ClerkError(f"LibreOffice could not open {path}")
    if not doc.supportsService("com.sun.star.sheet.SpreadsheetDocument"):
        close_document(doc)
        raise ClerkError(f"{path} is not a spreadsheet")
    return doc


def close_document(doc) -> None:
    """Close ``doc`` without saving."""
    try:
        doc.close(True)
    except Exception:
        try:
            doc.dispose()
        except Exception:
            pass


def run_job(desktop, job: dict) -> dict:
    """Do one job: open, type the values and formulas, save; return its report."""
    source, target = Path(job["in"]), Path(job["out"])
    report: dict = {"in": str(source), "out": str(target), "ok": False, "cells": {}}
    doc = load_document(desktop, source)
    try:
        respect = job.get("respect_protection", True)
        for name, value in (job.get("values") or {}).items():
            cell = find_named_cell(doc, name)
            if respect:
                check_editable(doc, name, cell)
            type_value(doc, cell, value)
        for name, formula in (job.get("formulas") or {}).items():
            cell = find_named_cell(doc, name)
            if respect:
                check_editable(doc, name, cell)
            set_excel_formula(doc, cell, formula)
        if job.get("recalc"):
            doc.calculateAll()
        for name in [*(job.get("values") or {}), *(job.get("formulas") or {})]:
            report["cells"][name] = describe_cell(find_named_cell(doc, name))
        pdf = job.get("pdf", target.suffix.lower() == ".pdf")
        target.parent.mkdir(parents=True, exist_ok=True)
        doc.storeToURL(
            to_url(target),
            (make_property("FilterName", PDF_FILTER if pdf else XLSX_FILTER), make_property("Overwrite", True)),
        )
    finally:
        close_document(doc)
    report["ok"] = True
    return report


def read_request(argv: list[str]) -> dict:
    """The request from argv: inline JSON, a JSON file, or ``-`` for stdin."""
    if len(argv) != 2:
        raise ClerkError("usage: lo_fill.py JSON | FILE.json | -")
    arg = argv[1]
    if arg == "-":
        text = sys.stdin.read()
    elif arg.lstrip().startswith(("{", "[")):
        text = arg
    else:
        text = Path(arg).read_text(encoding="utf-8")
    request = json.loads(text)
    if isinstance(request, list):
        request = {"jobs": request}
    elif "jobs" not in request:
        request = {"jobs": [request]}
    for job in request["jobs"]:
        if not isinstance(job, dict) or "in" not in job or "out" not in job:
            raise ClerkError(f"a job needs 'in' and 'out': {job!r}")
    return request


def install_stoppers(office: Office, timeout: float) -> threading.Timer:
    """Kill LibreOffice on timeout or on SIGTERM/SIGINT/SIGHUP, even while a UNO call blocks."""
    timer = threading.Timer(timeout, office.kill, args=(f"timed out after {timeout:g} s",))
    timer.daemon = True
    timer.start()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.set_wakeup_fd(write_fd)

    def watch() -> None:
        if os.read(read_fd, 1):  # a signal arrived: the main thread may be stuck in a UNO call
            office.kill("stopped by a signal")

    threading.Thread(target=watch, daemon=True).start()
    return timer


def main(argv: list[str]) -> int:
    """Run the jobs of the request in ``argv``; print the JSON report; return the exit code."""
    started = time.monotonic()
    try:
        request = read_request(argv)
    except (ClerkError, OSError, ValueError) as err:
        print(f"lo_fill: bad request: {err}", file=sys.stderr)
        return 2
    timeout = float(request.get("timeout", DEFAULT_TIMEOUT))
    office = Office(request.get("profile"))
    timer = install_stoppers(office, timeout)
    reports: list[dict] = []
    status = 0
    try:
        office.start()
        for job in request["jobs"]:
            try:
                reports.append(run_job(office.desktop, job))
            except ClerkError as err:
                reports.append({"in": job["in"], "out": job["out"], "ok": False, "error": str(err)})
                print(f"lo_fill: {job['in']}: {err}", file=sys.stderr)
                status = 1
            except Exception as err:
                if office.killed.is_set():
                    raise OfficeError(f"{office.kill_reason} (LibreOffice was killed)") from err
                if office.proc is not None and office.proc.poll() is not None:
                    raise OfficeError(f"LibreOffice died (exit {office.proc.returncode})\n{office.log()}") from err
                text = f"{type(err).__name__}: {getattr(err, 'Message', '') or err}"
                reports.append({"in": job["in"], "out": job["out"], "ok": False, "error": text})
                print(f"lo_fill: {job['in']}: LibreOffice refused: {text}", file=sys.stderr)
                status = 1
    except OfficeError as err:
        print(f"lo_fill: {err}", file=sys.stderr)
        status = 2
    except SystemExit as stop:
        print(f"lo_fill: stopped by a signal (exit {stop.code})", file=sys.stderr)
        status = int(stop.code or 2)
    except Exception:
        print("lo_fill: unexpected error\n" + traceback.format_exc(), file=sys.stderr)
        status = 2
    finally:
        timer.cancel()
        office.stop()
    ok = status == 0 and len(reports) == len(request["jobs"])
    print(json.dumps({"ok": ok, "seconds": round(time.monotonic() - started, 3), "jobs": reports}, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
