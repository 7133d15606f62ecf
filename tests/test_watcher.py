"""The watcher: ``chitieu watch`` as a real process takes each file once, as soon as it is complete.

Nothing is mocked: a share made by ``init_share`` from the small campaign, returns filled with
openpyxl through the templates' defined names, files saved the way Excel saves (an 8-hex-digit
temp file renamed over the real name, beside a ``~$`` owner file) and the way LibreOffice saves
(a ``.~lock.…#`` file while the document is open), a copy written in chunks, bursts, the units
folder renamed away and back, and a real SIGTERM. Receipts are awaited with a timeout; the real
SQLite ledger must hold each file exactly once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from conftest import SMALL_CAMPAIGN_YAML
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from forms.layout import NAME_PERIOD, input_name
from processors.cli import build_parser, cmd_watch, main
from processors.ledger import ACCEPTED, FileRecord, open_ledger
from processors.logs import LOG_FILE, attach_log_file, log_event
from processors.master_rows import SHEET_DATA
from processors.watcher import is_hint
from shared_folder_layout.layout import ShareLayout
from shared_folder_layout.share import Share, init_share

REPO = Path(__file__).resolve().parents[1]
KEY = bytes(range(32))
NOW = "2023-07-20T16:00"  # «Ngày 20/07/2023» is open and on time until 17:00
PERIOD = "Ngày 20/07/2023"
UNITS = ("HUYEN_A", "PHUONG_1", "XA_DAI")
FIGURES = {
    "TK_MUC1": 120,
    "TK_MUC2": 45,
    "HS_TONG": 30,
    "HS_TRUC_TUYEN": 12,
    "CKS_CAN_BO": 9,
    "SO_HOA": 0.6,
    "CO_KE_HOACH": "Có",
    "TIEN_DO": "Đang thực hiện",
    "KHO_KHAN": "Không có",
}
EXCEL_TEMP = "9F3A0C2B"  # what Excel calls the file it saves into before renaming it
RECEIPT_TIMEOUT = 15.0
STOP_WITHIN = 5.0


# ---------------------------------------------------------------- share and returns


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Share:
    """A share of the small campaign nothing was ingested into (copied for each test)."""
    base = tmp_path_factory.mktemp("watch")
    definition = base / "ke_hoach.yaml"
    definition.write_text(SMALL_CAMPAIGN_YAML, encoding="utf-8")
    return init_share(base / "chia_se", definition, KEY)


@pytest.fixture(scope="module")
def returns(pristine: Share) -> dict[str, bytes]:
    """One filled return per unit: the period and every input, typed by defined name."""
    filled = {}
    for code in UNITS:
        book = openpyxl.load_workbook(pristine.layout.unit(code).template)
        _named_cell(book, NAME_PERIOD).value = PERIOD
        unit = pristine.campaign.unit_by_code[code]
        for indicator in pristine.campaign.indicators_for(unit):
            if indicator.is_input:
                _named_cell(book, input_name(indicator.code)).value = FIGURES[indicator.code]
        buffer = io.BytesIO()
        book.save(buffer)
        filled[code] = buffer.getvalue()
    return filled


def _named_cell(book: openpyxl.Workbook, name: str):
    sheet, ref = next(iter(book.defined_names[name].destinations))
    return book[sheet][ref.replace("$", "")]


@pytest.fixture
def share(pristine: Share, tmp_path: Path) -> Share:
    """A fresh copy of the pristine share."""
    root = tmp_path / "chia_se"
    shutil.copytree(pristine.layout.root, root)
    return Share(layout=ShareLayout(root.resolve()), campaign=pristine.campaign, manifest=pristine.manifest)


def variant(data: bytes, n: int) -> bytes:
    """The same return with a different zip comment: another file (another hash), same figures."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as book:
        book.comment = f"ban {n}".encode()
    return buffer.getvalue()


# ---------------------------------------------------------------- clerks saving


def save_like_excel(inbox: Path, name: str, data: bytes) -> Path:
    """Excel: owner file ``~$name`` while the workbook is open, then the save itself; return the owner file."""
    owner = inbox / f"~${name}"
    owner.write_bytes(b"\x0dNguyen Van An".ljust(165, b"\x20"))
    excel_save(inbox, name, data)
    return owner


def excel_save(inbox: Path, name: str, data: bytes) -> None:
    """Excel's save: write an 8-hex-digit temp file, then rename it to ``name``."""
    temp = inbox / EXCEL_TEMP
    with open(temp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, inbox / name)


def save_like_libreoffice(inbox: Path, name: str, data: bytes) -> Path:
    """LibreOffice: ``.~lock.name#`` while the document is open; the file itself is written in place."""
    lock = inbox / f".~lock.{name}#"
    lock.write_text("Nguyễn Văn An,an,MAY-01,20.07.2023 15:58,file:///home/an/.config/libreoffice/4;", "utf-8")
    with open(inbox / name, "wb") as fh:
        half = len(data) // 2
        fh.write(data[:half])
        fh.flush()
        time.sleep(0.1)
        fh.write(data[half:])
    return lock


def copy_in_chunks(path: Path, data: bytes, chunks: int = 10, pause: float = 0.15, while_copying=None) -> None:
    """A slow copy: ``chunks`` writes with ``pause`` between them (each well under the settle time)."""
    size = -(-len(data) // chunks)
    with open(path, "wb") as fh:
        for start in range(0, len(data), size):
            fh.write(data[start : start + size])
            fh.flush()
            if while_copying:
                while_copying()
            time.sleep(pause)


# ---------------------------------------------------------------- the watcher process


class WatchProcess:
    """``python -m processors.cli watch`` running on a share, its console output in a file."""

    def __init__(self, share: Share, workdir: Path, *args: str):
        key = workdir / "secret.key"
        key.write_bytes(KEY)
        self.console = workdir / f"watch-{time.monotonic_ns()}.log"
        env = dict(os.environ, CHITIEU_NOW=NOW, PYTHONUNBUFFERED="1")
        env.pop("CHITIEU_KEY_FILE", None)
        with open(self.console, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "processors.cli", "watch", str(share.layout.root), "--key", str(key), *args],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        """Everything the watcher printed so far."""
        return self.console.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``text`` appears ``count`` times in the output."""
        wait_until(lambda: self.output().count(text) >= count, timeout, f"{text!r} x{count}", self)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, time.monotonic() - started


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., WatchProcess]]:
    """Start watchers; at the end each must stop on SIGTERM with exit code 0 within a few seconds."""
    started: list[WatchProcess] = []

    def start(share: Share, *args: str) -> WatchProcess:
        process = WatchProcess(share, tmp_path, *args)
        started.append(process)
        process.wait_for("event=started")
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            code, took = process.stop()
            assert code == 0, process.output()
            assert took < STOP_WITHIN, f"stopped after {took:.1f} s"
            assert "event=stopped" in process.output()


def wait_until(check: Callable[[], bool], timeout: float, what: str, process: WatchProcess | None = None) -> None:
    """Poll ``check`` until it is true; fail with the watcher's output after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n" + (process.output() if process else ""))
        time.sleep(0.05)


# ---------------------------------------------------------------- reading the share


def ledger_files(share: Share) -> list[FileRecord]:
    """Every file recorded in the share's ledger."""
    if not share.layout.ledger.exists():
        return []
    with open_ledger(share.layout.ledger) as ledger:
        return ledger.files()


def receipt_count(share: Share, units: tuple[str, ...] = UNITS) -> int:
    """How many .txt receipts the units' receipt folders hold."""
    return sum(len(list(share.layout.unit(u).receipts.glob("*.txt"))) for u in units)


def receipts_naming(share: Share, unit: str, stem: str) -> list[Path]:
    """The receipts in a unit's folder that name a file ``stem``."""
    return [p for p in share.layout.unit(unit).receipts.glob("*.txt") if f" - {stem} (#" in p.name]


def assert_each_once(share: Share, expected: set[tuple[str, str]]) -> list[FileRecord]:
    """The ledger holds exactly the ``expected`` (unit, file name) pairs, each once, each accepted and answered."""
    files = ledger_files(share)
    seen = Counter((r.folder_unit, r.original_name) for r in files)
    assert set(seen) == expected
    assert all(n == 1 for n in seen.values()), [k for k, n in seen.items() if n > 1]
    assert {r.outcome for r in files} == {ACCEPTED}, Counter(r.outcome for r in files)
    assert receipt_count(share) == len(expected)
    return files


def inbox_names(share: Share, unit: str) -> set[str]:
    """What is left in a unit's drop folder."""
    return {p.name for p in share.layout.unit(unit).inbox.iterdir()}


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_excel_libreoffice_and_slow_copy_each_taken_once_when_complete(share, returns, watch, mode):
    # A settle time with room to spare: on a loaded machine the check between two chunks of the
    # slow copy (it opens the ledger) must not look like a copy that stopped.
    process = watch(share, "--settle", "2", *(["--polling"] if mode == "polling" else []))
    excel_inbox = share.layout.unit("PHUONG_1").inbox
    owner = save_like_excel(excel_inbox, "Báo cáo ngày 20.xlsx", returns["PHUONG_1"])
    lo_inbox = share.layout.unit("XA_DAI").inbox
    lock = save_like_libreoffice(lo_inbox, "xa_dai_20_07.xlsx", returns["XA_DAI"])

    slow = share.layout.unit("HUYEN_A").inbox / "HUYEN_A.xlsx"

    def not_taken_yet() -> None:
        assert slow.exists() and not receipts_naming(share, "HUYEN_A", "HUYEN_A"), "taken while still copying"
        assert not [r for r in ledger_files(share) if r.folder_unit == "HUYEN_A"]

    copy_in_chunks(slow, returns["HUYEN_A"], while_copying=not_taken_yet)

    # The receipt is written before the original leaves the drop folder (a crash in between
    # re-finds a recorded file, never loses one), so wait for both.
    wait_until(
        lambda: receipt_count(share) == 3 and not inbox_names(share, "HUYEN_A"),
        RECEIPT_TIMEOUT,
        "three receipts and an emptied drop folder",
        process,
    )
    files = assert_each_once(
        share, {("PHUONG_1", "Báo cáo ngày 20.xlsx"), ("XA_DAI", "xa_dai_20_07.xlsx"), ("HUYEN_A", "HUYEN_A.xlsx")}
    )
    slow_record = next(r for r in files if r.folder_unit == "HUYEN_A")
    assert slow_record.sha256 == hashlib.sha256(returns["HUYEN_A"]).hexdigest()  # the whole copy, not a part
    # The owner and lock files are the editors' own: ignored and left where they are.
    assert inbox_names(share, "PHUONG_1") == {owner.name}
    assert inbox_names(share, "XA_DAI") == {lock.name}
    assert inbox_names(share, "HUYEN_A") == set()
    lock.unlink()  # LibreOffice closes the document
    time.sleep(0.3)
    assert len(ledger_files(share)) == 3
    # The master the office keeps open shows every accepted figure, each with its source file.
    with open_ledger(share.layout.ledger) as ledger:
        effective = ledger.effective_figures()
    data = list(openpyxl.load_workbook(share.layout.master)[SHEET_DATA].iter_rows(min_row=2, values_only=True))
    assert len(data) == len(effective) > 0
    assert {row[10] for row in data} >= {r.sha256 for r in files if r.outcome == "accepted"}
    # People read the log in Vietnamese, in the office folder as well as on the console.
    log = (share.layout.logs / LOG_FILE).read_text(encoding="utf-8")
    assert "Đã xử lý" in log and "tiếp nhận" in log and f"mode={mode}" in log


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_units_folder_disappears_and_comes_back(share, returns, watch, mode, tmp_path):
    process = watch(share, *(["--polling", "--interval", "1"] if mode == "polling" else []))
    units_root = share.layout.units_root
    save_like_excel(share.layout.unit("PHUONG_1").inbox, "truoc.xlsx", returns["PHUONG_1"])
    wait_until(lambda: receipt_count(share) == 1, RECEIPT_TIMEOUT, "the first receipt", process)

    away = tmp_path / "tam_cat"
    os.rename(units_root, away)
    process.wait_for("event=share_missing")
    # A clerk keeps saving into the folder while the office cannot see it.
    save_like_excel(away / "XA_DAI" / "Nộp báo cáo", "trong_luc_mat.xlsx", returns["XA_DAI"])
    time.sleep(1.0)
    assert process.proc.poll() is None, process.output()
    os.rename(away, units_root)
    process.wait_for("event=share_back")
    if mode == "native":
        process.wait_for("event=observer_started", count=2)
    save_like_excel(share.layout.unit("HUYEN_A").inbox, "sau.xlsx", returns["HUYEN_A"])

    wait_until(lambda: receipt_count(share) == 3, RECEIPT_TIMEOUT, "three receipts", process)
    assert_each_once(share, {("PHUONG_1", "truoc.xlsx"), ("XA_DAI", "trong_luc_mat.xlsx"), ("HUYEN_A", "sau.xlsx")})
    assert "Không truy cập được thư mục dùng chung" in process.output()


def test_burst_of_200_files_each_taken_once(share, returns, watch):
    process = watch(share)
    expected = set()
    for n in range(200):
        unit = UNITS[n % 3]
        name = f"bao_cao_{n:03d}.xlsx"
        excel_save(share.layout.unit(unit).inbox, name, variant(returns[unit], n))
        expected.add((unit, name))
    wait_until(
        lambda: receipt_count(share) >= 200 and all(not inbox_names(share, u) for u in UNITS),
        60,
        "200 receipts and emptied drop folders",
        process,
    )
    assert_each_once(share, expected)


def test_stop_mid_burst_finishes_the_batch_and_a_restart_takes_the_rest(share, returns, watch):
    expected = set()
    for n in range(120):  # arrived while no watcher ran
        unit = UNITS[n % 3]
        name = f"cho_{n:03d}.xlsx"
        path = share.layout.unit(unit).inbox / name
        path.write_bytes(variant(returns[unit], n))
        os.utime(path, (time.time() - 60, time.time() - 60))
        expected.add((unit, name))
    first = watch(share)
    wait_until(lambda: receipt_count(share) >= 10, RECEIPT_TIMEOUT, "the first receipts", first)
    code, took = first.stop()
    assert code == 0 and took < STOP_WITHIN, (code, took, first.output())
    assert "event=stopped" in first.output()
    # Stopped between batches: every recorded file is answered and gone, every other one still waits.
    recorded = {(r.folder_unit, r.original_name) for r in ledger_files(share)}
    waiting = {(u, name) for u in UNITS for name in inbox_names(share, u)}
    assert recorded and recorded | waiting == expected and not recorded & waiting
    assert receipt_count(share) == len(recorded)

    second = watch(share)
    wait_until(lambda: receipt_count(share) == 120, 60, "120 receipts", second)
    assert_each_once(share, expected)


def test_watch_refuses_a_missing_key_and_a_folder_that_is_not_a_share(share, tmp_path, capsys):
    assert main(["watch", str(share.layout.root), "--key", str(tmp_path / "khong_co.key")]) == 2
    assert "Không thấy tệp khóa" in capsys.readouterr().err
    key = tmp_path / "secret.key"
    key.write_bytes(KEY)
    plain = tmp_path / "thu_muc_thuong"
    plain.mkdir()
    assert main(["watch", str(plain), "--key", str(key)]) == 2
    assert "chia_se.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["watch", str(share.layout.root), "--key", str(key), "--interval", "0"])
    assert refused.value.code == 2 and "lớn hơn 0" in capsys.readouterr().err


def test_only_events_that_may_bring_a_file_wake_the_loop(share):
    inbox = share.layout.unit("XA_DAI").inbox
    receipts = share.layout.unit("XA_DAI").receipts
    assert is_hint(FileCreatedEvent(str(inbox / "bao_cao.xlsx")))
    assert is_hint(FileClosedEvent(str(inbox / "bao_cao.xlsx")))
    assert is_hint(FileMovedEvent(str(inbox / EXCEL_TEMP), str(inbox / "bao_cao.xlsx")))  # Excel's save
    assert not is_hint(FileCreatedEvent(str(inbox / EXCEL_TEMP)))
    assert not is_hint(FileCreatedEvent(str(inbox / "~$bao_cao.xlsx")))
    assert not is_hint(FileCreatedEvent(str(inbox / ".~lock.bao_cao.xlsx#")))
    assert not is_hint(FileOpenedEvent(str(inbox / "bao_cao.xlsx")))  # our own reading
    assert not is_hint(DirDeletedEvent(str(inbox / "cu")))
    assert not is_hint(DirModifiedEvent(str(inbox)))  # comes with the file's own event
    assert is_hint(DirCreatedEvent(str(inbox.parent.parent / "DON_VI_MOI")))
    assert not is_hint(FileCreatedEvent(str(receipts / "phieu.txt")))  # our own receipts


def test_log_file_survives_its_folder_going_away_and_coming_back(tmp_path):
    office = tmp_path / "Văn phòng"
    logs = office / "Nhật ký"
    logs.mkdir(parents=True)
    logger = logging.getLogger("chitieu.test_watcher")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler_path = attach_log_file(logger, logs)
    try:
        log_event(logger, logging.INFO, "one", "Lần một.", unit="XA_DAI")
        os.rename(office, tmp_path / "mat")
        log_event(logger, logging.INFO, "two", "Lần hai, khi thư mục mất.")  # no error, no file created
        assert not office.exists()
        os.rename(tmp_path / "mat", office)
        log_event(logger, logging.INFO, "three", "Lần ba.")
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    lines = handler_path.read_text(encoding="utf-8").splitlines()
    assert [line.split(" | ")[1] for line in lines] == ["Lần một.", "Lần ba."]
    assert "event=one unit=XA_DAI" in lines[0]


def _watch_args(argv: list[str]):
    args = build_parser().parse_args(argv)
    assert args.func is cmd_watch, argv
    return args


def test_deploy_examples_run_the_watch_command_as_documented(capsys):
    deploy = REPO / "deploy"
    unit = (deploy / "chitieu-watch.service").read_text(encoding="utf-8")
    settings = [line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")]
    assert ["Restart", "always"] in settings
    assert any(k == "Environment" and v.startswith("CHITIEU_KEY_FILE=") for k, v in settings)
    exec_start = shlex.split(dict(settings)["ExecStart"])
    assert exec_start[0].endswith("/chitieu")
    _watch_args(exec_start[1:])

    windows = deploy / "windows"
    winsw = ET.fromstring((windows / "chitieu-watch-winsw.xml").read_bytes())
    assert winsw.findtext("executable").endswith("python.exe")
    arguments = shlex.split(winsw.findtext("arguments"), posix=False)
    assert arguments[:2] == ["-m", "processors.cli"]
    _watch_args([a.strip('"') for a in arguments[2:]])
    assert {e.get("name") for e in winsw.iter("env")} >= {"CHITIEU_KEY_FILE", "PYTHONUTF8"}

    raw = (windows / "chitieu-watch-task.xml").read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 with BOM, as Task Scheduler writes and reads it
    task = ET.fromstring(raw.decode("utf-16").replace('encoding="UTF-16"', ""))
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    command = task.findtext("t:Actions/t:Exec/t:Command", namespaces=ns)
    assert (windows / command.rsplit("\\", 1)[1]).is_file()
    assert task.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=ns) == "PT0S"  # runs for ever

    for script in windows.glob("*.cmd"):
        data = script.read_bytes()
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""), f"{script.name}: CRLF only"
        assert data.decode("utf-8").splitlines()[1] == "chcp 65001 >nul", script.name
        assert "processors.cli watch" in data.decode("utf-8") or "schtasks" in data.decode("utf-8")

    guide = (REPO / "docs" / "dich_vu.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["watch", "-h"])
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", capsys.readouterr().out)) - {"--help"}
    assert options >= {"--polling", "--interval", "--settle", "--key"}
    for option in options:
        assert f"`{option}" in guide, f"{option} is not in docs/dich_vu.md"
    for name in ("chitieu-watch.service", "chitieu-watch-task.xml", "chitieu-watch-winsw.xml", "cai_dich_vu_nssm.cmd"):
        assert name in guide, name
