"""Any value DuckDB returns, as strict JSON: ISO 8601 for times and durations, null for NaN and infinity."""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any


def iso_duration(delta: dt.timedelta) -> str:
    """``P1DT2H3M4.5S``; negative durations get a leading minus (ISO 8601-2 extension, as DuckDB prints them)."""
    sign = "-" if delta < dt.timedelta(0) else ""
    delta = abs(delta)
    days, seconds, micros = delta.days, delta.seconds, delta.microseconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or micros or not (days or hours or minutes):
        time += f"{secs}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    return f"{sign}P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)
