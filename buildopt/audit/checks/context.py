"""What the checks read, prepared once per image: each build step's facts (its text parsed once for every check),
and the profile's layer lookups.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from ... import shell
from ...knowledge import (
    MODEL_COPY_STEP,
    MODEL_DOWNLOAD_CALL,
    WEIGHT_TOKEN,
    model_download,
)
from .base import LayerPart

if TYPE_CHECKING:
    from ...engine import GpuFacts
    from ...inspect.model import ConfigFacts, ImageProfile
    from ..inventory import HistoryLayer, ImageDetails


@dataclass(frozen=True)
class StepFacts:
    """What one RUN/COPY step did, read from its text."""

    installed: tuple[str, ...] = ()  # system packages it installed (and didn't purge in the same step)
    no_recommends: bool = False
    apt_lists_kept: bool = False  # apt-get update without removing /var/lib/apt/lists in the same step
    pip_installs: bool = False
    pip_cache_kept: bool = False
    torch_without_cpu_index: bool = False
    rustup: bool = False
    model_download: bool = False


def step_facts(created_by: str, env: dict[str, str] | None = None) -> StepFacts:
    if not created_by.startswith("RUN"):
        return StepFacts(model_download=bool(MODEL_COPY_STEP.search(created_by)))
    text = created_by[3:].strip()
    env = env or {}
    installed: list[str] = []
    removed: set[str] = set()
    pip_installs = pip_no_cache = torch = rustup = False
    model = False
    for argv in shell.simple_commands(text):
        rustup = rustup or shell.program(argv) in ("rustup", "rustup-init")
        model = model or model_download(argv) is not None
        packages = shell.package_invocation(argv)
        if packages is not None and packages.installs:
            installed += [name.split("=")[0] for name in packages.packages]
        elif packages is not None and packages.removes:
            removed |= set(packages.packages)
        pip = shell.pip_invocation(argv)
        if pip is not None and pip.installs:
            pip_installs = True
            pip_no_cache = pip_no_cache or pip.no_cache
            if any(re.match(r"^torch([=<>~! ]|$)", target) for target in pip.targets) and "cpu" not in text:
                torch = True
    kept = tuple(name for name in installed if name not in removed)
    cache_cleared = bool(re.search(r"rm\s+-[rf]+\s+\S*(/root)?/\.cache|pip\s+cache\s+purge", text))
    no_cache_env = "PIP_NO_CACHE_DIR" in env or "UV_NO_CACHE" in env
    return StepFacts(
        installed=kept,
        no_recommends="--no-install-recommends" in text or (" --no-cache" in text and "apk" in text),
        apt_lists_kept=bool(re.search(r"apt(-get)?\s+update", text)) and "/var/lib/apt/lists" not in text,
        pip_installs=pip_installs,
        pip_cache_kept=pip_installs and not pip_no_cache and not cache_cleared and not no_cache_env,
        torch_without_cpu_index=torch,
        rustup=rustup or "sh.rustup.rs" in text,
        model_download=model or bool(MODEL_DOWNLOAD_CALL.search(text) or WEIGHT_TOKEN.search(text)),
    )


@dataclass
class HistoryContext:
    """An image's config and the build steps that made its layers, each step's text read once."""

    details: ImageDetails
    gpu: GpuFacts
    today: date | None = None
    steps: list[tuple[HistoryLayer, StepFacts]] = field(init=False)

    def __post_init__(self) -> None:
        layers = self.details.layers or [step for step in self.details.history if step.size]
        self.steps = [(step, step_facts(step.created_by, self.env)) for step in layers]

    @property
    def config(self) -> ConfigFacts:
        return self.details.config

    @property
    def env(self) -> dict[str, str]:
        return self.details.config.env


@dataclass
class ProfileContext:
    """An image's files. The profile is only read: the audit drops it once the checks have run."""

    profile: ImageProfile
    gpu: GpuFacts
    today: date | None = None
    layer_text: dict[int, str] = field(init=False)  # layer index -> the build step that made it

    def __post_init__(self) -> None:
        self.layer_text = {layer.index: layer.created_by for layer in self.profile.layers}

    @property
    def config(self) -> ConfigFacts:
        return self.profile.config

    def created_by(self, layer: int | None) -> str:
        return self.layer_text.get(layer, "") if layer is not None else ""

    def layer_of(self, paths_and_sizes: list[tuple[str, int]]) -> int | None:
        """The layer holding most of these bytes (None when none of the paths is in the image)."""
        weights: Counter[int] = Counter()
        for path, size in paths_and_sizes:
            entry = self.profile.file(path)
            if entry is not None:
                weights[entry.layer] += size or 1
        return weights.most_common(1)[0][0] if weights else None

    def parts(self, items: list[tuple[str, int]], holds: str) -> tuple[LayerPart, ...]:
        """Bytes of these files grouped by the layer that holds them, largest first."""
        sizes: Counter[int | None] = Counter()
        for path, size in items:
            entry = self.profile.file(path)
            sizes[entry.layer if entry is not None else None] += size
        return tuple(LayerPart(index, self.created_by(index), holds, size) for index, size in sizes.most_common())


def a_file_under(profile: ImageProfile, directory: str) -> str:
    """The first file below `directory` in the image ("" when it holds none), to find the layer it came from."""
    index = bisect_left(profile.files, (directory + "/",))
    if index < len(profile.files) and profile.files[index].path.startswith(directory + "/"):
        return profile.files[index].path
    return ""
