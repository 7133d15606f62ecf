"""The master's VBA wiring: xlwings' standalone VBA project, its xlwings.conf sheet and the button's macro.

The xlwings package ships ``quickstart_standalone.xlsm``; its ``xl/vbaProject.bin`` holds:

- ``xlwings``: the standalone xlwings module (``RunPython`` and its helpers, the same version as
  the installed Python package, so the two always match);
- ``Module1``: one macro, ``SampleCall``, which runs
  ``RunPython "import <workbook name>; <workbook name>.main()"``;
- ``Dictionary`` (a class RunPython needs on a Mac) and the document modules ``ThisWorkbook``,
  ``Sheet1``, ``Sheet2``.

XlsxWriter can only embed an existing vbaProject.bin, and adding a ``TongHop`` macro would mean
rewriting the project's compound file (MS-CFB) and its compressed module source (MS-OVBA): a
project Excel refuses is a master with no button, and no Excel runs here to check one. So the
project is embedded byte for byte and the «Tổng hợp» button calls ``SampleCall``, xlwings' own
convention: it imports the Python module named after the workbook, which is why the master
has an ASCII name (``tonghop.xlsm``) and a ``tonghop.py`` beside it whose ``main()`` runs
``HANDLER_COMMAND``. The workbook's folder is on the import path by default
(``ADD_WORKBOOK_TO_PYTHONPATH``), and ``xlwings.conf`` gives the interpreter and PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

VBA_MEMBER = "xl/vbaProject.bin"
STANDALONE_WORKBOOK = "quickstart_standalone.xlsm"
BUTTON_MACRO = "SampleCall"  # Module1's macro: RunPython "import <book>; <book>.main()"
HANDLER_COMMAND = "import addin.handlers; addin.handlers.tong_hop()"
CONF_SHEET = "xlwings.conf"  # RunPython reads settings from a sheet of this exact name, from A1 down
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class VbaProjectError(RuntimeError):
    """The installed xlwings package has no standalone VBA project to embed."""


def find_standalone_workbook() -> Path:
    """The ``quickstart_standalone.xlsm`` shipped in the installed xlwings package (found without importing it)."""
    spec = importlib.util.find_spec("xlwings")  # importing xlwings takes most of a second; its folder is enough
    if spec is None or not spec.origin:
        raise VbaProjectError("xlwings is not installed: pip install xlwings")
    package = Path(spec.origin).resolve().parent
    candidates = [package / STANDALONE_WORKBOOK, package / "js" / STANDALONE_WORKBOOK]
    candidates += sorted(package.rglob(STANDALONE_WORKBOOK))
    for path in candidates:
        if path.is_file():
            return path
    raise VbaProjectError(f"xlwings in {package} has no {STANDALONE_WORKBOOK}")


@lru_cache(maxsize=1)
def read_vba_project() -> bytes:
    """The bytes of xlwings' standalone ``vbaProject.bin`` (read once per process)."""
    path = find_standalone_workbook()
    try:
        with zipfile.ZipFile(path) as book:
            return book.read(VBA_MEMBER)
    except (KeyError, zipfile.BadZipFile) as err:
        raise VbaProjectError(f"{path}: no readable {VBA_MEMBER} ({err})") from None


def conf_rows() -> list[tuple[str, str]]:
    """The ``xlwings.conf`` settings of this machine: its Python interpreter and the project's folder."""
    interpreter = sys.executable
    return [
        ("Interpreter_Win", interpreter),
        ("Interpreter_Mac", interpreter),
        ("PYTHONPATH", str(PROJECT_ROOT)),
    ]


def render_button_module(workbook_stem: str) -> str:
    """The Python module ``SampleCall`` imports (``<workbook_stem>.py`` beside the workbook)."""
    return (
        f'"""Gọi từ nút «Tổng hợp» của sổ {workbook_stem}.xlsm (macro {BUTTON_MACRO} của xlwings).\n\n'
        "Tệp do chitieu tạo lại mỗi lần cập nhật sổ tổng hợp; không sửa tay.\n"
        '"""\n\n\n'
        "def main() -> None:\n"
        '    """Chạy phần tổng hợp của chitieu."""\n'
        f"    {HANDLER_COMMAND.replace('; ', chr(10) + '    ')}\n"
    )
