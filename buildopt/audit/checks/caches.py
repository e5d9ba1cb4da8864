"""package-cache: download caches and package lists left in the image (upstream waste). From the history: pip
without --no-cache-dir (no bytes: the history can't tell how much stayed) and apt lists kept; from the files:
every cache the inspect stage measures (pip/uv/poetry, apt lists and archives, apk/dnf, /tmp)."""

from __future__ import annotations

from ... import estimates
from ...severity import Severity
from ...units import format_size
from .base import (
    CONFIG,
    ESTIMATE,
    FILES,
    MB,
    Check,
    LayerPart,
    clip,
    layer_name,
    size_severity,
)
from .context import HistoryContext, ProfileContext, a_file_under


class PackageCache(Check):
    slug = "package-cache"
    severity = Severity.LOW
    title = "Package caches left in the image"
    fix = ("`pip install --no-cache-dir` (or a BuildKit cache mount), and `rm -rf /var/lib/apt/lists/*` in the "
           "same RUN as apt-get install.")
    upstream = True

    def from_history(self, ctx: HistoryContext):
        pip_steps = [step for step, facts in ctx.steps if facts.pip_cache_kept and step.size >= 10 * MB]
        if pip_steps:
            yield self.finding(
                f"{len(pip_steps)} step(s) run pip install without --no-cache-dir (how much cache stayed needs the "
                "files: --deep)", title="pip may keep its download cache", bytes=0, basis=CONFIG,
                layer=pip_steps[0].index, created_by=pip_steps[0].created_by,
                evidence=tuple(f"layer {layer_name(s)} ({format_size(s.size)}): {clip(s.created_by)}" for s in pip_steps))
        list_steps = [step for step, facts in ctx.steps if facts.apt_lists_kept and facts.installed]
        if list_steps:
            lists = estimates.APT_LISTS
            total = sum(min(step.size, lists.bytes) for step in list_steps)
            yield self.finding(
                f"{len(list_steps)} step(s) run apt-get update without removing /var/lib/apt/lists: ~{format_size(total)}",
                title="apt lists left in the image", bytes=total, basis=ESTIMATE, layer=list_steps[0].index,
                created_by=list_steps[0].created_by,
                evidence=tuple(f"layer {layer_name(s)}: {clip(s.created_by)}" for s in list_steps),
                parts=tuple(LayerPart(s.index, s.created_by, "/var/lib/apt/lists", min(s.size, lists.bytes),
                                      f"{lists.source}, at most the layer's size") for s in list_steps))

    def from_profile(self, ctx: ProfileContext):
        caches = ctx.profile.caches
        cache_bytes = sum(cache.size for cache in caches)
        if cache_bytes < 1 * MB:
            return
        layers = [ctx.layer_of([(a_file_under(ctx.profile, cache.path), 1)]) for cache in caches[:6]]
        parts = tuple(LayerPart(layer, ctx.created_by(layer), cache.path, cache.size)
                      for layer, cache in zip(layers, caches[:6], strict=True))
        yield self.finding(
            ", ".join(f"{cache.path} {format_size(cache.size)}" for cache in caches[:4]),
            severity=size_severity(cache_bytes, self.severity), bytes=cache_bytes, basis=FILES,
            layer=parts[0].layer if parts else None,
            evidence=tuple(f"{cache.path}: {format_size(cache.size)} in {cache.files} files" for cache in caches[:6]),
            parts=parts)
