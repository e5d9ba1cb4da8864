"""Extract an OptimizationPlan from a parsed single-stage Python Dockerfile.

The plan is the original file taken apart: base image, system packages, install commands, app files,
metadata (ENV, WORKDIR, EXPOSE, LABEL, VOLUME), CMD/ENTRYPOINT, HEALTHCHECK, USER, writable dirs and
model weights. Each piece keeps its source line. A file the plan can't represent raises `Unmodelable` with
the reasons, and the optimizer falls back to in-place fixes.

One reader per job, each built on the one below it: base (shared state) <- models <- installs <- instructions
<- runs <- Extractor (the walk and what follows it).
"""

from __future__ import annotations

from pathlib import Path

from ...dockerfile import Dockerfile
from ..plan import _NOT_CHOWNABLE, OptimizationPlan, Unmodelable
from .runs import RunReader


def extract_plan(dockerfile: Dockerfile, context: Path | None) -> OptimizationPlan:
    from ..plan import modelable

    reasons = modelable(dockerfile)
    if reasons:
        raise Unmodelable(reasons)
    return Extractor(dockerfile, context).run()


class Extractor(RunReader):
    def run(self) -> OptimizationPlan:
        plan = self.plan
        for ins in self.df.instructions:
            if ins.stage == -1:
                plan.global_args.append(self._source(ins))
        for ins in self.df.final_stage.instructions:
            self.line = ins.line
            handler = getattr(self, f"_on_{ins.cmd.lower()}", None)
            if handler is None:
                plan.tail.append(self._source(ins))
            else:
                handler(ins)
        if self.unsupported:
            raise Unmodelable(self.unsupported)
        self._finish()
        return plan

    def _finish(self) -> None:
        plan = self.plan
        if plan.original_user:
            name = plan.original_user.split(":", 1)[0]
            if name.isdigit():
                if int(name) != 0:
                    plan.uid = int(name)
                    plan.uid_from_original = plan.uid
            elif name != "root":
                plan.user_name = name
        plan.apt_no_recommends = plan.apt_flags_ok  # the apt-hygiene transform turns it on
        plan.broad_copy_before_install = sorted(set(self.app_copy_before_install))
        self._models_in_broad_copies()
        plan.entry_script = self._entry_script()
        self._drop_covered_requirement_copies()
        for volume in plan.volumes:
            if volume not in self.writable_seen and volume not in _NOT_CHOWNABLE:
                self.writable_seen.add(volume)
                plan.writable_dirs.append(volume)
        # Drop builder WORKDIRs after the last thing the builder does: they only cost a line.
        last = max((i for i, step in enumerate(plan.builder_steps) if step.kind != "raw"), default=-1)
        plan.builder_steps = plan.builder_steps[: last + 1]
        # A builder that only replays WORKDIRs does nothing.
        if not any(step.kind != "raw" for step in plan.builder_steps):
            plan.builder_steps = []
