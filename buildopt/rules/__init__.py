"""Rules stage: a parsed Dockerfile (+ context dir, config) in, an AnalysisResult of Findings out.

    from buildopt.rules import analyze
    result = analyze("Dockerfile", context_dir=".")
    for finding in result.findings: print(finding.rule, finding.slug, finding.line, finding.message)

One rule is one small class in this package (see base.py); ids, slugs and default severities live in
catalog.py and are contracts.
"""

from __future__ import annotations

from .base import Finding, Rule, all_rules, rule_by_id
from .catalog import RULE_IDS, SLUG_TO_ID, Severity
from .engine import DEFAULT_FAIL_ON, SCHEMA, AnalysisResult, Suppressed, analyze, parse_fail_on

__all__ = [
    "DEFAULT_FAIL_ON", "RULE_IDS", "SCHEMA", "SLUG_TO_ID", "AnalysisResult", "Finding", "Rule", "Severity", "Suppressed",
    "all_rules", "analyze", "parse_fail_on", "rule_by_id",
]
