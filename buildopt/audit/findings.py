"""Per-image findings, at two depths, from the checks in audit/checks/ (one unit per check, one ordered table).

- `config_findings`: from `docker image inspect` and `docker history` only (cheap, every image). The
  config says user and healthcheck; the history's build steps and their layer sizes say what was
  installed where (gcc, git, rustup, a model download, pip without --no-cache-dir, torch without the
  CPU index). Bytes there are a whole layer's measured size or a documented estimate capped by it.
- `profile_findings`: from an `ImageProfile` (buildopt.inspect), the files themselves: bytes are measured.

When both exist the profile's findings replace the history's (`pick`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ..engine import GpuFacts
from ..knowledge import ML_DISTRIBUTIONS, ML_WORDS
from ..score import SecurityFacts
from .checks.base import (
    CONFIG,
    ESTIMATE,
    FILES,
    LAYER,
    LAYER_SIZE,
    Finding,
    LayerPart,
    size_severity,
)
from .checks.context import HistoryContext, ProfileContext, StepFacts, step_facts
from .checks.eol_python import python_from_config, python_in_profile
from .checks.registry import CHECKS
from .inventory import ImageDetails

if TYPE_CHECKING:
    from ..inspect.model import ImageProfile

__all__ = [
    "CONFIG", "ESTIMATE", "FILES", "LAYER", "LAYER_SIZE", "Finding", "LayerPart", "StepFacts", "config_findings",
    "is_ml", "pick", "profile_findings", "python_from_config", "python_in_profile", "security_facts",
    "size_severity", "step_facts",
]


def config_findings(details: ImageDetails, gpu: GpuFacts, *, today: date | None = None) -> list[Finding]:
    """Every check's findings from the config and the build history, in the table's order."""
    ctx = HistoryContext(details, gpu, today)
    return [finding for check in CHECKS for finding in check.from_history(ctx)]


def profile_findings(profile: ImageProfile, gpu: GpuFacts, *, today: date | None = None) -> list[Finding]:
    """Every check's findings measured on an ImageProfile. The profile is only read: callers drop it afterwards."""
    ctx = ProfileContext(profile, gpu, today)
    return [finding for check in CHECKS for finding in check.from_profile(ctx)]


def pick(config_level: list[Finding], deep: list[Finding] | None) -> list[Finding]:
    """The profile's measured findings when there are any; the config/history ones otherwise."""
    if deep is None:
        return sorted(config_level, key=_order)
    return sorted(deep, key=_order)


def _order(finding: Finding) -> tuple:
    return (-int(finding.severity), -finding.bytes, finding.slug)


def security_facts(findings: list[Finding], containers: list | None = None) -> SecurityFacts:
    """Facts for buildopt.score: image facts from the findings, container facts from its containers.

    Vulnerabilities and secrets are not scanned by the audit: they stay unmeasured (None).
    """
    slugs = {finding.slug for finding in findings}
    healthcheck = "none" if "no-healthcheck" in slugs else "trivial" if "trivial-healthcheck" in slugs else "ok"
    facts: dict[str, Any] = {
        "runs_as_root": "root-user" in slugs,
        "healthcheck": healthcheck,
        "build_tools": "build-toolchain" in slugs,
        "eol_python": "eol-python" in slugs,
    }
    if containers:
        facts.update(
            privileged=any(c.privileged for c in containers),
            extra_capabilities=any(c.cap_add for c in containers),
            memory_limit=all(c.memory_limit > 0 for c in containers),
        )
        # A container can override the image's user and healthcheck: the worst container counts.
        facts["runs_as_root"] = facts["runs_as_root"] if not containers else any(c.runs_as_root for c in containers)
        kinds = {c.healthcheck for c in containers}
        facts["healthcheck"] = "none" if "none" in kinds else "trivial" if "trivial" in kinds else "ok"
    return SecurityFacts(**facts)


def is_ml(findings: list[Finding], details: ImageDetails | None, profile=None) -> bool:
    """An ML image: torch/CUDA/weights found, or ML frameworks named in its build steps."""
    if any(f.slug in ("cuda-without-gpu", "baked-model") for f in findings):
        return True
    if profile is not None:
        names = {p.name for p in profile.packages_of("pip")}
        if names & ML_DISTRIBUTIONS:
            return True
    if details is not None:
        return any(ML_WORDS.search(step.created_by) for step in details.history)
    return False
