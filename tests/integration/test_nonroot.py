"""The paths the gate uses, run by a non-root user in the docker group, like GitHub's runners: this session
(root) creates such a user (tests/nonroot.py) and runs the inspect, scan and diff integration tests again as
that user, with a venv of its own made from /usr/bin/python3. The user can't read /var/lib/docker or mount,
so inspect reads the layers through the helper container and scan runs trivy inside a container of the image;
each of those files asserts which path it took as root and as non-root.

tests/integration/test_gate_on_a_runner.py runs the whole gate (action.yml) as the same user. A session that
is itself non-root (GitHub's own CI) already runs everything as non-root, and skips this file.
"""

from __future__ import annotations

import os
import re

import pytest

from tests import nonroot
from tests.conftest import REPO, require

pytestmark = [pytest.mark.docker, pytest.mark.trivy]

FILES = ["tests/integration/test_inspect.py", "tests/integration/test_scan.py", "tests/integration/test_diff_cli.py"]


def test_inspect_scan_and_diff_pass_as_a_non_root_user_in_the_docker_group(docker_engine, trivy_bin):
    if os.geteuid() != 0:
        pytest.skip("this session is itself non-root: every test already runs as non-root")
    require(nonroot.unavailable() is None, f"a non-root runner user: {nonroot.unavailable()}")
    venv = nonroot.ensure_venv()
    env = nonroot.runner_env(venv, {"CI": "true"})  # under CI=true a missing prerequisite fails, not skips
    assert nonroot.run_as_runner(["id", "-u"], env=env).stdout.strip() != "0"
    process = nonroot.run_as_runner([str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                     "-rs", "--timeout=1200", *FILES], env=env, cwd=REPO, timeout=3600)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-6000:]
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary and "error" not in summary, summary
    # Only the tests that need root itself (mounting, reading overlay xattrs in-process) are skipped.
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert all("needs root" in line for line in skipped), skipped
