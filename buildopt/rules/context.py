"""What rules see: the parsed Dockerfile, the stages that end up in the final image, the state each
instruction runs in (ENV, ARG, WORKDIR, USER), the files COPY brought from the context, and the
requirements a pip install reads.

One pass over the stages in file order (a stage can only be built FROM an earlier one) computes the
state; RUN sites keep only the variables they reference plus the few rules look up, so the pass stays
linear in the file size.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

from .. import engine as docker_engine
from ..dockerfile import (
    Dockerfile,
    Instruction,
    Stage,
    arg_pairs,
    env_pairs,
    substitute,
)
from ..knowledge import (
    GPU_ENV,
    TORCH_ENV,
    drops_privileges,
    known_image,
    privilege_drop,
)
from ..requirements import (
    ProjectInfo,
    Requirement,
    RequirementSet,
    is_local_target,
    parse_requirement,
    read_project,
    read_requirements,
    split_local_target,
)
from ..shell import (
    PackageInvocation,
    PipInvocation,
    dequote,
    package_invocations,
    pip_invocations,
    program,
    python_code,
    simple_commands,
)
from .buildcontext import BuildContext, load_context

_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# A variable in FROM, with its `:-default` / `:+alt` operator when there is one.
_FROM_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?[^}]*\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_S6_SERVICE = re.compile(r"(^|/)(s6-rc\.d|services\.d)/[^/]+/(run|up)$")
_SCRIPT_LIMIT = 512 * 1024
# Variables rules look up at a RUN besides the ones it references itself.
WATCHED_ENV = frozenset({
    "PIP_NO_CACHE_DIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_NO_CACHE", "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_TORCH_BACKEND", "PIP_CACHE_DIR", "UV_CACHE_DIR",
    "HF_HOME", "TRANSFORMERS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "SENTENCE_TRANSFORMERS_HOME",
    "TORCH_HOME", "XDG_CACHE_HOME", "HOME",
})
_PYTHON_HEREDOC_CONSUMER = re.compile(r"(?:^|[\s;&|(])(?:\S*/)?python(?:\d+(?:\.\d+)?)?\b[^<]*<<-?\s*[\"']?(\w+)")


@dataclass
class Mount:
    type: str
    target: str
    source: str
    from_: str | None


@dataclass
class RunSite:
    """One RUN (not ONBUILD) with the state it runs in."""

    ins: Instruction
    stage: Stage
    workdir: str
    env: dict[str, str]  # the variables the RUN references, plus WATCHED_ENV, ARGs included
    text: str  # everything the RUN executes: the line and heredoc bodies
    commands: list[list[str]]  # simple shell commands (python heredoc bodies excluded)
    python_code: str  # code given to python -c, or as a heredoc to python
    mounts: list[Mount]
    user: str | None = None  # the USER it runs as (ARG/ENV substituted); None = the base image's user
    dependency_install: tuple[bool, bool] | None = field(default=None, repr=False, compare=False)  # rules.dependencies' cache

    @cached_property
    def pips(self) -> list[PipInvocation]:
        """pip/uv calls (computed once, shared by every rule)."""
        if "pip" not in self.text and "uv" not in self.text:
            return []
        return pip_invocations(self.commands)

    @cached_property
    def packages(self) -> list[PackageInvocation]:
        """apt/apk/yum/dnf/zypper calls (computed once, shared by every rule)."""
        if not any(tool in self.text for tool in ("apt", "apk", "yum", "dnf", "zypper", "aptitude")):
            return []
        return package_invocations(self.commands)

    def expand(self, text: str) -> str:
        return substitute(text, self.env) if "$" in text else text


@dataclass
class CopyRecord:
    ins: Instruction
    sources: list[str]
    dest: str  # absolute path in the image
    dest_is_dir: bool
    from_: str | None  # --from value, None = the build context
    chown: str | None


@dataclass(frozen=True)
class BaseImageFacts:
    """What the image a stage is built FROM says about itself: from the local engine (`docker image inspect`, when
    it holds the image), else from knowledge.KNOWN_IMAGES, else nothing (source None)."""

    ref: str
    user: str = ""  # Config.User: "" = root
    env: tuple[tuple[str, str], ...] = ()
    gpu: bool = False  # a CUDA/ROCm image
    ships_torch: bool = False  # torch (a GPU build) already installed
    source: str | None = None  # "engine" | "table" | None


@dataclass
class StageFacts:
    stage: Stage
    parent: StageFacts | None  # the local stage it is built FROM
    base: BaseImageFacts | None = None  # the image it is built FROM when that isn't a local stage
    base_unresolved: bool = False  # FROM names a build arg with no value in the file (`ARG FROM` / `FROM ${FROM}`)
    base_candidates: list[Stage] = field(default_factory=list)  # local stages a FROM with a build arg can pick
    env: dict[str, str] = field(default_factory=dict)  # at the end of the stage, inherited included
    env_origin: dict[str, Instruction] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)  # this stage's ARGs (not inherited: ARG scope is the stage)
    workdir: str = "/"
    user: tuple[str, Instruction] | None = None  # last USER, inherited included
    healthcheck: Instruction | None = None  # last HEALTHCHECK, inherited included
    entrypoint: Instruction | None = None  # last ENTRYPOINT, inherited included
    cmd: Instruction | None = None  # last CMD, inherited included
    volumes: list[tuple[str, Instruction]] = field(default_factory=list)  # inherited included
    runs: list[RunSite] = field(default_factory=list)  # this stage's own
    copies: list[CopyRecord] = field(default_factory=list)  # this stage's own

    def chain(self) -> list[StageFacts]:
        """This stage and its local parents, nearest first."""
        chain: list[StageFacts] = []
        current: StageFacts | None = self
        while current is not None:
            chain.append(current)
            current = current.parent
        return chain

    @property
    def root_base(self) -> str:
        """The image at the bottom of the local FROM chain."""
        return self.chain()[-1].stage.base_resolved

    @property
    def root(self) -> StageFacts:
        """The stage at the bottom of the local FROM chain (its `base` is the image everything starts from)."""
        return self.chain()[-1]

    @property
    def effective_user(self) -> str | None:
        """The user the stage's containers run as: its last USER, else the base image's (None: not known)."""
        if self.user is not None:
            return self.user[0]
        base = self.root.base
        return base.user if base is not None and base.source is not None else None


@dataclass
class LocalInstall:
    """`pip install .[extras]` / `-e ./pkg`: the project it points at in the context, when found."""

    target: str
    extras: frozenset[str]
    project: ProjectInfo | None
    expanded_extras: list[str]
    requirements: list[Requirement]


@dataclass
class PipInstall:
    """One pip/uv install at a RUN site, with what it installs as far as the context tells."""

    site: RunSite
    call: PipInvocation
    direct: list[Requirement]  # named on the command line
    files: RequirementSet  # what -r/-c files hold (empty without --context)
    locals: list[LocalInstall]
    unresolved_files: list[str]  # -r files that couldn't be read (no --context, or not found)
    _index_urls: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def requirements(self) -> list[Requirement]:
        """What the install brings: named packages, requirement files, and the dependencies of local projects
        (unless --no-deps: then a project is installed alone)."""
        found = list(self.direct) + list(self.files.requirements)
        if not self.call.has("--no-deps"):
            for local in self.locals:
                found.extend(local.requirements)
        return found

    def index_urls(self) -> list[str]:
        """Every index or find-links location this install can take wheels from (ARG/ENV expanded)."""
        if self._index_urls is not None:
            return self._index_urls
        urls: list[str] = []
        for option in ("--index-url", "--extra-index-url", "--find-links", "--index", "--default-index"):
            urls.extend(self.site.expand(value) for value in self.call.values(option))
        urls.extend(self.files.index_urls + self.files.extra_index_urls + self.files.find_links)
        for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
                     "UV_INDEX", "UV_DEFAULT_INDEX"):
            if self.site.env.get(name):
                urls.extend(self.site.env[name].split())
        self._index_urls = urls
        return urls

    @property
    def torch_backend(self) -> str | None:
        values = self.call.values("--torch-backend")
        return self.site.expand(values[-1]) if values else self.site.env.get("UV_TORCH_BACKEND")


class RuleContext:
    """Everything a rule's check() may look at. Built once per analysis by `build_context`."""

    def __init__(self, dockerfile: Dockerfile, facts: list[StageFacts], context: BuildContext | None, today: date):
        self.dockerfile = dockerfile
        self.stages_by_name = stage_names(dockerfile)
        self.facts = facts
        self.context = context
        self.today = today
        self.final = facts[-1]
        self._installs: dict[int, list[PipInstall]] = {}
        self._projects: dict[Path, ProjectInfo | None] = {}  # a file is read once per analysis
        self._requirement_files: dict[Path, RequirementSet] = {}

    @cached_property
    def shipped(self) -> list[StageFacts]:
        """Stages whose files end up in the final image: the final stage, its local FROM chain, and stages
        copied whole into it (`COPY --from=x / /`). Root first."""
        chosen: dict[int, StageFacts] = {}
        pending = [self.final]
        while pending:
            facts = pending.pop()
            for member in facts.chain():
                if member.stage.index in chosen:
                    continue
                chosen[member.stage.index] = member
                for copy in member.copies:
                    if copy.from_ is not None and any(src.strip("/.") == "" for src in copy.sources):
                        source = self.stage_facts_named(copy.from_)
                        if source is not None:
                            pending.append(source)
        return [chosen[index] for index in sorted(chosen)]

    @cached_property
    def shipped_indexes(self) -> frozenset[int]:
        return frozenset(f.stage.index for f in self.shipped)

    def is_shipped(self, stage: Stage) -> bool:
        return stage.index in self.shipped_indexes

    def stage_facts_named(self, name: str) -> StageFacts | None:
        if name.isdigit() and int(name) < len(self.facts):
            return self.facts[int(name)]
        stage = self.stage_named(name)
        return self.facts[stage.index] if stage is not None else None

    def stage_named(self, name: str) -> Stage | None:
        """Dockerfile.stage_named through a dict: the same answer (first stage with that alias, any case)."""
        return self.stages_by_name.get(name.lower())

    def runs(self, *, shipped_only: bool = False):
        for facts in self.facts:
            if shipped_only and not self.is_shipped(facts.stage):
                continue
            yield from facts.runs

    def copies(self, *, shipped_only: bool = False):
        for facts in self.facts:
            if shipped_only and not self.is_shipped(facts.stage):
                continue
            yield from facts.copies

    # ---- requirements ------------------------------------------------------------------------------

    def installs(self, site: RunSite) -> list[PipInstall]:
        key = id(site)
        if key not in self._installs:
            self._installs[key] = [self._install(site, call) for call in site.pips if call.installs]
        return self._installs[key]

    def _install(self, site: RunSite, call: PipInvocation) -> PipInstall:
        direct: list[Requirement] = []
        locals_: list[LocalInstall] = []
        for target in call.targets + call.values("--editable"):
            expanded = site.expand(target)
            if is_local_target(expanded):
                locals_.append(self._local(site, expanded))
            else:
                req = parse_requirement(expanded)
                if req is not None:
                    direct.append(req)
        if call.subcommand == "sync":  # uv sync: the project in the working directory, with --extra ...
            local = self._local(site, ".")
            local.extras = frozenset(call.values("--extra"))
            if local.project is not None:
                local.expanded_extras, extra_reqs = local.project.expand_extras(local.extras)
                local.requirements = list(local.project.dependencies) + extra_reqs
            locals_.append(local)
        files = RequirementSet()
        unresolved = []
        for option in ("--requirement", "--constraint"):
            for ref in call.values(option):
                path = self.context_path(site, site.expand(ref))
                if path is None or not path.is_file():
                    unresolved.append(ref)
                    continue
                read = self._requirement_files.get(path)
                if read is None:
                    read = self._requirement_files[path] = read_requirements(path, root=self.context.root if self.context else None)
                if option == "--constraint":  # a constraints file only narrows versions: nothing it names gets installed
                    files.constraints.extend(read.requirements + read.constraints)
                    files.files.extend(read.files)
                else:
                    files.extend(read)
        for target in files.local_paths + files.editables:
            if is_local_target(target):
                locals_.append(self._local(site, target))
        return PipInstall(site, call, direct, files, locals_, unresolved)

    def _local(self, site: RunSite, target: str) -> LocalInstall:
        path, extras = split_local_target(target)
        project = None
        directory = self.context_path(site, path)
        if directory is not None and directory.is_dir():
            if directory not in self._projects:
                self._projects[directory] = read_project(directory)
            project = self._projects[directory]
        expanded: list[str] = []
        requirements: list[Requirement] = []
        if project is not None:
            expanded, requirements = project.expand_extras(extras)
            requirements = list(project.dependencies) + requirements
        return LocalInstall(target, extras, project, expanded, requirements)

    def context_path(self, site: RunSite, image_path: str) -> Path | None:
        """The file in the build context that `image_path` (as seen by the RUN) came from, if any.

        Follows bind mounts of the RUN, then COPY/ADD from the context in the stage and its parents
        (latest first); falls back to the same relative path, then the same file name, at the context root.
        """
        if self.context is None:
            return None
        root = self.context.root
        absolute = posixpath.normpath(posixpath.join(site.workdir, image_path))
        for mount in site.mounts:
            if mount.type == "bind" and mount.from_ is None and mount.target:
                target = posixpath.normpath(posixpath.join(site.workdir, mount.target))
                hit = _map_path(absolute, target, True, [mount.source or "."], root)
                if hit is not None:
                    return hit
        return self._copied_from(self.facts[site.stage.index], absolute, image_path, site.workdir, site.ins.line)

    def image_file(self, facts: StageFacts, image_path: str) -> Path | None:
        """The context file that sits at `image_path` in the stage's image (relative paths from its last WORKDIR)."""
        if self.context is None:
            return None
        absolute = posixpath.normpath(posixpath.join(facts.workdir, image_path))
        return self._copied_from(facts, absolute, image_path, facts.workdir, None)

    def _copied_from(self, facts: StageFacts, absolute: str, image_path: str, workdir: str,
                     before_line: int | None) -> Path | None:
        root = self.context.root  # type: ignore[union-attr]
        for member in facts.chain():
            for copy in reversed(member.copies):
                if copy.from_ is not None or (member is facts and before_line is not None and copy.ins.line > before_line):
                    continue
                hit = _map_path(absolute, copy.dest, copy.dest_is_dir, copy.sources, root)
                if hit is not None:
                    return hit
        relative = image_path.lstrip("/") if not image_path.startswith("/") else posixpath.relpath(absolute, workdir)
        for candidate in (root / relative, root / posixpath.basename(image_path.rstrip("/"))):
            if candidate.exists() and _inside(candidate, root):
                return candidate
        return None

    # ---- start-up --------------------------------------------------------------------------------------------

    @cached_property
    def start_drop(self) -> tuple[str, str] | None:
        """(how, where) when the final image starts as root on purpose and runs the app as another user: its
        ENTRYPOINT/CMD (`gosu app ...`, `uwsgi --uid 1000`), the scripts and configs they name (read from the
        context: `exec gosu app "$@"`, `uid = 1000` in a uWSGI ini), or s6-overlay service scripts
        (`s6-setuidgid abc ...`) the image receives. None when nothing shows it."""
        final = self.final
        argvs: list[list[str]] = []
        for ins in (final.entrypoint, final.cmd):
            if ins is None or not ins.value:
                continue
            if ins.json_form:
                argv = [_expand(word, final) for word in ins.value]
                argvs.extend(simple_commands(argv[2]) if len(argv) > 2 and program(argv) in ("sh", "bash") and argv[1] == "-c"
                             else [argv])
            else:
                argvs.extend(simple_commands(_expand(" ".join(ins.value), final)))
        for argv in argvs:
            tool = privilege_drop(argv)
            if tool:
                return tool, ("ENTRYPOINT" if final.entrypoint is not None else "CMD")
        if self.context is None:
            return None
        for argv in argvs:
            for word in argv:
                path = self.image_file(final, word) if _names_a_file(word) else None
                found = _drop_in_file(path)
                if found:
                    return found, self._relative(path)  # type: ignore[arg-type]
        entry = final.entrypoint
        if entry is None or (entry.value and entry.value[0].endswith("/init")):  # s6-overlay's /init (or the base image's)
            for item in self.context.files:
                if _S6_SERVICE.search(item.path) and self._shipped_from_context(final, item.path):
                    path = self.context.root / item.path
                    found = _drop_in_file(path)
                    if found:
                        return found, item.path
        return None

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.context.root).as_posix()  # type: ignore[union-attr]
        except ValueError:
            return path.name

    def _shipped_from_context(self, facts: StageFacts, rel: str) -> bool:
        """A COPY/ADD from the context in the stage chain takes this context file (`COPY root/ /`, `COPY . .`)."""
        for member in facts.chain():
            for copy in member.copies:
                if copy.from_ is not None:
                    continue
                for source in copy.sources:
                    clean = posixpath.normpath(source.lstrip("/"))
                    if clean in (".", "") or rel == clean or rel.startswith(clean.rstrip("/") + "/"):
                        return True
        return False


def _names_a_file(word: str) -> bool:
    """A start-command word that may name a script or config in the image (Python modules are not read: an app
    that drops root from Python is rare, and its source is no shell)."""
    return ("/" in word or word.endswith((".sh", ".ini", ".conf", ".cfg", ".bash"))) and not word.endswith((".py", ".pyc"))


def _drop_in_file(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        if path.stat().st_size > _SCRIPT_LIMIT:
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return drops_privileges(text, path.name)


def _map_path(absolute: str, dest: str, dest_is_dir: bool, sources: list[str], root: Path) -> Path | None:
    if not dest_is_dir:
        if absolute == dest and len(sources) == 1 and not sources[0].startswith("<<"):
            candidate = root / sources[0].lstrip("/")
            return candidate if _inside(candidate, root) else None
        return None
    if absolute == dest:
        if len(sources) == 1:  # `.` -> dest: the dir itself is the context dir or the source dir
            source = sources[0].lstrip("/") or "."
            candidate = root / source
            return candidate if _inside(candidate, root) and candidate.exists() else None
        return None
    prefix = dest.rstrip("/") + "/"
    if not absolute.startswith(prefix):
        return None
    rest = absolute[len(prefix):]
    for source in sources:
        if source.startswith("<<"):
            continue
        clean = posixpath.normpath(source.lstrip("/"))
        base = root if clean in (".", "") else root / clean
        if base.is_dir():
            candidate = base / rest
        elif posixpath.basename(clean) == rest or _glob_base(clean, rest):
            candidate = root / posixpath.join(posixpath.dirname(clean), rest)
        else:
            continue
        if candidate.exists() and _inside(candidate, root):
            return candidate
    return None


def _glob_base(pattern: str, name: str) -> bool:
    from fnmatch import fnmatchcase

    return any(c in pattern for c in "*?[") and fnmatchcase(name, posixpath.basename(pattern))


def _inside(path: Path, root: Path) -> bool:
    """Lexically inside the context (no `..` escape). Symlinks aren't resolved: that costs a syscall per
    path component, and a link in the user's own context only leads to a file the user put there."""
    return os.path.normpath(path).startswith(os.path.normpath(root) + os.sep) or os.path.normpath(path) == os.path.normpath(root)


# ---- the pass ---------------------------------------------------------------------------------------------


def stage_names(dockerfile: Dockerfile) -> dict[str, Stage]:
    names: dict[str, Stage] = {}
    for stage in dockerfile.stages:
        if stage.name:
            names.setdefault(stage.name.lower(), stage)
    return names


# The last context built: analyze and then optimize (its non-root safety checks) ask for the same one.
_last_built: list[tuple[Dockerfile, tuple, RuleContext]] = []


def build_context(dockerfile: Dockerfile, context_dir: Path | None, today: date, *, engine: bool = True) -> RuleContext:
    """The rule context. `engine`: read base images' USER and ENV from the local engine when it holds them.

    Asked again for the same parsed file (the same object) and the same arguments, it returns the context it just
    built: nothing changes a context once built, and on a huge Dockerfile building it takes seconds."""
    key = (str(context_dir) if context_dir is not None else None, today, engine)
    if _last_built and _last_built[0][0] is dockerfile and _last_built[0][1] == key:
        return _last_built[0][2]
    built = _build_context(dockerfile, context_dir, today, engine=engine)
    _last_built[:] = [(dockerfile, key, built)]
    return built


def _build_context(dockerfile: Dockerfile, context_dir: Path | None, today: date, *, engine: bool) -> RuleContext:
    facts: list[StageFacts] = []
    names = stage_names(dockerfile)
    for stage in dockerfile.stages:
        parent_stage, candidates, unresolved = _local_parent(dockerfile, stage, names)
        parent = facts[parent_stage.index] if parent_stage is not None else None
        base = None
        if parent is None and not unresolved and not candidates:
            base = base_image_facts(stage.base_resolved, engine=engine)
        facts.append(_walk_stage(dockerfile, stage, parent, base, unresolved, candidates))
    context = load_context(Path(context_dir)) if context_dir is not None else None
    return RuleContext(dockerfile, facts, context, today)


def _local_parent(dockerfile: Dockerfile, stage: Stage, names: dict[str, Stage]) -> tuple[Stage | None, list[Stage], bool]:
    """(the earlier local stage it is built FROM, the earlier stages a FROM with a build arg could pick, whether
    the FROM names a build arg that has no value in the file)."""
    resolved = stage.base_resolved
    parent = names.get(resolved.lower()) if resolved else None
    if parent is not None and parent.index < stage.index:
        return parent, [], False
    if "$" not in stage.base:
        return None, [], False
    unresolved = any(not dockerfile.global_args.get(match.group("braced") or match.group("bare"))
                     and not (match.group("op") or "").endswith("-")
                     for match in _FROM_VAR.finditer(stage.base))
    if unresolved and substitute(stage.base, dockerfile.global_args) != resolved:
        unresolved = False  # the parse was given --build-arg values for it
    # `FROM runtime-${VARIANT}`: each variable stands for any text; the earlier stages whose name fits. A FROM
    # that is nothing but a variable (`FROM ${BASE}`) names an image the build passes, not a stage we can tell.
    pieces = [piece for piece in re.split(r"(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)", stage.base) if piece]
    if all(piece.startswith("$") for piece in pieces):
        return None, [], unresolved
    pattern = "".join(".*" if piece.startswith("$") else re.escape(piece) for piece in pieces)
    candidates = [other for other in dockerfile.stages[:stage.index]
                  if other.name and re.fullmatch(pattern, other.name, re.IGNORECASE)]
    if len(candidates) == 1:
        return candidates[0], candidates, unresolved
    return None, candidates, unresolved


def base_image_facts(ref: str, *, engine: bool = True) -> BaseImageFacts | None:
    """USER, ENV and GPU/torch facts of a base image: the local engine's answer when it holds the image (never
    pulled), the well-known-images table otherwise. None for `scratch`, an empty or variable reference."""
    if not ref or "$" in ref or ref.lower() == "scratch":
        return None
    return _base_image_facts(ref, engine and docker_engine.lookup_enabled())


@lru_cache(maxsize=1024)
def _base_image_facts(ref: str, engine: bool) -> BaseImageFacts:
    known = known_image(ref)
    config = docker_engine.local_image_config(ref) if engine else None
    if config is not None:
        names = {name for name, _ in config.env}
        return BaseImageFacts(ref, config.user, config.env,
                              gpu=bool(names & GPU_ENV) or bool(known and known.gpu),
                              ships_torch=bool(names & TORCH_ENV) or bool(known and known.ships_torch), source="engine")
    if known is not None:
        return BaseImageFacts(ref, known.user, known.env, known.gpu, known.ships_torch, source="table")
    return BaseImageFacts(ref)


def _walk_stage(dockerfile: Dockerfile, stage: Stage, parent: StageFacts | None, base: BaseImageFacts | None = None,
                unresolved: bool = False, candidates: list[Stage] | None = None) -> StageFacts:
    facts = StageFacts(stage=stage, parent=parent, base=base, base_unresolved=unresolved,
                       base_candidates=list(candidates or []))
    if parent is not None:
        facts.env = dict(parent.env)
        facts.env_origin = dict(parent.env_origin)
        facts.workdir = parent.workdir
        facts.user = parent.user
        facts.healthcheck = parent.healthcheck
        facts.entrypoint = parent.entrypoint
        facts.cmd = parent.cmd
        facts.volumes = list(parent.volumes)
    elif base is not None:
        facts.env = dict(base.env)  # the base image's ENV: `USER $MAMBA_USER`, `PIP_INDEX_URL` set by the base...
    global_args = dockerfile.global_args
    cmd_set_here = False
    for ins in stage.instructions:
        cmd = ins.cmd
        if cmd == "ARG":
            for name, value in arg_pairs(ins).items():
                if value is None:
                    value = global_args.get(name) or facts.args.get(name)
                facts.args[name] = _expand(value, facts) if value else ""
        elif cmd == "ENV":
            pairs = env_pairs(ins)
            expanded = {name: _expand(value, facts) for name, value in pairs.items()}  # all see the old values
            for name, value in expanded.items():
                facts.env[name] = value
                facts.env_origin[name] = ins
        elif cmd == "WORKDIR" and ins.value:
            path = _word(ins, ins.value[0], facts)
            facts.workdir = posixpath.normpath(posixpath.join(facts.workdir, path))
        elif cmd == "USER" and ins.value:
            facts.user = (_word(ins, ins.value[0], facts), ins)
        elif cmd == "HEALTHCHECK":
            facts.healthcheck = ins
        elif cmd == "ENTRYPOINT":
            facts.entrypoint = ins
            if not cmd_set_here:
                facts.cmd = None  # BuildKit: an ENTRYPOINT drops a CMD inherited from the base (not one set in the stage)
        elif cmd == "CMD":
            facts.cmd = ins
            cmd_set_here = True
        elif cmd == "VOLUME":
            for path in ins.value:
                facts.volumes.append((_word(ins, path, facts), ins))
        elif cmd in ("COPY", "ADD") and len(ins.value) >= 2:
            facts.copies.append(_copy_record(ins, facts))
        elif cmd == "RUN":
            facts.runs.append(_run_site(ins, stage, facts))
    return facts


class _Scope:
    """ENV over ARG, as BuildKit resolves a variable, without merging the two dicts at every instruction."""

    __slots__ = ("facts",)

    def __init__(self, facts: StageFacts):
        self.facts = facts

    def get(self, name: str, default=None):
        env = self.facts.env
        if name in env:
            return env[name]
        return self.facts.args.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.facts.env or name in self.facts.args


def _expand(text: str, facts: StageFacts) -> str:
    return substitute(text, _Scope(facts)) if "$" in text else text  # type: ignore[arg-type]


def _word(ins: Instruction, text: str, facts: StageFacts) -> str:
    """A path word of WORKDIR, USER, VOLUME, COPY or ADD as BuildKit reads it: variables expanded, quotes removed
    (`WORKDIR "${dir}"` is the directory, not `"/srv"`). JSON-form values carry no shell quotes."""
    expanded = _expand(text, facts)
    return expanded if ins.json_form else dequote(expanded)


def _copy_record(ins: Instruction, facts: StageFacts) -> CopyRecord:
    *sources, dest = [_word(ins, word, facts) for word in ins.value]
    dest_is_dir = dest.endswith("/") or dest in (".", "..") or len(sources) > 1 or dest.endswith("/.")
    absolute = posixpath.normpath(posixpath.join(facts.workdir, dest))
    if not dest_is_dir and len(sources) == 1:
        source = sources[0]
        # `COPY app /app` copies a directory's contents to /app: a directory destination.
        dest_is_dir = source in (".", "./") or source.endswith("/")
    return CopyRecord(ins, sources, absolute, dest_is_dir, ins.flag("from"), ins.flag("chown"))


def _run_site(ins: Instruction, stage: Stage, facts: StageFacts) -> RunSite:
    line_text = " ".join(ins.value)
    shell_parts = [line_text]
    python_parts: list[str] = []
    python_docs = set(_PYTHON_HEREDOC_CONSUMER.findall(line_text)) if ins.heredocs else set()
    for doc in ins.heredocs:
        (python_parts if doc.name in python_docs else shell_parts).append(doc.content)
    shell_text = "\n".join(shell_parts)
    if ins.json_form:
        commands = [list(ins.value)] if ins.value else []  # `RUN []` parses; it runs nothing
        if commands and program(commands[0]) in ("sh", "bash") and "-c" in commands[0]:
            index = commands[0].index("-c")
            commands = simple_commands(" ".join(commands[0][index + 1:index + 2]))
    else:
        commands = simple_commands(shell_text)
    for argv in commands:
        code = python_code(argv)
        if code is not None:
            python_parts.append(code)
    text = "\n".join([line_text] + [doc.content for doc in ins.heredocs])
    wanted = WATCHED_ENV.union(_VAR_REF.findall(text)) if "$" in text else WATCHED_ENV
    args, stage_env = facts.args, facts.env
    env: dict[str, str] = {}
    if len(wanted) < len(args) + len(stage_env):  # look up what the RUN needs...
        for name in wanted:
            value = stage_env.get(name, args.get(name))
            if value is not None:
                env[name] = value
    else:  # ...or copy the (smaller) state: never more than min(wanted, state) steps per RUN
        env.update((k, v) for k, v in args.items() if k in wanted and v is not None)
        env.update((k, v) for k, v in stage_env.items() if k in wanted and v is not None)
    user = facts.user[0] if facts.user is not None else None
    return RunSite(ins, stage, facts.workdir, env, text, commands, "\n".join(python_parts), _mounts(ins), user)


def _mounts(ins: Instruction) -> list[Mount]:
    mounts = []
    for value in ins.flag_values("mount"):
        fields: dict[str, str] = {}
        for part in value.split(","):
            key, _, val = part.partition("=")
            fields[key.strip().lower()] = val.strip()
        mounts.append(Mount(fields.get("type", "bind"), fields.get("target", fields.get("dst", fields.get("destination", ""))),
                            fields.get("source", fields.get("src", "")), fields.get("from")))
    return mounts
