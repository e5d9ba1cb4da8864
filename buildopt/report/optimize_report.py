"""Render an OptimizationResult: plain text for people, JSON (schema buildopt.optimize/v1) for tools.

JSON:
    {"schema": "buildopt.optimize/v1", "input": ..., "outputs": {"dockerfile", "compose", "dockerignore"},
     "mode": "rewritten|in-place|unchanged", "template": ..., "fixed_rules": [...],
     "expected_savings_bytes": int|null,
     "changes": [{"key", "status": "applied|advised", "rules", "slugs", "description", "reason",
                  "expected_savings_bytes", "lines"}],   # applied first, then what was only advised, and why
     "reasons": [...], "diff": "..." (with --diff)}
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path

from ..rules import RULE_IDS
from ..units import format_size

SCHEMA = "buildopt.optimize/v1"
_MODE_TEXT = {
    "rewritten": "rewritten from the templates",
    "in-place": "safe in-place fixes only",
    "unchanged": "unchanged",
}


def unified_diff(original: str, optimized: str, original_name: str, optimized_name: str) -> str:
    lines = difflib.unified_diff(original.splitlines(keepends=True), optimized.splitlines(keepends=True),
                                 fromfile=original_name, tofile=optimized_name)
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return text


def to_dict(result, source: Path, written: list[Path], *, diff: str | None = None) -> dict:
    outputs: dict[str, str | None] = {"dockerfile": None, "compose": None, "dockerignore": None}
    for path in written:
        key = "compose" if path.name.endswith(".yml") else "dockerignore" if path.name.endswith(".dockerignore") else "dockerfile"
        outputs[key] = str(path)
    data = {
        "schema": SCHEMA,
        "input": str(source),
        "outputs": outputs,
        "mode": result.mode,
        "template": result.template,
        "fixed_rules": result.fixed_rules,
        "expected_savings_bytes": result.expected_savings_bytes,
        "changes": [
            {**change.to_dict(), "slugs": [RULE_IDS[rule][0] for rule in change.rule_ids if rule in RULE_IDS]}
            for change in [*result.changes, *result.advice]
        ],
        "reasons": list(result.reasons),
    }
    if diff is not None:
        data["diff"] = diff
    return data


def to_json(result, source: Path, written: list[Path], *, diff: str | None = None) -> str:
    return json.dumps(to_dict(result, source, written, diff=diff), indent=2) + "\n"


def to_text(result, source: Path, written: list[Path], *, diff: str | None = None) -> str:
    out: list[str] = []
    target = written[0] if written else None
    template = f", {result.template}" if result.template else ""
    out.append(f"{source} -> {target} ({_MODE_TEXT.get(result.mode, result.mode)}{template})")
    if result.changes:
        out.append("")
        out.append("Changes:")
        for change in result.changes:
            rules = ",".join(change.rule_ids) or "-"
            savings = f" [~{format_size(change.expected_savings_bytes)}]" if change.expected_savings_bytes else ""
            skip = f" (--skip {change.key})" if change.key else ""
            out.append(textwrap.fill(f"{rules}: {change.description}{savings}{skip}", width=110, initial_indent="  ",
                                     subsequent_indent="      "))
    if result.advice:
        out.append("")
        out.append("Advice (not applied):")
        for change in result.advice:
            rules = ",".join(change.rule_ids) or "-"
            out.append(textwrap.fill(f"{rules}: {change.reason}", width=110, initial_indent="  ",
                                     subsequent_indent="      "))
    if result.expected_savings_bytes:
        out.append("")
        out.append(f"Expected savings: ~{format_size(result.expected_savings_bytes)} (analyze's estimates for the fixed findings)")
    if len(written) > 1:
        out.append(f"Also written: {', '.join(str(path) for path in written[1:])}")
    if result.reasons:
        out.append("")
        out.append("Notes:")
        for reason in result.reasons:
            out.append(textwrap.fill(reason, width=110, initial_indent="  - ", subsequent_indent="    "))
    if diff is not None:
        out.append("")
        out.append(diff.rstrip("\n") if diff else "(no differences)")
    return "\n".join(out) + "\n"


def render(result, source: Path, written: list[Path], fmt: str = "text", *, diff: str | None = None) -> str:
    if fmt == "json":
        return to_json(result, source, written, diff=diff)
    return to_text(result, source, written, diff=diff)
