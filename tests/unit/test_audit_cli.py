"""`buildopt audit` input checks and engine selection that need no engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from buildopt import engine
from buildopt.errors import BadInput


def run_audit_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", "audit", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "--format 'xml': use table, markdown, json or html"),
    (["--min-size", "12QB"], "invalid size '12QB'"),
    (["--fail-over", "big"], "invalid size 'big'"),
    (["--prune-dangling"], "pass --yes to confirm"),  # stdin is not a terminal here
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run_audit_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_existing_output_needs_force(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("keep me")
    result = run_audit_cli("--output", str(target))
    assert result.returncode == 2 and "--force" in result.stderr
    assert target.read_text() == "keep me"


def test_help_lists_the_contract_flags():
    result = subprocess.run([sys.executable, "-m", "buildopt.cli", "audit", "--help"], capture_output=True, text=True,
                            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    for flag in ("--context", "--format", "--min-size", "--fail-over", "--prune-dangling", "--yes", "--output", "--deep"):
        assert flag in result.stdout


def test_unknown_context_is_bad_input(tmp_path, monkeypatch):
    if shutil.which("docker") is None:
        pytest.skip("needs the docker CLI (reads contexts, no engine)")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(BadInput, match="--context no-such-ctx"):
        engine.connect("no-such-ctx")


def test_current_context_from_the_cli_config(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert engine._current_context() is None
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "prod"}))
    assert engine._current_context() == "prod"
    monkeypatch.setenv("DOCKER_CONTEXT", "staging")
    assert engine._current_context() == "staging"


def test_gpu_facts_for_remote_engines():
    assert engine.detect_gpu(False, ("nvidia", "runc")).present is True
    unknown = engine.detect_gpu(False, ("runc",))
    assert unknown.present is None and "not verified" in unknown.source
