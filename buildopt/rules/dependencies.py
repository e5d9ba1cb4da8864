"""How Python dependencies get in: all-extras (BO108), cache-busting-copy (BO115), inline-pip-install (BO116)."""

from __future__ import annotations

from ..severity import Severity
from ..shell import program
from .base import Rule
from .context import RuleContext, RunSite
from .torch import TORCH_FAMILY

TOOLING = frozenset({"pip", "setuptools", "wheel", "uv", "pip-tools", "poetry"})
_OTHER_INSTALLERS = {("npm", "ci"), ("npm", "install"), ("npm", "i"), ("yarn", "install"), ("yarn", ""), ("pnpm", "install"),
                     ("poetry", "install"), ("pipenv", "install"), ("pdm", "install"), ("pdm", "sync")}


class AllExtras(Rule):
    id = "BO108"
    slug = "all-extras"
    severity = Severity.MEDIUM
    title = "Every optional extra is installed (`.[all]`, `-e .[all]`, `pkg[all]`)"
    fix = ("Install only the extras the service needs at run time (e.g. `pip install '.[api]'`); keep dev, test, "
           "docs and alternative backends out of the image.")
    scope = "every stage"

    def check(self, ctx: RuleContext):
        for site in ctx.runs():
            for install in ctx.installs(site):
                hits = []
                for local in install.locals:
                    if "all" in local.extras:
                        hits.append(self._describe_local(local))
                for req in list(install.direct) + list(install.files.requirements):
                    if "all" in req.extras:
                        where = f" ({req.where})" if req.source else ""
                        hits.append(f"`{req.raw}`{where} installs every optional extra of {req.name}")
                if hits:
                    yield self.finding(site.ins, "; ".join(hits))

    @staticmethod
    def _describe_local(local) -> str:
        text = f"`{local.target}` installs every optional extra"
        project = local.project
        if project is None:
            return text + " of the project (pass --context to list them)"
        name = project.name or project.directory.name
        extras = [e for e in local.expanded_extras if e.lower() != "all"]
        packages = sorted({r.name for extra in extras for r in project.extras.get(extra, [])} |
                          {r.name for r in project.extras.get("all", []) if r.name != (project.name or "").lower()})
        shown = ", ".join(packages[:12]) + (f" and {len(packages) - 12} more" if len(packages) > 12 else "")
        if extras:
            return f"{text} of {name}: {', '.join(extras)} ({len(packages)} packages: {shown})"
        return f"{text} of {name} ({len(packages)} packages: {shown})" if packages else text + f" of {name}"


def _dependency_install(ctx: RuleContext, site: RunSite) -> tuple[bool, bool]:
    """(installs dependencies, installs only the local project) for a RUN."""
    if site.dependency_install is None:
        site.dependency_install = _classify_install(ctx, site)
    return site.dependency_install


def _classify_install(ctx: RuleContext, site: RunSite) -> tuple[bool, bool]:
    deps = local_only = False
    for install in ctx.installs(site):
        named = [r for r in install.direct if r.name not in TOOLING]
        if install.call.values("--requirement") or named or install.call.subcommand in ("sync", "add"):
            deps = True
        elif install.locals:
            if install.call.has("--no-deps"):
                local_only = True
            else:
                deps = True
    for argv in site.commands:
        name = program(argv)
        sub = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""
        if (name, sub) in _OTHER_INSTALLERS:
            deps = True
    return deps, local_only


def _whole_context(sources: list[str]) -> bool:
    return any(s.strip() in (".", "./", "*", "./*", "/") for s in sources)


class CacheBustingCopy(Rule):
    id = "BO115"
    slug = "cache-busting-copy"
    severity = Severity.LOW
    title = "The whole context is copied before dependencies are installed"
    fix = ("Copy the dependency files first (requirements.txt, or pyproject.toml and the package skeleton), install, "
           "then `COPY . .`: code changes then reuse the cached install layer.")
    scope = "every stage"

    def check(self, ctx: RuleContext):
        for facts in ctx.facts:
            sites = {id(site.ins): site for site in facts.runs}
            copy_ins = None
            deps_before = any(_dependency_install(ctx, site)[0] for parent in facts.chain()[1:] for site in parent.runs)
            for ins in facts.stage.instructions:
                if ins.cmd in ("COPY", "ADD") and ins.flag("from") is None and copy_ins is None:
                    if _whole_context([s for s in ins.value[:-1]]):
                        copy_ins = ins
                elif ins.cmd == "RUN" and id(ins) in sites:
                    deps, _local_only = _dependency_install(ctx, sites[id(ins)])
                    if copy_ins is None:
                        deps_before = deps_before or deps
                        continue
                    if deps and not (deps_before and self._local_only(ctx, sites[id(ins)])):
                        yield self.finding(copy_ins, f"`{copy_ins.original.splitlines()[0].strip()}` copies the whole "
                                                     f"context before the dependency install at line {ins.line}: every "
                                                     f"code change reinstalls the dependencies")
                        break

    @staticmethod
    def _local_only(ctx: RuleContext, site: RunSite) -> bool:
        installs = ctx.installs(site)
        return bool(installs) and all(not i.direct and not i.call.values("--requirement") and i.locals for i in installs)


class InlinePipInstall(Rule):
    id = "BO116"
    slug = "inline-pip-install"
    severity = Severity.LOW
    title = "Packages are listed on the RUN line instead of in a requirements file"
    fix = ("List the packages, pinned, in requirements.txt (or pyproject.toml), COPY it alone and "
           "`pip install --no-cache-dir -r requirements.txt`: reviewable, reproducible, and cached as one layer.")
    scope = "every stage"

    def check(self, ctx: RuleContext):
        for site in ctx.runs():
            for install in ctx.installs(site):
                if install.call.subcommand != "install":
                    continue
                named = [r for r in install.direct if r.name not in TOOLING]
                if len(named) < 2 or all(r.name in TORCH_FAMILY for r in named):
                    continue  # a lone package, or torch from its own index: the usual two-step install
                shown = ", ".join(r.raw for r in named[:8]) + (" ..." if len(named) > 8 else "")
                yield self.finding(site.ins, f"{len(named)} packages installed inline: {shown}")
                break
