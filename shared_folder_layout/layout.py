"""The one definition of the shared folder: every folder and file name the system uses.

    SHARE/
      README.txt                      instructions for clerks (Vietnamese)
      Đơn vị/<MÃ ĐƠN VỊ>/
        Mẫu biểu/<MÃ>.xlsx            the unit's locked template (read only for the unit)
        Nộp báo cáo/                  where the unit drops its filled template (write only)
        Phiếu phản hồi/               receipts and annotated copies (read only)
      Văn phòng/                      office only
        ke_hoach.xlsx|yaml            the campaign definition the share was made from
        chia_se.json                  manifest: campaign code, template version
        so_cai.sqlite                 the ledger
        Lưu trữ/Đã nhận, Lưu trữ/Trả lại   every original, byte for byte
        Tổng hợp/tonghop.xlsm         the master workbook (ASCII name: xlwings imports it)
        Nhật ký/                      rotating logs
        Phân quyền/                   Samba snippet and Windows icacls script

Unit folders are named by unit code: codes are ASCII and stable, names may change.
The office's secret key never lives here (see forms.signing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

UNITS_DIR = "Đơn vị"
TEMPLATE_DIR = "Mẫu biểu"
INBOX_DIR = "Nộp báo cáo"
RECEIPTS_DIR = "Phiếu phản hồi"
OFFICE_DIR = "Văn phòng"
ARCHIVE_DIR = "Lưu trữ"
ACCEPTED_DIR = "Đã nhận"
REFUSED_DIR = "Trả lại"
MASTER_DIR = "Tổng hợp"
LOGS_DIR = "Nhật ký"
ACL_DIR = "Phân quyền"
CLERK_README = "README.txt"
MANIFEST = "chia_se.json"
LEDGER = "so_cai.sqlite"
MASTER = "tonghop.xlsm"
LOCK = ".chitieu.lock"
DEFINITION_STEM = "ke_hoach"

# Files that editors create beside a document while it is open or being saved: never ingested.
TEMP_PREFIXES = ("~$", ".~lock.", "~WRL", "._")
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", "#")
HIDDEN_NAMES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})
# Excel saves into an 8-hex-digit file with no extension, then renames it over the original.
EXCEL_SAVE_TEMP = re.compile(r"^[0-9A-F]{8}$")


@dataclass(frozen=True)
class UnitFolders:
    """The three folders of one unit and its template's path."""

    code: str
    root: Path
    template_dir: Path
    inbox: Path
    receipts: Path
    template: Path


@dataclass(frozen=True)
class ShareLayout:
    """Paths of a share rooted at ``root``; computing a path never touches the disk."""

    root: Path

    @property
    def units_root(self) -> Path:
        """Folder that holds one folder per unit."""
        return self.root / UNITS_DIR

    @property
    def office(self) -> Path:
        """Office-only folder."""
        return self.root / OFFICE_DIR

    @property
    def ledger(self) -> Path:
        """The SQLite ledger."""
        return self.office / LEDGER

    @property
    def manifest(self) -> Path:
        """The share's manifest (campaign code, template version, definition file)."""
        return self.office / MANIFEST

    @property
    def accepted_archive(self) -> Path:
        """Archive of accepted originals."""
        return self.office / ARCHIVE_DIR / ACCEPTED_DIR

    @property
    def refused_archive(self) -> Path:
        """Archive of refused originals (duplicates included)."""
        return self.office / ARCHIVE_DIR / REFUSED_DIR

    @property
    def master_dir(self) -> Path:
        """Folder of the master workbook."""
        return self.office / MASTER_DIR

    @property
    def master(self) -> Path:
        """The master workbook (ASCII file name: xlwings imports a module named after it)."""
        return self.master_dir / MASTER

    @property
    def logs(self) -> Path:
        """Folder of the rotating logs."""
        return self.office / LOGS_DIR

    @property
    def acl_dir(self) -> Path:
        """Folder of the permission helpers."""
        return self.office / ACL_DIR

    @property
    def lock(self) -> Path:
        """Lock file that lets one ingester at a time work the share."""
        return self.office / LOCK

    @property
    def clerk_readme(self) -> Path:
        """Instructions for clerks at the share's root."""
        return self.root / CLERK_README

    def definition(self, suffix: str) -> Path:
        """The copy of the campaign definition kept in the office folder."""
        return self.office / f"{DEFINITION_STEM}{suffix}"

    def unit(self, code: str) -> UnitFolders:
        """The folders of unit ``code``."""
        root = self.units_root / code
        template_dir = root / TEMPLATE_DIR
        return UnitFolders(
            code=code,
            root=root,
            template_dir=template_dir,
            inbox=root / INBOX_DIR,
            receipts=root / RECEIPTS_DIR,
            template=template_dir / f"{code}.xlsx",
        )

    def office_dirs(self) -> list[Path]:
        """Every office folder, in creation order."""
        return [self.office, self.accepted_archive, self.refused_archive, self.master_dir, self.logs, self.acl_dir]


def is_temp_name(name: str) -> bool:
    """True for lock and temp files of Excel, LibreOffice and others (``~$…``, ``.~lock.…#``, ``~WRL….tmp``)."""
    lower = name.lower()
    return (
        name.startswith(TEMP_PREFIXES)
        or lower.endswith(TEMP_SUFFIXES)
        or lower in HIDDEN_NAMES
        or bool(EXCEL_SAVE_TEMP.match(name))
    )
