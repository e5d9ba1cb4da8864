"""The action's inputs. action.yml passes them as INPUT_* environment variables (never interpolated into
a script, so a crafted input can't inject shell)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput


@dataclass
class GateInputs:
    dockerfiles: list[str]
    context: str | None = None
    budget: str | None = None
    baseline: str | None = None
    baseline_ref: str | None = None
    output_dir: Path = Path("buildopt-report")
    build_args: list[str] = field(default_factory=list)
    network: str | None = None
    trivy_cache_dir: str | None = None
    trivy_db_repository: str | None = None
    trivy_offline: bool = False
    trivy_severity: list[str] = field(default_factory=list)
    trivy_ignorefile: str | None = None
    scan: bool = True
    comment: bool = True


def lines(value: str | None) -> list[str]:
    """One item per non-empty line; `#` starts a comment line."""
    return [line.strip() for line in (value or "").splitlines() if line.strip() and not line.strip().startswith("#")]


def flag(value: str | None, name: str, default: bool) -> bool:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise BadInput(f"input {name}: {value!r} is not true or false")


def gate_inputs_from_env(environ: Mapping[str, str] = os.environ) -> GateInputs:
    def get(name: str) -> str | None:
        value = environ.get(f"INPUT_{name}", "").strip()
        return value or None

    dockerfiles = lines(environ.get("INPUT_DOCKERFILES"))
    if not dockerfiles:
        raise BadInput("input dockerfiles is empty: give one Dockerfile path per line")
    severities = [s.strip().upper() for s in re.split(r"[,\s]+", get("TRIVY_SEVERITY") or "") if s.strip()]
    return GateInputs(
        dockerfiles=dockerfiles,
        context=get("CONTEXT"),
        budget=get("BUDGET"),
        baseline=get("BASELINE"),
        baseline_ref=get("BASELINE_REF"),
        output_dir=Path(get("OUTPUT_DIR") or "buildopt-report"),
        build_args=lines(environ.get("INPUT_BUILD_ARGS")),
        network=get("NETWORK"),
        trivy_cache_dir=get("TRIVY_CACHE_DIR"),
        trivy_db_repository=get("TRIVY_DB_REPOSITORY"),
        trivy_offline=flag(get("TRIVY_OFFLINE"), "trivy-offline", False),
        trivy_severity=severities,
        trivy_ignorefile=get("TRIVY_IGNOREFILE"),
        scan=flag(get("SCAN"), "scan", True),
        comment=flag(get("COMMENT"), "comment", True),
    )
