"""Logging for people: Vietnamese messages, English field names, a rotating UTF-8 file in the office folder.

A line reads ``2026-11-23 09:15:02.481 INFO event=pass accepted=3 refused=0 | Đã xử lý 3 tệp: …``:
the fields before ``|`` are for grep and scripts, the message after it is for the office. The
file (``Văn phòng/Nhật ký/chitieu.log``) lives on the share; when the share drops out, file
records are skipped (the console still has them) and the file is reopened once it is back.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER_NAME = "chitieu"
LOG_FILE = "chitieu.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 10
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LEVEL_ENV = "CHITIEU_LOG_LEVEL"


class FieldFormatter(logging.Formatter):
    """``time LEVEL event=… key=value … | message``: fields come from ``extra={"event": …, "fields": {…}}``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (a traceback, if any, follows on the next lines)."""
        fields = {"event": getattr(record, "event", None), **(getattr(record, "fields", None) or {})}
        head = " ".join(f"{k}={_field_value(v)}" for k, v in fields.items() if v is not None)
        line = f"{self.formatTime(record, TIME_FORMAT)}.{int(record.msecs):03d} {record.levelname}"
        line += f" {head} | {record.getMessage()}" if head else f" {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _field_value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if any(c.isspace() for c in text) else text


class ShareFileHandler(RotatingFileHandler):
    """A rotating UTF-8 log file on the share that survives the share dropping out and coming back."""

    def __init__(self, path: Path):
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True)

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record, reopening the file if it was moved or replaced; skip it while the folder is gone."""
        if not os.path.isdir(os.path.dirname(self.baseFilename)):
            self.close_stream()
            return
        self.reopen_if_moved()
        super().emit(record)

    def doRollover(self) -> None:
        """Rotate; when Windows refuses (someone holds chitieu.log open), keep writing and rotate later."""
        try:
            super().doRollover()
        except OSError:
            if self.stream is None:
                self.stream = self._open()

    def reopen_if_moved(self) -> None:
        """Close the open file when the path now names another file (or none), as WatchedFileHandler does."""
        if self.stream is None:
            return
        try:
            on_disk = os.stat(self.baseFilename)
            opened = os.fstat(self.stream.fileno())
        except OSError:
            self.close_stream()
            return
        if (on_disk.st_dev, on_disk.st_ino) != (opened.st_dev, opened.st_ino):
            self.close_stream()

    def close_stream(self) -> None:
        """Drop the open file quietly; the next record reopens it."""
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass

    def handleError(self, record: logging.LogRecord) -> None:
        """A failed write to the share (it dropped out) is not worth a traceback: reopen on the next record."""
        self.close_stream()


def setup_logging(log_dir: Path | None = None, *, level: int | None = None, console: bool = True) -> logging.Logger:
    """The ``chitieu`` logger with a console handler and, when ``log_dir`` is given, the rotating file there.

    The level is ``level``, else ``CHITIEU_LOG_LEVEL`` (``DEBUG``, ``INFO``…), else INFO.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level if level is not None else env_level())
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = FieldFormatter()
    if console:
        stream = sys.stderr
        if hasattr(stream, "reconfigure") and (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="backslashreplace")  # a cp125x console must not crash on Vietnamese
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    if log_dir is not None:
        attach_log_file(logger, log_dir)
    return logger


def env_level() -> int:
    """The level named by ``CHITIEU_LOG_LEVEL``, INFO when unset or unknown."""
    level = logging.getLevelName(os.environ.get(LEVEL_ENV, "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def attach_log_file(logger: logging.Logger, log_dir: Path) -> Path:
    """Add the rotating log file in ``log_dir`` (created if missing) to ``logger``; return its path."""
    path = Path(log_dir) / LOG_FILE
    try:
        path.parent.mkdir(exist_ok=True)  # never its parents: a missing share must not be created here
    except OSError:
        pass  # the share is not there yet: ShareFileHandler writes once it is
    handler = ShareFileHandler(path)
    handler.setFormatter(FieldFormatter())
    logger.addHandler(handler)
    return path


def log_event(logger: logging.Logger, level: int, event: str, message: str, **fields: object) -> None:
    """Log a Vietnamese ``message`` under an English ``event`` name with English ``fields``."""
    logger.log(level, message, extra={"event": event, "fields": fields})
