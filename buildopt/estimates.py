"""What a finding costs in bytes, and where each figure comes from.

Every figure says its basis, so a report never passes an audit's guess off as a measurement:
- `measured-image`: measured on images built on this project's machines (research/measure-torch.md);
- `measured-apt`: the summed Debian `Installed-Size` of everything `apt-get install` would pull in, on the
  python:3.11-slim base (Debian 12), measured 2026-11-22 with scripts/measure-apt-sizes.sh
  (buildopt/data/apt-sizes-debian12.json);
- `audit`: a figure from the audits in ../shared/seeds (not re-measured here);
- `estimate`: derived from a measurement, not measured itself (the text says how);
- `context`: the size of the files in the build context (--context);
- `default`: a documented stand-in when nothing better is known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from .units import format_size

KIB = 1024


@dataclass(frozen=True)
class Estimate:
    bytes: int
    basis: str  # measured-image | measured-apt | audit | estimate | context | default
    source: str  # where the figure comes from, short

    def describe(self) -> str:
        """Short, for messages: "~4.03 GB, measured". The full source goes in Finding.estimate_basis."""
        return f"~{format_size(self.bytes)}, {self.label}"

    @property
    def label(self) -> str:
        return BASIS_LABELS.get(self.basis, self.basis)

    def __add__(self, other: Estimate) -> Estimate:
        basis = self.basis if self.basis == other.basis else "mixed"
        source = self.source if self.source == other.source else f"{self.source}; {other.source}"
        return Estimate(self.bytes + other.bytes, basis, source)


BASIS_LABELS = {
    "measured-image": "measured",
    "measured-apt": "measured from apt metadata",
    "audit": "audit's estimate",
    "estimate": "estimate",
    "context": "size in the context",
    "default": "default guess",
    "mixed": "measured and estimated",
}
MEASURE_TORCH = "research/measure-torch.md"
AUDIT_1 = "audit 2025-11-09"
AUDIT_2 = "audit 2025-12-04"
APT_SOURCE = "Debian 12 Installed-Size, scripts/measure-apt-sizes.sh"

# research/measure-torch.md, 1b: the CPU wheel swap alone took the single-stage image from
# 6,228,326,787 B to 2,202,773,309 B.
CUDA_TORCH = Estimate(6_228_326_787 - 2_202_773_309, "measured-image", f"{MEASURE_TORCH} (CUDA vs CPU torch)")
# The two images of that measurement: the same worker with PyPI's (CUDA) torch and with the CPU wheel.
TORCH_IMAGE_CUDA = Estimate(6_228_326_787, "measured-image", f"{MEASURE_TORCH} (worker image, CUDA torch)")
TORCH_IMAGE_CPU = Estimate(2_202_773_309, "measured-image", f"{MEASURE_TORCH} (worker image, CPU torch)")
# research/measure-torch.md, 3 (grouped difference): gcc/g++ with recommended packages; apt caches + lists.
GCC_TOOLCHAIN_IMAGE = Estimate(311_800_000, "measured-image", f"{MEASURE_TORCH} (gcc/g++ with recommends)")
APT_CACHE_AND_LISTS = Estimate(241_400_000, "measured-image", f"{MEASURE_TORCH} (/var/cache/apt + /var/lib/apt)")
APT_LISTS = Estimate(82_900_000, "measured-image", f"{MEASURE_TORCH} (/var/lib/apt)")
# research/measure-torch.md, deviations: wheels pip downloaded in the original (83 wheels, CUDA torch) and in
# the optimized builder (64 wheels, CPU torch). pip's cache would keep about that much; not measured in an image.
PIP_CACHE_CUDA_TORCH = Estimate(2_850_000_000, "estimate", f"{MEASURE_TORCH} (83 downloaded wheels, CUDA torch)")
PIP_CACHE_CPU_TORCH = Estimate(310_000_000, "estimate", f"{MEASURE_TORCH} (64 downloaded wheels, CPU torch)")
# The audits' figures.
BUILD_ESSENTIAL_AUDIT = Estimate(250_000_000, "audit", f"{AUDIT_1}, paperflow")
LIBREOFFICE_AUDIT = Estimate(600_000_000, "audit", f"{AUDIT_1}, rag-anything")
RUST_TOOLCHAIN = Estimate(1_230_000_000, "audit", f"{AUDIT_2}, kokoro layer 'Rust toolchain'")
WHISPERX_MODELS = Estimate(6_000_000_000, "audit", f"{AUDIT_1}, whisperx 'modèles Hugging Face (~6-7 GB)'")
# A model download of unknown size: the one model-download layer an audit measured (kokoro, 328 MB).
MODEL_DOWNLOAD_DEFAULT = Estimate(328_000_000, "default", f"{AUDIT_2}, kokoro 'Model download' layer")

# scripts/measure-apt-sizes.sh on python:3.11-slim (Debian 12): for each package set, every package
# `apt-get install -s` would install with and without recommends, and each package's Installed-Size (KiB).
APT_DATA_FILE = "apt-sizes-debian12.json"


@lru_cache(maxsize=1)
def apt_data() -> dict:
    return json.loads((files("buildopt") / "data" / APT_DATA_FILE).read_text(encoding="utf-8"))


def apt_set_kib(name: str, recommends: bool) -> int:
    data = apt_data()
    return sum(data["sizes"].get(p, 0) for p in data["sets"][name]["recommends" if recommends else "no_recommends"])


def measured_set_for(package: str) -> str | None:
    """The measured package set that stands for `package` (gcc-12 -> "gcc g++", libreoffice-writer -> ...)."""
    name = package.split("=")[0].split(":")[0].lower()
    if name in ("gcc", "g++", "cpp", "c++") or (name.startswith(("gcc-", "g++-")) and name[4:5].isdigit()):
        return "gcc g++"
    if name == "clang" or (name.startswith("clang-") and name[6:7].isdigit()):
        return "clang"
    if name in ("cargo", "rustc"):
        return "cargo rustc"
    if name.startswith("libreoffice-"):
        return "libreoffice-core"
    if name.startswith("texlive") and name != "texlive-full":
        return "texlive"
    if name in ("default-jdk", "default-jdk-headless") or (name.startswith("openjdk-") and "jdk" in name[8:]):
        return "default-jdk" if name.startswith("default") else "openjdk-17-jdk-headless"
    if name in ("default-jre", "default-jre-headless") or (name.startswith("openjdk-") and "jre" in name[8:]):
        return "default-jre-headless"
    if name in ("chromium-driver", "chromium-headless-shell"):
        return "chromium"
    return name if name in apt_data()["sets"] else None


def _union(sets: set[str], key: str) -> set[str]:
    data = apt_data()["sets"]
    return {package for name in sets for package in data[name][key]}


def _kib(packages: set[str]) -> int:
    sizes = apt_data()["sizes"]
    return sum(sizes.get(package, 0) for package in packages)


def apt_packages_estimate(packages: Iterable[str], recommends: bool) -> Estimate | None:
    """Installed size of the measured sets these packages stand for, shared dependencies counted once."""
    sets = {measured_set_for(package) for package in packages} - {None}
    if not sets:
        return None
    installed = _union(sets, "recommends" if recommends else "no_recommends")  # type: ignore[arg-type]
    label = "with recommends" if recommends else "--no-install-recommends"
    return Estimate(_kib(installed) * KIB, "measured-apt", f"{APT_SOURCE}: {', '.join(sorted(sets))} {label}")  # type: ignore[arg-type]


def recommends_estimate(packages: Iterable[str]) -> Estimate | None:
    """What --no-install-recommends would save, for the measured sets among `packages`."""
    sets = {measured_set_for(package) for package in packages} - {None}
    if not sets:
        return None
    extra = _union(sets, "recommends") - _union(sets, "no_recommends")  # type: ignore[arg-type]
    return Estimate(_kib(extra) * KIB, "measured-apt", f"{APT_SOURCE}: recommends of {', '.join(sorted(sets))}")  # type: ignore[arg-type]


def context_files(total_bytes: int, what: str) -> Estimate:
    return Estimate(total_bytes, "context", what)


ALL_FIGURES: dict[str, Estimate] = {
    "cuda-torch": CUDA_TORCH,
    "torch-image-cuda": TORCH_IMAGE_CUDA,
    "torch-image-cpu": TORCH_IMAGE_CPU,
    "gcc-toolchain-image": GCC_TOOLCHAIN_IMAGE,
    "apt-cache-and-lists": APT_CACHE_AND_LISTS,
    "apt-lists": APT_LISTS,
    "pip-cache-cuda-torch": PIP_CACHE_CUDA_TORCH,
    "pip-cache-cpu-torch": PIP_CACHE_CPU_TORCH,
    "build-essential-audit": BUILD_ESSENTIAL_AUDIT,
    "libreoffice-audit": LIBREOFFICE_AUDIT,
    "rust-toolchain": RUST_TOOLCHAIN,
    "whisperx-models": WHISPERX_MODELS,
    "model-download-default": MODEL_DOWNLOAD_DEFAULT,
}
"""The fixed figures, for docs and tests (apt sets come from buildopt/data/apt-sizes-debian12.json)."""
