"""Helpers for the exactly-once tests: a share full of returns, real ingest processes, and the share's state.

Nothing here is mocked: returns are real workbooks filled with openpyxl from the unit's own
signed template, ingests are real ``python -m processors.cli ingest`` processes (killed with
a real SIGKILL), and the state is read from the real SQLite ledger and the real folders.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from forms.layout import NAME_PERIOD, input_name, layout_template
from forms.schema import TZ, Campaign
from forms.template_writer import render_template
from processors.ledger import open_ledger
from processors.receipts import receipt_stem
from shared_folder_layout.share import Share, init_share, open_share

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2023, 8, 12, 12, 0, 0, tzinfo=TZ)  # days 05/08–12/08 and the summary are open
FIRST_MTIME = datetime(2023, 8, 12, 8, 0, 0, tzinfo=TZ).timestamp()
TMP_PREFIX = ".tmp_"


@dataclass(frozen=True)
class Return:
    """One file a clerk drops: into which unit's inbox, under which name, with which bytes (or a folder)."""

    folder_unit: str
    name: str
    data: bytes
    kind: str  # what the generator meant it to be: valid, correction, decrease, refused_*, duplicate, folder
    is_dir: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _named_cell(book: openpyxl.Workbook, name: str):
    (sheet, coord), *_ = list(book.defined_names[name].destinations)
    return book[sheet][coord.replace("$", "")]


class _Filler:
    """One unit's template loaded once in openpyxl; every ``fill`` saves a new return from it."""

    def __init__(self, campaign: Campaign, unit_code: str, key: bytes):
        unit = campaign.unit_by_code[unit_code]
        self.inputs = [i.code for i in campaign.indicators_for(unit) if i.is_input]
        data = render_template(layout_template(campaign, unit), key)
        self.book = openpyxl.load_workbook(io.BytesIO(data))

    def fill(self, period_label: str, values: dict[str, Any]) -> bytes:
        _named_cell(self.book, NAME_PERIOD).value = period_label
        for code in self.inputs:
            _named_cell(self.book, input_name(code)).value = values.get(code)
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()


def _values(rng: random.Random, tk1: int, tk2: int) -> dict[str, Any]:
    total = rng.randint(40, 400)
    return {
        "TK_MUC1": tk1,
        "TK_MUC2": tk2,
        "HS_TONG": total,
        "HS_TRUC_TUYEN": rng.randint(0, total),
        "CKS_CAN_BO": rng.randint(0, 18),
        "SO_HOA": round(rng.uniform(0.2, 0.99), 3),
        "CO_KE_HOACH": rng.choice(["Có", "Không"]),
        "TIEN_DO": rng.choice(["Chưa thực hiện", "Đang thực hiện", "Hoàn thành"]),
        "KHO_KHAN": rng.choice([None, "Thiếu thiết bị đọc CCCD", "Mạng chập chờn ở ấp xa"]),
    }


def make_returns(campaign: Campaign, key: bytes, seed: int = 6) -> list[Return]:
    """Returns of every reporting unit over the open days, in the order clerks drop them.

    Mostly valid (some days returned twice: the later one supersedes), with refusals of every
    kind (closed or future period, blank, negative, broken relation, formula, cumulative figure
    going down, wrong folder, not a workbook, a cut-off copy, a folder), and byte-for-byte
    copies of earlier valid files under another name (duplicates).
    """
    rng = random.Random(seed)
    units = [u.code for u in campaign.reporting_units()]
    fillers = {code: _Filler(campaign, code, key) for code in units}
    per_unit: dict[str, list[Return]] = {}
    for code in units:
        filler, out = fillers[code], []
        tk1, tk2 = rng.randint(100, 300), rng.randint(10, 40)
        valid: list[Return] = []
        for day in range(5, 13):
            label = f"Ngày {day:02d}/08/2023"
            tk1 += rng.randint(50, 120)
            tk2 += rng.randint(5, 20)
            versions = rng.choice([1, 1, 2, 2, 3])
            for v in range(versions):
                name = f"{code}_{day:02d}08" + (f"_sua{v}" if v else "") + ".xlsx"
                r = Return(
                    code, name, filler.fill(label, _values(rng, tk1 + v, tk2)), "valid" if not v else "correction"
                )
                out.append(r)
                valid.append(r)
            if day == 9:  # the cumulative count goes down: refused against the unit's history only
                out.append(
                    Return(
                        code,
                        f"{code}_{day:02d}08_giam.xlsx",
                        filler.fill(label, _values(rng, tk1 - 40, tk2)),
                        "decrease",
                    )
                )
        out.append(
            Return(
                code,
                f"{code}_tong_ket.xlsx",
                filler.fill("Báo cáo tổng kết", _values(rng, tk1 + 500, tk2 + 50)),
                "valid",
            )
        )
        bad = _values(rng, tk1, tk2)
        out += [
            Return(code, f"{code}_ky_da_khoa.xlsx", filler.fill("Ngày 01/08/2023", bad), "refused_closed"),
            Return(code, f"{code}_ky_chua_mo.xlsx", filler.fill("Ngày 15/08/2023", bad), "refused_future"),
            Return(
                code, f"{code}_thieu_so.xlsx", filler.fill("Ngày 10/08/2023", {**bad, "HS_TONG": None}), "refused_blank"
            ),
            Return(
                code, f"{code}_so_am.xlsx", filler.fill("Ngày 11/08/2023", {**bad, "TK_MUC2": -5}), "refused_negative"
            ),
            Return(
                code,
                f"{code}_vuot_tong.xlsx",
                filler.fill("Ngày 11/08/2023", {**bad, "HS_TONG": 10, "HS_TRUC_TUYEN": 20}),
                "refused_relation",
            ),
            Return(code, f"{code}_khong_phai_excel.xlsx", b"khong phai tep excel\r\n" * 20, "refused_garbage"),
        ]
        whole = rng.choice(valid).data
        out.append(Return(code, f"{code}_chep_do.xlsx", whole[: len(whole) // 2], "refused_truncated"))
        for r in rng.sample(valid, 3):  # exact copies, dropped again later under another name
            out.append(Return(code, r.name.replace(".xlsx", " - Bản sao.xlsx"), r.data, "duplicate"))
        per_unit[code] = out
    # Interleave the units (each unit keeps its own order: history depends on it), then a few
    # cross-unit mistakes at the end.
    queues = {code: list(rs) for code, rs in per_unit.items()}
    ordered: list[Return] = []
    while any(queues.values()):
        code = rng.choice([c for c, q in queues.items() if q])
        ordered.append(queues[code].pop(0))
    other = per_unit[units[0]][0]
    ordered.append(Return(units[-1], f"nham_{other.name}", other.data, "refused_wrong_folder"))
    ordered.append(Return(units[1], "Thư mục báo cáo", b"", "folder", is_dir=True))
    return ordered


def new_share(root: Path, definition: Path, key: bytes) -> Share:
    """A fresh share for the campaign in ``definition``."""
    return init_share(root, definition, key)


def drop(share: Share, returns: list[Return]) -> None:
    """Put every return into its unit's inbox, each one second newer than the one before (their order)."""
    for i, r in enumerate(returns):
        path = share.layout.unit(r.folder_unit).inbox / r.name
        if r.is_dir:
            path.mkdir()
            (path / "bao_cao.xlsx").write_bytes(b"PK")
        else:
            path.write_bytes(r.data)
        stamp = FIRST_MTIME + i
        os.utime(path, (stamp, stamp))


def copy_share(src: Path, dst: Path) -> Share:
    """A byte-for-byte copy of a share, mtimes included."""
    shutil.copytree(src, dst, symlinks=True)
    return open_share(dst)


def cli_env(now: datetime) -> dict[str, str]:
    env = dict(os.environ)
    env["CHITIEU_NOW"] = now.isoformat()
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "120"
    return env


def start_ingest(
    share_root: Path, key_file: Path, now: datetime = NOW, batch_size: int | None = None
) -> subprocess.Popen:
    """Start ``python -m processors.cli ingest`` on the share as a real process."""
    cmd = [sys.executable, "-m", "processors.cli", "ingest", str(share_root), "--settle", "0", "--key", str(key_file)]
    if batch_size is not None:
        cmd += ["--batch-size", str(batch_size)]
    return subprocess.Popen(
        cmd, cwd=REPO, env=cli_env(now), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def run_ingest(share_root: Path, key_file: Path, now: datetime = NOW, batch_size: int | None = None) -> float:
    """Run one ingest to the end; return how long it took. Fails the test when it does not exit 0."""
    started = time.monotonic()
    proc = start_ingest(share_root, key_file, now, batch_size)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"ingest exited {proc.returncode}\n{out.decode()}\n{err.decode()}"
    return time.monotonic() - started


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; True when it was still running (really killed)."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    if not alive:
        assert proc.returncode == 0, f"ingest exited {proc.returncode} before it was killed"
    return alive


# ---------------------------------------------------------------- reading the share's state


def is_temp(name: str) -> bool:
    """A writer's temp file: intake's ``.tmp_<name>`` or forms.atomic's ``.<stem>.<hex>.tmp``."""
    return name.startswith(TMP_PREFIX) or (name.startswith(".") and name.endswith(".tmp"))


def tmp_files(root: Path) -> list[Path]:
    """Every temporary file left anywhere in the share (the ingest lock file is no temp file)."""
    return sorted(Path(d) / f for d, _dirs, files in os.walk(root) for f in files if is_temp(f))


def inbox_entries(share: Share) -> dict[str, list[str]]:
    """Names waiting in each unit's inbox."""
    out = {}
    for unit in share.campaign.reporting_units():
        inbox = share.layout.unit(unit.code).inbox
        out[unit.code] = sorted(os.listdir(inbox)) if inbox.exists() else []
    return out


def archive_files(share: Share) -> list[Path]:
    """Every file and kept folder under Lưu trữ (temp files excluded)."""
    roots = (share.layout.accepted_archive, share.layout.refused_archive)
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            for d in list(dirnames):
                if d.startswith("thu_muc_"):  # a folder dropped into an inbox, kept whole
                    out.append(here / d)
                    dirnames.remove(d)
            out += [here / f for f in filenames if not is_temp(f)]
    return sorted(out)


Identity = tuple[str, str, str]  # (folder unit, original name, sha256): what must be recorded once


def _finding_key(f) -> tuple:
    return (f.code, f.severity, f.sheet, f.row, f.column)


_ID = re.compile(r"#(\d+)")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}\.\d{2}\.\d{2}")


@dataclass
class LedgerState:
    """The ledger read back, keyed by arrival identity so two runs can be compared without ids or times."""

    rows: dict[Identity, dict[str, Any]]
    by_id: dict[int, Identity]
    records: list[Any]
    effective: list[tuple]
    counts: Counter


def read_ledger(share: Share) -> LedgerState:
    """Every recorded file and the effective figures."""
    with open_ledger(share.layout.ledger) as ledger:
        records = ledger.files()
        by_id = {r.id: (r.folder_unit, r.original_name, r.sha256) for r in records}
        counts = Counter(by_id.values())
        rows = {}
        for r in records:
            rows[by_id[r.id]] = {
                "outcome": r.outcome,
                "timeliness": r.timeliness,
                "unit_code": r.unit_code,
                "campaign_code": r.campaign_code,
                "template_version": r.template_version,
                "period": (r.period_code, r.period_start, r.period_end),
                "size": r.size,
                "findings": sorted(_finding_key(f) for f in r.findings),
                "figures": ledger.figures_of(r.id),
                "superseded_by": by_id.get(r.superseded_by),
                "duplicate_of": by_id.get(r.duplicate_of),
            }
        effective = sorted(
            (e["unit_code"], e["period_code"], e["indicator"], repr(e["value"]), e["original_name"], e["sha256"])
            for e in ledger.effective_figures()
        )
    return LedgerState(rows=rows, by_id=by_id, records=records, effective=effective, counts=counts)


def receipt_texts(share: Share, state: LedgerState) -> dict[Identity, str]:
    """Each recorded file's receipt text with ids replaced by identities and the arrival time left out."""
    out = {}
    for r in state.records:
        path = share.layout.unit(r.folder_unit).receipts / f"{receipt_stem(r)}.txt"
        text = path.read_text(encoding="utf-8-sig")
        lines = [line for line in text.splitlines() if not line.startswith("Thời điểm nhận")]
        text = "\n".join(lines)
        text = re.sub(r" lúc [^(]*\(#", " (#", text)  # a duplicate names when the first copy came
        text = _STAMP.sub("<giờ nhận>", text)  # the marked-up copy's name starts with the arrival time
        out[state.by_id[r.id]] = _ID.sub(lambda m: repr(state.by_id.get(int(m[1]))), text)
    return out


def check_receipts(share: Share, state: LedgerState) -> None:
    """Exactly one receipt per recorded file, named from its record; marked-up copies only for refusals."""
    expected: dict[str, set[str]] = {}
    for r in state.records:
        expected.setdefault(r.folder_unit, set()).add(f"{receipt_stem(r)}.txt")
    for unit in share.campaign.reporting_units():
        folder = share.layout.unit(unit.code).receipts
        names = set(os.listdir(folder)) if folder.exists() else set()
        receipts = {n for n in names if n.endswith(".txt")}
        assert receipts == expected.get(unit.code, set()), (unit.code, receipts ^ expected.get(unit.code, set()))
        marked = names - receipts
        refused_stems = {
            receipt_stem(r) for r in state.records if r.folder_unit == unit.code and r.outcome == "refused"
        }
        for name in marked:
            assert name.endswith(" - SỬA LẠI.xlsx") and name[: -len(" - SỬA LẠI.xlsx")] in refused_stems, name


def check_archive(share: Share, state: LedgerState, originals: dict[Identity, Return]) -> int:
    """Every recorded original kept byte for byte; return how many extra copies (identical to a recorded file) exist."""
    referenced = set()
    for r in state.records:
        identity = state.by_id[r.id]
        original = originals[identity]
        path = Path(r.archive_path)
        assert path.is_relative_to(share.layout.office), path
        if original.is_dir:
            assert path.is_dir() and (path / "bao_cao.xlsx").read_bytes() == b"PK", path
        else:
            assert path.read_bytes() == original.data, f"archived copy of {identity} differs"
        referenced.add(path)
    recorded_shas = {r.sha256 for r in state.records}
    extra = [p for p in archive_files(share) if p not in referenced]
    for p in extra:
        assert p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() in recorded_shas, (
            f"archive holds {p}, which is no recorded file's bytes"
        )
    return len(extra)


def check_final(share: Share, originals: dict[Identity, Return]) -> tuple[LedgerState, int]:
    """Every file recorded once, answered once, archived, and gone from its inbox; no temp file anywhere."""
    state = read_ledger(share)
    twice = {k: n for k, n in state.counts.items() if n > 1}
    assert not twice, f"recorded more than once: {twice}"
    assert set(state.rows) == set(originals), (
        f"missing: {set(originals) - set(state.rows)}; unexpected: {set(state.rows) - set(originals)}"
    )
    assert all(not names for names in inbox_entries(share).values()), inbox_entries(share)
    left = tmp_files(share.layout.root)
    assert not left, f"temp files left behind: {left}"
    check_receipts(share, state)
    extra = check_archive(share, state, originals)
    return state, extra


def identities(returns: list[Return]) -> dict[Identity, Return]:
    """Each return by the identity its ledger row must carry (folders are hashed by intake, so looked up by name)."""
    return {(r.folder_unit, r.name, r.sha256): r for r in returns if not r.is_dir}


def with_folders(returns: list[Return], state: LedgerState) -> dict[Identity, Return]:
    """``identities`` plus the dropped folders, matched to their rows by unit and name."""
    out = identities(returns)
    for r in returns:
        if r.is_dir:
            matches = [k for k in state.rows if k[0] == r.folder_unit and k[1] == r.name]
            assert len(matches) == 1, (r.name, matches)
            out[matches[0]] = r
    return out


# ---------------------------------------------------------------- where a kill landed


def wait_until_working(share: Share, proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Wait until ``proc`` holds the share's ingest lock (start-up is over); False when it ended first.

    Probes the lock the way a second ingester would (flock, non-blocking) and lets go at once.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fd = os.open(share.layout.lock, os.O_RDWR)
        except FileNotFoundError:
            time.sleep(0.003)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        time.sleep(0.003)
    return False


def kill_at_first_temp_file(share: Share, proc: subprocess.Popen, known: frozenset, timeout: float) -> bool:
    """SIGKILL ``proc`` the moment a new temp file shows in the share (a write under way), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if set(tmp_files(share.layout.root)) - known:
            break
    return kill_after(proc, 0)


@dataclass(frozen=True)
class Snapshot:
    """What is on disk between two runs."""

    records: tuple
    inbox: frozenset
    archive: frozenset
    receipts: dict
    temps: frozenset


def snapshot(share: Share) -> Snapshot:
    """The share's state, to tell what a killed run changed."""
    records = tuple(read_ledger(share).records) if share.layout.ledger.exists() else ()
    inbox = frozenset((u, n) for u, names in inbox_entries(share).items() for n in names)
    receipts = {}
    for unit in share.campaign.reporting_units():
        folder = share.layout.unit(unit.code).receipts
        for entry in os.scandir(folder):
            if not is_temp(entry.name):
                receipts[entry.path] = entry.stat().st_mtime_ns
    return Snapshot(records, inbox, frozenset(archive_files(share)), receipts, frozenset(tmp_files(share.layout.root)))


def assert_nothing_lost_or_doubled(returns: list[Return], state: Snapshot) -> None:
    """At any moment: a file gone from its inbox has its outcome committed, and no file is recorded twice."""
    recorded = Counter((r.folder_unit, r.original_name, r.sha256) for r in state.records)
    twice = [k for k, n in recorded.items() if n > 1]
    assert not twice, f"recorded twice: {twice}"
    names = {(r.folder_unit, r.original_name) for r in state.records}
    gone = [(r.folder_unit, r.name) for r in returns if (r.folder_unit, r.name) not in state.inbox]
    unrecorded = [g for g in gone if g not in names]
    assert not unrecorded, f"removed from the inbox without a committed outcome: {unrecorded}"
    for r in returns:
        if not r.is_dir and (r.folder_unit, r.name) in names:
            assert (r.folder_unit, r.name, r.sha256) in recorded, f"{r.name} recorded with other bytes"


def classify_kill(share: Share, before: Snapshot, after: Snapshot) -> set[str]:
    """Where the killed ingest was, judged from what it changed on disk."""
    points = set()
    new_temps = after.temps - before.temps
    if any(p.is_relative_to(share.layout.office) for p in new_temps):
        points.add("archive write (temp file)")
    if any(p.is_relative_to(share.layout.units_root) for p in new_temps):
        points.add("receipt write (temp file)")
    kept = {Path(r.archive_path) for r in after.records}
    if any(p not in kept for p in after.archive - before.archive):
        points.add("archived, not committed")
    old_ids = {r.id for r in before.records}
    for r in after.records:
        if (r.folder_unit, r.original_name) not in after.inbox:
            continue
        receipt = str(share.layout.unit(r.folder_unit).receipts / f"{receipt_stem(r)}.txt")
        if receipt not in after.receipts:
            if r.id not in old_ids:
                points.add("committed, not answered")
        elif after.receipts[receipt] != before.receipts.get(receipt):
            points.add("answered, not removed")
    if points:
        return points
    if len(after.records) > len(before.records) or after.inbox != before.inbox:
        return {"between batches"}
    if after.receipts != before.receipts:
        return {"finishing an interrupted pass"}
    return {"reading/judging (nothing written)"}


def clock(round_no: int) -> datetime:
    """The clock of crash round ``round_no``: time passes between restarts."""
    return NOW + timedelta(seconds=61 * round_no)
