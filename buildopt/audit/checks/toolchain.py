"""build-toolchain: compilers, Rust and git left in the final image, which only the build needs (upstream waste:
a maintainer removes it without changing the app)."""

from __future__ import annotations

from typing import NamedTuple

from ... import estimates
from ...inspect.classify import is_toolchain_deb
from ...inspect.model import ImageProfile
from ...knowledge import (
    COMPILER_PATHS,
    RUST_GO,
    RUST_TOOLCHAIN_DIRS,
    is_compiler_package,
)
from ...severity import Severity
from ...units import format_size
from .base import (
    ESTIMATE,
    FILES,
    LAYER,
    LAYER_SIZE,
    Check,
    LayerPart,
    clip,
    layer_name,
    size_severity,
)
from .context import HistoryContext, ProfileContext, a_file_under

RUSTUP = "rust (rustup)"


class Tool(NamedTuple):
    name: str
    bytes: int
    path: str  # a file of it, to find its layer ("" when the package's files aren't listed)
    how: str  # how it was recognised: "deb package", "path", "directory"


class BuildToolchain(Check):
    slug = "build-toolchain"
    severity = Severity.MEDIUM
    title = "Build toolchain left in"
    fix = ("Multi-stage build: install compilers (gcc, git, rustup) in a builder stage, build wheels or the "
           "venv there, and `COPY --from=builder /opt/venv /opt/venv` into a slim runtime stage.")
    upstream = True

    def from_history(self, ctx: HistoryContext):
        found = []
        for step, facts in ctx.steps:
            tools = [name for name in facts.installed if is_toolchain(name)] + ([RUSTUP] if facts.rustup else [])
            if tools:
                found.append((step, tools, facts))
        if not found:
            return
        bases, total, evidence, parts = [], 0, [], []
        for step, tools, facts in found:
            if any(tool.startswith("rust") for tool in tools):
                share = step.size  # rustup's step is the toolchain download
                basis, source = LAYER, LAYER_SIZE
            else:
                estimate = estimates.apt_packages_estimate([t for t in tools if t != RUSTUP],
                                                           recommends=not facts.no_recommends)
                share = min(step.size, estimate.bytes) if estimate else 0
                basis = ESTIMATE
                source = f"{estimate.source}, at most the layer's size" if estimate else "no measured size"
            total += share
            bases.append(basis)
            parts.append(LayerPart(step.index, step.created_by, ", ".join(tools), share, source))
            evidence.append(f"layer {layer_name(step)} ({format_size(step.size)}): {', '.join(tools)}: "
                            f"{clip(step.created_by)}")
        first = found[0][0]
        yield self.finding(
            f"the final image's build steps install compilers or build tools: ~{format_size(total)} "
            "that only the build needs",
            title=f"{self.title} ({', '.join(sorted({t for _, tools, _ in found for t in tools}))})",
            severity=size_severity(total, self.severity), bytes=total,
            basis=LAYER if set(bases) == {LAYER} else ESTIMATE, layer=first.index, created_by=first.created_by,
            evidence=tuple(evidence), parts=tuple(parts))

    def from_profile(self, ctx: ProfileContext):
        tools = toolchain_in_profile(ctx.profile)
        if not tools:
            return
        total = sum(tool.bytes for tool in tools)
        by_layer: dict[int | None, list[Tool]] = {}
        for tool in tools:
            path = tool.path or next((p for p in COMPILER_PATHS if ctx.profile.file(p) is not None), "")
            by_layer.setdefault(ctx.layer_of([(path, tool.bytes)]) if path else None, []).append(tool)
        parts = tuple(LayerPart(index, ctx.created_by(index), ", ".join(t.name for t in group),
                                sum(t.bytes for t in group))
                      for index, group in sorted(by_layer.items(), key=lambda item: -sum(t.bytes for t in item[1])))
        layer = parts[0].layer
        yield self.finding(
            f"compilers and build tools only the build needs: {format_size(total)}",
            title=f"{self.title} ({', '.join(tool.name for tool in tools[:6])})",
            severity=size_severity(total, self.severity), bytes=total, basis=FILES, layer=layer,
            created_by=ctx.created_by(layer),
            evidence=tuple(f"{tool.name}: {format_size(tool.bytes)} ({tool.how})" for tool in tools[:8]), parts=parts)


def is_toolchain(package: str) -> bool:
    """Compilers, Rust and git: what a build needs and a running service doesn't (-dev headers aside: too small to
    matter in a history-level estimate)."""
    return is_compiler_package(package) or package in RUST_GO or package == "git"


def toolchain_in_profile(profile: ImageProfile) -> list[Tool]:
    """Each build tool the image holds: toolchain debs, git, a rust toolchain, compilers known by path."""
    found: list[Tool] = []
    debs = [p for p in profile.packages_of("deb") if is_toolchain_deb(p.name)]
    found += [Tool(package.name, package.size, "", "deb package") for package in debs]
    git = profile.package("git", "deb")
    git_file = profile.file("/usr/bin/git")
    if git is not None:
        found.append(Tool("git", git.size, "/usr/bin/git", "deb package"))
    elif git_file is not None:
        found.append(Tool("git", git_file.size, "/usr/bin/git", "path"))
    rust_dirs = sorted(path for path in profile.dirs if path.startswith(RUST_TOOLCHAIN_DIRS))
    if rust_dirs:
        largest = max(rust_dirs, key=lambda path: profile.dirs[path].size)
        found.append(Tool("rust toolchain", sum(profile.dirs[path].size for path in rust_dirs),
                          a_file_under(profile, largest), "directory"))
    if not debs:  # compilers the package manager didn't install: known only by their path
        for path in profile.build_tools:
            if path.startswith("/"):
                entry = profile.file(path)
                found.append(Tool(path.rsplit("/", 1)[-1], entry.size if entry else 0, path, "path"))
    return sorted(found, key=lambda tool: (-tool.bytes, tool.name))
