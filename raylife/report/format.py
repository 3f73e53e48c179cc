"""Human formatting of measured values (the stored numbers stay raw, in their units)."""

from __future__ import annotations

import math
from typing import Any


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def seconds(value: float | None) -> str:
    if missing(value):
        return "–"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def milliseconds(value: float | None) -> str:
    return "–" if missing(value) else seconds(value / 1000)


SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(value: float | None) -> str:
    """Bytes in binary units with their IEC names (1 KiB = 1,024 B): the one size convention of every table, the
    report and ``choose``; stored values stay in bytes (and memory metrics in MiB, as their unit says)."""
    if missing(value):
        return "–"
    for unit in SIZE_UNITS:
        if abs(value) < 1024 or unit == SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "–"


def mebibytes(value: float | None) -> str:
    """A memory figure stored in MiB, in the same convention as ``size``."""
    return "–" if missing(value) else size(value * 2**20)


def in_unit(value: float | None, unit: str) -> str:
    """A measured value for a table: sizes by the size convention, anything else to four significant digits."""
    if missing(value):
        return "–"
    if unit == "bytes":
        return size(value)
    if unit == "MiB":
        return mebibytes(value)
    return f"{value:.4g}"


def ratio(value: float | None) -> str:
    return "–" if missing(value) else f"{value:.3f}"


def number(value: Any) -> str:
    if missing(value):
        return "–"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)
