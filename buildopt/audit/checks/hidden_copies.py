"""hidden-copies: bytes that later layers delete or overwrite but earlier layers still ship (files only: the
history can't see them). Upstream waste."""

from __future__ import annotations

from ...severity import Severity
from ...units import format_size
from .base import FILES, MB, Check, LayerPart, clip, size_severity
from .context import ProfileContext


class HiddenCopies(Check):
    slug = "hidden-copies"
    severity = Severity.LOW
    title = "Deleted or overwritten files still shipped"
    fix = ("Do the cleanup in the same RUN step that creates the files, or copy only the result from a build "
           "stage (COPY --from=...).")
    upstream = True

    def from_profile(self, ctx: ProfileContext):
        profile = ctx.profile
        if profile.wasted_bytes < max(10 * MB, profile.size // 100):
            return
        worst = sorted(profile.layers, key=lambda layer: -layer.wasted)[:3]
        yield self.finding(
            f"later layers delete or overwrite {format_size(profile.wasted_bytes)} that earlier layers still carry",
            severity=size_severity(profile.wasted_bytes, self.severity), bytes=profile.wasted_bytes, basis=FILES,
            layer=worst[0].index if worst else None, created_by=worst[0].created_by if worst else "",
            evidence=tuple(f"layer {layer.index} ({clip(layer.created_by)}): {format_size(layer.wasted)} hidden"
                           for layer in worst if layer.wasted),
            parts=tuple(LayerPart(layer.index, layer.created_by, "copies hidden by later layers", layer.wasted)
                        for layer in worst if layer.wasted))
