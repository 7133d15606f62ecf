"""The report's shortcuts for big ledgers give what the plain way gives: factorising, files' runs, arrival moments."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from report_helpers import campaign, period

from processors.completeness import Arrivals, arrival_frame, unit_statuses
from processors.ledger import FileRecord
from processors.report import _factorize, _file_runs


def test_factorising_a_repeating_column_matches_pandas() -> None:
    units = np.repeat(np.array([f"X{n:05d}" for n in range(4000)], dtype=object), 16)
    indicators = np.tile(np.array([f"TK_{n:02d}" for n in range(16)], dtype=object), 4000)
    rng = np.random.default_rng(1)
    for values in (units, indicators, units[rng.permutation(len(units))]):
        messy = values.copy()
        messy[rng.integers(0, len(messy), 40)] = None
        messy[rng.integers(0, len(messy), 40)] = np.nan
        messy[rng.integers(0, len(messy), 40)] = "LẠ"
        for column in (values, messy):
            codes, uniques = _factorize(column)
            expected_codes, expected_uniques = pd.factorize(column)
            assert (codes == expected_codes).all() and list(uniques) == list(expected_uniques)


def test_a_file_is_looked_up_once_only_when_its_rows_agree() -> None:
    n = 4000
    frame = pd.DataFrame(
        {
            "file_id": np.repeat(np.arange(n), 16),
            "unit_code": np.repeat([f"X{k:05d}" for k in range(n)], 16),
            "period_code": "N20230718",
        }
    )
    starts, lengths = _file_runs(frame)
    assert len(starts) == n and (lengths == 16).all()
    frame.loc[16 * 7 + 15, "unit_code"] = "KHAC"  # the last row of a file names another unit
    assert _file_runs(frame) is None


def test_records_and_their_table_give_the_same_statuses() -> None:
    c = campaign(
        [{"code": f"H{n}", "name": f"Huyện {n}", "level": "huyen"} for n in range(4)], [{"code": "TK", "name": "TK"}]
    )
    p = period(c, date(2023, 7, 20))
    base = p.deadline - timedelta(hours=3)
    zone = datetime.fromisoformat(base.isoformat())  # as the ledger reads it back: a fixed offset
    rows = [
        ("H0", "on_time", zone),
        ("H1", "on_time", zone + timedelta(hours=5)),
        ("H1", "late", zone + timedelta(hours=4)),  # arrived first: decides
        ("H2", None, zone),
        ("H2", "late", zone),  # the same moment: the lower id decides
    ]
    records = [
        FileRecord(
            id=n + 1,
            arrival_key=str(n),
            sha256="0" * 64,
            size=None,
            original_name=None,
            folder_unit=u,
            unit_code=u,
            campaign_code="C",
            template_version=1,
            period_code=p.code,
            period_start=p.start,
            period_end=p.end,
            received_at=when,
            outcome="accepted",
            timeliness=verdict,
            findings=(),
            archive_path=None,
            receipt_path=None,
            superseded_by=None,
            duplicate_of=None,
        )
        for n, (u, verdict, when) in enumerate(rows)
    ]
    codes = [f"H{n}" for n in range(4)]
    now = p.deadline + timedelta(days=1)
    from_records = unit_statuses(codes, Arrivals(records), p, now)
    from_table = unit_statuses(codes, arrival_frame(records), p, now)
    pd.testing.assert_frame_equal(from_records, from_table)
    assert from_records["status"].to_dict() == {"H0": "on_time", "H1": "late", "H2": "missing", "H3": "missing"}
    assert from_records.loc["H1", "last_received_at"] == pd.Timestamp(zone + timedelta(hours=5))
    assert str(arrival_frame(records)["received_at"].dtype) == "datetime64[us, UTC+07:00]"
