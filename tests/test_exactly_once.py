"""Exactly once: killing ``chitieu ingest`` at any moment, or running two at once, loses no file and records none twice.

Real processes, real SIGKILL, real files and a real SQLite ledger. The kill test compares a
share ingested through many killed runs with a copy ingested by one clean run: the same
files recorded with the same outcomes, figures and receipts, every original archived, and
nothing left in the inboxes or as a temp file.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SMALL_CAMPAIGN_YAML
from crash_helpers import (
    NOW,
    Return,
    assert_nothing_lost_or_doubled,
    check_final,
    classify_kill,
    clock,
    copy_share,
    drop,
    inbox_entries,
    kill_after,
    kill_at_first_temp_file,
    make_returns,
    new_share,
    read_ledger,
    receipt_texts,
    run_ingest,
    snapshot,
    start_ingest,
    tmp_files,
    wait_until_working,
    with_folders,
)

from forms.signing import load_or_create_key
from processors.intake import ingest_share
from processors.ledger import ACCEPTED
from shared_folder_layout.layout import RECEIPTS_DIR
from shared_folder_layout.share import Share

SEED = 20230812
ROUNDS = 20
CRASH_BATCH = 3  # small batches: many commits, so kills land between and inside them


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The campaign definition, the office key and the returns (made once: filling workbooks is slow)."""
    base = tmp_path_factory.mktemp("exactly_once")
    definition = base / "ke_hoach.yaml"
    definition.write_text(SMALL_CAMPAIGN_YAML, encoding="utf-8")
    key_file = base / "secret.key"
    key = load_or_create_key(key_file)
    template_share = new_share(base / "template_share", definition, key)
    returns = make_returns(template_share.campaign, key)
    return {"definition": definition, "key_file": key_file, "key": key, "returns": returns}


def _fresh(world: dict, root: Path, returns: list[Return] | None = None) -> Share:
    share = new_share(root, world["definition"], world["key"])
    drop(share, world["returns"] if returns is None else returns)
    return share


def _comparable(share: Share, returns: list[Return]):
    """The share's final state, checked on its own, in a form two runs can be compared in."""
    state = read_ledger(share)
    originals = with_folders(returns, state)
    state, extra = check_final(share, originals)
    return state, receipt_texts(share, state), extra


def test_killed_at_random_moments_ends_like_a_run_without_crashes(world: dict, tmp_path: Path):
    returns = world["returns"]
    kinds = Counter(r.kind for r in returns)
    assert len(returns) >= 80 and kinds["duplicate"] >= 6 and sum(n for k, n in kinds.items() if "refused" in k) >= 15

    reference = _fresh(world, tmp_path / "A")
    crashed = copy_share(reference.layout.root, tmp_path / "B")
    ingest_share(reference, world["key"], settle=0, clock=lambda: NOW)  # one pass, nothing killed
    a_state, a_receipts, a_extra = _comparable(reference, returns)
    assert a_extra == 0
    outcomes = Counter(row["outcome"] for row in a_state.rows.values())
    assert outcomes["accepted"] >= 30 and outcomes["refused"] >= 15 and outcomes["duplicate"] >= 6, outcomes
    assert any(row["superseded_by"] for row in a_state.rows.values())
    assert any(code == "cumulative_decrease" for row in a_state.rows.values() for code, *_ in row["findings"])

    # Kill real ingest processes over and over: mostly at a random moment of their work (after
    # start-up, measured by their holding the share's lock), every few rounds during start-up.
    rng = random.Random(SEED)
    observed: Counter[str] = Counter()
    killed = rounds = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        if not any(inbox_entries(crashed).values()):
            break
        rounds += 1
        before = snapshot(crashed)
        proc = start_ingest(crashed.layout.root, world["key_file"], clock(round_no), batch_size=CRASH_BATCH)
        if round_no % 6 == 5:  # during start-up
            really_killed = kill_after(proc, rng.uniform(0.05, 0.6))
        elif round_no % 6 == 2:  # in the middle of writing a file (archive copy, receipt)
            wait_until_working(crashed, proc)
            really_killed = kill_at_first_temp_file(crashed, proc, before.temps, timeout=0.4)
        else:  # at a random moment of the work
            wait_until_working(crashed, proc)
            really_killed = kill_after(proc, rng.uniform(0.0, 0.3))
        if really_killed:
            killed += 1
            after = snapshot(crashed)
            observed.update(classify_kill(crashed, before, after))
            assert_nothing_lost_or_doubled(returns, after)
        else:
            observed["finished before the kill"] += 1
    run_ingest(crashed.layout.root, world["key_file"], clock(ROUNDS + 1), batch_size=CRASH_BATCH)
    b_state, b_receipts, b_extra = _comparable(crashed, returns)

    report = ", ".join(f"{k}: {n}" for k, n in sorted(observed.items()))
    print(
        f"\n{rounds} rounds, {killed} killed, in {time.monotonic() - started:.1f} s; "
        f"kill points: {report}; extra archive copies (identical bytes): {b_extra}"
    )
    assert b_state.rows == a_state.rows
    assert b_state.effective == a_state.effective
    assert b_receipts == a_receipts
    assert killed >= ROUNDS // 2, observed
    mid_flight = {"archived, not committed", "committed, not answered", "answered, not removed", "between batches"}
    assert len(mid_flight & set(observed)) >= 2, observed


def test_a_crash_between_commit_and_removal_is_finished_by_the_next_pass(world: dict, tmp_path: Path):
    """Recorded but still in the inbox: the next pass answers under the same name and removes it, adding no row."""
    returns = [r for r in world["returns"] if not r.is_dir][:15]
    returns += [r for r in world["returns"] if r.kind == "refused_relation"]  # answered with a marked-up copy too
    share = _fresh(world, tmp_path / "share", returns)
    inboxes = {r.name: share.layout.unit(r.folder_unit).inbox / r.name for r in returns}
    stamps = {name: path.stat().st_mtime_ns for name, path in inboxes.items()}
    ingest_share(share, world["key"], settle=0, clock=lambda: NOW)
    committed = read_ledger(share)
    receipts = sorted(p.name for p in share.layout.units_root.rglob("*.txt"))
    assert len(committed.records) == len(returns) and len(receipts) == len(returns)
    # What a pass killed after its commit leaves: every file still in its inbox, untouched, and no answer yet.
    for r in returns:
        inboxes[r.name].write_bytes(r.data)
        os.utime(inboxes[r.name], ns=(stamps[r.name], stamps[r.name]))
    # Where the kill hit a receipt or a marked-up copy mid-write, the writer's temp file is left too.
    for answered in list(share.layout.units_root.glob(f"*/{RECEIPTS_DIR}/*")):
        answered.with_name(f".{answered.stem}.{secrets.token_hex(4)}.tmp").write_bytes(b"PK\x03\x04 half")
        if answered.suffix == ".txt":
            answered.unlink()
    assert len(tmp_files(share.layout.root)) >= len(returns)
    summary = ingest_share(share, world["key"], settle=0, clock=lambda: NOW + timedelta(minutes=5))
    assert (summary.resumed, summary.total) == (len(returns), 0)
    after = read_ledger(share)
    assert [r.id for r in after.records] == [r.id for r in committed.records]
    assert sorted(p.name for p in share.layout.units_root.rglob("*.txt")) == receipts  # same names as before
    check_final(share, with_folders(returns, after))
    # And once more: nothing to do, nothing changes.
    assert ingest_share(share, world["key"], settle=0, clock=lambda: NOW).total == 0
    assert len(read_ledger(share).records) == len(returns)


def test_two_ingests_at_once_and_a_third_midway_record_each_file_once(world: dict, tmp_path: Path):
    returns = world["returns"]
    reference = _fresh(world, tmp_path / "A")
    racing = copy_share(reference.layout.root, tmp_path / "B")
    started = time.monotonic()
    ingest_share(reference, world["key"], settle=0, clock=lambda: NOW)
    clean_seconds = time.monotonic() - started
    a_state, a_receipts, _ = _comparable(reference, returns)

    first = start_ingest(racing.layout.root, world["key_file"], batch_size=CRASH_BATCH)
    second = start_ingest(racing.layout.root, world["key_file"], batch_size=CRASH_BATCH)
    time.sleep(clean_seconds / 2)
    third = start_ingest(racing.layout.root, world["key_file"], batch_size=CRASH_BATCH)
    handled = 0
    for proc in (first, second, third):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        summary = out.decode()
        handled += int(re.search(r"Đã xử lý (\d+) tệp", summary)[1])
        assert "hoàn tất" not in summary  # nobody finished another's work: they never overlapped
    assert handled == len(returns)
    b_state, b_receipts, b_extra = _comparable(racing, returns)
    assert b_extra == 0
    assert b_state.rows == a_state.rows
    assert b_receipts == a_receipts


def _valid_pair(world: dict) -> tuple[Return, Return]:
    """Two different valid returns of one unit for one period (a first save and a re-save)."""
    valid = [r for r in world["returns"] if r.kind in ("valid", "correction") and r.folder_unit == "XA_DAI"]
    return valid[0], valid[1]


def test_a_file_rewritten_after_the_scan_waits_for_the_next_pass(world: dict, tmp_path: Path):
    """A watcher calls ingest again and again while a clerk's copy is still being written in chunks."""
    others = [r for r in world["returns"] if r.kind in ("valid", "correction") and r.folder_unit != "XA_DAI"][:30]
    first, final = _valid_pair(world)
    late = Return(first.folder_unit, "dang_chep.xlsx", first.data, "valid")
    share = _fresh(world, tmp_path / "share", [*others, late])  # newest mtime: processed last
    target = share.layout.unit(late.folder_unit).inbox / late.name
    written = threading.Event()

    def write_in_chunks() -> None:
        # The clerk saves again over the same file, slowly (a copy over a slow link).
        with open(target, "r+b") as fh:
            fh.truncate(0)
            for i in range(0, len(final.data), 2048):
                fh.seek(i)
                fh.write(final.data[i : i + 2048])
                fh.flush()
                time.sleep(0.01)
        written.set()

    writer = threading.Thread(target=write_in_chunks)

    def start_writing(done: int, total: int) -> None:
        if not writer.is_alive() and not written.is_set():
            writer.start()
            time.sleep(0.02)  # the rewrite has begun before the pass reaches the file

    summaries = [ingest_share(share, world["key"], settle=0.5, batch_size=5, clock=lambda: NOW, progress=start_writing)]
    deadline = time.monotonic() + 30
    while any(inbox_entries(share).values()) and time.monotonic() < deadline:
        time.sleep(0.05)
        summaries.append(ingest_share(share, world["key"], settle=0.5, clock=lambda: NOW))
    writer.join()
    assert summaries[0].waiting >= 1  # seen changing: left for a later pass
    state = read_ledger(share)
    rows = [r for r in state.records if r.original_name == late.name]
    assert [(r.outcome, r.sha256) for r in rows] == [(ACCEPTED, final.sha256)]
    assert all(r.outcome == ACCEPTED for r in state.records), [
        r.findings for r in state.records if r.outcome != ACCEPTED
    ]
    originals = with_folders([*others, Return(late.folder_unit, late.name, final.data, "valid")], state)
    check_final(share, originals)


def test_a_file_replaced_after_it_was_read_is_not_removed_with_the_old_outcome(world: dict, tmp_path: Path):
    """Excel saves by writing a temp file and renaming it over the original: the new save must not be lost."""
    others = [r for r in world["returns"] if r.kind in ("valid", "correction") and r.folder_unit != "XA_DAI"][:40]
    first, final = _valid_pair(world)
    early = Return(first.folder_unit, "luu_lai.xlsx", first.data, "valid")
    share = _fresh(world, tmp_path / "share", [early, *others])  # oldest mtime: read first
    path = share.layout.unit(early.folder_unit).inbox / early.name
    archive = share.layout.accepted_archive / early.folder_unit
    replaced = threading.Event()

    def save_again_once_read() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if archive.exists() and any(p.name.endswith(early.name) for p in archive.rglob("*")):
                temp = path.with_name("~WRL0001.tmp")
                temp.write_bytes(final.data)
                os.replace(temp, path)
                replaced.set()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=save_again_once_read)
    watcher.start()
    ingest_share(share, world["key"], settle=0, clock=lambda: NOW)  # one batch: read all, commit, then remove
    watcher.join()
    assert replaced.is_set()
    ingest_share(share, world["key"], settle=0, clock=lambda: NOW)
    state = read_ledger(share)
    rows = sorted((r.sha256, r.outcome) for r in state.records if r.original_name == early.name)
    assert rows == sorted([(first.sha256, ACCEPTED), (final.sha256, ACCEPTED)])
    originals = with_folders([early, *others, Return(early.folder_unit, early.name, final.data, "valid")], state)
    check_final(share, originals)
    assert tmp_files(share.layout.root) == []
