"""Render an analyze result (rules.AnalysisResult) as a table, JSON, SARIF 2.1.0 or markdown."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tabulate import tabulate

from ..units import format_size

FORMATS = ("table", "json", "sarif", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULES_DOC = "docs/rules.md"
_DEFAULT_HOME = "https://github.com/buildopt/buildopt"
_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning ranks security alerts by this (CVSS-like) score.
_SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "3.0", "info": "1.0"}
_SECURITY_RULES = frozenset({"BO101", "BO110", "BO117", "BO118", "BO119", "BO120", "BO102"})


def render(result, fmt: str = "table", *, fail_on: str | None = None, root: Path | None = None) -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(result, root=root), indent=2) + "\n"
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


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result, *, fail_on: str | None = None) -> str:
    out = [f"### buildopt analyze: `{result.file}`", ""]
    if result.findings:
        out.append("| line | severity | rule | finding | est. bytes |")
        out.append("|---:|---|---|---|---:|")
        for f in result.findings:
            lines = f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"
            out.append(f"| {lines} | {f.severity} | `{f.rule}` {f.slug} | {_md(f.message)} | {_size(f.estimated_bytes)} |")
        out.append("")
        out.append("<details><summary>How to fix</summary>")
        out.append("")
        for rule, slug, fix in _fixes(result):
            out.append(f"- **{rule} {slug}**: {_md(fix)}")
        out.append("")
        out.append("</details>")
        out.append("")
    else:
        out.append("No findings.")
        out.append("")
    out.append(_summary_line(result, fail_on))
    return "\n".join(out) + "\n"


def project_home() -> str:
    """The project's URL from the installed package metadata, for SARIF helpUri links."""
    try:
        from importlib.metadata import metadata

        meta = metadata("buildopt")
        for entry in meta.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in ("homepage", "repository", "source"):
                return url.strip().rstrip("/")
        if meta.get("Home-page"):
            return str(meta["Home-page"]).rstrip("/")
    except Exception:  # noqa: BLE001 - metadata is optional; the link falls back to the default home
        pass
    return _DEFAULT_HOME


def rule_help_uri(rule_id: str, slug: str) -> str:
    return f"{project_home()}/blob/main/{RULES_DOC}#{rule_id.lower()}-{slug}"


def _artifact_uri(file: str, root: Path | None) -> str:
    path = Path(file)
    base = Path(root) if root is not None else Path.cwd()
    try:
        relative = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    if relative.startswith(".."):
        return path.resolve().as_uri()
    return Path(relative).as_posix()


def sarif_level(severity: str) -> str:
    return _SARIF_LEVEL.get(str(severity).lower(), "warning")


def sarif_rule(rule) -> dict:
    """One analyze rule as SARIF's tool.driver.rules entry (shared with compare's SARIF)."""
    severity = str(rule.severity)
    tags = ["dockerfile", "security" if rule.id in _SECURITY_RULES else "maintainability"]
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. Checks: {rule.scope}."},
        "help": {"text": rule.fix, "markdown": rule.fix},
        "helpUri": rule_help_uri(rule.id, rule.slug),
        "defaultConfiguration": {"level": _SARIF_LEVEL[severity]},
        "properties": {"tags": tags, "precision": "high", "security-severity": _SECURITY_SEVERITY[severity],
                       "problem.severity": _SARIF_LEVEL[severity]},
    }


def to_sarif(result, *, root: Path | None = None) -> dict:
    """SARIF 2.1.0 as GitHub code scanning reads it: every rule in tool.driver.rules, one result per finding
    with a location relative to `root` (default: the working directory, i.e. the repository root in CI)."""
    from .. import __version__
    from ..rules import all_rules

    rules = all_rules()
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver_rules = [sarif_rule(rule) for rule in rules]
    uri = _artifact_uri(result.file, root) if result.file != "<string>" else "Dockerfile"
    results = []
    for finding in result.findings:
        severity = str(finding.severity)
        text = finding.message
        if finding.fix:
            text += f" Fix: {finding.fix}"
        entry = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": _SARIF_LEVEL[severity],
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": max(1, finding.line), "endLine": max(finding.line, finding.end_line, 1)},
                }
            }],
            "properties": {"severity": severity, "slug": finding.slug},
        }
        if finding.estimated_bytes is not None:
            entry["properties"]["estimated_bytes"] = finding.estimated_bytes
            entry["properties"]["estimate_basis"] = finding.estimate_basis
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "buildopt", "version": __version__, "semanticVersion": __version__,
                                "informationUri": project_home(), "rules": driver_rules}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
