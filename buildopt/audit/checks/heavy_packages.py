"""heavy-runtime-package: office suites, browsers, TeX or a JDK installed in the image (knowledge.heavy_runtime)."""

from __future__ import annotations

from ... import estimates
from ...knowledge import heavy_runtime
from ...severity import Severity
from ...units import format_size
from .base import ESTIMATE, FILES, MB, Check, layer_name, size_severity
from .context import HistoryContext, ProfileContext


class HeavyRuntimePackage(Check):
    slug = "heavy-runtime-package"
    severity = Severity.MEDIUM
    title = "Heavy system packages in the image"
    fix = ("Move the heavy tool (LibreOffice, Chromium, TeX, a JDK) to its own service, or install only the "
           "parts the runtime calls, with --no-install-recommends.")

    def from_history(self, ctx: HistoryContext):
        found = [(step, heavy, facts) for step, facts in ctx.steps
                 if (heavy := [name for name in facts.installed if heavy_runtime(name)])]
        if not found:
            return
        total = 0
        evidence = []
        for step, heavy, facts in found:
            estimate = estimates.apt_packages_estimate(heavy, recommends=not facts.no_recommends)
            total += min(step.size, estimate.bytes) if estimate else 0
            evidence.append(f"layer {layer_name(step)} ({format_size(step.size)}): {', '.join(heavy)}")
        yield self.finding(
            f"~{format_size(total)} of office suites, browsers, TeX or a JDK",
            title=f"{self.title} ({', '.join(sorted({h for _, names, _ in found for h in names}))})",
            severity=size_severity(total, self.severity), bytes=total, basis=ESTIMATE, layer=found[0][0].index,
            created_by=found[0][0].created_by, evidence=tuple(evidence))

    def from_profile(self, ctx: ProfileContext):
        heavy = [p for p in ctx.profile.packages_of("deb") if heavy_runtime(p.name)]
        heavy_bytes = sum(p.size for p in heavy)
        if heavy_bytes < 50 * MB:
            return
        yield self.finding(
            f"{len(heavy)} packages: {format_size(heavy_bytes)}",
            title=f"{self.title} ({', '.join(p.name for p in heavy[:4])})",
            severity=size_severity(heavy_bytes, self.severity), bytes=heavy_bytes, basis=FILES,
            evidence=tuple(f"{p.name} {p.version}: {format_size(p.size)}"
                           for p in sorted(heavy, key=lambda p: -p.size)[:5]))
