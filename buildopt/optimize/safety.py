"""Can optimize change who runs the app, and which paths must that user own? Generic checks, read from the parsed
Dockerfile, its build context, the start scripts and the app code it copies in, and a compose file beside it.

A non-root USER is only added when nothing says the app needs root, and every path the app is seen writing is
made writable for the new user (created with `mkdir -p` and owned, never a path that may not exist). What can't
be shown safe comes back as a reason, and the change becomes advice:
- the entrypoint or a start script needs root: gosu, su-exec, s6-overlay's /init, usermod/groupmod, PUID/PGID
  remapping, chown at start, package installs at start, supervisord switching users;
- a start script optimize can't read;
- the app's data, config or cache lives under /root (ENV, `pip install --user`, a compose mount);
- the app writes into a system directory itself (/var/log, /etc...), or binds a privileged port;
- a compose file bind-mounts a host directory read-write (the host directory's owner decides, not the image).
"""

from __future__ import annotations

import ast
import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from .. import shell
from ..dockerfile import Dockerfile, Instruction, env_pairs
from ..files import read_text
from ..knowledge import MODEL_CACHE_ENV, WRITABLE_DIR_NAMES
from ..rules.context import RuleContext, StageFacts, build_context

_SCRIPT_LIMIT = 1_000_000
MODEL_CACHE_VARIABLES = frozenset(MODEL_CACHE_ENV) | {"HF_DATASETS_CACHE"}  # the models-volume transform moves these
_CODE_BUDGET = 4_000_000  # bytes of app code and config read per Dockerfile
# Commands that only root can run the way a start script means them.
ROOT_COMMANDS = {
    "gosu": "drops privileges with gosu", "su-exec": "drops privileges with su-exec",
    "setpriv": "drops privileges with setpriv", "runuser": "switches users with runuser", "su": "switches users with su",
    "chroot": "calls chroot", "s6-setuidgid": "switches users with s6-setuidgid",
    "s6-applyuidgid": "switches users with s6-applyuidgid", "usermod": "remaps the user with usermod",
    "groupmod": "remaps the group with groupmod", "useradd": "creates users at start", "adduser": "creates users at start",
    "addgroup": "creates groups at start", "groupadd": "creates groups at start", "deluser": "changes users at start",
    "chown": "chowns at start", "setcap": "sets capabilities", "mount": "mounts filesystems", "sysctl": "sets sysctls",
    "update-ca-certificates": "updates the system CA store", "apt-get": "installs system packages at start",
    "apt": "installs system packages at start", "apk": "installs system packages at start",
    "crond": "starts cron (root's daemon)", "cron": "starts cron (root's daemon)", "service": "starts system services",
}
_ID_VARIABLES = re.compile(r"\$\{?(PUID|PGID)\b")
_S6_BASES = re.compile(r"(^|/)(linuxserver|lsiobase)/|lscr\.io/")
_SYSTEM_DIRS = frozenset({"/", "/usr", "/usr/local", "/usr/share", "/usr/lib", "/etc", "/var", "/var/lib", "/var/log",
                          "/var/cache", "/var/run", "/run", "/opt", "/srv", "/home", "/bin", "/sbin", "/lib", "/lib64",
                          "/boot", "/proc", "/sys", "/dev", "/mnt", "/media"})
# System trees no app dir belongs in (/usr/src/app, /usr/local/src, /opt/x, /var/lib/x, /srv/x are app dirs).
_NEVER_OWN = ("/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/lib64/", "/usr/libexec/", "/usr/share/", "/usr/include/",
              "/usr/local/bin/", "/usr/local/sbin/", "/usr/local/lib/", "/usr/local/share/", "/usr/local/include/",
              "/etc/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/proc/", "/sys/", "/dev/", "/boot/", "/var/lib/dpkg/",
              "/var/lib/apt/", "/var/cache/apt/")
_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
_PROGRAMS = frozenset({"python", "python3", "gunicorn", "uvicorn", "celery", "flask", "node", "npm", "hypercorn",
                       "daphne", "rq", "dramatiq", "streamlit", "java", "nginx", "supervisord"})
_INTERPRETERS = frozenset({"python", "python3", "sh", "bash", "ash", "dash", "zsh", "node", "irb", "ruby", "perl",
                           "php", "ipython", "python2"}) | {f"python3.{minor}" for minor in range(6, 16)}
_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_CONFIG_SUFFIXES = (".ini", ".cfg", ".toml", ".yaml", ".yml", ".env", ".conf", ".json")
_DATABASE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
_SQLITE_URL = re.compile(r"sqlite(?:\+\w+)?:///([^\s'\"?]+)")


@dataclass
class UserPlan:
    """What adding a non-root USER takes: the directories it must own, or why it can't be done safely."""

    blockers: list[str] = field(default_factory=list)
    model_cache_blockers: list[str] = field(default_factory=list)  # cleared when the model caches move to /models
    own_dirs: list[str] = field(default_factory=list)  # created with `mkdir -p`, then chowned
    own_files: list[str] = field(default_factory=list)  # files the image already holds (copied from the context)
    why: dict[str, str] = field(default_factory=dict)  # path -> what writes there, for every path in own_dirs

    @property
    def safe(self) -> bool:
        return not self.blockers and not self.model_cache_blockers

    def reason(self, models_moved: bool = False) -> str:
        return "; ".join(self.blockers + ([] if models_moved else self.model_cache_blockers))

    def safe_once(self, models_moved: bool) -> bool:
        """Safe after the rewrite moved the model caches (HF_HOME & co.) into the /models volume."""
        return not self.blockers and (models_moved or not self.model_cache_blockers)


def user_plan(parsed: Dockerfile, context: Path | None, ctx: RuleContext | None = None) -> UserPlan:
    """Whether the final stage can run as a new non-root user, and what it must own."""
    ctx = ctx or build_context(parsed, context, _today())
    image = _ImageView(parsed, ctx)
    plan = UserPlan()
    _check_base(image, plan)
    _check_start(image, plan)
    _check_root_paths(image, plan)
    _check_ports(image, plan)
    _check_compose(image, plan)
    for path, what in _writes(image):
        _own(image, plan, path, what)
    for directory in image.volumes:
        _add_dir(plan, directory, "VOLUME")
    for directory in image.created_dirs():
        if directory in plan.why:  # owned already (a dict: thousands of RUN-created dirs stay linear)
            continue
        if ownable(directory):
            _add_dir(plan, directory, "created at build")
        elif posixpath.basename(directory).lower() in WRITABLE_DIR_NAMES and not _under(directory, _SCRATCH):
            plan.blockers.append(f"the build creates {directory} for the app to write, in a place the new user can't "
                                 f"be given")
    unknown = image.unknown_workdir()
    if "$" in image.workdir or unknown:
        plan.blockers.append(f"the working directory ({unknown or image.workdir}) depends on a build arg with no "
                             f"default, so which directory to give the new user is only known at build time")
    elif image.workdir not in _SYSTEM_DIRS and ownable(image.workdir):
        _add_dir(plan, image.workdir, "the working directory")
    plan.blockers = list(dict.fromkeys(plan.blockers))
    plan.model_cache_blockers = list(dict.fromkeys(plan.model_cache_blockers))
    return plan


def ownable(path: str) -> bool:
    """A path a chown may name: absolute, literal (no variable left), not a system directory or under one."""
    return (path.startswith("/") and "$" not in path and "`" not in path and posixpath.normpath(path) not in _SYSTEM_DIRS
            and not (path + "/").startswith(_NEVER_OWN) and not _under(path, ["/root"]))


def quote(path: str) -> str:
    return shlex.quote(path)


def apt_lists_needed_after(parsed: Dockerfile, run: Instruction) -> str | None:
    """Why removing /var/lib/apt/lists at the end of `run` would break the build: a later RUN of the same stage, or
    of a stage built FROM it, installs with apt without its own `apt-get update`. None when nothing needs them."""
    stage = parsed.stages[run.stage]
    later: list[Instruction] = [ins for ins in stage.instructions if ins.cmd == "RUN" and ins.line > run.line]
    for child in parsed.stages[run.stage + 1:]:
        if any(member.index == stage.index for member in parsed.stage_ancestry(child)[1:]):
            later.extend(ins for ins in child.instructions if ins.cmd == "RUN")
    for ins in sorted(later, key=lambda i: i.line):
        if any("type=cache" in flag and "/var/lib/apt" in flag for flag in ins.flags):
            continue
        for argv in _run_commands(ins):
            call = shell.package_invocation(argv)
            if call is None or not call.is_apt:
                continue
            if call.action == "update":
                break  # this RUN fetches its own lists
            if call.installs:
                return f"line {ins.line} runs `{call.tool} {call.action}` without its own `apt-get update`"
    return None


# --- the final image, as far as the Dockerfile and the context tell ------------------------------------------------
class _ImageView:
    def __init__(self, parsed: Dockerfile, ctx: RuleContext):
        self.parsed = parsed
        self.ctx = ctx
        self.final: StageFacts = ctx.final
        self.chain = list(reversed(self.final.chain()))  # root first
        self.env = dict(self.final.env)
        self.workdir = self.final.workdir or "/"
        self.volumes = [path for path, _ in self.final.volumes if path.startswith("/")]
        self.entrypoint = self._last("ENTRYPOINT")
        self.cmd = self._last("CMD")
        self.files = self._copied_files()
        self._budget = _CODE_BUDGET
        self.scripts: list[tuple[str, str]] = []  # (image path, text) of the start scripts, set by _check_start

    def _last(self, cmd: str) -> list[str] | None:
        found = None
        for facts in self.chain:
            for ins in facts.stage.instructions:
                if ins.cmd == cmd:
                    found = list(ins.value) if ins.json_form else ["/bin/sh", "-c", " ".join(ins.value)]
        return found

    def _copied_files(self) -> dict[str, str]:
        """image path -> context path, for every file the final stage chain copies from the context."""
        context = self.ctx.context
        found: dict[str, str] = {}
        if context is None:
            return found
        paths = [item.path for item in context.files]
        for facts in self.chain:
            for copy in facts.copies:
                if copy.from_ is not None:
                    continue
                for source in copy.sources:
                    if "://" in source or source.startswith("<<"):
                        continue
                    clean = posixpath.normpath(source.lstrip("/"))
                    clean = "" if clean == "." else clean
                    pattern = clean.split("/") if any(char in clean for char in "*?[") else None
                    for rel in paths:
                        if pattern is not None:  # Docker's globs match one path element per pattern element
                            parts = rel.split("/")
                            if len(parts) < len(pattern) or not all(
                                    fnmatch.fnmatchcase(part, element) for part, element in zip(parts, pattern, strict=False)):
                                continue
                            inner = "/".join(parts[len(pattern):])
                            # a matched directory's contents land in dest; a matched file lands in it by name
                            target = posixpath.join(copy.dest, inner) if inner else (
                                posixpath.join(copy.dest, parts[len(pattern) - 1]) if copy.dest_is_dir else copy.dest)
                        elif clean == "" or rel.startswith(clean + "/"):
                            inner = rel[len(clean):].lstrip("/")
                            target = posixpath.join(copy.dest, inner)
                        elif rel == clean:
                            target = posixpath.join(copy.dest, posixpath.basename(rel)) if copy.dest_is_dir else copy.dest
                        else:
                            continue
                        found[posixpath.normpath(target)] = rel
        return found

    def unknown_workdir(self) -> str | None:
        """The last WORKDIR as written, when it names a build arg with no default (directly or through an ENV)."""
        unknown = {name for name, value in self.parsed.global_args.items() if value is None}
        last: Instruction | None = None
        for facts in self.chain:
            for ins in facts.stage.instructions:
                if ins.cmd == "ARG":
                    unknown |= {item for item in ins.value if "=" not in item}
                elif ins.cmd == "ENV":
                    for key, value in env_pairs(ins).items():
                        if set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", value)) & unknown:
                            unknown.add(key)
                elif ins.cmd == "WORKDIR":
                    last = ins
        if last is not None and last.value and set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", last.value[0])) & unknown:
            return last.value[0]
        return None

    def runs_as_root(self, ins: Instruction) -> bool:
        """Whether an instruction of the final stage chain runs as root (the last USER before it)."""
        user = "root"
        for line, stage, value in self.users:
            if line < ins.line and stage <= ins.stage:
                user = value
        name = user.split(":", 1)[0].strip()
        return name in ("root", "0") or "$" in name

    @cached_property
    def users(self) -> list[tuple[int, int, str]]:
        """(line, stage, user) of the USER instructions of the final stage chain."""
        return [(ins.line, ins.stage, ins.value[0]) for facts in self.chain for ins in facts.stage.instructions
                if ins.cmd == "USER" and ins.value]

    def has_file(self, path: str) -> bool:
        return posixpath.normpath(path) in self.files

    def has_dir(self, path: str) -> bool:
        prefix = posixpath.normpath(path).rstrip("/") + "/"
        return any(image_path.startswith(prefix) for image_path in self.files)

    def read(self, image_path: str) -> str | None:
        """The text of a file the image got from the context, within the reading budget."""
        rel = self.files.get(posixpath.normpath(image_path))
        if rel is None or self.ctx.context is None:
            return None
        path = self.ctx.context.root / rel
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if size > _SCRIPT_LIMIT or size > self._budget:
            return None  # read what fits: a large file is data, not the code that decides who may run the app
        self._budget -= size
        # files.read_text refuses what isn't a regular file (a FIFO would block): one line and exit 2, like every read
        return read_text(path, limit=_SCRIPT_LIMIT, what="context file", errors="replace")

    def locate(self, word: str) -> str | None:
        """The image path of a script named on the command line, when the context provides it."""
        if word.startswith("/"):
            return posixpath.normpath(word) if self.has_file(word) else None
        if "/" in word or word.startswith("."):
            candidate = posixpath.normpath(posixpath.join(self.workdir, word))
            return candidate if self.has_file(candidate) else None
        for directory in self.env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
            candidate = posixpath.join(directory or "/", word)
            if self.has_file(candidate):
                return candidate
        candidate = posixpath.join(self.workdir, word)
        return candidate if self.has_file(candidate) else None

    def created_dirs(self) -> list[str]:
        """Directories RUN steps of the final stage chain create and no later step removes."""
        created: dict[str, int] = {}  # path -> when (the last mkdir of it)
        removed: dict[str, int] = {}  # path -> when (the last rm of it or of a dir above it)
        step = 0
        for facts in self.chain:
            for site in facts.runs:
                for argv in site.commands:
                    step += 1
                    name = shell.program(argv)
                    if name not in ("mkdir", "rm"):
                        continue
                    args = [site.expand(word) for word in argv[1:]]
                    if name == "mkdir":
                        for path in _operands(args, {"-m", "--mode"}):
                            created[posixpath.normpath(posixpath.join(site.workdir, path))] = step
                    else:
                        for path in _operands(args, set()):
                            gone = posixpath.normpath(posixpath.join(site.workdir, path.rstrip("*").rstrip("/") or "/"))
                            removed[gone] = step

        def gone_after(path: str, made: int) -> bool:  # the path or a dir above it removed later (linear in depth)
            while True:
                if removed.get(path, -1) > made:
                    return True
                if path == "/":
                    return False
                path = posixpath.dirname(path)

        return [path for path, made in created.items() if not gone_after(path, made)]

    def python_files(self) -> list[str]:
        return sorted(path for path in self.files if path.endswith(".py"))

    def config_files(self) -> list[str]:
        return sorted(path for path in self.files if path.endswith(_CONFIG_SUFFIXES) or posixpath.basename(path) == ".env")


# --- checks ------------------------------------------------------------------------------------------------------
def _check_base(image: _ImageView, plan: UserPlan) -> None:
    base = image.final.root_base
    if _S6_BASES.search(base):
        plan.blockers.append(f"the base image {base} starts s6-overlay as root and drops to PUID/PGID itself")
    words = (image.entrypoint or []) + (image.cmd or [])
    if image.entrypoint is None and (not words or (len(words) == 1 and shell.program(words) in _INTERPRETERS)):
        shown = f"CMD {words[0]}" if words else "no CMD or ENTRYPOINT"
        plan.blockers.append(f"the image runs no app ({shown}): it looks like a base image, and the images built FROM "
                             f"it expect to run their own steps as root")


def _check_start(image: _ImageView, plan: UserPlan) -> None:
    words = (image.entrypoint or []) + (image.cmd or [])
    if not words:
        return
    if words[0] in ("/init", "/usr/bin/s6-svscan") or "/init" in (image.entrypoint or [])[:1]:
        plan.blockers.append("the entrypoint is s6-overlay's /init, which needs root")
        return
    image.scripts = _start_scripts(image, words, plan)
    for script, text in image.scripts:
        for reason in _root_needs(text):
            plan.blockers.append(f"{posixpath.basename(script)} {reason}")


def _start_scripts(image: _ImageView, words: list[str], plan: UserPlan) -> list[tuple[str, str]]:
    """(image path, text) of the scripts the container starts, following `sh x.sh`, `exec ./x`, `. x` one level."""
    found: list[tuple[str, str]] = []
    pending = [words]
    seen: set[str] = set()
    while pending and len(seen) < 8:
        argv = pending.pop(0)
        for candidate in _script_words(argv):
            if candidate in seen:
                continue
            seen.add(candidate)
            located = image.locate(candidate)
            if located is None:
                if candidate.endswith((".sh", ".bash")) or "entrypoint" in candidate or candidate.startswith(("./", "/")):
                    plan.blockers.append(f"the start script {candidate} is not in the build context, so what it does "
                                         f"as root can't be checked")
                continue
            text = image.read(located)
            if text is None:
                continue
            if posixpath.basename(located) == "supervisord.conf" or "[program:" in text:
                if re.search(r"(?m)^\s*user\s*=", text):
                    plan.blockers.append(f"{posixpath.basename(located)} has supervisord switch users, which needs root")
                continue
            found.append((located, text))
            if text.startswith("#!") and "python" not in text.split("\n", 1)[0]:
                pending.extend(shell.simple_commands(text))
    return found


def _script_words(argv: list[str]) -> list[str]:
    """Words of a command line that may name a script file: the program itself, or what a shell runs."""
    if not argv:
        return []
    program = shell.program(argv)
    if program in ("sh", "bash", "dash", "ash", "zsh"):
        if "-c" in argv[1:]:
            index = argv.index("-c", 1)
            body = argv[index + 1] if index + 1 < len(argv) else ""
            return [word for command in shell.simple_commands(body) for word in _script_words(command)]
        return [word for word in argv[1:] if not word.startswith("-")][:1]
    if program in (".", "source", "exec", "tini", "dumb-init", "--"):
        return _script_words([word for word in argv[1:] if word != "--"])
    if program == "supervisord":
        configs = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in ("-c", "--configuration")]
        return configs or ["/etc/supervisor/conf.d/supervisord.conf", "/etc/supervisord.conf"]
    if program in _PROGRAMS or shell.is_python(argv[0]):
        return []
    return [argv[0]]


def _root_needs(text: str) -> list[str]:
    reasons: list[str] = []
    for argv in shell.simple_commands(text):
        name = shell.program(argv)
        reason = ROOT_COMMANDS.get(name)
        if reason is None and name == "exec" and len(argv) > 1:
            reason = ROOT_COMMANDS.get(shell.program(argv[1:]))
        pip = shell.pip_invocation(argv)
        if pip is not None and pip.installs:
            reason = "installs Python packages at start"
        if reason and reason not in reasons:
            reasons.append(reason)
    if _ID_VARIABLES.search(text):
        reasons.append("remaps the user to PUID/PGID")
    return reasons


def _check_root_paths(image: _ImageView, plan: UserPlan) -> None:
    for key, value in image.env.items():
        if _under(value, ["/root"]) and key not in ("PATH",):
            reason = f"ENV {key}={value} keeps the app's files under /root, which a non-root user can't read or write"
            (plan.model_cache_blockers if key in MODEL_CACHE_VARIABLES else plan.blockers).append(reason)
    for facts in image.chain:
        for copy in facts.copies:
            if _under(copy.dest, ["/root"]):
                plan.blockers.append(f"line {copy.ins.line} copies into {copy.dest}, under /root")
        for site in facts.runs:
            if not image.runs_as_root(site.ins):
                continue
            for argv in site.commands:
                pip = shell.pip_invocation(argv)
                if pip is not None and pip.installs and pip.has("--user"):
                    plan.blockers.append(f"line {site.ins.line} installs with `pip install --user` into /root/.local, "
                                         f"which a non-root user can't import from")
                elif _fetches_into_home(argv, site.text, site.env):
                    plan.blockers.append(f"line {site.ins.line} downloads model data into root's home (/root), which a "
                                         f"non-root user can't read")
                elif _creates_app_state(argv):
                    plan.blockers.append(f"line {site.ins.line} creates the app's database at build (`{' '.join(argv[:4])}`): "
                                         f"its files belong to root, and the new user could not write them")


def _check_ports(image: _ImageView, plan: UserPlan) -> None:
    ports: list[int] = []
    for facts in image.chain:
        for ins in facts.stage.instructions:
            if ins.cmd == "EXPOSE":
                ports += [int(p.split("/")[0]) for p in ins.value if p.split("/")[0].isdigit()]
    words = (image.entrypoint or []) + (image.cmd or [])
    for index, word in enumerate(words):
        value = words[index + 1] if index + 1 < len(words) else ""
        match = (re.fullmatch(r"--(?:port|bind)=(?:[\w.\[\]:]*:)?(\d+)", word)
                 or (word in ("--port", "-p") and re.fullmatch(r"(\d+)", value))
                 or (word in ("--bind", "-b") and re.fullmatch(r"(?:[\w.\[\]:]*:)?(\d+)", value)))
        if match:
            ports.append(int(match.group(1)))
    low = sorted({port for port in ports if 0 < port < 1024})
    if low:
        plan.blockers.append(f"the app uses port {low[0]}, which a non-root user can't bind")


def _check_compose(image: _ImageView, plan: UserPlan) -> None:
    context = image.ctx.context
    if context is None:
        return
    for name in _COMPOSE_FILES:
        path = context.root / name
        if not path.is_file():
            continue
        try:
            import yaml

            data = yaml.safe_load(read_text(path, what="compose file", errors="replace")) or {}
        except Exception:  # an unreadable compose file says nothing either way
            continue
        for service in (data.get("services") or {}).values() if isinstance(data, dict) else []:
            for volume in (service or {}).get("volumes") or [] if isinstance(service, dict) else []:
                source, target, read_only = _volume_parts(volume)
                if not target:
                    continue
                if _under(target, ["/root"]):
                    plan.blockers.append(f"{name} mounts {source or 'a volume'} at {target}, under /root")
                elif source and source.startswith((".", "/", "~")) and not read_only and not _under(target, ["/tmp"]):
                    plan.blockers.append(f"{name} bind-mounts {source} at {target} read-write: the host directory's "
                                         f"owner decides whether a non-root user can write it")
                elif target.startswith("/") and ownable(target):
                    _add_dir(plan, target, f"a volume in {name}")


# Build steps that create the app's state (a database) where the app will write it again at run time.
_STATE_COMMANDS = frozenset({"init-db", "initdb", "init_db", "migrate", "createsuperuser", "loaddata", "upgrade"})


def _creates_app_state(argv: list[str]) -> bool:
    name = shell.program(argv)
    if name not in ("flask", "alembic", "django-admin") and not (shell.is_python(argv[0]) and "manage.py" in argv[1:2]):
        return False
    return any(word in _STATE_COMMANDS for word in argv[1:4])


def _fetches_into_home(argv: list[str], text: str, env: dict[str, str]) -> bool:
    """nltk.download or `ollama pull` at build, with no data dir set: the files land under ~ (root's, at build)."""
    if shell.program(argv) == "ollama" and argv[1:2] == ["pull"]:
        return not env.get("OLLAMA_MODELS")
    code = shell.python_code(argv) or ""
    return "nltk.download" in code and not env.get("NLTK_DATA") and "download_dir" not in code


def _volume_parts(volume) -> tuple[str, str, bool]:
    if isinstance(volume, dict):
        return str(volume.get("source") or ""), str(volume.get("target") or ""), bool(volume.get("read_only"))
    parts = str(volume).split(":")
    if len(parts) == 1:
        return "", parts[0], False
    return parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")


# --- where the app writes ---------------------------------------------------------------------------------------
def _writes(image: _ImageView) -> list[tuple[str, str]]:
    """(absolute path, what writes it): file targets end without a slash, directories the app creates end with one."""
    found: list[tuple[str, str]] = []
    for path in image.python_files():
        text = image.read(path)
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        found += [(_absolute(image, target), f"{posixpath.basename(path)}: {what}")
                  for target, what in _PythonWrites(image, path).scan(tree)]
    for path in image.config_files():
        text = image.read(path)
        for match in _SQLITE_URL.finditer(text or ""):
            target = match.group(1)
            found.append((_absolute(image, target) if not target.startswith("/") else target,
                          f"{posixpath.basename(path)}: a SQLite database"))
    for script, text in image.scripts:
        for argv in shell.simple_commands(text):
            name = shell.program(argv)
            if name in ("mkdir", "touch"):
                for target in _operands(argv[1:], {"-m", "--mode"}):
                    if "$" not in target:
                        found.append((_absolute(image, target) + ("/" if name == "mkdir" else ""),
                                      f"{posixpath.basename(script)}: {name}"))
    return found


def _absolute(image: _ImageView, path: str) -> str:
    directory = path.endswith("/")
    absolute = posixpath.normpath(posixpath.join(image.workdir, path))
    return absolute + "/" if directory and absolute != "/" else absolute


def _own(image: _ImageView, plan: UserPlan, target: str, what: str) -> None:
    is_dir = target.endswith("/")
    target = target.rstrip("/") or "/"
    directory = target if is_dir else posixpath.dirname(target)
    if _under(target, _SCRATCH):
        return
    if _under(target, ["/root"]):
        plan.blockers.append(f"{what} writes {target}, under /root")
        return
    if any(_under(directory, [volume]) and directory != volume for volume in image.volumes):
        return  # inside a volume: the volume's root is owned, the app creates what it needs below it
    if directory in _SYSTEM_DIRS or not ownable(directory):
        plan.blockers.append(f"{what} writes {target}, in {directory}, which only root may write")
        return
    _add_dir(plan, directory, what)
    if not is_dir and image.has_file(target) and target not in plan.own_files:
        plan.own_files.append(target)


def _add_dir(plan: UserPlan, directory: str, what: str) -> None:
    directory = posixpath.normpath(directory)
    if not ownable(directory):
        return
    if directory not in plan.why:
        plan.own_dirs.append(directory)
        plan.why[directory] = what


class _PythonWrites(ast.NodeVisitor):
    """Paths a module writes, as literally as the code says: open(..., "w"), os.makedirs, Path.mkdir, sqlite3.connect,
    logging file handlers, SQLite URLs and Django's sqlite3 default. Module-level names bound to constants, env
    defaults (`os.environ.get("DATA_DIR", "/data")`, or the Dockerfile's ENV value) and path joins are followed."""

    _OPEN_WRITE = re.compile(r"[wax+]")
    _FILE_CALLS: ClassVar[dict[str, str]] = {"connect": "a SQLite database", "FileHandler": "a log file", "RotatingFileHandler": "a log file",
                   "TimedRotatingFileHandler": "a log file", "WatchedFileHandler": "a log file"}

    def __init__(self, image: _ImageView, path: str):
        self.image = image
        self.path = path
        self.names: dict[str, str] = {"__file__": path}
        self.found: list[tuple[str, str]] = []

    def scan(self, tree: ast.Module) -> list[tuple[str, str]]:
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
                value = self.value(statement.value)
                if value is not None:
                    self.names[statement.targets[0].id] = value
        self.visit(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for match in _SQLITE_URL.finditer(node.value):
                    self.found.append((match.group(1), "a SQLite database"))
            elif isinstance(node, (ast.BinOp, ast.Call)):  # BASE_DIR / "db.sqlite3", os.path.join(DATA, "app.db")
                value = self.value(node)
                if value and value.endswith(_DATABASE_SUFFIXES):
                    self.found.append((value, "a SQLite database"))
        return self.found

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node.func)
        first = self.value(node.args[0]) if node.args else None
        if name == "open" and first is not None:
            mode = self.value(node.args[1]) if len(node.args) > 1 else self.keyword(node, "mode")
            if mode and self._OPEN_WRITE.search(mode):
                self.found.append((first, "writes a file"))
        elif name in ("makedirs", "mkdir") and first is not None:
            self.found.append((first.rstrip("/") + "/", f"creates {first}"))
        elif name == "mkdir" and isinstance(node.func, ast.Attribute):
            target = self.value(node.func.value)
            if target is not None:
                self.found.append((target.rstrip("/") + "/", f"creates {target}"))
        elif name in self._FILE_CALLS and first is not None and first != ":memory:":
            self.found.append((first, self._FILE_CALLS[name]))
        elif name == "basicConfig":
            filename = self.keyword(node, "filename")
            if filename:
                self.found.append((filename, "a log file"))
        self.generic_visit(node)

    def keyword(self, node: ast.Call, name: str) -> str | None:
        for keyword in node.keywords:
            if keyword.arg == name:
                return self.value(keyword.value)
        return None

    def value(self, node: ast.AST) -> str | None:
        """The string an expression evaluates to, when the code says it plainly."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = [self.value(value.value) if isinstance(value, ast.FormattedValue) else self.value(value)
                     for value in node.values]
            return "".join(parts) if all(part is not None for part in parts) else None  # type: ignore[arg-type]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            left, right = self.value(node.left), self.value(node.right)
            if left is None or right is None:
                return None
            return posixpath.join(left, right) if isinstance(node.op, ast.Div) else left + right
        if isinstance(node, ast.Attribute) and node.attr in ("parent",):
            inner = self.value(node.value)
            return posixpath.dirname(inner.rstrip("/")) if inner else None
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            args = [self.value(arg) for arg in node.args]
            if name in ("Path", "PurePath", "PosixPath", "abspath", "realpath", "expanduser", "str", "fspath") and args:
                return args[0]
            if name in ("resolve", "absolute") and isinstance(node.func, ast.Attribute):
                return self.value(node.func.value)
            if name == "dirname" and args and args[0]:
                return posixpath.dirname(args[0])
            if name == "join" and args and all(arg is not None for arg in args):
                return posixpath.join(*args)  # type: ignore[arg-type]
            if name in ("get", "getenv", "setdefault") and len(node.args) >= 1:
                key = self.value(node.args[0])
                default = args[1] if len(args) > 1 else self.keyword(node, "default")
                if key and _is_environ(node.func):
                    return self.image.env.get(key, default)
        return None


def _is_environ(func: ast.AST) -> bool:
    if isinstance(func, ast.Attribute):
        owner = func.value
        if func.attr == "getenv":
            return True
        return (isinstance(owner, ast.Attribute) and owner.attr == "environ") or (isinstance(owner, ast.Name) and owner.id == "environ")
    return isinstance(func, ast.Name) and func.id == "getenv"


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


# --- helpers ---------------------------------------------------------------------------------------------------
def _run_commands(ins: Instruction) -> list[list[str]]:
    if ins.json_form:
        return [list(ins.value)] if ins.value else []
    return shell.simple_commands(ins.shell_text)


def _operands(args: list[str], value_options: set[str]) -> list[str]:
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in value_options:
            skip = True
        elif not arg.startswith("-") or arg == "-":
            found.append(arg)
    return found


def _under(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _today():
    from datetime import date

    return date.today()
