"""no-dockerignore (BO120) and the .dockerignore matcher (moby/patternmatcher semantics)."""

from __future__ import annotations

import pytest

from buildopt.rules.buildcontext import DockerIgnore
from buildopt.severity import Severity
from tests.unit.analyze_helpers import of, run

TEXT = "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nUSER app\n"


@pytest.mark.parametrize("patterns, path, excluded", [
    (".git", ".git/config", True),
    ("*.pt", "model.pt", True),
    ("*.pt", "models/model.pt", False),
    ("**/*.pt", "models/deep/model.pt", True),
    ("models", "models/a/b.bin", True),
    ("/venv", "venv/bin/python", True),
    ("*\n!keep.md", "keep.md", False),
    ("docs/*.md\n!docs/README.md", "docs/README.md", False),
    ("docs/*.md\n!docs/README.md", "docs/other.md", True),
    ("# comment\n\n.env*", ".env.local", True),
    ("data/[ab].csv", "data/a.csv", True),
    ("data/?.csv", "data/ab.csv", False),
])
def test_dockerignore_matching(patterns, path, excluded):
    assert DockerIgnore.parse(patterns).excludes(path) is excluded


def test_skipped_without_context():
    assert of(run(TEXT), "no-dockerignore") == []


def test_sensitive_paths_copied_into_the_image(tmp_path):
    context = {"app.py": "print(1)", ".env": "TOKEN=x", ".git/HEAD": "ref: refs/heads/main\n",
               ".venv/pyvenv.cfg": "home = /usr", ".venv/lib/big.so": b"\0" * 4000, "models/m.safetensors": b"\0" * 1000}
    found = of(run(TEXT, context=context, tmp_path=tmp_path), "no-dockerignore")
    assert [f.line for f in found] == [3]
    finding = found[0]
    assert finding.severity == Severity.HIGH  # .env is copied
    for path in (".env", ".git", ".venv", "models/m.safetensors"):
        assert path in finding.message
    assert finding.estimated_bytes >= 5000 and finding.estimate_basis.startswith("context")


def test_dockerignore_that_excludes_them(tmp_path):
    context = {"app.py": "print(1)", ".env": "TOKEN=x", ".git/HEAD": "x", ".dockerignore": ".git\n.env\n"}
    assert of(run(TEXT, context=context, tmp_path=tmp_path), "no-dockerignore") == []


def test_dockerignore_missing_one_path(tmp_path):
    context = {"app.py": "x", ".git/HEAD": "x", "node_modules/a/index.js": "x" * 100, ".dockerignore": ".git\n"}
    found = of(run(TEXT, context=context, tmp_path=tmp_path), "no-dockerignore")
    assert len(found) == 1 and found[0].severity == Severity.MEDIUM
    assert "node_modules" in found[0].message and ".git " not in found[0].message
    assert found[0].message.startswith(".dockerignore doesn't exclude")


def test_no_dockerignore_and_nothing_notable_is_low(tmp_path):
    found = of(run(TEXT, context={"app.py": "x"}, tmp_path=tmp_path), "no-dockerignore")
    assert [f.severity for f in found] == [Severity.LOW]


def test_present_but_not_copied_is_low(tmp_path):
    text = "FROM python:3.11-slim\nCOPY app.py /app/\n"
    found = of(run(text, context={"app.py": "x", ".git/HEAD": "x"}, tmp_path=tmp_path), "no-dockerignore")
    assert [f.severity for f in found] == [Severity.LOW] and "not copied" in found[0].message
