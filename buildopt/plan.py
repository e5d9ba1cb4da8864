"""Which Dockerfiles a change touches: the matrix the PR gate runs `compare` on, for monorepos.

A Dockerfile is in the plan when it changed between the two refs, when its `buildopt.toml` changed, or
when any file under its build context changed. The context is the Dockerfile's directory unless its
`buildopt.toml` says otherwise (`context = ".."`, relative to the Dockerfile's directory).
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from .errors import BadInput, EnvironmentMissing

DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "Containerfile")
NOT_INPUTS = ("Dockerfile.optimized", "*.optimized")


@dataclass(frozen=True)
class PlanEntry:
    name: str
    dockerfile: str
    context: str
    reason: str


@dataclass(frozen=True)
class Plan:
    base: str
    head: str
    entries: list[PlanEntry]

    def matrix(self) -> dict:
        """The shape `strategy.matrix` takes in a workflow: {"include": [...]}."""
        return {"include": [asdict(entry) for entry in self.entries]}


def make_plan(base: str, head: str, repo: str = ".") -> Plan:
    merge_base = _git(repo, "merge-base", base, head).strip()
    changed = [line for line in _git(repo, "diff", "--name-only", f"{merge_base}..{head}").splitlines() if line]
    tracked = _git(repo, "ls-tree", "-r", "--name-only", head).splitlines()
    entries = []
    for dockerfile in sorted(path for path in tracked if is_dockerfile(path)):
        directory = PurePosixPath(dockerfile).parent
        context = _context_of(repo, head, directory)
        config = str(directory / "buildopt.toml") if str(directory) != "." else "buildopt.toml"
        reason = None
        if dockerfile in changed:
            reason = "Dockerfile changed"
        elif config in changed:
            reason = "buildopt.toml changed"
        else:
            touched = [path for path in changed if _under(path, context)]
            if touched:
                reason = f"context changed ({len(touched)} file{'s' if len(touched) > 1 else ''}, e.g. {touched[0]})"
        if reason:
            name = str(directory) if str(directory) != "." else PurePosixPath(dockerfile).name
            entries.append(PlanEntry(name=name.replace("/", "-"), dockerfile=dockerfile, context=context, reason=reason))
    return Plan(base=base, head=head, entries=entries)


def is_dockerfile(path: str) -> bool:
    name = PurePosixPath(path).name
    if any(fnmatch.fnmatch(name, pattern) for pattern in NOT_INPUTS):
        return False
    return any(fnmatch.fnmatch(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def _context_of(repo: str, head: str, directory: PurePosixPath) -> str:
    config_path = directory / "buildopt.toml"
    result = subprocess.run(["git", "-C", repo, "show", f"{head}:{config_path}"], capture_output=True, text=True)
    context = directory
    if result.returncode == 0:
        try:
            table = tomllib.loads(result.stdout)
        except tomllib.TOMLDecodeError as err:
            raise BadInput(f"{config_path}: invalid TOML: {err}") from None
        relative = table.get("context") or table.get("tool", {}).get("buildopt", {}).get("context")
        if relative:
            context = PurePosixPath(*_normalize((directory / relative).parts))
    return str(context) if str(context) else "."


def _normalize(parts: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "..":
            if out:
                out.pop()
        elif part not in (".", ""):
            out.append(part)
    return out or ["."]


def _under(path: str, context: str) -> bool:
    return context == "." or path == context or path.startswith(context.rstrip("/") + "/")


def _git(repo: str, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise EnvironmentMissing("git is not installed") from None
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["git failed"])[-1]
        raise BadInput(f"git {' '.join(args[:2])}: {message}")
    return result.stdout
