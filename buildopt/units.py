"""Byte sizes: parse what users write in budgets ("500MB", "1.5 GiB", 1234) and print them back."""

from __future__ import annotations

import re

from .errors import BadInput

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: str | int | float) -> int:
    """Decimal units like `docker images` prints (MB = 10^6); binary ones with an `i` (MiB = 2^20)."""
    if isinstance(value, bool):
        raise BadInput(f"invalid size {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise BadInput(f"invalid size {value!r}: negative")
        return int(value)
    match = _SIZE.match(str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise BadInput(f"invalid size {value!r}: use bytes or a unit such as 500MB, 1.5GB, 800MiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(num_bytes: int | float, *, signed: bool = False) -> str:
    """Decimal units with three significant digits, as `docker images` shows sizes."""
    sign = ""
    if signed:
        sign = "+" if num_bytes > 0 else ("-" if num_bytes < 0 else "±")
    elif num_bytes < 0:
        sign = "-"
    size = abs(float(num_bytes))
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            text = f"{size:.0f}" if unit == "B" else (f"{size:.3g}" if size < 100 else f"{size:.0f}")
            return f"{sign}{text} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
