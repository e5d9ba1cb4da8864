"""cuda-without-gpu: the CUDA build of torch, CUDA wheels or CUDA libraries on a host without a GPU (or whose GPU is
unknown: a remote engine without the nvidia runtime; the title says so)."""

from __future__ import annotations

from ... import estimates
from ...knowledge import CUDA_ENV, CUDA_WORDS
from ...severity import Severity
from ...units import format_size
from .base import ESTIMATE, FILES, GB, LAYER, Check, clip, layer_name, size_severity
from .context import HistoryContext, ProfileContext


class CudaWithoutGpu(Check):
    slug = "cuda-without-gpu"
    severity = Severity.HIGH
    title = "CUDA libraries on a host without a GPU"
    fix = ("Install the CPU build of torch (`pip install torch --index-url https://download.pytorch.org/whl/cpu`) "
           "and drop the nvidia-* wheels; keep the CUDA build only for hosts with a GPU.")

    def from_history(self, ctx: HistoryContext):
        if ctx.gpu.present is True:
            return
        torch_steps = [step for step, facts in ctx.steps
                       if facts.torch_without_cpu_index or CUDA_WORDS.search(step.created_by)]
        cuda_env = [key for key in CUDA_ENV if key in ctx.env]
        if not torch_steps and not cuda_env:
            return
        cuda_layers = [step for step in torch_steps if step.size >= 2 * GB or CUDA_WORDS.search(step.created_by)]
        if not cuda_layers and not cuda_env:
            return
        torch_bytes = sum(min(step.size, estimates.CUDA_TORCH.bytes) for step in cuda_layers
                          if not CUDA_WORDS.search(step.created_by))
        cuda_bytes = sum(step.size for step in cuda_layers if CUDA_WORDS.search(step.created_by))
        total = torch_bytes + cuda_bytes
        what = [f"layer {layer_name(s)} ({format_size(s.size)}): {clip(s.created_by)}" for s in cuda_layers]
        if cuda_env:
            what.append(f"ENV {', '.join(cuda_env)} (an nvidia/cuda base image)")
        yield self.finding(
            ("torch installed from the default index (the CUDA build) or CUDA layers"
             + (f": ~{format_size(total)}" if total else "") + f"; GPU: {ctx.gpu.describe()}"),
            title=self._title(ctx), severity=size_severity(total, self.severity), bytes=total,
            basis=ESTIMATE if torch_bytes else LAYER, layer=cuda_layers[0].index if cuda_layers else None,
            created_by=cuda_layers[0].created_by if cuda_layers else "", evidence=tuple(what))

    def from_profile(self, ctx: ProfileContext):
        cuda = ctx.profile.cuda
        if not cuda.present or ctx.gpu.present is True:
            return
        total = cuda.total_bytes
        layer = ctx.layer_of([(lib.path, lib.size) for lib in cuda.libraries[:20]])
        evidence = []
        if cuda.torch_version:
            evidence.append(f"torch {cuda.torch_version} ({cuda.torch_variant} build"
                            + (f", CUDA {cuda.torch_cuda}" if cuda.torch_cuda else "") + ")")
        evidence += [f"{wheel.name} {wheel.version}: {format_size(wheel.size)}" for wheel in cuda.wheels[:5]]
        if len(cuda.wheels) > 5:
            evidence.append(f"... {len(cuda.wheels) - 5} more CUDA wheels")
        loose = [lib for lib in cuda.libraries if lib.package is None][:3]
        evidence += [f"{lib.path}: {format_size(lib.size)}" for lib in loose]
        yield self.finding(
            f"{len(cuda.wheels)} CUDA wheels and {len(cuda.libraries)} CUDA libraries: {format_size(total)}; "
            f"GPU: {ctx.gpu.describe()}",
            title=self._title(ctx), severity=size_severity(total, self.severity), bytes=total, basis=FILES,
            layer=layer, created_by=ctx.created_by(layer), evidence=tuple(evidence),
            parts=ctx.parts([(lib.path, lib.size) for lib in cuda.libraries], "CUDA libraries"))

    def _title(self, ctx: HistoryContext | ProfileContext) -> str:
        if ctx.gpu.present is None:
            return "CUDA libraries, host GPU unknown (assumed CPU-only)"
        return self.title
