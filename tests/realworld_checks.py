"""Independent checkers for optimize's output (issue 13): the four failure classes, read from the files.

Written apart from buildopt's own safety code on purpose: it uses only buildopt's parser (for the instruction
list) and re-derives everything else itself: its own shell splitting, variable expansion, a model of which
paths exist and who owns them, and what entrypoint scripts need. A checker that shared optimize's reasoning
would share its blind spots.

    violations = check(original_text, output_text, context_dir, facts={"writes_to": [...]})
    # -> [Violation("apt-lists" | "user" | "chown" | "lost", message), ...]

Each class reports only what the output adds: a problem already in the original is not optimize's doing.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from buildopt.dockerfile import parse_string

CLASSES = ("apt-lists", "user", "chown", "lost")
ROOT_NAMES = {"root", "0", "0:0", "root:root"}
# Directories a Debian/Alpine base image already has.
BASE_DIRS = {
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/local/bin",
    "/usr/local/lib", "/usr/local/share", "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/cache",
    "/var/lib", "/var/log", "/var/mail", "/var/run", "/var/spool", "/var/tmp", "/etc/apt", "/var/lib/apt",
    "/var/cache/apt", "/usr/share/doc", "/usr/share/man",
}
# Trees package managers and installers fill: a path under them may exist without an instruction naming it.
INSTALLED_TREES = ("/etc/", "/usr/", "/lib/", "/var/lib/", "/var/cache/", "/var/log/", "/opt/conda", "/opt/venv")
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin", ".onnx", ".ckpt", ".gguf", ".h5", ".jit", ".pb",
                   ".tflite", ".msgpack", ".model", ".npz")
# What entrypoint and start scripts do that needs root at run time.
NEEDS_ROOT = [
    (re.compile(r"\bgosu\b"), "gosu"),
    (re.compile(r"\bsu-exec\b"), "su-exec"),
    (re.compile(r"\bsetpriv\b"), "setpriv"),
    (re.compile(r"\bs6-setuidgid\b"), "s6-setuidgid"),
    (re.compile(r"\brunuser\b"), "runuser"),
    (re.compile(r"\bchpst\b"), "chpst"),
    (re.compile(r"\b(usermod|groupmod|useradd|groupadd|adduser|addgroup)\b"), "user/group changes"),
    (re.compile(r"\bP[UG]ID\b"), "PUID/PGID remapping"),
    (re.compile(r"(^|[;&|\s])chown\s"), "chown at start"),
    (re.compile(r"\bpip3?\s+install\b|\bpython3?\s+-m\s+pip\s+install\b"), "pip install at start"),
    (re.compile(r"\b(apt-get|apt|apk)\s+(install|add)\b"), "package install at start"),
]
MODEL_DOWNLOAD = re.compile(r"from_pretrained|snapshot_download|hf_hub_download|SentenceTransformer\(|"
                            r"huggingface-cli\s+download|download_model|WhisperModel\(|\.download\(")
PROJECT_INSTALL = re.compile(r"\bpoetry\s+install\b(?!.*--no-root)|\bpipenv\s+install\b|\buv\s+sync\b(?!.*--no-install-project)|"
                             r"\bpip3?\s+install\b[^&;|]*\s(-e\s+)?\.(\[[^\]]*\])?(\s|$)")
PROJECT_FILES = ("pyproject.toml", "poetry.lock", "Pipfile", "Pipfile.lock", "setup.py", "setup.cfg", "uv.lock")


@dataclass(frozen=True)
class Violation:
    klass: str
    message: str

    def __str__(self) -> str:
        return f"{self.klass}: {self.message}"


# --- shell ---------------------------------------------------------------------------------------------------

@dataclass
class Command:
    argv: list[str]
    raw: list[str]  # the same words with their quotes, as written
    after: str  # the operator before it: "", "&&", "||", ";", "|"
    before: str = ""  # the operator after it


def split_shell(text: str) -> list[Command]:
    """Simple commands of a shell line, split on && || ; | and newlines, keeping each word's raw form."""
    text = re.sub(r"\\\r?\n", " ", text)
    commands: list[Command] = []
    for raw_words, after in _raw_commands(text):
        argv = []
        for word in raw_words:
            try:
                parts = shlex.split(word, posix=True)
            except ValueError:
                parts = [word.strip("'\"")]
            argv.append("".join(parts) if parts else "")
        while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):  # FOO=bar cmd
            argv, raw_words = argv[1:], raw_words[1:]
        while argv and argv[0] in ("then", "else", "do", "{", "(", "!", "if", "elif", "while", "until", "exec", "sudo",
                                   "time", "command", "nohup"):
            argv, raw_words = argv[1:], raw_words[1:]
        if argv:
            if commands:
                commands[-1].before = after
            commands.append(Command(argv, list(raw_words), after))
    return commands


def _raw_commands(text: str):
    """Words as written (quotes kept), grouped into commands."""
    words: list[str] = []
    current = ""
    quote = None
    after = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current += ch
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(text):
                current += text[i + 1]
                i += 1
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch == "\\" and i + 1 < len(text):
            current += ch + text[i + 1]
            i += 1
        elif ch in " \t":
            if current:
                words.append(current)
                current = ""
        elif ch in ";\n" or ch in "&|":
            op = ch
            if ch in "&|" and text[i:i + 2] in ("&&", "||"):
                op = text[i:i + 2]
                i += 1
            elif ch == "&" and i > 0 and text[i - 1] in "<>":  # 2>&1
                current += ch
                i += 1
                continue
            if current:
                words.append(current)
                current = ""
            if words:
                yield words, after
            words = []
            after = op.strip() or ";"
        elif ch == "#" and not current and not words:
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            current += ch
        i += 1
    if current:
        words.append(current)
    if words:
        yield words, after


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+=?][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(text: str, variables: dict[str, str]) -> str:
    """$VAR and ${VAR...} replaced where known; unknown ones are left as written."""
    def replace(match):
        name = match.group(1) or match.group(2)
        if name in variables:
            return variables[name]
        default = re.match(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", match.group(0))
        return default.group(1) if default else match.group(0)
    for _ in range(3):
        new = _VAR.sub(replace, text)
        if new == text:
            break
        text = new
    return text


def unquote(word: str) -> str:
    try:
        parts = shlex.split(word)
    except ValueError:
        return word.strip("'\"")
    return " ".join(parts) if parts else ""


def norm(path: str, cwd: str = "/") -> str:
    path = path.strip()
    if not path.startswith("/"):
        path = posixpath.join(cwd or "/", path)
    path = posixpath.normpath(path)
    return "/" if path in ("", ".") else path.replace("//", "/")


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# --- Dockerfile model ----------------------------------------------------------------------------------------

@dataclass
class StageView:
    index: int
    name: str | None
    base: str
    instructions: list
    parent: StageView | None = None


def stages_of(text: str) -> tuple[list[StageView], dict[str, str]]:
    parsed = parse_string(text)
    global_args: dict[str, str] = {}
    for ins in parsed.instructions:
        if ins.stage == -1 and ins.cmd == "ARG":
            for item in ins.value:
                key, eq, value = item.partition("=")
                if eq:
                    global_args[key] = unquote(value)
    views: list[StageView] = []
    for stage in parsed.stages:
        base = expand(stage.base, global_args)
        view = StageView(stage.index, stage.name, base, list(stage.instructions)[1:])
        for earlier in views:
            if earlier.name and earlier.name.lower() == base.lower():
                view.parent = earlier
        views.append(view)
    return views, global_args


def chain(view: StageView) -> list[StageView]:
    """The stage and the local stages it builds FROM, oldest first."""
    out = [view]
    while out[0].parent is not None and out[0].parent not in out:
        out.insert(0, out[0].parent)
    return out


def env_of(ins) -> dict[str, str]:
    values = list(ins.value)
    if len(values) == 2 and "=" not in ins.original.split(None, 2)[1]:
        return {values[0]: unquote(values[1])}
    return {values[i]: unquote(values[i + 1]) for i in range(0, len(values) - 1, 2)}


def exec_words(ins) -> list[str]:
    if ins.json_form:
        return list(ins.value)
    return [unquote(word) for word in shlex.split(" ".join(ins.value), posix=False)] if ins.value else []


def run_mounts(ins) -> list[str]:
    return [flag.partition("=")[2] for flag in ins.flags if flag.lstrip("-").startswith("mount")]


# --- class 1: apt lists ---------------------------------------------------------------------------------------

def _apt_packages(argv: list[str]) -> list[str]:
    takes_value = {"-o", "-t", "--target-release", "-c", "--config-file", "--option"}
    packages, skip = [], False
    seen_install = False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if word in takes_value:
            skip = True
            continue
        if word.startswith("-"):
            continue
        if not seen_install:
            seen_install = word == "install"
            continue
        packages.append(word.split("=")[0])
    return packages


def apt_violations(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """(stage, packages) of each apt install that runs after the lists were removed, without its own update."""
    views, global_args = stages_of(text)
    state: dict[int, bool] = {}
    found = set()
    for view in views:
        present = state[view.parent.index] if view.parent is not None else False
        variables = dict(global_args)
        for ins in view.instructions:
            if ins.cmd == "ENV":
                variables.update(env_of(ins))
            if ins.cmd != "RUN":
                continue
            cached = any("/var/lib/apt/lists" in mount for mount in run_mounts(ins))
            inside = True if cached else present
            for command in split_shell(ins.shell_text):
                argv = command.argv
                tool = posixpath.basename(argv[0])
                if tool in ("apt-get", "apt", "aptitude") and "update" in argv[1:]:
                    inside = True
                elif tool == "rm" and any(a.rstrip("/*").rstrip("/") == "/var/lib/apt/lists" or
                                          a.startswith("/var/lib/apt/lists") for a in argv[1:]):
                    inside = False if not cached else inside
                elif tool in ("apt-get", "apt", "aptitude") and "install" in argv[1:]:
                    packages = _apt_packages(argv)
                    if packages and all(p.endswith(".deb") for p in packages):
                        continue
                    if not inside:
                        found.add((view.name or str(view.index), tuple(sorted(packages))))
            if not cached:
                present = inside
        state[view.index] = present
    return found


def check_apt(original: str, output: str) -> list[Violation]:
    before = apt_violations(original)
    return [Violation("apt-lists", f"stage {stage}: apt-get install {' '.join(packages)} runs after "
                                   f"/var/lib/apt/lists was removed, without its own apt-get update")
            for stage, packages in sorted(apt_violations(output) - before)]


# --- the filesystem model: what exists, who owns it --------------------------------------------------------

@dataclass
class FsModel:
    context: Path | None
    ignore: list[str]
    owner: dict[str, str] = field(default_factory=dict)  # path -> owner (user name or uid)
    tree_owner: dict[str, str] = field(default_factory=dict)  # copied trees: owner of what's inside
    deleted: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)  # name -> uid
    shell_only: set[str] = field(default_factory=set)  # variables assigned inside a RUN
    spaced: set[str] = field(default_factory=set)  # created paths that contain a space
    user: str = "root"
    cwd: str = "/"
    variables: dict[str, str] = field(default_factory=dict)

    def exists(self, path: str) -> bool:
        if any(under(path, gone) for gone in self.deleted):
            return False
        if path in self.owner or path in BASE_DIRS:
            return True
        return any(under(path, tree) and self._in_copied(tree, path) for tree in self.tree_owner)

    def _in_copied(self, tree: str, path: str) -> bool:
        return path == tree or self.tree_owner.get(tree + "\0all") == "1"

    def create(self, path: str, owner: str) -> None:
        self.deleted = {gone for gone in self.deleted if not under(path, gone) and not under(gone, path)}
        if not self.exists(path):
            self.owner[path] = owner
            if " " in path:
                self.spaced.add(path)

    def chown(self, path: str, owner: str, recursive: bool) -> None:
        if not self.exists(path):
            return
        self.owner[path] = owner
        if recursive:
            for known in list(self.owner):
                if under(known, path):
                    self.owner[known] = owner
            for tree in list(self.tree_owner):
                if "\0" not in tree and under(tree, path):
                    self.tree_owner[tree] = owner
            self.tree_owner.setdefault(path, owner)
            self.tree_owner[path] = owner

    def delete(self, path: str) -> None:
        self.deleted.add(path)
        for known in [k for k in self.owner if under(k, path)]:
            del self.owner[known]
        for tree in [t for t in self.tree_owner if under(t.split("\0")[0], path)]:
            del self.tree_owner[tree]

    def owner_of(self, path: str) -> str:
        """Owner of the deepest existing ancestor-or-self of `path`."""
        probe = path
        while True:
            if probe in self.owner and not any(under(probe, gone) for gone in self.deleted):
                return self.owner[probe]
            trees = [t for t in self.tree_owner if "\0" not in t and under(probe, t) and t != probe]
            if trees and self.exists(probe):
                return self.tree_owner[max(trees, key=len)]
            if probe in BASE_DIRS or probe == "/":
                return "root"
            probe = posixpath.dirname(probe)

    def same_user(self, a: str, b: str) -> bool:
        a, b = a.split(":")[0], b.split(":")[0]
        ids = {a, self.users.get(a, a)}
        return b in ids or self.users.get(b, b) in ids

    def writable(self, path: str, user: str) -> bool:
        if any(under(path, scratch) for scratch in SCRATCH):
            return True
        if self.exists(path):
            return self.same_user(self.owner_of(path), user)
        parent = posixpath.dirname(path)
        while not self.exists(parent):
            parent = posixpath.dirname(parent)
        return self.same_user(self.owner_of(parent), user)


def dockerignore_patterns(context: Path | None, override: str | None) -> list[str]:
    text = override
    if text is None and context is not None and (context / ".dockerignore").is_file():
        text = (context / ".dockerignore").read_text()
    return [line.strip() for line in (text or "").splitlines() if line.strip() and not line.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, simplified: the last matching pattern wins, `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip().strip("/")
        if pat.startswith("./"):
            pat = pat[2:]
        if pat.startswith("**/"):
            pat = pat[3:]
            candidates = [rel] + [rel.split("/", i)[-1] for i in range(1, rel.count("/") + 1)]
        else:
            candidates = [rel]
        if any(fnmatch.fnmatch(c, pat) or c.startswith(pat + "/") or any(fnmatch.fnmatch(c, pat + "/*" * n)
                                                                          for n in (1, 2, 3)) for c in candidates):
            verdict = not negate
    return verdict


def _copy(fs: FsModel, ins) -> None:
    words = [unquote(expand(word, fs.variables)) for word in ins.value]
    if len(words) < 2:
        return
    sources, dest = words[:-1], words[-1]
    chown = ins.flag("chown")
    owner = expand(chown, fs.variables).split(":")[0] if chown else "root"
    into_dir = dest.endswith("/") or len(sources) > 1 or dest in (".", "./")
    dest = norm(dest, fs.cwd)
    from_stage = ins.flag("from")
    for source in sources:
        if from_stage is not None or fs.context is None:
            target = posixpath.join(dest, posixpath.basename(source.rstrip("/"))) if into_dir and "*" not in source else dest
            fs.create(target, owner)
            fs.tree_owner[target] = owner
            fs.tree_owner[target + "\0all"] = "1"
            continue
        src = (fs.context / source.lstrip("./")) if source not in (".", "./") else fs.context
        if any(ch in source for ch in "*?["):
            matches = list(fs.context.glob(source))
            for match in matches:
                rel = match.relative_to(fs.context).as_posix()
                if not ignored(rel, fs.ignore):
                    fs.create(posixpath.join(dest, match.name), owner)
            continue
        if src.is_dir():
            if not fs.exists(dest):
                fs.create(dest, owner)
            for child in src.rglob("*"):
                rel = child.relative_to(fs.context).as_posix()
                if ignored(rel, fs.ignore):
                    continue
                fs.create(norm(child.relative_to(src).as_posix(), dest), owner)
        else:
            target = posixpath.join(dest, posixpath.basename(source)) if into_dir or (fs.owner.get(dest) is not None and \
                dest in fs.owner and not posixpath.splitext(dest)[1]) else dest
            rel = source.lstrip("./")
            if not ignored(rel, fs.ignore):
                fs.create(target, owner)


def _run(fs: FsModel, ins, on_chown=None, on_mkdir=None) -> None:
    """Apply one RUN's file effects; `on_chown(command, fs, cwd)` sees each chown before it applies."""
    text = ins.shell_text
    for name in re.findall(r"(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=", text):
        if name not in fs.variables:
            fs.shell_only.add(name)
    for name in re.findall(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b", text):
        fs.shell_only.add(name)
    cwd = fs.cwd
    for command in split_shell(text):
        argv = [expand(word, fs.variables) for word in command.argv]
        tool = posixpath.basename(argv[0])
        args = [a for a in argv[1:] if not a.startswith("-")]
        if tool == "cd" and args:
            cwd = norm(args[0], cwd)
        elif tool == "mkdir":
            for arg in args:
                if "$" in arg or arg.startswith("{"):
                    continue
                path = norm(arg, cwd)
                if on_mkdir is not None:
                    on_mkdir(command, path, fs, "-p" in argv or "--parents" in argv or any(
                        a.startswith("-") and not a.startswith("--") and "p" in a for a in argv[1:]))
                parents = []
                probe = path
                while not fs.exists(probe):
                    parents.append(probe)
                    probe = posixpath.dirname(probe)
                for created in reversed(parents):
                    fs.create(created, fs.user)
        elif tool in ("touch", "ln") and args:
            target = args[-1]
            if "$" not in target:
                fs.create(norm(target, cwd), fs.user)
        elif tool in ("cp", "mv", "tar", "unzip", "git") and args:
            for i, word in enumerate(argv):
                if word in ("-C", "--directory", "-d") and i + 1 < len(argv):
                    fs.create(norm(argv[i + 1], cwd), fs.user)
            if tool in ("cp", "mv", "git") and "$" not in args[-1]:
                fs.create(norm(args[-1], cwd), fs.user)
        elif tool == "rm":
            for arg in args:
                if "$" in arg or "*" in arg:
                    continue
                fs.delete(norm(arg, cwd))
        elif tool == "chown":
            if on_chown is not None:
                on_chown(command, fs, cwd)
            if len(args) >= 2:
                recursive = any(a in ("-R", "--recursive") or (a.startswith("-") and not a.startswith("--") and "R" in a)
                                for a in argv[1:])
                owner = args[0].split(":")[0]
                for arg in args[1:]:
                    fs.chown(norm(arg, cwd), owner, recursive)
        elif tool in ("useradd", "adduser"):
            name = args[-1] if args else None
            uid = None
            home = None
            create_home = tool == "useradd" and any(a in ("-m", "--create-home") for a in argv)
            for i, word in enumerate(argv[:-1]):
                if word in ("-u", "--uid"):
                    uid = argv[i + 1]
                if word in ("-d", "--home", "--home-dir"):
                    home = argv[i + 1]
            if tool == "adduser" and "--no-create-home" not in argv and ("--system" not in argv or home):
                create_home = True
            if name:
                fs.users[name] = uid or fs.users.get(name, name)
                if create_home:
                    home_dir = norm(home or f"/home/{name}")
                    fs.create(home_dir, name)
                    fs.owner[home_dir] = name
        elif tool == "usermod" and args:
            for i, word in enumerate(argv[:-1]):
                if word in ("-u", "--uid"):
                    fs.users[args[-1]] = argv[i + 1]


def walk(text: str, context: Path | None, ignore_text: str | None = None, on_chown=None,
         on_mkdir=None) -> tuple[FsModel, StageView]:
    """The filesystem model at the end of the final stage (its local ancestors included)."""
    views, global_args = stages_of(text)
    final = views[-1]
    fs = FsModel(context, dockerignore_patterns(context, ignore_text))
    fs.variables = dict(global_args)
    for view in chain(final):
        for ins in view.instructions:
            if ins.cmd == "ARG":
                for item in ins.value:
                    key, eq, value = item.partition("=")
                    if eq:
                        fs.variables[key] = unquote(value)
                    elif key in global_args:  # a bare ARG without any default stays unknown (given at build)
                        fs.variables[key] = global_args[key]
            elif ins.cmd == "ENV":
                fs.variables.update({k: expand(v, fs.variables) for k, v in env_of(ins).items()})
            elif ins.cmd == "USER":
                fs.user = expand(ins.value[0], fs.variables).split(":")[0]
            elif ins.cmd == "WORKDIR":
                path = norm(unquote(expand(ins.value[0], fs.variables)), fs.cwd)
                probe, missing = path, []
                while not fs.exists(probe):
                    missing.append(probe)
                    probe = posixpath.dirname(probe)
                for created in reversed(missing):
                    fs.create(created, fs.user)
                fs.cwd = path
            elif ins.cmd in ("COPY", "ADD"):
                _copy(fs, ins)
            elif ins.cmd == "RUN":
                _run(fs, ins, on_chown, on_mkdir)
    return fs, final


# --- class 2: the added USER ----------------------------------------------------------------------------------

def last_user(text: str) -> str | None:
    views, global_args = stages_of(text)
    user = None
    variables = dict(global_args)
    for view in chain(views[-1]):
        for ins in view.instructions:
            if ins.cmd == "ENV":
                variables.update(env_of(ins))
            if ins.cmd == "ARG":
                for item in ins.value:
                    key, eq, value = item.partition("=")
                    if eq:
                        variables[key] = unquote(value)
            if ins.cmd == "USER":
                user = expand(ins.value[0], variables)
    return user


def user_added(original: str, output: str) -> str | None:
    before, after = last_user(original), last_user(output)
    if after is None or after in ROOT_NAMES or after.split(":")[0] in ROOT_NAMES:
        return None
    if before is None or before in ROOT_NAMES or before.split(":")[0] in ROOT_NAMES:
        return after.split(":")[0]
    return None


def start_scripts(text: str, context: Path | None) -> dict[str, str]:
    """Entrypoint/CMD scripts found in the context, and the commands themselves: {name: text}."""
    views, _ = stages_of(text)
    final = views[-1]
    found: dict[str, str] = {}
    words: list[str] = []
    for view in chain(final):
        for ins in view.instructions:
            if ins.cmd in ("ENTRYPOINT", "CMD"):
                found[ins.cmd] = " ".join(ins.value)
                words += exec_words(ins)
    if context is None:
        return found
    for word in words:
        name = posixpath.basename(word)
        if not name or not ("/" in word or name.endswith((".sh", ".bash")) or "entrypoint" in name or "start" in name
                            or name in ("run", "init", "boot", "bootstrap")):
            continue
        for candidate in sorted(context.rglob(name)):
            if candidate.is_file() and candidate.stat().st_size < 200_000:
                found[str(candidate.relative_to(context))] = candidate.read_text(errors="replace")
                break
    for candidate in context.rglob("*"):
        rel = candidate.relative_to(context).as_posix()
        if candidate.is_file() and re.search(r"(^|/)etc/(s6-overlay|services\.d|cont-init\.d)/", rel):
            found[rel] = candidate.read_text(errors="replace")
    return found


def needs_root(text: str, context: Path | None) -> list[str]:
    """Why the image's start needs root, read from the Dockerfile and its scripts."""
    views, _ = stages_of(text)
    reasons = []
    if re.search(r"(linuxserver|lsiobase)/", " ".join(v.base for v in chain(views[-1]))):
        reasons.append(f"the base image's s6-overlay /init ({views[-1].base}) starts as root")
    for name, body in start_scripts(text, context).items():
        if name in ("ENTRYPOINT", "CMD") and re.search(r"(^|[\s\"'\[,])/init([\s\"'\],]|$)", body):
            reasons.append(f"{name} runs s6-overlay's /init")
        lines = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("#"))
        for pattern, what in NEEDS_ROOT:
            if pattern.search(lines):
                reasons.append(f"{name} uses {what}")
                break
    return reasons


def compose_targets(context: Path | None) -> list[str]:
    if context is None:
        return []
    import yaml

    targets = []
    for path in list(context.glob("docker-compose*.y*ml")) + list(context.glob("compose*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        for service in (data.get("services") or {}).values():
            if not isinstance(service, dict) or "build" not in service:
                continue
            for volume in service.get("volumes") or []:
                if isinstance(volume, dict):
                    target = volume.get("target")
                else:
                    parts = str(volume).split(":")
                    target = parts[1] if len(parts) > 1 else parts[0]
                if target and target.startswith("/"):
                    targets.append(posixpath.normpath(target))
    return targets


def required_paths(text: str, context: Path | None, facts: dict, fs: FsModel) -> list[tuple[str, str]]:
    """(path, why) the app writes at run time."""
    views, _global_args = stages_of(text)
    paths = []
    variables = dict(fs.variables)
    for view in chain(views[-1]):
        for ins in view.instructions:
            if ins.cmd == "VOLUME":
                words = list(ins.value)
                for word in words:
                    value = unquote(expand(word, variables))
                    for item in value.strip("[]").split(","):
                        item = item.strip().strip("'\"")
                        if item.startswith("/") and item != "/models":
                            paths.append((norm(item), "VOLUME"))
    for target in compose_targets(context):
        if under(target, "/root"):
            paths.append((target, "compose mounts it"))
    for key, value in variables.items():
        # Run-time homes and caches pinned under /root; build tools' caches (pip, uv, poetry) don't count.
        if isinstance(value, str) and re.fullmatch(r"/root/[^\s*?:]*", value) and \
                re.search(r"(^|_)(HOME|CACHE|CACHE_DIR|CACHE_HOME|DATA_DIR|CONFIG_DIR)$", key) and \
                not re.match(r"(PIP|UV|POETRY|PIPENV|NPM|YARN|CARGO)_", key):
            paths.append((norm(value), f"ENV {key}"))
    for item in facts.get("writes_to", []):
        paths.append((norm(item, fs.cwd), "the app writes it (manifest)"))
    return paths


def check_user(original: str, output: str, context: Path | None, facts: dict, ignore_text: str | None = None) -> list[Violation]:
    user = user_added(original, output)
    if user is None:
        return []
    found = [Violation("user", f"USER {user} added, but the start needs root: {reason}")
             for reason in dict.fromkeys(needs_root(original, context))]
    fs, _ = walk(output, context, ignore_text)
    required = list(dict.fromkeys(required_paths(original, context, facts, fs)))
    # A VOLUME the image doesn't have is created by the runtime at start, owned by root.
    mounts = [path for path, why in required if why == "VOLUME" and not fs.exists(path)]
    for path, why in required:
        if any(under(path, mount) for mount in mounts):
            found.append(Violation("user", f"USER {user} added, but it can't write {path} ({why}; the image has no "
                                           f"{max((m for m in mounts if under(path, m)), key=len)}, so the runtime "
                                           f"creates that volume owned by root)"))
        elif not fs.writable(path, user):
            found.append(Violation("user", f"USER {user} added, but it can't write {path} ({why}; "
                                           f"owned by {fs.owner_of(path)})"))
    return found


# --- class 3: added chowns ------------------------------------------------------------------------------------

def _chowns(text: str) -> list[str]:
    out = []
    for ins in parse_string(text).instructions:
        if ins.cmd == "RUN":
            out += [" ".join(c.raw) for c in split_shell(ins.shell_text) if posixpath.basename(c.argv[0]) == "chown"]
    return out


def _file_destinations(text: str, context: Path | None) -> set[str]:
    """Paths the Dockerfile fills with a single file (COPY file /exact/path)."""
    dests, dirs = set(), set()
    variables: dict[str, str] = {}
    cwd = "/"
    for ins in parse_string(text).instructions:
        if ins.cmd == "RUN":
            for command in split_shell(ins.shell_text):
                if posixpath.basename(command.argv[0]) == "mkdir":
                    dirs |= {norm(expand(a, variables), cwd) for a in command.argv[1:] if not a.startswith("-")}
        if ins.cmd == "ENV":
            variables.update(env_of(ins))
        elif ins.cmd == "WORKDIR":
            cwd = norm(unquote(expand(ins.value[0], variables)), cwd)
            dirs.add(cwd)
        elif ins.cmd in ("COPY", "ADD") and len(ins.value) == 2 and ins.flag("from") is None:
            source, dest = (unquote(expand(w, variables)) for w in ins.value)
            if dest.endswith("/") or dest in (".", "./") or any(ch in source for ch in "*?["):
                continue
            if context is not None and (context / source).is_file():
                dests.add(norm(dest, cwd))
    return dests - dirs


def _split_at_space(pair: list[str], spaced: set[str], variables: dict[str, str], cwd: str) -> str | None:
    """The two words joined, when they are the halves of a path with a space that the shell split."""
    if len(pair) < 2 or any(" " in word for word in pair):
        return None  # a word that holds the space was quoted: the shell did not split it
    joined = expand(" ".join(pair), variables)
    path = norm(joined, cwd)
    return joined if any(path == s or under(s, path) or under(path, s) for s in spaced) else None


def check_chown(original: str, output: str, context: Path | None, ignore_text: str | None = None) -> list[Violation]:
    existing = set(_chowns(original))
    found: list[Violation] = []

    def inspect(command: Command, fs: FsModel, cwd: str) -> None:
        raw = " ".join(command.raw)
        if raw in existing or command.before == "||" or command.after == "||":
            return
        operands = [(w, r) for w, r in zip(command.argv[1:], command.raw[1:], strict=False) if not w.startswith("-")][1:]
        words = [w for w, _ in operands]
        split_words: set[int] = set()
        for index, (_word, raw_word) in enumerate(operands):
            expanded = expand(raw_word.strip("'\"") if raw_word.startswith("'") else raw_word, fs.variables)
            value = unquote(expanded)
            leftover = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", value)
            if leftover:
                where = "set only inside an earlier RUN" if set(leftover) & fs.shell_only else "defined nowhere"
                found.append(Violation("chown", f"`{raw}` names ${leftover[0]}, a shell variable {where}"))
                continue
            path = norm(value, cwd)
            if path == "/" or value.strip() == "":
                found.append(Violation("chown", f"`{raw}` changes the owner of / (a quoted path taken with its quotes?)"))
                continue
            if index in split_words:
                continue
            joined = _split_at_space(words[index:index + 2], spaced_paths, fs.variables, cwd)
            if joined:
                found.append(Violation("chown", f"`{raw}`: a path with a space is not quoted ({joined!r})"))
                split_words.add(index + 1)
                continue
            if any(under(path, gone) for gone in fs.deleted):
                found.append(Violation("chown", f"`{raw}`: {path} was removed earlier (rm -rf)"))
                continue
            if not fs.exists(path) and not any(path.startswith(tree) for tree in INSTALLED_TREES) and \
                    not any(under(spaced, path) for spaced in fs.spaced):
                found.append(Violation("chown", f"`{raw}`: no instruction creates {path}"))

    spaced_paths = walk(original, context)[0].spaced
    file_dests = _file_destinations(original, context)
    original_mkdirs = {" ".join(c.raw) for ins in parse_string(original).instructions if ins.cmd == "RUN"
                       for c in split_shell(ins.shell_text) if posixpath.basename(c.argv[0]) == "mkdir"}

    def made(command: Command, path: str, fs: FsModel, parents: bool) -> None:
        raw = " ".join(command.raw)
        if raw not in original_mkdirs:
            operands = [w for w in command.argv[1:] if not w.startswith("-")]
            for index in range(len(operands) - 1):
                joined = _split_at_space(operands[index:index + 2], spaced_paths, fs.variables, "/")
                if joined:
                    found.append(Violation("chown", f"`{raw}`: a path with a space is not quoted ({joined!r})"))
        if raw not in original_mkdirs and path in file_dests:
            found.append(Violation("chown", f"`{raw}` makes {path} a directory, but the Dockerfile copies a file there"))
        if raw in original_mkdirs and not parents and fs.exists(path) and path not in BASE_DIRS:
            found.append(Violation("chown", f"`{raw}` now fails: {path} already exists (created by an added step)"))

    walk(output, context, ignore_text, on_chown=inspect, on_mkdir=made)
    unique: dict[str, Violation] = {}
    for violation in found:
        unique.setdefault(violation.message, violation)
    return list(unique.values())


# --- class 4: lost instructions ---------------------------------------------------------------------------------

PIP = re.compile(r"^(pip3?(\.\d+)?|.*/pip3?|python3?(\.\d+)?\s+-m\s+pip|.*/python3?\s+-m\s+pip)$")
IGNORED_COMMANDS = {"set", "echo", "true", ":", "cd", "export", "exit", "fi", "done", "esac", "then", "else", "do",
                    "apt-mark", "ldconfig", "sleep", "}", ")"}


def _pkg_name(spec: str) -> str:
    spec = spec.strip().strip("'\"")
    name = re.split(r"[=<>!~;@\s\[]", spec, maxsplit=1)[0]
    return name.lower().replace("_", "-")


def install_items(argv: list[str]) -> tuple[str, list[str]] | None:
    """(installer, what it installs) for package-installing commands, normalized."""
    tool = posixpath.basename(argv[0])
    if tool in ("apt-get", "apt") and "install" in argv:
        return "apt", _apt_packages(argv)
    if tool == "apk" and "add" in argv:
        return "apk", [a for a in argv[argv.index("add") + 1:] if not a.startswith("-") and not a.startswith(".")]
    pip_at = None
    if (re.match(r"^(pip3?|.*/pip3?)$", tool) and "install" in argv) or (tool.startswith("python") and argv[1:3] == ["-m", "pip"] and "install" in argv):
        pip_at = argv.index("install")
    elif tool == "uv" and argv[1:3] == ["pip", "install"]:
        pip_at = 2
    if pip_at is not None:
        items, skip = [], False
        value_opts = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--target", "-t",
                      "--prefix", "--root", "--src", "--log", "--cache-dir", "--report", "--python", "--platform",
                      "--progress-bar", "--only-binary", "--no-binary", "--index", "--default-index"}
        file_opts = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "--requirements"}
        for word in argv[pip_at + 1:]:
            if skip:
                items.append(("file:" + posixpath.basename(word)) if skip == "file" else None)
                skip = False
                continue
            if word in value_opts:
                skip = "value"
                continue
            if word in file_opts:
                skip = "file"
                continue
            if word.startswith("-"):
                if "=" in word and word.split("=")[0] in file_opts:
                    items.append("file:" + posixpath.basename(word.split("=", 1)[1]))
                continue
            items.append(_pkg_name(word) if not word.startswith((".", "/")) else "path:" + word.rstrip("/"))
        return "pip", [item for item in items if item]
    if tool in ("poetry", "pipenv", "conda", "mamba", "micromamba") and len(argv) > 1 and argv[1] in ("install", "env", "sync", "create"):
        return tool, [argv[1]]
    if tool == "uv" and len(argv) > 1 and argv[1] == "sync":
        return "uv", ["sync"]
    return None


def _command_key(argv: list[str]) -> str | None:
    tool = posixpath.basename(argv[0])
    if tool in IGNORED_COMMANDS or install_items(argv) is not None:
        return None
    if tool == "rm" and any("/var/lib/apt/lists" in a or a.startswith("/tmp") or "requirements" in a for a in argv[1:]):
        return None
    if tool in ("apt-get", "apt") and any(a in ("clean", "update", "autoremove", "purge", "upgrade") for a in argv[1:]):
        return None
    if (tool in ("python", "python3") and argv[1:3] == ["-m", "venv"]) or (tool == "uv" and argv[1:2] == ["venv"]) \
            or tool in ("virtualenv",):
        return None
    if tool in ("find", "pip", "pip3") or (tool == "rm" and any("site-packages" in a or "venv" in a for a in argv)):
        return None
    if tool in ("mkdir", "chown", "useradd", "adduser", "groupadd", "addgroup"):
        return None  # accounted for by their effect (`_effects`): the rewrite may regroup them
    words = [w for w in argv if not re.fullmatch(r"-[-a-zA-Z0-9]*(=.*)?", w)]
    return " ".join([posixpath.basename(words[0]), *words[1:]]) if words else None


def _effects(argv: list[str], variables: dict[str, str], cwd: str) -> set[tuple[str, str]]:
    """What a mkdir/chown/useradd leaves behind: directories, owned paths, users."""
    tool = posixpath.basename(argv[0])
    words = [expand(w, variables) for w in argv[1:]]
    takes_value = {"-u", "--uid", "-g", "--gid", "-d", "--home", "--home-dir", "-s", "--shell", "-G", "--groups",
                   "--ingroup", "-c", "--comment", "--gecos", "-m" if tool == "mkdir" else "", "-K"}
    args, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in takes_value:
            skip = True
            continue
        if not word.startswith("-"):
            args.append(word)
    if tool == "mkdir":
        return {("dir", norm(a, cwd)) for a in args if "$" not in a}
    if tool == "chown" and len(args) > 1:
        return {("owned", norm(a, cwd)) for a in args[1:] if "$" not in a}
    if tool in ("useradd", "adduser", "groupadd", "addgroup") and args:
        return {("user" if tool in ("useradd", "adduser") else "group", args[-1])}
    return set()


def _inventory(text: str) -> dict:
    parsed = parse_string(text)
    inventory = {"commands": set(), "installs": {}, "copies": set(), "final": {}, "order": [], "effects": set()}
    variables: dict[str, str] = {}
    cwd = "/"
    final_index = parsed.final_stage.index
    copied_project: dict[int, bool] = {}
    for ins in parsed.instructions:
        if ins.cmd in ("COPY", "ADD"):
            sources = [unquote(w) for w in ins.value[:-1]]
            for source in sources:
                inventory["copies"].add(source.rstrip("/").lstrip("./") or ".")
            if any(s in (".", "./") or posixpath.basename(s.rstrip("/")) in PROJECT_FILES for s in sources) \
                    and ins.flag("from") is None:
                copied_project[ins.stage] = True
        if ins.cmd == "ENV":
            variables.update(env_of(ins))
        if ins.cmd == "ARG":
            for item in ins.value:
                key, eq, value = item.partition("=")
                if eq:
                    variables.setdefault(key, unquote(value))
        if ins.cmd == "FROM":
            cwd = "/"
        if ins.cmd == "WORKDIR":
            cwd = norm(unquote(expand(ins.value[0], variables)), cwd)
            inventory["effects"].add(("dir", cwd))
        if ins.cmd in ("COPY", "ADD") and len(ins.value) >= 2:
            dest = norm(unquote(expand(ins.value[-1], variables)), cwd)
            inventory["effects"].add(("dir", dest))
            if ins.flag("chown"):
                inventory["effects"].add(("owned", dest))
        if ins.cmd == "RUN":
            for command in split_shell(ins.shell_text):
                inventory["effects"] |= _effects(command.argv, variables, cwd)
                installed = install_items(command.argv)
                if installed:
                    kind, items = installed
                    inventory["installs"].setdefault(kind, set()).update(items or [kind])
                key = _command_key(command.argv)
                if key:
                    inventory["commands"].add(key)
                if PROJECT_INSTALL.search(" ".join(command.argv)):
                    inventory["order"].append((" ".join(command.argv), copied_project.get(ins.stage, False)))
        if ins.stage == final_index and ins.cmd in ("ENTRYPOINT", "CMD", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "SHELL"):
            inventory["final"][ins.cmd] = " ".join(ins.value)
        if ins.stage == final_index and ins.cmd == "ENV":
            inventory["final"].setdefault("ENV", set()).update(env_of(ins))
        if ins.stage == final_index and ins.cmd == "VOLUME":
            inventory["final"].setdefault("VOLUME", set()).update(unquote(w) for w in ins.value)
    return inventory


def check_lost(original: str, output: str, ignore_text: str | None = None) -> list[Violation]:
    before, after = _inventory(original), _inventory(output)
    found = []
    for source in sorted(before["copies"] - after["copies"]):
        if not source.endswith(WEIGHT_SUFFIXES):
            found.append(Violation("lost", f"COPY/ADD of {source} is gone"))
    excluded = dockerignore_patterns(None, ignore_text) if ignore_text else []
    for source in sorted(before["copies"]):
        if excluded and source not in (".",) and ignored(source, excluded) and not source.endswith(WEIGHT_SUFFIXES):
            found.append(Violation("lost", f"{source} is left out by the output's ignore file"))
    for kind, items in before["installs"].items():
        missing = items - after["installs"].get(kind, set())
        for item in sorted(missing):
            if kind == "pip" and item in ("pip", "setuptools", "wheel", "uv", "poetry", "pipenv"):
                continue
            found.append(Violation("lost", f"{kind} install of {item} is gone"))
    made = {path for kind, path in after["effects"] if kind == "dir"}
    for kind, value in sorted(before["effects"] - after["effects"]):
        if kind == "dir" and any(under(p, value) for p in made):
            continue
        if kind == "owned":
            continue  # ownership is the user check's business (class 2)
        found.append(Violation("lost", {"dir": f"the directory {value} is no longer created",
                                        "user": f"the user {value} is no longer created",
                                        "group": f"the group {value} is no longer created"}[kind]))
    for key in sorted(before["commands"] - after["commands"]):
        if MODEL_DOWNLOAD.search(key):
            continue
        found.append(Violation("lost", f"RUN command `{key[:100]}` is gone"))
    for cmd, value in before["final"].items():
        if cmd in ("ENV", "VOLUME"):
            missing = value - after["final"].get(cmd, set())
            if cmd == "ENV":
                missing = {k for k in missing if not re.search(r"HF_|TRANSFORMERS|TORCH_HOME|SENTENCE_TRANSFORMERS", k)}
            if missing:
                found.append(Violation("lost", f"{cmd} {', '.join(sorted(missing))} missing from the final stage"))
        elif after["final"].get(cmd) != value:
            found.append(Violation("lost", f"{cmd} {value[:80]} changed or missing in the final stage"))
    placed_before = {command for command, after_copy in after["order"] if not after_copy}
    for command, after_copy in before["order"]:
        if after_copy and command in placed_before:
            found.append(Violation("lost", f"`{command}` now runs before the project files it reads are copied"))
    return found


# --- all of them ------------------------------------------------------------------------------------------------

def check(original: str, output: str, context: Path | None = None, facts: dict | None = None,
          ignore_text: str | None = None) -> list[Violation]:
    """Every violation the output adds over the original. `ignore_text`: the output's own ignore file."""
    facts = facts or {}
    return (check_apt(original, output) + check_user(original, output, context, facts, ignore_text)
            + check_chown(original, output, context, ignore_text) + check_lost(original, output, ignore_text))
