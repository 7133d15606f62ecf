"""Untrusted file names made safe to show to people and to use as parts of new file names.

A returned file's name is typed by a clerk or made up by a tool: it can be long, Vietnamese
in NFD (macOS) or NFC, "Copy of …", "… (1).xlsx", hold "../", control characters or bidi
overrides ("bao_cao\u202excod.xlsx" shows as "bao_caoxslx.doc"). Neither function touches the
file system.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
NO_NAME = "(không tên)"
# Characters Windows refuses in a name, plus both path separators.
_WINDOWS_INVALID = frozenset('<>:"/\\|?*')
# Device names Windows reserves whatever the extension ("CON.xlsx" too); ¹²³ count as digits.
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])$", re.IGNORECASE)
_EXTENSION = re.compile(r"\.[0-9A-Za-z]{1,10}$")
# A component starting like an editor's temp file ("~$…", ".~lock…") would be skipped by the
# watcher and hidden by file managers: never produce one.
_UNSAFE_LEADING = ("~", ".")


def safe_display_name(name: str, limit: int = 120) -> str:
    """The name as a person may read it: NFC, no control or bidi characters, single spaces, at most `limit` characters (cut in the middle, extension kept)."""
    text = _clean_text(name, replacement="")
    text = " ".join(text.split())
    if not text:
        return NO_NAME
    if len(text) <= limit:
        return text
    stem, extension = _split_extension(text)
    room = max(limit - len(extension) - len(ELLIPSIS), 2)
    head = room - room // 3
    tail = room - head
    return stem[:head].rstrip() + ELLIPSIS + stem[len(stem) - tail :].lstrip() + extension


def safe_file_component(name: str, limit: int = 80) -> str:
    """One path component valid on Windows and POSIX: NFC, no separators or invalid/control characters, no trailing dots or spaces, not a reserved device name, at most `limit` characters with the extension kept."""
    text = _clean_text(name, replacement="_")
    text = "".join("_" if ch in _WINDOWS_INVALID else ch for ch in text)
    text = " ".join(text.split())
    stem, extension = _split_extension(text)
    room = max(limit - len(extension), 1)
    stem = stem[:room].rstrip(". ")
    if not stem or stem.startswith(_UNSAFE_LEADING) or _RESERVED.match(stem.split(".", 1)[0].rstrip(" ")):
        stem = ("_" + stem)[:room].rstrip(". ") or "_"
    return stem + extension


def _clean_text(name: str, replacement: str) -> str:
    """NFC text with control and format characters (Cc, Cf: bidi overrides, zero-widths) replaced.

    White space (tabs, line breaks) is left for the caller's collapsing into single spaces.
    """
    text = unicodedata.normalize("NFC", str(name))
    return "".join(replacement if unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace() else ch for ch in text)


def _split_extension(text: str) -> tuple[str, str]:
    """("bao cao", ".xlsx") from "bao cao.xlsx"; a name without a short extension keeps it all."""
    match = _EXTENSION.search(text)
    if not match or match.start() == 0:
        return text, ""
    return text[: match.start()], match.group()
