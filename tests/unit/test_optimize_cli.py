"""`buildopt optimize`: outputs, --force, --diff, --format json, exit codes, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildopt.errors import BuildoptError
from buildopt.optimize.options import OptimizationResult
from buildopt.optimize.output import OutputPaths, write_outputs

ORIGINAL = """FROM python:3.11-slim
RUN apt-get update && apt-get install -y gcc libmagic-dev
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
RUN python -c "from huggingface_hub import snapshot_download; snapshot_download('org/m')"
COPY . .
EXPOSE 8000
CMD ["python", "main.py"]
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(ORIGINAL)
    (tmp_path / "requirements.txt").write_text("python-magic==0.4.27\nhuggingface_hub\n")
    (tmp_path / "main.py").write_text("print('hi')\n")
    return tmp_path


def _leftovers(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir() if path.name.endswith(".tmp")]


def test_default_output_next_to_the_input(app):
    done = run("optimize", "Dockerfile", cwd=app)
    assert done.returncode == 0, done.stderr
    assert "Dockerfile -> Dockerfile.optimized (rewritten from the templates" in done.stdout
    assert (app / "Dockerfile.optimized").read_text().startswith("FROM python:3.11-slim AS builder")
    assert (app / "docker-compose.buildopt.yml").is_file()
    assert (app / "Dockerfile").read_text() == ORIGINAL
    assert "BO102:" in done.stdout and "model-init" in done.stdout
    assert _leftovers(app) == []


def test_existing_output_needs_force_and_is_left_untouched(app):
    (app / "Dockerfile.optimized").write_text("mine\n")
    done = run("optimize", "Dockerfile", cwd=app)
    assert done.returncode == 2
    assert done.stderr.startswith("buildopt: error: Dockerfile.optimized: already exists (use --force")
    assert "Traceback" not in done.stderr
    assert (app / "Dockerfile.optimized").read_text() == "mine\n"
    assert not (app / "docker-compose.buildopt.yml").exists()  # all or nothing
    forced = run("optimize", "Dockerfile", "--force", cwd=app)
    assert forced.returncode == 0 and (app / "Dockerfile.optimized").read_text() != "mine\n"


def test_existing_compose_file_also_needs_force(app):
    (app / "docker-compose.buildopt.yml").write_text("services: {}\n")
    done = run("optimize", "Dockerfile", cwd=app)
    assert done.returncode == 2 and "docker-compose.buildopt.yml" in done.stderr
    assert (app / "docker-compose.buildopt.yml").read_text() == "services: {}\n"
    assert not (app / "Dockerfile.optimized").exists()


def test_output_option_and_diff(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "Dockerfile.opt"
    done = run("optimize", "Dockerfile", "-o", str(out), "--diff", cwd=app)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and (out.parent / "docker-compose.buildopt.yml").is_file()
    assert "--- Dockerfile\n+++ " + str(out) in done.stdout
    assert "-RUN pip install -r requirements.txt\n" in done.stdout
    assert "+FROM python:3.11-slim AS runtime\n" in done.stdout


def test_json_lists_changes_with_rules_and_savings(app):
    done = run("optimize", "Dockerfile", "--format", "json", "--diff", cwd=app)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == "buildopt.optimize/v1" and data["mode"] == "rewritten"
    assert data["outputs"]["dockerfile"] == "Dockerfile.optimized"
    assert data["outputs"]["compose"] == "docker-compose.buildopt.yml"
    by_rule = {rule: change for change in data["changes"] for rule in change["rules"]}
    assert {"BO101", "BO102", "BO104", "BO105", "BO106", "BO107"} <= set(by_rule)
    assert by_rule["BO102"]["slugs"] == ["single-stage-build-tools"] and by_rule["BO102"]["lines"] == [2]
    assert by_rule["BO102"]["expected_savings_bytes"] > 0
    assert data["fixed_rules"] == sorted(data["fixed_rules"]) and data["diff"].startswith("--- Dockerfile")
    assert data["expected_savings_bytes"] == sum(c["expected_savings_bytes"] or 0 for c in data["changes"])


def test_python_flag_moves_the_base(app):
    done = run("optimize", "Dockerfile", "--python", "3.12", cwd=app)
    assert done.returncode == 0
    assert "FROM python:3.12-slim AS runtime" in (app / "Dockerfile.optimized").read_text()


@pytest.mark.parametrize("args, message", [
    (["optimize", "missing/Dockerfile"], "missing/Dockerfile: no such file"),
    (["optimize", "Dockerfile", "--format", "xml"], "--format 'xml': use text or json"),
    (["optimize", "Dockerfile", "--python", "twelve"], "--python 'twelve'"),
    (["optimize", "Dockerfile", "-o", "nowhere/Dockerfile.opt"], "nowhere: output directory does not exist"),
    (["optimize", "Dockerfile", "--context", "nowhere"], "nowhere: context is not a directory"),
    (["optimize", "empty"], "empty: empty file"),
])
def test_bad_input_is_one_line_and_exit_2(app, args, message):
    (app / "empty").write_text("")
    done = run(*args, cwd=app)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert not (app / "Dockerfile.optimized").exists()


def test_output_over_the_input_needs_force(app):
    done = run("optimize", "Dockerfile", "-o", "Dockerfile", cwd=app)
    assert done.returncode == 2 and (app / "Dockerfile").read_text() == ORIGINAL


def test_unchanged_file_is_still_written_and_said(tmp_path):
    text = "FROM node:20\nRUN useradd -m web\nUSER web\nCMD [\"node\", \"x.js\"]\n"
    (tmp_path / "Dockerfile").write_text(text)
    done = run("optimize", "Dockerfile", "--diff", cwd=tmp_path)
    assert done.returncode == 0
    assert "(unchanged)" in done.stdout and "(no differences)" in done.stdout
    assert (tmp_path / "Dockerfile.optimized").read_text() == text
    assert not (tmp_path / "docker-compose.buildopt.yml").exists()


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    paths = OutputPaths.for_input(tmp_path / "Dockerfile")
    result = OptimizationResult("FROM x\n", [], "rewritten", [], compose_text="services: {}\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(BuildoptError, match="cannot write: disk full"):  # one line, not a traceback
        write_outputs(result, paths)
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_normal_permissions(tmp_path):
    paths = OutputPaths.for_input(tmp_path / "Dockerfile")
    written = write_outputs(OptimizationResult("FROM x\n", [], "unchanged", []), paths)
    umask = os.umask(0)
    os.umask(umask)
    assert written == [tmp_path / "Dockerfile.optimized"]
    assert (tmp_path / "Dockerfile.optimized").stat().st_mode & 0o777 == 0o666 & ~umask


def test_the_template_rewrite_keeps_healthcheck_none(tmp_path):
    """HEALTHCHECK NONE turns off a check the base image may define: a rewrite must not drop it in silence."""
    (tmp_path / "Dockerfile").write_text('FROM python:3.11\nWORKDIR /app\nCOPY requirements.txt .\n'
                                         'RUN pip install -r requirements.txt\nCOPY . .\nHEALTHCHECK NONE\n'
                                         'CMD ["python", "app.py"]\n')
    (tmp_path / "requirements.txt").write_text("flask==3.0.3\n")
    (tmp_path / "app.py").write_text("print('ok')\n")
    done = subprocess.run([sys.executable, "-m", "buildopt.cli", "optimize", "Dockerfile", "--format", "json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mode"] == "rewritten"
    lines = (tmp_path / "Dockerfile.optimized").read_text().splitlines()
    assert "HEALTHCHECK NONE" in lines and lines.index("HEALTHCHECK NONE") < lines.index('CMD ["python", "app.py"]')
