"""Time intake end to end (read, validate, ledger, archive, receipt) against a straightforward openpyxl pipeline.

Run: .venv/bin/python bench/intake.py [--units 10000] [--per-unit 1] [--baseline-files 1000] [--dir DIR]

Target (issue): 10,000 returned workbooks processed in under 30 s on a 2-core machine and
at least 10× faster than an openpyxl-per-file pipeline on the same files in the same run.

A share is made with ``init_share`` from the synthetic campaign of bench/templates.py. Each
unit returns ``--per-unit`` daily reports (day by day across the units, as a campaign's days
go). The returns are the issued templates with figures and a period put in through the
template writer's own rendering, so they are valid, signed returns; about 5 % are wrong in
the ways clerks get them wrong (a relation broken, "12.345" typed as text, no period, a blank
figure, a locked target changed, a percentage over 100 %, a file in another unit's folder, a
CSV renamed .xlsx), 1 % are the same file dropped twice and 1 % correct an earlier return.
``ingest_share(settle=0)`` runs in a fresh process, so its peak memory is its own; the
master workbook rebuild that ends every pass is timed separately right after it. The
baseline runs, also in its own process, on ``--baseline-files`` of the same files in the
same order: openpyxl ``load_workbook``, every defined name's value, one SQLite row committed
per file, ``shutil.copy`` to an archive, a .txt receipt; its total is extrapolated per file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from templates import DAYS, FIRST_DAY, KEY, campaign_yaml, commune_code, narrowed_layouts

from forms.layout import COL_TARGET, ROLE_INPUT, ROLE_PERIOD, ROLE_TARGET, TemplateLayout
from forms.schema import TZ
from forms.template_writer import render_template
from processors.intake import ingest_share
from shared_folder_layout.share import Share, init_share

TARGET_SECONDS = 30.0
TARGET_RATIO = 10.0
WRONG_KINDS = ("relation", "thousands", "no_period", "blank", "tampered", "over_100", "wrong_folder", "csv")
ISSUED = datetime(2023, 7, 17, 9, 0, tzinfo=TZ)
CSV_BYTES = "Mã đơn vị;Kỳ báo cáo;TK_MUC1;TK_MUC2\r\nXA_00001;Ngày 18/07/2023;120;45\r\n".encode("utf-8-sig")


@dataclass(frozen=True)
class Planned:
    """One file to drop: whose template, whose inbox, which day, what it is."""

    index: int
    unit: int  # the unit whose template was filled
    folder: int  # the unit whose inbox it lands in
    day: int  # 0-based period
    kind: str  # "ok", "duplicate", "correction" or one of WRONG_KINDS

    @property
    def expected(self) -> str:
        """The outcome intake should record."""
        return {"ok": "accepted", "correction": "accepted", "duplicate": "duplicate"}.get(self.kind, "refused")


def plan_returns(units: int, per_unit: int) -> list[Planned]:
    """``units × per_unit`` files, day by day; every 20th wrong, 1 % duplicates, 1 % corrections."""
    planned = []
    for day in range(per_unit):
        for u in range(units):
            i = len(planned)
            kind = "ok"
            unit, folder = u, u
            if i % 20 == 10:
                kind = WRONG_KINDS[(i // 20) % len(WRONG_KINDS)]
                folder = (u + 1) % units if kind == "wrong_folder" else u
            elif i % 100 in (37, 73) and u > 0:
                # Instead of this unit's return: the previous unit drops its file again, or a correction.
                kind = "duplicate" if i % 100 == 37 else "correction"
                unit = folder = u - 1
            planned.append(Planned(i, unit, folder, day, kind))
    return planned


def figures(unit: int, day: int, attempt: int = 0) -> dict[str, Any]:
    """Plausible figures of a unit on a day: cumulative counts grow, same-day counts vary."""
    base = 100 + (unit * 13) % 500
    total = 50 + (unit + day) % 40
    return {
        "TK_MUC1": base + 40 * (day + 1) + attempt,
        "TK_MUC2": base // 2 + 10 * (day + 1),
        "HS_TONG": total,
        "HS_TRUC_TUYEN": total // 3 + day % 5,
        "CKS_CAN_BO": min(15 + unit % 20, 5 + day // 2),
        "SO_HOA": 0.5 + ((unit + day) % 40) / 100,
    }


def period_label(day: int) -> str:
    """The dropdown label of the day's period, as the template lists it."""
    return f"Ngày {date.fromisoformat(FIRST_DAY) + timedelta(days=day):%d/%m/%Y}"


def render_return(layout: TemplateLayout, p: Planned) -> bytes:
    """The bytes of one planned file: the unit's template with its figures typed in."""
    if p.kind == "csv":
        return CSV_BYTES
    values = figures(p.unit, p.day, attempt=1 if p.kind == "correction" else 0)
    label: str | None = period_label(p.day)
    if p.kind == "relation":
        values["HS_TRUC_TUYEN"] = values["HS_TONG"] + 5
    elif p.kind == "thousands":
        values["TK_MUC1"] = f"{values['TK_MUC1'] // 1000 + 12}.{values['TK_MUC1'] % 1000:03d}"
    elif p.kind == "no_period":
        label = None
    elif p.kind == "blank":
        values["CKS_CAN_BO"] = None
    elif p.kind == "over_100":
        values["SO_HOA"] = 1.25
    cells = []
    for c in layout.cells:
        if c.role == ROLE_INPUT and c.key in values:
            c = c._replace(value=values[c.key])
        elif c.role == ROLE_PERIOD:
            c = c._replace(value=label)
        elif p.kind == "tampered" and c.role == ROLE_TARGET and c.col == COL_TARGET and c.key == "TK_TONG":
            c = c._replace(value=c.value + 1000)
        cells.append(c)
    # The digest and signature stay those of the issued layout: a tampered cell shows as such.
    return render_template(replace(layout, cells=tuple(cells), _by_name={}), KEY, ISSUED)


def file_name(p: Planned) -> str:
    """A clerk's file name: Vietnamese, spaces, the day; a dropped-again file as Windows names a copy."""
    suffix = {"duplicate": " - Copy", "correction": " (sửa)"}.get(p.kind, "")
    return f"Báo cáo {commune_code(p.unit)} ngày {p.day + 1:02d}{suffix}.xlsx"


def drop_returns(share: Share, planned: list[Planned], spare: Path) -> list[Path]:
    """Write every planned file into its inbox (mtimes in plan order) and hard-link it under ``spare``; spare paths in order."""
    codes = [u.code for u in share.campaign.reporting_units()]
    needed = sorted({p.unit for p in planned})
    layouts = dict(zip(needed, narrowed_layouts(share.campaign, [codes[u] for u in needed]), strict=True))
    rendered: dict[tuple[int, int, str], bytes] = {}
    # A fixed moment before the campaign's clock: runs are repeatable and every file is settled.
    start_ns = int(datetime(2023, 7, 18, 7, 0, tzinfo=TZ).timestamp()) * 10**9
    kept = []
    for p in planned:
        source = "ok" if p.kind == "duplicate" else p.kind
        data = rendered.get((p.unit, p.day, source))
        if data is None:
            data = render_return(layouts[p.unit], replace(p, kind=source))
            if source == "ok":
                rendered[(p.unit, p.day, source)] = data  # a duplicate needs the very same bytes
        inbox = share.layout.unit(codes[p.folder]).inbox
        path = inbox / file_name(p)
        path.write_bytes(data)
        stamp = start_ns + p.index * 1_000_000  # 1 ms apart: intake's order is the plan's order
        os.utime(path, ns=(stamp, stamp))
        link = spare / codes[p.folder] / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, link)
        kept.append(link)
        if p.day and (p.unit, p.day - 1, "ok") in rendered:
            del rendered[(p.unit, p.day - 1, "ok")]
    return kept


# ---------------------------------------------------------------- the two pipelines, each in its own process


def run_ours(share: Share, batch: int, trace: bool, profile: str | None) -> dict[str, Any]:
    """ingest_share over the whole share; seconds, outcome counts and this process's peak memory."""
    import tracemalloc

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = _cpu_seconds()
    if trace:
        tracemalloc.start()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU of the intake thread, not time spent waiting
        profiler.enable()
    began = time.perf_counter()
    # The master workbook is rebuilt right after, timed on its own (see time_master): every
    # pass of ``chitieu ingest`` ends with that rebuild.
    summary = ingest_share(share, KEY, settle=0, batch_size=batch, master=False)
    seconds = time.perf_counter() - began
    cpu_intake = [after - before for after, before in zip(_cpu_seconds(), cpu_before, strict=True)]
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    master = time_master(share)
    return {
        "seconds": seconds,
        "accepted": summary.accepted,
        "refused": summary.refused,
        "duplicate": summary.duplicate,
        "waiting": summary.waiting,
        "receipts": len(summary.receipts),
        "cpu": cpu_intake,
        "rss_before_kb": before,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "rss_workers_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "traced_peak": peak,
        "master": master,
    }


def time_master(share: Share) -> float | None:
    """Seconds to rebuild the master workbook from the ledger, as the end of every pass does."""
    try:
        from processors.ledger import open_ledger
        from processors.master import update_master
    except ImportError:
        return None
    with open_ledger(share.layout.ledger) as ledger:
        began = time.perf_counter()
        update_master(share, ledger, force=True)
        return time.perf_counter() - began


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished children (a worker pool, if any)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_baseline(files: list[Path], folder: Path) -> dict[str, Any]:
    """The straightforward pipeline: per file load with openpyxl, read the names, commit a row, copy, write a receipt."""
    import openpyxl

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "so_cai.sqlite")
    db.execute(
        "CREATE TABLE files (id INTEGER PRIMARY KEY, unit TEXT, name TEXT, sha256 TEXT, received_at TEXT,"
        " outcome TEXT, values_json TEXT, archive_path TEXT)"
    )
    db.commit()
    began = time.perf_counter()
    for path in files:
        unit = path.parent.name
        try:
            book = openpyxl.load_workbook(path, data_only=True)
            values = {}
            for name, defined in book.defined_names.items():
                for sheet, ref in defined.destinations:
                    found = book[sheet][ref.replace("$", "")]
                    values[name] = (
                        [[c.value for c in row] for row in found] if isinstance(found, tuple) else found.value
                    )
            outcome = "accepted"
        except Exception:
            values, outcome = {}, "refused"
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        archive = folder / "luu_tru" / unit / f"{sha[:12]}_{path.name}"
        archive.parent.mkdir(parents=True, exist_ok=True)
        received = datetime.now(TZ).isoformat(timespec="seconds")
        cursor = db.execute(
            "INSERT INTO files (unit, name, sha256, received_at, outcome, values_json, archive_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                unit,
                path.name,
                sha,
                received,
                outcome,
                json.dumps(values, ensure_ascii=False, default=str),
                str(archive),
            ),
        )
        db.commit()
        shutil.copy(path, archive)
        receipt = folder / "phieu" / unit / f"{cursor.lastrowid} {path.stem}.txt"
        receipt.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"PHIẾU PHẢN HỒI — {outcome}", f"Tệp: {path.name}", f"Nhận lúc: {received}"]
        lines += [f"  {k}: {v}" for k, v in values.items() if k.startswith("NHAP_")]
        receipt.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    seconds = time.perf_counter() - began
    db.close()
    return {
        "seconds": seconds,
        "files": len(files),
        "rss_before_kb": before,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _child(function_name: str, args: tuple, conn: Any) -> None:
    conn.send(globals()[function_name](*args))
    conn.close()


def in_child(function_name: str, *args: Any) -> dict[str, Any]:
    """Run one of this module's functions in a fresh process and return its result."""
    # Forked from the fork server started before anything big was built: Linux keeps a
    # process's peak RSS across fork and exec, so a child of this (large) process would
    # report this process's peak as its own.
    context = multiprocessing.get_context("forkserver")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(function_name, args, sending))
    process.start()
    sending.close()
    result = receiving.recv()
    process.join()
    return result


def reset_share(share: Share, spare: list[Path]) -> None:
    """Put the dropped files back and remove what intake made (ledger, archive, receipts), for a second run."""
    layout = share.layout
    for path in (
        layout.ledger,
        layout.ledger.with_name(layout.ledger.name + "-wal"),
        layout.ledger.with_name(layout.ledger.name + "-shm"),
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(layout.accepted_archive.parent, ignore_errors=True)
    for folder in (layout.accepted_archive, layout.refused_archive):
        folder.mkdir(parents=True, exist_ok=True)
    for unit in share.campaign.reporting_units():
        folders = layout.unit(unit.code)
        shutil.rmtree(folders.receipts, ignore_errors=True)
        folders.receipts.mkdir()
        for leftover in folders.inbox.iterdir():
            leftover.unlink()
    for link in spare:
        os.link(link, layout.unit(link.parent.name).inbox / link.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000, help="reporting units of the campaign")
    parser.add_argument("--per-unit", type=int, default=1, help=f"daily returns per unit (at most {DAYS})")
    parser.add_argument("--baseline-files", type=int, default=1000, help="files the openpyxl pipeline processes")
    parser.add_argument("--batch", type=int, default=200, help="intake batch size")
    parser.add_argument("--tracemalloc", action="store_true", help="a second, traced run for the Python heap peak")
    parser.add_argument("--profile", default=None, help="write cProfile stats of our run to this file")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the share (default: a temp folder)")
    args = parser.parse_args()
    if not 1 <= args.per_unit <= DAYS:
        parser.error(f"--per-unit must be between 1 and {DAYS}")
    # Inside the campaign: the afternoon of the last day reported, so every period is open.
    os.environ["CHITIEU_NOW"] = f"{date.fromisoformat(FIRST_DAY) + timedelta(days=args.per_unit - 1)}T16:30:00+07:00"
    multiprocessing.forkserver.ensure_running()  # now, small and with CHITIEU_NOW: the children fork from it
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench_intake_") as tmp:
        folder = Path(tmp)
        definition = folder / "ke_hoach.yaml"
        definition.write_text(campaign_yaml(args.units), encoding="utf-8")
        began = time.perf_counter()
        share = init_share(folder / "share", definition, KEY)
        init_seconds = time.perf_counter() - began
        planned = plan_returns(args.units, args.per_unit)
        began = time.perf_counter()
        spare = drop_returns(share, planned, folder / "spare")
        drop_seconds = time.perf_counter() - began
        print(
            f"Chuẩn bị: init_share {init_seconds:.1f} s; {len(planned):,} tệp nộp tạo trong {drop_seconds:.1f} s",
            flush=True,
        )
        ours = in_child("run_ours", share, args.batch, False, args.profile)
        check_outcomes(share, planned, ours)
        traced = None
        if args.tracemalloc:
            reset_share(share, spare)
            traced = in_child("run_ours", share, args.batch, True, None)
        sample = spare[: min(args.baseline_files, len(spare))]
        baseline = in_child("run_baseline", sample, folder / "baseline")
    report(len(planned), args, ours, traced, baseline)


def check_outcomes(share: Share, planned: list[Planned], ours: dict[str, Any]) -> None:
    """Every file reached the outcome planned for it and left its inbox."""
    expected = {k: sum(p.expected == k for p in planned) for k in ("accepted", "refused", "duplicate")}
    got = {k: ours[k] for k in expected}
    left = sum(1 for u in share.campaign.reporting_units() for _ in share.layout.unit(u.code).inbox.iterdir())
    if got != expected or left or ours["receipts"] != len(planned):
        raise SystemExit(f"Kết quả sai: mong đợi {expected}, được {got}; còn {left} tệp trong thư mục nộp")


def report(files: int, args: argparse.Namespace, ours: dict, traced: dict | None, baseline: dict) -> None:
    """Print the figures and the verdict."""
    per = ours["seconds"] / files * 1000
    per_base = baseline["seconds"] / baseline["files"] * 1000
    ratio = per_base / per
    print(
        f"{files:,} tệp ({args.units:,} đơn vị × {args.per_unit}): {ours['accepted']:,} tiếp nhận, "
        f"{ours['refused']:,} trả lại, {ours['duplicate']:,} trùng lặp — đúng như dự kiến"
    )
    print(
        f"chitieu ingest_share (đọc, kiểm tra, sổ cái, lưu trữ, phiếu phản hồi): {ours['seconds']:.1f} s = "
        f"{per:.2f} ms/tệp (lô {args.batch}); CPU {sum(ours['cpu']):.1f} s "
        f"(chính {ours['cpu'][0]:.1f} s, tiến trình phụ {ours['cpu'][1]:.1f} s)"
    )
    if ours["master"] is not None:
        print(
            f"  dựng lại sổ tổng hợp cuối lượt (đo riêng, ngay sau): {ours['master']:.1f} s; "
            f"cả lượt gồm sổ tổng hợp: {ours['seconds'] + ours['master']:.1f} s"
        )
    print(
        f"openpyxl từng tệp, đo trên {baseline['files']:,} tệp: {baseline['seconds']:.1f} s = {per_base:.1f} ms/tệp; "
        f"ngoại suy cho {files:,} tệp: {per_base * files / 1000:.0f} s"
    )
    print(f"Tỷ lệ openpyxl ÷ chitieu (mỗi tệp): {ratio:.1f}×")
    mb = 1024
    workers = (
        f"; mỗi tiến trình phụ (worker) tối đa {ours['rss_workers_kb'] / mb:.0f} MB" if ours["rss_workers_kb"] else ""
    )
    print(
        f"Bộ nhớ đỉnh (ru_maxrss) tiến trình chitieu: {ours['rss_kb'] / mb:.0f} MB "
        f"(trước khi xử lý {ours['rss_before_kb'] / mb:.0f} MB){workers}; "
        f"tiến trình openpyxl: {baseline['rss_kb'] / mb:.0f} MB"
    )
    if traced:
        print(
            f"Đỉnh heap Python (tracemalloc, lần chạy thứ hai, chậm hơn vì bị theo dõi: {traced['seconds']:.1f} s): "
            f"{traced['traced_peak'] / 2**20:.0f} MB"
        )
    ok_time, ok_ratio = ours["seconds"] < TARGET_SECONDS, ratio >= TARGET_RATIO
    with_master = ""
    if ours["master"] is not None:
        total = ours["seconds"] + ours["master"]
        with_master = (
            f"; tính cả dựng lại sổ tổng hợp: {total:.1f} s, {'đạt' if total < TARGET_SECONDS else 'không đạt'}"
        )
    print(
        f"Mục tiêu < {TARGET_SECONDS:.0f} s (thu nhận): {'ĐẠT' if ok_time else 'KHÔNG ĐẠT'} ({ours['seconds']:.1f} s"
        f"{with_master})"
    )
    print(f"Mục tiêu ≥ {TARGET_RATIO:.0f}× openpyxl: {'ĐẠT' if ok_ratio else 'KHÔNG ĐẠT'} ({ratio:.1f}×)")


if __name__ == "__main__":
    main()
