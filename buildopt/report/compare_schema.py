"""report.json of `buildopt compare` (schema buildopt.compare/v1) as typed dataclasses: the one definition
of that document.

- The writer: `compare_report.render_json` dumps every document through `CompareReport`, so report.json
  can't hold a field this module doesn't define.
- The readers: `compare --baseline report.json` (compare.py), the PR gate's own reports and the
  commenting workflow's untrusted artifacts (buildopt/gate) all call `CompareReport.from_json`, which
  rejects unknown, missing and mistyped fields with a one-line BadInput.

Fields annotated `| Absent` are left out of some documents (no image profile after a failed build, no
scan with --no-scan) or were added during v1; every other field is always there. docs/compare.md lists
the same fields (tests/unit/test_compare_schema.py keeps the two in step).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal

from ..diff import ImageSide
from ..errors import BadInput, ExitCode
from ..inspect.model import LayerInfo
from . import typed_json
from .typed_json import ABSENT, Absent, OneOf, Pattern

SCHEMA = "buildopt.compare/v1"

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
FindingSeverity = Literal["info", "low", "medium", "high", "critical"]
VariantName = Literal["original", "optimized"]
ExitCodeValue = Annotated[int, OneOf(tuple(int(code) for code in ExitCode), "a documented exit code")]
RuleId = Annotated[str, Pattern(r"[A-Za-z0-9_.-]{1,40}")]
Version = Annotated[str, Pattern(r"[0-9A-Za-z.+-]{1,40}")]
ConfigValue = str | list[str] | None


# --- verdict, findings, changes -------------------------------------------------------------------------
@dataclass
class BudgetFailure:
    variant: VariantName
    key: str
    actual: str
    limit: str
    reason: str


@dataclass
class Verdict:
    passed: bool
    exit_code: ExitCodeValue
    failures: list[BudgetFailure]


@dataclass
class Finding:
    rule: RuleId
    slug: str
    severity: FindingSeverity
    line: int | None
    message: str
    fix: str | None
    estimated_bytes: int | None


ChangeStatus = Literal["applied", "advised", "dropped"]


@dataclass
class Change:
    rules: list[str]
    description: str
    expected_savings_bytes: int | None
    # Added in v1: the change's key (`optimize --skip KEY`), whether it was applied, only advised (optimize
    # couldn't show it safe) or dropped by the fallback, and why.
    key: str | Absent = ABSENT
    status: ChangeStatus | Absent = ABSENT
    reason: str | Absent | None = ABSENT

    ORDER = ("key", "status", "rules", "description", "reason", "expected_savings_bytes")


# --- the build-verified fallback (added in v1) ------------------------------------------------------------
@dataclass
class FallbackFailure:
    kind: str
    summary: str
    evidence: str


@dataclass
class DroppedChange:
    key: str
    description: str
    rules: list[str]
    reason: str
    evidence: str
    level: str
    tested_with: list[str]


@dataclass
class FallbackTrial:
    number: int
    applied: list[str]
    mode: str
    passed: bool
    failure: FallbackFailure | None
    seconds: float


@dataclass
class Fallback:
    enabled: bool
    ran: bool
    attempts: int
    dropped: list[DroppedChange]
    applied: list[str]
    first_failure: FallbackFailure | None
    exhausted: bool
    seconds: float
    trials: list[FallbackTrial]


# --- one variant ----------------------------------------------------------------------------------------
@dataclass
class Vulnerability:
    id: str
    package: str
    installed: str
    fixed: str | None
    severity: Severity
    target: str | Absent = ABSENT


@dataclass
class Vulnerabilities:
    counts: dict[str, int]
    critical_ids: list[str]
    items: list[Vulnerability]
    method: str | None


@dataclass
class SecretItem:
    rule: str
    category: str
    severity: str
    title: str
    path: str
    line: int


@dataclass
class Misconfiguration:
    id: str
    title: str
    severity: str
    message: str
    target: str
    resolution: str


@dataclass
class SmokeCheck:
    kind: str
    name: str
    ok: bool
    detail: str | Absent = ABSENT


@dataclass
class Smoke:
    passed: bool
    uid: int | None
    checks: list[SmokeCheck]


@dataclass
class Penalty:
    reason: str
    points: int


@dataclass
class Score:
    score: int
    penalties: list[Penalty] | Absent = ABSENT
    not_measured: list[str] | Absent = ABSENT


@dataclass
class BudgetCheck:
    key: str
    ok: bool
    actual: str | Absent = ABSENT
    limit: str | Absent = ABSENT
    reason: str | Absent = ABSENT


@dataclass
class Budget:
    passed: bool
    checks: list[BudgetCheck]


@dataclass
class VariantReport:
    built: bool
    tag: str | None
    image_id: str | None
    build_time_s: float | None
    build_log: str | None
    build_error: str | None
    build_log_tail: list[str]
    size: int
    layers: int
    vulnerabilities: Vulnerabilities | None  # null when not scanned; `scan_error` says why
    smoke: Smoke | None
    score: Score | None
    budget: Budget | None
    # From the image profile: absent when the variant didn't build.
    visible_size: int | Absent = ABSENT
    wasted_bytes: int | Absent = ABSENT
    compressed_size: int | Absent | None = ABSENT
    user: str | Absent = ABSENT
    runs_as_root: bool | Absent | None = ABSENT
    healthcheck: list[str] | Absent | None = ABSENT
    groups: dict[str, int] | Absent = ABSENT
    models_bytes: int | Absent = ABSENT
    cuda_bytes: int | Absent = ABSENT
    torch: str | Absent | None = ABSENT
    inspect_reader: str | Absent = ABSENT  # added in v1: "overlay2", "overlay2 (helper container)", "archive"
    # From the scan: `scan_error` only without one, the others only with one.
    scan_error: str | Absent | None = ABSENT
    secrets: int | Absent = ABSENT
    secret_items: list[SecretItem] | Absent = ABSENT
    misconfigurations: list[Misconfiguration] | Absent = ABSENT
    scanners: list[str] | Absent = ABSENT
    java_skipped: bool | Absent = ABSENT

    # The order report.json has always written the fields in (build, profile, scan, checks).
    ORDER = ("built", "tag", "image_id", "build_time_s", "build_log", "build_error", "build_log_tail", "size",
             "visible_size", "wasted_bytes", "compressed_size", "layers", "user", "runs_as_root", "healthcheck",
             "groups", "models_bytes", "cuda_bytes", "torch", "inspect_reader", "vulnerabilities", "scan_error",
             "secrets", "secret_items", "misconfigurations", "scanners", "java_skipped", "smoke", "score", "budget")


@dataclass
class Variants:
    original: VariantReport
    optimized: VariantReport


# --- comparison -----------------------------------------------------------------------------------------
@dataclass
class VulnerabilityDelta:
    fixed: list[Vulnerability]
    new: list[Vulnerability]


@dataclass
class Delta:
    size_bytes: int
    size_percent: float | None
    layers: int
    score: int | None
    vulnerabilities: VulnerabilityDelta | Absent | None = ABSENT


@dataclass
class Attribution:
    group: str
    label: str
    original: int
    optimized: int
    delta: int


# The image diff (`buildopt diff --format json`, schema buildopt.diff/v1; docs/inspect.md). Its sides and
# layers are the diff and inspect stages' own dataclasses.
@dataclass
class DiffLayers:
    count_a: int
    count_b: int
    delta: int
    shared: int
    only_a: list[LayerInfo]
    only_b: list[LayerInfo]


@dataclass
class DiffGroup:
    group: str
    label: str
    size_a: int
    size_b: int
    delta: int


@dataclass
class DiffDir:
    path: str
    size_a: int
    size_b: int
    delta: int


@dataclass
class PackageChange:
    manager: str
    name: str
    change: str
    version_a: str | None
    version_b: str | None
    size_a: int
    size_b: int
    delta: int


@dataclass
class DiffPackages:
    added: list[PackageChange]
    removed: list[PackageChange]
    changed: list[PackageChange]


@dataclass
class FileMove:
    change: str
    path_a: str | None
    path_b: str | None
    size_a: int
    size_b: int
    detail: str
    delta: int


@dataclass
class DiffCuda:
    torch_a: str | None
    torch_b: str | None
    packages: list[PackageChange]
    libraries: list[FileMove]


@dataclass
class ConfigChange:
    field: str
    a: ConfigValue
    b: ConfigValue
    note: str


@dataclass
class ImageDiff:
    schema: Literal["buildopt.diff/v1"]
    a: ImageSide
    b: ImageSide
    total_size_delta: int
    total_size_delta_pct: float | None
    visible_size_delta: int
    wasted_bytes_delta: int
    compressed_size_delta: int | None
    layers: DiffLayers
    groups: list[DiffGroup]
    dirs_gained: list[DiffDir]
    dirs_lost: list[DiffDir]
    packages: DiffPackages
    models: list[FileMove]
    cuda: DiffCuda
    config_changes: list[ConfigChange]
    notes: list[str]


@dataclass
class Timings:
    total_s: float
    builds_s: dict[str, float]
    overhead_s: float
    stages_s: dict[str, dict[str, float]] | Absent = ABSENT
    fallback_s: float | Absent = ABSENT


# --- the document ---------------------------------------------------------------------------------------
@dataclass
class CompareReport:
    schema: Literal["buildopt.compare/v1"]
    buildopt_version: Version
    dockerfile: str
    optimized_dockerfile: str
    optimized_generated: bool
    baseline: str | None
    verdict: Verdict
    variants: Variants
    delta: Delta | None
    attribution: list[Attribution]
    diff: ImageDiff | None
    findings: list[Finding]
    changes: list[Change]
    smoke_imports: list[str]
    timings: Timings
    fallback: Fallback | Absent = ABSENT  # added in v1

    ORDER = ("schema", "buildopt_version", "dockerfile", "optimized_dockerfile", "optimized_generated", "baseline",
             "verdict", "variants", "delta", "attribution", "diff", "findings", "changes", "fallback",
             "smoke_imports", "timings")

    @classmethod
    def from_dict(cls, document: object, where: str = "report.json") -> CompareReport:
        """Strict: BadInput on an unknown, missing or mistyped field (or another schema)."""
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            found = document.get("schema") if isinstance(document, dict) else type(document).__name__
            raise BadInput(f"{where}: schema {str(found)[:60]!r} is not {SCHEMA}")
        return typed_json.load(cls, document, where)

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "report.json") -> CompareReport:
        try:
            document = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadInput(f"{where}: not valid UTF-8 JSON") from None
        return cls.from_dict(document, where)

    def to_dict(self) -> dict:
        """The document as plain JSON values, in report.json's field order."""
        return typed_json.dump(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

