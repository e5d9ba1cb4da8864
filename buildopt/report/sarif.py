"""The one SARIF 2.1.0 writer, for GitHub code scanning: `buildopt analyze --format sarif`, compare's
report.sarif and the PR gate's buildopt.sarif (one run per Dockerfile) are all built here.

GitHub reads: every rule in `tool.driver.rules` (with `help`, `helpUri` and a `security-severity`), one
result per problem with a level and a location relative to the repository root, and
`automationDetails.id` to keep the runs of several Dockerfiles apart. The tests validate all three files
against the OASIS schema (tests/unit/test_sarif.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import __version__

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RUNS = 20  # code scanning takes at most 20 runs per file
RULES_DOC = "docs/rules.md"
_DEFAULT_HOME = "https://github.com/buildopt/buildopt"
_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note", "unknown": "note"}
# GitHub code scanning ranks security alerts by this (CVSS-like) score.
_SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "3.0", "info": "1.0", "unknown": "1.0"}
_SECURITY_RULES = frozenset({"BO101", "BO110", "BO117", "BO118", "BO119", "BO120", "BO102"})


# --- building blocks ------------------------------------------------------------------------------------
def level(severity: str) -> str:
    return _LEVELS.get(str(severity).lower(), "warning")


def location(uri: str, start_line: int, end_line: int | None = None) -> dict:
    region = {"startLine": max(1, int(start_line))}
    if end_line is not None:
        region["endLine"] = max(region["startLine"], int(end_line))
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}


def catalog_rule(rule) -> dict:
    """One analyze rule (rules.catalog) as a tool.driver.rules entry."""
    severity = str(rule.severity)
    tags = ["dockerfile", "security" if rule.id in _SECURITY_RULES else "maintainability"]
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. Checks: {rule.scope}."},
        "help": {"text": rule.fix, "markdown": rule.fix},
        "helpUri": rule_help_uri(rule.id, rule.slug),
        "defaultConfiguration": {"level": level(severity)},
        "properties": {"tags": tags, "precision": "high", "security-severity": _SECURITY_SEVERITY[severity],
                       "problem.severity": level(severity)},
    }


def run(rules: list[dict], results: list[dict], *, category: str | None = None, version: str = __version__) -> dict:
    """One run of buildopt (`version`: the buildopt that found the results); each result gets its rule's index."""
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    for result in results:
        if result["ruleId"] in index:
            result["ruleIndex"] = index[result["ruleId"]]
    out = {
        "tool": {"driver": {"name": "buildopt", "version": version, "semanticVersion": version,
                            "informationUri": project_home(), "rules": rules}},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if category:
        out["automationDetails"] = {"id": category}
    return out


def log(runs: list[dict]) -> dict:
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs[:MAX_RUNS]}


def dumps(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


# --- analyze --------------------------------------------------------------------------------------------
def analyze_log(result, *, root: Path | None = None) -> dict:
    """An AnalysisResult: every catalog rule, one result per finding, the Dockerfile's path relative to
    `root` (default: the working directory, i.e. the repository root in CI)."""
    from ..rules import all_rules

    uri = artifact_uri(result.file, root) if result.file != "<string>" else "Dockerfile"
    results = []
    for finding in result.findings:
        severity = str(finding.severity)
        text = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
        entry = {
            "ruleId": finding.rule,
            "level": level(severity),
            "message": {"text": text},
            "locations": [location(uri, finding.line, max(finding.line, finding.end_line, 1))],
            "properties": {"severity": severity, "slug": finding.slug},
        }
        if finding.estimated_bytes is not None:
            entry["properties"]["estimated_bytes"] = finding.estimated_bytes
            entry["properties"]["estimate_basis"] = finding.estimate_basis
        results.append(entry)
    return log([run([catalog_rule(rule) for rule in all_rules()], results)])


# --- compare and the gate -------------------------------------------------------------------------------
def compare_run(doc: dict, category: str | None = None) -> dict:
    """A compare report.json document: the Dockerfile's findings and the shipped (original) image's
    vulnerabilities, located on the Dockerfile."""
    from ..rules import all_rules

    catalog = {rule.id: rule for rule in all_rules()}
    dockerfile = doc["dockerfile"]
    rules: dict[str, dict] = {}
    results = []
    for finding in doc["findings"]:
        known = catalog.get(finding["rule"])
        rules.setdefault(finding["rule"], catalog_rule(known) if known else {
            "id": finding["rule"], "name": finding["slug"],
            "shortDescription": {"text": finding["slug"]},
            "help": {"text": finding["fix"] or finding["message"]},
            "defaultConfiguration": {"level": level(finding["severity"])},
        })
        results.append({"ruleId": finding["rule"], "level": level(finding["severity"]),
                        "message": {"text": finding["message"]},
                        "locations": [location(dockerfile, finding["line"] or 1)]})
    for item in (doc["variants"]["original"].get("vulnerabilities") or {}).get("items", []):
        severity = item["severity"].lower()
        rules.setdefault(item["id"], {
            "id": item["id"], "name": item["id"], "shortDescription": {"text": f"{item['id']} in {item['package']}"},
            "defaultConfiguration": {"level": level(severity)},
            "properties": {"tags": ["security", "vulnerability"], "security-severity": _SECURITY_SEVERITY[severity]},
        })
        fixed = f", fixed in {item['fixed']}" if item["fixed"] else ""
        results.append({"ruleId": item["id"], "level": level(severity),
                        "message": {"text": f"{item['package']} {item['installed']} is vulnerable ({severity}){fixed}"},
                        "locations": [location(dockerfile, 1)]})
    return run(list(rules.values()), results, category=category, version=doc["buildopt_version"])


def compare_log(documents: list[tuple[str, dict]]) -> dict:
    """The gate's file: one run per Dockerfile, each in its own category (`buildopt/<name>/`), so code
    scanning keeps their alerts apart and matches them with the default branch's upload."""
    return log([compare_run(doc, category=f"buildopt/{name}/") for name, doc in documents])


# --- where things are -----------------------------------------------------------------------------------
def project_home() -> str:
    """The project's URL from the installed package metadata, for informationUri and helpUri links."""
    try:
        from importlib.metadata import metadata

        meta = metadata("buildopt")
        for entry in meta.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in ("homepage", "repository", "source"):
                return url.strip().rstrip("/")
        home = (meta.get_all("Home-page") or [None])[0]
        if home:
            return str(home).rstrip("/")
    except Exception:  # metadata is optional; the link falls back to the default home
        pass
    return _DEFAULT_HOME


def rule_help_uri(rule_id: str, slug: str) -> str:
    return f"{project_home()}/blob/main/{RULES_DOC}#{rule_id.lower()}-{slug}"


def artifact_uri(file: str, root: Path | None) -> str:
    path = Path(file)
    base = Path(root) if root is not None else Path.cwd()
    try:
        relative = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    if relative.startswith(".."):
        return path.resolve().as_uri()
    return Path(relative).as_posix()
