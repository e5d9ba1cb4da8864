"""Who the container runs as: root-user (BO101) and root-owned-writable-dir (BO119)."""

from __future__ import annotations

import posixpath
import re

from ..knowledge import WRITABLE_DIR_NAMES
from ..shell import program
from ..severity import Severity
from .base import Rule
from .context import RuleContext, StageFacts



def is_root_user(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("root", "0")


def runs_as_root(final: StageFacts) -> bool:
    return final.user is None or is_root_user(final.user[0])


class RootUser(Rule):
    id = "BO101"
    slug = "root-user"
    severity = Severity.HIGH
    title = "The container runs as root (no USER in the final stage, or a root USER last)"
    fix = ("Create a user with a fixed uid in the final stage (`RUN useradd --create-home --uid 10001 app`), "
           "give it the directories it writes, and end with `USER app`.")
    scope = "final stage and the local stages it is built FROM"

    def check(self, ctx: RuleContext):
        final = ctx.final
        if final.user is None:
            where = " or the stages it is built FROM" if final.parent is not None else ""
            yield self.finding(final.stage, f"no USER in the final stage{where}: the container runs as root")
        elif is_root_user(final.user[0]):
            name, ins = final.user
            yield self.finding(ins, f"`USER {name}` is the last USER of the final stage: the container runs as root")


class RootOwnedWritableDir(Rule):
    id = "BO119"
    slug = "root-owned-writable-dir"
    severity = Severity.MEDIUM
    title = "A directory the app writes to is created by root and not owned by the runtime user"
    fix = ("Create the directory and hand it to the runtime user in the same step "
           "(`mkdir -p /tmp/uploads && chown app:app /tmp/uploads`), run as that USER, and avoid chmod 777.")
    scope = "final stage and the local stages it is built FROM"

    def check(self, ctx: RuleContext):
        final = ctx.final
        as_root = runs_as_root(final)
        user = None if final.user is None else final.user[0].split(":", 1)[0]
        sites = [site for facts in reversed(final.chain()) for site in facts.runs]
        created: list[tuple[object, str]] = []  # (site, dir)
        world_writable: dict[str, bool] = {}
        owners: list[tuple[str, str, bool]] = []  # (path, owner, recursive)
        for site in sites:
            for argv in site.commands:
                name = program(argv)
                args = [site.expand(a) for a in argv[1:]]
                if name == "mkdir":
                    for path in _operands(args, {"-m", "--mode"}):
                        created.append((site, _absolute(site.workdir, path)))
                    mode = _option_value(args, ("-m", "--mode"))
                    if mode and _world_writable(mode):
                        for path in _operands(args, {"-m", "--mode"}):
                            world_writable[_absolute(site.workdir, path)] = True
                elif name == "chmod":
                    operands = _operands(args, set())
                    if len(operands) >= 2 and _world_writable(operands[0]):
                        for path in operands[1:]:
                            world_writable[_absolute(site.workdir, path)] = True
                elif name == "chown":
                    operands = _operands(args, {"--reference"})
                    recursive = any(a in ("-R", "--recursive") or (a.startswith("-") and not a.startswith("--") and "R" in a) for a in args)
                    if len(operands) >= 2:
                        owner = operands[0].split(":", 1)[0].split(".", 1)[0]
                        for path in operands[1:]:
                            owners.append((_absolute(site.workdir, path), owner, recursive))
                elif name == "install" and "-d" in args:
                    owner = _option_value(args, ("-o", "--owner"))
                    for path in _operands(args, {"-o", "-g", "-m", "--owner", "--group", "--mode"}):
                        if path == "-d":
                            continue
                        created.append((site, _absolute(site.workdir, path)))
                        if owner:
                            owners.append((_absolute(site.workdir, path), owner, False))
        for facts in final.chain():
            for copy in facts.copies:
                if copy.chown:
                    owners.append((copy.dest, copy.chown.split(":", 1)[0], True))
        reported: dict[int, list[str]] = {}
        sites_by_id = {}
        for site, path in created:
            writable = _covered(path, world_writable) or _writable_name(path)
            if not writable:
                continue
            owned = user is not None and not as_root and any(
                owner == user and (path == target or (recursive and path.startswith(target.rstrip("/") + "/")))
                for target, owner, recursive in owners)
            if as_root or not owned:
                reported.setdefault(id(site), []).append(path)
                sites_by_id[id(site)] = site
        for key, paths in reported.items():
            site = sites_by_id[key]
            listed = ", ".join(dict.fromkeys(paths))
            if as_root:
                message = (f"{listed} created by root for an app that runs as root: whatever writes there "
                           f"(uploads, caches) does so with root rights")
            elif any(_covered(p, world_writable) for p in paths):
                message = f"{listed} made world-writable instead of owned by USER {user}"
            else:
                message = f"{listed} is owned by root, not by USER {user}: the app can't write there (or needs it world-writable)"
            yield self.finding(site.ins, message)


def _operands(args: list[str], value_options: set[str]) -> list[str]:
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in value_options:
            skip = True
        elif arg.startswith("-") and arg != "-":
            continue
        else:
            found.append(arg)
    return found


def _option_value(args: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _world_writable(mode: str) -> bool:
    """777, 0777, o+w, a+rwx, ugo=rwx. A bare `+w` honours the umask (022), so it isn't."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode[-1]) & 2 == 2
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)([+=])([rwxXst]*)", clause)
        if match and "w" in match.group(3) and ("o" in match.group(1) or "a" in match.group(1)):
            return True
    return False


def _absolute(workdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(workdir, path.rstrip("/") or "/"))


def _covered(path: str, marked: dict[str, bool]) -> bool:
    return path in marked or any(path.startswith(parent.rstrip("/") + "/") for parent in marked)


def _writable_name(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] in ("tmp", "var") and (parts[0] == "tmp" or parts[1] == "tmp"):
        return True
    return bool(parts) and parts[-1].lower() in WRITABLE_DIR_NAMES
