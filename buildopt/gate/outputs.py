"""What the gate hands back to the workflow: `GITHUB_OUTPUT` values, the job summary, files written whole."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from ..files import write_text

_OUTPUT_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def write_github_output(values: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> bool:
    """Append key=value lines to `$GITHUB_OUTPUT` (multi-line values with a random delimiter); False
    outside Actions."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return False
    lines = []
    for key, value in values.items():
        if not _OUTPUT_KEY.match(key):
            raise ValueError(f"bad output name {key!r}")
        value = str(value)
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            lines.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{key}={value}\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))
    return True


def append_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Append to the job summary (`$GITHUB_STEP_SUMMARY`); False outside Actions."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown)
    return True


def write_file(path: Path, text: str) -> None:
    """Write whole or not at all: a reader never sees half a file (files.write_text: never into a FIFO)."""
    write_text(path, text, force=True)
