"""`make lint`'s two Python checkers, run from the venv as the Makefile runs them: ruff with the rule set in
pyproject.toml ([tool.ruff.lint]) on buildopt, tests, benchmarks and scripts, and mypy on buildopt/ ([tool.mypy]).
Both must report nothing. Two small files of our own show that the configuration really is the one in force
(a rule set that silently fell back to ruff's defaults, or a mypy that skips unannotated functions, would pass
a clean tree just the same).

Caches go to a temporary directory (mypy's run is cold: seconds with the compiled wheel), so nothing is left in
the checkout. Under CI=true a missing tool fails instead of skipping (tests/conftest.py's require).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, require

RUFF_PATHS = ("buildopt", "tests", "benchmarks", "scripts")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

pytestmark = pytest.mark.timeout(600)


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    require(found is not None, f"{name} missing (pip install -e '.[test]' installs it)")
    assert found is not None
    return found


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=540)


def test_ruff_reports_nothing():
    result = _run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", *RUFF_PATHS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_nothing(tmp_path):
    result = _run([_tool("mypy"), "--cache-dir", str(tmp_path / "mypy-cache")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.match(r"Success: no issues found in \d+ source files", result.stdout), result.stdout


def test_the_configured_rule_sets_are_in_force(tmp_path):
    """A file with an unsorted import, Optional, a zip() without strict= and a mutable default argument:
    each is a finding of a selected family. An unannotated function that adds an int to a str: a mypy
    error only with check_untyped_defs."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\nfrom typing import Optional\n\n\n"
                   "def f(a: Optional[int], items=[]) -> list:\n"
                   "    return list(zip(items, [a, os.sep, sys.platform]))\n")
    config = str(REPO / "pyproject.toml")
    ruff = _run([_tool("ruff"), "check", "--no-cache", "--config", config, "--output-format", "concise", str(bad)])
    codes = set(re.findall(r": ([A-Z]+[0-9]+) ", ruff.stdout))
    assert ruff.returncode == 1 and {"I001", "UP045", "B905", "B006"} <= codes, ruff.stdout + ruff.stderr

    untyped = tmp_path / "untyped.py"
    untyped.write_text("def g():\n    return 1 + 'a'\n")
    mypy = _run([_tool("mypy"), "--config-file", config, "--cache-dir", str(tmp_path / "mypy-cache"), str(untyped)])
    assert mypy.returncode == 1 and "Unsupported operand types" in mypy.stdout, mypy.stdout + mypy.stderr


def test_make_lint_runs_the_configured_checkers():
    """The Makefile's lint target leaves the rule set to pyproject.toml (no --select), type-checks and lints
    the workflows; CI runs that target."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no lint target in the Makefile"
    commands = recipe.group(1)
    assert re.search(r"/ruff check buildopt tests benchmarks scripts$", commands, re.MULTILINE), commands
    assert "--select" not in commands
    assert re.search(r"/mypy$", commands, re.MULTILINE), commands
    assert "/actionlint -shellcheck" in commands
    assert PYPROJECT["tool"]["mypy"]["files"] == ["buildopt"]
    assert set(PYPROJECT["tool"]["ruff"]["lint"]["select"]) >= {"E", "F", "W", "I", "B", "UP", "SIM", "RUF"}
    assert "make lint" in (REPO / ".github" / "workflows" / "ci.yml").read_text()
