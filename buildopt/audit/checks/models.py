"""baked-model: model weights a build put in the image (downloaded or copied in), where a volume would do."""

from __future__ import annotations

from bisect import bisect_left

from ...inspect.model import ImageProfile
from ...knowledge import BROAD_DIRS, MODEL_CACHE_DIRS, MODEL_CACHE_ENV, is_package_data
from ...severity import Severity
from ...units import format_size
from .base import (
    FILES,
    LAYER,
    LAYER_SIZE,
    MB,
    Check,
    LayerPart,
    clip,
    layer_name,
    size_severity,
)
from .context import HistoryContext, ProfileContext


class BakedModel(Check):
    slug = "baked-model"
    severity = Severity.HIGH
    title = "Model weights inside the image"
    fix = ("Keep weights out of the image: mount a volume (e.g. `-v models:/models -e HF_HOME=/models`) and "
           "download them at first start or in an init job.")

    def from_history(self, ctx: HistoryContext):
        steps = [step for step, facts in ctx.steps if facts.model_download and step.size >= 10 * MB]
        if not steps:
            return
        total = sum(step.size for step in steps)
        yield self.finding(
            f"{len(steps)} build step(s) download or copy model weights: {format_size(total)} of layers",
            severity=size_severity(total, self.severity), bytes=total, basis=LAYER, layer=steps[0].index,
            created_by=steps[0].created_by,
            evidence=tuple(f"layer {layer_name(s)} ({format_size(s.size)}): {clip(s.created_by)}" for s in steps),
            parts=tuple(LayerPart(s.index, s.created_by, "model download", s.size, LAYER_SIZE) for s in steps))

    def from_profile(self, ctx: ProfileContext):
        weights = baked_weights(ctx.profile)
        if not weights:
            return
        total = sum(weights.values())
        repos = sorted({model.repo for model in ctx.profile.models if model.repo and model.path in weights})
        largest = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
        layer = ctx.layer_of(largest[:20])
        yield self.finding(
            f"{len(weights)} model files: {format_size(total)}" + (f" ({', '.join(repos[:5])})" if repos else ""),
            severity=size_severity(total, self.severity), bytes=total, basis=FILES, layer=layer,
            created_by=ctx.created_by(layer), evidence=tuple(f"{path}: {format_size(size)}" for path, size in largest[:5]),
            parts=ctx.parts(largest, "model weights"))


def baked_weights(profile: ImageProfile) -> dict[str, int]:
    """Model files a build put in the image, path -> bytes: weight files the inspect stage recognised, and
    everything under a model cache dir (HF_HOME, TORCH_HOME, ~/.cache/huggingface...), whatever the format
    (TorchScript .jit, tokenizers, configs). Weights shipped inside an installed package (site-packages,
    /usr/share, /usr/lib: a torch test fixture, a Debian speech model) belong to that package: not counted."""
    weights = {model.path: model.size for model in profile.models if not is_package_data(model.path)}
    roots = set(MODEL_CACHE_DIRS)
    for key in MODEL_CACHE_ENV:
        value = profile.config.env.get(key, "").rstrip("/")
        if value.startswith("/") and value not in BROAD_DIRS:  # HF_HOME=/app would make the whole app a model
            roots.add(value)
    for root in sorted(roots):
        index = bisect_left(profile.files, (root + "/",))
        while index < len(profile.files) and profile.files[index].path.startswith(root + "/"):
            entry = profile.files[index]
            if entry.kind == "f" and entry.size and not is_package_data(entry.path):
                weights[entry.path] = entry.size
            index += 1
    return weights
