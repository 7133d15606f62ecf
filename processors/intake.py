"""Intake: every file waiting in the units' drop folders ends in exactly one recorded outcome.

One pass (``ingest_share``) takes the share's lock, finds the files that are complete, and
for each: reads its bytes once, hashes them, checks the container, reads and validates the
figures, and keeps the original in the archive. Outcomes are committed to the ledger in
batches; only then are receipts written and the files removed from the drop folders. A
crash at any moment leaves each file either untouched in its drop folder or recorded with
its arrival key, and the next pass finishes what was recorded without recording it again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import shutil
import stat
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from filelock import FileLock

from forms.clock import now_local
from forms.findings import Finding
from forms.layout import TemplateLayout, layout_template
from forms.schema import Campaign, Target, Unit
from processors.file_names import safe_display_name
from processors.ledger import (
    ACCEPTED,
    DUPLICATE,
    REFUSED,
    FileRecord,
    Ledger,
    Outcome,
    UnitPeriod,
    Value,
    history_of,
    make_arrival_key,
    open_ledger,
)
from processors.receipts import (
    ARCHIVE_NAME_BYTES,
    annotated_name,
    discard_partial_answers,
    fit_file_component,
    receipt_stem,
    render_receipt,
    write_annotated_copy,
    write_receipt,
)
from processors.safety import inspect_bytes
from processors.validation import History, ReturnedFigures, validate_return
from processors.workbook_reader import UnreadableWorkbook, read_return_bytes
from shared_folder_layout.layout import ShareLayout, is_temp_name

if TYPE_CHECKING:  # worker processes import this module: keep openpyxl and the master out of them
    from shared_folder_layout.share import Share

log = logging.getLogger(__name__)
SETTLE_SECONDS = 2.0  # a file whose size and mtime held still this long is complete
BATCH_SIZE = 200
LOCK_TIMEOUT = 120.0
TMP_PREFIX = ".tmp_"  # an archive copy being written (in Lưu trữ/, swept by the next pass)
# A pass with fewer files than this judges them in this process: starting worker processes
# ("spawn", ~1 s with the imports) costs more than two cores save on a few hundred files.
POOL_THRESHOLD = 400
# Layouts kept per process (~100 KB each): every unit of a 500-unit campaign stays cached over
# a pass, while 10,000 units' worth would cost a gigabyte and slow the garbage collector.
LAYOUT_CACHE = 1024
# Answered files removed from their drop folders at once (see _Pass.remove_answered).
REMOVE_AT = 20_000
# Units whose accepted history is kept in memory over a pass (a few KB each).
HISTORY_CACHE = 4096
# Archive copies written and fsynced at once: one fsync waits for the disk, several share a
# journal commit (measured on this project's 2-core VM: 4.9 ms per file one by one, 0.7 ms with 4 threads).
ARCHIVE_THREADS = 4
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Arrival:
    """A file found in a unit's drop folder, as first seen."""

    path: Path
    folder_unit: str
    size: int
    mtime_ns: int
    is_dir: bool = False

    @functools.cached_property
    def name(self) -> str:
        """The file's name as text the ledger and receipts can hold: bytes that were not UTF-8 shown as �."""
        # A name made under another code page (an archive unpacked on Linux, a USB stick)
        # reaches Python with surrogate escapes, which SQLite and the receipt refuse to encode.
        name = self.path.name
        try:
            name.encode("utf-8")  # fails exactly when it holds a surrogate
        except UnicodeEncodeError:
            return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in name)
        return name


@dataclass
class IngestSummary:
    """What one pass did, for the summary line."""

    accepted: int = 0
    refused: int = 0
    duplicate: int = 0
    resumed: int = 0  # recorded by an earlier, interrupted pass; finished now
    waiting: int = 0  # not complete yet (still being written): left for the next pass
    receipts: list[Path] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Files that reached an outcome in this pass."""
        return self.accepted + self.refused + self.duplicate

    def describe(self) -> str:
        """One Vietnamese summary line."""
        text = (
            f"Đã xử lý {self.total} tệp: {self.accepted} tiếp nhận, {self.refused} trả lại, {self.duplicate} trùng lặp"
        )
        if self.resumed:
            text += f"; hoàn tất {self.resumed} tệp của lần chạy bị gián đoạn"
        if self.waiting:
            text += f"; {self.waiting} tệp đang được ghi, sẽ xử lý lần sau"
        return text + "."


def find_arrivals(layout: ShareLayout, campaign: Campaign) -> list[Arrival]:
    """Every candidate in every reporting unit's drop folder (temp and lock files skipped), oldest first."""
    found = []
    for unit in campaign.reporting_units():
        inbox = layout.unit(unit.code).inbox
        try:
            entries = list(os.scandir(inbox))
        except FileNotFoundError:
            continue
        for entry in entries:
            if is_temp_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # moved away between listing and stat
            found.append(Arrival(Path(entry.path), unit.code, st.st_size, st.st_mtime_ns, stat.S_ISDIR(st.st_mode)))
    return sorted(found, key=lambda a: (a.mtime_ns, str(a.path)))


def is_settled(arrival: Arrival, settle: float, wall_ns: int) -> bool:
    """True when the file was last modified at least ``settle`` seconds ago."""
    return wall_ns - arrival.mtime_ns >= settle * 1e9


class _Judge:
    """Judging a file's bytes against the campaign: everything but the ledger, so a worker process can do it too."""

    def __init__(self, campaign: Campaign, key: bytes):
        self.campaign = campaign
        self.key = key
        self.layouts: OrderedDict[str, TemplateLayout] = OrderedDict()
        self.narrowed: OrderedDict[str, Campaign] = OrderedDict()  # see campaign_for
        # Campaign.target_for and indicators_for scan every target: with one target per unit,
        # judging 10,000 units' files was quadratic (minutes). A unit is judged against a copy
        # holding only the targets that can apply to it, which answers every question about
        # that unit the same (a unit's own target always outranks a generic one); the
        # template writer issues its templates the same way. Lookups are computed once here
        # so the copies share them.
        _ = campaign.unit_by_code, campaign.indicator_by_code, campaign.period_by_code, campaign.period_by_label
        self.generic = tuple(t for t in campaign.targets if t.unit is None)
        self.by_unit: dict[str, list[Target]] = {}
        for t in campaign.targets:
            if t.unit is not None:
                self.by_unit.setdefault(t.unit, []).append(t)

    def campaign_for(self, unit_code: str) -> Campaign:
        """The campaign with only the targets that can apply to ``unit_code`` (made once per unit, LAYOUT_CACHE kept)."""
        found = self.narrowed.get(unit_code)
        if found is None:
            targets = self.generic + tuple(self.by_unit.get(unit_code, ()))
            found = self.narrowed[unit_code] = self.campaign.model_copy(update={"targets": targets})
            if len(self.narrowed) > LAYOUT_CACHE:
                self.narrowed.popitem(last=False)
        else:
            self.narrowed.move_to_end(unit_code)
        return found

    def layout_of(self, campaign: Campaign, unit: Unit) -> TemplateLayout:
        """The issued layout of a unit's template, computed once per pass (the LAYOUT_CACHE latest units kept)."""
        found = self.layouts.get(unit.code)
        if found is None:
            found = self.layouts[unit.code] = layout_template(campaign, unit)
            if len(self.layouts) > LAYOUT_CACHE:
                self.layouts.popitem(last=False)
        else:
            self.layouts.move_to_end(unit.code)
        return found

    def assess(
        self,
        folder_unit: str,
        name: str,
        arrival_key: str,
        size: int,
        sha: str,
        data: bytes,
        received: datetime,
        history: Callable[[], History],
    ) -> Outcome:
        """The outcome of one file before the same-bytes check: refused with findings, or accepted with figures."""
        try:
            return self._assess(folder_unit, name, arrival_key, size, sha, data, received, history)
        except Exception:
            log.exception("assess_failed file=%s unit=%s: không kiểm tra được tệp", name, folder_unit)
            finding = Finding(
                code="internal_error",
                message=f"Hệ thống chưa kiểm tra được tệp «{safe_display_name(name)}»; bản gốc đã được lưu lại.",
                hint="nộp lại mẫu biểu gốc đã điền; nếu vẫn lỗi, báo cơ quan tổng hợp kèm tên tệp và giờ nộp.",
            )
            return Outcome(
                outcome=REFUSED,
                findings=(finding,),
                arrival_key=arrival_key,
                sha256=sha,
                received_at=received,
                size=size,
                original_name=name,
                folder_unit=folder_unit,
            )

    def _assess(
        self,
        folder_unit: str,
        name: str,
        arrival_key: str,
        size: int,
        sha: str,
        data: bytes,
        received: datetime,
        history: Callable[[], History],
    ) -> Outcome:
        base = dict(
            arrival_key=arrival_key,
            sha256=sha,
            received_at=received,
            size=size,
            original_name=name,
            folder_unit=folder_unit,
            campaign_code=None,
        )
        report = inspect_bytes(data, name, keep_parts=True)
        if not report.ok:
            return Outcome(outcome=REFUSED, findings=(report.finding,), **base)
        try:
            got = read_return_bytes(data, name, report.parts)  # the parts the checks inflated, not inflated again
        except UnreadableWorkbook as err:
            finding = Finding(
                code=err.reason,
                message=f"Tệp «{safe_display_name(name)}»: {err}",
                hint="mở mẫu biểu của đơn vị, nhập số liệu, lưu dạng .xlsx rồi nộp lại.",
            )
            return Outcome(outcome=REFUSED, findings=(finding,), **base)
        figures = ReturnedFigures(
            meta=got.meta,
            names=got.names,
            unit_code=got.unit_code,
            period_label=got.period_label,
            inputs=got.inputs,
            formulas=got.formulas,
            locked=got.cells,
        )
        verdict = validate_return(
            # Every question validation asks is about the unit the file names (meta unit_code).
            self.campaign_for(str(got.meta.get("unit_code", ""))),
            folder_unit,
            figures,
            self.key,
            received,
            history(),
            self.layout_of,
        )
        base.update(
            campaign_code=got.meta.get("campaign_code"),
            unit_code=verdict.unit_code,
            template_version=verdict.template_version,
        )
        period = verdict.period
        if period is not None:
            base.update(period_code=period.code, period_start=period.start, period_end=period.end)
        if not verdict.accepted:
            return Outcome(outcome=REFUSED, findings=verdict.findings, timeliness=None, **base)
        return Outcome(
            outcome=ACCEPTED,
            findings=verdict.findings,
            timeliness=verdict.timeliness,
            figures=_recordable(verdict.values),
            **base,
        )


class _Pass:
    """State of one ingest pass: the share, its ledger, caches and the batch being built."""

    def __init__(self, share: Share, ledger: Ledger, key: bytes, clock: Callable[[], datetime]):
        self.share = share
        self.layout = share.layout
        self.campaign = share.campaign
        self.ledger = ledger
        self.key = key
        self.clock = clock
        self.judging = _Judge(share.campaign, key)
        self.batch: list[tuple[Arrival, Outcome, bytes]] = []
        self.batch_hashes: dict[tuple[str, str], str] = {}  # (unit, sha) accepted in this batch -> arrival key
        self.pool: list[ProcessPoolExecutor] | None = None  # worker processes for a large pass (see ``workers``)
        self.ahead: dict[Path, _Ahead] = {}  # arrivals read ahead, being judged by the workers
        self.upcoming: list[Arrival] = []  # the next batch, read ahead once this one is committed
        # Per unit, how many commits changed its accepted history: a judgement made against an
        # older history is stale and is made again here.
        self.generations: dict[str, int] = {}
        self.keys_committed: set[str] = set()  # arrival keys recorded by this pass
        self.writer: ThreadPoolExecutor | None = None
        self.writing: dict[str, Future] = {}  # archive temp file -> its write, until the batch commits
        # (unit, sha256) -> the latest accepted file with those bytes: looked up per batch for the
        # hashes in ``hashes_known``, then kept up to date by commits.
        self.accepted_ids: dict[tuple[str | None, str], int] = {}
        self.hashes_known: set[str] = set()
        # Per unit, its effective accepted figures by period, read once and then kept by commits
        # (the HISTORY_CACHE latest units).
        self.histories: OrderedDict[str, _UnitHistory] = OrderedDict()
        self.receipt_folders: dict[str, Path] = {}
        self.archive_root = str(_archive_root(self.layout))
        self.accepted_root = str(self.layout.accepted_archive)
        self.refused_root = str(self.layout.refused_archive)
        self.folders_made: set[str] = set()  # archive folders made by this pass
        self.answered: list[Arrival] = []  # recorded and answered, still in their drop folders (see remove_answered)

    @contextmanager
    def workers(self, files: int) -> Iterator[None]:
        """Archive writer threads, and for a pass of ``files`` ≥ POOL_THRESHOLD worker processes; stopped on exit."""
        with ThreadPoolExecutor(ARCHIVE_THREADS, thread_name_prefix="chitieu-archive") as writer:
            self.writer = writer
            count = min(os.cpu_count() or 1, 8)
            if files < POOL_THRESHOLD or count <= 1:
                try:
                    yield
                finally:
                    self.writer = None
                return
            # "spawn" everywhere: the same on the office's Windows machines, and no fork of a
            # process that may be running watcher threads. Executors, not multiprocessing.Pool:
            # a worker that dies makes the pass fail (as a crash would) instead of waiting forever.
            # One single-process executor per worker, so that a unit's files always go to the
            # same worker, which then works out that unit's issued layout once.
            context = multiprocessing.get_context("spawn")
            pools = [
                ProcessPoolExecutor(
                    1, mp_context=context, initializer=_start_worker, initargs=(self.campaign, self.key, os.getpid())
                )
                for _ in range(count)
            ]
            self.pool = pools
            try:
                yield
            finally:
                self.pool, self.writer = None, None
                self.ahead.clear()
                for pool in pools:
                    pool.shutdown(wait=True, cancel_futures=True)

    def read_ahead(self, arrivals: list[Arrival]) -> None:
        """Read these arrivals now, look them up in the ledger at once, and with worker processes start judging them."""
        fresh = []
        for arrival in arrivals:
            if arrival.path in self.ahead or arrival.is_dir:
                continue
            received = self.clock()
            data = _read_stable(arrival)
            sha = key = ""
            if data is not None:
                sha = hashlib.sha256(data).hexdigest()
                key = make_arrival_key(arrival.folder_unit, arrival.name, sha, arrival.size, arrival.mtime_ns)
            fresh.append((arrival, received, data, sha, key))
        if not fresh:
            return
        # One query each for the whole batch. A record found here is still true when the
        # arrival's turn comes unless this pass records the same key before (see ``recorded``);
        # the accepted hashes are kept up to date by ``committed``.
        recorded = self.ledger.find_arrivals([key for *_, key in fresh if key])
        hashes = list({sha for *_, sha, _k in fresh if sha} - self.hashes_known)
        self.accepted_ids.update(self.ledger.accepted_ids_by_hash(hashes))
        self.hashes_known.update(hashes)
        tasks = _Tasks(self.pool)
        for arrival, received, data, sha, key in fresh:
            earlier = recorded.get(key) if key else None
            job, generation = None, 0
            if self.pool is not None and data is not None and earlier is None:
                unit = arrival.folder_unit
                generation = self.generations.get(unit, 0)
                job = tasks.add(unit, (unit, arrival.name, key, arrival.size, sha, data, received, self.history(unit)))
            self.ahead[arrival.path] = _Ahead(received, data, sha, earlier, job, generation)
        tasks.submit()

    def take(self, arrival: Arrival) -> tuple[datetime, bytes | None]:
        """When the arrival was received and its stable bytes (None for a folder or a file still changing)."""
        ahead = self.ahead.get(arrival.path)
        if ahead is not None:
            return ahead.received, ahead.data
        received = self.clock()
        return received, None if arrival.is_dir else _read_stable(arrival)

    def recorded(self, arrival: Arrival, data: bytes) -> tuple[str, FileRecord | None]:
        """The hash of the arrival's bytes and its ledger record if an earlier pass recorded it."""
        ahead = self.ahead.get(arrival.path)
        sha = ahead.sha if ahead is not None and ahead.sha else hashlib.sha256(data).hexdigest()
        key = make_arrival_key(arrival.folder_unit, arrival.name, sha, arrival.size, arrival.mtime_ns)
        if ahead is not None and ahead.sha and key not in self.keys_committed:
            return sha, ahead.recorded
        return sha, self.ledger.find_arrival(key)

    def committed(self, records: list[FileRecord], figures: Mapping[int, Mapping[str, Value]]) -> None:
        """Note what these committed records changed: arrival keys, accepted hashes, units' histories and generations."""
        self.keys_committed.update(record.arrival_key for record in records)
        for record in records:
            if record.outcome == ACCEPTED:
                self.accepted_ids[(record.unit_code, record.sha256)] = record.id
                known = self.histories.get(record.unit_code)
                if known is not None:  # as the ledger now answers: this file is the period's effective one
                    start, end = record.period_start, record.period_end
                    known.periods[record.period_code] = UnitPeriod(
                        end.isoformat(), start.isoformat(), dict(figures.get(record.id, {}))
                    )
                    known.values = None
                for unit in {record.folder_unit, record.unit_code}:
                    if unit:
                        self.generations[unit] = self.generations.get(unit, 0) + 1

    def history(self, unit_code: str) -> dict[str, list[tuple[str, Value]]]:
        """The unit's accepted past figures, in period order: kept in memory over the pass, read once per unit."""
        known = self.histories.get(unit_code)
        if known is None:
            known = self.histories[unit_code] = _UnitHistory(self.ledger.unit_periods(unit_code))
            if len(self.histories) > HISTORY_CACHE:
                self.histories.popitem(last=False)
        else:
            self.histories.move_to_end(unit_code)
        if known.values is None:
            known.values = history_of(known.periods)
        return known.values

    def judge(self, arrival: Arrival, data: bytes, sha: str, received: datetime) -> Outcome:
        """The outcome of one new arrival (not yet recorded)."""
        ahead = self.ahead.pop(arrival.path, None)
        if ahead is not None and ahead.job is not None:
            if self.generations.get(arrival.folder_unit, 0) == ahead.generation:
                return self.settle_duplicate(ahead.job.result())
            # Judged against a history that a commit has changed since: judge again below.
        key = make_arrival_key(arrival.folder_unit, arrival.name, sha, arrival.size, arrival.mtime_ns)
        history = self.history(arrival.folder_unit)
        outcome = self.judging.assess(
            arrival.folder_unit,
            arrival.name,
            key,
            arrival.size,
            sha,
            data,
            received,
            lambda: History(values=history),
        )
        return self.settle_duplicate(outcome)

    def settle_duplicate(self, outcome: Outcome) -> Outcome:
        """An acceptance of bytes this unit already had accepted (earlier or in this batch) as a duplicate."""
        if outcome.outcome != ACCEPTED:
            return outcome
        sha, unit_code = outcome.sha256, outcome.unit_code
        if sha not in self.hashes_known:  # not looked up with its batch: ask the ledger now
            self.accepted_ids.update(self.ledger.accepted_ids_by_hash([sha]))
            self.hashes_known.add(sha)
        earlier = self.accepted_ids.get((unit_code, sha))
        if earlier is not None or (unit_code, sha) in self.batch_hashes:
            return replace(
                outcome,
                outcome=DUPLICATE,
                duplicate_of=earlier,
                period_code=None,
                period_start=None,
                period_end=None,
                timeliness=None,
                findings=(),
                figures={},
            )
        self.batch_hashes[(unit_code, sha)] = outcome.arrival_key
        return outcome

    def archive(self, arrival: Arrival, outcome: Outcome, data: bytes) -> str:
        """Keep the original byte for byte: Lưu trữ/<Đã nhận|Trả lại>/<unit>/<date>/<time>_<hash>_<name>."""
        root = self.accepted_root if outcome.outcome == ACCEPTED else self.refused_root
        moment = outcome.received_at
        folder = os.path.join(root, arrival.folder_unit, moment.strftime("%Y-%m-%d"))
        target = os.path.join(folder, f"{moment:%H%M%S}_{outcome.sha256[:12]}_{_component(arrival.name)}")
        if folder not in self.folders_made:
            os.makedirs(folder, exist_ok=True)
            self.folders_made.add(folder)
        if not os.path.exists(target):
            # Written beside the archive's top folder, not into the day's folder: a pass killed
            # mid-write leaves its temp file where the next pass sweeps (see _sweep_archive_temps).
            tmp = os.path.join(self.archive_root, f"{TMP_PREFIX}{outcome.sha256[:24]}")
            earlier = self.writing.get(tmp)
            if earlier is not None:
                earlier.result()  # the same bytes are being written under this temp name: let that finish
            if self.writer is None:
                _write_durably(tmp, target, data)
            else:
                # Written by a thread; ``wait_archived`` holds the commit until every copy is on disk.
                self.writing[tmp] = self.writer.submit(_write_durably, tmp, target, data)
        return target

    def remove_answered(self) -> None:
        """Take the answered files out of their drop folders.

        Done at the end of the pass (or every REMOVE_AT files), not batch by batch: on ext4
        without a journal, a file created within 30 s after others were deleted costs a scan
        past every inode freed since (ext4 avoids reusing them), and intake creates two files
        (archive copy, receipt) per file it removes; measured here, that made each creation
        4x slower. A pass stopped before this leaves recorded files, which the next pass
        answers again under the same names and removes (as after a crash).
        """
        answered, self.answered = self.answered, []
        for arrival in answered:
            _remove(arrival)

    def receipts_of(self, unit_code: str) -> Path:
        """The unit's receipt folder (worked out once per pass)."""
        folder = self.receipt_folders.get(unit_code)
        if folder is None:
            folder = self.receipt_folders[unit_code] = self.layout.unit(unit_code).receipts
        return folder

    def wait_archived(self) -> None:
        """Wait until every archive copy written so far is on disk (raise the first failure)."""
        writing, self.writing = list(self.writing.values()), {}
        for write in writing:
            write.result()

    def annotate_ahead(self, records: list[FileRecord]) -> dict[int, Future]:
        """With worker processes: start the marked-up copies of these refused records there; jobs by record id."""
        if self.pool is None:
            return {}
        jobs = {}
        for record in records:
            if _may_annotate(record):
                pool = self.pool[_worker_of(record.folder_unit, len(self.pool))]
                jobs[record.id] = pool.submit(_annotate, self.receipts_of(record.folder_unit), record)
        return jobs


# Files judged per task sent to a worker process: sending each file alone costs the intake
# process about 0.2 ms of pickling and queueing per file, a task of a few dozen about 0.03 ms.
TASK_FILES = 16


def _worker_of(unit_code: str, workers: int) -> int:
    """The worker that judges a unit's files (the same one throughout a pass)."""
    return zlib.crc32(unit_code.encode("utf-8", "surrogateescape")) % workers


class _Job(NamedTuple):
    """One file's judgement inside a task sent to a worker process."""

    task: _Pending  # the task's outcomes, one per file
    index: int

    def result(self) -> Outcome:
        """The file's outcome (waits for the task; raises what the worker raised)."""
        return self.task.result()[self.index]


class _Tasks:
    """Files to judge gathered per worker, sent TASK_FILES at a time."""

    def __init__(self, pools: list[ProcessPoolExecutor] | None):
        self.pools = pools or []
        self.waiting: list[list[tuple]] = [[] for _ in self.pools]
        self.jobs: list[list[_Job]] = [[] for _ in self.pools]

    def add(self, unit_code: str, args: tuple) -> _Job:
        """Queue one file's arguments for ``_assess_in_worker``; its job (valid once the task is sent)."""
        worker = _worker_of(unit_code, len(self.pools))
        self.waiting[worker].append(args)
        job = _Job(_Pending(), len(self.waiting[worker]) - 1)
        self.jobs[worker].append(job)
        if len(self.waiting[worker]) >= TASK_FILES:
            self._send(worker)
        return job

    def submit(self) -> None:
        """Send what is still gathered."""
        for worker in range(len(self.pools)):
            if self.waiting[worker]:
                self._send(worker)

    def _send(self, worker: int) -> None:
        task = self.pools[worker].submit(_assess_many_in_worker, self.waiting[worker])
        for job in self.jobs[worker]:
            job.task.bind(task)
        self.waiting[worker], self.jobs[worker] = [], []


class _Pending:
    """A task's future, known once the task is sent (a job is handed out when its file is queued)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: Future | None = None

    def bind(self, future: Future) -> None:
        self.future = future

    def result(self) -> list[Outcome]:
        if self.future is None:
            raise RuntimeError("intake task never sent to a worker")
        return self.future.result()


class _UnitHistory:
    """A unit's effective accepted figures by period, and the history validation reads, made from them when asked."""

    __slots__ = ("periods", "values")

    def __init__(self, periods: dict[str, UnitPeriod]):
        self.periods = periods
        # Shared by the judgements made until the next commit changes it: never modified in place.
        self.values: dict[str, list[tuple[str, Value]]] | None = None


class _Ahead(NamedTuple):
    """An arrival read ahead of its batch: when, its bytes, and the workers' judgement of them."""

    received: datetime
    data: bytes | None
    sha: str  # "" when there are no bytes
    recorded: FileRecord | None  # the ledger's record of this arrival, from an interrupted pass
    job: _Job | None  # the workers' outcome; None for a folder, a file still changing or one recorded
    generation: int  # the unit's history generation the judgement was made against


def _write_durably(tmp: str, target: str, data: bytes) -> None:
    """Write ``data`` to ``tmp``, fsync it and rename it to ``target``."""
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # the original must be on disk before the ledger says it is kept
    try:
        os.replace(tmp, target)
    except FileNotFoundError:  # the day's folder went away since this pass made it
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(tmp, target)


# The worker process's judge, set once by the pool's initializer (the campaign is sent once
# per worker, not once per file).
_worker_judge: _Judge | None = None


def _start_worker(campaign: Campaign, key: bytes, parent: int) -> None:
    global _worker_judge
    _die_with(parent)
    _worker_judge = _Judge(campaign, key)


def _die_with(parent: int) -> None:
    """End this worker when the intake process dies: a killed pass must not go on writing answers."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before that took effect (elsewhere the task pipe breaks)
        os._exit(1)


def _assess_in_worker(
    folder_unit: str,
    name: str,
    arrival_key: str,
    size: int,
    sha: str,
    data: bytes,
    received: datetime,
    history: Mapping[str, list[tuple[str, Any]]],
) -> Outcome:
    if _worker_judge is None:
        raise RuntimeError("intake worker started without its judge")
    return _worker_judge.assess(
        folder_unit, name, arrival_key, size, sha, data, received, lambda: History(values=history)
    )


def _assess_many_in_worker(files: list[tuple]) -> list[Outcome]:
    """``_assess_in_worker`` over a task's files, in order."""
    return [_assess_in_worker(*args) for args in files]


def _recordable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated figures as the ledger keeps them: a yes/no as the text the clerk chose («Có»/«Không»)."""
    # The ledger refuses a bool (it would silently become 1.0): one such figure used to crash
    # the whole pass at this file, every pass, and hold up every file behind it.
    return {k: ("Có" if v else "Không") if isinstance(v, bool) else v for k, v in values.items()}


def _read_stable(arrival: Arrival) -> bytes | None:
    """The file's bytes, or None when it changed since it was seen (still being written) or is gone."""
    try:
        with open(arrival.path, "rb") as fh:
            data = fh.read()
            st = os.fstat(fh.fileno())
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    if st.st_size != arrival.size or st.st_mtime_ns != arrival.mtime_ns or len(data) != arrival.size:
        return None
    return data


def _component(name: str) -> str:
    """The clerk's file name as part of an archive name: safe, and short enough in bytes too."""
    return fit_file_component(name, 80, ARCHIVE_NAME_BYTES)


def _folder_target(arrival: Arrival, layout: ShareLayout) -> Path:
    """Where a folder dropped in an inbox is kept: named by its own time, so a resumed pass finds the same place."""
    seen = datetime.fromtimestamp(arrival.mtime_ns / 1e9).strftime("%Y%m%d-%H%M%S")
    return layout.refused_archive / arrival.folder_unit / f"thu_muc_{seen}_{_component(arrival.name)}"


def _folder_outcome(arrival: Arrival, received: datetime, layout: ShareLayout) -> Outcome:
    name = arrival.name
    finding = Finding(
        code="not_a_file",
        message=f"«{safe_display_name(name)}» là một thư mục, không phải tệp báo cáo.",
        hint="chỉ chép tệp .xlsx đã điền vào thư mục «Nộp báo cáo», không chép cả thư mục.",
    )
    digest = hashlib.sha256(f"folder:{arrival.folder_unit}/{name}:{arrival.mtime_ns}".encode()).hexdigest()
    return Outcome(
        arrival_key=make_arrival_key(arrival.folder_unit, name + "/", digest, 0, arrival.mtime_ns),
        sha256=digest,
        outcome=REFUSED,
        received_at=received,
        size=0,
        original_name=name,
        folder_unit=arrival.folder_unit,
        findings=(finding,),
        archive_path=str(_folder_target(arrival, layout)),
    )


def answer(
    share: Share,
    ledger: Ledger,
    record: FileRecord,
    annotating: Future | None = None,
    figures: Mapping[str, Value] | None = None,
    receipts: Path | None = None,
) -> Path:
    """Write the receipt (and for a refused template, the marked-up copy) of a recorded file; return the receipt.

    ``annotating``: the marked-up copy already being made by a worker process. ``figures``: the
    record's figures as the ledger holds them, when already read (with its batch).
    """
    receipts = share.layout.unit(record.folder_unit).receipts if receipts is None else receipts
    stem = receipt_stem(record)
    marked = annotating.result() if annotating is not None else _annotate(receipts, record)
    if record.outcome != ACCEPTED:
        figures = {}
    elif figures is None:
        figures = ledger.figures_of(record.id)
    earlier = ledger.find_file(record.duplicate_of) if record.duplicate_of else None
    text = render_receipt(share.campaign, record, figures, annotated_name(stem) if marked else None, earlier)
    return write_receipt(receipts, stem, text)


def _may_annotate(record: FileRecord) -> bool:
    """True when a record may get a marked-up copy: refused, archived, with a finding on a cell."""
    return record.outcome == REFUSED and bool(record.archive_path) and any(f.cell and f.sheet for f in record.findings)


def _annotate(receipts: Path, record: FileRecord) -> Path | None:
    """Write the marked-up copy of a refused template into ``receipts``; None when none is needed or possible."""
    if not _may_annotate(record) or not Path(record.archive_path).is_file():
        return None
    try:
        return write_annotated_copy(
            Path(record.archive_path).read_bytes(), list(record.findings), receipts, receipt_stem(record)
        )
    except Exception:
        return None


def _remove(arrival: Arrival) -> None:
    """Take a recorded file out of its inbox, unless it was saved again since it was read."""
    path = arrival.path
    try:
        # Excel saves by renaming a new file over the old one, a copy may rewrite it in place:
        # what is there now is another arrival, not yet recorded. Leave it for the next pass.
        st = path.stat()
        if st.st_size != arrival.size or st.st_mtime_ns != arrival.mtime_ns:
            return
        path.unlink()
    except FileNotFoundError:
        pass
    except (PermissionError, IsADirectoryError):
        pass  # still open in Excel on a Windows share: the next pass sees it recorded and retries


def ingest_share(
    share: Share,
    key: bytes,
    *,
    settle: float = SETTLE_SECONDS,
    batch_size: int = BATCH_SIZE,
    clock: Callable[[], datetime] = now_local,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    master: bool = True,
) -> IngestSummary:
    """Process every complete file waiting in the share, then return what was done.

    ``master``: bring the master workbook up to date at the end of the pass (as every pass of
    ``chitieu ingest`` and ``watch`` does); False leaves it to the caller (a benchmark timing
    intake and the master separately, ``chitieu master``).
    """
    layout = share.layout
    summary = IngestSummary()
    with FileLock(str(layout.lock), timeout=lock_timeout), open_ledger(layout.ledger) as ledger:
        _sweep_archive_temps(layout)
        arrivals = find_arrivals(layout, share.campaign)
        wall = time.time_ns()
        ready = [a for a in arrivals if is_settled(a, settle, wall)]
        summary.waiting = len(arrivals) - len(ready)
        work = _Pass(share, ledger, key, clock)
        done = 0
        chunks = list(_chunks(ready, batch_size))
        try:
            with work.workers(len(ready)):
                for i, chunk in enumerate(chunks):
                    work.upcoming = chunks[i + 1] if i + 1 < len(chunks) else []
                    _run_batch(work, chunk, summary)
                    done += len(chunk)
                    if progress:
                        progress(done, len(ready))
        finally:
            work.remove_answered()
        if master:
            from processors.master import update_master

            update_master(share, ledger)  # never raises; a master open in Excel is brought up to date by a later pass
    return summary


def _archive_root(layout: ShareLayout) -> Path:
    """Lưu trữ/, the folder above the accepted and refused archives (same disk, same permissions)."""
    return layout.accepted_archive.parent


def _sweep_archive_temps(layout: ShareLayout) -> None:
    """Remove archive temp files a killed pass left behind (only ever called under the share's lock)."""
    try:
        entries = list(os.scandir(_archive_root(layout)))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)


def _chunks(items: list[Arrival], size: int) -> Iterator[list[Arrival]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _run_batch(work: _Pass, chunk: list[Arrival], summary: IngestSummary) -> None:
    """Judge and archive a chunk, commit its outcomes in one transaction, then answer and clear the inboxes."""
    pending: list[tuple[Arrival, Outcome]] = []
    finished: list[tuple[Arrival, FileRecord]] = []
    figures: dict[int, dict[str, Value]] = {}  # accepted records' figures as committed, by record id
    accepting: set[str] = set()  # units with an acceptance in ``pending``
    work.batch_hashes.clear()
    work.read_ahead(chunk)  # with worker processes, done with the previous batch
    # With worker processes, the next batch is read and sent to them now, so that they always
    # have files to judge: a judgement a commit of this batch makes stale (a unit with files in
    # both) is made again when its turn comes (see ``judge``).
    work.read_ahead(work.upcoming)
    for arrival in chunk:
        received, data = work.take(arrival)
        if arrival.is_dir:
            outcome = _folder_outcome(arrival, received, work.layout)
            existing = work.ledger.find_arrival(outcome.arrival_key)
            if existing:
                _resume(work, arrival, existing, finished, summary)
            else:
                pending.append((arrival, outcome))
            continue
        if data is None:
            work.ahead.pop(arrival.path, None)
            summary.waiting += 1
            continue
        sha, existing = work.recorded(arrival, data)
        if existing:  # recorded by an interrupted pass: answer and clear, record nothing again
            work.ahead.pop(arrival.path, None)
            _resume(work, arrival, existing, finished, summary)
            continue
        if arrival.folder_unit in accepting:
            # Judge this file against the unit's earlier one (history, same bytes) as a later
            # batch would: commit first. Else the outcome would depend on where batches split,
            # and a pass resumed after a crash would judge differently from one without.
            _commit(work, pending, finished, figures, summary)
            pending, accepting = [], set()
        outcome = work.judge(arrival, data, sha, received)
        archived = work.archive(arrival, outcome, data)
        pending.append((arrival, replace(outcome, archive_path=archived)))
        if outcome.outcome == ACCEPTED:
            accepting.add(arrival.folder_unit)
    _commit(work, pending, finished, figures, summary)
    # With worker processes: they mark refused copies while this batch is answered here.
    annotating = work.annotate_ahead([record for _arrival, record in finished])
    for arrival, record in finished:
        # Answer first, then clear the inbox: a crash in between leaves the arrival for the next
        # pass to answer again under the same name; the other way round, its answer is lost.
        folder = work.receipts_of(record.folder_unit)
        receipt = answer(work.share, work.ledger, record, annotating.get(record.id), figures.get(record.id), folder)
        summary.receipts.append(receipt)
        if arrival.is_dir:  # kept whole in the archive, moved only now that its outcome is committed
            target = Path(record.archive_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if arrival.path.exists() and not target.exists():
                shutil.move(str(arrival.path), str(target))
        else:
            work.answered.append(arrival)
    if len(work.answered) >= REMOVE_AT:
        work.remove_answered()


def _resume(
    work: _Pass,
    arrival: Arrival,
    record: FileRecord,
    finished: list[tuple[Arrival, FileRecord]],
    summary: IngestSummary,
) -> None:
    """A file an interrupted pass recorded: answer it again (same names) and clear it, recording nothing."""
    discard_partial_answers(work.layout.unit(record.folder_unit).receipts, receipt_stem(record))
    finished.append((arrival, record))
    summary.resumed += 1


def _commit(
    work: _Pass,
    pending: list[tuple[Arrival, Outcome]],
    finished: list[tuple[Arrival, FileRecord]],
    figures: dict[int, dict[str, Value]],
    summary: IngestSummary,
) -> None:
    """Record ``pending`` in one transaction; append each arrival with its record (as committed) to ``finished``.

    The accepted records' figures, as the ledger now holds them, are added to ``figures``.
    """
    work.batch_hashes.clear()
    work.wait_archived()  # every original on disk before the ledger says it is kept
    if not pending:
        return
    ids = work.ledger.record_outcomes([o for _a, o in pending])
    records = work.ledger.find_files(ids)  # the ledger may have turned an acceptance into a duplicate
    stored = work.ledger.figures_of_files([r.id for r in records if r.outcome == ACCEPTED])
    figures.update(stored)
    for (arrival, _outcome), record in zip(pending, records, strict=True):
        finished.append((arrival, record))
        setattr(summary, record.outcome, getattr(summary, record.outcome) + 1)
    work.committed(records, stored)
