"""Render an analyze result (rules.AnalysisResult) as a table, JSON, SARIF 2.1.0 or markdown."""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from ..units import format_size
from . import sarif
from .markdown import escape

FORMATS = ("table", "json", "sarif", "markdown")


def render(result, fmt: str = "table", *, fail_on: str | None = None, root: Path | None = None) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n"
    if fmt == "sarif":
        return sarif.dumps(to_sarif(result, root=root))
    if fmt == "markdown":
        return to_markdown(result, fail_on=fail_on)
    if fmt == "table":
        return to_table(result, fail_on=fail_on)
    raise ValueError(f"unknown format {fmt!r}")


def _size(value: int | None) -> str:
    return f"~{format_size(value)}" if value else ""


def _summary_line(result, fail_on: str | None) -> str:
    summary = result.summary()
    counts = ", ".join(f"{n} {level}" for level, n in reversed(summary["by_severity"].items()) if n)
    text = f"{summary['total']} finding{'s' if summary['total'] != 1 else ''}"
    if counts:
        text += f" ({counts})"
    if summary["estimated_bytes"]:
        text += f"; estimated bytes at stake: ~{format_size(summary['estimated_bytes'])} (sum of the estimates, may overlap)"
    if summary["suppressed"]:
        text += f"; {summary['suppressed']} ignored"
    if fail_on is not None:
        failed = result.fails(fail_on)
        text += f"; --fail-on {fail_on}: {'FAIL' if failed else 'pass'}"
    return text


def _fixes(result) -> list[tuple[str, str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for finding in result.findings:
        seen.setdefault((finding.rule, finding.fix), None)
    slugs = {f.rule: f.slug for f in result.findings}
    return [(rule, slugs[rule], fix) for rule, fix in seen]


def to_table(result, *, fail_on: str | None = None) -> str:
    lines = [f"{result.file}: {result.stages} stage{'s' if result.stages != 1 else ''}, final stage {result.final_stage}"]
    if result.findings:
        rows = [(f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}", str(f.severity), f"{f.rule} {f.slug}",
                 f.message, _size(f.estimated_bytes)) for f in result.findings]
        lines.append(tabulate(rows, headers=["line", "severity", "rule", "finding", "bytes"], tablefmt="simple",
                              maxcolwidths=[None, None, 30, 80, None]))
        lines.append("")
        lines.append("How to fix:")
        for rule, slug, fix in _fixes(result):
            lines.append(f"  {rule} {slug}: {fix}")
    lines.append("")
    lines.append(_summary_line(result, fail_on))
    return "\n".join(lines) + "\n"


def to_markdown(result, *, fail_on: str | None = None) -> str:
    out = [f"### buildopt analyze: `{escape(result.file)}`", ""]
    if result.findings:
        out.append("| line | severity | rule | finding | est. bytes |")
        out.append("|---:|---|---|---|---:|")
        for f in result.findings:
            lines = f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"
            out.append(f"| {lines} | {f.severity} | `{f.rule}` {f.slug} | {escape(f.message)} | {_size(f.estimated_bytes)} |")
        out.append("")
        out.append("<details><summary>How to fix</summary>")
        out.append("")
        for rule, slug, fix in _fixes(result):
            out.append(f"- **{rule} {slug}**: {escape(fix)}")
        out.append("")
        out.append("</details>")
        out.append("")
    else:
        out.append("No findings.")
        out.append("")
    out.append(_summary_line(result, fail_on))
    return "\n".join(out) + "\n"


def to_sarif(result, *, root: Path | None = None) -> dict:
    """SARIF 2.1.0 as GitHub code scanning reads it (written by report/sarif.py, the one SARIF writer)."""
    return sarif.analyze_log(result, root=root)
