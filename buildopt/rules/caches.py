"""Caches and extras left in image layers: pip-cache (BO105), apt-recommends (BO106), apt-lists-left (BO107).

Only stages that end up in the final image are checked: a builder stage's caches don't ship.
"""

from __future__ import annotations

from ..estimates import (
    APT_LISTS,
    PIP_CACHE_CPU_TORCH,
    PIP_CACHE_CUDA_TORCH,
    recommends_estimate,
)
from ..severity import Severity
from ..shell import program, removes_apt_lists
from .base import Rule
from .context import RuleContext, RunSite
from .torch import classify

_FALSY = frozenset({"", "0", "false", "no", "off"})


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSY


def _cache_mounted(site: RunSite, needles: tuple[str, ...]) -> bool:
    for mount in site.mounts:
        if mount.type not in ("cache", "tmpfs"):
            continue
        target = site.expand(mount.target).rstrip("/")
        if any(needle in target for needle in needles) or target in ("/root/.cache", "~/.cache", "$HOME/.cache"):
            return True
    return False


def _cache_removed(site: RunSite, tool: str) -> bool:
    for argv in site.commands:
        name = program(argv)
        if name == "rm" and any(arg.rstrip("/*").endswith((".cache", f".cache/{tool}")) for arg in argv[1:]):
            return True
        if tool == "pip" and name.startswith("pip") and argv[1:3] == ["cache", "purge"]:
            return True
        if tool == "uv" and name == "uv" and argv[1:2] == ["cache"] and argv[2:3] in (["clean"], ["prune"]):
            return True
    return False


class PipCache(Rule):
    id = "BO105"
    slug = "pip-cache"
    severity = Severity.MEDIUM
    title = "pip (or uv) keeps its download cache in the image"
    fix = ("Add `--no-cache-dir` to pip install (`--no-cache` for uv), set `ENV PIP_NO_CACHE_DIR=1`, or use a "
           "BuildKit cache mount: `RUN --mount=type=cache,target=/root/.cache/pip pip install ...`.")
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        for facts in ctx.shipped:
            for site in facts.runs:
                leaky = []
                for call in site.pips:
                    if not call.installs or call.no_cache:
                        continue
                    if any(v == "/dev/null" for v in call.values("--cache-dir")):
                        continue
                    if call.tool == "pip" and _truthy(site.env.get("PIP_NO_CACHE_DIR")):
                        continue
                    if call.tool == "uv" and _truthy(site.env.get("UV_NO_CACHE")):
                        continue
                    cache_dir = site.env.get("PIP_CACHE_DIR" if call.tool == "pip" else "UV_CACHE_DIR", "")
                    needles = (f".cache/{call.tool}",) + ((cache_dir.rstrip("/"),) if cache_dir else ())
                    if _cache_mounted(site, needles) or _cache_removed(site, call.tool):
                        continue
                    leaky.append(call)
                if not leaky:
                    continue
                estimate = None
                for install in ctx.installs(site):
                    if install.call in leaky:
                        verdict, _ = classify(install, None)
                        if verdict in ("cuda", "indirect", "gpu"):  # the cache holds the GPU wheels
                            estimate = PIP_CACHE_CUDA_TORCH
                        elif verdict == "cpu" and estimate is None:
                            estimate = PIP_CACHE_CPU_TORCH
                tools = sorted({f"{c.tool} {c.subcommand}" for c in leaky})
                size = f" ({estimate.describe()})" if estimate else ""
                yield self.finding(site.ins, f"{' and '.join(tools)} without --no-cache-dir/--no-cache: the downloaded "
                                             f"wheels stay in this layer{size}", estimate=estimate)


def _configures_no_recommends(text: str) -> bool:
    return "Install-Recommends" in text and any(v in text for v in ('"0"', '"false"', "'0'", "'false'", "false;", "0;"))


def recommends_disabled_lines(ctx: RuleContext) -> dict[int, int | None]:
    """Per stage index: the line from which apt.conf.d disables recommends (inherited: 0), or None.

    An earlier RUN writing `APT::Install-Recommends "false"` or a COPY into /etc/apt/apt.conf.d counts.
    """
    result: dict[int, int | None] = {}
    for facts in ctx.facts:
        start = 0 if facts.parent is not None and result.get(facts.parent.stage.index) is not None else None
        if start is None:
            candidates = [site.ins.line for site in facts.runs if _configures_no_recommends(site.text)]
            candidates += [copy.ins.line for copy in facts.copies if copy.dest.startswith("/etc/apt/apt.conf.d")]
            start = min(candidates) if candidates else None
        result[facts.stage.index] = start
    return result


class AptRecommends(Rule):
    id = "BO106"
    slug = "apt-recommends"
    severity = Severity.LOW
    title = "apt-get install without --no-install-recommends"
    fix = "Use `apt-get install -y --no-install-recommends ...` and add back only the packages the app needs."
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        disabled_from = recommends_disabled_lines(ctx)
        for facts in ctx.shipped:
            for site in facts.runs:
                calls = [c for c in site.packages
                         if c.tool in ("apt-get", "apt", "aptitude") and c.installs and not c.no_recommends]
                if not calls:
                    continue
                start = disabled_from.get(facts.stage.index)
                if start is not None and start < site.ins.line:
                    continue
                packages = [p for c in calls for p in c.packages]
                estimate = recommends_estimate(packages)
                size = f": recommends of the measured packages add {estimate.describe()}" if estimate else ""
                listed = ", ".join(packages[:6]) + (" ..." if len(packages) > 6 else "")
                yield self.finding(site.ins, f"apt installs recommended packages too ({listed}){size}", estimate=estimate)


class AptListsLeft(Rule):
    id = "BO107"
    slug = "apt-lists-left"
    severity = Severity.LOW
    title = "apt package lists are left in the layer (apt-get update without rm -rf /var/lib/apt/lists/*)"
    fix = ("End the same RUN with `&& apt-get clean && rm -rf /var/lib/apt/lists/*`, or use cache mounts on "
           "/var/lib/apt/lists and /var/cache/apt.")
    scope = "stages that end up in the final image"

    def check(self, ctx: RuleContext):
        for facts in ctx.shipped:
            for site in facts.runs:
                calls = site.packages
                updates = [c for c in calls if c.tool in ("apt-get", "apt", "aptitude") and c.action == "update"]
                if not updates:
                    continue
                if any(removes_apt_lists(argv) for argv in site.commands):
                    continue
                if any(m.type in ("cache", "tmpfs") and site.expand(m.target).rstrip("/").startswith("/var/lib/apt")
                       for m in site.mounts):
                    continue
                yield self.finding(site.ins, f"`{updates[0].tool} update` leaves the package lists in this layer "
                                             f"({APT_LISTS.describe()})", estimate=APT_LISTS)
