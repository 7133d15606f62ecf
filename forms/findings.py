"""Findings: problems found in a definition or a returned workbook, as data.

A finding is a frozen record with a stable short code, where it was found (sheet, cell as
Excel shows it, row, column) and a Vietnamese message. Tests assert on (code, cell), people
read the message. The same record feeds error listings, the ledger and receipts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_COLUMN = re.compile(r"^[A-Z]{1,3}$")
ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: a stable code, a Vietnamese message and where it is."""

    code: str
    message: str
    severity: str = ERROR
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def cell(self) -> str | None:
        """The cell as Excel shows it (e.g. ``E14``), when both column and row are known."""
        if self.column and self.row and _COLUMN.match(self.column):
            return f"{self.column}{self.row}"
        return None

    @property
    def is_error(self) -> bool:
        """True when the finding refuses the input (not a mere warning)."""
        return self.severity == ERROR

    def where(self) -> str:
        """Vietnamese description of the place, e.g. ``trang «Đơn vị», dòng 5, cột C (ô C5)``."""
        parts = []
        if self.sheet:
            parts.append(f"trang «{self.sheet}»")
        if self.row:
            parts.append(f"dòng {self.row}")
        if self.column:
            parts.append(f"cột {self.column}")
        text = ", ".join(parts)
        return f"{text} (ô {self.cell})" if self.cell else text

    def describe(self) -> str:
        """One Vietnamese line: place, message and hint."""
        head = self.where()
        text = f"{head}: {self.message}" if head else self.message
        if self.hint:
            text += f" Cách sửa: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (English keys) for the ledger and reports."""
        data = asdict(self)
        data["cell"] = self.cell
        if not data["extra"]:
            data.pop("extra")
        return data


def has_errors(findings: list[Finding]) -> bool:
    """True when at least one finding is an error."""
    return any(f.is_error for f in findings)


class DefinitionError(Exception):
    """Raised when a campaign definition is refused; carries every finding."""

    def __init__(self, source: str, findings: list[Finding]):
        self.source = source
        self.findings = findings
        super().__init__(f"{source}: {len(findings)} finding(s)")

    def describe(self) -> str:
        """Vietnamese listing of every mistake, one per line."""
        lines = [f"Định nghĩa chiến dịch «{self.source}» có {len(self.findings)} lỗi, chưa ghi gì cả:"]
        lines += [f"  {i}. {f.describe()}" for i, f in enumerate(self.findings, 1)]
        return "\n".join(lines)
