"""What the gate asks git: the base branch's tree, and where a path sits in the repository."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path


def export_ref(ref: str, dest: Path, log: Callable[[str], None]) -> Path | None:
    """The ref's tree, exported outside the workspace so it is never part of a build context; None (and a
    log line saying why) when it can't be read."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], capture_output=True)
    if archive.returncode != 0:
        message = (archive.stderr.decode(errors="replace").strip().splitlines() or ["git archive failed"])[-1]
        log(f"buildopt gate: cannot read {ref}: {message} "
            "(check out with fetch-depth: 0 so the base branch is there)")
        return None
    unpack = subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, capture_output=True)
    if unpack.returncode != 0:
        log(f"buildopt gate: cannot unpack {ref}")
        return None
    return dest


def relative_to_repo(path: str) -> str | None:
    """`path` relative to the repository's top directory; None outside a repository or outside this one."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(top.stdout.strip()).resolve()))
    except ValueError:
        return None
