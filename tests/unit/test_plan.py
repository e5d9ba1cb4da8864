"""`buildopt plan` on a real temporary git repository."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from buildopt.errors import BadInput
from buildopt.plan import entry_name, is_dockerfile, make_plan


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


# --- names: unique and stable for every Dockerfile path (matrix entry, artifact, comment section) -----------
def test_two_dockerfiles_in_one_directory_get_two_names():
    assert entry_name("app/Dockerfile") == "app-Dockerfile"
    assert entry_name("app/Dockerfile.dev") == "app-Dockerfile.dev"


def test_two_same_named_directories_get_two_names():
    assert entry_name("projects/a/docker/prod/Dockerfile") == "projects-a-docker-prod-Dockerfile"
    assert entry_name("projects/b/docker/prod/Dockerfile") == "projects-b-docker-prod-Dockerfile"


def test_names_never_collide_and_fit_artifact_names():
    paths = ["Dockerfile", "app/Dockerfile", "app/Dockerfile.dev", "app-Dockerfile", "app/Dockerfile/Dockerfile",
             "docker-prod/Dockerfile", "docker/prod/Dockerfile", "docker/prod-Dockerfile", "a--b/Dockerfile",
             "a/-b/Dockerfile", "svc/api gateway/Dockerfile", "svc/api_gateway/Dockerfile", "svc/api-gateway/Dockerfile",
             "x/" * 60 + "Dockerfile", "x/" * 61 + "Dockerfile", "ünï/Dockerfile", "uni/Dockerfile"]
    names = [entry_name(path) for path in paths]
    assert len(set(names)) == len(paths), names
    for name in names:
        # upload-artifact refuses " : < > | * ? \r \n \ /; gate.json entry names are [A-Za-z0-9._-]{1,100}
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name) and not name.startswith(("-", ".")), name
    assert entry_name("./app/Dockerfile") == entry_name("app/Dockerfile")
    assert entry_name("docker-prod/Dockerfile").startswith("docker-prod-Dockerfile--")


def test_a_name_depends_only_on_its_path(repo):
    """The same Dockerfile has the same name whether it changed alone or with others (code scanning keeps its
    alerts by that name)."""
    commit(repo, {"svc-a/Dockerfile": "FROM python:3.12-slim\n"})
    alone = {e.dockerfile: e.name for e in make_plan("main", "HEAD", str(repo)).entries}
    commit(repo, {"svc-c/Dockerfile.worker": "FROM python:3.12-slim\n", "svc-b/src/main.py": "print(4)\n"})
    together = {e.dockerfile: e.name for e in make_plan("main", "HEAD", str(repo)).entries}
    assert alone["svc-a/Dockerfile"] == together["svc-a/Dockerfile"]
    assert len(set(together.values())) == len(together) == 3


def test_all_lists_every_dockerfile_without_a_base(repo):
    plan = make_plan(None, "HEAD", str(repo), every=True)
    assert [e.dockerfile for e in plan.entries] == ["svc-a/Dockerfile", "svc-b/docker/Dockerfile",
                                                    "svc-c/Dockerfile.worker"]
    with pytest.raises(BadInput, match="--base"):
        make_plan(None, "HEAD", str(repo))
    out = subprocess.run([sys.executable, "-m", "buildopt.cli", "plan", "--all", "--repo", str(repo)],
                         capture_output=True, text=True, check=True).stdout
    assert len(json.loads(out)["include"]) == 3
