"""The one clock of chitieu: Asia/Ho_Chi_Minh, settable with ``CHITIEU_NOW`` for demos and tests."""

from __future__ import annotations

import os
from datetime import datetime

from forms.schema import TZ


def now_local() -> datetime:
    """The current time in Asia/Ho_Chi_Minh, or ``CHITIEU_NOW`` (ISO 8601; local time if no offset) when set."""
    fixed = os.environ.get("CHITIEU_NOW")
    if fixed:
        moment = datetime.fromisoformat(fixed)
        return moment.astimezone(TZ) if moment.tzinfo else moment.replace(tzinfo=TZ)
    return datetime.now(TZ)
