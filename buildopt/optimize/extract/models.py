"""Model weights in the original: COPYs of weights or model dirs, build-time downloads, weights a broad COPY brings."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath

from ... import shell
from ...errors import BadInput
from ...files import read_text
from ...knowledge import (
    MODEL_DIR_NAMES,
    MODEL_DOWNLOAD_CALL,
    WEIGHT_SUFFIXES,
    installs_model_outside_caches,
    is_weight_path,
    model_download,
)
from ..plan import ModelSource
from .base import Reader


class ModelReader(Reader):
    def _is_model_copy(self, sources: list[str], dest_abs: str) -> bool:
        """Weights that can leave the image: weight files only, or whole model directories (the mount that replaces
        them brings their config and tokenizer files too). A file that isn't weights (config.json, vocab.txt)
        stays in the image even when it goes into a model directory."""
        if all(is_weight_path(source) for source in sources):
            return True
        if not all(self._is_dir_source(source) for source in sources):
            return False
        for source in sources:
            parts = [part.lower() for part in PurePosixPath(source.rstrip("/")).parts]
            if (parts and parts[-1] in MODEL_DIR_NAMES) or ".cache/huggingface" in source:
                return True
        dest_parts = PurePosixPath(dest_abs.rstrip("/") or "/").parts
        return bool(dest_parts and dest_parts[-1].lower() in MODEL_DIR_NAMES and not any(s in (".", "./") for s in sources))

    def _is_dir_source(self, source: str) -> bool:
        if self.context is not None and (self.context / source).exists():
            return (self.context / source).is_dir()
        return source.endswith("/") or "." not in PurePosixPath(source).name

    def _is_model_download(self, unit: shell.Unit, joined: str) -> bool:
        argv = unit.argv
        while argv and argv[0] in ("then", "do", "else", "elif", "if", "!", "{", "("):
            argv = argv[1:]  # `then python download_model.py` inside an if
        if not argv or installs_model_outside_caches(argv, joined):
            return False  # it has to stay in the image: what it fetches is not in a cache a volume can hold
        if shell.is_python(argv[0]) and "-c" in argv and MODEL_DOWNLOAD_CALL.search(joined):
            return True
        return model_download(argv) is not None

    def _models_in_broad_copies(self) -> None:
        """Weight files an app COPY of a directory would bring (`COPY . .` with models/ in the context)."""
        if self.context is None:
            return
        ignore = _dockerignore(self.context)
        for step in self.plan.app_copies:
            spec = step.copy
            if spec is None or spec.cmd != "COPY" or len(spec.sources) != 1 or (not spec.dest_abs.endswith("/") and spec.sources[0] not in (".", "./")):
                continue
            source = posixpath.normpath(spec.sources[0]).lstrip("/") or "."
            found = [path for path in weight_files(self.context, source) if not (ignore and ignore.excludes(path))]
            groups: dict[str, list[str]] = {}
            for path in found:
                relative = path if source == "." else posixpath.relpath(path, source)
                top = relative.split("/", 1)[0]
                groups.setdefault(top, []).append(path)
            for top, paths in groups.items():
                is_dir = "/" in posixpath.relpath(paths[0], source if source != "." else ".")
                context_path = top if source == "." else f"{source}/{top}"
                if any(posixpath.normpath(source) == context_path for model in self.plan.models for source in model.sources):
                    continue
                destination = posixpath.join(spec.dest_abs.rstrip("/") or "/", top)
                assert step.line is not None  # an app COPY is an instruction of the Dockerfile
                self.plan.models.append(ModelSource(
                    "copy", step.line, spec.render(), sources=[context_path], destination=destination,
                    workdir=self.workdir, source_is_dir=is_dir, inside_app_copy=True,
                ))


def weight_files(context: Path, source: str, limit: int = 20000) -> list[str]:
    """Weight files under a context dir, context-relative (venvs and .git skipped; stops after `limit` files)."""
    root = context / source
    if not root.is_dir():
        return []
    found: list[str] = []
    seen = 0
    base = context.resolve()
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".venv", "venv", "node_modules", "__pycache__"))
        for name in sorted(filenames):
            seen += 1
            if seen > limit:
                return found
            if name.lower().endswith(WEIGHT_SUFFIXES):
                found.append(Path(directory, name).resolve().relative_to(base).as_posix())
    return found


def _download_destination(argv: list[str], workdir: str) -> str | None:
    for flag in ("--local-dir", "--cache-dir", "-O", "-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            return posixpath.normpath(posixpath.join(workdir, argv[argv.index(flag) + 1]))
        for word in argv:
            if word.startswith(flag + "=") and flag.startswith("--"):
                return posixpath.normpath(posixpath.join(workdir, word.split("=", 1)[1]))
    return None


def _dockerignore(context: Path):
    from ...rules.buildcontext import DockerIgnore

    path = context / ".dockerignore"
    try:
        return DockerIgnore.parse(read_text(path, errors="replace", what=".dockerignore")) if path.is_file() else None
    except BadInput:
        return None
