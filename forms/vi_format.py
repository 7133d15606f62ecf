"""Numbers, rates and times the way Vietnamese readers write them (50.802; 12,5%; 09:00 18/07/2023)."""

from __future__ import annotations

from datetime import datetime

from forms.schema import TZ


def format_number(value: float | int, decimals: int = 0) -> str:
    """A number with dots between thousands and a decimal comma: 50802 -> ``50.802``, 1.5 -> ``1,5``."""
    text = f"{value:,.{decimals}f}" if decimals else f"{round(value):,d}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def format_rate(value: float, decimals: int = 1) -> str:
    """A fraction as a Vietnamese percentage: 0.125 -> ``12,5%``."""
    return format_number(value * 100, decimals) + "%"


def format_moment(value: datetime) -> str:
    """A moment as ``HH:MM:SS ngày dd/mm/yyyy`` in Asia/Ho_Chi_Minh."""
    return value.astimezone(TZ).strftime("%H:%M:%S ngày %d/%m/%Y")


def format_figure(value: object) -> str:
    """Any recorded figure for people: counts with thousands dots, yes/no as Có/Không, text as is."""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, int | float):
        return format_number(value) if float(value).is_integer() else format_number(value, 2)
    return "" if value is None else str(value)
