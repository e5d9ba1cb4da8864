"""What the optimizer knows about packages: which Debian packages only build, which run, and which
Python distributions pull in torch or Hugging Face models.

Debian names are those of Debian 12 (bookworm), the release under `python:3.1x-slim` today; each
runtime name was checked with `apt-cache policy` on bookworm.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from ..knowledge import is_build_only_package
from ..shell import bare_package

# The shared library a `-dev` package builds against, which the runtime stage must keep.
DEV_TO_RUNTIME: dict[str, str] = {
    "libmagic-dev": "libmagic1",
    "libpq-dev": "libpq5",
    "libxml2-dev": "libxml2",
    "libxslt1-dev": "libxslt1.1",
    "libjpeg-dev": "libjpeg62-turbo",
    "libjpeg62-turbo-dev": "libjpeg62-turbo",
    "libpng-dev": "libpng16-16",
    "libffi-dev": "libffi8",
    "libssl-dev": "libssl3",
    "zlib1g-dev": "zlib1g",
    "libsndfile1-dev": "libsndfile1",
    "libsndfile-dev": "libsndfile1",
    "libopenblas-dev": "libopenblas0",
    "libblas-dev": "libblas3",
    "liblapack-dev": "liblapack3",
    "libgl1-mesa-dev": "libgl1",
    "libglib2.0-dev": "libglib2.0-0",
    "libpoppler-cpp-dev": "libpoppler-cpp0v5",
    "libtesseract-dev": "libtesseract5",
    "libleptonica-dev": "liblept5",
    "libgeos-dev": "libgeos-c1v5",
    "libgdal-dev": "libgdal32",
    "libproj-dev": "libproj25",
    "default-libmysqlclient-dev": "libmariadb3",
    "libmariadb-dev": "libmariadb3",
    "libmariadb-dev-compat": "libmariadb3",
    "libsqlite3-dev": "libsqlite3-0",
    "libbz2-dev": "libbz2-1.0",
    "liblzma-dev": "liblzma5",
    "libreadline-dev": "libreadline8",
    "libncurses-dev": "libncursesw6",
    "libncurses5-dev": "libncursesw6",
    "libncursesw5-dev": "libncursesw6",
    "libcurl4-openssl-dev": "libcurl4",
    "libzstd-dev": "libzstd1",
    "libwebp-dev": "libwebp7",
    "libtiff-dev": "libtiff6",
    "libtiff5-dev": "libtiff6",
    "libfreetype6-dev": "libfreetype6",
    "libfreetype-dev": "libfreetype6",
    "liblcms2-dev": "liblcms2-2",
    "libopenjp2-7-dev": "libopenjp2-7",
    "libharfbuzz-dev": "libharfbuzz0b",
    "portaudio19-dev": "libportaudio2",
    "libasound2-dev": "libasound2",
    "libespeak-ng-dev": "libespeak-ng1",
    "libgmp-dev": "libgmp10",
    "libyaml-dev": "libyaml-0-2",
    "libkrb5-dev": "libkrb5-3",
    "libsasl2-dev": "libsasl2-2",
    "libldap2-dev": "libldap-2.5-0",
    "libsnappy-dev": "libsnappy1v5",
    "libcairo2-dev": "libcairo2",
    "libpango1.0-dev": "libpango-1.0-0",
    "libhdf5-dev": "libhdf5-103-1",
    "libopus-dev": "libopus0",
    "libvips-dev": "libvips42",
    "libavcodec-dev": "libavcodec59",
}
# `-dev` packages whose runtime half is already in every Python base image, or that are headers only.
DEV_WITHOUT_RUNTIME = frozenset(
    {"python3-dev", "python-dev", "python3-all-dev", "libc6-dev", "libc-dev", "linux-libc-dev", "libstdc++-12-dev"}
)


def is_build_only(package: str) -> bool:
    return is_build_only_package(bare_package(package))


def runtime_for(package: str) -> str | None:
    """The runtime library for a `-dev` package, or None when there is none to keep (or none known)."""
    return DEV_TO_RUNTIME.get(bare_package(package))


def split_packages(packages: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(build-time, runtime, dev packages with no known runtime library), each in first-seen order."""
    build: dict[str, None] = {}  # ordered sets: linear however many packages a file names
    runtime: dict[str, None] = {}
    unknown: dict[str, None] = {}
    for package in packages:
        if is_build_only(package):
            _add(build, package)
            mapped = runtime_for(package)
            if mapped:
                _add(runtime, mapped)
            elif bare_package(package).endswith("-dev") and bare_package(package) not in DEV_WITHOUT_RUNTIME:
                _add(unknown, package)
        else:
            _add(runtime, package)
    return list(build), list(runtime), list(unknown)


def _add(items: dict[str, None], item: str) -> None:
    items.setdefault(item, None)


# --- Python distributions ---------------------------------------------------------------------------
# Import names that differ from the distribution name.
IMPORT_NAMES: dict[str, str] = {
    canonicalize_name(dist): module
    for dist, module in {
        "python-telegram-bot": "telegram",
        "pytelegrambotapi": "telebot",
        "discord.py": "discord",
        "pyyaml": "yaml",
        "pillow": "PIL",
        "beautifulsoup4": "bs4",
        "scikit-learn": "sklearn",
        "opencv-python": "cv2",
        "opencv-python-headless": "cv2",
        "python-dotenv": "dotenv",
        "python-multipart": "multipart",
        "python-magic": "magic",
        "psycopg2-binary": "psycopg2",
        "psycopg-binary": "psycopg",
        "sentence-transformers": "sentence_transformers",
        "huggingface-hub": "huggingface_hub",
        "uvicorn": "uvicorn",
        "python-dateutil": "dateutil",
        "attrs": "attr",
        "protobuf": "google.protobuf",
        "pymupdf": "fitz",
        "faiss-cpu": "faiss",
        "openai-whisper": "whisper",
        "msgpack-python": "msgpack",
    }.items()
}
# Frameworks whose import is cheap and says the service's main library is installed and loadable:
# preferred for an import health check on services without a port.
SERVICE_FRAMEWORKS = [
    "python-telegram-bot", "pytelegrambotapi", "aiogram", "discord.py", "celery", "rq", "dramatiq",
    "fastapi", "flask", "django", "starlette", "aiohttp", "uvicorn", "gunicorn", "streamlit", "slack-bolt",
]
# Imports too heavy to run every health-check interval.
HEAVY_IMPORTS = frozenset(
    canonicalize_name(name)
    for name in "torch torchvision torchaudio tensorflow jax transformers sentence-transformers whisperx".split()
)


def import_name(distribution: str) -> str:
    name = canonicalize_name(distribution)
    return IMPORT_NAMES.get(name, name.replace("-", "_"))
