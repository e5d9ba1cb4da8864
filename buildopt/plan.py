"""Which Dockerfiles a change touches: the matrix the PR gate runs `compare` on, for monorepos.

A Dockerfile is in the plan when it changed between the two refs, when its `buildopt.toml` changed, or
when any file under its build context changed. The context is the Dockerfile's directory unless its
`buildopt.toml` says otherwise (`context = ".."`, relative to the Dockerfile's directory).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import subprocess
import tomllib
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from .errors import BadInput, EnvironmentMissing

DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "Containerfile")
MAX_PLAIN_NAME = 80
_PLAIN_PART = re.compile(r"[A-Za-z0-9._]+")
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


def make_plan(base: str | None, head: str, repo: str = ".", *, every: bool = False) -> Plan:
    """The Dockerfiles the change from `base` to `head` touches; with `every`, all of them (`base` unused),
    e.g. on the default branch, whose SARIF is the base code scanning compares PR alerts with."""
    if every:
        changed: list[str] = []
    elif base is None:
        raise BadInput("plan: give --base (or --all)")
    else:
        merge_base = _git(repo, "merge-base", base, head).strip()
        changed = [line for line in _git(repo, "diff", "--name-only", f"{merge_base}..{head}").splitlines() if line]
    tracked = _git(repo, "ls-tree", "-r", "--name-only", head).splitlines()
    entries = []
    for dockerfile in sorted(path for path in tracked if is_dockerfile(path)):
        directory = PurePosixPath(dockerfile).parent
        context = _context_of(repo, head, directory)
        config = str(directory / "buildopt.toml") if str(directory) != "." else "buildopt.toml"
        reason = None
        if every:
            reason = "every Dockerfile (--all)"
        elif dockerfile in changed:
            reason = "Dockerfile changed"
        elif config in changed:
            reason = "buildopt.toml changed"
        else:
            touched = [path for path in changed if _under(path, context)]
            if touched:
                reason = f"context changed ({len(touched)} file{'s' if len(touched) > 1 else ''}, e.g. {touched[0]})"
        if reason:
            entries.append(PlanEntry(name=entry_name(dockerfile), dockerfile=dockerfile, context=context, reason=reason))
    return Plan(base=base or "", head=head, entries=entries)


def entry_name(dockerfile: str) -> str:
    """The Dockerfile's name in the gate: its matrix entry, artifact (`buildopt-report-<name>`), output dir,
    comment section and code-scanning category. Made from the path alone, so it is the same on every run
    whichever other Dockerfiles changed, and two paths never share one:

    - a path whose parts hold only letters, digits, `.` and `_` joins them with `-`:
      `app/Dockerfile` -> `app-Dockerfile`, `app/Dockerfile.dev` -> `app-Dockerfile.dev`,
      `projects/a/docker/prod/Dockerfile` -> `projects-a-docker-prod-Dockerfile`; no part holds a `-`,
      so the join can be undone and two such paths can't meet;
    - any other path (a `-` or another character in a part, or a long path) gets a readable prefix, `--` and
      8 hex digits of its sha256: `docker-prod/Dockerfile` -> `docker-prod-Dockerfile--<hash>`. A plain
      name never holds `--`, so the two kinds can't meet either.
    """
    parts = [part for part in PurePosixPath(dockerfile.replace("\\", "/")).parts if part not in ("/", ".")]
    plain = "-".join(parts)
    if parts and all(_PLAIN_PART.fullmatch(part) for part in parts) and len(plain) <= MAX_PLAIN_NAME:
        return plain
    readable = re.sub(r"[^A-Za-z0-9._]+", "-", "/".join(parts)).strip("-.")[:60].rstrip("-.") or "Dockerfile"
    digest = hashlib.sha256("/".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{readable}--{digest}"


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
