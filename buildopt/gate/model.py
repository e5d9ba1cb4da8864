"""gate.json (schema buildopt.gate/v1): what the gate ran, written by `run` and read back by `artifacts`.

The pull request's identity (number, head sha) is checked by `artifacts` with its own rules before
anything else; each entry is a typed `GateEntry`, read strictly (report/typed_json.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ..report.typed_json import ABSENT, Absent, Pattern

GATE_SCHEMA = "buildopt.gate/v1"
GATE_FILE = "gate.json"
COMMENT_FILE = "comment.md"
SARIF_FILE = "buildopt.sarif"

EntryName = Annotated[str, Pattern(r"[A-Za-z0-9._-]{1,100}", "is not a plain name")]


@dataclass
class GateEntry:
    """One Dockerfile the gate compared."""

    name: EntryName  # the Dockerfile's directory in the output dir and its section in the comment
    dockerfile: str
    exit_code: int
    report: str | None = None  # relative to the output dir
    context: str | Absent = ABSENT
    error: str | Absent | None = None
    baseline: str | Absent | None = None  # what the comparison used as its baseline
    baseline_note: str | Absent | None = None  # why there is none, when there is none
    baseline_label: str | Absent | None = None  # e.g. "origin/main", for the comment's "against" line
    baseline_size: int | Absent | None = None  # the baseline's image size, when the baseline is a report
    budget_source: str | Absent | None = None  # e.g. "app/buildopt.toml on origin/main"; None: no budget
    budget_note: str | Absent | None = None  # why the budget isn't the base branch's, when it isn't
    scan_note: str | Absent | None = None  # e.g. why the images weren't scanned (scan-failure: warn)

    ORDER = ("name", "dockerfile", "context", "exit_code", "report", "error", "baseline", "baseline_note",
             "baseline_label", "baseline_size", "budget_source", "budget_note", "scan_note")
