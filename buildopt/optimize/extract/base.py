"""The state every reader of the extraction shares: the Dockerfile, the plan being filled, and where the walk is."""

from __future__ import annotations

import posixpath
from pathlib import Path

from ... import shell
from ...dockerfile import Dockerfile, Instruction, substitute
from ..plan import BaseImage, OptimizationPlan


class Reader:
    def __init__(self, dockerfile: Dockerfile, context: Path | None):
        self.df = dockerfile
        self.context = context
        # Docker splits lines on \n only (Python's splitlines would also split on \x85, \x0c, U+2028...).
        self.lines = [line.rstrip("\r") for line in dockerfile.text.split("\n")]
        stage = dockerfile.final_stage
        base = BaseImage.parse(stage.base, stage.base_resolved)
        self.plan = OptimizationPlan(dockerfile, context, base, builder_base=stage.base, runtime_base=stage.base)
        self.unsupported: list[str] = []
        self.workdir = "/"
        self.variables: dict[str, str] = {key: value or "" for key, value in dockerfile.global_args.items()}
        self.provided: dict[str, str] = {}  # absolute path in the builder -> context-relative source
        self.replicated: set[int] = set()  # lines of app COPYs already replicated into the builder
        self.app_copy_before_install: set[int] = set()
        self.writable_seen: set[str] = set()  # plan.writable_dirs, as a set
        self.apt_seen: set[str] = set()  # plan.apt_packages, as a set
        self.made_seen: set[str] = set()  # plan.made_dirs, as a set
        self.line = 0  # the instruction being read
        self.run_has_apt_update = False
        self.run_removes_lists = False

    def _source(self, ins: Instruction) -> str:
        return "\n".join(self.lines[ins.line - 1 : ins.end_line]).strip()

    def _resolve(self, path: str) -> str:
        expanded = shell.dequote(substitute(path, self.variables) if "$" in path else path)  # WORKDIR "${dir}"
        joined = posixpath.join(self.workdir, expanded)
        return posixpath.normpath(joined) if joined != "/" else "/"
