"""LibreOffice as a clerk, from the venv: runs lo_fill.py under Debian's system python (which has uno)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
LO_FILL = Path(__file__).resolve().with_name("lo_fill.py")
INSTALL_HINT = "apt-get install --no-install-recommends libreoffice-calc-nogui python3-uno"


class LibreOfficeError(RuntimeError):
    """lo_fill.py failed: the message carries its stderr and report."""


@dataclass(frozen=True)
class FillJob:
    """One workbook to open in LibreOffice, fill by defined names and save (``dst`` .pdf exports a PDF)."""

    src: Path
    dst: Path
    values: Mapping[str, Any] = field(default_factory=dict)
    formulas: Mapping[str, str] = field(default_factory=dict)
    recalc: bool = False

    def to_json(self) -> dict[str, Any]:
        """The job as lo_fill.py reads it."""
        return {
            "in": str(Path(self.src).resolve()),
            "out": str(Path(self.dst).resolve()),
            "values": dict(self.values),
            "formulas": dict(self.formulas),
            "recalc": self.recalc,
        }


def find_soffice() -> str | None:
    """The soffice launcher, or None."""
    return shutil.which("soffice") or next(
        (p for p in ("/usr/lib/libreoffice/program/soffice",) if Path(p).is_file()), None
    )


@lru_cache(maxsize=1)
def missing_libreoffice() -> str:
    """Why LibreOffice cannot be driven here, or "" when it can."""
    if not SYSTEM_PYTHON.is_file():
        return f"{SYSTEM_PYTHON} not found (Debian's python3 with python3-uno): {INSTALL_HINT}"
    if find_soffice() is None:
        return f"soffice not found: {INSTALL_HINT}"
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-I", "-c", "import uno"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot import uno ({probe.stderr.strip().splitlines()[-1:]}): {INSTALL_HINT}"
    return ""


def in_ci() -> bool:
    """True under CI (``.ci/run`` exports CI=true): a missing tool there is a missing install step."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_libreoffice(*tools: str) -> None:
    """Return when LibreOffice (and ``tools``) can run; else skip on a developer's machine and fail under CI."""
    reason = missing_libreoffice()
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        reason = "; ".join(filter(None, [reason, f"{', '.join(missing)} not found (poppler-utils)"]))
    if not reason:
        return
    if in_ci():
        pytest.fail(f"CI=true but a required tool cannot run: {reason}. .ci/run installs it.", pytrace=False)
    pytest.skip(f"not installed on this machine ({reason}); `bash .ci/run` installs it")


def libreoffice_available() -> bool:
    """True when soffice and Debian's python3 with the uno module are installed."""
    return missing_libreoffice() == ""


def _clean_env() -> dict[str, str]:
    """The environment without the venv's Python settings, so /usr/bin/python3 finds its own uno."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _kill_leftovers(profile: Path) -> None:
    """Kill any process still running on ``profile`` (a LibreOffice lo_fill.py could not stop)."""
    marker = profile.resolve().as_uri()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if f"-env:UserInstallation={marker}" in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def run_lo_fill(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run lo_fill.py on ``request``; return its report or raise LibreOfficeError with its stderr."""
    reason = missing_libreoffice()
    if reason:
        raise LibreOfficeError(f"LibreOffice is not available: {reason}")
    work = Path(tempfile.mkdtemp(prefix="chitieu-lo-"))
    profile = work / "profile"
    request_file = work / "request.json"
    request_file.write_text(
        json.dumps({**request, "timeout": timeout, "profile": str(profile)}, ensure_ascii=False), encoding="utf-8"
    )
    proc = subprocess.Popen(
        [str(SYSTEM_PYTHON), "-I", str(LO_FILL), str(request_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout + 30)  # lo_fill stops itself at ``timeout``
    except subprocess.TimeoutExpired:
        proc.terminate()  # lo_fill kills LibreOffice on SIGTERM
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        stderr = f"lo_fill.py did not finish within {timeout + 30:.0f} s\n{stderr}"
    finally:
        _kill_leftovers(profile)
        shutil.rmtree(work, ignore_errors=True)
    try:
        report = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    except ValueError:
        report = {}
    if proc.returncode != 0 or not report.get("ok"):
        raise LibreOfficeError(
            f"LibreOffice could not fill the workbook(s) (lo_fill.py exit {proc.returncode}):\n"
            f"{stderr.strip()}\nreport: {json.dumps(report, ensure_ascii=False)}"
        )
    return report


def fill_many_with_libreoffice(jobs: Iterable[FillJob], timeout: float = 300) -> list[dict[str, Any]]:
    """Fill many workbooks with one start of LibreOffice; return one report per job (cells as LibreOffice saw them)."""
    payload = [job.to_json() for job in jobs]
    if not payload:
        return []
    return run_lo_fill({"jobs": payload}, timeout)["jobs"]


def fill_with_libreoffice(
    src: Path | str,
    dst: Path | str,
    values: Mapping[str, Any],
    formulas: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> dict[str, Any]:
    """Open ``src`` in LibreOffice, type ``values`` (and ``formulas``) into its named cells, save as ``dst``."""
    job = FillJob(Path(src), Path(dst), dict(values), dict(formulas or {}))
    return fill_many_with_libreoffice([job], timeout)[0]


def convert_with_libreoffice(src: Path | str, dst: Path | str, timeout: float = 120) -> Path:
    """Save ``src`` as ``dst`` through LibreOffice unchanged (a ``.pdf`` ``dst`` exports a PDF, e.g. for docs)."""
    fill_many_with_libreoffice([FillJob(Path(src), Path(dst))], timeout)
    return Path(dst)
