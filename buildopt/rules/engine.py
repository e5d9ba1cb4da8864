"""Run every rule on a parsed Dockerfile and apply ignores and severity overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..config import BuildoptConfig
from ..dockerfile import Dockerfile, parse_file
from ..errors import BadInput
from ..severity import Severity
from .base import Finding, Rule
from .context import build_context
from .registry import RULE_IDS, SLUG_TO_ID, all_rules

SCHEMA = "buildopt.analyze/v1"
DEFAULT_FAIL_ON = "high"
TODAY_ENV = "BUILDOPT_TODAY"  # YYYY-MM-DD: pins "today" for eol-python (tests, reproducible reports)


@dataclass
class Suppressed:
    finding: Finding
    reason: str  # "inline" (# buildopt: ignore=), "file" (# buildopt: global ignore=), "config"


@dataclass
class AnalysisResult:
    file: str
    findings: list[Finding]
    suppressed: list[Suppressed] = field(default_factory=list)
    stages: int = 1
    final_stage: str = ""
    context_dir: str | None = None
    config_source: str | None = None
    today: date | None = None
    rules_checked: list[str] = field(default_factory=list)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= threshold]

    def fails(self, fail_on: str | Severity | None) -> bool:
        """True when a finding is at or above `fail_on` ("never" never fails)."""
        threshold = parse_fail_on(fail_on)
        return threshold is not None and bool(self.at_or_above(threshold))

    @property
    def estimated_bytes(self) -> int:
        return sum(f.estimated_bytes or 0 for f in self.findings)

    def summary(self) -> dict:
        counts = {str(level): 0 for level in Severity}
        for finding in self.findings:
            counts[str(finding.severity)] += 1
        return {
            "total": len(self.findings),
            "by_severity": counts,
            "max_severity": str(self.max_severity) if self.max_severity is not None else None,
            "estimated_bytes": self.estimated_bytes,
            "suppressed": len(self.suppressed),
            "stages": self.stages,
            "final_stage": self.final_stage,
        }

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "file": self.file,
            "context": self.context_dir,
            "config": self.config_source,
            "findings": [f.to_dict() for f in self.findings],
            "suppressed": [{**s.finding.to_dict(), "reason": s.reason} for s in self.suppressed],
            "summary": self.summary(),
        }


def parse_fail_on(value: str | Severity | None) -> Severity | None:
    if value is None:
        value = DEFAULT_FAIL_ON
    if isinstance(value, Severity):
        return value
    text = str(value).strip().lower()
    if text == "never":
        return None
    return Severity.parse(text)


def today_from_env() -> date:
    pinned = os.environ.get(TODAY_ENV)
    if pinned:
        try:
            return date.fromisoformat(pinned.strip())
        except ValueError:
            raise BadInput(f"{TODAY_ENV}={pinned!r}: use YYYY-MM-DD") from None
    return date.today()


def normalize_ignores(names) -> set[str]:
    """Rule ids from a mix of ids and slugs; unknown names are dropped (an inline comment isn't an error)."""
    ids = set()
    for name in names:
        text = str(name).strip()
        if text.upper() in RULE_IDS:
            ids.add(text.upper())
        elif text.lower() in SLUG_TO_ID:
            ids.add(SLUG_TO_ID[text.lower()])
        elif text.lower() == "all":
            ids.update(RULE_IDS)
    return ids


def analyze(
    dockerfile: Dockerfile | str | Path,
    context_dir: str | Path | None = None,
    config: BuildoptConfig | None = None,
    *,
    today: date | None = None,
    rules: list[Rule] | None = None,
    engine: bool = True,
) -> AnalysisResult:
    """Findings for one Dockerfile (a parsed one, or a path). `context_dir` enables the context-aware checks.

    `engine=False` (or BUILDOPT_ENGINE_LOOKUP=0) never asks the Docker engine; by default a base image the local
    engine already holds is inspected for its USER and ENV (never pulled), and the known-images table stands in
    for the others."""
    parsed = dockerfile if isinstance(dockerfile, Dockerfile) else parse_file(dockerfile)
    if config is None:
        config = BuildoptConfig()
    if context_dir is not None:
        context_path = Path(context_dir)
        if not context_path.is_dir():
            raise BadInput(f"{context_path}: context is not a directory")
    else:
        context_path = None
    today = today or today_from_env()
    if not parsed.stages:  # no FROM: BuildKit's parser accepts it, there is no stage to check (dockerfile.warnings)
        return AnalysisResult(file=parsed.display_name, findings=[], suppressed=[], stages=0, final_stage="none",
                              context_dir=str(context_path) if context_path is not None else None,
                              config_source=str(config.source) if config.source else None, today=today, rules_checked=[])
    ctx = build_context(parsed, context_path, today, engine=engine)
    chosen = rules if rules is not None else all_rules()

    inline: dict[int, set[str]] = {}
    for ins in parsed.instructions:
        if ins.ignored_rules:
            inline[ins.line] = normalize_ignores(ins.ignored_rules)
    file_wide = normalize_ignores(parsed.file_ignores)

    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    for rule in chosen:
        for finding in rule.check(ctx):
            override = config.severity_overrides.get(finding.rule)
            if override is not None and override != finding.severity:
                finding = Finding(**{**finding.__dict__, "severity": override})
            if finding.rule in inline.get(finding.line, ()):
                suppressed.append(Suppressed(finding, "inline"))
            elif finding.rule in file_wide:
                suppressed.append(Suppressed(finding, "file"))
            elif config.is_ignored(finding.rule):
                suppressed.append(Suppressed(finding, "config"))
            else:
                findings.append(finding)
    findings.sort(key=lambda f: (f.line, f.rule, f.message))
    final = parsed.final_stage
    return AnalysisResult(
        file=parsed.display_name,
        findings=findings,
        suppressed=suppressed,
        stages=len(parsed.stages),
        final_stage=final.name or str(final.index),
        context_dir=str(context_path) if context_path is not None else None,
        config_source=str(config.source) if config.source else None,
        today=today,
        rules_checked=[rule.id for rule in chosen],
    )
