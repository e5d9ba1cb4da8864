"""`buildopt plan` on a real temporary git repository."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from buildopt.errors import BadInput
from buildopt.plan import is_dockerfile, make_plan


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture()
def repo(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@t.invalid")
    git(tmp_path, "config", "user.name", "t")
    files = {
        "svc-a/Dockerfile": "FROM python:3.11-slim\n",
        "svc-a/app.py": "print(1)\n",
        "svc-b/docker/Dockerfile": "FROM python:3.11-slim\n",
        "svc-b/docker/buildopt.toml": 'context = ".."\n',
        "svc-b/src/main.py": "print(2)\n",
        "svc-c/Dockerfile.worker": "FROM python:3.11-slim\n",
        "docs/readme.md": "hi\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    return tmp_path


def commit(repo, changes):
    for path, text in changes.items():
        (repo / path).write_text(text)
    git(repo, "commit", "-qam", "change")


def test_changed_dockerfile_and_context_dirs(repo):
    commit(repo, {"svc-a/Dockerfile": "FROM python:3.12-slim\n", "svc-b/src/main.py": "print(3)\n"})
    plan = make_plan("main", "HEAD", str(repo))
    assert [(e.dockerfile, e.context) for e in plan.entries] == [
        ("svc-a/Dockerfile", "svc-a"),
        ("svc-b/docker/Dockerfile", "svc-b"),
    ]
    assert plan.entries[0].reason == "Dockerfile changed"
    assert "svc-b/src/main.py" in plan.entries[1].reason


def test_unrelated_change_gives_empty_matrix(repo):
    commit(repo, {"docs/readme.md": "changed\n"})
    assert make_plan("main", "HEAD", str(repo)).matrix() == {"include": []}


def test_cli_prints_matrix_json(repo):
    commit(repo, {"svc-c/Dockerfile.worker": "FROM python:3.12-slim\n"})
    result = subprocess.run([sys.executable, "-m", "buildopt.cli", "plan", "--base", "main", "--repo", str(repo)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["include"][0]["dockerfile"] == "svc-c/Dockerfile.worker"


def test_unknown_ref_is_bad_input(repo):
    with pytest.raises(BadInput, match="git merge-base"):
        make_plan("no-such-branch", "HEAD", str(repo))
    result = subprocess.run([sys.executable, "-m", "buildopt.cli", "plan", "--base", "nope", "--repo", str(repo)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_dockerfile_name_patterns():
    assert is_dockerfile("a/Dockerfile") and is_dockerfile("Dockerfile.gpu") and is_dockerfile("x/api.Dockerfile")
    assert not is_dockerfile("Dockerfile.optimized") and not is_dockerfile("docs/dockerfile.md")
