"""What buildopt knows about files, packages and commands, in one place: rules, optimize and audit read it here.

- model weights: file suffixes, directory names, cache variables, and the commands and Python calls that
  download them at build time;
- build toolchains: the system packages only a build needs;
- heavy runtimes (LibreOffice, TeX Live, a JDK, a browser);
- PyTorch: the distributions that are torch, and those that pull it in; CUDA/ROCm wheel indexes and pins;
- base images: well-known images that already run as a non-root user, and GPU images (some ship torch);
- start-up commands that drop root for another user (gosu, su-exec, s6-setuidgid ...).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache

from packaging.utils import canonicalize_name

from .shell.commands import is_python, program, simple_commands

# --- model weights -----------------------------------------------------------------------------------------
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".gguf", ".ckpt", ".h5", ".msgpack", ".tflite",
                   ".jit")  # .jit: TorchScript (torch.jit.save; silero-vad ships silero_vad.jit)
# A word naming a weight file. `torch.jit` (the module, as in `import torch.jit`) is not one.
WEIGHT_TOKEN = re.compile(
    r"(?<![\w./%-])(?!torch\.jit(?:$|[\s'\"]))[\w./%-]+\.(safetensors|bin|pt|pth|onnx|gguf|ckpt|jit)(\?[^\s'\"]*)?(?=$|[\s'\"])",
    re.I)
MODEL_DIR_NAMES = frozenset({
    "models", "model", "weights", "checkpoints", "checkpoint", "hub", "huggingface", "hf_cache", "hf-cache",
    "model_cache", "model-cache", "models_cache", "pretrained", "pretrained_models",
})
# Variables that point the model libraries at their cache (where downloads land).
MODEL_CACHE_ENV = ("HF_HOME", "TRANSFORMERS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "SENTENCE_TRANSFORMERS_HOME",
                   "TORCH_HOME")
# The library calls that fetch (or write) weights when run: at build time they bake them into the image.
MODEL_DOWNLOAD_CALL = re.compile(
    r"\b(snapshot_download|hf_hub_download|from_pretrained|SentenceTransformer|CrossEncoder|whisperx\.load_model|"
    r"whisperx\.load_align_model|load_align_model|whisper\.load_model|WhisperModel|torch\.hub\.load|"
    r"torch\.hub\.download_url_to_file|nltk\.download|spacy\.cli\.download|save_pretrained|torch\.save|KPipeline|"
    r"TTS|load_model|pipeline)\s*\("
)
# A script run at build time whose name says it fetches models: download_models.py, fetch-weights.sh ...
_DOWNLOAD_SCRIPT = re.compile(
    r"(download|fetch|pull|prefetch|preload|warm|cache|get)[-_]?(the[-_])?(models?|weights|checkpoints?|voices?)"
    r"|(models?|weights|voices?)[-_]?(download|fetch|pull|prefetch|preload|cache)", re.I)
_DOWNLOADERS = frozenset({"curl", "wget", "aria2c", "gdown"})
_HF_CACHE_ARG = re.compile(r"(\.cache/huggingface|--hf[-_]home|--cache[-_]dir=?\S*(huggingface|models?))", re.I)
# Where the model libraries cache downloads by default (root's home): a build that fills them bakes the weights in.
MODEL_CACHE_DIRS = ("/root/.cache/huggingface", "/root/.cache/torch", "/root/.cache/whisper")
# Directories too broad to count as a model cache when a cache variable points there (HF_HOME=/app).
BROAD_DIRS = frozenset({"", "/app", "/opt", "/usr", "/usr/local", "/home", "/root", "/srv", "/var", "/tmp", "/etc",
                        "/code", "/src", "/workspace"})
# A `docker history` COPY/ADD step whose text names models (`COPY models/ /app/models`).
MODEL_COPY_STEP = re.compile(r"^(COPY|ADD)\b.*\b(models?|weights|checkpoints?|huggingface)\b", re.IGNORECASE)


def is_weight_path(path: str) -> bool:
    """A path or URL naming a weight file (`model.safetensors`, `https://.../x.gguf?download=1`)."""
    return path.lower().split("?", 1)[0].rstrip("/").endswith(WEIGHT_SUFFIXES)


def is_model_dir(path: str) -> bool:
    """A path whose name says it holds models: `models/`, `./checkpoints`, `~/.cache/huggingface`."""
    parts = [p.lower() for p in path.strip("/").split("/") if p not in ("", ".")]
    joined = "/".join(parts)
    return (".cache/huggingface" in joined or ".cache/torch" in joined
            or any(p in MODEL_DIR_NAMES or "weights" in p for p in parts))


def is_package_data(path: str) -> bool:
    """A file an installed package ships (site-packages, /usr/share, /usr/lib): a torch test fixture or a Debian
    speech model belongs to its package, not to the weights a build baked in."""
    return "/site-packages/" in path or "/dist-packages/" in path or path.startswith(("/usr/share/", "/usr/lib/"))


def is_model_download_script(name: str) -> bool:
    return bool(_DOWNLOAD_SCRIPT.search(name.rsplit("/", 1)[-1]))


def installs_model_outside_caches(argv: list[str], text: str = "") -> bool:
    """A model fetch whose files don't land in a model cache a /models volume can stand in for: `python -m spacy
    download` pip-installs a package, `ollama pull` fills ~/.ollama, nltk.download writes nltk_data. analyze still
    reports them (they bake models in); optimize can't move them to a one-off init service."""
    if not argv:
        return False
    if is_python(argv[0]) and argv[1:3] == ["-m", "spacy"]:
        return True
    if program(argv) == "ollama":
        return True
    return "nltk.download" in text or "spacy.cli.download" in text


def model_download(argv: list[str]) -> str | None:
    """Why this command downloads model weights at build time (for a message), or None."""
    if not argv:
        return None
    name = program(argv)
    if name == "huggingface-cli" and "download" in argv[1:3]:
        return "`huggingface-cli download`"
    if name == "hf" and argv[1:2] == ["download"]:
        return "`hf download`"
    if name == "git" and "clone" in argv and any("huggingface.co" in word for word in argv):
        return "`git clone` of a huggingface.co repository"
    if name == "git" and argv[1:3] == ["lfs", "pull"]:
        return "`git lfs pull`"
    if name in _DOWNLOADERS and any(WEIGHT_TOKEN.search(word) or "huggingface.co" in word for word in argv[1:]):
        return f"`{name}` of a weight file"
    if is_python(argv[0]) and argv[1:3] == ["-m", "spacy"] and "download" in argv:
        return "`python -m spacy download`"
    if name == "ollama" and argv[1:2] == ["pull"]:
        return "`ollama pull`"
    script = next((word for word in argv[:3] if word.endswith((".py", ".sh")) and is_model_download_script(word)), None)
    if script:
        into_hf_cache = any(_HF_CACHE_ARG.search(word) for word in argv)
        return f"`{script}` (a model download script" + (", writing into the HF cache)" if into_hf_cache else ")")
    return None


# --- where apps write -------------------------------------------------------------------------------------------
# Directory names apps write into at run time (uploads, data, logs...).
WRITABLE_DIR_NAMES = frozenset({
    "upload", "uploads", "storage", "data", "media", "output", "outputs", "files", "downloads", "tmp", "temp",
    "cache", "logs", "log", "work", "workspace", "incoming", "shared", "db", "state", "run", "spool", "instance",
})



# Python a build step runs that writes weights: a save/export call, and a string naming a weight file.
_WEIGHT_LITERAL = re.compile(r"""(['"])([^'"\n]*\.(?:safetensors|bin|pt|pth|onnx|gguf|ckpt|jit|h5|tflite))\1""", re.I)
_SAVE_CALL = re.compile(r"\b(save|save_pretrained|save_model|save_file|export|dump|to_onnx)\s*\(")


def weights_written_by_code(code: str) -> list[str]:
    """Weight files Python code writes (`torch.save(m, 'x.pth')`, `torch.jit.script(m).save('x.jit')`,
    `torch.onnx.export(m, x, 'm.onnx')`): the literal paths, when the code also calls a save/export function."""
    if not code or not _SAVE_CALL.search(code):
        return []
    return list(dict.fromkeys(match.group(2) for match in _WEIGHT_LITERAL.finditer(code)))


def weight_path_arguments(argv: list[str]) -> list[str]:
    """Weight-file paths given to a script or module a RUN executes (`python train.py --out /app/m.pth`,
    `./export.sh model.onnx`): the step reads or writes weights inside the image."""
    if not argv:
        return []
    python = is_python(argv[0])
    if python and "-m" in argv[1:3] and argv[argv.index("-m") + 1:argv.index("-m") + 2] in (["pip"], ["pip3"]):
        return []
    if not (python or argv[0].endswith((".py", ".sh")) or argv[0].startswith("./")):
        return []
    found = []
    words = argv[1:]
    for index, word in enumerate(words):
        if python and index > 0 and words[index - 1] == "-c":
            continue  # the code itself: weights_written_by_code reads it
        value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if not value.startswith("-") and is_weight_path(value):
            found.append(value)
    return found

# --- build toolchains --------------------------------------------------------------------------------------
# System packages only a build needs. `-dev` headers are matched by suffix (DEV_HEADERS).
COMPILERS = frozenset("""
    build-essential build-base alpine-sdk gcc g++ gcc-c++ cpp c++ clang llvm gfortran make cmake ninja-build meson
    autoconf automake libtool pkg-config pkgconf swig binutils dpkg-dev patch bison flex musl-dev linux-headers
""".split())
RUST_GO = frozenset({"cargo", "rustc", "rustup", "golang-go"})
VCS = frozenset({"git", "git-lfs", "mercurial", "subversion"})
_VERSIONED = re.compile(r"^(gcc|g\+\+|cpp|clang|gfortran|llvm)(-\d+(\.\d+)*)?(-x86-64-linux-gnu|-aarch64-linux-gnu)?$")
BUILD_COMMANDS = frozenset({"gcc", "g++", "cc", "c++", "make", "cmake", "ninja", "cargo", "rustc", "go", "meson",
                            "configure", "./configure"})
# In an image's files: compilers by path, and where rustup/cargo put a Rust toolchain.
COMPILER_PATHS = ("/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/g++", "/usr/bin/make", "/usr/bin/clang")
RUST_TOOLCHAIN_DIRS = ("/root/.rustup", "/root/.cargo", "/usr/local/rustup", "/usr/local/cargo", "/opt/rust",
                       "/opt/cargo")


def is_compiler_package(name: str) -> bool:
    """A compiler toolchain package, versioned or per-architecture names included (`gcc-12`, `cpp-12-x86-64-linux-gnu`)."""
    return name in COMPILERS or bool(_VERSIONED.match(name))


def is_dev_headers(name: str) -> bool:
    return name.endswith(("-dev", "-devel"))


def is_build_only_package(name: str) -> bool:
    """What a builder stage needs and a runtime doesn't: compilers, Rust/Go, version control, -dev headers."""
    return is_compiler_package(name) or name in RUST_GO or name in VCS or is_dev_headers(name)


# --- heavy runtimes ---------------------------------------------------------------------------------------
HEAVY_RUNTIMES = [
    (re.compile(r"^libreoffice"), "LibreOffice",
     "run document conversion in a separate converter service (e.g. a LibreOffice/unoserver or Gotenberg "
     "container called over HTTP), as the audit recommends for rag-anything"),
    (re.compile(r"^texlive"), "TeX Live",
     "render documents in a separate service, or install only texlive-latex-base and the packages you use"),
    (re.compile(r"^(default-jdk|default-jre|openjdk-\d+-(jdk|jre))"), "a Java runtime",
     "run the Java part as its own service, or use a headless JRE instead of a JDK"),
    (re.compile(r"^(chromium|google-chrome|firefox)"), "a web browser",
     "use a separate headless-browser service (e.g. browserless) called over the network"),
]


def heavy_runtime(package: str) -> tuple[str, str] | None:
    """(family, advice) when the package is a heavy runtime."""
    name = package.split("=", 1)[0].lower()
    for pattern, family, advice in HEAVY_RUNTIMES:
        if pattern.match(name):
            return family, advice
    return None


# --- PyTorch --------------------------------------------------------------------------------------------------
TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})
# Distributions whose required dependencies include torch (PyPI metadata): installing them from PyPI alone
# pulls the CUDA build. Extras that add torch are in TORCH_EXTRAS.
PULLS_TORCH = frozenset(canonicalize_name(name) for name in """
    sentence-transformers whisperx openai-whisper accelerate timm torchmetrics pytorch-lightning lightning peft
    bitsandbytes easyocr ultralytics kornia pyannote.audio coqui-tts TTS kokoro flair stanza xformers deepspeed
    torchtext torchdata torch-geometric trl gliner colbert-ai ragatouille open-clip-torch speechbrain nemo-toolkit
    fairseq detectron2 marker-pdf surya-ocr docling unstructured-inference doctr demucs
""".split())
TORCH_EXTRAS = {"transformers": {"torch"}, "diffusers": {"torch"}, "spacy": {"transformers"}}
# Distributions that download Hugging Face models into HF_HOME at run time.
HF_LIBRARIES = frozenset(canonicalize_name(name) for name in """
    transformers sentence-transformers huggingface-hub whisperx faster-whisper diffusers datasets tokenizers
    accelerate peft kokoro pyannote-audio optimum setfit spacy-transformers
""".split())

# Wheel indexes, find-links pages and local versions that pick a GPU build of torch on purpose.
_GPU_INDEX = re.compile(r"/(cu\d{2,3}|rocm\d[\d.]*)(/|$)|(^|[/.])(developer\.download|pypi|pypi\.ngc)\.nvidia\.com", re.I)
_GPU_LOCAL_VERSION = re.compile(r"(\+|%2B)(cu\d{2,3}|rocm\d[\d.]*)\b", re.I)
_GPU_BACKEND = re.compile(r"^(cu\d{2,3}|rocm[\d.]*)$", re.I)
# ML frameworks: pip distributions that make an image an ML image, and the words naming them (or a model family)
# in a build step's text.
ML_DISTRIBUTIONS = frozenset({"torch", "tensorflow", "transformers", "onnxruntime", "jax", "sentence-transformers",
                              "vllm"})
ML_WORDS = re.compile(r"\b(torch|tensorflow|transformers|onnxruntime|sentence-transformers|whisperx?|vllm|diffusers|"
                      r"llama|jax|keras|paddle|ultralytics)\b", re.IGNORECASE)
# CUDA named in a build step's text (packages, wheels, a cu12x tag), and the ENV an nvidia/cuda base image sets.
CUDA_WORDS = re.compile(r"\b(cuda|cudnn|libcublas|libnccl|nvidia-[a-z]+-cu\d+|cu1[12]\d)\b", re.IGNORECASE)
CUDA_ENV = ("CUDA_VERSION", "NVIDIA_REQUIRE_CUDA", "NV_CUDA_LIB_VERSION", "CUDA_HOME")


def is_gpu_index(url: str) -> bool:
    """A CUDA or ROCm wheel index (download.pytorch.org/whl/cu121, .../rocm6.0, .../cu118/torch_stable.html)."""
    return bool(_GPU_INDEX.search(url))


def gpu_local_version(text: str) -> str | None:
    """`cu118` for `torch==2.1.2+cu118` (or a wheel URL with `%2Bcu118`), else None."""
    match = _GPU_LOCAL_VERSION.search(text or "")
    return match.group(2).lower() if match else None


def is_gpu_torch_backend(value: str) -> bool:
    """uv's `--torch-backend cu121` / `rocm6.2` (`auto` picks by the driver it finds: none in a build)."""
    return bool(_GPU_BACKEND.match(value.strip()))


# --- base images ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownImage:
    """What a well-known image's config says, for when the local engine can't be asked (see engine.py)."""

    user: str = ""  # Config.User: "" = root
    env: tuple[tuple[str, str], ...] = ()  # the part of Config.Env a Dockerfile refers to (USER $MAMBA_USER)
    gpu: bool = False  # a CUDA or ROCm image: running on a GPU is the point of it
    ships_torch: bool = False  # a GPU build of torch is already installed


_JOVYAN = (("NB_USER", "jovyan"), ("NB_UID", "1000"), ("NB_GID", "100"), ("HOME", "/home/jovyan"))
_MAMBA = (("MAMBA_USER", "mambauser"), ("MAMBA_USER_ID", "57439"), ("MAMBA_USER_GID", "57439"),
          ("MAMBA_ROOT_PREFIX", "/opt/conda"), ("ENV_NAME", "base"))
# (repository pattern, tag pattern, facts): first match wins. Repositories as `docker pull` names them, Docker Hub's
# `docker.io/` and `library/` dropped. Sources: each project's published Dockerfile (its last USER).
KNOWN_IMAGES: tuple[tuple[str, str, KnownImage], ...] = (
    # Non-root by default.
    ("gcr.io/distroless/*", "*nonroot*", KnownImage("65532")),  # :nonroot, :debug-nonroot, :latest-nonroot...
    ("gcr.io/distroless/*", "*", KnownImage("")),  # the other distroless tags run as root
    ("cgr.dev/chainguard/*", "*", KnownImage("65532")),  # Chainguard images run as nonroot, -dev variants too
    # Bitnami's language runtimes run as root; its application images as uid 1001.
    ("bitnami/{minideb,python,node,ruby,golang,java,dotnet,dotnet-sdk,aspnet-core,php-fpm,git}", "*", KnownImage("")),
    ("bitnami/*", "*", KnownImage("1001")),
    ("jupyter/*", "*", KnownImage("1000", _JOVYAN)),  # Jupyter docker-stacks: USER ${NB_UID}
    ("quay.io/jupyter/*", "*", KnownImage("1000", _JOVYAN)),
    ("nginxinc/nginx-unprivileged", "*", KnownImage("101")),
    ("mambaorg/micromamba", "*", KnownImage("mambauser", _MAMBA)),  # USER $MAMBA_USER
    ("registry.access.redhat.com/ubi*/python-*", "*", KnownImage("1001")),  # Red Hat's UBI Python (s2i) images
    ("registry.redhat.io/ubi*/python-*", "*", KnownImage("1001")),
    ("apache/airflow", "*", KnownImage("50000")),
    # GPU images (root): some already hold a CUDA (or ROCm) build of torch.
    ("pytorch/pytorch", "*", KnownImage(gpu=True, ships_torch=True)),
    ("nvcr.io/nvidia/pytorch", "*", KnownImage(gpu=True, ships_torch=True)),
    ("rocm/pytorch*", "*", KnownImage(gpu=True, ships_torch=True)),
    ("huggingface/transformers-pytorch-gpu", "*", KnownImage(gpu=True, ships_torch=True)),
    ("nvidia/cuda", "*", KnownImage(gpu=True)),
    ("nvcr.io/nvidia/*", "*", KnownImage(gpu=True)),
    ("rocm/*", "*", KnownImage(gpu=True)),
    ("tensorflow/tensorflow", "*gpu*", KnownImage(gpu=True)),
)
_HUB_PREFIXES = ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/",
                 "registry-1.docker.io/library/", "registry-1.docker.io/", "library/", "public.ecr.aws/bitnami/")
# Config.Env names that mark a GPU image, and a torch already installed in it (NVIDIA's and PyTorch's images).
GPU_ENV = frozenset({"CUDA_VERSION", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NV_CUDA_CUDART_VERSION",
                     "ROCM_PATH", "ROCM_VERSION"})
TORCH_ENV = frozenset({"PYTORCH_VERSION", "NVIDIA_PYTORCH_VERSION", "PYTORCH_BUILD_VERSION"})


def split_image(ref: str) -> tuple[str, str]:
    """(repository, tag) of an image reference, Docker Hub's prefixes dropped: `docker.io/library/python:3.12` ->
    ("python", "3.12"). No tag gives "latest"; a digest-only reference gives "" as the tag."""
    name = ref.strip().lower().split("@", 1)[0]
    for prefix in _HUB_PREFIXES:
        if name.startswith(prefix):
            name = ("bitnami/" if prefix == "public.ecr.aws/bitnami/" else "") + name[len(prefix):]
            break
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    return repository, tag or ("latest" if "@" not in ref else "")


def _braces(pattern: str) -> list[str]:
    head, brace, rest = pattern.partition("{")
    if not brace:
        return [pattern]
    choices, _, tail = rest.partition("}")
    return [head + choice + tail for choice in choices.split(",")]


_KNOWN_PATTERNS = [([re.compile(fnmatch.translate(p)) for p in _braces(repo)], re.compile(fnmatch.translate(tag)), facts)
                   for repo, tag, facts in KNOWN_IMAGES]


@lru_cache(maxsize=1024)
def known_image(ref: str) -> KnownImage | None:
    """The table entry for a base image, or None for an image this table doesn't know."""
    if not ref or "$" in ref:
        return None
    repository, tag = split_image(ref)
    for repo_patterns, tag_pattern, facts in _KNOWN_PATTERNS:
        if any(pattern.match(repository) for pattern in repo_patterns) and tag_pattern.match(tag):
            return facts
    return None


# --- start-up that drops root ------------------------------------------------------------------------------------
# Commands that run the rest as another user: an entrypoint that ends in one of them starts as root on purpose
# (PUID/PGID remapping, chown of volumes) and the app itself doesn't run as root.
_DROP_TOOLS = frozenset({"gosu", "su-exec", "s6-setuidgid", "s6-applyuidgid", "setuidgid", "runuser"})
_DROP_FLAGS = {"setpriv": ("--reuid",), "chpst": ("-u",), "su": ("-c", "--command"), "start-stop-daemon": ("--chuid", "-c"),
               "chroot": ("--userspec",), "uwsgi": ("--uid",), "gunicorn": ("--user", "-u"), "celery": ("--uid",)}
_SUDO_AS_USER = re.compile(r"(^|[\s;&|(])sudo\s+(-\S+\s+)*(-u|--user)[=\s]+\S")
_UWSGI_UID = re.compile(r"^\s*uid\s*[=:]\s*\S", re.M)
_SUPERVISOR_USER = re.compile(r"^\s*user\s*=\s*\S", re.M)


def privilege_drop(argv: list[str]) -> str | None:
    """The tool when this command runs its program as another user (`gosu app ...`, `setpriv --reuid=app ...`)."""
    if not argv:
        return None
    name = program(argv)
    if name in _DROP_TOOLS and len(argv) > 2:
        return name
    for flag in _DROP_FLAGS.get(name, ()):
        for word in argv[1:]:
            if word == flag or word.startswith(flag + "=") or (len(flag) == 2 and word.startswith(flag) and len(word) > 2):
                return f"{name} {flag}"
    return None


def drops_privileges(text: str, filename: str = "") -> str | None:
    """Why a start-up script or config runs the app as another user (`gosu`, `s6-setuidgid`, `uid =` in a uWSGI
    ini, `user=` in a supervisord program), or None."""
    lower = filename.lower()
    if lower.endswith((".ini", ".conf", ".cfg", ".toml", ".yaml", ".yml")):
        if "[uwsgi]" in text and _UWSGI_UID.search(text):
            return "uid in the uWSGI config"
        if "[program:" in text and _SUPERVISOR_USER.search(text):
            return "user= in the supervisord config"
        return None
    if _SUDO_AS_USER.search(text):
        return "sudo -u"
    for argv in simple_commands(text):
        tool = privilege_drop(argv)
        if tool:
            return tool
    return None
