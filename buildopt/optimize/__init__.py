"""Optimize stage: a parsed Dockerfile in, an OptimizationResult (text, changes tied to rule ids) out.

    from buildopt.optimize import optimize, OptimizeOptions
    result = optimize("Dockerfile", context_dir=".", options=OptimizeOptions(python=None))
    result.mode      # "rewritten" | "in-place" | "unchanged"
    result.text      # the optimized Dockerfile
    result.changes   # [Change(rule_ids, description, expected_savings_bytes, lines)]

A single-stage Dockerfile on an official python image is taken apart into a plan (plan.py), changed by
the transforms (transforms.py) and written out through the templates (render.py). Anything else
(non-Python, already multi-stage, ONBUILD/SHELL/heredocs) only gets the safe in-place fixes
(inplace.py), or comes back unchanged. Whatever the mode, the text returned parses.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..dockerfile import Dockerfile, parse_file, parse_string
from ..errors import BadInput, BuildoptError
from .inplace import fix_in_place
from .options import (
    DEFAULT_TORCH_INDEX_URL,
    Change,
    OptimizationResult,
    OptimizeOptions,
)
from .plan import OptimizationPlan, Unmodelable, extract_plan, modelable
from .render import (
    dockerignore_patterns,
    render_compose,
    render_dockerfile,
    render_dockerignore,
    template_name,
)
from .transforms import TRANSFORMS

SCHEMA = "buildopt.optimize/v1"

__all__ = [
    "DEFAULT_TORCH_INDEX_URL", "SCHEMA", "TRANSFORMS", "Change", "OptimizationPlan", "OptimizationResult",
    "OptimizeOptions", "extract_plan", "optimize",
]


def optimize(
    dockerfile: Dockerfile | str | Path,
    context_dir: str | Path | None = None,
    options: OptimizeOptions | None = None,
) -> OptimizationResult:
    """Optimize one Dockerfile (a parsed one, or a path). The context defaults to the Dockerfile's directory."""
    options = options or OptimizeOptions()
    if options.python is not None and not re.fullmatch(r"3\.\d{1,2}", options.python):
        raise BadInput(f"--python {options.python!r}: give a Python version like 3.12")
    parsed = dockerfile if isinstance(dockerfile, Dockerfile) else parse_file(dockerfile)
    context = _context(parsed, context_dir)
    if not parsed.buildable:  # BuildKit's parser takes it, `docker build` doesn't: nothing safe to change
        return OptimizationResult(parsed.text, [], "unchanged", [f"not optimized: {warning}" for warning in parsed.warnings])
    output_path = (parsed.path.parent if parsed.path else Path(".")) / options.output_name

    reasons = modelable(parsed)
    plan = None
    if not reasons:
        try:
            plan = extract_plan(parsed, context)
        except Unmodelable as err:
            reasons = err.reasons
    findings = _findings(parsed, context)
    if plan is not None:
        result, output = _rewrite(parsed, plan, options, output_path)
        if result is not None:
            result.reasons += _verify_claims(result, output, context)
            _attach_savings(result.changes, findings)
            result.reasons += _left_alone(result.changes, findings)
            return result
        if not reasons:
            return OptimizationResult(parsed.text, [], "unchanged",
                                      ["no transform had anything to fix"] + _left_alone([], findings))

    text, changes, notes = fix_in_place(parsed, options)
    why = [f"not rewritten from the templates: {reason}" for reason in reasons]
    if not changes:
        return OptimizationResult(parsed.text, [], "unchanged",
                                  why + notes + ["no safe in-place fix applies"] + _left_alone([], findings))
    try:
        output = parse_string(text, path=output_path)  # parsed once: checked here, analyzed by _verify_claims
    except BadInput as err:  # never hand back a file that doesn't parse
        return OptimizationResult(parsed.text, [], "unchanged", why + notes + [f"the in-place edits did not parse ({err})"])
    result = OptimizationResult(text, changes, "in-place", why + notes)
    result.reasons += _verify_claims(result, output, context)
    _attach_savings(result.changes, findings)
    result.reasons += _left_alone(result.changes, findings)
    return result


def _rewrite(parsed: Dockerfile, plan: OptimizationPlan, options: OptimizeOptions,
             output_path: Path) -> tuple[OptimizationResult | None, Dockerfile | None]:
    """The templated rewrite and its parse, or (None, None) when no transform fixes anything or it doesn't parse."""
    changes: list[Change] = []
    for transform in TRANSFORMS:
        changes.extend(transform.apply(plan, options))
    if not any(change.rule_ids for change in changes):
        return None, None
    text = render_dockerfile(plan, options)
    try:
        output = parse_string(text, path=output_path)
    except BadInput as err:
        plan.notes.append(f"the rewritten file did not parse ({err}); falling back to in-place fixes")
        return None, None
    patterns = dockerignore_patterns(plan)
    dockerignore = render_dockerignore(plan, options, patterns)
    if dockerignore:
        name = f"{options.output_name}.dockerignore"
        changes.append(Change([], f"{name} keeps {', '.join(patterns[:3])}{' ...' if len(patterns) > 3 else ''} "
                                   f"out of the app COPY (BuildKit reads it instead of .dockerignore when building "
                                   f"{options.output_name})"))
    compose = render_compose(plan, options)
    return OptimizationResult(text, changes, "rewritten", plan.notes, compose, dockerignore, template_name(plan)), output


def _context(parsed: Dockerfile, context_dir: str | Path | None) -> Path | None:
    if context_dir is not None:
        context = Path(context_dir)
        if not context.is_dir():
            raise BadInput(f"{context}: context is not a directory")
        return context
    return parsed.path.parent if parsed.path is not None else None


def _findings(parsed: Dockerfile, context: Path | None) -> list:
    """The original's findings (the analyze stage): they give each change its expected savings."""
    from ..rules import analyze

    try:
        return list(analyze(parsed, context_dir=context).findings)
    except BuildoptError:
        return []


def _verify_claims(result: OptimizationResult, output: Dockerfile, context: Path | None) -> list[str]:
    """Analyze the output: a rule a change claims to fix but that is still reported is no longer claimed.

    Weight files that a broad COPY would bring from the context don't count when the Dockerfile's own
    ignore file (written with it) leaves them out: BuildKit reads that file instead of .dockerignore.
    """
    from ..rules import analyze

    claimed = {rule for change in result.changes for rule in change.rule_ids}
    if not claimed:
        return []
    try:
        after = analyze(output, context_dir=context).findings
    except BuildoptError:
        return []
    excluded_copy_lines = set()
    if result.dockerignore_text is not None:
        excluded_copy_lines = {ins.line for ins in output.final_stage.instructions
                               if ins.cmd == "COPY" and ins.flag("from") is None
                               and any(src in (".", "./") or src.endswith("/") or "." not in src.rsplit("/", 1)[-1]
                                       for src in ins.value[:-1])}
    still = [f for f in after if f.rule in claimed and not (f.rule == "BO104" and f.line in excluded_copy_lines)]
    notes = []
    for rule in sorted({f.rule for f in still}):
        for change in result.changes:
            if rule in change.rule_ids:
                change.rule_ids.remove(rule)
        where = ", ".join(str(f.line) for f in still if f.rule == rule)
        notes.append(f"{rule} is still reported on the output (line {where}): not claimed as fixed")
    return notes


def _left_alone(changes: list[Change], findings: list) -> list[str]:
    """What analyze reports on the original that no change fixes, said plainly."""
    fixed = {rule for change in changes for rule in change.rule_ids}
    notes = []
    for finding in findings:
        if finding.rule not in fixed:
            notes.append(f"left as it is: {finding.rule} {finding.slug} (line {finding.line}): {finding.message}")
    return notes


def _attach_savings(changes: list[Change], findings: list) -> None:
    """Each change's expected savings: analyze's estimates for the findings it fixes, each counted once."""
    used: set[int] = set()
    for exact in (True, False):
        for change in changes:
            for index, finding in enumerate(findings):
                if index in used or finding.rule not in change.rule_ids or finding.estimated_bytes is None:
                    continue
                if exact and change.lines and not any(finding.line <= line <= finding.end_line for line in change.lines):
                    continue
                used.add(index)
                change.expected_savings_bytes = (change.expected_savings_bytes or 0) + finding.estimated_bytes
