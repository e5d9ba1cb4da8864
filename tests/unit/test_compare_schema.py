"""report.json's one schema (buildopt/report/compare_schema.py): the writer, the strict reader, and
docs/compare.md kept in step with it.

tests/data/compare-report-over-budget.json was recorded from a real `buildopt compare` run (see
tests/unit/test_gate.py); it predates `timings.stages_s`, an optional field added during v1.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
import typing

import pytest

from buildopt.errors import BadInput
from buildopt.report import compare_report
from buildopt.report.compare_schema import CompareReport, Timings, VariantReport
from tests.conftest import REPO

RECORDED = REPO / "tests" / "data" / "compare-report-over-budget.json"


def recorded() -> dict:
    return json.loads(RECORDED.read_text())


def test_a_recorded_report_round_trips_byte_for_byte():
    text = RECORDED.read_text()
    report = CompareReport.from_json(text)
    assert report.variants.original.size == 212_441_583 and report.verdict.exit_code == 1
    assert report.timings.stages_s is typed_absent()
    assert report.to_json() == json.dumps(json.loads(text), indent=2) + "\n"
    assert compare_report.render_json(recorded()) == report.to_json(), "the writer goes through the schema"


def typed_absent():
    from buildopt.report.typed_json import ABSENT

    return ABSENT


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(surprise=1), "report.json.surprise: unknown field"),
    (lambda d: d["variants"]["original"].update(colour="red"), "variants.original.colour: unknown field"),
    (lambda d: d.pop("findings"), "report.json.findings: missing"),
    (lambda d: d["variants"]["optimized"].pop("layers"), "variants.optimized.layers: missing"),
    (lambda d: d["variants"]["original"].update(size="212 MB"), "variants.original.size: expected a whole number"),
    (lambda d: d["variants"]["original"].update(size=True), "expected a whole number"),
    (lambda d: d["timings"].update(total_s=float("nan")), "timings.total_s: expected a number"),
    (lambda d: d["verdict"].update(exit_code=99), "is not a documented exit code"),
    (lambda d: d["verdict"]["failures"][0].update(variant="baseline"), "is not one of original, optimized"),
    (lambda d: d["findings"][0].update(severity="urgent"), "is not one of info, low"),
    (lambda d: d.update(schema="buildopt.compare/v2"), "is not buildopt.compare/v1"),
])
def test_the_reader_refuses_unknown_missing_and_mistyped_fields(mutate, message):
    doc = recorded()
    mutate(doc)
    with pytest.raises(BadInput, match=re.escape(message)) as err:
        CompareReport.from_dict(doc)
    assert "\n" not in str(err.value)


def test_optional_fields_may_be_absent_and_stay_absent():
    doc = recorded()
    for key in ("visible_size", "user", "groups", "torch"):
        del doc["variants"]["optimized"][key]
    report = CompareReport.from_dict(doc)
    assert "user" not in report.to_dict()["variants"]["optimized"]


def test_compare_baseline_reads_a_report_strictly(tmp_path):
    """`buildopt compare --baseline report.json` with a broken report: one line, exit 2, before any build."""
    doc = recorded()
    doc["variants"]["original"]["size"] = "big"
    (tmp_path / "base.json").write_text(json.dumps(doc))
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    from buildopt.compare import _baseline_facts

    with pytest.raises(BadInput, match=r"base.json \(--baseline\).variants.original.size: expected a whole number"):
        _baseline_facts(str(tmp_path / "base.json"))
    facts, _ = _baseline_facts(str(RECORDED))
    assert facts.size == 212_441_583 and facts.layers == recorded()["variants"]["original"]["layers"]


# --- docs/compare.md lists exactly the schema's fields ----------------------------------------------------
def _doc_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(top-level rows, variant rows): every backticked name of the first column -> its whole row."""
    text = (REPO / "docs" / "compare.md").read_text()
    section = text.split("### report.json, schema `buildopt.compare/v1`", 1)[1].split("\n## ", 1)[0]
    top, variant = section.split("Each variant:", 1)

    def rows(part: str) -> dict[str, str]:
        found = {}
        for line in part.splitlines():
            if line.startswith("| `"):
                first = line.split("|")[1]
                for name in re.findall(r"`([a-z_.]+)`", first):
                    found[name] = line
        return found

    return rows(top), rows(variant)


def _names(cls) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)}


def _nested(tp) -> list[type]:
    """The dataclasses a field's annotation holds (through lists, dicts and unions)."""
    if dataclasses.is_dataclass(tp):
        return [tp]
    return [found for arg in typing.get_args(tp) for found in _nested(arg)]


def test_docs_compare_md_lists_the_schema_fields():
    top, variant = _doc_tables()
    top_names = {name.split(".")[0] for name in top}
    assert top_names == _names(CompareReport)
    assert set(variant) == _names(VariantReport)
    # Each object's fields are named in its row (the diff is documented in docs/inspect.md).
    for cls, rows in ((CompareReport, top), (VariantReport, variant)):
        hints = typing.get_type_hints(cls)
        for name, row in rows.items():
            field = name.split(".")[0]
            if field in ("diff", "variants"):
                continue
            for nested in _nested(hints[field]):
                for sub in _names(nested):
                    assert f"`{sub}`" in row, f"docs/compare.md: {name} doesn't mention {sub}"
    assert f"`{'stages_s'}`" in top["timings"] and "*optional*" in top["timings"]
    assert _names(Timings) >= {"stages_s"}


def test_a_compare_run_without_a_scan_writes_a_valid_document():
    """The shapes compare_document writes (no profile after a failed build, no scan) all pass the schema."""
    doc = recorded()
    failed = doc["variants"]["optimized"]
    for key in ("visible_size", "wasted_bytes", "compressed_size", "user", "runs_as_root", "healthcheck", "groups",
                "models_bytes", "cuda_bytes", "torch"):
        failed.pop(key)
    failed.update(built=False, size=0, layers=0, build_error="RUN failed", build_log_tail=["x"], smoke=None, score=None)
    CompareReport.from_dict(copy.deepcopy(doc))


def test_the_cli_baseline_error_is_one_line(tmp_path):
    doc = recorded()
    doc["extra"] = True
    (tmp_path / "base.json").write_text(json.dumps(doc))
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    process = subprocess.run([sys.executable, "-m", "buildopt.cli", "compare", str(tmp_path / "Dockerfile"),
                              "--baseline", str(tmp_path / "base.json"), "--no-scan", "--no-smoke",
                              "--optimized", str(tmp_path / "Dockerfile"), "--output-dir", str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=600)
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and lines[-1].startswith("buildopt: error:") and "Traceback" not in process.stderr
    assert "extra: unknown field" in lines[-1]
