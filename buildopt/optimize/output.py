"""Where `buildopt optimize` writes, and writing it safely.

The optimized Dockerfile goes next to the input (`Dockerfile.optimized`) unless `-o` says otherwise;
the compose snippet (`docker-compose.buildopt.yml`) and the Dockerfile-specific ignore file
(`<output>.dockerignore`, which BuildKit reads for that Dockerfile) go next to it. No existing file is
replaced without `force`, and every file is written to a temp file in the same directory and renamed,
so a failure leaves neither a half-written file nor a temp file behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .options import OptimizationResult
from .render import COMPOSE_NAME

DEFAULT_OUTPUT_NAME = "Dockerfile.optimized"


@dataclass(frozen=True)
class OutputPaths:
    dockerfile: Path
    compose: Path
    dockerignore: Path

    @classmethod
    def for_input(cls, dockerfile: Path, output: Path | None = None) -> OutputPaths:
        target = Path(output) if output is not None else Path(dockerfile).with_name(DEFAULT_OUTPUT_NAME)
        if target.exists() and target.is_dir():
            target = target / DEFAULT_OUTPUT_NAME
        return cls(target, target.with_name(COMPOSE_NAME), target.with_name(target.name + ".dockerignore"))

    def planned(self, result: OptimizationResult) -> dict[Path, str]:
        files = {self.dockerfile: result.text}
        if result.compose_text is not None:
            files[self.compose] = result.compose_text
        if result.dockerignore_text is not None:
            files[self.dockerignore] = result.dockerignore_text
        return files


def check_output_dir(paths: OutputPaths) -> None:
    parent = paths.dockerfile.parent
    if not parent.is_dir():
        raise BadInput(f"{parent}: output directory does not exist")


def write_outputs(result: OptimizationResult, paths: OutputPaths, *, force: bool = False, source: Path | None = None) -> list[Path]:
    """Write the result's files; refuse (BadInput, nothing written) when one exists and `force` is off."""
    check_output_dir(paths)
    files = paths.planned(result)
    if source is not None and any(_same(path, source) for path in files):
        if not force:
            raise BadInput(f"{source}: the output would overwrite the input (choose another -o, or add --force)")
    existing = [path for path in files if path.exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise BadInput(f"{names}: already exists (use --force to overwrite)")
    for path in existing:
        if path.is_dir():
            raise BadInput(f"{path}: is a directory")
    temps: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            temps.append((_write_temp(path, text), path))
        for temp, path in temps:
            os.replace(temp, path)
    finally:
        for temp, _ in temps:
            if temp.exists():
                temp.unlink()
    return list(files)


def _write_temp(path: Path, text: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False
