"""The OptimizationPlan: a parsed single-stage Python Dockerfile taken apart (optimize/extract/ fills it).

The plan is the original file taken apart: base image, system packages, install commands, app files,
metadata (ENV, WORKDIR, EXPOSE, LABEL, VOLUME), CMD/ENTRYPOINT, HEALTHCHECK, USER, writable dirs and
model weights. Each piece keeps its source line. Transforms then change the plan and `render` writes it
out through the templates. A file the plan can't represent raises `Unmodelable` with the reasons, and
the optimizer falls back to in-place fixes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import shell
from ..dockerfile import Dockerfile
from ..requirements import (
    Requirement,
    is_local_target,
)

DEFAULT_VENV = "/opt/venv"
MODELS_DIR = "/models"
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/var/lib", "/proc", "/sys", "/dev", "/boot")
_NOT_CHOWNABLE = frozenset({"/", "/tmp", "/var/tmp", "/root", "/home", "/var", "/run"})


if TYPE_CHECKING:
    from ..rules import Finding
    from .safety import UserPlan


class Unmodelable(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class BaseImage:
    written: str
    resolved: str
    repository: str
    tag: str
    python: str | None  # "3.11"

    @classmethod
    def parse(cls, written: str, resolved: str) -> BaseImage:
        image = resolved.split("@", 1)[0]
        last = image.rsplit("/", 1)[-1]
        repository, _, tag = image.rpartition(":") if ":" in last else (image, "", "")
        match = re.match(r"^(\d+\.\d+)", tag)
        return cls(written, resolved, repository, tag, match.group(1) if match else None)

    @property
    def is_python(self) -> bool:
        return self.repository.rsplit("/", 1)[-1] == "python" and "alpine" not in self.tag and "windows" not in self.tag

    @property
    def is_slim(self) -> bool:
        return "slim" in self.tag

    def with_python(self, version: str) -> str:
        """Same image and variant, another Python: `python:3.10-slim` -> `python:3.12-slim`."""
        rest = re.sub(r"^\d+(\.\d+){0,2}", "", self.tag)
        if self.tag in ("", "latest"):
            rest = ""
        elif rest and not rest.startswith("-"):
            rest = "-" + rest
        return f"{self.repository}:{version}{rest}"

    def slim(self) -> str:
        """`python:3.11` or `python:3.11-bookworm` -> the `-slim` variant of the same release."""
        if self.is_slim:
            return self.resolved
        tag = self.tag or "latest"
        if tag == "latest":
            return f"{self.repository}:slim"
        if re.match(r"^\d+(\.\d+){0,2}$", tag):
            return f"{self.repository}:{tag}-slim"
        variant = re.sub(r"^(\d+(?:\.\d+){0,2})-(\w+)$", r"\1-slim-\2", tag)
        return f"{self.repository}:{variant}"


@dataclass
class Arg:
    raw: str
    value: str


@dataclass
class PipCommand:
    """One `pip install` (or `uv pip install`) command; transforms edit `args`."""

    launcher: list[str]  # raw words up to and including `install`
    args: list[Arg]
    tool: str  # "pip" | "uv"
    line: int
    workdir: str
    sync: bool = False  # `uv sync`: installs the project in the working directory
    dev_group: bool = False  # uv sync: the project has a dev dependency group (installed unless --no-dev)
    brings: list[str] = field(default_factory=list)  # canonical names it installs, as far as the context tells
    file_index_urls: list[str] = field(default_factory=list)  # index options inside its requirement files

    @property
    def values(self) -> list[str]:
        return [arg.value for arg in self.args]

    def has(self, *flags: str) -> bool:
        return any(value == flag or value.startswith(flag + "=") for value in self.values for flag in flags)

    def option_values(self, *flags: str) -> list[str]:
        parsed = shell.parse_arguments(self.values)
        return [value for name in dict.fromkeys(shell.long_name(flag) for flag in flags) for value in parsed.values(name)]

    @property
    def requirement_files(self) -> list[str]:
        return self.option_values("-r", "--requirement")

    @property
    def constraint_files(self) -> list[str]:
        return self.option_values("-c", "--constraint")

    @property
    def positionals(self) -> list[tuple[int, str]]:
        """(index, value) of package specs and paths, editable targets included."""
        found: list[tuple[int, str]] = []
        values = self.values
        for index, (value, role) in enumerate(zip(values, shell.argument_roles(values), strict=False)):
            if role is None:
                found.append((index, value))
            elif role == "--editable":
                if value.startswith("--editable="):
                    found.append((index, value.split("=", 1)[1]))
                elif value.startswith("-e") and len(value) > 2:
                    found.append((index, value[2:].lstrip("=")))
                elif not value.startswith("-"):
                    found.append((index, value))
        return found

    @property
    def local_targets(self) -> list[str]:
        return [value for _, value in self.positionals if is_local_target(value)]

    @property
    def packages(self) -> list[str]:
        return [value for _, value in self.positionals if not is_local_target(value)]

    def insert(self, *words: str) -> None:
        """Add options right after `install`."""
        self.args[0:0] = [Arg(word, word) for word in words]

    def remove(self, flag: str) -> bool:
        before = len(self.args)
        self.args = [arg for arg in self.args if arg.value != flag]
        return len(self.args) != before

    def text(self) -> str:
        return " ".join([*self.launcher, *(arg.raw for arg in self.args)])


@dataclass
class Piece:
    """One unit of a RUN line: verbatim text or a pip command, and the operator after it."""

    text: str | None = None
    pip: PipCommand | None = None
    joiner: str = "&&"

    def render(self) -> str:
        return self.pip.text() if self.pip else (self.text or "")


@dataclass
class CopySpec:
    cmd: str  # COPY | ADD
    flags: list[str]
    sources: list[str]
    dest: str  # as written
    dest_abs: str  # resolved against the WORKDIR at that point
    line: int

    def render(self, *, chown: str | None = None, absolute: bool = False) -> str:
        flags = [flag for flag in self.flags if not (chown and flag.startswith("--chown="))]
        if chown:
            flags.insert(0, f"--chown={chown}")
        dest = self.dest_abs if absolute else self.dest
        if dest.endswith("/") is False and (self.dest.endswith("/") or len(self.sources) > 1):
            dest += "/"
        paths = [*self.sources, dest]
        if any(re.search(r"\s", path) for path in paths):
            return " ".join([self.cmd, *flags, json.dumps(paths)])
        return " ".join([self.cmd, *flags, *paths])


@dataclass
class Step:
    """An instruction of the rewritten stage: verbatim text, a RUN made of pieces, or a COPY."""

    kind: str  # "raw" | "run" | "copy" | "model" (the original's model COPY/download: kept unless models move out)
    line: int | None = None
    text: str | None = None
    pieces: list[Piece] = field(default_factory=list)
    run_flags: list[str] = field(default_factory=list)
    copy: CopySpec | None = None
    chown: str | None = None  # COPY only: set by the non-root transform
    requirement_copy: bool = False  # COPY only: requirement files, installed in the builder
    absolute: bool = False  # COPY only: a replicated COPY uses its resolved destination

    def render(self) -> str:
        if self.kind == "copy" and self.copy:
            return self.copy.render(chown=self.chown, absolute=self.absolute)
        if self.kind == "run":
            body = shell.join_units([(piece.render(), piece.joiner) for piece in self.pieces])
            return " ".join(["RUN", *self.run_flags, body])
        return self.text or ""

    @property
    def pip_commands(self) -> list[PipCommand]:
        return [piece.pip for piece in self.pieces if piece.pip]


@dataclass
class EnvStep:
    pairs: list[tuple[str, str]]
    line: int
    original: str
    builder: bool  # also needed while installing (PIP_*, UV_*, PATH for cargo...)
    runtime: bool = True
    original_pairs: list[tuple[str, str]] = field(default_factory=list)  # all of them, as parsed

    def render(self) -> str:
        if self.pairs == self.original_pairs:
            return self.original  # untouched: as written
        parts = []
        for key, value in self.pairs:
            quoted = value if re.fullmatch(r"[^\s\"'\\]*", value) else json.dumps(value)
            parts.append(f"{key}={quoted}")
        return "ENV " + " ".join(parts)


@dataclass
class ModelSource:
    kind: str  # "copy" | "download"
    line: int
    original: str  # the instruction or command as written
    sources: list[str] = field(default_factory=list)  # COPY sources (context-relative)
    destination: str | None = None  # where the app finds the weights (absolute), when known
    command: str | None = None  # the download command, for the one-off init service
    workdir: str = "/"
    source_is_dir: bool = True
    inside_app_copy: bool = False  # brought by a broad app COPY: kept out through the .dockerignore


@dataclass
class Healthcheck:
    flags: list[str]
    command: str  # shell text or JSON array text
    exec_form: bool
    original: str
    line: int

    def render(self) -> str:
        return " ".join(["HEALTHCHECK", *self.flags, "CMD", self.command])


@dataclass
class OptimizationPlan:
    dockerfile: Dockerfile
    context: Path | None
    base: BaseImage
    builder_base: str
    runtime_base: str
    global_args: list[str] = field(default_factory=list)  # ARG lines before FROM, verbatim
    stage_args: list[str] = field(default_factory=list)
    env: list[EnvStep] = field(default_factory=list)
    apt_packages: list[str] = field(default_factory=list)  # as listed in the original, in order
    apt_lines: list[int] = field(default_factory=list)
    apt_flags_ok: bool = True  # every apt install had --no-install-recommends
    apt_lists_removed: bool = True
    build_packages: list[str] = field(default_factory=list)
    runtime_packages: list[str] = field(default_factory=list)
    builder_steps: list[Step] = field(default_factory=list)
    runtime_steps: list[Step] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # LABEL / EXPOSE / VOLUME / STOPSIGNAL, verbatim
    venv: str = DEFAULT_VENV
    workdirs: list[str] = field(default_factory=list)
    user_name: str = "app"
    user_group: str | None = None  # the user's group, when the original's useradd names one (-g)
    user_commands: list[str] = field(default_factory=list)  # the original's own useradd/groupadd..., kept as written
    uid: int = 10001
    original_user: str | None = None  # the last USER of the original
    non_root: bool = False  # the runtime stage creates (or keeps) a user and ends with USER
    own_dirs: list[str] = field(default_factory=list)  # set by the non-root transform: dirs the app writes (safety)
    made_dirs: list[str] = field(default_factory=list)  # what the original's dropped `mkdir`s created
    apt_no_recommends: bool = True  # the template's apt steps pass --no-install-recommends
    user_plan: UserPlan | None = None  # what running as non-root takes (optimize/safety.py)
    findings: list[Finding] = field(default_factory=list)  # analyze's, on the original
    # Lookups that keep the extraction linear in the file's size.
    _package_names: set[str] = field(default_factory=set, repr=False)
    _app_copies: list[Step] = field(default_factory=list, repr=False)
    _app_copies_key: tuple[int, int] = (0, -1)
    writable_dirs: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    exposed_ports: list[int] = field(default_factory=list)
    models: list[ModelSource] = field(default_factory=list)
    model_links: list[tuple[str, str]] = field(default_factory=list)  # (path in image, target under /models)
    hf_env_lines: list[int] = field(default_factory=list)
    healthcheck: Healthcheck | None = None
    healthcheck_none: bool = False  # HEALTHCHECK NONE
    entrypoint: str | None = None
    cmd: str | None = None
    python_packages: list[str] = field(default_factory=list)  # canonical names the installs bring, in order
    project_extras: list[str] = field(default_factory=list)  # optional-dependency groups of a local project
    unread_requirements: list[str] = field(default_factory=list)  # requirement files not found in the context
    broad_copy_before_install: list[int] = field(default_factory=list)  # lines: BO115 in the original
    sources_in_builder: bool = False  # the builder copies app sources (local project install)
    uses_uv: bool = False
    uses_rust: bool = False
    builder_extra_packages: list[str] = field(default_factory=list)  # e.g. curl for rustup
    ml: bool = False  # torch or models: use the ML template
    torch_index: bool = False  # set by the CPU torch transform
    trim_test_dirs: bool = False  # set by the trim transform: site-packages/*/tests removed in the builder
    trim_torch: bool = False  # and torch's C++ tests and headers
    trim_pip: bool = False  # and pip (no runtime step, CMD or healthcheck runs it)
    trim_setuptools: bool = False  # and setuptools, which `python -m venv` seeds (3.11 and older), unless required
    models_volume: bool = False  # set by the models transform
    set_hf_home: bool = False  # the template adds ENV HF_HOME=/models (the original had no HF_HOME)
    model_mounts: list[tuple[str, str]] = field(default_factory=list)  # (context path, mount point) for compose
    model_init_commands: list[str] = field(default_factory=list)
    model_init_env: dict[str, str] = field(default_factory=dict)
    uid_from_original: int | None = None
    dropped_chmods: list[str] = field(default_factory=list)
    writable_dir_lines: list[int] = field(default_factory=list)
    entry_script: str | None = None  # the script CMD/ENTRYPOINT runs, when the context has it
    notes: list[str] = field(default_factory=list)

    def add_requirement(self, requirement: Requirement | None, pip: PipCommand | None = None) -> None:
        if requirement is None:
            return
        if requirement.name not in self._package_names:
            self._package_names.add(requirement.name)
            self.python_packages.append(requirement.name)
        if pip is not None and requirement.name not in pip.brings:
            pip.brings.append(requirement.name)

    @property
    def pip_commands(self) -> list[PipCommand]:
        return [pip for step in self.builder_steps for pip in step.pip_commands]

    @property
    def app_copies(self) -> list[Step]:
        """COPY/ADD of the app's own files (not files taken from another image, not requirement files)."""
        # The walk only appends steps (a list replaced whole gets a new id): read just the new ones, so asking at
        # every RUN stays linear in the file's size.
        steps, (seen_id, seen) = self.runtime_steps, self._app_copies_key
        if seen_id != id(steps) or seen > len(steps):
            self._app_copies, seen = [], 0
        self._app_copies += [step for step in steps[seen:]
                             if step.kind == "copy" and step.copy and not step.requirement_copy
                             and not any(f.startswith("--from") for f in step.copy.flags)]
        self._app_copies_key = (id(steps), len(steps))
        return self._app_copies

    @property
    def owned_dirs(self) -> list[str]:
        """Directories created in the runtime stage and handed to the user: app dirs, writable dirs, /models."""
        found: dict[str, None] = {}  # ordered, and linear in the number of dirs
        links = [link for link, _ in self.model_links]
        for path in [*self.workdirs, *self.writable_dirs, *([MODELS_DIR] if self.models_volume else []), *self.own_dirs]:
            if path in found or path in _NOT_CHOWNABLE or path.startswith(_SYSTEM_DIRS):
                continue
            if any(path == link or path.startswith(link.rstrip("/") + "/") for link in links):
                continue  # becomes a link into the volume
            found[path] = None
        return list(found)

    @property
    def final_workdir(self) -> str:
        return self.workdirs[-1] if self.workdirs else "/"

    @property
    def owner(self) -> str:
        return f"{self.user_name}:{self.user_group or self.user_name}"


# ------------------------------------------------------------------------------------------------------
def modelable(dockerfile: Dockerfile) -> list[str]:
    """Why this file can't be rewritten from the templates (empty when it can)."""
    reasons: list[str] = []
    if dockerfile.directives.get("escape", "\\") != "\\":
        reasons.append("it sets a non-default escape character")
    if len(dockerfile.stages) > 1:
        reasons.append(f"it is already multi-stage ({len(dockerfile.stages)} stages)")
    stage = dockerfile.final_stage
    base = BaseImage.parse(stage.base, stage.base_resolved)
    if "$" in stage.base_resolved:
        reasons.append(f"its base image {stage.base} depends on a build arg with no default")
    elif not base.is_python:
        reasons.append(f"its base image {stage.base_resolved} is not a Debian-based official python image")
    exotic = sorted({ins.cmd for ins in stage.instructions if ins.cmd in ("ONBUILD", "SHELL")})
    if exotic:
        reasons.append(f"it uses {', '.join(exotic)}")
    heredocs = [ins.line for ins in stage.instructions if ins.heredocs]
    if heredocs:
        reasons.append(f"it uses heredocs (line {', '.join(map(str, heredocs))})")
    return reasons


def extract_plan(dockerfile: Dockerfile, context: Path | None) -> OptimizationPlan:
    """The plan of a modelable Dockerfile (optimize/extract/), or Unmodelable with the reasons."""
    from .extract import extract_plan as extract

    return extract(dockerfile, context)
