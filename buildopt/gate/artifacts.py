"""Workflow (b) reads the gate's artifact, which PR code produced: untrusted data, checked before use.

Size caps, plain relative paths with no symlinks, a PR number made of digits, a 40-hex head sha that is
the triggering run's, and every gate entry and report.json read by the strict typed readers
(`GateEntry`, `CompareReport.from_json`): an unknown, missing or mistyped field rejects the artifact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import BadInput
from ..report import typed_json
from ..report.compare_schema import CompareReport
from .model import GATE_FILE, GATE_SCHEMA, GateEntry

# A real report.json is tens of KB; these leave room for big images with thousands of vulnerabilities
# while keeping a hostile artifact from exhausting the commenting job.
MAX_GATE_BYTES = 256 * 1024
MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_ARTIFACTS = 64
MAX_ENTRIES = 64

T = TypeVar("T")

_SHA = re.compile(r"^[0-9a-f]{40}$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")


class UntrustedArtifact(BadInput):
    """The downloaded artifact broke a rule: nothing from it is posted."""


@dataclass
class Artifact:
    """What survived validation: nothing else from the artifact is used."""

    pr_number: int | None  # None: a push to the default branch (SARIF only)
    head_sha: str
    entries: list[GateEntry]
    reports: dict[str, CompareReport]  # entry name -> its report


def find_artifact_dirs(root: Path) -> list[Path]:
    """`root` itself when it holds gate.json, else each subdirectory that does (download-artifact puts each
    matrix job's artifact in its own directory)."""
    root = Path(root)
    if not root.is_dir():
        raise UntrustedArtifact(f"{root}: artifact directory not found")
    if (root / GATE_FILE).exists():
        return [root]
    dirs = sorted(child for child in root.iterdir() if child.is_dir() and not child.is_symlink()
                  and (child / GATE_FILE).exists())
    if len(dirs) > MAX_ARTIFACTS:
        raise UntrustedArtifact(f"{root}: {len(dirs)} artifacts, more than the {MAX_ARTIFACTS} allowed")
    return dirs


def load_artifacts(dirs: list[Path], expected_head_sha: str | None = None) -> Artifact | None:
    """Validate every artifact dir and merge them; None when there is nothing to report."""
    if not dirs:
        return None
    budget = [MAX_TOTAL_BYTES]
    numbers, shas = set(), set()
    entries: list[GateEntry] = []
    reports: dict[str, CompareReport] = {}
    for directory in dirs:
        gate = _parse_json(read_capped(directory, GATE_FILE, MAX_GATE_BYTES, budget), GATE_FILE)
        number, sha, gate_entries = _validate_gate(gate)
        numbers.add(number)
        shas.add(sha)
        for entry in gate_entries:
            if any(seen.name == entry.name for seen in entries):
                raise UntrustedArtifact(f"entry name {entry.name!r} appears twice")
            if entry.report:
                raw = read_capped(directory, entry.report, MAX_REPORT_BYTES, budget)
                reports[entry.name] = _untrusted(CompareReport.from_json, raw, entry.report)
            entries.append(entry)
        if len(entries) > MAX_ENTRIES:
            raise UntrustedArtifact(f"more than {MAX_ENTRIES} Dockerfiles in the artifacts")
    if len(numbers) != 1 or len(shas) != 1:
        raise UntrustedArtifact("the artifacts disagree on the pull request number or head sha")
    head_sha = shas.pop()
    if expected_head_sha is not None and head_sha != expected_head_sha:
        raise UntrustedArtifact(f"the artifact's head sha {head_sha} is not the run's head sha {expected_head_sha}")
    return Artifact(pr_number=numbers.pop(), head_sha=head_sha, entries=entries, reports=reports)


def read_capped(directory: Path, relative: str, cap: int, budget: list[int]) -> bytes:
    """Read one file of the artifact: a plain relative path to a regular file (no symlink, no '..'),
    at most `cap` bytes and within what is left of the total budget."""
    if not isinstance(relative, str) or not relative or relative.startswith("/") or "\\" in relative \
            or any(part in ("", ".", "..") for part in relative.split("/")):
        raise UntrustedArtifact(f"{relative!r}: not a plain relative path inside the artifact")
    path = directory
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            raise UntrustedArtifact(f"{relative}: symbolic links are not accepted in the artifact")
    if not path.is_file():
        raise UntrustedArtifact(f"{relative}: missing from the artifact")
    size = path.stat().st_size
    if size > cap:
        raise UntrustedArtifact(f"{relative}: {size} bytes, over the {cap}-byte cap")
    if size > budget[0]:
        raise UntrustedArtifact(f"{relative}: the artifacts exceed {MAX_TOTAL_BYTES} bytes in total")
    budget[0] -= size
    with path.open("rb") as handle:
        data = handle.read(cap + 1)  # the file may have grown since stat
    if len(data) > cap:
        raise UntrustedArtifact(f"{relative}: over the {cap}-byte cap")
    return data


def _parse_json(data: bytes, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UntrustedArtifact(f"{what}: not valid UTF-8 JSON") from None


def _untrusted(read: Callable[..., T], *args: Any) -> T:
    """read(*args), whose BadInput (the typed readers' error) is an UntrustedArtifact here."""
    try:
        return read(*args)
    except UntrustedArtifact:
        raise
    except BadInput as err:
        raise UntrustedArtifact(str(err)) from None


def _validate_gate(gate) -> tuple[int | None, str, list[GateEntry]]:
    if not isinstance(gate, dict) or gate.get("schema") != GATE_SCHEMA:
        raise UntrustedArtifact(f"{GATE_FILE}: not a buildopt gate file (schema {GATE_SCHEMA})")
    pr = gate.get("pull_request")
    if pr is None and gate.get("event") == "push":  # the default branch's run: SARIF, no comment
        number, sha = None, gate.get("head_sha")
    elif not isinstance(pr, dict):
        raise UntrustedArtifact(f"{GATE_FILE}: no pull request (was the gate run on a pull_request event?)")
    else:
        raw_number, sha = pr.get("number"), pr.get("head_sha")
        digits = str(raw_number)
        if isinstance(raw_number, bool) or not _DIGITS.match(digits) or int(digits) < 1:
            raise UntrustedArtifact(f"{GATE_FILE}: pull request number {digits[:40]!r} is not a number")
        number = int(digits)
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise UntrustedArtifact(f"{GATE_FILE}: head sha {str(sha)[:60]!r} is not a 40-hex commit id")
    raw_entries = gate.get("entries")
    if not isinstance(raw_entries, list) or len(raw_entries) > MAX_ENTRIES:
        raise UntrustedArtifact(f"{GATE_FILE}: entries must be a list of at most {MAX_ENTRIES}")
    entries = []
    for index, raw in enumerate(raw_entries):
        entry = _untrusted(typed_json.load, GateEntry, raw, f"{GATE_FILE}: entries[{index}]")
        if entry.report is not None and entry.report != f"{entry.name}/report.json":
            raise UntrustedArtifact(f"{GATE_FILE}: entry {entry.name}: unexpected report path")
        entries.append(entry)
    return number, sha, entries
