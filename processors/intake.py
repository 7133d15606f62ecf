"""Intake: every file waiting in the units' drop folders ends in exactly one recorded outcome.

One pass (``ingest_share``) takes the share's lock, finds the files that are complete, and
for each: reads its bytes once, hashes them, checks the container, reads and validates the
figures, and keeps the original in the archive. Outcomes are committed to the ledger in
batches; only then are receipts written and the files removed from the drop folders. A
crash at any moment leaves each file either untouched in its drop folder or recorded with
its arrival key, and the next pass finishes what was recorded without recording it again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from forms.clock import now_local
from forms.findings import Finding
from forms.layout import TemplateLayout, layout_template
from forms.schema import Campaign, Unit
from processors.file_names import safe_display_name, safe_file_component
from processors.ledger import ACCEPTED, DUPLICATE, REFUSED, FileRecord, Ledger, Outcome, make_arrival_key, open_ledger
from processors.receipts import annotated_name, receipt_stem, render_receipt, write_annotated_copy, write_receipt
from processors.safety import inspect_bytes
from processors.validation import History, ReturnedFigures, validate_return
from processors.workbook_reader import UnreadableWorkbook, read_return_bytes
from shared_folder_layout.layout import ShareLayout, is_temp_name
from shared_folder_layout.share import Share

SETTLE_SECONDS = 2.0  # a file whose size and mtime held still this long is complete
BATCH_SIZE = 200
LOCK_TIMEOUT = 120.0
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Arrival:
    """A file found in a unit's drop folder, as first seen."""

    path: Path
    folder_unit: str
    size: int
    mtime_ns: int
    is_dir: bool = False


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


class _Pass:
    """State of one ingest pass: the share, its ledger, caches and the batch being built."""

    def __init__(self, share: Share, ledger: Ledger, key: bytes, clock: Callable[[], datetime]):
        self.share = share
        self.layout = share.layout
        self.campaign = share.campaign
        self.ledger = ledger
        self.key = key
        self.clock = clock
        self.layouts: dict[str, TemplateLayout] = {}
        self.batch: list[tuple[Arrival, Outcome, bytes]] = []
        self.batch_hashes: dict[tuple[str, str], str] = {}  # (unit, sha) accepted in this batch -> arrival key

    def layout_of(self, campaign: Campaign, unit: Unit) -> TemplateLayout:
        """The issued layout of a unit's template, computed once per pass."""
        if unit.code not in self.layouts:
            self.layouts[unit.code] = layout_template(campaign, unit)
        return self.layouts[unit.code]

    def history(self, unit_code: str) -> History:
        """The unit's accepted past figures, in period order."""
        return History(values=self.ledger.unit_history(unit_code))

    def judge(self, arrival: Arrival, data: bytes, sha: str, received: datetime) -> Outcome:
        """The outcome of one new arrival (not yet recorded)."""
        name = arrival.path.name
        base = dict(
            arrival_key=make_arrival_key(arrival.folder_unit, name, sha, arrival.size, arrival.mtime_ns),
            sha256=sha,
            received_at=received,
            size=arrival.size,
            original_name=name,
            folder_unit=arrival.folder_unit,
            campaign_code=None,
        )
        report = inspect_bytes(data, name)
        if not report.ok:
            return Outcome(outcome=REFUSED, findings=(report.finding,), **base)
        try:
            got = read_return_bytes(data, name)
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
            self.campaign,
            arrival.folder_unit,
            figures,
            self.key,
            received,
            self.history(arrival.folder_unit),
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
        earlier = self.ledger.find_accepted_by_hash(sha, verdict.unit_code)
        if earlier is not None or (verdict.unit_code, sha) in self.batch_hashes:
            base.update(period_code=None, period_start=None, period_end=None)
            return Outcome(outcome=DUPLICATE, duplicate_of=earlier.id if earlier else None, **base)
        self.batch_hashes[(verdict.unit_code, sha)] = base["arrival_key"]
        return Outcome(
            outcome=ACCEPTED,
            findings=verdict.findings,
            timeliness=verdict.timeliness,
            figures=dict(verdict.values),
            **base,
        )

    def archive(self, arrival: Arrival, outcome: Outcome, data: bytes) -> Path:
        """Keep the original byte for byte: Lưu trữ/<Đã nhận|Trả lại>/<unit>/<date>/<time>_<hash>_<name>."""
        root = self.layout.accepted_archive if outcome.outcome == ACCEPTED else self.layout.refused_archive
        moment = outcome.received_at
        folder = root / arrival.folder_unit / moment.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{moment:%H%M%S}_{outcome.sha256[:12]}_{safe_file_component(arrival.path.name)}"
        if not target.exists():
            tmp = target.with_name(f".tmp_{target.name}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # the original must be on disk before the ledger says it is kept
            os.replace(tmp, target)
        return target


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


def _folder_target(arrival: Arrival, layout: ShareLayout) -> Path:
    """Where a folder dropped in an inbox is kept: named by its own time, so a resumed pass finds the same place."""
    seen = datetime.fromtimestamp(arrival.mtime_ns / 1e9).strftime("%Y%m%d-%H%M%S")
    return layout.refused_archive / arrival.folder_unit / f"thu_muc_{seen}_{safe_file_component(arrival.path.name)}"


def _folder_outcome(arrival: Arrival, received: datetime, layout: ShareLayout) -> Outcome:
    name = arrival.path.name
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


def answer(share: Share, ledger: Ledger, record: FileRecord) -> Path:
    """Write the receipt (and for a refused template, the marked-up copy) of a recorded file; return the receipt."""
    folders = share.layout.unit(record.folder_unit)
    stem = receipt_stem(record)
    marked = None
    if record.outcome == REFUSED and record.archive_path and Path(record.archive_path).is_file():
        cells = [f for f in record.findings if f.cell and f.sheet]
        if cells:
            try:
                marked = write_annotated_copy(
                    Path(record.archive_path).read_bytes(), list(record.findings), folders.receipts, stem
                )
            except Exception:
                marked = None
    figures = ledger.figures_of(record.id) if record.outcome == ACCEPTED else {}
    earlier = ledger.find_file(record.duplicate_of) if record.duplicate_of else None
    text = render_receipt(share.campaign, record, figures, annotated_name(stem) if marked else None, earlier)
    return write_receipt(folders.receipts, stem, text)


def _remove(path: Path) -> None:
    try:
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
) -> IngestSummary:
    """Process every complete file waiting in the share, then return what was done."""
    layout = share.layout
    summary = IngestSummary()
    with FileLock(str(layout.lock), timeout=lock_timeout), open_ledger(layout.ledger) as ledger:
        arrivals = find_arrivals(layout, share.campaign)
        wall = time.time_ns()
        ready = [a for a in arrivals if is_settled(a, settle, wall)]
        summary.waiting = len(arrivals) - len(ready)
        work = _Pass(share, ledger, key, clock)
        done = 0
        for chunk in _chunks(ready, batch_size):
            _run_batch(work, chunk, summary)
            done += len(chunk)
            if progress:
                progress(done, len(ready))
    return summary


def _chunks(items: list[Arrival], size: int) -> Iterator[list[Arrival]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _run_batch(work: _Pass, chunk: list[Arrival], summary: IngestSummary) -> None:
    """Judge and archive a chunk, commit its outcomes in one transaction, then answer and clear the inboxes."""
    pending: list[tuple[Arrival, Outcome]] = []
    finished: list[tuple[Arrival, FileRecord]] = []
    work.batch_hashes.clear()
    for arrival in chunk:
        received = work.clock()
        if arrival.is_dir:
            outcome = _folder_outcome(arrival, received, work.layout)
            existing = work.ledger.find_arrival(outcome.arrival_key)
            if existing:
                finished.append((arrival, existing))
                summary.resumed += 1
            else:
                pending.append((arrival, outcome))
            continue
        data = _read_stable(arrival)
        if data is None:
            summary.waiting += 1
            continue
        sha = hashlib.sha256(data).hexdigest()
        existing = work.ledger.find_arrival(
            make_arrival_key(arrival.folder_unit, arrival.path.name, sha, arrival.size, arrival.mtime_ns)
        )
        if existing:  # recorded by an interrupted pass: answer and clear, record nothing again
            finished.append((arrival, existing))
            summary.resumed += 1
            continue
        outcome = work.judge(arrival, data, sha, received)
        archived = work.archive(arrival, outcome, data)
        pending.append((arrival, _with_archive(outcome, archived)))
    ids = work.ledger.record_outcomes([o for _a, o in pending])
    for (arrival, _outcome), file_id in zip(pending, ids, strict=True):
        record = work.ledger.find_file(file_id)  # the ledger may have turned an acceptance into a duplicate
        finished.append((arrival, record))
        setattr(summary, record.outcome, getattr(summary, record.outcome) + 1)
    for arrival, record in finished:
        if arrival.is_dir:  # kept whole in the archive, moved only now that its outcome is committed
            target = Path(record.archive_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if arrival.path.exists() and not target.exists():
                shutil.move(str(arrival.path), str(target))
        summary.receipts.append(answer(work.share, work.ledger, record))
        if not arrival.is_dir:
            _remove(arrival.path)


def _with_archive(outcome: Outcome, archived: Path) -> Outcome:
    from dataclasses import replace

    return replace(outcome, archive_path=str(archived))
