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

from .. import shell
from ..dockerfile import Dockerfile, Instruction, Stage, env_pairs
from .extract.runs import shell_part
from .options import Change, OptimizeOptions, advice
from .plan import BaseImage
from .safety import UserPlan, apt_lists_needed_after, quote

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


def fix_in_place(dockerfile: Dockerfile, options: OptimizeOptions,
                 users: UserPlan | None = None) -> tuple[str, list[Change], list[str]]:
    """(new text, changes applied or advised, notes on what was left alone)."""
    notes: list[str] = []
    if dockerfile.directives.get("escape", "\\") != "\\":
        return dockerfile.text, [], ["it sets a non-default escape character: no edits"]
    edits = _Edits(dockerfile.text)
    changes: list[Change] = []
    final = dockerfile.final_stage
    shipped = list(reversed(dockerfile.stage_ancestry(final)))
    found = _RunFixes()
    for stage in shipped:
        no_cache_env = False
        for ins in stage.instructions:
            if ins.cmd == "ENV":
                value = env_pairs(ins).get("PIP_NO_CACHE_DIR")
                if value is not None:
                    no_cache_env = value.strip().lower() not in ("", "0", "false", "no", "off")
            if ins.cmd != "RUN" or ins.json_form or ins.heredocs:
                continue
            if not _fix_run(dockerfile, edits, ins, no_cache_env, options.skip, found) and re.search(
                    r"\b(apt-get|pip3?)\b", ins.original):
                notes.append(f"line {ins.line}: RUN left as written (shell control flow or comments)")
    if found.recommends:
        changes.append(Change(["BO106"], "apt-get install --no-install-recommends", lines=found.recommends,
                              key=APT_RECOMMENDS))
    if found.lists:
        changes.append(Change(["BO107"], "apt-get clean && rm -rf /var/lib/apt/lists/* at the end of each RUN that runs "
                                         "apt-get update", lines=found.lists, key=APT_LISTS))
    if found.caches:
        changes.append(Change(["BO105"], "pip install --no-cache-dir (uv: --no-cache)", lines=found.caches, key=PIP_CACHE))
    changes += found.advised
    if NON_ROOT in options.skip:
        changes.append(advice(NON_ROOT, ["BO101"], "run as a non-root user", f"turned off (--skip {NON_ROOT})"))
    else:
        changes += _fix_user(dockerfile, edits, final, shipped, options, notes, users)
    if options.python:
        changes += _move_python(dockerfile, edits, options.python)
    return edits.apply(), changes, notes


# The keys of the in-place fixes (`--skip KEY`); the non-root and pip-cache ones match the rewrite's transforms.
APT_RECOMMENDS = "apt-recommends"
APT_LISTS = "apt-lists"
PIP_CACHE = "pip-no-cache"
NON_ROOT = "non-root"


class _RunFixes:
    def __init__(self):
        self.recommends: list[int] = []
        self.lists: list[int] = []
        self.caches: list[int] = []
        self.advised: list[Change] = []


def _fix_run(dockerfile: Dockerfile, edits: _Edits, ins: Instruction, no_cache_env: bool, skip: frozenset[str],
             found: _RunFixes) -> bool:
    """Edit one RUN; False when its shell can't be edited safely (control flow, comments)."""
    start = edits.offset(ins.line)
    source = dockerfile.text[start : edits.line_end(ins.end_line)]
    command = shell_part(source)
    base = start + len(source) - len(command)
    script = shell.scan(command)
    if script.complex or not script.commands:
        return False
    cache_mount = any("type=cache" in flag for flag in ins.flags)
    lists_mount = any("type=cache" in flag and "/var/lib/apt" in flag for flag in ins.flags)
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
            if apt.action == "install" and "--no-install-recommends" not in argv and APT_RECOMMENDS not in skip:
                edits.insert(base + words[apt.action_index].end, " --no-install-recommends")
                found.recommends.append(ins.line)
        elif shell.program(argv) == "rm" and any(word.startswith("/var/lib/apt/lists") for word in argv[1:]):
            removes_lists = True
        elif (pip is not None and pip.subcommand == "install" and (pip.tool == "pip" or argv[1:2] == ["pip"])
              and not cache_mount and not no_cache_env and PIP_CACHE not in skip):
            flag = "--no-cache" if pip.tool == "uv" else "--no-cache-dir"
            if flag not in argv and not any(word.startswith(("--no-cache-dir", "--cache-dir=/dev/null")) for word in argv):
                edits.insert(base + words[pip.subcommand_index].end, f" {flag}")
                found.caches.append(ins.line)
    if updates and not removes_lists and not lists_mount and APT_LISTS not in skip:
        needed = apt_lists_needed_after(dockerfile, ins)
        if needed is None:
            edits.insert(base + script.commands[-1].end, " \\\n    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists/*")
            found.lists.append(ins.line)
        else:
            found.advised.append(advice(APT_LISTS, ["BO107"], f"remove the apt lists at the end of line {ins.line}",
                                        f"apt lists kept: {needed}", [ins.line]))
    return True


def _fix_user(dockerfile: Dockerfile, edits: _Edits, final: Stage, shipped: list[Stage], options: OptimizeOptions,
              notes: list[str], users: UserPlan | None) -> list[Change]:
    users_seen = [ins for stage in shipped for ins in stage.instructions if ins.cmd == "USER"]
    if users_seen and users_seen[-1].value and users_seen[-1].value[0].split(":", 1)[0] not in ("root", "0"):
        return []
    root_base = shipped[0].base_resolved

    def advised(reason: str) -> list[Change]:
        return [advice(NON_ROOT, ["BO101"], "run as a non-root user", f"USER not added: {reason}", [final.line])]

    if _NO_SHELL.search(root_base):
        return advised(f"{root_base} has no shell to create a user with")
    if users is not None and not users.safe:
        return advised(users.reason())
    existing = _created_user(shipped)
    name = existing or "app"
    if existing:
        create = ""
    elif _ALPINE.search(root_base):
        create = f"adduser -D -u {options.uid} {name}"
    elif _DEBIAN_LIKE.search(root_base):
        # --no-log-init: no lastlog/faillog records; --skel /nonexistent: a home without shell dotfiles (nologin)
        create = (f"useradd --system --no-log-init --uid {options.uid} --create-home --skel /nonexistent "
                  f"--shell /usr/sbin/nologin {name}")
    else:
        return advised(f"can't tell how to create a user on {root_base}")
    owned = users.own_dirs if users is not None else []
    files = users.own_files if users is not None else []
    commands = [create] if create else []
    if owned:
        paths = " ".join(quote(path) for path in owned)
        commands += [f"mkdir -p {paths}", f"chown {name}: {paths}"]  # `name:`: the user's own login group
    if files:
        commands.append(f"chown {name}: {' '.join(quote(path) for path in files)}")
    # After the last instruction that changes files, and after any USER the stage already has.
    changing = [ins for ins in final.instructions if ins.cmd in ("RUN", "COPY", "ADD", "WORKDIR", "FROM", "USER")]
    anchor = changing[-1]
    block = ("RUN " + " \\\n    && ".join(commands) + "\n" if commands else "") + f"USER {name}"
    edits.insert(edits.line_end(anchor.end_line), "\n" + block)
    description = f"runs as {name}" + (f" (uid {options.uid})" if not existing else " (the user the file already creates)")
    changes = [Change(["BO101"], description + " instead of root", lines=[final.line], key=NON_ROOT)]
    if owned:
        changes.append(Change(["BO119"], f"{', '.join(owned)} owned by {name}", lines=[anchor.line], key=NON_ROOT))
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


def _commands(ins: Instruction) -> list[list[str]]:
    return shell.simple_commands(ins.shell_text) if not ins.json_form else [list(ins.value)]


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
