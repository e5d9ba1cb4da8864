"""Optimize stage: a parsed Dockerfile and its findings in, an OptimizationResult (text, changes tied to rule ids) out.

    from buildopt.optimize import optimize, OptimizeOptions
    result = optimize(parsed, analysis.findings, OptimizeOptions(context_dir="."))
    result.mode      # "rewritten" | "in-place" | "unchanged"
    result.text      # the optimized Dockerfile
    result.changes   # [Change(rule_ids, description, expected_savings_bytes, lines)]

A single-stage Dockerfile on an official python image is taken apart into a plan (plan.py), changed by
the transforms (transforms.py) and written out through the templates (render.py). Anything else
(non-Python, already multi-stage, ONBUILD/SHELL/heredocs) only gets the safe in-place fixes
(inplace.py), or comes back unchanged. Whatever the mode, the text returned parses.

The findings come from the analyze stage (compare and the CLI have them already); `analyze_and_optimize` runs
both for callers that start from a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..dockerfile import Dockerfile, parse_file, parse_string
from ..errors import BadInput, BuildoptError
from .inplace import fix_in_place
from .options import (
    DEFAULT_TORCH_INDEX_URL,
    Change,
    ChangeStatus,
    OptimizationResult,
    OptimizeMode,
    OptimizeOptions,
    advice,
)
from .plan import OptimizationPlan, Unmodelable, extract_plan, modelable
from .render import (
    dockerignore_patterns,
    render_compose,
    render_dockerfile,
    render_dockerignore,
    template_name,
)
from .safety import user_plan
from .transforms import REWRITE_KEY, TRANSFORMS

if TYPE_CHECKING:
    from ..rules import Finding

SCHEMA = "buildopt.optimize/v1"

__all__ = [
    "DEFAULT_TORCH_INDEX_URL", "REWRITE_KEY", "SCHEMA", "TRANSFORMS", "Change", "ChangeStatus", "OptimizationPlan", "OptimizationResult",
    "OptimizeOptions", "analyze_and_optimize", "change_keys", "extract_plan", "optimize",
]


def analyze_and_optimize(dockerfile: Dockerfile | str | Path, context_dir: str | Path | None = None,
                         options: OptimizeOptions | None = None) -> OptimizationResult:
    """Parse (when given a path), analyze, then optimize: the two stages for callers that have no findings yet."""
    from ..rules import analyze

    parsed = dockerfile if isinstance(dockerfile, Dockerfile) else parse_file(dockerfile)
    options = options or OptimizeOptions()
    if context_dir is not None:
        options.context_dir = str(context_dir)
    context = _context(parsed, options.context_dir)
    try:
        findings = list(analyze(parsed, context_dir=context).findings)
    except BuildoptError:
        findings = []
    return optimize(parsed, findings, options)


def optimize(parsed: Dockerfile, findings: Sequence[Finding], options: OptimizeOptions | None = None) -> OptimizationResult:
    """Optimize one parsed Dockerfile, given analyze's findings on it (they give each change its expected savings
    and say what is left as it was). The context defaults to the Dockerfile's directory."""
    options = options or OptimizeOptions()
    if options.python is not None and not re.fullmatch(r"3\.\d{1,2}", options.python):
        raise BadInput(f"--python {options.python!r}: give a Python version like 3.12")
    context = _context(parsed, options.context_dir)
    if not parsed.buildable:  # BuildKit's parser takes it, `docker build` doesn't: nothing safe to change
        return OptimizationResult(parsed.text, [], OptimizeMode.UNCHANGED, [f"not optimized: {warning}" for warning in parsed.warnings])
    output_path = (parsed.path.parent if parsed.path else Path(".")) / options.output_name
    findings = list(findings)
    users = user_plan(parsed, context)

    reasons = modelable(parsed)
    if REWRITE_KEY in options.skip:
        reasons = reasons or [f"the {REWRITE_KEY} rewrite is turned off (--skip {REWRITE_KEY})"]
    plan = None
    if not reasons:
        try:
            plan = extract_plan(parsed, context)
        except Unmodelable as err:
            reasons = err.reasons
    if plan is not None:
        plan.user_plan = users
        plan.findings = findings
        result, output = _rewrite(parsed, plan, options, output_path)
        if result is not None and output is not None:
            result.reasons += _verify_claims(result, output, context)
            _attach_savings(result.changes, findings)
            result.reasons += _left_alone(result.changes, findings, result.advice)
            return result
        if not reasons:
            return OptimizationResult(parsed.text, [], OptimizeMode.UNCHANGED,
                                      ["no transform had anything to fix", *_left_alone([], findings)])

    text, changes, notes = fix_in_place(parsed, options, users)
    applied = [change for change in changes if change.status is ChangeStatus.APPLIED]
    advised = [change for change in changes if change.status is ChangeStatus.ADVISED]
    why = [f"not rewritten from the templates: {reason}" for reason in reasons]
    if not applied:
        return OptimizationResult(parsed.text, [], OptimizeMode.UNCHANGED,
                                  why + notes + ["no safe in-place fix applies"] + _left_alone([], findings, advised),
                                  advice=advised)
    try:
        output = parse_string(text, path=output_path)  # parsed once: checked here, analyzed by _verify_claims
    except BadInput as err:  # never hand back a file that doesn't parse
        return OptimizationResult(parsed.text, [], OptimizeMode.UNCHANGED, why + notes + [f"the in-place edits did not parse ({err})"],
                                  advice=advised)
    result = OptimizationResult(text, applied, OptimizeMode.IN_PLACE, why + notes, advice=advised)
    result.reasons += _verify_claims(result, output, context)
    _attach_savings(result.changes, findings)
    result.reasons += _left_alone(result.changes, findings, result.advice)
    return result


def _rewrite(parsed: Dockerfile, plan: OptimizationPlan, options: OptimizeOptions,
             output_path: Path) -> tuple[OptimizationResult | None, Dockerfile | None]:
    """The templated rewrite and its parse, or (None, None) when no transform fixes anything or it doesn't parse."""
    changes: list[Change] = []
    advised: list[Change] = []
    for transform in TRANSFORMS:
        if transform.name in options.skip and not transform.required:
            advised.append(advice(transform.name, list(transform.rule_ids), transform.summary,
                                  f"turned off (--skip {transform.name})"))
            continue
        for change in transform.apply(plan, options):
            change.key = change.key or transform.key
            (advised if change.status is ChangeStatus.ADVISED else changes).append(change)
    # A rewrite is worth it when it fixes a rule; with changes turned off (--skip, compare's fallback) what is left of
    # it still stands, so each change can be tried on its own.
    if not any(change.rule_ids for change in changes) and not (options.skip and any(change.key != REWRITE_KEY
                                                                                     for change in changes)):
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
                                   f"{options.output_name})", key="models-volume"))
    compose = render_compose(plan, options)
    return OptimizationResult(text, changes, OptimizeMode.REWRITTEN, plan.notes, compose, dockerignore, template_name(plan),
                              advice=advised), output


def change_keys(names: list[str] | None) -> frozenset[str]:
    """`--skip` values checked against the keys optimize knows; BadInput for anything else."""
    from .inplace import APT_LISTS, APT_RECOMMENDS, NON_ROOT, PIP_CACHE

    known = {transform.key for transform in TRANSFORMS} | {
        APT_LISTS, APT_RECOMMENDS, NON_ROOT, PIP_CACHE, "python-version"}
    chosen = frozenset(name.strip() for name in names or [] if name.strip())
    unknown = sorted(chosen - known)
    if unknown:
        raise BadInput(f"--skip {unknown[0]}: not a change key (use one of {', '.join(sorted(known))})")
    return chosen


def _context(parsed: Dockerfile, context_dir: str | Path | None) -> Path | None:
    if context_dir is not None:
        context = Path(context_dir)
        if not context.is_dir():
            raise BadInput(f"{context}: context is not a directory")
        return context
    return parsed.path.parent if parsed.path is not None else None


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


def _left_alone(changes: list[Change], findings: list, advised: list[Change] | None = None) -> list[str]:
    """What analyze reports on the original that no change fixes, said plainly (with the reason, when a change for
    it was only advised)."""
    fixed = {rule for change in changes for rule in change.rule_ids}
    why = {rule: change.reason for change in advised or [] for rule in change.rule_ids if change.reason}
    notes = []
    for finding in findings:
        if finding.rule not in fixed:
            reason = f" ({why[finding.rule]})" if finding.rule in why else ""
            notes.append(f"left as it is: {finding.rule} {finding.slug} (line {finding.line}): {finding.message}{reason}")
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
