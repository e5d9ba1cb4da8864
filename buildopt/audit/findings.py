"""Per-image findings, at two depths.

- `config_findings`: from `docker image inspect` and `docker history` only (cheap, every image). The
  config says user and healthcheck; the history's build steps and their layer sizes say what was
  installed where (gcc, git, rustup, a model download, pip without --no-cache-dir, torch without the
  CPU index). Bytes there are a whole layer's measured size or a documented estimate capped by it.
- `profile_findings`: from an `ImageProfile` (buildopt.inspect), the files themselves: bytes are measured.

When both exist the profile's findings replace the history's (`pick`). Slugs reuse the rule catalog's
where the concept is the same (root-user, no-healthcheck, trivial-healthcheck, eol-python, baked-model).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from .. import estimates, shell
from ..healthcheck import healthcheck_kind
from ..knowledge import (
    MODEL_CACHE_ENV,
    MODEL_DOWNLOAD_CALL,
    RUST_GO,
    WEIGHT_TOKEN,
    heavy_runtime,
    is_compiler_package,
    model_download,
)
from ..score import SecurityFacts
from ..severity import Severity
from ..units import format_size
from . import python_eol
from .engine import GpuFacts
from .inventory import HistoryLayer, ImageDetails

MB = 1000**2
GB = 1000**3

# basis of a finding's bytes
FILES = "files"  # summed from the image's files (deep pass)
LAYER = "layer"  # the measured size of the layer that did it (history)
ESTIMATE = "estimate"  # a documented figure (buildopt.estimates), capped by the layer's size
CONFIG = "config"  # no bytes: a config fact
LAYER_SIZE = "the layer's size in `docker history`"


@dataclass(frozen=True)
class LayerPart:
    """Where a finding's bytes sit: one layer, the build step that made it, what it holds there."""

    layer: int | None
    created_by: str
    holds: str
    bytes: int
    basis: str = ""  # where the figure comes from, in words ("" = the finding's basis)


@dataclass(frozen=True)
class Finding:
    slug: str
    severity: Severity
    title: str
    detail: str
    fix: str
    bytes: int = 0  # what fixing it removes from the image
    basis: str = CONFIG
    security: bool = False
    upstream: bool = False  # mechanical waste a maintainer removes without changing the app (toolchain, caches)
    layer: int | None = None
    created_by: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)
    parts: tuple[LayerPart, ...] = field(default_factory=tuple)

    @property
    def tag(self) -> str:
        """The audits' bracket: [SECURITY], [CRITICAL], [MEDIUM], [LOW]."""
        if self.security:
            return "SECURITY"
        return "CRITICAL" if self.severity >= Severity.HIGH else str(self.severity).upper()


# --- what build steps reveal --------------------------------------------------------------------------
_MODEL_COPY = re.compile(r"^(COPY|ADD)\b.*\b(models?|weights|checkpoints?|huggingface)\b", re.IGNORECASE)
_ML_WORDS = re.compile(r"\b(torch|tensorflow|transformers|onnxruntime|sentence-transformers|whisperx?|vllm|diffusers|"
                       r"llama|jax|keras|paddle|ultralytics)\b", re.IGNORECASE)
_CUDA_WORDS = re.compile(r"\b(cuda|cudnn|libcublas|libnccl|nvidia-[a-z]+-cu\d+|cu1[12]\d)\b", re.IGNORECASE)
_COMPILER_PATHS = ("/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/g++", "/usr/bin/make", "/usr/bin/clang")
_RUST_DIRS = ("/root/.rustup", "/root/.cargo", "/usr/local/rustup", "/usr/local/cargo", "/opt/rust", "/opt/cargo")
_MODEL_CACHE_DIRS = ("/root/.cache/huggingface", "/root/.cache/torch", "/root/.cache/whisper")
_BROAD_DIRS = frozenset({"", "/app", "/opt", "/usr", "/usr/local", "/home", "/root", "/srv", "/var", "/tmp", "/etc",
                         "/code", "/src", "/workspace"})
_CUDA_ENV = ("CUDA_VERSION", "NVIDIA_REQUIRE_CUDA", "NV_CUDA_LIB_VERSION", "CUDA_HOME")


def _is_toolchain(package: str) -> bool:
    """Compilers, Rust and git: what a build needs and a running service doesn't (-dev headers aside: too small to
    matter in a history-level estimate)."""
    return is_compiler_package(package) or package in RUST_GO or package == "git"


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
        return StepFacts(model_download=bool(_MODEL_COPY.search(created_by)))
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
        no_recommends="--no-install-recommends" in text or " --no-cache" in text and "apk" in text,
        apt_lists_kept=bool(re.search(r"apt(-get)?\s+update", text)) and "/var/lib/apt/lists" not in text,
        pip_installs=pip_installs,
        pip_cache_kept=pip_installs and not pip_no_cache and not cache_cleared and not no_cache_env,
        torch_without_cpu_index=torch,
        rustup=rustup or "sh.rustup.rs" in text,
        model_download=model or bool(MODEL_DOWNLOAD_CALL.search(text) or WEIGHT_TOKEN.search(text)),
    )


# --- config and history (every image) --------------------------------------------------------------------
def config_findings(details: ImageDetails, gpu: GpuFacts, *, today: date | None = None) -> list[Finding]:
    config = details.config
    env = config.env
    found: list[Finding] = []
    found += _user_and_healthcheck(config.runs_as_root, config.user, config.healthcheck)
    layers = details.layers or [step for step in details.history if step.size]
    tool_steps, heavy_steps, model_steps, cache_steps, list_steps, torch_steps = [], [], [], [], [], []
    for step in layers:
        facts = step_facts(step.created_by, env)
        tools = [name for name in facts.installed if _is_toolchain(name)]
        if facts.rustup:
            tools.append("rust (rustup)")
        if tools:
            tool_steps.append((step, tools, facts))
        heavy = [name for name in facts.installed if heavy_runtime(name)]
        if heavy:
            heavy_steps.append((step, heavy, facts))
        if facts.model_download and step.size >= 10 * MB:
            model_steps.append(step)
        if facts.pip_cache_kept and step.size >= 10 * MB:
            cache_steps.append(step)
        if facts.apt_lists_kept and facts.installed:
            list_steps.append(step)
        if facts.torch_without_cpu_index or _CUDA_WORDS.search(step.created_by):
            torch_steps.append(step)

    if tool_steps:
        parts, total, evidence, where_parts = [], 0, [], []
        for step, tools, facts in tool_steps:
            if any(tool.startswith("rust") for tool in tools):
                share = step.size  # rustup's step is the toolchain download
                basis, source = LAYER, LAYER_SIZE
            else:
                estimate = estimates.apt_packages_estimate([t for t in tools if t != "rust (rustup)"],
                                                           recommends=not facts.no_recommends)
                share = min(step.size, estimate.bytes) if estimate else 0
                basis = ESTIMATE
                source = f"{estimate.source}, at most the layer's size" if estimate else "no measured size"
            total += share
            parts.append(basis)
            where_parts.append(LayerPart(step.index, step.created_by, ", ".join(tools), share, source))
            evidence.append(f"layer {_layer_name(step)} ({format_size(step.size)}): {', '.join(tools)}: "
                            f"{_clip(step.created_by)}")
        first = tool_steps[0][0]
        found.append(Finding(
            "build-toolchain", _size_severity(total, Severity.MEDIUM),
            f"Build toolchain left in ({', '.join(sorted({t for _, tools, _ in tool_steps for t in tools}))})",
            f"the final image's build steps install compilers or build tools: ~{format_size(total)} "
            "that only the build needs", _TOOLCHAIN_FIX, bytes=total,
            basis=LAYER if set(parts) == {LAYER} else ESTIMATE, security=False, upstream=True,
            layer=first.index, created_by=first.created_by, evidence=tuple(evidence), parts=tuple(where_parts)))
    if heavy_steps:
        total = 0
        evidence = []
        for step, heavy, facts in heavy_steps:
            estimate = estimates.apt_packages_estimate(heavy, recommends=not facts.no_recommends)
            total += min(step.size, estimate.bytes) if estimate else 0
            evidence.append(f"layer {_layer_name(step)} ({format_size(step.size)}): {', '.join(heavy)}")
        found.append(Finding(
            "heavy-runtime-package", _size_severity(total, Severity.MEDIUM),
            f"Heavy system packages in the image ({', '.join(sorted({h for _, names, _ in heavy_steps for h in names}))})",
            f"~{format_size(total)} of office suites, browsers, TeX or a JDK", _HEAVY_FIX, bytes=total,
            basis=ESTIMATE, layer=heavy_steps[0][0].index, created_by=heavy_steps[0][0].created_by,
            evidence=tuple(evidence)))
    if model_steps:
        total = sum(step.size for step in model_steps)
        found.append(Finding(
            "baked-model", _size_severity(total, Severity.HIGH), "Model weights inside the image",
            f"{len(model_steps)} build step(s) download or copy model weights: {format_size(total)} of layers",
            _MODEL_FIX, bytes=total, basis=LAYER, layer=model_steps[0].index, created_by=model_steps[0].created_by,
            evidence=tuple(f"layer {_layer_name(s)} ({format_size(s.size)}): {_clip(s.created_by)}" for s in model_steps),
            parts=tuple(LayerPart(s.index, s.created_by, "model download", s.size, LAYER_SIZE) for s in model_steps)))
    cuda_env = [key for key in _CUDA_ENV if key in env]
    if (torch_steps or cuda_env) and gpu.present is not True:
        cuda_layers = [step for step in torch_steps if step.size >= 2 * GB or _CUDA_WORDS.search(step.created_by)]
        if cuda_layers or cuda_env:
            torch_bytes = sum(min(step.size, estimates.CUDA_TORCH.bytes) for step in cuda_layers
                              if not _CUDA_WORDS.search(step.created_by))
            cuda_bytes = sum(step.size for step in cuda_layers if _CUDA_WORDS.search(step.created_by))
            total = torch_bytes + cuda_bytes
            what = [f"layer {_layer_name(s)} ({format_size(s.size)}): {_clip(s.created_by)}" for s in cuda_layers]
            if cuda_env:
                what.append(f"ENV {', '.join(cuda_env)} (an nvidia/cuda base image)")
            found.append(Finding(
                "cuda-without-gpu", _size_severity(total, Severity.HIGH),
                _cuda_title(gpu),
                ("torch installed from the default index (the CUDA build) or CUDA layers"
                 + (f": ~{format_size(total)}" if total else "") + f"; GPU: {gpu.describe()}"),
                _CUDA_FIX, bytes=total, basis=ESTIMATE if torch_bytes else LAYER,
                layer=cuda_layers[0].index if cuda_layers else None,
                created_by=cuda_layers[0].created_by if cuda_layers else "", evidence=tuple(what)))
    if cache_steps:
        found.append(Finding(
            "package-cache", Severity.LOW, "pip may keep its download cache",
            f"{len(cache_steps)} step(s) run pip install without --no-cache-dir (how much cache stayed needs the "
            "files: --deep)", _CACHE_FIX, bytes=0, basis=CONFIG, upstream=True, layer=cache_steps[0].index,
            created_by=cache_steps[0].created_by,
            evidence=tuple(f"layer {_layer_name(s)} ({format_size(s.size)}): {_clip(s.created_by)}" for s in cache_steps)))
    if list_steps:
        total = sum(min(step.size, estimates.APT_LISTS.bytes) for step in list_steps)
        found.append(Finding(
            "package-cache", Severity.LOW, "apt lists left in the image",
            f"{len(list_steps)} step(s) run apt-get update without removing /var/lib/apt/lists: ~{format_size(total)}",
            _CACHE_FIX, bytes=total, basis=ESTIMATE, upstream=True, layer=list_steps[0].index,
            created_by=list_steps[0].created_by,
            evidence=tuple(f"layer {_layer_name(s)}: {_clip(s.created_by)}" for s in list_steps),
            parts=tuple(LayerPart(s.index, s.created_by, "/var/lib/apt/lists", min(s.size, estimates.APT_LISTS.bytes),
                                  f"{estimates.APT_LISTS.source}, at most the layer's size") for s in list_steps)))
    version = python_from_config(details)
    if version is not None:
        found += _eol(version, "the image's ENV/build steps", today)
    return found


def python_from_config(details: ImageDetails) -> tuple[int, int] | None:
    """PYTHON_VERSION (official python images), else the newest python3.X a build step or ENV names."""
    env = details.config.env
    if env.get("PYTHON_VERSION"):
        return python_eol.parse_version(env["PYTHON_VERSION"])
    seen = set()
    for value in env.values():
        seen |= python_eol.versions_in_text(value)
    for step in details.history:
        seen |= python_eol.versions_in_text(step.created_by)
    return max(seen) if seen else None


# --- the image's files (deep pass) ---------------------------------------------------------------------------
def profile_findings(profile, gpu: GpuFacts, *, today: date | None = None) -> list[Finding]:
    """Findings measured on an ImageProfile. The profile is only read: callers drop it afterwards."""
    config = profile.config
    found = _user_and_healthcheck(config.runs_as_root, config.user, config.healthcheck)
    layer_text = {layer.index: layer.created_by for layer in profile.layers}

    def where(paths_and_sizes: list[tuple[str, int]]) -> int | None:
        weights: Counter[int] = Counter()
        for path, size in paths_and_sizes:
            entry = profile.file(path)
            if entry is not None:
                weights[entry.layer] += size or 1
        return weights.most_common(1)[0][0] if weights else None

    def parts(items: list[tuple[str, int]], holds: str) -> tuple[LayerPart, ...]:
        """Bytes of these files grouped by the layer that holds them, largest first."""
        sizes: Counter[int | None] = Counter()
        for path, size in items:
            entry = profile.file(path)
            sizes[entry.layer if entry is not None else None] += size
        return tuple(LayerPart(index, layer_text.get(index, ""), holds, size) for index, size in sizes.most_common())

    cuda = profile.cuda
    if cuda.present and gpu.present is not True:
        total = cuda.total_bytes
        layer = where([(lib.path, lib.size) for lib in cuda.libraries[:20]])
        evidence = []
        if cuda.torch_version:
            evidence.append(f"torch {cuda.torch_version} ({cuda.torch_variant} build"
                            + (f", CUDA {cuda.torch_cuda}" if cuda.torch_cuda else "") + ")")
        evidence += [f"{wheel.name} {wheel.version}: {format_size(wheel.size)}" for wheel in cuda.wheels[:5]]
        if len(cuda.wheels) > 5:
            evidence.append(f"... {len(cuda.wheels) - 5} more CUDA wheels")
        loose = [lib for lib in cuda.libraries if lib.package is None][:3]
        evidence += [f"{lib.path}: {format_size(lib.size)}" for lib in loose]
        found.append(Finding(
            "cuda-without-gpu", _size_severity(total, Severity.HIGH),
            _cuda_title(gpu),
            f"{len(cuda.wheels)} CUDA wheels and {len(cuda.libraries)} CUDA libraries: {format_size(total)}; "
            f"GPU: {gpu.describe()}",
            _CUDA_FIX, bytes=total, basis=FILES, layer=layer, created_by=layer_text.get(layer, ""),
            evidence=tuple(evidence), parts=parts([(lib.path, lib.size) for lib in cuda.libraries], "CUDA libraries")))
    weights = baked_weights(profile)
    if weights:
        total = sum(weights.values())
        repos = sorted({model.repo for model in profile.models if model.repo and model.path in weights})
        largest = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
        layer = where(largest[:20])
        found.append(Finding(
            "baked-model", _size_severity(total, Severity.HIGH), "Model weights inside the image",
            f"{len(weights)} model files: {format_size(total)}" + (f" ({', '.join(repos[:5])})" if repos else ""),
            _MODEL_FIX, bytes=total, basis=FILES, layer=layer, created_by=layer_text.get(layer, ""),
            evidence=tuple(f"{path}: {format_size(size)}" for path, size in largest[:5]),
            parts=parts(largest, "model weights")))
    tools = toolchain_in_profile(profile)
    if tools:
        total = sum(tool.bytes for tool in tools)
        by_layer: dict[int | None, list[Tool]] = {}
        for tool in tools:
            path = tool.path or next((p for p in _COMPILER_PATHS if profile.file(p) is not None), "")
            by_layer.setdefault(where([(path, tool.bytes)]) if path else None, []).append(tool)
        tool_parts = tuple(LayerPart(index, layer_text.get(index, ""), ", ".join(t.name for t in group),
                                     sum(t.bytes for t in group))
                           for index, group in sorted(by_layer.items(), key=lambda item: -sum(t.bytes for t in item[1])))
        layer = tool_parts[0].layer
        found.append(Finding(
            "build-toolchain", _size_severity(total, Severity.MEDIUM),
            f"Build toolchain left in ({', '.join(tool.name for tool in tools[:6])})",
            f"compilers and build tools only the build needs: {format_size(total)}", _TOOLCHAIN_FIX,
            bytes=total, basis=FILES, upstream=True, layer=layer, created_by=layer_text.get(layer, ""),
            evidence=tuple(f"{tool.name}: {format_size(tool.bytes)} ({tool.how})" for tool in tools[:8]),
            parts=tool_parts))
    heavy = [p for p in profile.packages_of("deb") if heavy_runtime(p.name)]
    heavy_bytes = sum(p.size for p in heavy)
    if heavy_bytes >= 50 * MB:
        found.append(Finding(
            "heavy-runtime-package", _size_severity(heavy_bytes, Severity.MEDIUM),
            f"Heavy system packages in the image ({', '.join(p.name for p in heavy[:4])})",
            f"{len(heavy)} packages: {format_size(heavy_bytes)}", _HEAVY_FIX, bytes=heavy_bytes, basis=FILES,
            evidence=tuple(f"{p.name} {p.version}: {format_size(p.size)}" for p in sorted(heavy, key=lambda p: -p.size)[:5])))
    cache_bytes = sum(cache.size for cache in profile.caches)
    if cache_bytes >= 1 * MB:
        cache_parts = tuple(LayerPart(where([(_a_file_under(profile, c.path), 1)]), "", c.path, c.size)
                            for c in profile.caches[:6])
        cache_parts = tuple(LayerPart(part.layer, layer_text.get(part.layer, ""), part.holds, part.bytes)
                            for part in cache_parts)
        layer = cache_parts[0].layer if cache_parts else None
        found.append(Finding(
            "package-cache", _size_severity(cache_bytes, Severity.LOW), "Package caches left in the image",
            ", ".join(f"{cache.path} {format_size(cache.size)}" for cache in profile.caches[:4]),
            _CACHE_FIX, bytes=cache_bytes, basis=FILES, upstream=True, layer=layer,
            evidence=tuple(f"{cache.path}: {format_size(cache.size)} in {cache.files} files" for cache in profile.caches[:6]),
            parts=cache_parts))
    if profile.wasted_bytes >= max(10 * MB, profile.size // 100):
        worst = sorted(profile.layers, key=lambda layer: -layer.wasted)[:3]
        found.append(Finding(
            "hidden-copies", _size_severity(profile.wasted_bytes, Severity.LOW),
            "Deleted or overwritten files still shipped",
            f"later layers delete or overwrite {format_size(profile.wasted_bytes)} that earlier layers still carry",
            "Do the cleanup in the same RUN step that creates the files, or copy only the result from a build "
            "stage (COPY --from=...).", bytes=profile.wasted_bytes, basis=FILES, upstream=True,
            layer=worst[0].index if worst else None, created_by=worst[0].created_by if worst else "",
            evidence=tuple(f"layer {layer.index} ({_clip(layer.created_by)}): {format_size(layer.wasted)} hidden"
                           for layer in worst if layer.wasted),
            parts=tuple(LayerPart(layer.index, layer.created_by, "copies hidden by later layers", layer.wasted)
                        for layer in worst if layer.wasted)))
    version = python_in_profile(profile)
    if version is not None:
        found += _eol(version, "the image's files", today)
    return found


class Tool(NamedTuple):
    name: str
    bytes: int
    path: str  # a file of it, to find its layer ("" when the package's files aren't listed)
    how: str  # how it was recognised: "deb package", "path", "directory"


def baked_weights(profile) -> dict[str, int]:
    """Model files a build put in the image, path -> bytes: weight files the inspect stage recognised, and
    everything under a model cache dir (HF_HOME, TORCH_HOME, ~/.cache/huggingface...), whatever the format
    (TorchScript .jit, tokenizers, configs). Weights shipped inside an installed package (site-packages,
    /usr/share, /usr/lib: a torch test fixture, a Debian speech model) belong to that package: not counted."""
    from bisect import bisect_left

    weights = {model.path: model.size for model in profile.models if not _package_data(model.path)}
    roots = set(_MODEL_CACHE_DIRS)
    for key in MODEL_CACHE_ENV:
        value = profile.config.env.get(key, "").rstrip("/")
        if value.startswith("/") and value not in _BROAD_DIRS:  # HF_HOME=/app would make the whole app a model
            roots.add(value)
    for root in sorted(roots):
        index = bisect_left(profile.files, (root + "/",))
        while index < len(profile.files) and profile.files[index].path.startswith(root + "/"):
            entry = profile.files[index]
            if entry.kind == "f" and entry.size and not _package_data(entry.path):
                weights[entry.path] = entry.size
            index += 1
    return weights


def _package_data(path: str) -> bool:
    return "/site-packages/" in path or "/dist-packages/" in path or path.startswith(("/usr/share/", "/usr/lib/"))


def toolchain_in_profile(profile) -> list[Tool]:
    """Each build tool the image holds: toolchain debs, git, a rust toolchain, compilers known by path."""
    from ..inspect.classify import is_toolchain_deb

    found: list[Tool] = []
    debs = [p for p in profile.packages_of("deb") if is_toolchain_deb(p.name)]
    found += [Tool(package.name, package.size, "", "deb package") for package in debs]
    git = profile.package("git", "deb")
    if git is not None:
        found.append(Tool("git", git.size, "/usr/bin/git", "deb package"))
    elif profile.file("/usr/bin/git") is not None:
        found.append(Tool("git", profile.file("/usr/bin/git").size, "/usr/bin/git", "path"))
    rust_dirs = sorted(path for path in profile.dirs if path.startswith(_RUST_DIRS))
    if rust_dirs:
        largest = max(rust_dirs, key=lambda path: profile.dirs[path].size)
        found.append(Tool("rust toolchain", sum(profile.dirs[path].size for path in rust_dirs),
                          _a_file_under(profile, largest), "directory"))
    if not debs:  # compilers the package manager didn't install: known only by their path
        for path in profile.build_tools:
            if path.startswith("/"):
                entry = profile.file(path)
                found.append(Tool(path.rsplit("/", 1)[-1], entry.size if entry else 0, path, "path"))
    return sorted(found, key=lambda tool: (-tool.bytes, tool.name))


def _a_file_under(profile, directory: str) -> str:
    from bisect import bisect_left

    index = bisect_left(profile.files, (directory + "/",))
    if index < len(profile.files) and profile.files[index].path.startswith(directory + "/"):
        return profile.files[index].path
    return ""


def python_in_profile(profile) -> tuple[int, int] | None:
    """The newest CPython whose standard library the image holds (/usr/lib or /usr/local/lib)."""
    found = []
    for minor in range(5, 16):
        for prefix in ("/usr/local/lib", "/usr/lib"):
            if profile.file(f"{prefix}/python3.{minor}/os.py") is not None:
                found.append((3, minor))
    if profile.file("/usr/lib/python2.7/os.py") is not None:
        found.append((2, 7))
    return max(found) if found else None


# --- shared pieces ------------------------------------------------------------------------------------------------
def _user_and_healthcheck(runs_as_root: bool, user: str, healthcheck) -> list[Finding]:
    found = []
    if runs_as_root:
        found.append(Finding(
            "root-user", Severity.HIGH, "Runs as root",
            f"USER is {user or 'not set'}: the process runs as root, so a compromise owns the container",
            "Create a user and switch to it: `RUN useradd --uid 10001 app` then `USER app` (chown only what it writes).",
            security=True))
    kind = healthcheck_kind(healthcheck)
    if kind == "none":
        found.append(Finding(
            "no-healthcheck", Severity.LOW, "No healthcheck",
            "the image has no HEALTHCHECK: a hung service looks alive",
            "Add `HEALTHCHECK CMD curl -f http://localhost:PORT/health || exit 1` (or set one in compose).",
            security=True))
    elif kind == "trivial":
        found.append(Finding(
            "trivial-healthcheck", Severity.LOW, "Healthcheck can't fail",
            f"HEALTHCHECK {' '.join(healthcheck[1:])!s} always succeeds",
            "Probe the service itself (an HTTP endpoint, or an import of the app's own modules).", security=True))
    return found


def _eol(version: tuple[int, int], source: str, today: date | None) -> list[Finding]:
    eol = python_eol.end_of_life(version)
    if python_eol.is_eol(version, today):
        return [Finding(
            "eol-python", Severity.MEDIUM, f"End-of-life Python {python_eol.label(version)}",
            f"Python {python_eol.label(version)} ({source}) stopped getting security fixes"
            + (f" on {eol.isoformat()}" if eol else ""),
            "Move to a supported Python (3.12 or later) and rebuild.", security=True)]
    if eol is not None and (eol - (today or date.today())).days <= 365:
        return [Finding(
            "eol-python-soon", Severity.LOW, f"Python {python_eol.label(version)} reaches end of life on {eol.isoformat()}",
            f"Python {python_eol.label(version)} ({source}) gets security fixes until {eol.isoformat()}",
            "Plan the move to Python 3.12 or later.", security=False)]
    return []


def pick(config_level: list[Finding], deep: list[Finding] | None) -> list[Finding]:
    """The profile's measured findings when there are any; the config/history ones otherwise."""
    if deep is None:
        return sorted(config_level, key=_order)
    return sorted(deep, key=_order)


def _order(finding: Finding) -> tuple:
    return (-int(finding.severity), -finding.bytes, finding.slug)


def security_facts(findings: list[Finding], containers: list | None = None) -> SecurityFacts:
    """Facts for buildopt.score: image facts from the findings, container facts from its containers.

    Vulnerabilities and secrets are not scanned by the audit: they stay unmeasured (None).
    """
    slugs = {finding.slug for finding in findings}
    healthcheck = "none" if "no-healthcheck" in slugs else "trivial" if "trivial-healthcheck" in slugs else "ok"
    facts = dict(
        runs_as_root="root-user" in slugs,
        healthcheck=healthcheck,
        build_tools="build-toolchain" in slugs,
        eol_python="eol-python" in slugs,
    )
    if containers:
        facts.update(
            privileged=any(c.privileged for c in containers),
            extra_capabilities=any(c.cap_add for c in containers),
            memory_limit=all(c.memory_limit > 0 for c in containers),
        )
        # A container can override the image's user and healthcheck: the worst container counts.
        facts["runs_as_root"] = facts["runs_as_root"] if not containers else any(c.runs_as_root for c in containers)
        kinds = {c.healthcheck for c in containers}
        facts["healthcheck"] = "none" if "none" in kinds else "trivial" if "trivial" in kinds else "ok"
    return SecurityFacts(**facts)


def is_ml(findings: list[Finding], details: ImageDetails | None, profile=None) -> bool:
    """An ML image: torch/CUDA/weights found, or ML frameworks named in its build steps."""
    if any(f.slug in ("cuda-without-gpu", "baked-model") for f in findings):
        return True
    if profile is not None:
        names = {p.name for p in profile.packages_of("pip")}
        if names & {"torch", "tensorflow", "transformers", "onnxruntime", "jax", "sentence-transformers", "vllm"}:
            return True
    if details is not None:
        return any(_ML_WORDS.search(step.created_by) for step in details.history)
    return False


def _cuda_title(gpu: GpuFacts) -> str:
    if gpu.present is None:
        return "CUDA libraries, host GPU unknown (assumed CPU-only)"
    return "CUDA libraries on a host without a GPU"


def _layer_name(step: HistoryLayer) -> str:
    return str(step.index) if step.index is not None else f"step {step.step}"


def _clip(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _size_severity(num_bytes: int, floor: Severity) -> Severity:
    if num_bytes >= 1 * GB:
        return max(Severity.HIGH, floor)
    if num_bytes >= 100 * MB:
        return max(Severity.MEDIUM, min(floor, Severity.HIGH))
    return min(floor, Severity.LOW) if num_bytes else floor


_TOOLCHAIN_FIX = ("Multi-stage build: install compilers (gcc, git, rustup) in a builder stage, build wheels or the "
                  "venv there, and `COPY --from=builder /opt/venv /opt/venv` into a slim runtime stage.")
_HEAVY_FIX = ("Move the heavy tool (LibreOffice, Chromium, TeX, a JDK) to its own service, or install only the "
              "parts the runtime calls, with --no-install-recommends.")
_MODEL_FIX = ("Keep weights out of the image: mount a volume (e.g. `-v models:/models -e HF_HOME=/models`) and "
              "download them at first start or in an init job.")
_CUDA_FIX = ("Install the CPU build of torch (`pip install torch --index-url https://download.pytorch.org/whl/cpu`) "
             "and drop the nvidia-* wheels; keep the CUDA build only for hosts with a GPU.")
_CACHE_FIX = ("`pip install --no-cache-dir` (or a BuildKit cache mount), and `rm -rf /var/lib/apt/lists/*` in the "
              "same RUN as apt-get install.")
