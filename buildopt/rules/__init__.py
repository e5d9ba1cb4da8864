"""Rules stage: a parsed Dockerfile (+ context dir, config) in, an AnalysisResult of Findings out.

    from buildopt.rules import analyze
    result = analyze("Dockerfile", context_dir=".")
    for finding in result.findings: print(finding.rule, finding.slug, finding.line, finding.message)

One rule is one small class in this package (see base.py) carrying its own id, slug and default severity;
registry.py lists them in one ordered table. Ids and slugs are contracts.
"""

from __future__ import annotations

from ..severity import Severity
from .base import Finding, Rule
from .engine import (
    DEFAULT_FAIL_ON,
    SCHEMA,
    AnalysisResult,
    Suppressed,
    analyze,
    parse_fail_on,
)
from .registry import RULE_IDS, RULES, SLUG_TO_ID, all_rules, rule_by_id, rule_id_of

__all__ = [
    "DEFAULT_FAIL_ON", "RULES", "RULE_IDS", "SCHEMA", "SLUG_TO_ID", "AnalysisResult", "Finding", "Rule", "Severity", "Suppressed",
    "all_rules", "analyze", "parse_fail_on", "rule_by_id", "rule_id_of",
]
