"""single-stage-build-tools (BO102): compilers, git, Rust or -dev headers left in the final image."""

from __future__ import annotations

from ..estimates import (
    GCC_TOOLCHAIN_IMAGE,
    RUST_TOOLCHAIN,
    Estimate,
    apt_packages_estimate,
    measured_set_for,
)
from ..knowledge import is_build_only_package
from ..severity import Severity
from ..shell import program
from .base import Rule
from .context import RuleContext, RunSite


def build_tool_packages(packages: list[str]) -> list[str]:
    found = []
    for package in packages:
        name = package.split("=", 1)[0].split(":", 1)[0]
        if name.startswith("-") or "$" in name:
            continue
        if is_build_only_package(name):
            found.append(name)
    return found


def installs_rustup(site: RunSite) -> bool:
    for argv in site.commands:
        if any("sh.rustup.rs" in word for word in argv):
            return True
        if program(argv) == "rustup-init":
            return True
    return False


def _removes_rust(site: RunSite) -> bool:
    for argv in site.commands:
        name = program(argv)
        if name == "rustup" and argv[1:3] == ["self", "uninstall"]:
            return True
        if name == "rm" and any(".rustup" in arg for arg in argv[1:]):
            return True
    return False


class SingleStageBuildTools(Rule):
    id = "BO102"
    slug = "single-stage-build-tools"
    severity = Severity.MEDIUM
    title = "Build tools (compilers, git, Rust, -dev headers) are left in the final image"
    fix = ("Install build tools in a builder stage, build the venv (or wheels) there, and copy only /opt/venv into a "
           "final stage that installs just the runtime libraries (libmagic1, not libmagic-dev).")
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        sites = [site for facts in ctx.shipped for site in facts.runs]
        removed_later: dict[str, int] = {}
        for site in sites:
            for call in site.packages:
                if call.removes:
                    for package in call.packages:
                        removed_later.setdefault(package.split("=", 1)[0], site.ins.line)
        for site in sites:
            calls = site.packages
            removed_here = {p.split("=", 1)[0] for c in calls if c.removes for p in c.packages}
            virtual_removed = {p for c in calls if c.removes for p in c.packages}
            left: list[str] = []
            recommends = False
            for call in calls:
                if not call.installs:
                    continue
                if call.virtual and call.virtual in virtual_removed:
                    continue
                for tool in build_tool_packages(call.packages):
                    if tool not in removed_here:
                        left.append(tool)
                        recommends = recommends or not call.no_recommends
            rust = installs_rustup(site) and not _removes_rust(site)
            if not left and not rust:
                continue
            names = list(dict.fromkeys(left)) + (["rustup (Rust toolchain)"] if rust else [])
            estimate = self._estimate(left, recommends, rust)
            later = sorted({removed_later[t] for t in left if removed_later.get(t, 0) > site.ins.line})
            note = (f"; removed again at line {', '.join(map(str, later))}, but a later layer can't shrink this one"
                    if later else "")
            size = f" ({estimate.describe()})" if estimate else ""
            yield self.finding(site.ins, f"build tools left in the final image: {', '.join(names)}{size}{note}",
                               estimate=estimate)

    @staticmethod
    def _estimate(tools: list[str], recommends: bool, rust: bool) -> Estimate | None:
        sets = {measured_set_for(tool) for tool in tools} - {None}
        if sets == {"gcc g++"} and recommends:
            estimate: Estimate | None = GCC_TOOLCHAIN_IMAGE  # measured in an image, not only from apt metadata
        else:
            estimate = apt_packages_estimate(tools, recommends)
        if rust:
            estimate = RUST_TOOLCHAIN if estimate is None else estimate + RUST_TOOLCHAIN
        return estimate
