"""Writing a file so that readers see either the old content or the new, never half of it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename; fsync first if ``durable``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot name with a .tmp suffix: the share's scanners skip it, and a crash leaves it recognisable.
    temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path
