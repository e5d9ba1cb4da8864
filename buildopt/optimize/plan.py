"""Extract an OptimizationPlan from a parsed single-stage Python Dockerfile.

The plan is the original file taken apart: base image, system packages, install commands, app files,
metadata (ENV, WORKDIR, EXPOSE, LABEL, VOLUME), CMD/ENTRYPOINT, HEALTHCHECK, USER, writable dirs and
model weights. Each piece keeps its source line. Transforms then change the plan and `render` writes it
out through the templates. A file the plan can't represent raises `Unmodelable` with the reasons, and
the optimizer falls back to in-place fixes.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..dockerfile import Dockerfile, Instruction, env_pairs, substitute
from ..errors import BadInput
from ..files import read_text
from ..requirements import (
    Requirement,
    is_local_target,
    parse_requirement,
    read_project,
    read_requirements,
    split_local_target,
)
from . import shell

DEFAULT_VENV = "/opt/venv"
MODELS_DIR = "/models"
WEIGHT_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".gguf", ".ckpt")
_MODEL_DIR_NAMES = frozenset(
    {"models", "model", "checkpoints", "checkpoint", "weights", "hf_cache", "huggingface", "pretrained",
     "pretrained_models", "model_cache", "models_cache", "hf-cache", "hub"}
)
_REQUIREMENT_FILE = re.compile(
    r"^(requirements[\w.-]*\.(txt|in)|constraints[\w.-]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|poetry\.lock|uv\.lock|Pipfile(\.lock)?|MANIFEST\.in)$"
)
_PIP_LAUNCHER = re.compile(r"^(?:.*/)?pip(?:3(?:\.\d+)?)?$")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
HF_ENV_KEYS = frozenset(
    {"HF_HOME", "TRANSFORMERS_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_CACHE", "SENTENCE_TRANSFORMERS_HOME",
     "TORCH_HOME", "HF_DATASETS_CACHE", "XDG_CACHE_HOME"}
)
_MODEL_CODE = re.compile(
    r"snapshot_download|hf_hub_download|from_pretrained|SentenceTransformer\s*\(|whisperx\.load_model|"
    r"whisper\.load_model|load_model\s*\(|KPipeline\s*\(|pipeline\s*\(|spacy\.cli\.download|nltk\.download"
)
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/var/lib", "/proc", "/sys", "/dev", "/boot")
_NOT_CHOWNABLE = frozenset({"/", "/tmp", "/var/tmp", "/root", "/home", "/var", "/run"})
# pip options that take a value (so the next word is not a package).
_PIP_VALUE_OPTIONS = frozenset(
    "-r --requirement -c --constraint -e --editable -i --index-url --extra-index-url -f --find-links "
    "--trusted-host --timeout --progress-bar --platform --python-version --implementation --abi "
    "--only-binary --no-binary --src --log --cert --client-cert --proxy --retries --global-option "
    "--config-settings -C --upgrade-strategy --python --cache-dir --exists-action --keyring-provider "
    "--index-strategy --resolution --prerelease -p --extra".split()
)
_PIP_UNSUPPORTED = frozenset({"--target", "-t", "--prefix", "--root"})
_WORLD_WRITABLE = re.compile(r"^(0?[0-7]?[0-7][0-7][2367]|[ugoa]*\+[rwxXst]*w[rwxXst]*|[oa]=\S*w\S*)$")
_BUILD_TOOL_COMMANDS = frozenset(
    {"gcc", "g++", "cc", "c++", "make", "cmake", "ninja", "cargo", "rustc", "go", "meson", "configure", "./configure"}
)


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
        found: list[str] = []
        values = self.values
        for index, value in enumerate(values):
            for flag in flags:
                if value == flag and index + 1 < len(values):
                    found.append(values[index + 1])
                elif value.startswith(flag + "=") and flag.startswith("--"):
                    found.append(value.split("=", 1)[1])
                elif not flag.startswith("--") and value.startswith(flag) and len(value) > len(flag):
                    found.append(value[len(flag):])
        return found

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
        skip = False
        for index, value in enumerate(values):
            if skip:
                skip = False
                if values[index - 1] in ("-e", "--editable"):
                    found.append((index, value))
                continue
            if value.startswith("-"):
                if value in _PIP_VALUE_OPTIONS:
                    skip = True
                elif value.startswith("--editable="):
                    found.append((index, value.split("=", 1)[1]))
                continue
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

    kind: str  # "raw" | "run" | "copy"
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
    uid: int = 10001
    original_user: str | None = None  # the last USER of the original
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
        if requirement.name not in self.python_packages:
            self.python_packages.append(requirement.name)
        if pip is not None and requirement.name not in pip.brings:
            pip.brings.append(requirement.name)

    @property
    def pip_commands(self) -> list[PipCommand]:
        return [pip for step in self.builder_steps for pip in step.pip_commands]

    @property
    def app_copies(self) -> list[Step]:
        """COPY/ADD of the app's own files (not files taken from another image, not requirement files)."""
        return [step for step in self.runtime_steps
                if step.kind == "copy" and step.copy and not step.requirement_copy
                and not any(f.startswith("--from") for f in step.copy.flags)]

    @property
    def owned_dirs(self) -> list[str]:
        """Directories created in the runtime stage and handed to the user: app dirs, writable dirs, /models."""
        found: list[str] = []
        links = [link for link, _ in self.model_links]
        for path in [*self.workdirs, *self.writable_dirs, *([MODELS_DIR] if self.models_volume else [])]:
            if any(path == link or path.startswith(link.rstrip("/") + "/") for link in links):
                continue  # becomes a link into the volume
            if path not in found and path not in _NOT_CHOWNABLE and not path.startswith(_SYSTEM_DIRS):
                found.append(path)
        return found

    @property
    def final_workdir(self) -> str:
        return self.workdirs[-1] if self.workdirs else "/"

    @property
    def owner(self) -> str:
        return f"{self.user_name}:{self.user_name}"


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
    reasons = modelable(dockerfile)
    if reasons:
        raise Unmodelable(reasons)
    return _Extractor(dockerfile, context).run()


class _Extractor:
    def __init__(self, dockerfile: Dockerfile, context: Path | None):
        self.df = dockerfile
        self.context = context
        # Docker splits lines on \n only (Python's splitlines would also split on \x85, \x0c, U+2028...).
        self.lines = [line.rstrip("\r") for line in dockerfile.text.split("\n")]
        stage = dockerfile.final_stage
        base = BaseImage.parse(stage.base, stage.base_resolved)
        self.plan = OptimizationPlan(dockerfile, context, base, builder_base=stage.base, runtime_base=stage.base)
        self.unsupported: list[str] = []
        self.workdir = "/"
        self.variables: dict[str, str] = {key: value or "" for key, value in dockerfile.global_args.items()}
        self.provided: dict[str, str] = {}  # absolute path in the builder -> context-relative source
        self.replicated: set[int] = set()  # lines of app COPYs already replicated into the builder
        self.app_copy_before_install: list[int] = []
        self.line = 0  # the instruction being read
        self.run_has_apt_update = False
        self.run_removes_lists = False

    # -- driver -------------------------------------------------------------------------------------
    def run(self) -> OptimizationPlan:
        plan = self.plan
        for ins in self.df.instructions:
            if ins.stage == -1:
                plan.global_args.append(self._source(ins))
        for ins in self.df.final_stage.instructions:
            self.line = ins.line
            handler = getattr(self, f"_on_{ins.cmd.lower()}", None)
            if handler is None:
                plan.tail.append(self._source(ins))
            else:
                handler(ins)
        if self.unsupported:
            raise Unmodelable(self.unsupported)
        self._finish()
        return plan

    def _source(self, ins: Instruction) -> str:
        return "\n".join(self.lines[ins.line - 1 : ins.end_line]).strip()

    def _resolve(self, path: str) -> str:
        expanded = substitute(path, self.variables) if "$" in path else path
        joined = posixpath.join(self.workdir, expanded)
        return posixpath.normpath(joined) if joined != "/" else "/"

    # -- instructions -------------------------------------------------------------------------------
    def _on_from(self, ins: Instruction) -> None:
        return None

    def _on_arg(self, ins: Instruction) -> None:
        self.plan.stage_args.append(self._source(ins))
        for key, value in _arg_pairs(ins).items():
            self.variables.setdefault(key, value or "")

    def _on_env(self, ins: Instruction) -> None:
        pairs = list(env_pairs(ins).items())
        kept: list[tuple[str, str]] = []
        builder = False
        for key, value in pairs:
            self.variables[key] = substitute(value, self.variables)
            if key == "PATH":
                parts = value.split(":")
                venv_parts = [p for p in parts if p.endswith("/bin") and ("venv" in p or p == f"{self.plan.venv}/bin")]
                if venv_parts:
                    self.plan.venv = venv_parts[0][: -len("/bin")]
                    parts = [p for p in parts if p not in venv_parts]
                if any(".cargo/bin" in p for p in parts):
                    self.plan.uses_rust = True
                    builder = True
                    kept.append((key, ":".join(parts)))
                    continue
                if parts in (["$PATH"], ["${PATH}"], []):
                    continue
                kept.append((key, ":".join(parts)))
                continue
            if key == "VIRTUAL_ENV":
                self.plan.venv = value.rstrip("/") or self.plan.venv
                continue
            if key in HF_ENV_KEYS:
                self.plan.hf_env_lines.append(ins.line)
            if key.startswith(("PIP_", "UV_", "CARGO", "RUSTUP")):
                builder = True
            kept.append((key, value))
        if kept:
            only_cargo = all(k == "PATH" and ".cargo/bin" in v for k, v in kept)
            self.plan.env.append(EnvStep(kept, ins.line, self._source(ins), builder=builder, runtime=not only_cargo,
                                         original_pairs=list(pairs)))

    def _on_workdir(self, ins: Instruction) -> None:
        self.workdir = self._resolve(ins.value[0] if ins.value else "/")
        self.plan.workdirs.append(self.workdir)
        text = self._source(ins)
        self.plan.builder_steps.append(Step("raw", ins.line, text=text))
        self.plan.runtime_steps.append(Step("raw", ins.line, text=text))

    def _on_user(self, ins: Instruction) -> None:
        self.plan.original_user = (ins.value[0] if ins.value else "").strip()

    def _on_healthcheck(self, ins: Instruction) -> None:
        if ins.value and ins.value[0].upper() == "NONE":
            self.plan.healthcheck_none = True
            self.plan.healthcheck = None
            return
        source = self._source(ins)
        match = re.search(r"\bCMD\b", source)
        command = source[match.end():].strip() if match else " ".join(ins.value[1:])
        command = re.sub(r"\s*\\\n\s*", " ", command)
        flags = list(ins.flags)
        self.plan.healthcheck = Healthcheck(flags, command, command.startswith("["), source, ins.line)
        self.plan.healthcheck_none = False

    def _on_cmd(self, ins: Instruction) -> None:
        self.plan.cmd = re.sub(r"\s*\\\n\s*", " ", self._source(ins))

    def _on_entrypoint(self, ins: Instruction) -> None:
        self.plan.entrypoint = re.sub(r"\s*\\\n\s*", " ", self._source(ins))

    def _on_expose(self, ins: Instruction) -> None:
        self.plan.tail.append(self._source(ins))
        for value in ins.value:
            port = substitute(value, self.variables).split("/")[0]
            if port.isdigit():
                self.plan.exposed_ports.append(int(port))

    def _on_volume(self, ins: Instruction) -> None:
        self.plan.tail.append(self._source(ins))
        for value in ins.value:
            self.plan.volumes.append(self._resolve(value))

    def _on_copy(self, ins: Instruction) -> None:
        self._copy(ins)

    def _on_add(self, ins: Instruction) -> None:
        self._copy(ins)

    def _copy(self, ins: Instruction) -> None:
        plan = self.plan
        values = list(ins.value)
        if len(values) < 2:
            self.unsupported.append(f"line {ins.line}: {ins.cmd} without a destination")
            return
        sources, dest = values[:-1], values[-1]
        dest_abs = self._resolve(dest)
        if dest.endswith("/") or dest in (".", "./"):
            dest_abs = dest_abs.rstrip("/") + "/"
        spec = CopySpec(ins.cmd, list(ins.flags), sources, dest, dest_abs, ins.line)
        from_flag = ins.flag("from")
        if from_flag is not None:
            # An image used as a file source (e.g. the uv binary): the builder needs it when uv installs.
            step = Step("copy", ins.line, copy=spec)
            if "uv" in from_flag.split("/")[-1].split(":")[0]:
                plan.uses_uv = True
                plan.builder_steps.append(step)
            else:
                plan.runtime_steps.append(step)
            return
        if ins.cmd == "ADD" and any("://" in source for source in sources):
            url = sources[0]
            if len(sources) == 1 and _is_weight_path(url):
                target = dest_abs if not dest_abs.endswith("/") else dest_abs + url.rsplit("/", 1)[-1]
                plan.models.append(ModelSource(
                    "download", ins.line, self._source(ins), destination=target, workdir=self.workdir,
                    command=f"python -c \"import urllib.request; urllib.request.urlretrieve('{url}', '{target}')\"",
                    source_is_dir=False,
                ))
                return
            plan.runtime_steps.append(Step("copy", ins.line, copy=spec))
            return
        if all(_REQUIREMENT_FILE.match(PurePosixPath(source).name) for source in sources):
            builder_flags = [flag for flag in spec.flags if not flag.startswith("--chown")]  # no such user there
            plan.builder_steps.append(Step("copy", ins.line, copy=CopySpec(
                spec.cmd, builder_flags, spec.sources, spec.dest, spec.dest_abs, spec.line)))
            # The runtime keeps them too: tiny, and `uv run`, version lookups or the app may read them.
            plan.runtime_steps.append(Step("copy", ins.line, copy=spec, requirement_copy=True))
            for source in sources:
                target = dest_abs + PurePosixPath(source).name if dest_abs.endswith("/") or len(sources) > 1 else dest_abs
                self.provided[posixpath.normpath(target)] = source
            return
        if self._is_model_copy(sources, dest_abs):
            is_dir = not (len(sources) == 1 and _is_weight_path(sources[0]))
            if self.context is not None and len(sources) == 1:
                candidate = self.context / sources[0]
                if candidate.exists():
                    is_dir = candidate.is_dir()
            destination = dest_abs.rstrip("/") or "/"
            if not is_dir and dest_abs.endswith("/"):
                destination = dest_abs + PurePosixPath(sources[0]).name
            plan.models.append(ModelSource(
                "copy", ins.line, self._source(ins), sources=sources, destination=destination,
                workdir=self.workdir, source_is_dir=is_dir,
            ))
            return
        plan.runtime_steps.append(Step("copy", ins.line, copy=spec))

    def _is_model_copy(self, sources: list[str], dest_abs: str) -> bool:
        for source in sources:
            parts = [part.lower() for part in PurePosixPath(source.rstrip("/")).parts]
            if _is_weight_path(source) or (parts and parts[-1] in _MODEL_DIR_NAMES):
                return True
            if ".cache/huggingface" in source:
                return True
        dest_parts = PurePosixPath(dest_abs.rstrip("/") or "/").parts
        if dest_parts and dest_parts[-1].lower() in _MODEL_DIR_NAMES and not any(s in (".", "./") for s in sources):
            return True
        return False

    # -- RUN ----------------------------------------------------------------------------------------
    def _on_run(self, ins: Instruction) -> None:
        plan = self.plan
        source = self._source(ins)
        if ins.json_form:
            argv = list(ins.value)
            if argv and (_PIP_LAUNCHER.match(argv[0]) or "apt" in argv[0] or (len(argv) > 2 and argv[1:3] == ["-m", "pip"])):
                self.unsupported.append(f"line {ins.line}: an exec-form RUN that installs packages")
            else:
                plan.runtime_steps.append(Step("raw", ins.line, text=source))
            return
        command_text = _command_text(source)
        script = shell.scan(command_text)
        if script.complex:
            downloads = [unit for unit in script.units if self._is_model_download(unit, unit.text(command_text))]
            if downloads and not re.search(r"\b(apt-get|pip3?|useradd)\b", command_text):
                # `if [ "$DOWNLOAD_MODEL" = true ]; then python download_model.py ...; fi`: the whole RUN is the step.
                argv = downloads[0].argv
                while argv and argv[0] in ("then", "do", "else", "elif", "if", "!", "{", "("):
                    argv = argv[1:]
                plan.models.append(ModelSource(
                    "download", ins.line, _plain(command_text), destination=_download_destination(argv, self.workdir),
                    command=_plain(command_text), workdir=self.workdir,
                ))
                return
            if re.search(r"\b(apt-get|apt|pip3?|uv|venv|useradd)\b", command_text):
                self.unsupported.append(f"line {ins.line}: a RUN with shell control flow around installs")
            else:
                plan.runtime_steps.append(Step("raw", ins.line, text=source))
            return
        run_flags = list(ins.flags)
        self.run_has_apt_update = self.run_removes_lists = False
        builder: list[Piece] = []
        runtime: list[Piece] = []
        shared: set[int] = set()  # cd/export/set: replayed in whichever part keeps real commands
        for unit in script.units:
            text = unit.text(command_text)
            kind = self._classify(unit, ins.line, text)
            if kind == "pip":
                pip = self._pip_command(unit, ins.line)
                if pip is not None:
                    builder.append(Piece(pip=pip, joiner=unit.joiner or "&&"))
            elif kind == "builder":
                builder.append(Piece(text=text, joiner=unit.joiner or "&&"))
            elif kind == "both":  # a tool both stages run (uv installed with its script)
                builder.append(Piece(text=text, joiner=unit.joiner or "&&"))
                runtime.append(Piece(text=text, joiner=unit.joiner or "&&"))
            elif kind == "shared":
                for part in (builder, runtime):
                    piece = Piece(text=text, joiner="&&")
                    shared.add(id(piece))
                    part.append(piece)
            elif kind == "runtime":
                runtime.append(Piece(text=text, joiner=unit.joiner or "&&"))
        if self.run_has_apt_update and not self.run_removes_lists:
            plan.apt_lists_removed = False
        if any(id(piece) not in shared for piece in builder):
            for pip in [piece.pip for piece in builder if piece.pip]:
                self._prepare_builder_for(pip)
            plan.builder_steps.append(Step("run", ins.line, pieces=_trim_shared(builder, shared), run_flags=run_flags))
        if any(id(piece) not in shared for piece in runtime):
            if len(runtime) == len(script.units):
                plan.runtime_steps.append(Step("raw", ins.line, text=source))  # untouched: keep it as written
            else:
                flags = [flag for flag in run_flags if "type=cache" not in flag]
                plan.runtime_steps.append(Step("run", ins.line, pieces=_trim_shared(runtime, shared), run_flags=flags))

    def _classify(self, unit: shell.Unit, line: int, joined: str) -> str:
        """drop | pip | builder | shared | runtime; records packages, dirs, users and models on the way."""
        plan = self.plan
        argv = unit.argv
        if not argv:
            return "runtime"
        program = argv[0].rsplit("/", 1)[-1]
        if program in ("apt-get", "apt", "aptitude"):
            sub = next((word for word in argv[1:] if not word.startswith("-")), "")
            if sub == "install":
                packages = [word for word in argv[argv.index("install") + 1:] if not word.startswith("-")]
                if any("$" in package or "`" in package for package in packages):
                    self.unsupported.append(f"line {line}: apt packages named through variables")
                for package in packages:
                    if package not in plan.apt_packages:
                        plan.apt_packages.append(package)
                plan.apt_lines.append(line)
                if "--no-install-recommends" not in argv:
                    plan.apt_flags_ok = False
                return "drop"
            if sub == "update":
                self.run_has_apt_update = True
            if sub in ("update", "clean", "autoclean", "autoremove", "purge", "remove", "upgrade", "dist-upgrade"):
                return "drop"
            return "runtime"
        if program == "rm" and any(path.startswith(("/var/lib/apt/lists", "/var/cache/apt", "/root/.cache", "~/.cache", "/tmp/*")) for path in argv[1:]):
            if any(path.startswith("/var/lib/apt/lists") for path in argv[1:]):
                self.run_removes_lists = True
            return "drop"
        if program in ("pip", "pip3") or _PIP_LAUNCHER.match(argv[0]) or (_PYTHON.match(argv[0]) and argv[1:3] == ["-m", "pip"]):
            sub = _pip_subcommand(argv)
            if sub == "install":
                return "pip"
            if sub in ("cache", "config"):
                return "drop"
            return "builder"
        if program == "uv":
            if argv[1:3] == ["pip", "install"]:
                plan.uses_uv = True
                return "pip"
            if len(argv) > 1 and argv[1] == "venv":
                self._record_venv(argv[2:])
                return "drop"
            if len(argv) > 1 and argv[1] == "sync":
                plan.uses_uv = True
                return "pip"
            return "builder"
        if "astral.sh/uv" in joined or re.search(r"/\.local/bin/uvx?\b|/\.cargo/bin/uvx?\b", joined):
            plan.uses_uv = True
            if "curl" in joined and "curl" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("curl")
            return "both"
        if (_PYTHON.match(argv[0]) and argv[1:3] == ["-m", "venv"]) or program == "virtualenv":
            self._record_venv(argv[3:] if program != "virtualenv" else argv[1:])
            return "drop"
        if any(cmd.argv and cmd.argv[0].rsplit("/", 1)[-1] in ("curl", "wget") for cmd in unit.commands) and "rustup" in joined:
            plan.uses_rust = True
            if "curl" in joined and "curl" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("curl")
            return "builder"
        if program in ("rustup", "cargo") and not (len(argv) > 1 and argv[1] in ("build", "install")):
            plan.uses_rust = True
            return "builder"
        if self._is_model_download(unit, joined):
            plan.models.append(ModelSource(
                "download", line, joined, destination=_download_destination(argv, self.workdir),
                command=joined, workdir=self.workdir,
            ))
            return "drop"
        if program == "git" and len(argv) > 1 and argv[1] == "clone":
            if "git" not in plan.builder_extra_packages:
                plan.builder_extra_packages.append("git")
            return "builder"
        if program in ("cd", "export", "set", "umask"):
            return "shared"
        if program == "mkdir":
            kept = True
            for path in argv[1:]:
                if not path.startswith("-") and not _is_mode_value(argv, path):
                    kept = self._add_writable(path) and kept
            return "drop" if kept else "runtime"  # e.g. mkdir -p /usr/share/x: a system path, not the app's
        if program in ("useradd", "adduser", "groupadd", "addgroup"):
            if program in ("useradd", "adduser"):
                self._record_user(argv)
            return "drop"
        if program == "chmod":
            operands = [word for word in argv[1:] if not word.startswith("-") or _WORLD_WRITABLE.match(word)]
            if len(operands) >= 2 and _WORLD_WRITABLE.match(operands[0]):
                paths = [self._resolve(path) for path in operands[1:]]
                if all(path in plan.writable_dirs for path in paths):
                    plan.dropped_chmods.append(f"{operands[0]} {' '.join(operands[1:])}")
                    return "drop"
            return "runtime"
        if program == "chown":
            paths = [word for word in argv[1:] if not word.startswith("-")][1:]
            for path in paths:
                self._add_writable(path)
            return "drop"
        if program in _BUILD_TOOL_COMMANDS:
            self.unsupported.append(f"line {line}: `{_plain(joined)[:60]}` builds something outside pip")
            return "runtime"
        return "runtime"

    def _is_model_download(self, unit: shell.Unit, joined: str) -> bool:
        argv = unit.argv
        while argv and argv[0] in ("then", "do", "else", "elif", "if", "!", "{", "("):
            argv = argv[1:]  # `then python download_model.py` inside an if
        if not argv:
            return False
        program = argv[0].rsplit("/", 1)[-1]
        if program in ("huggingface-cli", "hf") and "download" in argv[1:3]:
            return True
        if _PYTHON.match(argv[0]):
            if "-c" in argv and _MODEL_CODE.search(joined):
                return True
            scripts = [word for word in argv[1:] if word.endswith(".py")]
            if scripts and re.search(r"download|fetch|prefetch|warm", scripts[0], re.IGNORECASE) and re.search(r"model|weight|voice", scripts[0], re.IGNORECASE):
                return True
        if program in ("curl", "wget") and any(_is_weight_path(word) or "huggingface.co" in word for word in argv[1:]):
            return True
        if program == "git" and (("clone" in argv and "huggingface.co" in joined) or argv[1:3] == ["lfs", "pull"]):
            return True
        return False

    def _pip_command(self, unit: shell.Unit, line: int) -> PipCommand | None:
        if len(unit.commands) > 1:
            self.unsupported.append(f"line {line}: a pip install inside a pipeline")
            return None
        words = unit.commands[0].words
        values = [word.value for word in words]
        # Leading VAR=value assignments stay with the launcher.
        start = 0
        while start < len(values) - 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", values[start]):
            start += 1
        subcommand = "sync" if values[start].rsplit("/", 1)[-1] == "uv" and "sync" in values[start:start + 2] else "install"
        install_at = values.index(subcommand, start)
        launcher = [word.raw for word in words[: install_at + 1]]
        args = [Arg(word.raw, word.value) for word in words[install_at + 1:]]
        tool = "uv" if values[start].rsplit("/", 1)[-1] == "uv" else "pip"
        pip = PipCommand(launcher, args, tool, line, self.workdir, sync=subcommand == "sync")
        bad = [value for value in pip.values if value in _PIP_UNSUPPORTED or value.split("=", 1)[0] in _PIP_UNSUPPORTED]
        if bad:
            self.unsupported.append(f"line {line}: pip install {bad[0]} installs outside the venv")
        return pip

    def _prepare_builder_for(self, pip: PipCommand) -> None:
        """Make the files this install reads available in the builder, and read what it installs."""
        plan = self.plan
        needs_sources = False
        # Any app COPY before an install means a code change re-runs the install (BO115 in the original).
        self.app_copy_before_install.extend(step.line for step in plan.app_copies)
        for package in pip.packages:
            plan.add_requirement(parse_requirement(package), pip)
        for path in pip.requirement_files + pip.constraint_files:
            target = posixpath.normpath(posixpath.join(pip.workdir, substitute(path, self.variables)))
            context_source = self.provided.get(target) or self._locate_in_app_copies(target)
            if context_source is None:
                needs_sources = True
                plan.unread_requirements.append(path)
                # Still read what it would install, from the same path at the context root (as analyze does).
                fallback = self.context / path if self.context is not None else None
                if fallback is not None and fallback.is_file() and path in pip.requirement_files:
                    for requirement in read_requirements(fallback, root=self.context).requirements:
                        plan.add_requirement(requirement, pip)
                continue
            if target not in self.provided:
                spec = CopySpec("COPY", [], [context_source], target, target, pip.line)
                plan.builder_steps.append(Step("copy", pip.line, copy=spec, absolute=True))
                self.provided[target] = context_source
            if self.context is None:
                plan.unread_requirements.append(path)
                continue
            read = read_requirements(self.context / context_source, root=self.context)
            pip.file_index_urls.extend(read.index_urls + read.extra_index_urls + read.find_links)
            if path in pip.requirement_files:
                for requirement in read.requirements:
                    plan.add_requirement(requirement, pip)
            if read.missing:
                plan.unread_requirements.extend(read.missing)
            for nested in read.files[1:]:
                try:
                    nested_source = nested.resolve().relative_to(self.context.resolve()).as_posix()
                except ValueError:
                    continue
                relative = posixpath.relpath(nested_source, posixpath.dirname(context_source) or ".")
                nested_target = posixpath.normpath(posixpath.join(posixpath.dirname(target), relative))
                if nested_target not in self.provided:
                    spec = CopySpec("COPY", [], [nested_source], nested_target, nested_target, pip.line)
                    plan.builder_steps.append(Step("copy", pip.line, copy=spec, absolute=True))
                    self.provided[nested_target] = nested_source
            if any(is_local_target(target) for target in read.local_paths + read.editables):
                needs_sources = True
        if pip.sync:
            needs_sources = self._prepare_sync(pip) or needs_sources
        for target in pip.local_targets:
            project_path, extras = split_local_target(target)
            project_abs = posixpath.normpath(posixpath.join(pip.workdir, project_path))
            context_dir = self._locate_in_app_copies(project_abs, directory=True)
            skeleton = project_skeleton(self.context / context_dir) if context_dir is not None and self.context else None
            if skeleton is None:
                needs_sources = True
            else:
                self._copy_skeleton(context_dir, project_abs, skeleton, pip.line)
            if context_dir is not None and self.context is not None:
                project = read_project(self.context / context_dir)
                if project is not None:
                    _, extra_requirements = project.expand_extras(extras)
                    for requirement in [*project.dependencies, *extra_requirements]:
                        plan.add_requirement(requirement, pip)
                    pip.file_index_urls.extend(project.index_urls)
                    for extra in project.extras:
                        if extra not in plan.project_extras:
                            plan.project_extras.append(extra)
        if needs_sources:
            self._replicate_sources()

    def _prepare_sync(self, pip: PipCommand) -> bool:
        """`uv sync`: read the project in the working directory; True when the builder needs its sources."""
        plan = self.plan
        target = posixpath.join(pip.workdir, "pyproject.toml")
        source = self.provided.get(target) or self._locate_in_app_copies(target)
        if source is None or self.context is None:
            return True
        directory = self.context / (posixpath.dirname(source) or ".")
        project = read_project(directory)
        if project is None:
            return True
        extras = set(pip.option_values("--extra"))
        if pip.has("--all-extras"):
            extras = set(project.extras)
        _, extra_requirements = project.expand_extras(extras)
        for requirement in [*project.dependencies, *extra_requirements]:
            plan.add_requirement(requirement, pip)
        pip.file_index_urls.extend(project.index_urls)
        try:
            data = tomllib.loads(read_text(directory / "pyproject.toml", what="pyproject.toml"))
        except (BadInput, tomllib.TOMLDecodeError):
            return True
        uv = (data.get("tool") or {}).get("uv") or {}
        groups = data.get("dependency-groups") or {}
        pip.dev_group = bool(groups.get("dev") or uv.get("dev-dependencies"))
        is_package = uv.get("package", "build-system" in data) is not False
        if not is_package:
            return False
        skeleton = project_skeleton(directory)
        if skeleton is None:
            return True
        self._copy_skeleton(posixpath.dirname(source) or ".", pip.workdir, skeleton, pip.line)
        return False

    def _copy_skeleton(self, context_dir: str, project_abs: str, skeleton: list[str], line: int) -> None:
        """COPY only what building the project needs (metadata files, package dirs), as the audits do."""
        files = [entry for entry in skeleton if not entry.endswith("/")]
        dirs = [entry for entry in skeleton if entry.endswith("/")]
        prefix = "" if context_dir in (".", "") else context_dir.rstrip("/") + "/"
        dest = project_abs.rstrip("/") + "/"
        if files:
            spec = CopySpec("COPY", [], [prefix + name for name in files], dest, dest, line)
            self.plan.builder_steps.append(Step("copy", line, copy=spec, absolute=True))
        for directory in dirs:
            target = dest + directory
            spec = CopySpec("COPY", [], [prefix + directory], target, target, line)
            self.plan.builder_steps.append(Step("copy", line, copy=spec, absolute=True))

    def _replicate_sources(self) -> None:
        plan = self.plan
        plan.sources_in_builder = True
        for step in plan.app_copies:
            if step.line in self.replicated or step.copy is None:
                continue
            self.replicated.add(step.line)
            spec = step.copy
            flags = [flag for flag in spec.flags if not flag.startswith("--chown")]
            plan.builder_steps.append(Step("copy", step.line, absolute=True, copy=CopySpec(
                spec.cmd, flags, spec.sources, spec.dest, spec.dest_abs, spec.line)))

    def _locate_in_app_copies(self, target: str, directory: bool = False) -> str | None:
        """The context path of the file (or dir) that an earlier app COPY put at `target`."""
        for step in reversed(self.plan.app_copies):
            spec = step.copy
            if spec is None or spec.cmd != "COPY" or len(spec.sources) != 1:
                continue
            dest = spec.dest_abs.rstrip("/") or "/"
            source = spec.sources[0].rstrip("/") or "."
            if target == dest:
                if directory:
                    return source
                if self.context is not None and (self.context / source).is_file():
                    return source  # COPY entrypoint.sh /app/entrypoint.sh
            if target.startswith(dest.rstrip("/") + "/"):
                relative = target[len(dest.rstrip("/")) + 1:]
                candidate = posixpath.normpath(posixpath.join(source, relative))
                if self.context is None:
                    return None
                path = self.context / candidate
                if (directory and path.is_dir()) or (not directory and path.is_file()):
                    return candidate
        return None

    def _record_venv(self, args: list[str]) -> None:
        paths = [arg for arg in args if not arg.startswith("-")]
        if paths:
            self.plan.venv = self._resolve(paths[0])

    def _record_user(self, argv: list[str]) -> None:
        names = [word for i, word in enumerate(argv[1:], start=1) if not word.startswith("-") and argv[i - 1] not in (
            "-u", "--uid", "-g", "--gid", "-G", "--groups", "-d", "--home", "--home-dir", "-s", "--shell", "-c", "--comment",
            "--gecos", "--ingroup", "-h", "-k", "--skel")]
        if names:
            self.plan.user_name = names[-1]
        for flag in ("-u", "--uid"):
            if flag in argv and argv.index(flag) + 1 < len(argv) and argv[argv.index(flag) + 1].isdigit():
                self.plan.uid = int(argv[argv.index(flag) + 1])
                self.plan.uid_from_original = self.plan.uid

    def _drop_covered_requirement_copies(self) -> None:
        """A runtime copy of requirements.txt is redundant when a later `COPY . <same dir>` brings it again."""
        steps = self.plan.runtime_steps
        kept = []
        for index, step in enumerate(steps):
            if step.requirement_copy and step.copy is not None:
                directory = step.copy.dest_abs if step.copy.dest_abs.endswith("/") else posixpath.dirname(step.copy.dest_abs) + "/"
                if any(later.copy is not None and later in self.plan.app_copies and later.copy.sources in (["."], ["./"])
                       and later.copy.dest_abs.rstrip("/") + "/" == directory for later in steps[index + 1:]):
                    continue
            kept.append(step)
        self.plan.runtime_steps = kept

    def _entry_script(self) -> str | None:
        """The text of the script CMD/ENTRYPOINT starts (`./entrypoint.sh`), read from the context."""
        for text in (self.plan.entrypoint, self.plan.cmd):
            if not text:
                continue
            body = re.sub(r"^\s*(CMD|ENTRYPOINT)\s+", "", text)
            try:
                words = json.loads(body) if body.startswith("[") else body.split()
            except ValueError:
                continue
            words = [str(word) for word in words if str(word) not in ("sh", "bash", "/bin/sh", "/bin/bash", "-c")]
            if not words or not words[0].endswith(".sh"):
                continue
            target = posixpath.normpath(posixpath.join(self.plan.final_workdir, words[0]))
            source = self._locate_in_app_copies(target)
            if source is not None and self.context is not None:
                path = self.context / source
                if path.stat().st_size < 100_000:
                    return read_text(path, errors="replace", what="script")
        return None

    def _models_in_broad_copies(self) -> None:
        """Weight files an app COPY of a directory would bring (`COPY . .` with models/ in the context)."""
        if self.context is None:
            return
        ignore = _dockerignore(self.context)
        for step in self.plan.app_copies:
            spec = step.copy
            if spec is None or spec.cmd != "COPY" or len(spec.sources) != 1 or not spec.dest_abs.endswith("/") and spec.sources[0] not in (".", "./"):
                continue
            source = posixpath.normpath(spec.sources[0]).lstrip("/") or "."
            found = [path for path in weight_files(self.context, source) if not (ignore and ignore.excludes(path))]
            groups: dict[str, list[str]] = {}
            for path in found:
                relative = path if source == "." else posixpath.relpath(path, source)
                top = relative.split("/", 1)[0]
                groups.setdefault(top, []).append(path)
            for top, paths in groups.items():
                is_dir = "/" in posixpath.relpath(paths[0], source if source != "." else ".")
                context_path = top if source == "." else f"{source}/{top}"
                if any(posixpath.normpath(source) == context_path for model in self.plan.models for source in model.sources):
                    continue
                destination = posixpath.join(spec.dest_abs.rstrip("/") or "/", top)
                self.plan.models.append(ModelSource(
                    "copy", step.line, spec.render(), sources=[context_path], destination=destination,
                    workdir=self.workdir, source_is_dir=is_dir, inside_app_copy=True,
                ))

    def _add_writable(self, path: str) -> bool:
        """Record a dir the app may write to; False when it is a system path left to the original command."""
        if path.startswith("$") and "/" not in path:
            return False
        resolved = self._resolve(path)
        if resolved in _NOT_CHOWNABLE or resolved.startswith(_SYSTEM_DIRS):
            return False
        if resolved not in self.plan.writable_dirs:
            self.plan.writable_dirs.append(resolved)
        if self.line not in self.plan.writable_dir_lines:
            self.plan.writable_dir_lines.append(self.line)
        return True

    # -- after the walk -----------------------------------------------------------------------------
    def _finish(self) -> None:
        plan = self.plan
        if plan.original_user:
            name = plan.original_user.split(":", 1)[0]
            if name.isdigit():
                if int(name) != 0:
                    plan.uid = int(name)
                    plan.uid_from_original = plan.uid
            elif name != "root":
                plan.user_name = name
        plan.broad_copy_before_install = sorted(set(self.app_copy_before_install))
        self._models_in_broad_copies()
        plan.entry_script = self._entry_script()
        self._drop_covered_requirement_copies()
        for volume in plan.volumes:
            if volume not in plan.writable_dirs and volume not in _NOT_CHOWNABLE:
                plan.writable_dirs.append(volume)
        # Drop builder WORKDIRs after the last thing the builder does: they only cost a line.
        last = max((i for i, step in enumerate(plan.builder_steps) if step.kind != "raw"), default=-1)
        plan.builder_steps = plan.builder_steps[: last + 1]
        # A builder that only replays WORKDIRs does nothing.
        if not any(step.kind != "raw" for step in plan.builder_steps):
            plan.builder_steps = []


def _dockerignore(context: Path):
    from ..rules.buildcontext import DockerIgnore

    path = context / ".dockerignore"
    try:
        return DockerIgnore.parse(read_text(path, errors="replace", what=".dockerignore")) if path.is_file() else None
    except BadInput:
        return None


def project_skeleton(directory: Path) -> list[str] | None:
    """What `pip install .` of this project reads: metadata files and package dirs ("pkg/"), or None when the
    layout isn't explicit enough to tell (then the builder copies the sources whole)."""
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(read_text(pyproject, what="pyproject.toml"))
    except (BadInput, tomllib.TOMLDecodeError):
        return None
    files = [name for name in ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in") if (directory / name).is_file()]
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    for key in ("readme", "license"):
        value = project.get(key)
        name = value if isinstance(value, str) and key == "readme" else (value.get("file") if isinstance(value, dict) else None)
        if isinstance(name, str) and (directory / name).is_file() and name not in files:
            files.append(name)
    backend = str((data.get("build-system") or {}).get("build-backend", ""))
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    dirs: list[str] = []
    if backend.startswith("setuptools") or not backend:
        setuptools = tool.get("setuptools") if isinstance(tool.get("setuptools"), dict) else {}
        for value in (setuptools.get("dynamic") or {}).values():
            names = value.get("file") if isinstance(value, dict) else None
            for name in [names] if isinstance(names, str) else (names or []):
                if isinstance(name, str) and (directory / name).is_file() and name not in files:
                    files.append(name)
        packages = setuptools.get("packages")
        if isinstance(packages, list):
            dirs = sorted({str(name).split(".")[0] for name in packages})
        elif isinstance(packages, dict) and isinstance(packages.get("find"), dict):
            find = packages["find"]
            include = find.get("include") or ["*"]
            exclude = find.get("exclude") or []
            for where in find.get("where") or ["."]:
                if where not in (".", ""):
                    dirs.append(where.strip("/"))
                    continue
                for entry in sorted(directory.iterdir()):
                    if (entry.is_dir() and (entry / "__init__.py").is_file()
                            and any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in include)
                            and not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in exclude)):
                        dirs.append(entry.name)
        elif (directory / "src").is_dir():
            dirs = ["src"]
        for module in setuptools.get("py-modules") or []:
            if (directory / f"{module}.py").is_file():
                files.append(f"{module}.py")
    elif backend.startswith("hatchling"):
        wheel = (((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel") or {}
        packages = wheel.get("packages")
        if isinstance(packages, list):
            dirs = [str(path).strip("/") for path in packages]
        elif (directory / "src").is_dir():
            dirs = ["src"]
    if not dirs or not all((directory / name).is_dir() for name in dirs):
        return None
    return files + [name.rstrip("/") + "/" for name in dirs]


def weight_files(context: Path, source: str, limit: int = 20000) -> list[str]:
    """Weight files under a context dir, context-relative (venvs and .git skipped; stops after `limit` files)."""
    root = context / source
    if not root.is_dir():
        return []
    found: list[str] = []
    seen = 0
    base = context.resolve()
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".venv", "venv", "node_modules", "__pycache__"))
        for name in sorted(filenames):
            seen += 1
            if seen > limit:
                return found
            if name.lower().endswith(WEIGHT_EXTENSIONS):
                found.append(Path(directory, name).resolve().relative_to(base).as_posix())
    return found


def _arg_pairs(ins: Instruction) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for token in ins.value:
        key, sep, value = token.partition("=")
        pairs[key] = value.strip("\"'") if sep else None
    return pairs


def _trim_shared(pieces: list[Piece], shared: set[int]) -> list[Piece]:
    """Drop cd/export pieces that come after the last real command: they no longer do anything."""
    last = max((i for i, piece in enumerate(pieces) if id(piece) not in shared), default=-1)
    return pieces[: last + 1]


def _command_text(source: str) -> str:
    """The shell part of a RUN as written: keyword and flags removed, continuations kept."""
    match = re.match(r"^\s*RUN\b", source, re.IGNORECASE)
    position = match.end() if match else 0
    while True:
        skipped = re.match(r"(?:[ \t]+|\\\n)+", source[position:])
        if skipped:
            position += skipped.end()
        flag = re.match(r"--[^\s\\]+", source[position:])
        if not flag:
            break
        position += flag.end()
    return source[position:]


def _pip_subcommand(argv: list[str]) -> str:
    words = argv[3:] if argv[1:3] == ["-m", "pip"] else argv[1:]
    return next((word for word in words if not word.startswith("-")), "")


def _is_weight_path(path: str) -> bool:
    return path.lower().split("?", 1)[0].rstrip("/").endswith(WEIGHT_EXTENSIONS)


def _is_mode_value(argv: list[str], word: str) -> bool:
    index = argv.index(word)
    return index > 0 and argv[index - 1] in ("-m", "--mode")


def _plain(text: str) -> str:
    return re.sub(r"\s*\\\n\s*", " ", text).strip()


def _download_destination(argv: list[str], workdir: str) -> str | None:
    for flag in ("--local-dir", "--cache-dir", "-O", "-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            return posixpath.normpath(posixpath.join(workdir, argv[argv.index(flag) + 1]))
        for word in argv:
            if word.startswith(flag + "=") and flag.startswith("--"):
                return posixpath.normpath(posixpath.join(workdir, word.split("=", 1)[1]))
    return None
