"""Who the container runs as: root-user (BO101) and root-owned-writable-dir (BO119)."""

from __future__ import annotations

import posixpath
import re

from ..dockerfile import substitute
from ..knowledge import WRITABLE_DIR_NAMES
from ..severity import Severity
from ..shell import program
from .base import Rule
from .context import RuleContext, RunSite, StageFacts


def is_root_user(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("root", "0")


def runs_as_root(final: StageFacts) -> bool:
    """The container's main process starts as root: a root USER last, or no USER and a base image that doesn't
    set a non-root one (read from the engine or the known-images table; an unknown base counts as root)."""
    user = final.effective_user
    return user is None or user.strip() == "" or is_root_user(user)


class RootUser(Rule):
    id = "BO101"
    slug = "root-user"
    severity = Severity.HIGH
    title = "The container runs as root (no USER in the final stage, or a root USER last)"
    fix = ("Create a user with a fixed uid in the final stage (`RUN useradd --create-home --uid 10001 app`), "
           "give it the directories it writes, and end with `USER app`.")
    scope = "final stage and the local stages it is built FROM; the base image's own USER"

    def check(self, ctx: RuleContext):
        final = ctx.final
        if final.user is not None:
            name, ins = final.user
            if is_root_user(name):
                yield self._root(ctx, ins, f"`USER {name}` is the last USER of the final stage")
            return
        root = final.root
        if final.parent is None and final.base_candidates:
            if all(not runs_as_root(ctx.facts[stage.index]) for stage in final.base_candidates):
                return  # every stage the build arg can pick ends with a non-root USER
        elif not runs_as_root(final):
            return  # the base image already runs as a non-root user (distroless :nonroot, micromamba ...)
        where = " or the stages it is built FROM" if final.parent is not None else ""
        if root.base_unresolved:
            yield self.finding(final.stage, f"no USER in the final stage{where}, and its base image is the build "
                                            f"argument in `FROM {root.stage.base}`, which has no value in the file: the "
                                            f"container runs as root unless that image sets a non-root USER",
                               severity=Severity.MEDIUM)
            return
        yield self._root(ctx, final.stage, f"no USER in the final stage{where}")

    def _root(self, ctx: RuleContext, where, what: str):
        drop = ctx.start_drop
        if drop is None:
            return self.finding(where, f"{what}: the container runs as root")
        how, origin = drop
        return self.finding(where, f"{what}: the container starts as root, and {origin} runs the app as "
                                   f"another user ({how}), so only the start-up (user remapping, chown of volumes) runs "
                                   f"as root", severity=Severity.LOW,
                            fix="Nothing to do if the start-up needs root (PUID/PGID remapping, chown of volumes); "
                                "otherwise give the files to the app's user at build time and end with `USER`.")


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
        user = (final.effective_user or "").split(":", 1)[0] or None
        base_user = final.root.base.user if final.root.base is not None else ""
        sites = [site for facts in reversed(final.chain()) for site in facts.runs]
        created: list[tuple[RunSite, str]] = []  # (site, dir)
        world_writable: dict[str, bool] = {}
        owners: list[tuple[str, str, bool, int]] = []  # (path, owner, recursive, line): chown, install -o, COPY --chown
        owner: str | None
        for site in sites:
            creator = (site.user if site.user is not None else base_user).split(":", 1)[0]
            for argv in site.commands:
                name = program(argv)
                args = [site.expand(a) for a in argv[1:]]
                if name == "mkdir":
                    for path in _operands(args, {"-m", "--mode"}):
                        created.append((site, _absolute(site.workdir, path)))
                        if creator and not is_root_user(creator):  # made by the RUN's own (non-root) USER
                            owners.append((_absolute(site.workdir, path), creator, False, site.ins.line))
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
                            owners.append((_absolute(site.workdir, path), owner, recursive, site.ins.line))
                elif name == "install" and "-d" in args:
                    owner = _option_value(args, ("-o", "--owner")) or (creator if creator and not is_root_user(creator) else None)
                    for path in _operands(args, {"-o", "-g", "-m", "--owner", "--group", "--mode"}):
                        if path == "-d":
                            continue
                        created.append((site, _absolute(site.workdir, path)))
                        if owner:
                            owners.append((_absolute(site.workdir, path), owner, False, site.ins.line))
        for facts in final.chain():
            for copy in facts.copies:
                if copy.chown:
                    owner = _expand_user(copy.chown, facts).split(":", 1)[0]
                    owners.append((copy.dest, owner, False, copy.ins.line))
                    # It owns what it copies: below its destination, the directories the context holds (all of
                    # them when the context wasn't given, or the files come from another stage).
                    for path in {p for _, p in created if p.startswith(copy.dest.rstrip("/") + "/")}:
                        if copy.from_ is not None or ctx.context is None or _copied_by(ctx, copy, path):
                            owners.append((path, owner, False, copy.ins.line))
        reported: dict[int, list[str]] = {}
        sites_by_id = {}
        for site, path in created:
            writable = _covered(path, world_writable) or _writable_name(path)
            if not writable:
                continue
            owner = _owner(path, site.ins.line, owners)
            # Handed to a service user (in the same RUN, later, or made by it): not root-owned. Only a clearly
            # different named user than the one the container runs as is worth a word.
            if owner is not None and owner != "" and not is_root_user(owner) and (
                    as_root or user is None or owner == user or owner.isdigit() or user.isdigit() or "$" in owner + user):
                continue
            reported.setdefault(id(site), []).append(path)
            sites_by_id[id(site)] = site
        drop = ctx.start_drop if as_root else None
        for key, paths in reported.items():
            site = sites_by_id[key]
            listed = ", ".join(dict.fromkeys(paths))
            owner = _owner(paths[0], site.ins.line, owners)
            if owner and not is_root_user(owner):
                message = f"{listed} is owned by {owner}, not by USER {user}: the app can't write there"
            elif as_root and drop is not None:
                message = (f"{listed} is owned by root, and the app runs as another user ({drop[0]} in {drop[1]}): it "
                           f"can't write there unless the start-up hands it over")
            elif as_root:
                message = (f"{listed} created by root for an app that runs as root: whatever writes there "
                           f"(uploads, caches) does so with root rights")
            elif any(_covered(p, world_writable) for p in paths):
                message = f"{listed} made world-writable instead of owned by USER {user}"
            else:
                message = f"{listed} is owned by root, not by USER {user}: the app can't write there (or needs it world-writable)"
            yield self.finding(site.ins, message)


def _copied_by(ctx: RuleContext, copy, path: str) -> bool:
    """The COPY/ADD from the context brings `path` (a directory below its destination) into the image."""
    root = ctx.context.root  # type: ignore[union-attr]
    rest = path[len(copy.dest.rstrip("/")) + 1:]
    for source in copy.sources:
        clean = posixpath.normpath(source.lstrip("/"))
        base = root if clean in (".", "") else root / clean
        if base.is_dir() and (base / rest).is_dir():
            return True
    return False


def _owner(path: str, created_line: int, owners: list[tuple[str, str, bool, int]]) -> str | None:
    """Who owns a directory created at `created_line`: the last chown (or COPY --chown, install -o, creation by a
    non-root USER) at or after that line that covers it; None when none does (root made it)."""
    found = None
    for target, owner, recursive, line in owners:
        if line < created_line:
            continue
        if path == target or (recursive and path.startswith(target.rstrip("/") + "/")):
            found = owner
    return found


def _expand_user(text: str, facts: StageFacts) -> str:
    """`--chown=$MAMBA_USER:$MAMBA_USER` with the stage's ENV/ARG values (the base image's ENV included)."""
    return substitute(text, {**facts.args, **facts.env}) if "$" in text else text


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
