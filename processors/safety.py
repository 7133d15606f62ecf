"""Is a returned file a plain, safe .xlsx? Decided from its bytes before any parser sees it.

Every returned file is hostile until proven otherwise. This reads it once, hashes it, and
answers with one finding when it is not a plain .xlsx: a folder, an empty or oversized file,
another format (.xls, .ods, CSV, PDF, an image…), a password-protected workbook, a broken or
bomb-like zip, XML with DOCTYPE/ENTITY declarations, macros, external links, or a worksheet
of absurd size or reach. Parsers run only on what passes.

The zip's central directory gives the bomb check; the parts readers parse are inflated
straight from the bytes, capped at their declared size (processors.zip_members) and checked
(processors.ooxml_checks). A normal 15 KB template costs a fraction of a millisecond.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from forms.findings import Finding
from processors import cfb
from processors.file_names import safe_display_name, safe_file_component
from processors.ooxml_checks import SheetLimits, check_workbook_package
from processors.safety_messages import Refusal, format_size, render
from processors.zip_members import check_bomb, index_members

__all__ = [
    "MAX_BYTES",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "MAX_SHEET_BYTES",
    "MAX_SHEET_COLUMNS",
    "MAX_SHEET_ROWS",
    "MAX_UNCOMPRESSED",
    "ContainerReport",
    "inspect_bytes",
    "inspect_container",
    "safe_display_name",
    "safe_file_component",
]

MAX_BYTES = 20 * 2**20
MAX_UNCOMPRESSED = 100 * 2**20
MAX_RATIO = 100
MAX_MEMBERS = 500
# A template has about 40 rows and a dozen columns.
MAX_SHEET_BYTES = 20 * 2**20
MAX_SHEET_ROWS = 100_000
MAX_SHEET_COLUMNS = 200

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_ENCRYPTED_STREAMS = frozenset({"encryptedpackage", "encryptioninfo"})
_IMAGE_MAGICS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_ARCHIVE_MAGICS = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")
# Text has no control bytes besides tab, line breaks, form feed and a DOS end-of-file mark.
_CONTROL_BYTE = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ContainerReport:
    """The verdict on one file: ok, or the one finding that refuses it; its real kind, hash and size."""

    ok: bool
    finding: Finding | None
    kind: str
    sha256: str
    size: int
    # With ``inspect_bytes(keep_parts=True)`` and an accepted workbook: the parts read whole
    # (workbook, relationships, shared strings, worksheets), inflated, CRC- and DTD-checked,
    # by normalised name (processors.zip_members.normalise_name).
    parts: Mapping[str, bytes] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_bytes: int
    max_uncompressed: int
    max_ratio: float
    max_members: int
    sheet: SheetLimits


def inspect_container(
    path: Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
    max_sheet_bytes: int = MAX_SHEET_BYTES,
    max_sheet_rows: int = MAX_SHEET_ROWS,
    max_sheet_columns: int = MAX_SHEET_COLUMNS,
) -> ContainerReport:
    """Read `path` once, keeping at most max_bytes in memory, and judge it; OSError only when it cannot be opened or read."""
    sheet = SheetLimits(max_sheet_bytes, max_sheet_rows, max_sheet_columns)
    limits = _Limits(max_bytes, max_uncompressed, max_ratio, max_members, sheet)
    path = Path(path)
    # O_NOFOLLOW refuses a link and O_NONBLOCK keeps a FIFO from blocking the intake forever;
    # fstat on the open descriptor then judges what was really opened (no lstat/open race).
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        # Windows cannot open a folder; POSIX refuses a link with O_NOFOLLOW.
        odd = _irregular_kind(os.lstat(path).st_mode)
        if odd:
            return _report_refusal(Refusal("not_a_file", odd), path.name, "", 0)
        raise
    try:
        status = os.fstat(descriptor)
        odd = _irregular_kind(status.st_mode)
    except OSError:
        os.close(descriptor)
        raise
    if odd:
        os.close(descriptor)
        return _report_refusal(Refusal("not_a_file", odd), path.name, "", 0)
    with os.fdopen(descriptor, "rb") as handle:
        # Ask for what the file holds (one byte more shows it growing): asking for max_bytes
        # would make Python allocate 20 MB for every 15 KB template.
        wanted = min(max_bytes, status.st_size) + 1
        data = handle.read(wanted)
        if len(data) == wanted <= max_bytes:
            data += handle.read(max_bytes + 1 - wanted)
        if len(data) <= max_bytes:
            return _inspect(data, path.name, limits)
        # Too large: hash the rest in chunks without keeping it, so the ledger still gets the
        # real content hash of what it refused.
        digest = hashlib.sha256(data)
        size = len(data)
        while chunk := handle.read(2**20):
            digest.update(chunk)
            size += len(chunk)
    return _report_refusal(_too_large(data, size, limits), path.name, digest.hexdigest(), size)


def inspect_bytes(
    data: bytes,
    name: str,
    *,
    max_bytes: int = MAX_BYTES,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
    max_sheet_bytes: int = MAX_SHEET_BYTES,
    max_sheet_rows: int = MAX_SHEET_ROWS,
    max_sheet_columns: int = MAX_SHEET_COLUMNS,
    keep_parts: bool = False,
) -> ContainerReport:
    """Judge a file's bytes, `name` being its untrusted file name; never raises, whatever the bytes.

    ``keep_parts``: an accepted workbook's report carries the parts read whole (``parts``).
    """
    sheet = SheetLimits(max_sheet_bytes, max_sheet_rows, max_sheet_columns)
    limits = _Limits(max_bytes, max_uncompressed, max_ratio, max_members, sheet)
    return _inspect(bytes(data), name, limits, {} if keep_parts else None)


def _inspect(data: bytes, name: str, limits: _Limits, keep: dict[str, bytes] | None = None) -> ContainerReport:
    """Hash, then judge; a refusal becomes the report's one finding."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        kind = _judge(data, name, limits, keep)
    except Refusal as refusal:
        return _report_refusal(refusal, name, digest, len(data))
    return ContainerReport(ok=True, finding=None, kind=kind, sha256=digest, size=len(data), parts=keep)


def _report_refusal(refusal: Refusal, name: str, digest: str, size: int) -> ContainerReport:
    """The report for a refusal, its finding rendered from the catalogue with the name made safe to show."""
    message, hint = render(
        refusal.code, safe_display_name(name), refusal.kind, sheet=refusal.sheet or "", **refusal.details
    )
    extra = {"kind": refusal.kind, **{k: v for k, v in refusal.details.items() if k != "why"}}
    finding = Finding(
        code=refusal.code, message=message, sheet=refusal.sheet, value=refusal.value, hint=hint, extra=extra
    )
    return ContainerReport(ok=False, finding=finding, kind=refusal.kind, sha256=digest, size=size)


def _irregular_kind(mode: int) -> str:
    """'' for a regular file, else why it is none: folder, link or special (FIFO, device, socket)."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "folder"
    return "link" if stat.S_ISLNK(mode) else "special"


def _judge(data: bytes, name: str, limits: _Limits, keep: dict[str, bytes] | None = None) -> str:
    """The kind of an acceptable file; raises Refusal otherwise."""
    if not data:
        raise Refusal("empty_file", "empty")
    if len(data) > limits.max_bytes:
        raise _too_large(data, len(data), limits)
    if data.startswith(_ZIP_MAGICS):
        members = index_members(data)
        check_bomb(members, limits.max_members, limits.max_uncompressed, limits.max_ratio)
        return check_workbook_package(data, members, name, limits.sheet, keep)
    if data.startswith(cfb.MAGIC):
        raise _judge_cfb(data)
    raise _judge_other(data)


def _too_large(data: bytes, size: int, limits: _Limits) -> Refusal:
    """The refusal of a file over max_bytes, with a cheap guess at its kind from its first bytes."""
    if data.startswith(_ZIP_MAGICS):
        kind = "zip"
    elif data.startswith(cfb.MAGIC):
        kind = _judge_cfb(data).kind
    else:
        kind = _judge_other(data[:8192]).kind
    return Refusal("too_large", kind, value=size, size=format_size(size), limit=format_size(limits.max_bytes))


def _judge_cfb(data: bytes) -> Refusal:
    """An OLE2 container: a password-protected OOXML file, Excel 97-2003, or another old Office file."""
    try:
        names = {n.lower() for n in cfb.list_stream_names(data)}
    except cfb.CfbError:
        # A directory we cannot walk: look for the names anywhere instead.
        wanted = ("EncryptedPackage", "EncryptionInfo", "Workbook", "WordDocument", "PowerPoint Document")
        names = {n.lower() for n in wanted if n.encode("utf-16-le") in data}
    if names & _ENCRYPTED_STREAMS:
        return Refusal("encrypted", "encrypted")
    if "worddocument" in names:
        return Refusal("wrong_type", "doc")
    if "powerpoint document" in names:
        return Refusal("wrong_type", "ppt")
    return Refusal("wrong_type_xls", "xls")


def _judge_other(data: bytes) -> Refusal:
    """Neither zip nor OLE2: PDF, text (CSV, HTML, XML), an image, another archive, or unknown."""
    head = data[:1024]
    # PDF readers accept junk before the header, so look a little further than byte 0.
    if b"%PDF-" in head:
        return Refusal("wrong_type_pdf", "pdf")
    if head.startswith(_IMAGE_MAGICS) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return Refusal("wrong_type", "image")
    if head.startswith(_ARCHIVE_MAGICS):
        return Refusal("wrong_type", "archive")
    text = _decode_text(data[:8192])
    if text is None:
        return Refusal("wrong_type", "unknown")
    start = text.lstrip().lower()[:2048]
    # Many government systems export "Excel" files that are really HTML or XML Spreadsheet 2003.
    if start.startswith("<"):
        return Refusal("wrong_type", "html" if ("<html" in start or "<table" in start) else "xml")
    return Refusal("wrong_type_csv", "csv")


def _decode_text(sample: bytes) -> str | None:
    """The sample as text when it looks like text (UTF-16 with a BOM, or no control bytes), else None."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return sample.decode("utf-16", errors="replace")
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    if _CONTROL_BYTE.search(sample):
        return None
    # Not UTF-8? Then an 8-bit code page such as Windows-1258: still text.
    return sample.decode("utf-8", errors="replace")
