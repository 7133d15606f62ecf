"""The ledger on a real SQLite file: WAL, batches, idempotence, supersession, duplicates, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
import traceback
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from forms.findings import WARNING, Finding
from forms.schema import TZ
from processors import ledger as ledger_module
from processors.ledger import (
    ACCEPTED,
    DUPLICATE,
    LATE,
    ON_TIME,
    REFUSED,
    SCHEMA_VERSION,
    LedgerError,
    Outcome,
    make_arrival_key,
    open_ledger,
)

START = date(2023, 7, 18)
T0 = datetime(2023, 7, 19, 8, 0, tzinfo=TZ)


def daily(n: int) -> tuple[str, date]:
    """Code and day of the n-th daily period (0 = 18/07/2023)."""
    day = START + timedelta(days=n)
    return f"N{day:%Y%m%d}", day


def outcome(
    key: str,
    *,
    unit: str = "XA_DAI",
    period: int | None = 0,
    kind: str = ACCEPTED,
    sha: str | None = None,
    figures: dict | None = None,
    **extra,
) -> Outcome:
    """An outcome for daily period ``period`` with sensible defaults."""
    code, day = daily(period) if period is not None else (None, None)
    if figures is None:
        figures = {"TK_MUC1": 10.0, "TK_MUC2": 5.0, "KHO_KHAN": "Mất điện"} if kind == ACCEPTED else {}
    return Outcome(
        arrival_key=key,
        sha256=sha or f"sha-{key}",
        outcome=kind,
        received_at=extra.pop("received_at", T0),
        size=1234,
        original_name=f"{key}.xlsx",
        folder_unit=unit,
        unit_code=unit,
        campaign_code="THU_NGHIEM_2023",
        template_version=1,
        period_code=code,
        period_start=day,
        period_end=day,
        timeliness=ON_TIME if kind == ACCEPTED else None,
        figures=figures,
        **extra,
    )


@pytest.fixture
def ledger(tmp_path: Path):
    with open_ledger(tmp_path / "ledger" / "chitieu.sqlite") as opened:
        yield opened


def test_wal_mode_settings_and_schema(tmp_path: Path):
    path = tmp_path / "chitieu.sqlite"
    with open_ledger(path) as led:
        db = led._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: see _configure
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == ledger_module.BUSY_TIMEOUT_MS
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    raw = sqlite3.connect(path)
    names = {name for (name,) in raw.execute("SELECT name FROM sqlite_master")}
    assert {"files", "figures", "schema_version", "files_sha256", "files_unit_period_outcome"} <= names
    assert {"figures_unit_indicator", "files_one_effective"} <= names
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # stored in the file
    raw.close()
    with open_ledger(path) as again:  # reopening neither recreates nor re-versions
        assert again.count_by_outcome() == {ACCEPTED: 0, REFUSED: 0, DUPLICATE: 0}


def test_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "chitieu.sqlite"
    open_ledger(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(LedgerError, match="newer"):
        open_ledger(path)


def test_batch_is_recorded_and_read_back(ledger):
    finding = Finding(code="LATE", message="Nộp muộn", severity=WARNING, sheet="Báo cáo", row=14, column="E", value=3)
    refused_finding = Finding(code="NOT_A_NUMBER", message="Không phải số", sheet="Báo cáo", row=9, column="E")
    batch = [
        outcome("a", findings=[finding], archive_path=Path("/archive/a.xlsx"), receipt_path="/out/a.txt"),
        outcome("r", kind=REFUSED, findings=[refused_finding]),
        outcome("d", kind=DUPLICATE, duplicate_of=None, period=None),
    ]
    ids = ledger.record_outcomes(batch)
    assert len(set(ids)) == 3
    a = ledger.find_arrival("a")
    assert a.id == ids[0] and a.outcome == ACCEPTED and a.is_effective
    assert [(f.code, f.cell) for f in a.findings] == [("LATE", "E14")]
    assert a.findings[0] == finding
    assert a.received_at == T0 and a.received_at.utcoffset() == timedelta(hours=7)
    assert a.period_start == date(2023, 7, 18) and a.archive_path == "/archive/a.xlsx"
    assert ledger.find_arrival("r").findings[0].cell == "E9"
    assert ledger.find_arrival("d").period_code is None
    assert ledger.find_arrival("missing") is None
    assert ledger.find_file(ids[1]).arrival_key == "r"
    assert ledger.count_by_outcome() == {ACCEPTED: 1, REFUSED: 1, DUPLICATE: 1}
    assert [f.arrival_key for f in ledger.files()] == ["a", "r", "d"]
    assert [f.arrival_key for f in ledger.files(outcome=REFUSED)] == ["r"]
    assert ledger.files(unit_code="HUYEN_A") == []
    values = {r["indicator"]: r["value"] for r in ledger.effective_figures()}
    assert values == {"TK_MUC1": 10.0, "TK_MUC2": 5.0, "KHO_KHAN": "Mất điện"}


def test_same_arrival_twice_is_one_row(ledger):
    first = ledger.record_outcomes([outcome("a"), outcome("b", period=1)])
    again = ledger.record_outcomes([outcome("b", period=1), outcome("a"), outcome("a")])
    assert again == [first[1], first[0], first[0]]
    assert len(ledger.files()) == 2
    assert len(ledger.effective_figures()) == 6  # figures not doubled
    assert all(f.superseded_by is None for f in ledger.files())  # a replay supersedes nothing


def test_newer_accepted_file_supersedes_and_keeps_history(ledger):
    (old,) = ledger.record_outcomes([outcome("v1", figures={"TK_MUC1": 10.0})])
    (new,) = ledger.record_outcomes([outcome("v2", figures={"TK_MUC1": 12.0})])
    # A third version in the same batch as another unit's file.
    v3, other = ledger.record_outcomes(
        [outcome("v3", figures={"TK_MUC1": 13.0}), outcome("h", unit="HUYEN_A", figures={"TK_MUC1": 99.0})]
    )
    chain = {f.arrival_key: f for f in ledger.files(unit_code="XA_DAI")}
    assert chain["v1"].superseded_by == new and chain["v2"].superseded_by == v3
    assert chain["v3"].superseded_by is None and chain["v3"].is_effective
    assert ledger.find_file(old).outcome == ACCEPTED  # history stays
    rows = ledger.effective_figures(unit_code="XA_DAI")
    assert [(r["file_id"], r["value"]) for r in rows] == [(v3, 13.0)]
    assert ledger.effective_figures(unit_code="HUYEN_A")[0]["file_id"] == other


def test_same_bytes_again_is_a_duplicate(ledger):
    (first,) = ledger.record_outcomes([outcome("a", sha="AAA")])
    assert ledger.find_accepted_by_hash("AAA").id == first
    assert ledger.find_accepted_by_hash("AAA", unit_code="XA_DAI").id == first
    assert ledger.find_accepted_by_hash("AAA", unit_code="HUYEN_A") is None
    assert ledger.find_accepted_by_hash("BBB") is None
    ledger.record_outcomes([outcome("r", kind=REFUSED, sha="RRR")])
    assert ledger.find_accepted_by_hash("RRR") is None  # refused bytes are not "accepted before"
    # The caller said accepted (it looked before a batch that accepted the same bytes, or
    # two copies sit in one batch): the ledger records duplicates of the first, no figures.
    copy, copy2 = ledger.record_outcomes([outcome("a copy", sha="AAA"), outcome("a copy 2", sha="AAA")])
    for file_id in (copy, copy2):
        record = ledger.find_file(file_id)
        assert (record.outcome, record.duplicate_of) == (DUPLICATE, first)
    assert ledger.find_file(first).is_effective
    assert {r["file_id"] for r in ledger.effective_figures()} == {first}
    x, y = ledger.record_outcomes([outcome("x", sha="XXX", period=3), outcome("y", sha="XXX", period=3)])
    assert ledger.find_file(y).duplicate_of == x


def test_effective_figures_exclude_superseded_and_refused(ledger):
    ledger.record_outcomes(
        [
            outcome("old", figures={"TK_MUC1": 1.0}),
            outcome("new", figures={"TK_MUC1": 2.0, "TK_MUC2": None}),
            outcome("refused", kind=REFUSED),
            outcome("next day", period=1, figures={"TK_MUC1": 3.0}),
            outcome("huyen", unit="HUYEN_A", figures={"TK_MUC1": 50802, "TIEN_DO": "Hoàn thành"}),
        ]
    )
    rows = ledger.effective_figures()
    assert {(r["unit_code"], r["period_code"], r["indicator"], r["value"]) for r in rows} == {
        ("HUYEN_A", "N20230718", "TIEN_DO", "Hoàn thành"),
        ("HUYEN_A", "N20230718", "TK_MUC1", 50802.0),
        ("XA_DAI", "N20230718", "TK_MUC1", 2.0),
        ("XA_DAI", "N20230718", "TK_MUC2", None),
        ("XA_DAI", "N20230719", "TK_MUC1", 3.0),
    }
    assert set(rows[0]) == set(ledger_module.EFFECTIVE_KEYS)
    assert all(r["original_name"] != "old.xlsx" for r in rows)
    assert len(ledger.effective_figures(period_code="N20230718")) == 4
    assert len(ledger.effective_figures(period_code="N20230718", unit_code="XA_DAI")) == 2
    frame = ledger.effective_frame(unit_code="HUYEN_A")
    assert list(frame.columns) == [*ledger_module.EFFECTIVE_KEYS, "value_num"]
    assert frame.set_index("indicator")["value_num"].to_dict()["TK_MUC1"] == 50802.0
    assert frame["value_num"].isna().sum() == 1  # the text status
    assert str(frame["received_at"].dtype).startswith("datetime64")
    assert ledger.effective_frame(unit_code="NOBODY").empty


def test_last_accepted_values_follow_period_order(ledger):
    # Recorded out of order: a late return for day 1 arrives after day 2's.
    summary = Outcome(
        arrival_key="tk",
        sha256="tk",
        outcome=ACCEPTED,
        received_at=T0,
        unit_code="XA_DAI",
        period_code="TK",  # campaign-long summary: starts with day 0, ends with day 31
        period_start=START,
        period_end=START + timedelta(days=31),
        timeliness=LATE,
        figures={"TK_MUC1": 500.0},
    )
    ledger.record_outcomes(
        [
            summary,
            outcome("d2", period=2, figures={"TK_MUC1": 30.0, "TK_MUC2": None}),
            outcome("d0", period=0, figures={"TK_MUC1": 10.0, "TK_MUC2": 1.0}),
        ]
    )
    ledger.record_outcomes([outcome("d1", period=1, figures={"TK_MUC1": 20.0, "TK_MUC2": 2.0})])
    assert ledger.last_accepted_values("XA_DAI") == {"TK_MUC1": ("TK", 500.0), "TK_MUC2": ("N20230719", 2.0)}
    # Checking day 2: periods ending by its day, itself left out; the blank TK_MUC2 is skipped.
    d2_code, d2_day = daily(2)
    assert ledger.last_accepted_values("XA_DAI", as_of=d2_day, exclude_period=d2_code) == {
        "TK_MUC1": ("N20230719", 20.0),
        "TK_MUC2": ("N20230719", 2.0),
    }
    assert ledger.last_accepted_values("XA_DAI", as_of=START - timedelta(days=1)) == {}
    assert ledger.history("XA_DAI", "TK_MUC1") == [
        ("N20230718", 10.0),
        ("N20230719", 20.0),
        ("N20230720", 30.0),
        ("TK", 500.0),
    ]
    assert ledger.history("XA_DAI", "TK_MUC2") == [("N20230718", 1.0), ("N20230719", 2.0)]
    # A correction of day 1 replaces its value in the history, not adds to it.
    ledger.record_outcomes([outcome("d1 fixed", period=1, figures={"TK_MUC1": 21.0})])
    assert ledger.history("XA_DAI", "TK_MUC1")[1] == ("N20230719", 21.0)
    assert ledger.history("XA_DAI", "TK_MUC2") == [("N20230718", 1.0)]  # day 1's went with the corrected file
    assert ledger.history("HUYEN_A", "TK_MUC1") == []


def _fail_on_third_call(real):
    calls = []

    def encode(findings):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("crash in the middle of a batch")
        return real(findings)

    return encode


def test_a_batch_that_fails_midway_records_nothing(ledger, monkeypatch):
    (kept,) = ledger.record_outcomes([outcome("v1", figures={"TK_MUC1": 1.0})])
    # The database refuses the third outcome (duplicate_of points at no file) after the
    # first two were inserted and v1 was superseded within the transaction.
    bad = [outcome("v2"), outcome("other", period=1), outcome("dup", kind=DUPLICATE, duplicate_of=9999), outcome("z")]
    with pytest.raises(sqlite3.IntegrityError):
        ledger.record_outcomes(bad)
    assert [f.arrival_key for f in ledger.files()] == ["v1"]
    assert ledger.find_file(kept).is_effective
    # A Python error midway (any exception, even BaseException) rolls back the same way.
    monkeypatch.setattr(ledger_module, "_encode_findings", _fail_on_third_call(ledger_module._encode_findings))
    with pytest.raises(RuntimeError):
        ledger.record_outcomes([outcome("v2"), outcome("other", period=1), outcome("third", period=2)])
    assert [f.arrival_key for f in ledger.files()] == ["v1"]
    monkeypatch.undo()
    assert len(ledger.record_outcomes([outcome("v2"), outcome("other", period=1)])) == 2  # still usable
    assert ledger.find_file(kept).superseded_by is not None


def test_malformed_outcomes_are_refused_before_any_transaction():
    with pytest.raises(ValueError, match="only an accepted"):
        outcome("r", kind=REFUSED, figures={"TK_MUC1": 1.0})
    with pytest.raises(TypeError):
        outcome("b", figures={"CO_KE_HOACH": True})
    with pytest.raises(ValueError, match="finite"):
        outcome("n", figures={"TK_MUC1": float("nan")})
    with pytest.raises(ValueError, match="time zone"):
        outcome("t", received_at=datetime(2023, 7, 19, 8, 0))
    with pytest.raises(ValueError, match="period_code"):
        outcome("p", period=None)
    with pytest.raises(ValueError, match="outcome must be"):
        outcome("k", kind="maybe")


def test_arrival_key_is_stable_across_clients():
    nfd = unicodedata.normalize("NFD", "Báo cáo ngày 19.xlsx")
    local = make_arrival_key("XA_DAI", "Báo cáo ngày 19.xlsx", "ABC", 10, 1_690_000_000_123_456_789)
    over_smb = make_arrival_key("XA_DAI", nfd, "abc", 10, 1_690_000_000_123_456_700)
    assert local == over_smb
    assert make_arrival_key("XA_DAI", "a.xlsx", "abc", 10, 1_690_000_001_000_000_000) != local


# --- two real processes ----------------------------------------------------------------


def _record_in_process(path: str, keys: list[str], batch: int, barrier, results) -> None:
    """Child process: open the ledger and record ``keys`` in batches; report ok or the traceback."""
    try:
        barrier.wait(timeout=60)  # both open and write at the same moment, on a fresh file
        with open_ledger(Path(path)) as led:
            for i in range(0, len(keys), batch):
                led.record_outcomes([_worker_outcome(k) for k in keys[i : i + batch]])
        results.put(("ok", None))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _worker_outcome(key: str) -> Outcome:
    # "u<unit>-p<period>-<anything>": several keys may share a unit and period (corrections).
    unit, period, _ = key.split("-", 2)
    return outcome(key, unit=unit, period=int(period[1:]), figures={f"I{i}": float(i) for i in range(12)})


def _run_two(path: Path, keys_a: list[str], keys_b: list[str]) -> None:
    ctx = multiprocessing.get_context("spawn")  # real separate interpreters, as on Windows
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_record_in_process, args=(str(path), k, 25, barrier, results)) for k in (keys_a, keys_b)
    ]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [text for status, text in reports if status != "ok"]
    assert not errors, "\n".join(errors)
    assert all(p.exitcode == 0 for p in procs)


def test_two_processes_record_concurrently(tmp_path: Path):
    path = tmp_path / "chitieu.sqlite"
    disjoint_a = [f"ua-p{n % 5}-{n}" for n in range(300)]
    disjoint_b = [f"ub-p{n % 5}-{n}" for n in range(300)]
    _run_two(path, disjoint_a, disjoint_b)
    with open_ledger(path) as led:
        assert len(led.files()) == 600
    # Overlap: the same arrivals in both (watcher and button at once), in different orders,
    # with many corrections of the same unit and period racing each other.
    shared = [f"uc-p{n % 3}-{n}" for n in range(300)]
    _run_two(path, shared, list(reversed(shared)))
    with open_ledger(path) as led:
        overlap = led.files(unit_code="uc")
        assert sorted(f.arrival_key for f in overlap) == sorted(shared)  # each once
        for period in range(3):
            code = daily(period)[0]
            rows = [f for f in overlap if f.period_code == code]
            effective = [f for f in rows if f.is_effective]
            assert len(effective) == 1
            # History is one chain: every other file superseded by exactly one distinct later file.
            successors = [f.superseded_by for f in rows if not f.is_effective]
            assert len(successors) == len(set(successors)) == len(rows) - 1
        assert len(led.effective_figures(unit_code="uc")) == 3 * 12
