"""Typed results of the inspect stage: an `ImageProfile` and its parts.

Sizes are bytes. "Uncompressed size" is what `docker image inspect` calls Size: the sum of every layer's
regular-file bytes, hidden copies included. `visible_size` is what the final filesystem holds; the
difference is `wasted_bytes`. Paths are absolute ("/usr/bin/python3").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple

SCHEMA = "buildopt.inspect/v1"


class FileEntry(NamedTuple):
    """One non-directory path of the final filesystem. A plain tuple: images hold 50k+ of them."""

    path: str
    size: int  # bytes charged to this path; 0 for symlinks, devices and extra names of a hardlinked file
    mode: int  # permission bits (st_mode & 0o7777)
    uid: int
    layer: int  # index (0 = bottom) of the layer this copy comes from
    kind: str  # "f" regular file, "l" symlink, "o" other (device, fifo, socket)


@dataclass(frozen=True)
class LayerInfo:
    index: int  # 0 = bottom layer
    diff_id: str
    size: int  # regular-file bytes in the layer (hardlinked data once)
    files: int  # non-directory entries
    created_by: str  # from the config history ("" when the history doesn't say)
    wasted: int  # bytes of this layer that later layers overwrite or delete
    compressed_size: int | None = None  # gzip -6 estimate, only with compressed=True


@dataclass(frozen=True)
class WastedCopy:
    """A copy of a file that a later layer hides: its bytes are stored and pulled, never seen."""

    path: str
    size: int
    layer: int  # layer holding the hidden copy
    hidden_by: int  # layer that hides it
    reason: str  # "overwritten", "deleted" (whiteout or opaque dir) or "replaced" (its directory became a file)


@dataclass(frozen=True)
class DirUsage:
    path: str
    size: int
    files: int


@dataclass(frozen=True)
class Package:
    manager: str  # "deb" or "pip"
    name: str  # pip names are canonical (PEP 503): "nvidia-cublas-cu12"
    version: str
    size: int  # bytes of the package's files present in the final filesystem
    files: int
    location: str = ""  # pip: the site-packages dir; deb: ""
    installed_size: int | None = None  # deb: the status file's Installed-Size (KiB) in bytes


@dataclass(frozen=True)
class ModelFile:
    path: str
    size: int
    format: str  # "safetensors", "gguf", "onnx", "pytorch", "checkpoint", "hf-blob", ...
    repo: str | None = None  # Hugging Face repo id from a `models--org--name` cache dir


@dataclass(frozen=True)
class CudaLibrary:
    path: str
    size: int
    package: str | None = None  # the pip package whose RECORD lists it


@dataclass(frozen=True)
class CudaFacts:
    torch_version: str | None = None  # torch/version.py's __version__ when present ("2.13.0+cu130")
    torch_variant: str | None = None  # "cuda", "cpu", "rocm" or None without torch
    torch_cuda: str | None = None  # CUDA version torch was built for ("13.0")
    wheels: tuple[Package, ...] = ()  # nvidia-*, cuda-*, triton
    libraries: tuple[CudaLibrary, ...] = ()  # CUDA shared libraries anywhere (libtorch_cuda, libcublas, ...)

    @property
    def present(self) -> bool:
        return bool(self.wheels or self.libraries or self.torch_variant == "cuda")

    @property
    def total_bytes(self) -> int:
        """CUDA wheels plus CUDA libraries that no CUDA wheel owns (libtorch_cuda, system CUDA)."""
        wheel_names = {wheel.name for wheel in self.wheels}
        loose = sum(lib.size for lib in self.libraries if lib.package not in wheel_names)
        return sum(wheel.size for wheel in self.wheels) + loose


@dataclass(frozen=True)
class ConfigFacts:
    user: str = ""
    uid: int | None = None  # resolved through /etc/passwd when the user is a name
    healthcheck: list[str] | None = None  # the config's Test list (["CMD-SHELL", "..."]), None when absent
    healthcheck_options: dict = field(default_factory=dict)  # interval, timeout, retries, start period (ns)
    env: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""

    @property
    def runs_as_root(self) -> bool:
        name = self.user.split(":")[0]
        if name in ("", "root", "0"):
            return True
        return self.uid == 0


# Byte attribution groups: every visible byte lands in exactly one (see classify.attribute).
GROUPS = {
    "cuda_wheels": "CUDA wheels (nvidia-*, cuda-*)",
    "triton": "triton",
    "torch": "torch",
    "python_packages": "other Python packages",
    "model_files": "model files",
    "caches": "pip/apt/package caches",
    "build_toolchain": "build toolchain (gcc, g++, make, -dev)",
    "system_packages": "other system packages",
    "other": "other files",
}
# Short names for charts and treemap labels, where the full label doesn't fit.
GROUP_SHORT = {
    "cuda_wheels": "CUDA wheels",
    "triton": "triton",
    "torch": "torch",
    "python_packages": "Python packages",
    "model_files": "model files",
    "caches": "caches",
    "build_toolchain": "build toolchain",
    "system_packages": "system packages",
    "other": "other files",
    "hidden": "hidden copies",
}


@dataclass
class ImageProfile:
    ref: str
    id: str
    reader: str  # "overlay2" or "archive"
    size: int  # uncompressed, all layers (what `docker image inspect` reports)
    visible_size: int  # bytes in the final filesystem
    wasted_bytes: int  # size - visible_size: hidden copies, each counted once
    layers: list[LayerInfo]
    files: list[FileEntry]  # sorted by path
    wasted: list[WastedCopy]  # largest first
    dirs: dict[str, DirUsage]  # every top-directory bucket (see classify.bucket)
    packages: list[Package]
    models: list[ModelFile]
    cuda: CudaFacts
    config: ConfigFacts
    caches: list[DirUsage]
    build_tools: list[str]
    groups: dict[str, int]  # GROUPS key -> visible bytes
    repo_tags: list[str] = field(default_factory=list)
    architecture: str = ""
    os: str = ""
    created: str = ""
    os_release: str = ""  # PRETTY_NAME from /etc/os-release
    engine_size: int | None = None  # `docker image inspect` Size, for reference
    compressed_size: int | None = None
    compressed_method: str | None = None
    duration_s: float = 0.0
    # Relative path (no leading "/") -> (manager, name) of the package that lists it; see owner().
    owners: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    reader_via: str = ""  # "direct", "helper container" (overlay2) or "stream" (archive)
    reader_fallback: str | None = None  # why the overlay2 reader wasn't used, when it wasn't

    @property
    def reader_label(self) -> str:
        """e.g. "overlay2", "overlay2 (helper container)", "archive"."""
        return f"{self.reader} ({self.reader_via})" if self.reader_via == "helper container" else self.reader

    @property
    def user(self) -> str:
        return self.config.user

    def top_dirs(self, count: int = 15) -> list[DirUsage]:
        return sorted(self.dirs.values(), key=lambda usage: (-usage.size, usage.path))[:count]

    def packages_of(self, manager: str) -> list[Package]:
        return [package for package in self.packages if package.manager == manager]

    def package(self, name: str, manager: str | None = None) -> Package | None:
        for package in self.packages:
            if package.name == name and (manager is None or package.manager == manager):
                return package
        return None

    def owner(self, path: str) -> tuple[str, str] | None:
        """(manager, name) of the package that lists this absolute path, None when none does."""
        return self.owners.get(path[1:])

    def file(self, path: str) -> FileEntry | None:
        from bisect import bisect_left

        index = bisect_left(self.files, (path,))
        if index < len(self.files) and self.files[index].path == path:
            return self.files[index]
        return None

    @property
    def build_tool_bytes(self) -> int:
        return self.groups.get("build_toolchain", 0)

    def to_dict(self, *, files: bool = False, limit: int = 50) -> dict:
        """JSON-ready dict (schema `buildopt.inspect/v1`, documented in docs/inspect.md)."""
        return {
            "schema": SCHEMA,
            "ref": self.ref,
            "id": self.id,
            "reader": self.reader,
            "reader_via": self.reader_via,
            "reader_fallback": self.reader_fallback,
            "repo_tags": self.repo_tags,
            "architecture": self.architecture,
            "os": self.os,
            "os_release": self.os_release,
            "created": self.created,
            "size": self.size,
            "visible_size": self.visible_size,
            "wasted_bytes": self.wasted_bytes,
            "engine_size": self.engine_size,
            "compressed_size": self.compressed_size,
            "compressed_method": self.compressed_method,
            "file_count": len(self.files),
            "layers": [asdict(layer) for layer in self.layers],
            "top_dirs": [asdict(usage) for usage in self.top_dirs(limit)],
            "wasted": [asdict(copy) for copy in self.wasted[:limit]],
            "groups": dict(self.groups),
            "packages": [asdict(package) for package in self.packages],
            "models": [asdict(model) for model in self.models],
            "cuda": {
                "torch_version": self.cuda.torch_version,
                "torch_variant": self.cuda.torch_variant,
                "torch_cuda": self.cuda.torch_cuda,
                "total_bytes": self.cuda.total_bytes,
                "wheels": [asdict(wheel) for wheel in self.cuda.wheels],
                "libraries": [asdict(library) for library in self.cuda.libraries],
            },
            "caches": [asdict(cache) for cache in self.caches],
            "build_tools": self.build_tools,
            "config": {**asdict(self.config), "runs_as_root": self.config.runs_as_root},
            "files": [list(entry) for entry in self.files] if files else None,
            "duration_s": round(self.duration_s, 3),
        }
