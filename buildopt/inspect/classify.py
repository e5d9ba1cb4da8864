"""Name what the bytes are: top-directory buckets, model/weight files, CUDA libraries, caches, build
tools, and the attribution of every visible byte to one group (model.GROUPS).

Works on the merged view: `final` maps a relative path to (kind, size, mode, uid, layer).
"""

from __future__ import annotations

import re

from .layers import REG
from .model import CudaFacts, CudaLibrary, DirUsage, ModelFile, Package

_SITE_DIRS = {"site-packages", "dist-packages"}


def bucket(path: str) -> str:
    """The top-directory bucket a file counts in (absolute path).

    - under a site-packages/dist-packages dir: the package dir (`.../site-packages/torch`), and for
      NVIDIA wheels one level deeper (`.../site-packages/nvidia/cublas`);
    - under a Hugging Face cache: the `models--org--name` dir;
    - anything else: its first three directory levels (`/usr/lib/x86_64-linux-gnu`, `/var/cache/apt`).
    """
    parts = path.split("/")[:-1]  # directories only
    depth = 3
    for position, part in enumerate(parts):
        if part in _SITE_DIRS:
            depth = position + 2
            if len(parts) > position + 2 and parts[position + 1] == "nvidia":
                depth += 1
            break
        if part.startswith(("models--", "datasets--")):
            depth = position + 1
            break
    return "/" + "/".join(parts[:depth])


def bucket_of_dir(directory: str) -> str:
    """bucket() for any file directly in `directory` (relative, "" for the root)."""
    return bucket(directory + "/x" if directory else "x")


def dir_usage(final: dict[str, tuple]) -> dict[str, DirUsage]:
    sizes: dict[str, list[int]] = {}
    buckets: dict[str, str] = {}  # directory -> bucket: files of one directory share it
    for path, record in final.items():
        if record[0] == "d":
            continue
        directory = path.rpartition("/")[0]
        key = buckets.get(directory)
        if key is None:
            key = buckets[directory] = bucket_of_dir(directory)
        slot = sizes.get(key)
        if slot is None:
            sizes[key] = [record[1], 1]
        else:
            slot[0] += record[1]
            slot[1] += 1
    return {key: DirUsage(key, size, count) for key, (size, count) in sizes.items()}


# --- model and weight files ---------------------------------------------------------------------------
_MODEL_EXTENSIONS = {
    ".safetensors": "safetensors", ".gguf": "gguf", ".ggml": "ggml", ".onnx": "onnx", ".ckpt": "checkpoint",
    ".pt": "pytorch", ".pth": "pytorch", ".keras": "keras", ".tflite": "tflite", ".h5": "keras-h5",
    ".mlmodel": "coreml", ".ot": "pytorch", ".jit": "torchscript",  # silero-vad's silero_vad.jit, torch.jit.save output
}
# Directory names that make a *.bin (or *.h5) a weight file rather than any binary blob.
_MODEL_DIR = re.compile(r"(^|/)(models?|checkpoints?|weights|huggingface|hub|\.cache/torch|models--[^/]+)(/|$)", re.IGNORECASE)
_WEIGHT_BIN = re.compile(r"(pytorch_model|model|weights|adapter_model|tf_model|flax_model)[\w.-]*\.bin$", re.IGNORECASE)


def model_format(path: str) -> str | None:
    """The weight format of a file, or None. Paths are relative ("root/.cache/...")."""
    directory, _, name = path.rpartition("/")
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > 0 else ""
    if "/models--" in "/" + directory and "/blobs" in "/" + directory:
        return "hf-blob"  # HF hub stores the bytes under blobs/<sha>; snapshots/ only links to them
    fmt = _MODEL_EXTENSIONS.get(extension)
    if fmt is not None:
        if extension == ".pth" and directory.rpartition("/")[2] in _SITE_DIRS:
            return None  # a .pth path-configuration file, not weights
        if extension == ".h5" and not _MODEL_DIR.search(directory):
            return None
        return fmt
    if extension == ".bin" and (_MODEL_DIR.search(directory) or _WEIGHT_BIN.search(name)):
        return "bin"
    return None


def _hf_repo(path: str) -> str | None:
    for part in path.split("/"):
        if part.startswith("models--"):
            return part[len("models--"):].replace("--", "/")
    return None


def model_files(final: dict[str, tuple]) -> list[ModelFile]:
    found = []
    for path, record in final.items():
        if record[0] != REG:
            continue
        fmt = model_format(path)
        if fmt is not None:
            found.append(ModelFile("/" + path, record[1], fmt, _hf_repo(path)))
    found.sort(key=lambda model: (-model.size, model.path))
    return found


# --- CUDA ----------------------------------------------------------------------------------------------
_CUDA_WHEEL = re.compile(r"^(nvidia-.+|cuda-(toolkit|bindings|pathfinder|python)|triton|pytorch-triton.*)$")
_CUDA_LIB = re.compile(
    r"^lib(torch_cuda\w*|c10_cuda|caffe2_nvrtc|cuda\w*|cudnn\w*|cublas\w*|cufft\w*|curand|cusolver\w*|cusparse\w*"
    r"|cupti|cufile\w*|nccl\w*|nvrtc[\w-]*|nvJitLink|nvToolsExt|nvshmem\w*|nvjpeg|npp\w*|nvidia-ml|nvperf\w*|triton)"
    r"(\.[\w-]+)*\.so(\.[\d.]+)?$"
)


def is_cuda_wheel(name: str) -> bool:
    return bool(_CUDA_WHEEL.match(name))


def cuda_facts(final: dict[str, tuple], packages: list[Package], owners: dict[str, tuple[str, str]],
               torch: tuple[str | None, str | None, str | None]) -> CudaFacts:
    wheels = tuple(sorted((p for p in packages if p.manager == "pip" and is_cuda_wheel(p.name)),
                          key=lambda p: (-p.size, p.name)))
    libraries = []
    for path, record in final.items():
        if record[0] != REG:
            continue
        name = path.rpartition("/")[2]
        if name.startswith("lib") and ".so" in name and _CUDA_LIB.match(name):
            owner = owners.get(path)
            libraries.append(CudaLibrary("/" + path, record[1], owner[1] if owner and owner[0] == "pip" else None))
    libraries.sort(key=lambda lib: (-lib.size, lib.path))
    version, variant, cuda = torch
    if variant is None and any(p.name == "torch" for p in packages if p.manager == "pip"):
        variant = "cuda" if any(lib.path.rpartition("/")[2].startswith("libtorch_cuda") for lib in libraries) else "cpu"
    return CudaFacts(version, variant, cuda, wheels, tuple(libraries))


# --- caches and build tools -----------------------------------------------------------------------------
_CACHE_DIRS = re.compile(
    r"^(var/cache/apt|var/lib/apt/lists|var/cache/apk|var/cache/(dnf|yum)|root/\.cache/(pip|uv|pypoetry|pip-tools)"
    r"|home/[^/]+/\.cache/(pip|uv|pypoetry)|root/\.npm|root/\.cache/yarn|usr/local/share/\.cache/yarn|tmp)(/|$)"
)


def cache_dir(path: str) -> str | None:
    match = _CACHE_DIRS.match(path)
    return match.group(1) if match else None


def caches(final: dict[str, tuple]) -> list[DirUsage]:
    sizes: dict[str, list[int]] = {}
    memo: dict[str, str | None] = {}
    for path, record in final.items():
        if record[0] == "d":
            continue
        key = _cache_of_file(path, memo)
        if key is None:
            continue
        slot = sizes.setdefault(key, [0, 0])
        slot[0] += record[1]
        slot[1] += 1
    return sorted((DirUsage("/" + key, size, count) for key, (size, count) in sizes.items()),
                  key=lambda usage: (-usage.size, usage.path))


def _cache_of_file(path: str, memo: dict[str, str | None]) -> str | None:
    directory = path.rpartition("/")[0]
    if directory in memo:
        return memo[directory]
    key = memo[directory] = cache_dir(directory) if directory else None
    return key


_TOOLCHAIN_DEB = re.compile(
    r"^(build-essential|gcc|g\+\+|cpp|clang|llvm|make|cmake|ninja-build|autoconf|automake|libtool|gfortran|binutils"
    r"|dpkg-dev|libc6-dev|linux-libc-dev|libgcc-\d+-dev|libstdc\+\+-\d+-dev|python3(\.\d+)?-dev|libpython3(\.\d+)?-dev)"
    r"(-\d+(\.\d+)*)?(-x86-64-linux-gnu|-aarch64-linux-gnu)?$"
)
_TOOLCHAIN_BIN = ("usr/bin/gcc", "usr/bin/g++", "usr/bin/cc", "usr/bin/c++", "usr/bin/make", "usr/bin/clang")


def is_toolchain_deb(name: str) -> bool:
    return bool(_TOOLCHAIN_DEB.match(name)) or (name.endswith("-dev") and name.startswith(("libpython3", "python3")))


def build_tools(final: dict[str, tuple], packages: list[Package]) -> list[str]:
    tools = {p.name for p in packages if p.manager == "deb" and is_toolchain_deb(p.name)}
    for path in _TOOLCHAIN_BIN:
        if path in final:
            tools.add("/" + path)
    return sorted(tools)


# --- byte attribution ------------------------------------------------------------------------------------
def attribute(final: dict[str, tuple], owners: dict[str, tuple[str, str]], models: list[ModelFile]) -> dict[str, int]:
    """Every visible byte goes to one group (see file_group)."""
    model_paths = {model.path[1:] for model in models}
    memo: dict[str, str | None] = {}
    groups = {key: 0 for key in ("cuda_wheels", "triton", "torch", "python_packages", "model_files", "caches",
                                 "build_toolchain", "system_packages", "other")}
    for path, record in final.items():
        size = record[1]
        if record[0] != REG or not size:
            continue
        groups[file_group(path, owners.get(path), model_paths, memo)] += size
    return groups


def file_group(path: str, owner: tuple[str, str] | None, model_paths: set[str], memo: dict[str, str | None]) -> str:
    """The group of one file (relative path), first match wins: model files, caches, the owning pip package
    (CUDA wheels, triton, torch, other), the owning deb package (toolchain, other), other. `memo` caches
    the cache-dir test per directory across calls."""
    if path in model_paths:
        return "model_files"
    if _cache_of_file(path, memo) is not None:
        return "caches"
    if owner is None:
        return "other"
    name = owner[1]
    if owner[0] == "pip":
        if name == "torch":
            return "torch"
        if name == "triton" or name.startswith("pytorch-triton"):
            return "triton"
        return "cuda_wheels" if is_cuda_wheel(name) else "python_packages"
    return "build_toolchain" if is_toolchain_deb(name) else "system_packages"
