"""End of life of CPython branches (https://devguide.python.org/versions/), and reading a version off an image.

The audits flagged Python 3.10 ("EOL en octobre 2026"). A branch past its end of life gets no more
security fixes; one within a year of it is worth planning for.
"""

from __future__ import annotations

import re
from datetime import date

# branch -> end of life (the devguide's dates; 3.10 and later are the scheduled October dates).
END_OF_LIFE: dict[tuple[int, int], date] = {
    (2, 7): date(2020, 1, 1),
    (3, 5): date(2020, 9, 30),
    (3, 6): date(2021, 12, 23),
    (3, 7): date(2023, 6, 27),
    (3, 8): date(2024, 10, 7),
    (3, 9): date(2025, 10, 31),
    (3, 10): date(2026, 10, 31),
    (3, 11): date(2027, 10, 31),
    (3, 12): date(2028, 10, 31),
    (3, 13): date(2029, 10, 31),
    (3, 14): date(2030, 10, 31),
}
_VERSION = re.compile(r"\b(?:python|PYTHON_VERSION=)([23])\.(\d{1,2})\b")


def end_of_life(version: tuple[int, int]) -> date | None:
    return END_OF_LIFE.get(version)


def is_eol(version: tuple[int, int], today: date | None = None) -> bool | None:
    """True past end of life, False before it, None for a branch this table doesn't know."""
    eol = END_OF_LIFE.get(version)
    if eol is None:
        return None if version > max(END_OF_LIFE) else True  # newer than this table, or long dead
    return (today or date.today()) > eol


def parse_version(text: str) -> tuple[int, int] | None:
    """"3.10.14" / "3.10" -> (3, 10)."""
    match = re.match(r"^\s*(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def versions_in_text(text: str) -> set[tuple[int, int]]:
    """Python branches named in a build step or env value: `python3.10`, `/usr/local/lib/python3.10`."""
    return {(int(major), int(minor)) for major, minor in _VERSION.findall(text or "")}


def label(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
