"""Where `buildopt optimize` writes.

The optimized Dockerfile goes next to the input (`Dockerfile.optimized`) unless `-o` says otherwise;
the compose snippet (`docker-compose.buildopt.yml`) and the Dockerfile-specific ignore file
(`<output>.dockerignore`, which BuildKit reads for that Dockerfile) go next to it. Writing is files.py's:
regular files only (even with `force`), no existing file replaced without `force`, all or nothing, no temp
file left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..files import check_output, write_files
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
        try:
            into_dir = target.is_dir()
        except OSError:  # e.g. a parent the user may not search: check_output says so in one line
            into_dir = False
        if into_dir:
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
    """Before any work: the directory exists and the target is not a FIFO, a device or a directory."""
    check_output(paths.dockerfile, force=True)


def write_outputs(result: OptimizationResult, paths: OutputPaths, *, force: bool = False, source: Path | None = None) -> list[Path]:
    """Write the result's files; refuse (BadInput, nothing written) when one exists and `force` is off."""
    files = paths.planned(result)
    if source is not None and any(_same(path, source) for path in files) and not force:
        raise BadInput(f"{source}: the output would overwrite the input (choose another -o, or add --force)")
    return write_files(files, force=force)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False
