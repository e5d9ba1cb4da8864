"""`buildopt doctor` against the real toolchain: 0 when everything is there, 4 with the fix otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.docker


def doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", "doctor", *args], capture_output=True, text=True, env=env)


def test_doctor_passes_on_the_set_up_machine(docker_engine, trivy_bin, fixture_trivy_cache):
    result = doctor("--trivy-cache-dir", str(fixture_trivy_cache))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert " ok " in rows["docker engine"] and "overlay2" in rows["docker engine"]
    assert " ok " in rows["buildx"] and "default" in rows["buildx"]
    assert " ok " in rows["trivy vuln DB"]


def test_doctor_exits_4_with_fix_when_engine_unreachable(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    result = doctor(env=env)
    assert result.returncode == 4
    engine_row = next(line for line in result.stdout.splitlines() if line.startswith("docker engine"))
    assert "FAIL" in engine_row and "setup-toolchain" in engine_row
    assert "Traceback" not in result.stderr


def test_doctor_exits_4_for_a_missing_base_image(docker_engine):
    result = doctor("--image", "buildopt-test/never-built:0")
    assert result.returncode == 4
    assert "docker pull buildopt-test/never-built:0" in result.stdout
