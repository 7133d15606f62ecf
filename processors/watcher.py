"""The watcher: ``chitieu watch SHARE`` ingests each file as soon as it is complete, until it is stopped.

One loop on the main thread runs ``ingest_share`` passes (the ledger's SQLite connection stays on
the thread that opened it). File events from watchdog are only hints: the observer's thread sets
an Event that wakes the loop, and one pass then handles everything waiting, however many events
a burst produced. A full pass also runs on a timer (every ``rescan`` seconds with native events,
every ``interval`` seconds in polling mode): the timer, not the events, is the source of truth.

A file is taken once its size and mtime have held still for ``settle`` seconds (ingest_share
decides); when a pass leaves files waiting, the loop comes back exactly when the newest of them
will have settled. When the share disappears the observer is stopped and the loop retries with
backoff; when it is back, the observer is re-created and a full pass runs. SIGINT, SIGTERM (and
SIGBREAK on Windows) let the current batch finish, stop the observer and end with exit code 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import Timeout
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from forms.findings import DefinitionError
from forms.signing import KEY_BYTES, default_key_path
from processors.intake import IngestSummary, find_arrivals, ingest_share
from processors.logs import attach_log_file, log_event, setup_logging
from shared_folder_layout.layout import RECEIPTS_DIR, TEMPLATE_DIR, ShareLayout, is_temp_name
from shared_folder_layout.share import Share, ShareError, open_share

SETTLE_SECONDS = 1.0  # size and mtime still this long: the file is complete
POLL_INTERVAL = 2.0  # polling mode: a full pass this often
NATIVE_RESCAN = 30.0  # native mode: a full pass this often, whatever the events said
HEALTH_TICK = 1.0  # the share's presence is checked at least this often
COALESCE = 0.05  # after an event, wait this long so that a burst wakes a single pass
BATCH_SIZE = 25  # small batches: receipts come out soon and a stop waits for little
LOCK_TIMEOUT = 2.0  # another ingester holds the share: try again shortly rather than block
BUSY_RETRY = 1.0
MIN_RECHECK = 0.05
MAX_BACKOFF = 30.0
OBSERVER_JOIN = 5.0
IGNORED_EVENTS = frozenset({"opened", "closed_no_write", "deleted"})  # never mean a new file

logger = logging.getLogger("chitieu.watch")


class WatchError(Exception):
    """The watcher cannot start as asked; the message is Vietnamese and says what to do."""


class StopRequested(Exception):
    """Raised between two batches of a pass when a stop was asked for."""


@dataclass(frozen=True)
class WatchSettings:
    """How the watcher wakes up and when a file counts as complete."""

    polling: bool = False
    interval: float = POLL_INTERVAL
    settle: float = SETTLE_SECONDS
    rescan: float = NATIVE_RESCAN
    batch_size: int = BATCH_SIZE

    def describe_mode(self) -> str:
        """The mode in Vietnamese, for the start line."""
        if self.polling:
            return f"quét định kỳ mỗi {self.interval:g} giây"
        return f"theo sự kiện của hệ thống tệp, quét lại toàn bộ mỗi {self.rescan:g} giây"


def is_hint(event: FileSystemEvent) -> bool:
    """True for an event that may mean a new or finished file in a drop folder."""
    if event.event_type in IGNORED_EVENTS or (event.is_directory and event.event_type == "modified"):
        return False  # a folder "modified" comes with an event of its own for the file that changed in it
    path = os.fsdecode(event.dest_path or event.src_path)
    if is_temp_name(os.path.basename(path)):
        return False  # Excel's and LibreOffice's own files; the rename to the real name is the hint
    parts = Path(path).parts
    return RECEIPTS_DIR not in parts and TEMPLATE_DIR not in parts  # our receipts, init's templates


class _Hints(FileSystemEventHandler):
    """Runs on watchdog's thread: only sets the Event that wakes the loop."""

    def __init__(self, wake: threading.Event):
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Wake the loop for a relevant event."""
        if is_hint(event):
            self.wake.set()


def start_observer(folder: Path, wake: threading.Event) -> BaseObserver:
    """A started watchdog observer on ``folder`` (recursive) whose events set ``wake``."""
    observer = Observer()
    observer.schedule(_Hints(wake), str(folder), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def stop_observer(observer: BaseObserver | None) -> None:
    """Stop and join an observer, whatever state its folder is in."""
    if observer is None:
        return
    try:
        observer.stop()
        observer.join(OBSERVER_JOIN)
    except Exception:  # an emitter whose folder vanished may fail on the way out: it is gone either way
        pass


def observer_alive(observer: BaseObserver | None) -> bool:
    """True while the observer and every one of its emitters run."""
    return observer is not None and observer.is_alive() and all(e.is_alive() for e in observer.emitters)


def share_identity(layout: ShareLayout) -> tuple[int, int] | None:
    """(device, inode) of the units folder when the share is there (manifest and units folder), else None."""
    try:
        if not layout.manifest.is_file():
            return None
        st = os.stat(layout.units_root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it cannot be seen."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def settle_delay(share: Share, settle: float, since: float) -> float:
    """Seconds until the next file that was still being written at ``since`` (wall clock) will have held still."""
    try:
        arrivals = find_arrivals(share.layout, share.campaign)
    except OSError:
        return settle  # the share is dropping out: the loop notices on its next turn
    now = time.time()
    delays = []
    for arrival in arrivals:
        ready_at = arrival.mtime_ns / 1e9 + settle
        if ready_at > since:  # not settled when the pass looked (it may be by now: then look again at once)
            delays.append(max(MIN_RECHECK, ready_at - now + 0.01))
    # None: the waiting files were settled by their times yet unreadable (changed while read, locked): soon.
    return min(delays, default=settle)


def read_office_key(path: Path | None) -> bytes:
    """The office key from ``path`` (default: ``CHITIEU_KEY_FILE`` or ~/.chitieu/secret.key); never created here."""
    path = Path(path).expanduser() if path is not None else default_key_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise WatchError(
            f"Không thấy tệp khóa bí mật «{path}». Trình theo dõi không tự tạo khóa mới (khóa mới sẽ khiến mọi "
            "mẫu biểu đã phát bị từ chối): chỉ đúng tệp khóa bằng --key hoặc biến môi trường CHITIEU_KEY_FILE."
        ) from None
    except OSError as err:
        raise WatchError(f"Không đọc được tệp khóa bí mật «{path}»: {err.strerror or err}.") from None
    if len(key) < KEY_BYTES:
        raise WatchError(f"Tệp khóa bí mật «{path}» bị hỏng (ngắn hơn {KEY_BYTES} byte). Hãy khôi phục từ bản sao lưu.")
    return key


def install_stop_signals(request_stop: Callable[[], None]) -> Callable[[], None]:
    """Route SIGINT, SIGTERM and (Windows) SIGBREAK to ``request_stop``; return a function restoring the old handlers.

    A second signal while stopping raises KeyboardInterrupt: the impatient get out at once (intake is crash-safe).
    """
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        request_stop()

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, on_signal)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


class Watcher:
    """The loop of ``chitieu watch``: passes on wake-ups and timers, the observer, outages and stopping."""

    def __init__(self, root: Path, key: bytes, settings: WatchSettings):
        self.layout = ShareLayout(Path(root).resolve())
        self.key = key
        self.settings = settings
        self.share: Share | None = None
        self.manifest_stamp: tuple[int, int] | None = None
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.observer: BaseObserver | None = None
        self.watched: tuple[int, int] | None = None
        self.observer_retry_at = 0.0
        self.present: bool | None = None
        self.backoff = 1.0
        self.hold_until = 0.0  # after a failed pass: no pass before this (monotonic), whatever the events say
        self.last_resumed = 0

    def request_stop(self) -> None:
        """Ask the loop to finish the current batch and end (safe from a signal handler or another thread)."""
        self.stop_event.set()
        self.wake.set()

    def run(self) -> int:
        """Watch until stopped; return the exit code (0)."""
        log_event(
            logger,
            logging.INFO,
            "started",
            f"Bắt đầu theo dõi thư mục dùng chung «{self.layout.root}» ({self.settings.describe_mode()}; "
            f"nhận tệp khi đã đứng yên {self.settings.settle:g} giây).",
            share=self.layout.root,
            mode="polling" if self.settings.polling else "native",
            pid=os.getpid(),
        )
        next_pass = 0.0  # at once: what arrived while the watcher was down
        while not self.stop_event.is_set():
            identity = share_identity(self.layout)
            if identity is None:
                self.on_missing()
                next_pass = 0.0
                continue
            if self.present is not True:
                self.on_present()
                next_pass = 0.0
            if not self.settings.polling:
                self.ensure_observer(identity)
            if time.monotonic() >= next_pass:
                next_pass = time.monotonic() + self.run_pass()
            if self.wait_until(next_pass):
                next_pass = self.hold_until
        stop_observer(self.observer)
        self.observer = None
        log_event(logger, logging.INFO, "stopped", "Đã dừng theo dõi thư mục dùng chung.")
        return 0

    def wait_until(self, deadline: float) -> bool:
        """Sleep until ``deadline`` (monotonic), a hint or a stop, at most HEALTH_TICK; True when a hint came."""
        timeout = min(max(0.0, deadline - time.monotonic()), HEALTH_TICK)
        if not self.wake.wait(timeout):
            return False
        self.stop_event.wait(COALESCE)  # let the rest of a burst arrive: one pass for all of it
        self.wake.clear()
        return not self.stop_event.is_set()

    def full_pass_every(self) -> float:
        """Seconds between full passes: the polling interval, or the rescan period while events arrive."""
        if self.settings.polling or not observer_alive(self.observer):
            return self.settings.interval
        return self.settings.rescan

    def on_missing(self) -> None:
        """The share (or its units folder) is gone: stop the observer, say so once, wait with backoff."""
        stop_observer(self.observer)
        self.observer, self.watched = None, None
        if self.present is not False:
            log_event(
                logger,
                logging.WARNING,
                "share_missing",
                f"Không truy cập được thư mục dùng chung «{self.layout.root}» (thiếu thư mục «{self.layout.units_root.name}» "
                f"hoặc tệp «{self.layout.manifest.name}»). Sẽ thử lại, tăng dần tới {MAX_BACKOFF:g} giây một lần.",
                share=self.layout.root,
            )
            self.present = False
            self.backoff = 1.0
        self.stop_event.wait(self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def on_present(self) -> None:
        """The share is there (at start or back after an outage)."""
        if self.present is False:
            log_event(
                logger,
                logging.INFO,
                "share_back",
                "Thư mục dùng chung đã truy cập lại được; quét lại toàn bộ các thư mục «Nộp báo cáo».",
                share=self.layout.root,
            )
        self.present = True
        self.backoff = 1.0
        try:
            self.layout.logs.mkdir(exist_ok=True)
        except OSError:
            pass

    def ensure_observer(self, identity: tuple[int, int]) -> None:
        """(Re)start the observer when there is none, it died, or the units folder is another one than it watched."""
        if observer_alive(self.observer) and identity == self.watched:
            return
        if self.observer is not None:
            stop_observer(self.observer)
            self.observer = None
            log_event(logger, logging.INFO, "observer_restart", "Khởi động lại việc theo dõi sự kiện thư mục.")
        if time.monotonic() < self.observer_retry_at:
            return
        try:
            self.observer = start_observer(self.layout.units_root, self.wake)
            self.watched = identity
            log_event(
                logger,
                logging.INFO,
                "observer_started",
                f"Đang theo dõi sự kiện trong thư mục «{self.layout.units_root.name}».",
            )
        except Exception as err:  # inotify limits, a folder gone at the wrong moment…: fall back to rescans
            self.observer_retry_at = time.monotonic() + self.settings.rescan
            reason = getattr(err, "strerror", None) or err
            log_event(
                logger,
                logging.WARNING,
                "observer_failed",
                f"Không theo dõi được sự kiện thư mục ({reason}); tạm quét lại mỗi "
                f"{self.settings.interval:g} giây, thử lại sau {self.settings.rescan:g} giây.",
                error=type(err).__name__,
            )

    def current_share(self) -> Share:
        """The opened share, reopened when its manifest changed (``chitieu init`` ran again)."""
        stamp = file_stamp(self.layout.manifest)
        if self.share is None or stamp != self.manifest_stamp:
            reloading = self.share is not None
            self.share = open_share(self.layout.root)
            self.manifest_stamp = stamp
            if reloading:
                log_event(
                    logger,
                    logging.INFO,
                    "share_reloaded",
                    "Thư mục dùng chung vừa được cập nhật (chitieu init): đã nạp lại định nghĩa chiến dịch.",
                    template_version=self.share.manifest.get("template_version"),
                )
        return self.share

    def run_pass(self) -> float:
        """One ingest pass; return the seconds until the next pass is due."""
        done = [0, 0]

        def between_batches(finished: int, total: int) -> None:
            done[:] = [finished, total]
            if self.stop_event.is_set() and finished < total:
                raise StopRequested

        started = time.time()
        try:
            share = self.current_share()
            summary = ingest_share(
                share,
                self.key,
                settle=self.settings.settle,
                batch_size=self.settings.batch_size,
                progress=between_batches,
                lock_timeout=LOCK_TIMEOUT,
            )
        except StopRequested:
            log_event(
                logger,
                logging.INFO,
                "pass_stopped",
                f"Dừng theo yêu cầu sau khi xong lô đang xử lý: đã xử lý {done[0]}/{done[1]} tệp; "
                "các tệp còn lại giữ nguyên trong thư mục «Nộp báo cáo», lần chạy sau sẽ xử lý.",
                done=done[0],
                ready=done[1],
            )
            return 0.0
        except Timeout:
            log_event(logger, logging.DEBUG, "busy", "Một tiến trình khác đang xử lý thư mục dùng chung; chờ lượt.")
            return BUSY_RETRY
        except (ShareError, DefinitionError) as err:
            message = err.describe() if isinstance(err, DefinitionError) else str(err)
            log_event(logger, logging.ERROR, "share_unusable", message)
            return self.next_backoff()
        except (OSError, sqlite3.Error) as err:
            log_event(
                logger,
                logging.WARNING,
                "pass_failed",
                f"Lỗi khi đọc, ghi thư mục dùng chung hoặc sổ cái ({err}); thử lại sau {self.backoff:g} giây.",
                error=type(err).__name__,
            )
            return self.next_backoff()
        except Exception as err:
            logger.exception(
                f"Lỗi không lường trước trong lần xử lý; thử lại sau {self.backoff:g} giây.",
                extra={"event": "pass_crashed", "fields": {"error": type(err).__name__}},
            )
            return self.next_backoff()
        self.backoff, self.hold_until = 1.0, 0.0
        self.report(summary)
        delay = self.full_pass_every()
        if summary.waiting:
            delay = min(delay, settle_delay(share, self.settings.settle, started))
        log_event(
            logger,
            logging.DEBUG,
            "pass_done",
            f"Lần quét xong sau {1000 * (time.time() - started):.0f} ms; lần sau sau {delay:.2f} giây.",
            waiting=summary.waiting,
            done=summary.total,
        )
        return delay

    def next_backoff(self) -> float:
        """The current backoff (no pass before it is over, even on events), doubled for next time."""
        delay, self.backoff = self.backoff, min(self.backoff * 2, MAX_BACKOFF)
        self.hold_until = time.monotonic() + delay
        return delay

    def report(self, summary: IngestSummary) -> None:
        """Log a pass that did something: the summary line, then one line per receipt."""
        news = summary.total > 0 or (summary.resumed and summary.resumed != self.last_resumed)
        self.last_resumed = summary.resumed
        if not news:
            return
        log_event(
            logger,
            logging.INFO,
            "pass",
            summary.describe(),
            accepted=summary.accepted,
            refused=summary.refused,
            duplicate=summary.duplicate,
            resumed=summary.resumed,
            waiting=summary.waiting,
        )
        for receipt in summary.receipts:
            unit = receipt.parent.parent.name
            log_event(
                logger,
                logging.INFO,
                "receipt",
                f"Đơn vị {unit}: đã trả phiếu phản hồi «{receipt.name}».",
                unit=unit,
            )


def watch_share(root: Path, key_file: Path | None, settings: WatchSettings) -> int:
    """Check the key and the share, set up logging and signals, then watch until stopped; return the exit code."""
    key = read_office_key(key_file)
    layout = ShareLayout(Path(root).resolve())
    if layout.root.exists():
        try:
            open_share(layout.root)
        except ShareError as err:
            raise WatchError(str(err)) from None
    top = setup_logging()
    log_path = attach_log_file(top, layout.logs)
    watcher = Watcher(layout.root, key, settings)
    restore = install_stop_signals(watcher.request_stop)
    try:
        log_event(logger, logging.INFO, "log_file", f"Nhật ký ghi vào «{log_path}».", path=log_path)
        return watcher.run()
    finally:
        restore()
        stop_observer(watcher.observer)
