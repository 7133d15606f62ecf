"""xlwings' remote book JSON, both ways, for a workbook file: what a client sends, and its actions replayed.

xlwings' remote engine (``xw.Book(json=payload)``) is what RunRemotePython (VBA) and the Office
Scripts / Office.js clients talk to: the client sends the book as JSON (every sheet's values from
A1 to the end of its used range, the defined names) and applies the ``actions`` the server
returns (``book.json()``). ``book_payload`` builds that JSON from a saved workbook the way the VBA
client does, so the handler can be run here on a real master; ``apply_actions`` replays the
returned actions onto the workbook with openpyxl as Excel would apply them (a leading apostrophe
marks text, other strings that look like numbers, dates or formulas are converted), so the
result can be read back, saved and opened in LibreOffice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

CLIENT = "VBA"  # what RunRemotePython puts in "client"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2})?$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?%?$")
KNOWN_ACTIONS = frozenset(
    {"setValues", "rangeClearContents", "sheetClearContents", "setNumberFormat", "setAutofit", "activateSheet", "alert"}
)


class UnknownAction(ValueError):
    """An action this replay does not know: the handler asked Excel for something untested."""


def json_value(value: Any) -> Any:
    """A cell value as the VBA client's JSON carries it (empty as "", moments as ISO 8601 with Z)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00.000Z"
    if isinstance(value, time):
        return value.isoformat()
    return value


def sheet_values(sheet: Any) -> list[list[Any]]:
    """A sheet's values from A1 to the end of its used range (``[[]]`` when empty), as the client sends them."""
    if sheet.max_row == 1 and sheet.max_column == 1 and sheet["A1"].value is None:
        return [[]]
    return [[json_value(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def defined_names(book: Workbook) -> list[dict[str, Any]]:
    """The workbook-scoped names that point at one range, in the client's shape."""
    names = []
    for name, defined in book.defined_names.items():
        destinations = list(defined.destinations)
        if len(destinations) != 1 or destinations[0][0] not in book.sheetnames:
            continue
        sheet, ref = destinations[0]
        names.append(
            {
                "name": name,
                "sheet_index": book.sheetnames.index(sheet),
                "address": ref.replace("$", ""),
                "book_scope": True,
                "scope_sheet_name": None,
                "scope_sheet_index": None,
            }
        )
    return names


def book_payload(path: Path, *, version: str | None = None, active_sheet: int = 0) -> dict[str, Any]:
    """The JSON RunRemotePython sends for the workbook saved at ``path``."""
    if version is None:
        import xlwings

        version = xlwings.__version__
    book = openpyxl.load_workbook(path)
    return {
        "client": CLIENT,
        "version": version,
        "book": {"name": Path(path).name, "active_sheet_index": active_sheet, "selection": "A1"},
        "names": defined_names(book),
        "sheets": [
            {"name": sheet.title, "values": sheet_values(sheet), "pictures": [], "tables": []}
            for sheet in book.worksheets
        ],
    }


def excel_input(value: Any) -> Any:
    """What Excel stores when a value is assigned to a cell: ``'`` marks text, look-alikes become numbers or dates."""
    if not isinstance(value, str):
        return value
    if value.startswith("'"):
        return value[1:]
    if value == "":
        return None
    if _DATE.match(value):
        return datetime.fromisoformat(value)
    if _NUMBER.match(value.replace(",", "")):
        text = value.replace(",", "")
        number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        return int(number) if number.is_integer() and "." not in text else number
    if value.upper() in {"TRUE", "FALSE"}:
        return value.upper() == "TRUE"
    return value  # "=…" becomes a formula: openpyxl stores it as one, which a test can find


def _cells(sheet: Any, action: Mapping[str, Any]) -> Iterable[Any]:
    top, left = action["start_row"] + 1, action["start_column"] + 1
    for row in range(top, top + action["row_count"]):
        for col in range(left, left + action["column_count"]):
            yield sheet.cell(row, col)


def apply_actions(book: Workbook, actions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Replay ``book.json()["actions"]`` onto an openpyxl workbook; return the alerts' texts."""
    alerts = []
    for action in actions:
        func = action["func"]
        if func not in KNOWN_ACTIONS:
            raise UnknownAction(func)
        if func == "alert":
            alerts.append(str(action["args"][0]))
            continue
        sheet = book.worksheets[action["sheet_position"]]
        if func == "activateSheet":
            book.active = action["args"][0] - 1 if isinstance(action["args"][0], int) else action["sheet_position"]
        elif func == "sheetClearContents":
            for row in sheet.iter_rows():
                for cell in row:
                    cell.value = None
        elif func == "rangeClearContents":
            for cell in _cells(sheet, action):
                cell.value = None
        elif func == "setAutofit":  # Excel fits the rows to their text; a reader fits rows that have no set height
            if action["args"][0] != "rows":
                raise UnknownAction(f"{func} {action['args'][0]}")
            top = action["start_row"] + 1
            for row in range(top, top + action["row_count"]):
                sheet.row_dimensions[row].height = None
        elif func == "setNumberFormat":
            for cell in _cells(sheet, action):
                cell.number_format = action["args"][0]
        elif func == "setValues":
            top, left = action["start_row"] + 1, action["start_column"] + 1
            for r, row in enumerate(action["values"]):
                for c, value in enumerate(row):
                    cell = sheet.cell(top + r, left + c)
                    cell.value = excel_input(value)
                    if isinstance(value, str) and value.startswith("'"):
                        cell.data_type = "s"  # marked text stays text, "=1+1" included
    return alerts


def range_address(top: int, left: int, rows: int, cols: int) -> str:
    """An A1 range from 1-based top-left and size (for messages and tests)."""
    return f"{get_column_letter(left)}{top}:{get_column_letter(left + cols - 1)}{top + rows - 1}"
