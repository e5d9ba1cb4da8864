"""`buildopt compare` end to end on examples/telegram-bot: real buildx builds, the real trivy binary with
the fixture DB, real smoke containers. Tight budget -> exit 1, loose -> exit 0, Ctrl-C -> 130, and
nothing left behind in any case."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import own_leftovers

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "telegram-bot"


def leftovers() -> tuple[list[str], list[str]]:
    return own_leftovers()


def compare(tmp_path: Path, cache: Path, budget: str, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    budget_file = tmp_path / f"budget-{abs(hash(budget))}.toml"
    budget_file.write_text(budget)
    out = tmp_path / f"out-{abs(hash(budget))}"
    result = subprocess.run(
        [sys.executable, "-m", "buildopt.cli", "compare", str(APP / "Dockerfile"), "--output-dir", str(out),
         "--budget", str(budget_file), "--trivy-cache-dir", str(cache), "--offline", "--format", "json", *extra],
        capture_output=True, text=True, cwd=tmp_path,
    )
    return result, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def tight(docker_engine, trivy_bin, fixture_trivy_cache, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    return compare(tmp, fixture_trivy_cache, '[budget]\nmax_size = "100MB"\nmax_critical = 0\nrequire_non_root = true\n')


def test_tight_budget_fails_with_reasons(tight):
    result, report = tight
    assert result.returncode == 1, result.stderr[-2000:]
    failed = {f["key"] for f in report["verdict"]["failures"]}
    assert failed == {"max_size", "max_critical", "require_non_root"}
    assert json.loads(result.stdout)["schema"] == "buildopt.compare/v1"


def test_both_variants_built_and_smoke_tested(tight):
    _, report = tight
    original, optimized = report["variants"]["original"], report["variants"]["optimized"]
    assert original["built"] and optimized["built"]
    assert original["smoke"]["passed"] and optimized["smoke"]["passed"], (original["smoke"], optimized["smoke"])
    imports = {c["name"] for c in optimized["smoke"]["checks"] if c["kind"] == "import"}
    assert {"telegram", "tabulate", "bot"} <= imports
    assert report["smoke_imports"] == [c["name"] for c in original["smoke"]["checks"] if c["kind"] == "import"]
    assert original["runs_as_root"] and not optimized["runs_as_root"]
    assert optimized["smoke"]["uid"] not in (0, None)
    assert not original["java_skipped"] and not optimized["java_skipped"]  # no jars in this app
    assert set(report["timings"]["stages_s"]["original"]) == {"inspect_s", "scan_s", "smoke_s"}


def test_planted_vulnerabilities_reported_where_the_packages_are(tight):
    _, report = tight
    items = report["variants"]["original"]["vulnerabilities"]["items"]
    by_id = {(v["id"], v["package"]): v for v in items}
    assert by_id[("CVE-2099-0002", "tabulate")]["severity"] == "CRITICAL"
    assert by_id[("CVE-2099-0002", "tabulate")]["installed"] == "0.9.0"
    assert by_id[("CVE-2099-0001", "zlib1g")]["severity"] == "HIGH"
    assert report["variants"]["original"]["score"]["score"] < report["variants"]["optimized"]["score"]["score"]


def test_reports_written_and_nothing_left_behind(tight, tmp_path_factory):
    _, report = tight
    out = Path(report["variants"]["original"]["build_log"]).parent
    for name in ("report.json", "report.md", "report.sarif", "report.html", "Dockerfile.optimized", "build-original.log",
                 "build-optimized.log"):
        assert (out / name).is_file(), name
    assert "<!-- buildopt-compare-report -->" in (out / "report.md").read_text()
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((out / "report.sarif").read_text())["version"] == "2.1.0"
    assert leftovers() == ([], [])


def test_loose_budget_passes(tight, fixture_trivy_cache, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare-loose")
    result, report = compare(tmp, fixture_trivy_cache, '[budget]\nmax_size = "1GB"\nmax_critical = 5\nmax_layers = 20\n')
    assert result.returncode == 0, result.stderr[-2000:]
    assert report["verdict"]["passed"] and report["verdict"]["failures"] == []
    assert leftovers() == ([], [])


def test_ctrl_c_during_smoke_tests_cleans_up(docker_engine, trivy_bin, fixture_trivy_cache, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "buildopt.cli", "compare", str(APP / "Dockerfile"), "--output-dir", str(tmp_path / "out"),
         "--trivy-cache-dir", str(fixture_trivy_cache), "--offline"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )
    saw_smoke = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if "smoke-testing the original image" in line:
            saw_smoke = True
            time.sleep(1.0)  # let a smoke container start
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()  # not communicate(): it would skip what this text wrapper already buffered
    process.wait(timeout=300)
    assert saw_smoke, "compare never reached the smoke stage"
    assert process.returncode == 130, rest[-2000:]
    assert "interrupted" in rest and "Traceback" not in rest
    assert leftovers() == ([], [])


def test_temporary_images_carry_the_run_label(tight, fixture_trivy_cache, tmp_path):
    """The leftover checks above can only see what carries this run's label: --keep-images shows they do."""
    before = set(own_leftovers()[1])
    result, _report = compare(tmp_path, fixture_trivy_cache, '[budget]\nmax_size = "1GB"\n', "--keep-images", "--no-scan")
    kept = set(own_leftovers()[1]) - before
    try:
        assert len(kept) == 2, (kept, result.stderr[-1000:])
    finally:
        subprocess.run(["docker", "image", "rm", "-f", *kept], capture_output=True)
    assert set(own_leftovers()[1]) == before


def test_the_same_dockerfile_twice_is_built_inspected_and_scanned_once(tight, fixture_trivy_cache, tmp_path):
    """The PR gate's base-branch run: `--optimized` names the original. One image serves both variants."""
    result, report = compare(tmp_path, fixture_trivy_cache, '[budget]\nmax_size = "1GB"\n',
                             "--optimized", str(APP / "Dockerfile"), "--no-smoke")
    assert result.returncode == 0, result.stderr[-2000:]
    original, optimized = report["variants"]["original"], report["variants"]["optimized"]
    assert original["image_id"] == optimized["image_id"] and original["tag"] == optimized["tag"]
    assert original["build_log"] == optimized["build_log"] and original["size"] == optimized["size"]
    assert original["vulnerabilities"] == optimized["vulnerabilities"] is not None
    assert set(report["timings"]["stages_s"]["optimized"]) == set(), "no second inspect or scan"
    assert leftovers() == ([], [])
