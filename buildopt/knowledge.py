"""What buildopt knows about files, packages and commands, in one place: rules, optimize and audit read it here.

- model weights: file suffixes, directory names, cache variables, and the commands and Python calls that
  download them at build time;
- build toolchains: the system packages only a build needs;
- heavy runtimes (LibreOffice, TeX Live, a JDK, a browser);
- PyTorch: the distributions that are torch, and those that pull it in.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

from .shell.commands import is_python, program

# --- model weights -----------------------------------------------------------------------------------------
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".gguf", ".ckpt", ".h5", ".msgpack", ".tflite")
WEIGHT_TOKEN = re.compile(r"[\w./%-]+\.(safetensors|bin|pt|pth|onnx|gguf|ckpt)(\?[^\s'\"]*)?(?=$|[\s'\"])", re.I)
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


def is_weight_path(path: str) -> bool:
    """A path or URL naming a weight file (`model.safetensors`, `https://.../x.gguf?download=1`)."""
    return path.lower().split("?", 1)[0].rstrip("/").endswith(WEIGHT_SUFFIXES)


def is_model_dir(path: str) -> bool:
    """A path whose name says it holds models: `models/`, `./checkpoints`, `~/.cache/huggingface`."""
    parts = [p.lower() for p in path.strip("/").split("/") if p not in ("", ".")]
    joined = "/".join(parts)
    return (".cache/huggingface" in joined or ".cache/torch" in joined
            or any(p in MODEL_DIR_NAMES or "weights" in p for p in parts))


def is_model_download_script(name: str) -> bool:
    return bool(_DOWNLOAD_SCRIPT.search(name.rsplit("/", 1)[-1]))


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
