"""Time the «Tổng hợp» button's handler on a 200-unit province, against rebuilding the master file, in one run.

Run: .venv/bin/python bench/handler.py [--units 200] [--days 10] [--repeat 5]

Target (issue 5): the handler under 0.5 s for a 200-unit province. What is timed is one press
as the server does it: ``xw.Book(json=payload)`` from the JSON a client sends for the real
master, ``tong_hop`` (an ingest pass that finds nothing new, the report for the chosen period
and level, «Nhật ký» from the ledger, every table written in one range assignment each), and
``json.dumps(book.json())``. The baseline, in the same run on the same ledger, is the other way
to refresh the sheets: rebuilding the whole master file (``update_master(force=True)``, what
``chitieu master`` does). The median of ``--repeat`` runs of each is printed, with the ratio,
and the number of actions the handler returns beside the number a cell-by-cell handler would.

The share is made with ``init_share`` from bench/templates.py's synthetic province; the ledger
is filled directly (``Ledger.record_outcomes``): each day, 90 % of the units return on time,
5 % late, 5 % not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # xlwings PRO remote engine: non-commercial use

from templates import KEY, write_campaign

from addin import handlers
from addin.book_json import book_payload
from addin.handlers import OK, tong_hop
from forms.schema import TZ
from processors.ledger import ACCEPTED, Outcome, open_ledger
from processors.master import update_master
from processors.master_rows import report_tables
from shared_folder_layout.share import Share, init_share

TARGET_SECONDS = 0.5


def fill_ledger(share: Share, days: int) -> int:
    """Record ``days`` daily returns of every unit (90 % on time, 5 % late, 5 % missing); return the file count."""
    campaign = share.campaign
    units = campaign.reporting_units()
    outcomes = []
    for d, period in enumerate(campaign.schedule[:days]):
        for n, unit in enumerate(units):
            slot = (n * 7 + d) % 20
            if slot == 0:
                continue  # missing
            late = slot == 1
            received = period.deadline + (timedelta(hours=3) if late else -timedelta(hours=2, minutes=n % 60))
            base = 100 + n % 50
            figures = {
                "TK_MUC1": float(base * (d + 1)),
                "TK_MUC2": float(base // 3 * (d + 1)),
                "HS_TONG": float(40 + n % 9),
                "HS_TRUC_TUYEN": float(10 + n % 7),
                "CKS_CAN_BO": float(10 + n % 5),
                "SO_HOA": 0.5 + (n % 40) / 100,
            }
            digest = f"{d:04d}{n:06d}".ljust(64, "0")
            outcomes.append(
                Outcome(
                    arrival_key=f"bench:{unit.code}:{period.code}",
                    sha256=digest,
                    outcome=ACCEPTED,
                    received_at=received.astimezone(TZ),
                    size=20_000,
                    original_name=f"{unit.code}_{period.code}.xlsx",
                    folder_unit=unit.code,
                    unit_code=unit.code,
                    campaign_code=campaign.info.code,
                    template_version=campaign.info.template_version,
                    period_code=period.code,
                    period_start=period.start,
                    period_end=period.end,
                    timeliness="late" if late else "on_time",
                    figures=figures,
                )
            )
    with open_ledger(share.layout.ledger) as ledger:
        ledger.record_outcomes(outcomes)
    return len(outcomes)


def press(share: Share, payload: dict, *, cold: bool = True) -> tuple[float, float, int]:
    """One press as the server runs it; (wall seconds, CPU seconds, actions returned). ``cold``: ledger not cached."""
    import xlwings as xw

    if cold:
        handlers._ledger_cache.clear()
    started, cpu = time.perf_counter(), time.process_time()
    book = xw.Book(json=payload)
    result = tong_hop(book, share=share, key=KEY)
    body = json.dumps(book.json(), default=str)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.status == OK, result.message
    assert body
    return elapsed, cpu, len(book.json()["actions"])


def rebuild(share: Share) -> tuple[float, float]:
    """Rebuild the whole master file from the ledger (the baseline); (wall, CPU) seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    with open_ledger(share.layout.ledger) as ledger:
        result = update_master(share, ledger, force=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.status == "updated", result.message
    return elapsed, cpu


def cell_by_cell_actions(share: Share) -> int:
    """How many actions a handler writing one cell at a time would send for the same sheets."""
    from processors.report import load_report

    report = load_report(share, now=datetime.fromisoformat(os.environ["CHITIEU_NOW"]).replace(tzinfo=TZ))
    with open_ledger(share.layout.ledger) as ledger:
        files = len(ledger.files())
    cells = sum((len(t.rows) + 1) * len(t.columns) for t in report_tables(share.campaign, report))
    return cells + files * 15


def main() -> None:
    """Build the province, time the handler and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chitieu-bench-handler-") as tmp:
        folder = Path(tmp)
        _campaign, definition = write_campaign(args.units, folder)
        share = init_share(folder / "share", definition, KEY)
        files = fill_ledger(share, args.days)
        last = share.campaign.schedule[args.days - 1]
        os.environ["CHITIEU_NOW"] = (last.deadline + timedelta(hours=1)).replace(tzinfo=None).isoformat()
        rebuild(share)
        payload = book_payload(share.layout.master)
        press(share, payload)  # warm the imports
        cold = [press(share, payload) for _ in range(args.repeat)]
        warm = [press(share, payload, cold=False) for _ in range(args.repeat)]
        baseline = [rebuild(share) for _ in range(args.repeat)]

        def median(runs: list[tuple], i: int) -> float:
            return statistics.median(r[i] for r in runs)

        size = len(json.dumps(payload, default=str)) / 1e6
        print(
            f"province: {len(share.campaign.reporting_units())} units, {args.days} days, {files} files in the ledger; "
            f"payload {size:.1f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(
            f"handler, ledger read (cold):   {median(cold, 0):.3f} s wall, {median(cold, 1):.3f} s CPU (median of {args.repeat})"
        )
        print(f"handler, ledger cached (warm): {median(warm, 0):.3f} s wall, {median(warm, 1):.3f} s CPU")
        print(f"baseline, rebuild tonghop.xlsm: {median(baseline, 0):.3f} s wall, {median(baseline, 1):.3f} s CPU")
        print(f"ratio baseline / handler (cold, CPU): {median(baseline, 1) / median(cold, 1):.1f}x")
        print(f"actions returned: {cold[0][2]} (one cell at a time would be {cell_by_cell_actions(share):,})")
        verdict = "met" if median(cold, 1) < TARGET_SECONDS else "NOT met"
        print(f"target: handler (cold, CPU) under {TARGET_SECONDS} s for a 200-unit province: {verdict}")


if __name__ == "__main__":
    main()
