"""One markdown escape (buildopt/report/markdown.py) for every markdown renderer: the same hostile string
comes out the same, inert way from analyze, compare (the PR comment), diff and audit."""

from __future__ import annotations

import copy
import dataclasses
import json

from buildopt.diff import diff_profiles
from buildopt.report import audit_report, compare_report, diff_report
from buildopt.report.findings import to_markdown
from buildopt.report.markdown import escape
from tests.conftest import REPO
from tests.unit.analyze_helpers import run as analyze_text
from tests.unit.test_diff import base_layer, profile

HOSTILE = "x` <img src=https://evil.example/p.png> | [a](https://evil.example) @org/team \u202e"
INERT = escape(HOSTILE)


def assert_inert(markdown: str) -> None:
    assert INERT in markdown
    assert "<img" not in markdown and "](https://evil" not in markdown and "@org" not in markdown
    assert "\u202e" not in markdown


def test_the_escape_itself():
    assert INERT == ("x' &lt;img src=https://evil.example/p.png&gt; \\| [a] (https://evil.example) "
                     "@\u2060org/team ")


def test_analyze_markdown():
    result = analyze_text("FROM python:3.10\nCMD x\n")
    assert_inert(to_markdown(dataclasses.replace(result, file=HOSTILE)))


def test_compare_markdown():
    doc = json.loads((REPO / "tests" / "data" / "compare-report-over-budget.json").read_text())
    doc["dockerfile"] = HOSTILE
    assert_inert(compare_report.render_markdown(doc))


def test_diff_markdown():
    a = profile("a", [base_layer("a", True)], {"User": ""})
    b = profile(HOSTILE, [base_layer("b", False)], {"User": "app"})
    assert_inert(diff_report.render_diff(diff_profiles(a, b), "markdown"))


def test_audit_markdown():
    doc = copy.deepcopy(json.loads((REPO / "tests" / "data" / "audit" / "audit-document.json").read_text()))
    doc["images"][0]["display"] = HOSTILE
    assert_inert(audit_report.render_markdown(doc))
