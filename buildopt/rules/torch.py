"""cuda-torch (BO103): PyTorch's CUDA build installed where nothing asked for a GPU.

On Linux x86_64, `pip install torch` from PyPI gets the CUDA build plus the nvidia-* wheels: 4.03 GB more
than the CPU wheel in research/measure-torch.md. The CPU build comes from an index whose URL contains
`/cpu` (https://download.pytorch.org/whl/cpu), from a `+cpu` pin, or from uv's `--torch-backend cpu`.
Packages that depend on torch (sentence-transformers, whisperx, ...) pull the CUDA build too unless a CPU
torch is already installed or a CPU index is configured; those are reported with lower confidence.
"""

from __future__ import annotations

from ..estimates import CUDA_TORCH
from ..knowledge import PULLS_TORCH, TORCH_EXTRAS, TORCH_FAMILY
from ..requirements import Requirement
from ..units import format_size
from ..severity import Severity
from .base import Rule
from .context import PipInstall, RuleContext

CPU_FIX = ("Install the CPU build: `pip install --index-url https://download.pytorch.org/whl/cpu torch` (or pin "
           "`torch==X.Y.Z+cpu`), best through `ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` so a mirror "
           "can stand in. Ignore this rule (`# buildopt: ignore=cuda-torch`) if the service really runs on a GPU.")


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
    scope = "every stage (a builder's venv is copied into the final image)"

    def check(self, ctx: RuleContext):
        cpu_torch_by_stage: dict[int, bool] = {}
        for facts in ctx.facts:
            cpu_torch = cpu_torch_by_stage.get(facts.parent.stage.index, False) if facts.parent else False
            for site in facts.runs:
                for install in ctx.installs(site):
                    verdict = classify(install, cpu_torch)
                    if verdict == "cpu":
                        cpu_torch = True
                    elif verdict is not None:
                        yield self._report(site.ins, install, verdict)
            cpu_torch_by_stage[facts.stage.index] = cpu_torch

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


def classify(install: PipInstall, cpu_torch_already: bool) -> str | None:
    """"cpu" when this install brings CPU torch, "cuda" / "indirect" when it brings the CUDA build, else None."""
    if install.call.subcommand not in ("install", "sync", "add"):
        return None
    reqs = install.requirements
    cpu_index = any(is_cpu_index(url) for url in install.index_urls()) or (install.torch_backend or "").lower() == "cpu"
    cpu_index = cpu_index or any(is_cpu_index(url) for local in install.locals if local.project for url in local.project.index_urls)
    torch_reqs = [r for r in reqs if r.name in TORCH_FAMILY]
    if torch_reqs:
        if cpu_index or all(r.cpu_pin for r in torch_reqs):
            return "cpu"
        # The audit's two-step install: CPU torch first from its index, then `-r requirements.txt` naming torch
        # again; pip keeps the installed CPU build when it satisfies the pin (==2.6.0 matches 2.6.0+cpu).
        return None if cpu_torch_already else "cuda"
    if cpu_index or cpu_torch_already:
        return None
    if any(pulls_torch(r) for r in reqs):
        return "indirect"
    return None
