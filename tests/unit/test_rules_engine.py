"""The engine: registry, ignores (inline, file-wide, config), severity overrides, fail-on, result shape."""

from __future__ import annotations

import re

import pytest

from buildopt.config import BuildoptConfig
from buildopt.errors import BadInput
from buildopt.rules import RULE_IDS, SCHEMA, Severity, all_rules, parse_fail_on
from tests.unit.analyze_helpers import lines, of, run

ROOTY = "FROM python:3.12-slim\nRUN pip install flask\nCMD x\n"


def test_every_catalog_rule_is_registered_once_with_text():
    rules = all_rules()
    assert [r.id for r in rules] == sorted(RULE_IDS)
    for rule in rules:
        assert (rule.slug, rule.severity) == RULE_IDS[rule.id]
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.slug)
        assert rule.title and rule.fix and rule.scope


def test_inline_ignore_by_id_or_slug_on_the_lines_above():
    text = "FROM python:3.12-slim\n# install deps\n# buildopt: ignore=BO105\nRUN pip install flask\n"
    result = run(text)
    assert of(result, "pip-cache") == []
    assert [(s.finding.rule, s.reason) for s in result.suppressed] == [("BO105", "inline")]
    by_slug = text.replace("ignore=BO105", "ignore=pip-cache, root-user")
    assert of(run(by_slug), "pip-cache") == []


def test_inline_ignore_only_applies_to_the_next_instruction():
    text = "FROM python:3.12-slim\n# buildopt: ignore=pip-cache\nRUN pip install a\nRUN pip install b\n"
    assert lines(run(text), "pip-cache") == [4]


def test_inline_ignore_on_the_final_from_silences_stage_level_findings():
    text = "FROM python:3.12-slim AS b\nRUN true\n# buildopt: ignore=root-user,no-healthcheck\nFROM python:3.12-slim\nCMD x\n"
    result = run(text)
    assert of(result, "root-user") == [] and of(result, "no-healthcheck") == []


def test_file_wide_ignore():
    result = run("# buildopt: global ignore=BO101\nFROM python:3.12-slim\nCMD x\n")
    assert of(result, "root-user") == [] and result.suppressed[0].reason == "file"


def test_config_ignore_and_severity_override():
    config = BuildoptConfig(ignore=frozenset({"BO105"}), severity_overrides={"BO113": Severity.MEDIUM})
    result = run(ROOTY, config=config)
    assert of(result, "pip-cache") == []
    assert [f.severity for f in of(result, "no-healthcheck")] == [Severity.MEDIUM]
    assert {s.reason for s in result.suppressed} == {"config"}


def test_fail_on_thresholds():
    result = run(ROOTY)  # root-user (high), pip-cache (medium), no-healthcheck (low)
    assert result.max_severity == Severity.HIGH
    assert result.fails("high") and result.fails("info") and not result.fails("critical")
    assert not result.fails("never")
    assert result.fails(None)  # the default is high
    with pytest.raises(BadInput):
        parse_fail_on("severe")


def test_result_dict_matches_the_documented_schema():
    data = run(ROOTY).to_dict()
    assert data["schema"] == SCHEMA == "buildopt.analyze/v1"
    assert set(data) == {"schema", "file", "context", "config", "findings", "suppressed", "summary"}
    finding = data["findings"][0]
    assert set(finding) == {"rule", "slug", "severity", "line", "end_line", "message", "fix", "estimated_bytes", "estimate_basis"}
    assert finding["severity"] in ("info", "low", "medium", "high", "critical")
    summary = data["summary"]
    assert summary["total"] == len(data["findings"])
    assert sum(summary["by_severity"].values()) == summary["total"]


def test_findings_are_sorted_by_line():
    result = run("FROM python:3.12-slim\nRUN pip install a b c\nENV API_KEY=x\nCMD x\n")
    assert [f.line for f in result.findings] == sorted(f.line for f in result.findings)


WELL_OPTIMIZED = """\
ARG PYTHON=3.12
FROM python:${PYTHON}-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libmagic-dev git \\
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY requirements.txt .
RUN pip install --no-cache-dir --index-url ${TORCH_INDEX_URL} torch \\
 && pip install --no-cache-dir -r requirements.txt

FROM python:${PYTHON}-slim
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 curl \\
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 app && mkdir -p /models /tmp/uploads && chown app:app /models /tmp/uploads
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HF_HOME=/models PYTHONUNBUFFERED=1
VOLUME /models
WORKDIR /app
COPY --chown=app:app app ./app
USER app
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://localhost:8000/health || exit 1
EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def test_well_optimized_multistage_non_root_gets_nothing_above_low(tmp_path):
    context = {"requirements.txt": "torch==2.6.0\nsentence-transformers==5.1.2\nfastapi\n", "app/main.py": "app = None\n",
               ".dockerignore": ".git\n.venv\n**/__pycache__\n.env\nmodels/\n"}
    for result in (run(WELL_OPTIMIZED), run(WELL_OPTIMIZED, context=context, tmp_path=tmp_path)):
        assert [f for f in result.findings if f.severity > Severity.LOW] == []


def test_docs_rules_md_lists_every_rule_with_its_default_severity():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    for rule_id, (slug, severity) in RULE_IDS.items():
        assert f"\n## {rule_id} {slug}\n" in text, rule_id  # the anchor SARIF's helpUri points at
        assert f"| {rule_id} | `{slug}` | {severity} |" in text, rule_id
