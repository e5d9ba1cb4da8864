"""Safe in-place fixes for Dockerfiles the templates can't represent (non-Python, multi-stage, exotic).

Only edits that can't change what the build produces beyond their purpose, each an insertion into the
original text so everything else stays byte for byte:
- `apt-get install` gets `--no-install-recommends` (BO106);
- a RUN that runs `apt-get update` ends with `apt-get clean && rm -rf /var/lib/apt/lists/*` (BO107);
- `pip install` gets `--no-cache-dir`, `uv pip install` gets `--no-cache` (BO105);
- a final stage that runs as root gets a user with a fixed uid and `USER` (BO101), on bases where the
  way to add a user is known (Debian/Ubuntu, Alpine) and no privileged port is exposed.
- `--python X.Y` moves `FROM python:...` tags, as in a rewrite.
Stages that don't end up in the final image are left alone.
"""

from __future__ import annotations

import re

from ..dockerfile import Dockerfile, Instruction, Stage, env_pairs
from .. import shell
from .options import Change, OptimizeOptions
from .plan import BaseImage, _command_text

_APT = ("apt-get", "apt")
_DEBIAN_LIKE = re.compile(r"(^|/)(python|debian|ubuntu|buildpack-deps|node|ruby|golang|openjdk|eclipse-temurin|rust)(:|$)")
_ALPINE = re.compile(r"alpine")
_NO_SHELL = re.compile(r"distroless|scratch|chainguard|busybox")


class _Edits:
    def __init__(self, text: str):
        self.text = text
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
        self.line_starts = [0]
        for match in re.finditer("\n", text):
            self.line_starts.append(match.end())

    def offset(self, line: int) -> int:
        return self.line_starts[line - 1] if line - 1 < len(self.line_starts) else len(self.text)

    def line_end(self, line: int) -> int:
        return self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)

    def insert(self, at: int, text: str) -> None:
        self.edits.append((at, at, text))

    def replace(self, start: int, end: int, text: str) -> None:
        self.edits.append((start, end, text))

    def apply(self) -> str:
        result = self.text
        # Last position first; at one position the later edit first, so edits end up in the order they were made.
        ordered = sorted(enumerate(self.edits), key=lambda item: (item[1][0], item[1][1], item[0]), reverse=True)
        for _, (start, end, text) in ordered:
            result = result[:start] + text + result[end:]
        return result


def fix_in_place(dockerfile: Dockerfile, options: OptimizeOptions) -> tuple[str, list[Change], list[str]]:
    """(new text, changes, notes on what was left alone)."""
    notes: list[str] = []
    if dockerfile.directives.get("escape", "\\") != "\\":
        return dockerfile.text, [], ["it sets a non-default escape character: no edits"]
    edits = _Edits(dockerfile.text)
    changes: list[Change] = []
    final = dockerfile.final_stage
    shipped = list(reversed(dockerfile.stage_ancestry(final)))
    recommends: list[int] = []
    lists: list[int] = []
    caches: list[int] = []
    for stage in shipped:
        no_cache_env = False
        for ins in stage.instructions:
            if ins.cmd == "ENV":
                value = env_pairs(ins).get("PIP_NO_CACHE_DIR")
                if value is not None:
                    no_cache_env = value.strip().lower() not in ("", "0", "false", "no", "off")
            if ins.cmd != "RUN" or ins.json_form or ins.heredocs:
                continue
            fixed = _fix_run(dockerfile, edits, ins, no_cache_env)
            if fixed is None:
                if re.search(r"\b(apt-get|pip3?)\b", ins.original):
                    notes.append(f"line {ins.line}: RUN left as written (shell control flow or comments)")
                continue
            recommends += fixed[0]
            lists += fixed[1]
            caches += fixed[2]
    if recommends:
        changes.append(Change(["BO106"], "apt-get install --no-install-recommends", lines=recommends))
    if lists:
        changes.append(Change(["BO107"], "apt-get clean && rm -rf /var/lib/apt/lists/* at the end of each RUN that runs apt-get update",
                              lines=lists))
    if caches:
        changes.append(Change(["BO105"], "pip install --no-cache-dir (uv: --no-cache)", lines=caches))
    changes += _fix_user(dockerfile, edits, final, shipped, options, notes)
    if options.python:
        changes += _move_python(dockerfile, edits, options.python)
    return edits.apply(), changes, notes


def _fix_run(dockerfile: Dockerfile, edits: _Edits, ins: Instruction, no_cache_env: bool):
    start = edits.offset(ins.line)
    source = dockerfile.text[start : edits.line_end(ins.end_line)]
    command = _command_text(source)
    base = start + len(source) - len(command)
    script = shell.scan(command)
    if script.complex or not script.commands:
        return None
    cache_mount = any("type=cache" in flag for flag in ins.flags)
    lists_mount = any("type=cache" in flag and "/var/lib/apt" in flag for flag in ins.flags)
    recommends: list[int] = []
    lists: list[int] = []
    caches: list[int] = []
    updates = False
    removes_lists = False
    for cmd in script.commands:
        argv = cmd.argv
        if not argv:
            continue
        words = cmd.words[len(cmd.words) - len(argv):]
        apt = shell.package_invocation(argv)
        pip = shell.pip_invocation(argv)
        if apt is not None and apt.tool in _APT:
            if apt.action == "update":
                updates = True
            if apt.action == "install" and "--no-install-recommends" not in argv:
                edits.insert(base + words[apt.action_index].end, " --no-install-recommends")
                recommends.append(ins.line)
        elif shell.program(argv) == "rm" and any(word.startswith("/var/lib/apt/lists") for word in argv[1:]):
            removes_lists = True
        elif (pip is not None and pip.subcommand == "install" and (pip.tool == "pip" or argv[1:2] == ["pip"])
              and not cache_mount and not no_cache_env):
            flag = "--no-cache" if pip.tool == "uv" else "--no-cache-dir"
            if flag not in argv and not any(word.startswith(("--no-cache-dir", "--cache-dir=/dev/null")) for word in argv):
                edits.insert(base + words[pip.subcommand_index].end, f" {flag}")
                caches.append(ins.line)
    if updates and not removes_lists and not lists_mount:
        edits.insert(base + script.commands[-1].end, " \\\n    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists/*")
        lists.append(ins.line)
    return recommends, lists, caches


def _fix_user(dockerfile: Dockerfile, edits: _Edits, final: Stage, shipped: list[Stage], options: OptimizeOptions,
              notes: list[str]) -> list[Change]:
    users = [ins for stage in shipped for ins in stage.instructions if ins.cmd == "USER"]
    if users and users[-1].value and users[-1].value[0].split(":", 1)[0] not in ("root", "0"):
        return []
    root_base = shipped[0].base_resolved
    ports = [int(p.split("/")[0]) for ins in final.instructions if ins.cmd == "EXPOSE" for p in ins.value
             if p.split("/")[0].isdigit()]
    if any(port < 1024 for port in ports):
        notes.append(f"no USER added: the image exposes port {min(ports)}, which a non-root user can't bind (BO101 not fixed)")
        return []
    if _NO_SHELL.search(root_base):
        notes.append(f"no USER added: {root_base} has no shell to create a user with (BO101 not fixed)")
        return []
    existing = _created_user(shipped)
    name = existing or "app"
    writable = _created_dirs(final)
    if existing:
        create = ""
    elif _ALPINE.search(root_base):
        create = f"RUN adduser -D -u {options.uid} {name}"
    elif _DEBIAN_LIKE.search(root_base):
        create = f"RUN useradd --system --uid {options.uid} --create-home --shell /usr/sbin/nologin {name}"
    else:
        notes.append(f"no USER added: can't tell how to create a user on {root_base} (BO101 not fixed)")
        return []
    if writable:
        chown = f"chown {name}:{name} {' '.join(writable)}"
        create = f"{create} \\\n    && {chown}" if create else f"RUN {chown}"
    # After the last instruction that changes files, and after any USER the stage already has.
    changing = [ins for ins in final.instructions if ins.cmd in ("RUN", "COPY", "ADD", "WORKDIR", "FROM", "USER")]
    anchor = changing[-1]
    block = "\n".join(part for part in (create, f"USER {name}") if part)
    edits.insert(edits.line_end(anchor.end_line), "\n" + block)
    description = f"runs as {name}" + (f" (uid {options.uid})" if not existing else " (the user the file already creates)")
    changes = [Change(["BO101"], description + " instead of root", lines=[final.line])]
    if writable:
        changes.append(Change(["BO119"], f"{', '.join(writable)} owned by {name}", lines=[anchor.line]))
    return changes


def _created_user(stages: list[Stage]) -> str | None:
    for stage in stages:
        for ins in stage.instructions:
            if ins.cmd != "RUN":
                continue
            for argv in _commands(ins):
                if argv and shell.program(argv) in ("useradd", "adduser"):
                    names = [word for word in argv[1:] if not word.startswith("-")]
                    if names:
                        return names[-1]
    return None


def _created_dirs(stage: Stage) -> list[str]:
    found: list[str] = []
    for ins in stage.instructions:
        if ins.cmd == "VOLUME":
            found.extend(value for value in ins.value if value.startswith("/"))
        if ins.cmd != "RUN":
            continue
        for argv in _commands(ins):
            if argv and argv[0] == "mkdir":
                found.extend(word for word in argv[1:] if word.startswith("/") and not word.startswith("-"))
    unique: list[str] = []
    for path in found:
        if path not in unique and path not in ("/", "/tmp", "/var/tmp"):
            unique.append(path)
    return unique


def _commands(ins: Instruction) -> list[list[str]]:
    return shell.split_commands(ins.shell_text) if not ins.json_form else [list(ins.value)]


def _move_python(dockerfile: Dockerfile, edits: _Edits, version: str) -> list[Change]:
    changes: list[Change] = []
    for stage in dockerfile.stages:
        if "$" in stage.base:
            continue
        base = BaseImage.parse(stage.base, stage.base_resolved)
        if base.repository.rsplit("/", 1)[-1] != "python" or base.python == version:
            continue
        line_text = dockerfile.text[edits.offset(stage.line) : edits.line_end(stage.line)]
        at = line_text.find(stage.base)
        if at < 0:
            continue
        new = base.with_python(version)
        start = edits.offset(stage.line) + at
        edits.replace(start, start + len(stage.base), new)
        changes.append(Change(["BO110"], f"line {stage.line}: {stage.base} -> {new} (asked with --python)", lines=[stage.line]))
    return changes
