"""cuda-torch (BO103): PyTorch's CUDA build installed where nothing asked for a GPU.

On Linux x86_64, `pip install torch` from PyPI gets the CUDA build plus the nvidia-* wheels: 4.03 GB more
than the CPU wheel in research/measure-torch.md. The CPU build comes from an index whose URL contains
`/cpu` (https://download.pytorch.org/whl/cpu), from a `+cpu` pin, or from uv's `--torch-backend cpu`.
Packages that depend on torch (sentence-transformers, whisperx, ...) pull the CUDA build too unless a CPU
torch is already installed or a CPU index is configured; those are reported with lower confidence.

A GPU build chosen on purpose is only an info note with the CPU build's size: a CUDA or ROCm wheel index
(`.../whl/cu121`), `+cu118` pins, uv's `--torch-backend cu121`, a GPU base image (nvidia/cuda, or one that
already ships torch: pytorch/pytorch, nvcr.io/nvidia/pytorch), or `NVIDIA_VISIBLE_DEVICES` in the ENV.
Installs that can't bring torch are not reported: `pip install --dry-run`, `pip download`, and `--no-deps`
for packages that would only pull it in.
"""

from __future__ import annotations

from ..estimates import CUDA_TORCH, TORCH_IMAGE_CPU, TORCH_IMAGE_CUDA
from ..knowledge import (
    PULLS_TORCH,
    TORCH_EXTRAS,
    TORCH_FAMILY,
    gpu_local_version,
    is_gpu_index,
    is_gpu_torch_backend,
)
from ..requirements import Requirement
from ..severity import Severity
from ..units import format_size
from .base import Rule
from .context import PipInstall, RuleContext

CPU_FIX = ("Install the CPU build: `pip install --index-url https://download.pytorch.org/whl/cpu torch` (or pin "
           "`torch==X.Y.Z+cpu`), best through `ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` so a mirror "
           "can stand in. Ignore this rule (`# buildopt: ignore=cuda-torch`) if the service really runs on a GPU.")
GPU_NOTE_FIX = ("Nothing to do if the service runs on a GPU. For CPU-only hosts, build a CPU variant: "
                "`ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` and `pip install --index-url "
                "${TORCH_INDEX_URL} torch`, on a python:3.x-slim base.")
# What switching to the CPU build saves, in words every note repeats.
CPU_SIZE = (f"the CPU build is ~{format_size(CUDA_TORCH.bytes)} smaller ({CUDA_TORCH.label}: the same service image "
            f"was {format_size(TORCH_IMAGE_CUDA.bytes)} with CUDA torch and {format_size(TORCH_IMAGE_CPU.bytes)} with "
            f"the CPU wheel)")


def is_cpu_index(url: str) -> bool:
    return "/cpu" in url.lower()


def pulls_torch(req: Requirement) -> bool:
    if req.name in PULLS_TORCH:
        return True
    return bool(TORCH_EXTRAS.get(req.name, set()) & set(req.extras))


def _where(req: Requirement) -> str:
    return f"`{req.raw}`" if req.source is None else f"`{req.raw}` ({req.where})"


class CudaTorch(Rule):
    id = "BO103"
    slug = "cuda-torch"
    severity = Severity.HIGH
    title = "PyTorch's CUDA build is installed (no CPU index, no +cpu pin)"
    fix = CPU_FIX
    scope = "every stage (a builder's venv is copied into the final image); the base image's GPU and torch"

    def check(self, ctx: RuleContext):
        torch_by_stage: dict[int, str | None] = {}  # the torch build a stage ends with: "cpu", "gpu" or None
        for facts in ctx.facts:
            base = facts.root.base
            if facts.parent is not None:
                torch = torch_by_stage.get(facts.parent.stage.index)
            else:
                torch = "gpu" if base is not None and base.ships_torch else None
                if torch and ctx.is_shipped(facts.stage):
                    yield self.finding(facts.stage, f"FROM {facts.stage.base_resolved} ships PyTorch's GPU build: chosen "
                                                    f"on purpose. If the service can run on CPU, {CPU_SIZE}",
                                       severity=Severity.INFO, fix=GPU_NOTE_FIX)
            gpu_image = bool(base is not None and base.gpu) or bool(facts.env.get("NVIDIA_VISIBLE_DEVICES"))
            for site in facts.runs:
                for install in ctx.installs(site):
                    verdict, why = classify(install, torch, gpu_image)
                    if verdict == "cpu":
                        torch = "cpu"
                    elif verdict == "gpu":
                        torch = "gpu"
                        yield self._note(site.ins, install, why)
                    elif verdict in ("cuda", "indirect"):
                        yield self._report(site.ins, install, verdict)
                        torch = torch or "cuda"
            torch_by_stage[facts.stage.index] = torch

    def _note(self, ins, install: PipInstall, why: str):
        reqs = [r for r in install.requirements if r.name in TORCH_FAMILY or pulls_torch(r)]
        named = ", ".join(_where(r) for r in reqs) or "torch"
        return self.finding(ins, f"{named}: a GPU build of torch chosen on purpose ({why}). If the service can run "
                                 f"on CPU, {CPU_SIZE}", severity=Severity.INFO, fix=GPU_NOTE_FIX)

    def _report(self, ins, install: PipInstall, verdict: str):
        reqs = install.requirements
        if verdict == "cuda":
            named = [r for r in reqs if r.name in TORCH_FAMILY and not r.cpu_pin]
            message = (f"{', '.join(_where(r) for r in named)} installed without a CPU index or +cpu pin: pip takes the "
                       f"CUDA build and its nvidia-* wheels, ~{format_size(CUDA_TORCH.bytes)} more than the CPU build "
                       f"({CUDA_TORCH.label})")
            return self.finding(ins, message, estimate=CUDA_TORCH)
        pullers = [r for r in reqs if pulls_torch(r)]
        message = (f"{', '.join(_where(r) for r in pullers)} depends on torch and no CPU index is configured: pip will "
                   f"likely install the CUDA build, ~{format_size(CUDA_TORCH.bytes)} more than the CPU build ({CUDA_TORCH.label}; "
                   f"lower confidence: torch itself is not named)")
        return self.finding(ins, message, severity=Severity.MEDIUM, estimate=CUDA_TORCH)


def classify(install: PipInstall, torch_already: str | None, gpu_image: bool = False) -> tuple[str | None, str]:
    """(verdict, why). Verdicts: "cpu" when this install brings CPU torch; "gpu" when it brings a GPU build chosen
    on purpose (`why` says how); "cuda" / "indirect" when it brings the CUDA build from PyPI's default index
    (torch named / pulled in by a dependency); None when it brings no torch build worth a word.
    `torch_already`: the build an earlier install in the stage chain (or the base image) left: "cpu", "gpu",
    "cuda" (reported already) or None."""
    call = install.call
    if call.subcommand not in ("install", "sync", "add") or call.has("--dry-run"):
        return None, ""
    reqs = install.requirements
    urls = list(install.index_urls())
    urls += [url for local in install.locals if local.project for url in local.project.index_urls]
    backend = (install.torch_backend or "").strip().lower()
    cpu_index = any(is_cpu_index(url) for url in urls) or backend in ("cpu", "auto")  # auto: no driver in a build
    gpu_index = next((url for url in urls if is_gpu_index(url)), None)
    torch_reqs = [r for r in reqs if r.name in TORCH_FAMILY]
    if torch_reqs:
        if cpu_index or all(r.cpu_pin for r in torch_reqs):
            return "cpu", ""
        pins = {pin for r in torch_reqs if (pin := gpu_local_version(r.specifier + " " + (r.url or "")))}
        if pins:
            return "gpu", f"pinned to {', '.join(sorted(pins))} builds"
        if gpu_index or is_gpu_torch_backend(backend):
            return "gpu", f"from the GPU wheel index {gpu_index}" if gpu_index else f"uv --torch-backend {backend}"
        # The audit's two-step install: CPU torch first from its index, then `-r requirements.txt` naming torch
        # again; pip keeps the installed CPU build when it satisfies the pin (==2.6.0 matches 2.6.0+cpu).
        if torch_already == "cpu":
            return None, ""
        if torch_already == "gpu":
            return "gpu", "the base image or an earlier step installed a GPU build"
        if gpu_image:
            return "gpu", "on a GPU base image"
        return "cuda", ""
    if cpu_index or torch_already or not any(pulls_torch(r) for r in reqs):
        return None, ""  # a torch is there already (it satisfies the dependency), or none is pulled in
    if call.has("--no-deps"):
        return None, ""  # dependencies aren't installed: torch isn't pulled in
    if gpu_index or is_gpu_torch_backend(backend):
        return "gpu", f"from the GPU wheel index {gpu_index}" if gpu_index else f"uv --torch-backend {backend}"
    if gpu_image:
        return "gpu", "on a GPU base image"
    return "indirect", ""

