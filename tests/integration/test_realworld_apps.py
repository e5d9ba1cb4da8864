"""`buildopt compare` end to end on three buildable apps of the real-world corpus (issue 13, "Done when"): both
variants build, pass the same smoke tests (each app's own buildopt.toml: start command, migrations, HTTP
probe), and the optimized image is not larger. The three are the corpus apps that build fastest here:
app-sqlite-workdir (SQLite in the working dir), app-logs-at-start (log dir created by root at build) and
app-gosu-puid (a gosu entrypoint that remaps PUID/PGID). Real engine, buildx and containers; no scan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from buildopt.report.compare_report import account_bytes
from tests.conftest import own_leftovers

pytestmark = pytest.mark.docker
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "realworld"
APPS = ["app-sqlite-workdir", "app-logs-at-start", "app-gosu-puid"]


@pytest.fixture(scope="module")
def reports(docker_engine, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, dict]]:
    results = {}
    for app in APPS:
        out = tmp_path_factory.mktemp(app)
        result = subprocess.run(
            [sys.executable, "-m", "buildopt.cli", "compare", str(CORPUS / app / "Dockerfile"), "--context",
             str(CORPUS / app), "--no-scan", "--output-dir", str(out), "--format", "json"],
            capture_output=True, text=True, cwd=out,
        )
        report_path = out / "report.json"
        results[app] = (result, json.loads(report_path.read_text()) if report_path.exists() else {})
    return results


def _checks(variant: dict) -> dict[tuple[str, str], bool]:
    return {(c["kind"], c["name"]): c["ok"] for c in (variant.get("smoke") or {}).get("checks", []) if c["kind"] != "user"}


@pytest.mark.parametrize("app", APPS)
def test_both_variants_build(reports, app):
    result, report = reports[app]
    assert report, f"{app}: no report.json; compare exited {result.returncode}: {result.stderr[-1500:]}"
    for name in ("original", "optimized"):
        variant = report["variants"][name]
        assert variant["built"], f"{app}: the {name} variant did not build: {variant.get('build_error')}"


@pytest.mark.parametrize("app", APPS)
def test_both_variants_pass_the_same_smoke_tests(reports, app):
    _, report = reports[app]
    original, optimized = report["variants"]["original"], report["variants"]["optimized"]
    assert original.get("smoke") and original["smoke"]["passed"], f"{app}: the original fails its own smoke tests"
    before, after = _checks(original), _checks(optimized)
    assert set(before) == set(after), f"{app}: different smoke checks: {set(before) ^ set(after)}"
    assert optimized.get("smoke"), f"{app}: the optimized variant was not smoke-tested (built: {optimized['built']})"
    failed = {f"{c['kind']} {c['name']}": c["detail"] for c in optimized["smoke"]["checks"] if not c["ok"]}
    assert optimized["smoke"]["passed"], f"{app}: the optimized variant fails smoke: {failed}"


@pytest.mark.parametrize("app", APPS)
def test_optimized_is_not_larger(reports, app):
    """Not larger, but for the user account the non-root change adds (its /etc files: a few kB, measured from the
    layer that creates it): running as non-root is worth those bytes, and nothing else may grow."""
    _, report = reports[app]
    original, optimized = report["variants"]["original"], report["variants"]["optimized"]
    account = account_bytes(report)
    assert account < 64_000, f"{app}: the user account layer holds {account:,} B: more than an account"
    assert optimized["size"] - account <= original["size"], (
        f"{app}: optimized {optimized['size']:,} B (account {account:,} B) > original {original['size']:,} B")


def test_nothing_left_behind(reports):
    containers, images = own_leftovers()
    assert containers == [] and images == []
