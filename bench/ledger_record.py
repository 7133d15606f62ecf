"""Time recording outcomes in the ledger: by default 10,000 files, 12 figures each, batches of 200.

Run: .venv/bin/python bench/ledger_record.py [--files N] [--batch N] [--synchronous FULL|NORMAL] [--dir DIR]
The mix is intake-like: most files accepted (some correcting an earlier one), some refused,
some the same bytes again. Put --dir on the disk the ledger will live on: fsync cost is the
disk's, and the FULL/NORMAL difference only shows on a real disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from forms.schema import TZ
from processors.ledger import ACCEPTED, DUPLICATE, ON_TIME, REFUSED, Outcome, open_ledger

UNITS = 500
INDICATORS = [f"CHI_TIEU_{i:02d}" for i in range(12)]


def make_outcomes(count: int) -> list[Outcome]:
    """``count`` outcomes: 80 % accepted, 15 % refused, 5 % duplicates; 500 units over 16 days.

    With the default 10,000 files, the last 2,000 land on days already reported: corrections
    that supersede an earlier file, as intake sees them.
    """
    start = date(2023, 7, 18)
    received = datetime(2023, 7, 19, 8, 0, tzinfo=TZ)
    outcomes = []
    for n in range(count):
        unit, day = f"XA_{n % UNITS:03d}", start + timedelta(days=(n // UNITS) % 16)
        kind = REFUSED if n % 20 in (3, 7, 11) else DUPLICATE if n % 20 == 15 else ACCEPTED
        outcomes.append(
            Outcome(
                arrival_key=f"{unit}/bao_cao_{n}.xlsx|{n:064x}",
                sha256=f"{n:064x}",
                outcome=kind,
                received_at=received + timedelta(seconds=n),
                size=24_000,
                original_name=f"bao_cao_{n}.xlsx",
                folder_unit=unit,
                unit_code=unit,
                period_code=f"N{day:%Y%m%d}",
                period_start=day,
                period_end=day,
                timeliness=ON_TIME if kind == ACCEPTED else None,
                figures={code: float(n + i) for i, code in enumerate(INDICATORS)} if kind == ACCEPTED else {},
            )
        )
    return outcomes


def run(files: int, batch: int, synchronous: str, directory: Path) -> float:
    """Seconds to record ``files`` outcomes in batches of ``batch`` into a fresh ledger."""
    outcomes = make_outcomes(files)
    with open_ledger(directory / "bench.sqlite") as ledger:
        ledger._db.execute(f"PRAGMA synchronous = {synchronous}")  # bench-only override, to compare
        began = time.perf_counter()
        for i in range(0, len(outcomes), batch):
            ledger.record_outcomes(outcomes[i : i + batch])
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        seconds = run(args.files, args.batch, args.synchronous, Path(tmp))
    per_file_ms = seconds / args.files * 1000
    print(
        f"{args.files} outcomes x {len(INDICATORS)} figures, batches of {args.batch}, "
        f"synchronous={args.synchronous}: {seconds:.2f} s ({per_file_ms:.3f} ms per file)"
    )


if __name__ == "__main__":
    main()
