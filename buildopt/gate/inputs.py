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
    scan_failure: str = "fail"  # "fail": a DB that can't be downloaded fails the gate (exit 4); "warn": go on unscanned
    budget_from: str = "base"  # "base": the budget as the base branch has it (a PR can't raise its own); "pr"
    cache: CacheSpec = field(default_factory=lambda: CacheSpec("none"))
    builder: str | None = None  # a buildx builder (the action's docker-container builder for the gha cache)


CACHE_BACKENDS = ("gha", "registry", "inline", "none")
SCAN_FAILURE = ("fail", "warn")
BUDGET_FROM = ("base", "pr")


@dataclass(frozen=True)
class CacheSpec:
    """Where the builds keep their BuildKit cache between runs, and the keys: one per Dockerfile (its entry
    name) and variant. Every build reads both keys (the base branch's build is an `original` too, so it
    shares the PR's); a PR's variants write their own, and the default branch's runs (on push) write the
    `original` key the next PRs' base builds find.

    - `gha`: the GitHub Actions cache (needs a docker-container builder and the runtime token: action.yml
      sets both up); scope `<scope>-<name>-<variant>`.
    - `registry`: a registry cache `<ref>:<name>-<variant>` (docker-container builder, push access).
    - `inline`: the cache travels in the image (`--cache-to type=inline`), which is pushed to
      `<ref>:<name>-<variant>` and read back with `--cache-from type=registry`; works with the plain docker
      driver.
    - `none`: only the builder's own local cache.
    """

    backend: str
    ref: str | None = None  # a registry repository, e.g. ghcr.io/owner/app/buildopt-cache
    scope: str = "buildopt"

    def compare_args(self, name: str, write: bool = True) -> list[str]:
        """`buildopt compare` flags for the Dockerfile `name`: read both keys; with `write`, export to the
        variant's own key (compare replaces `{variant}`). The base branch's run only reads: what it would
        export is the default branch's own gate run's to write, and a run never overwrites the key its PR
        build is about to read."""
        if self.backend == "none":
            return []
        keys = {variant: f"{name}-{variant}" for variant in ("original", "optimized", "{variant}")}
        if self.backend == "gha":
            sources = [f"type=gha,scope={self.scope}-{keys[v]}" for v in ("original", "optimized")]
            target = ["--cache-to", f"type=gha,scope={self.scope}-{keys['{variant}']},mode=max"]
        else:
            sources = [f"type=registry,ref={self.ref}:{keys[v]}" for v in ("original", "optimized")]
            if self.backend == "registry":
                target = ["--cache-to", f"type=registry,ref={self.ref}:{keys['{variant}']},mode=max"]
            else:
                target = ["--cache-to", "type=inline", "--cache-push", f"{self.ref}:{keys['{variant}']}"]
        return [*_each("--cache-from", sources), *(target if write else [])]


def _each(flag: str, values: list[str]) -> list[str]:
    return [item for value in values for item in (flag, value)]


def _choice(value: str | None, name: str, choices: tuple[str, ...], default: str) -> str:
    text = (value or "").strip().lower() or default
    if text not in choices:
        raise BadInput(f"input {name}: {value!r} is not one of {', '.join(choices)}")
    return text


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
        scan_failure=_choice(get("SCAN_FAILURE"), "scan-failure", SCAN_FAILURE, "fail"),
        budget_from=_choice(get("BUDGET_FROM"), "budget-from", BUDGET_FROM, "base"),
        cache=cache_spec(get("CACHE"), get("CACHE_REF"), get("CACHE_SCOPE")),
        builder=get("BUILDER"),
    )


def cache_spec(backend: str | None, ref: str | None, scope: str | None) -> CacheSpec:
    spec = CacheSpec(_choice(backend, "cache", CACHE_BACKENDS, "none"), ref, scope or "buildopt")
    if spec.backend in ("registry", "inline") and not ref:
        raise BadInput(f"input cache: {spec.backend} needs cache-ref, a registry repository (e.g. ghcr.io/owner/repo/buildopt-cache)")
    if ref and not re.fullmatch(r"[a-z0-9][a-z0-9._:/-]*[a-z0-9]", ref):
        raise BadInput(f"input cache-ref: {ref!r} is not a registry repository (lowercase, without a tag)")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,60}", spec.scope):
        raise BadInput(f"input cache-scope: {scope!r} is not a plain name")
    return spec
