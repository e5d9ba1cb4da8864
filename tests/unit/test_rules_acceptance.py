"""Acceptance: for each application the audits describe, the problems the audit lists are reported at the
right lines; the audits' own recommended Dockerfiles get nothing above low.

Inputs: tests/data/dockerfiles/<app>/ (Dockerfile + context written from the audit text + expected.toml), the
verbatim recommended Dockerfiles in tests/data/dockerfiles/recommended/, and examples/<app>/ with its
expected-findings list when the example ships one.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from buildopt.dockerfile import parse_file
from buildopt.rules import SLUG_TO_ID, Severity, analyze

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "dockerfiles"
TODAY = date(2026, 11, 22)
AUDITED = sorted(p.parent for p in DATA.glob("*/expected.toml"))
RECOMMENDED = sorted((DATA / "recommended").glob("*.Dockerfile"))
EXPECTED_NAMES = ("expected_findings.toml", "expected-findings.toml", "expected.toml")
EXAMPLES = sorted(p.parent for p in (REPO / "examples").glob("*/Dockerfile"))


def load_expected(path: Path) -> tuple[list[tuple[str, int | None]], list[str]]:
    """[(slug, line)], [absent slugs] from an expected-findings TOML ([[finding]] slug|rule, line; absent)."""
    data = tomllib.loads(path.read_text())
    entries = data.get("finding", data.get("findings", []))
    expected = []
    for entry in entries:
        slug = entry.get("slug") or next(s for s, i in SLUG_TO_ID.items() if i == entry["rule"])
        expected.append((slug, entry.get("line")))
    return expected, list(data.get("absent", []))


def check_expected(directory: Path, expected_file: Path) -> None:
    result = analyze(parse_file(directory / "Dockerfile"), context_dir=directory, today=TODAY)
    found = {(f.slug, f.line) for f in result.findings}
    slugs = {f.slug for f in result.findings}
    expected, absent = load_expected(expected_file)
    assert expected, f"{expected_file} lists no findings"
    missing = [(slug, line) for slug, line in expected if ((slug, line) not in found if line else slug not in slugs)]
    report = "\n".join(f"  {f.line} {f.slug} {f.severity}: {f.message}" for f in result.findings)
    assert not missing, f"{directory.name}: not reported {missing}; reported:\n{report}"
    unexpected = sorted(set(absent) & slugs)
    assert not unexpected, f"{directory.name}: reported {unexpected}, which must not be:\n{report}"


def test_the_audited_apps_are_all_here():
    assert {p.name for p in AUDITED} == {"rag-anything", "whisperx", "paperflow-worker", "telegram-bot", "kokoro"}


@pytest.mark.parametrize("directory", AUDITED, ids=lambda p: p.name)
def test_audit_findings_are_reported_at_the_right_lines(directory):
    check_expected(directory, directory / "expected.toml")


@pytest.mark.parametrize("path", RECOMMENDED, ids=lambda p: p.stem)
def test_the_audits_recommended_dockerfiles_get_nothing_above_low(path):
    result = analyze(parse_file(path), today=TODAY)
    above = [f"{f.line} {f.slug} {f.severity}: {f.message}" for f in result.findings if f.severity > Severity.LOW]
    assert not above, "\n".join(above)


def _example_expectations() -> list[tuple[Path, Path]]:
    pairs = []
    for directory in EXAMPLES:
        for name in EXPECTED_NAMES:
            if (directory / name).is_file():
                pairs.append((directory, directory / name))
                break
    return pairs


@pytest.mark.parametrize("directory, expected_file", _example_expectations() or [pytest.param(None, None, marks=pytest.mark.skip(
    reason="no examples/*/expected_findings.toml yet"))], ids=lambda p: getattr(p, "name", str(p)))
def test_examples_expected_findings(directory, expected_file):
    """examples/<app>/expected_findings.toml (schema 1): every [[finding]] is reported at its line, and
    nothing is reported besides those and the [[acceptable]] ones (at their lines)."""
    data = tomllib.loads(expected_file.read_text())
    result = analyze(parse_file(directory / "Dockerfile"), context_dir=directory, today=TODAY)
    lines = (directory / "Dockerfile").read_text().splitlines()
    required = {(entry["slug"], entry["line"]) for entry in data.get("finding", [])}
    acceptable = {(entry["slug"], entry["line"]) for entry in data.get("acceptable", [])}
    for entry in data.get("finding", []) + data.get("acceptable", []):
        if "match" in entry:  # the list itself must not have drifted from the Dockerfile
            start = entry["line"] - 1
            window = "\n".join(lines[start:start + 12])
            assert entry["match"] in window, f"{expected_file}: line {entry['line']} doesn't hold {entry['match']!r}"
    reported = {(f.slug, f.line) for f in result.findings}
    report = "\n".join(f"  {f.line} {f.slug} {f.severity}: {f.message}" for f in result.findings)
    assert not required - reported, f"{directory.name}: not reported {sorted(required - reported)}; reported:\n{report}"
    extra = reported - required - acceptable
    assert not extra, f"{directory.name}: reported but not expected {sorted(extra)}:\n{report}"


@pytest.mark.parametrize("directory", EXAMPLES, ids=lambda p: p.name)
def test_every_example_analyzes_with_its_context(directory):
    result = analyze(parse_file(directory / "Dockerfile"), context_dir=directory, today=TODAY)
    assert result.findings, f"{directory.name}: an audited app's original Dockerfile should have findings"
