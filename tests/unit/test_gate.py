"""buildopt.gate: event parsing, the gate's bookkeeping, the untrusted-artifact rules, the comment rendered
from validated documents, the sticky-comment upsert against a fake API on 127.0.0.1, and GITHUB_OUTPUT.

tests/data/compare-report-over-budget.json was recorded from a real run on this machine:
`buildopt compare app/Dockerfile --optimized app/Dockerfile.opt --no-scan --budget budget.toml` on a
python:3.11-slim app with `[budget] max_size = "100MB"` (exit 1, max_size failed).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from buildopt.errors import BadInput, ExitCode
from buildopt.gate import api, artifacts, comment as sticky, events, inputs as gate_inputs, outputs, run
from buildopt.gate.model import GATE_FILE, GATE_SCHEMA
from buildopt.report.compare_report import COMMENT_MARKER
from buildopt.report.markdown import MAX_CHARS, escape
from buildopt.units import format_size
from tests.conftest import REPO
from tests.fake_github import FakeGitHub, serve

RECORDED = REPO / "tests" / "data" / "compare-report-over-budget.json"
HEAD_SHA = "a" * 40
OTHER_SHA = "b" * 40


def recorded() -> dict:
    return json.loads(RECORDED.read_text())


def with_vulnerabilities(doc: dict) -> dict:
    """The recording was made with --no-scan; add a scan block shaped like compare_report's."""
    doc = copy.deepcopy(doc)
    item = {"id": "CVE-2024-0001", "package": "openssl", "installed": "3.0.11", "fixed": "3.0.13",
            "severity": "CRITICAL", "target": "debian 12"}
    doc["variants"]["original"]["vulnerabilities"] = {
        "counts": {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0},
        "critical_ids": ["CVE-2024-0001"], "items": [item], "method": "rootfs"}
    return doc


def pull_request_event(number=7, head_sha=HEAD_SHA) -> dict:
    return {"action": "synchronize", "number": number, "pull_request": {
        "number": number, "head": {"sha": head_sha, "ref": "feature", "repo": {"full_name": "fork/app"}},
        "base": {"ref": "main", "sha": OTHER_SHA}}}


def workflow_run_event(head_sha=HEAD_SHA, pull_requests=()) -> dict:
    return {"action": "completed", "workflow_run": {
        "id": 4242, "event": "pull_request", "conclusion": "failure", "head_sha": head_sha, "head_branch": "feature",
        "head_repository": {"full_name": "fork/app"}, "pull_requests": list(pull_requests)}}


def write_artifact(directory: Path, number=7, head_sha=HEAD_SHA, doc: dict | None = None, name="app") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).mkdir(exist_ok=True)
    (directory / name / "report.json").write_text(json.dumps(doc if doc is not None else recorded()))
    gate = {"schema": GATE_SCHEMA, "repository": "owner/app",
            "pull_request": {"number": number, "head_sha": head_sha, "head_repo": "fork/app", "base_ref": "main"},
            "exit_code": 1, "passed": False,
            "entries": [{"name": name, "dockerfile": "app/Dockerfile", "context": "app", "exit_code": 1,
                         "report": f"{name}/report.json", "error": None, "baseline": None, "baseline_note": None}]}
    (directory / GATE_FILE).write_text(json.dumps(gate))
    return directory


# --- events and inputs --------------------------------------------------------------------------------
def test_pull_request_event():
    pr = events.pull_request_from_event(pull_request_event())
    assert pr == events.PullRequest(number=7, head_sha=HEAD_SHA, head_repo="fork/app", base_ref="main",
                                    base_sha=OTHER_SHA)
    assert events.pull_request_from_event({"push": {}}) is None
    with pytest.raises(BadInput):
        events.pull_request_from_event({"pull_request": {"number": 1}})


def test_workflow_run_event_from_a_fork_has_no_pull_requests():
    run = events.workflow_run_from_event(workflow_run_event())
    assert run.pull_request_numbers == () and run.head_owner == "fork" and run.head_branch == "feature"
    same_repo = events.workflow_run_from_event(workflow_run_event(pull_requests=[
        {"number": 9, "head": {"sha": HEAD_SHA}}, {"number": 10, "head": {"sha": OTHER_SHA}}]))
    assert same_repo.pull_request_numbers == (9,)
    with pytest.raises(BadInput, match="workflow_run"):
        events.workflow_run_from_event(pull_request_event())


def test_load_event_errors_are_one_line(tmp_path):
    with pytest.raises(BadInput, match="GITHUB_EVENT_PATH is not set"):
        events.load_event(None, {})
    bad = tmp_path / "event.json"
    bad.write_text("[1, 2")
    with pytest.raises(BadInput, match="unreadable event payload"):
        events.load_event(bad)


def test_gate_inputs_from_env():
    inputs = gate_inputs.gate_inputs_from_env({
        "INPUT_DOCKERFILES": "svc/a/Dockerfile\n\n  svc/b/Dockerfile.gpu  \n# a comment\n",
        "INPUT_BUILD_ARGS": "A=1\nB=two words\n", "INPUT_TRIVY_SEVERITY": "critical, high",
        "INPUT_TRIVY_OFFLINE": "true", "INPUT_COMMENT": "false", "INPUT_SCAN": "", "INPUT_OUTPUT_DIR": "out",
        "INPUT_BASELINE_REF": "origin/main", "INPUT_CONTEXT": " "})
    assert inputs.dockerfiles == ["svc/a/Dockerfile", "svc/b/Dockerfile.gpu"]
    assert inputs.build_args == ["A=1", "B=two words"]
    assert inputs.trivy_severity == ["CRITICAL", "HIGH"]
    assert inputs.trivy_offline is True and inputs.comment is False and inputs.scan is True
    assert inputs.output_dir == Path("out") and inputs.baseline_ref == "origin/main" and inputs.context is None
    with pytest.raises(BadInput, match="dockerfiles is empty"):
        gate_inputs.gate_inputs_from_env({"INPUT_DOCKERFILES": "\n"})
    with pytest.raises(BadInput, match="comment"):
        gate_inputs.gate_inputs_from_env({"INPUT_DOCKERFILES": "Dockerfile", "INPUT_COMMENT": "maybe"})


def test_combined_exit_code_prefers_broken_setup_then_build_then_budget():
    assert run.combined_exit_code([0, 0]) == 0
    assert run.combined_exit_code([0, 1]) == 1
    assert run.combined_exit_code([1, 3, 0]) == 3
    assert run.combined_exit_code([3, 2]) == 2
    assert run.combined_exit_code([2, 4, 1]) == 4
    assert run.combined_exit_code([]) == 0


def test_entries_are_named_by_plan_entry_name_and_a_repeated_dockerfile_is_bad_input(tmp_path):
    """Each Dockerfile's output dir and comment section is plan.entry_name of its path (tests/unit/test_plan.py
    checks that names never collide); the same Dockerfile listed twice is refused."""
    def runner(args, env):
        return 0, ""

    dockerfiles = ["app/Dockerfile", "app/Dockerfile.dev", "projects/a/docker/prod/Dockerfile",
                   "projects/b/docker/prod/Dockerfile"]
    inputs = gate_inputs.GateInputs(dockerfiles=dockerfiles, output_dir=tmp_path / "out", scan=False)
    result = run.run_gate(inputs, {}, runner=runner, log=lambda message: None)
    assert [entry.name for entry in result.entries] == [
        "app-Dockerfile", "app-Dockerfile.dev", "projects-a-docker-prod-Dockerfile", "projects-b-docker-prod-Dockerfile"]
    with pytest.raises(BadInput, match="listed twice"):
        run.run_gate(gate_inputs.GateInputs(dockerfiles=["app/Dockerfile", "./app/Dockerfile"],
                                            output_dir=tmp_path / "out2", scan=False), {}, runner=runner)


# --- the gate's files, with a stand-in for the compare child process ---------------------------------------
def test_run_gate_writes_gate_json_comment_sarif_and_outputs(tmp_path, monkeypatch):
    """The runner stands in for the `buildopt compare` child process (the integration test runs the real
    one): it writes the recorded report for the first Dockerfile and fails the second with exit 2."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event()))
    calls = []

    def runner(args, env):
        calls.append(args)
        out = Path(args[args.index("--output-dir") + 1])
        if args[1] == "a/Dockerfile":
            out.mkdir(parents=True)
            (out / "report.json").write_text(json.dumps(with_vulnerabilities(recorded())))
            return 1, ""
        return 2, "b/Dockerfile:3: unknown instruction FORM"

    inputs = gate_inputs.GateInputs(dockerfiles=["a/Dockerfile", "b/Dockerfile"], output_dir=tmp_path / "out",
                               budget="budget.toml", baseline="base/report.json", trivy_offline=True,
                               trivy_cache_dir="/cache", build_args=["A=1"], network="host")
    result = run.run_gate(inputs, {"GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "owner/app"},
                             runner=runner, log=lambda message: None)
    assert result.exit_code == 2
    assert calls[0] == ["compare", "a/Dockerfile", "--context", "a", "--output-dir", str(tmp_path / "out" / "a-Dockerfile"),
                        "--format", "table", "--budget", "budget.toml", "--build-arg", "A=1", "--network", "host",
                        "--trivy-cache-dir", "/cache", "--offline"]
    assert result.entries[0].baseline_note.startswith("no baseline yet")  # base/report.json doesn't exist

    summary = tmp_path / "summary.md"
    outputs = run.write_gate_files(result, comment=True, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    gate = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert gate["schema"] == GATE_SCHEMA and gate["pull_request"]["number"] == 7
    assert gate["pull_request"]["head_sha"] == HEAD_SHA and gate["exit_code"] == 2 and gate["passed"] is False
    assert [e["report"] for e in gate["entries"]] == ["a-Dockerfile/report.json", None]
    assert outputs["exit-code"] == "2" and outputs["passed"] == "false"
    assert outputs["report-json"] == str(tmp_path / "out" / "a-Dockerfile" / "report.json")
    comment = Path(outputs["report-markdown"]).read_text()
    assert comment.startswith(COMMENT_MARKER + "\n") and comment.count(COMMENT_MARKER) == 1
    assert "max_size" in comment and "image is 112 MB over the limit" in comment
    assert "unknown instruction FORM" in comment and "not compared" in comment
    assert "_no baseline yet: the base branch's report was not found_" in comment
    assert summary.read_text().strip() == comment.replace(COMMENT_MARKER + "\n", "").strip()
    sarif = json.loads(Path(outputs["sarif"]).read_text())
    assert [run["automationDetails"]["id"] for run in sarif["runs"]] == ["buildopt/a-Dockerfile/"]
    assert "CVE-2024-0001" in {result["ruleId"] for result in sarif["runs"][0]["results"]}


def test_the_comment_says_what_the_pr_costs_against_the_base_branch(tmp_path):
    baseline = recorded()
    baseline["variants"]["original"]["size"] = 200_000_000
    (tmp_path / "base.json").write_text(json.dumps(baseline))

    def runner(args, env):
        out = Path(args[args.index("--output-dir") + 1])
        out.mkdir(parents=True)
        (out / "report.json").write_text(json.dumps(recorded()))
        return 1, ""

    inputs = gate_inputs.GateInputs(dockerfiles=["app/Dockerfile"], output_dir=tmp_path / "out",
                                    baseline=str(tmp_path / "base.json"), scan=False)
    result = run.run_gate(inputs, {}, runner=runner, log=lambda message: None)
    assert result.entries[0].baseline_size == 200_000_000 and result.pull_request is None
    comment = Path(run.write_gate_files(result, comment=True, environ={})["report-markdown"]).read_text()
    # recorded size 212,441,583 B against 200,000,000 B
    assert "**Against the baseline:** 200 MB → 212 MB (+12.4 MB, +6.2%)" in comment


# --- the untrusted artifact ---------------------------------------------------------------------------
def test_a_valid_artifact_loads(tmp_path):
    artifact = artifacts.load_artifacts(artifacts.find_artifact_dirs(write_artifact(tmp_path / "a")), HEAD_SHA)
    assert artifact.pr_number == 7 and artifact.head_sha == HEAD_SHA
    assert set(artifact.reports) == {"app"}
    assert artifact.reports["app"].variants.original.size == recorded()["variants"]["original"]["size"]


def test_matrix_artifacts_are_found_in_subdirectories_and_merged(tmp_path):
    write_artifact(tmp_path / "buildopt-report-api", name="api")
    write_artifact(tmp_path / "buildopt-report-worker", name="worker")
    dirs = artifacts.find_artifact_dirs(tmp_path)
    artifact = artifacts.load_artifacts(dirs, HEAD_SHA)
    assert [e.name for e in artifact.entries] == ["api", "worker"]
    assert artifacts.load_artifacts(artifacts.find_artifact_dirs(tmp_path / "buildopt-report-api"), HEAD_SHA)
    (tmp_path / "empty").mkdir()
    assert artifacts.load_artifacts(artifacts.find_artifact_dirs(tmp_path / "empty")) is None


@pytest.mark.parametrize("number", ["7; rm -rf /", "abc", 0, -3, "", None, True, "12345678901", 7.5, "٣"])
def test_a_bad_pr_number_is_rejected(tmp_path, number):
    with pytest.raises(artifacts.UntrustedArtifact, match="pull request number"):
        artifacts.load_artifacts([write_artifact(tmp_path / "a", number=number)], HEAD_SHA)


def test_a_digit_string_pr_number_is_accepted(tmp_path):
    assert artifacts.load_artifacts([write_artifact(tmp_path / "a", number="12")], HEAD_SHA).pr_number == 12


def test_the_head_sha_must_be_the_runs(tmp_path):
    with pytest.raises(artifacts.UntrustedArtifact, match="not the run's head sha"):
        artifacts.load_artifacts([write_artifact(tmp_path / "a")], OTHER_SHA)
    with pytest.raises(artifacts.UntrustedArtifact, match="40-hex"):
        artifacts.load_artifacts([write_artifact(tmp_path / "b", head_sha="HEAD")], None)


def test_artifacts_that_disagree_are_rejected(tmp_path):
    write_artifact(tmp_path / "x" / "one", name="one")
    write_artifact(tmp_path / "x" / "two", name="two", number=8)
    with pytest.raises(artifacts.UntrustedArtifact, match="disagree"):
        artifacts.load_artifacts(artifacts.find_artifact_dirs(tmp_path / "x"), HEAD_SHA)


def test_oversized_files_are_rejected(tmp_path, monkeypatch):
    directory = write_artifact(tmp_path / "a")
    monkeypatch.setattr(artifacts, "MAX_REPORT_BYTES", RECORDED.stat().st_size // 2)
    with pytest.raises(artifacts.UntrustedArtifact, match=r"over the .*-byte cap"):
        artifacts.load_artifacts([directory], HEAD_SHA)
    monkeypatch.undo()
    monkeypatch.setattr(artifacts, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(artifacts.UntrustedArtifact, match="in total"):
        artifacts.load_artifacts([directory], HEAD_SHA)


def test_a_huge_gate_file_is_rejected_before_parsing(tmp_path):
    directory = write_artifact(tmp_path / "a")
    (directory / "gate.json").write_text(" " * (artifacts.MAX_GATE_BYTES + 1) + "{}")
    with pytest.raises(artifacts.UntrustedArtifact, match=r"gate\.json: .* bytes, over"):
        artifacts.load_artifacts([directory], HEAD_SHA)


def test_symlinks_and_paths_outside_the_artifact_are_rejected(tmp_path):
    directory = write_artifact(tmp_path / "a")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(recorded()))
    (directory / "app" / "report.json").unlink()
    (directory / "app" / "report.json").symlink_to(secret)
    with pytest.raises(artifacts.UntrustedArtifact, match="symbolic links"):
        artifacts.load_artifacts([directory], HEAD_SHA)
    gate = json.loads((directory / "gate.json").read_text())
    gate["entries"][0]["report"] = "../secret.json"
    (directory / "gate.json").write_text(json.dumps(gate))
    with pytest.raises(artifacts.UntrustedArtifact, match="unexpected report path"):
        artifacts.load_artifacts([directory], HEAD_SHA)
    with pytest.raises(artifacts.UntrustedArtifact, match="plain relative path"):
        artifacts.read_capped(directory, "../secret.json", 10**6, [10**6])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema="buildopt.compare/v9"), "schema"),
    (lambda d: d["variants"]["original"].update(size="212 MB"), "whole number"),
    (lambda d: d["verdict"].update(exit_code=99), "documented exit code"),
    (lambda d: d["verdict"].pop("failures"), "failures: missing"),
    (lambda d: d["findings"][0].update(rule="BO101 | <img src=x>"), "unexpected form"),
    (lambda d: d["findings"][0].update(severity="<b>high</b>"), "is not one of"),
    (lambda d: d.update(buildopt_version="0.1 <script>"), "unexpected form"),
    (lambda d: d["variants"]["optimized"].update(build_log_tail="not a list"), "expected a list"),
])
def test_a_report_with_the_wrong_shape_is_rejected(tmp_path, mutate, message):
    doc = recorded()
    mutate(doc)
    with pytest.raises(artifacts.UntrustedArtifact, match=message):
        artifacts.load_artifacts([write_artifact(tmp_path / "a", doc=doc)], HEAD_SHA)


def test_not_json_is_rejected(tmp_path):
    directory = write_artifact(tmp_path / "a")
    (directory / "app" / "report.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(artifacts.UntrustedArtifact, match="not valid UTF-8 JSON"):
        artifacts.load_artifacts([directory], HEAD_SHA)


def test_untrusted_strings_are_made_inert_in_the_comment(tmp_path):
    doc = recorded()
    doc["dockerfile"] = "app/Dockerfile` <img src=https://evil.example/t.png>"
    doc["verdict"]["failures"][0]["reason"] = "see [here](https://evil.example) @org/admins ![x](https://evil.example/p.png)"
    doc["variants"]["original"].update(build_error="failed", build_log_tail=["ok", "```", "# Approved by @maintainer",
                                                                             "<details open>", "\u202eevil"])
    artifact = artifacts.load_artifacts([write_artifact(tmp_path / "a", doc=doc)], HEAD_SHA)
    comment = sticky.render_comment(artifact.entries, artifact.reports)
    assert comment.startswith(COMMENT_MARKER) and comment.count(COMMENT_MARKER) == 1
    assert "](https://evil" not in comment and "![x]" not in comment
    assert "@org" not in comment and "@maintainer" not in comment and "@\u2060org/admins" in comment
    assert "\u202e" not in comment
    # The bytes chart's fence holds only buildopt's own group names and numbers (compare_report.mermaid_chart).
    chart = re.search(r"```mermaid\n(.*?)\n```\n", comment, re.S)
    assert chart and "evil" not in chart.group(1) and "@" not in chart.group(1)
    lines = comment.replace(chart.group(0), "").splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    assert len(fences) == 2, "only the renderer's own fence around the build log: the log's ``` can't close it"
    # Raw HTML from the report only ever appears inside that fence, where GitHub shows it as text.
    outside = "\n".join(lines[:fences[0]] + lines[fences[1] + 1:])
    assert "<img" not in outside and "<details open>" not in outside and "&lt;img" in outside
    assert "<details open>" in "\n".join(lines[fences[0]:fences[1]])


def test_escape():
    assert escape("a`b") == "a'b"
    assert escape("@team") == "@\u2060team"
    assert escape("[x](http://e)") == "[x] (http://e)"
    assert escape("![x](http://e)") == "! [x] (http://e)"
    assert escape("tab\there\x00\x1b[31m") == "tab here[31m"
    assert escape("a|b<i>\\") == "a\\|b&lt;i&gt;\\\\"
    assert escape("<b>`x`</b> @me", code=True) == "<b>'x'</b> @\u2060me", "in a fence only the fence and mentions matter"
    assert len(escape("x" * 10_000)) == MAX_CHARS


def test_comment_for_several_dockerfiles_has_one_marker_and_both_sections(tmp_path):
    write_artifact(tmp_path / "x" / "one", name="api")
    write_artifact(tmp_path / "x" / "two", name="worker")
    artifact = artifacts.load_artifacts(artifacts.find_artifact_dirs(tmp_path / "x"), HEAD_SHA)
    comment = sticky.render_comment(artifact.entries, artifact.reports)
    assert comment.count(COMMENT_MARKER) == 1 and comment.count("## buildopt: `app/Dockerfile`") == 2
    assert comment.count("| size |") == 2 and "\n---\n" in comment


# --- sticky comment and the REST client ----------------------------------------------------------------
def test_find_sticky_comment_only_trusts_its_own_author():
    comments = [
        {"id": 1, "body": f"quoting {COMMENT_MARKER}", "user": {"login": "someone"}},
        {"id": 2, "body": "unrelated", "user": {"login": "github-actions[bot]"}},
        {"id": 3, "body": f"{COMMENT_MARKER}\n## buildopt", "user": {"login": "github-actions[bot]"}},
    ]
    assert api.find_sticky_comment(comments) == 3
    assert api.find_sticky_comment(comments[:2]) is None
    assert api.find_sticky_comment(comments, author="someone") == 1


def test_upsert_creates_then_updates_one_comment_over_paginated_lists():
    fake = FakeGitHub("owner/app")
    for i in range(5):  # more than one page of other people's comments, one quoting the marker
        fake.add_comment(7, f"comment {i} {COMMENT_MARKER if i == 3 else ''}", "reviewer")
    with serve(fake) as url:
        client = api.GitHubClient("test-token", "owner/app", api_url=url)
        assert api.upsert_comment(client, 7, COMMENT_MARKER + "\nfirst")[0] == "created"
        action, comment_id = api.upsert_comment(client, 7, COMMENT_MARKER + "\nsecond")
    assert action == "updated"
    ours = [c for c in fake.comments[7] if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1 and ours[0]["id"] == comment_id and ours[0]["body"].endswith("second")
    assert [r["method"] for r in fake.writes()] == ["POST", "PATCH"]
    assert all(r["authorization"] == "Bearer test-token" for r in fake.requests)
    assert any(r["query"].get("page") == "3" for r in fake.requests), "followed the Link header to the last page"


def test_find_pull_request_for_a_fork_uses_the_head_branch():
    fake = FakeGitHub("owner/app", pulls=[
        {"number": 5, "state": "open", "head": {"sha": OTHER_SHA, "ref": "feature", "repo_owner": "fork"}},
        {"number": 7, "state": "open", "head": {"sha": HEAD_SHA, "ref": "feature", "repo_owner": "fork"}}])
    run = events.workflow_run_from_event(workflow_run_event())
    with serve(fake) as url:
        client = api.GitHubClient("test-token", "owner/app", api_url=url)
        assert api.find_pull_request(client, run) == 7
        gone = events.workflow_run_from_event(workflow_run_event(head_sha="c" * 40))
        assert api.find_pull_request(client, gone) is None
    assert fake.requests[0]["query"]["head"] == "fork:feature"


def test_api_errors_are_one_line(tmp_path):
    fake = FakeGitHub("owner/app")
    with serve(fake) as url:
        client = api.GitHubClient("wrong-token", "owner/app", api_url=url)
        with pytest.raises(api.GitHubAPIError, match="HTTP 401 Bad credentials") as err:
            api.upsert_comment(client, 7, "x")
    assert err.value.exit_code == ExitCode.ENVIRONMENT
    with pytest.raises(BadInput, match="no token"):
        api.GitHubClient("", "owner/app")
    with pytest.raises(BadInput, match="owner/name"):
        api.GitHubClient("t", "owner/app/../x")


def test_pagination_never_sends_the_token_to_another_host():
    fake = FakeGitHub("owner/app")
    for _ in range(3):
        fake.add_comment(7, "x", "reviewer")
    with serve(fake) as url:
        fake.base_url = "http://127.0.0.2:9"  # the Link header now points elsewhere
        client = api.GitHubClient("test-token", "owner/app", api_url=url)
        assert len(list(client.paginate("/repos/owner/app/issues/7/comments"))) == 2
    assert len(fake.requests) == 1


def test_comment_from_artifacts_end_to_end_against_the_fake_api(tmp_path):
    write_artifact(tmp_path / "art" / "buildopt-report-app")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(workflow_run_event()))
    fake = FakeGitHub("owner/app", pulls=[
        {"number": 7, "state": "open", "head": {"sha": HEAD_SHA, "ref": "feature", "repo_owner": "fork"}}])
    with serve(fake) as url:
        env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "test-token", "GITHUB_REPOSITORY": "owner/app",
               "GITHUB_API_URL": url}
        outcome = sticky.comment_from_artifacts(tmp_path / "art", env, sarif_out=tmp_path / "out.sarif")
        assert outcome.action == "created" and outcome.pr_number == 7
        assert outcome.outputs()["ref"] == "refs/pull/7/head" and outcome.outputs()["sha"] == HEAD_SHA
        assert json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["automationDetails"]["id"] == "buildopt/app/"
        # An artifact claiming another PR than the head commit's is refused before any write.
        write_artifact(tmp_path / "art2", number=8)
        with pytest.raises(artifacts.UntrustedArtifact, match="names PR #8"):
            sticky.comment_from_artifacts(tmp_path / "art2", env)
    assert [r["method"] for r in fake.writes()] == ["POST"]


# --- GITHUB_OUTPUT --------------------------------------------------------------------------------------
def test_write_github_output(tmp_path):
    path = tmp_path / "out"
    assert outputs.write_github_output({"a": "1"}, {}) is False
    assert outputs.write_github_output({"exit-code": "1", "report-json": "x/report.json\ny/report.json"},
                                      {"GITHUB_OUTPUT": str(path)})
    text = path.read_text()
    assert text.startswith("exit-code=1\nreport-json<<ghadelimiter_")
    assert parse_github_output(text) == {"exit-code": "1", "report-json": "x/report.json\ny/report.json"}
    with pytest.raises(ValueError):
        outputs.write_github_output({"bad key": "x"}, {"GITHUB_OUTPUT": str(path)})


def parse_github_output(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file the way the runner does (key=value and key<<DELIMITER blocks)."""
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_the_comment_from_a_validated_report_lists_removed_packages_with_their_bytes(tmp_path):
    """The comment workflow renders from the sanitized document: it must keep what the table shows
    (tests/data/compare-report-paperflow.json, recorded from a real paperflow-worker compare)."""
    doc = json.loads((REPO / "tests" / "data" / "compare-report-paperflow.json").read_text())
    artifact = artifacts.load_artifacts([write_artifact(tmp_path / "a", doc=doc)], HEAD_SHA)
    comment = sticky.render_comment(artifact.entries, artifact.reports)
    triton = next(p for p in doc["diff"]["packages"]["removed"] if p["name"] == "triton")
    assert f"| triton {triton['version_a']} | {format_size(triton['size_a'])} |" in comment
    assert "```mermaid" in comment


# --- issue 14: cache keys, scan failure, budget from the base branch, head-sha guard, default-branch SARIF ------
def test_cache_inputs_give_shared_keys_per_dockerfile_and_variant():
    spec = gate_inputs.gate_inputs_from_env({"INPUT_DOCKERFILES": "app/Dockerfile", "INPUT_CACHE": "gha"}).cache
    assert spec.compare_args("app-Dockerfile") == [
        "--cache-from", "type=gha,scope=buildopt-app-Dockerfile-original",
        "--cache-from", "type=gha,scope=buildopt-app-Dockerfile-optimized",
        "--cache-to", "type=gha,scope=buildopt-app-Dockerfile-{variant},mode=max"]
    registry = gate_inputs.cache_spec("registry", "ghcr.io/owner/app/buildopt-cache", None)
    assert registry.compare_args("x")[-2:] == ["--cache-to", "type=registry,ref=ghcr.io/owner/app/buildopt-cache:x-{variant},mode=max"]
    inline = gate_inputs.cache_spec("inline", "127.0.0.1:5000/cache", None)
    assert inline.compare_args("x")[-4:] == ["--cache-to", "type=inline", "--cache-push", "127.0.0.1:5000/cache:x-{variant}"]
    assert gate_inputs.cache_spec(None, None, None).compare_args("x") == []
    for env, message in [({"INPUT_CACHE": "inline"}, "needs cache-ref"), ({"INPUT_CACHE": "s3"}, "is not one of"),
                         ({"INPUT_CACHE": "registry", "INPUT_CACHE_REF": "Bad Ref:tag!"}, "cache-ref"),
                         ({"INPUT_SCAN_FAILURE": "ignore"}, "scan-failure"), ({"INPUT_BUDGET_FROM": "head"}, "budget-from")]:
        with pytest.raises(BadInput, match=message):
            gate_inputs.gate_inputs_from_env({"INPUT_DOCKERFILES": "Dockerfile", **env})


def git_repo(path: Path, files: dict[str, str]) -> Path:
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git("add", ".")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "feature")
    return path


def test_the_budget_comes_from_the_base_branch_unless_asked(tmp_path, monkeypatch):
    """A PR that raises its own budget is still judged by the base branch's; budget-from: pr opts out."""
    repo = git_repo(tmp_path / "repo", {"app/Dockerfile": "FROM scratch\n", "app/buildopt.toml": '[budget]\nmax_size = "100MB"\n',
                                        "new/Dockerfile": "FROM scratch\n"})
    (repo / "app" / "buildopt.toml").write_text('[budget]\nmax_size = "9GB"\n')
    (repo / "new" / "Dockerfile").unlink()
    (repo / "new2").mkdir()
    (repo / "new2" / "Dockerfile").write_text("FROM scratch\n")
    (repo / "new2" / "buildopt.toml").write_text('[budget]\nmax_size = "1GB"\n')
    monkeypatch.chdir(repo)
    budgets = {}

    def runner(args, env):
        budget = args[args.index("--budget") + 1] if "--budget" in args else None
        budgets[args[1]] = Path(budget).read_text() if budget else None
        return 0, ""

    inputs = gate_inputs.GateInputs(dockerfiles=["app/Dockerfile", "new2/Dockerfile"], output_dir=tmp_path / "out",
                                    baseline_ref="main", scan=False)
    result = run.run_gate(inputs, {}, runner=lambda args, env: runner(args, env) if "--optimized" not in args else (2, "x"),
                          log=lambda message: None)
    app, new = result.entries
    assert budgets["app/Dockerfile"] == '[budget]\nmax_size = "100MB"\n', "the base branch's budget, not the PR's 9GB"
    assert app.budget_source == "app/buildopt.toml on main" and app.budget_note is None
    assert budgets["new2/Dockerfile"] is None and new.budget_source == "new2/buildopt.toml (this PR)"
    assert "the Dockerfile is new on main" in new.budget_note
    comment = sticky.render_comment(result.entries, {})
    assert "**Budget:** `app/buildopt.toml on main`" in comment
    assert "**Budget:** `new2/buildopt.toml (this PR)` (budget from this PR: the Dockerfile is new on main)" in comment

    budgets.clear()
    opted_out = run.run_gate(gate_inputs.GateInputs(dockerfiles=["app/Dockerfile"], output_dir=tmp_path / "out2",
                                                    baseline_ref="main", scan=False, budget_from="pr"),
                             {}, runner=lambda args, env: runner(args, env) if "--optimized" not in args else (2, "x"),
                             log=lambda message: None)
    assert budgets["app/Dockerfile"] is None, "compare reads the PR's own buildopt.toml"
    assert opted_out.entries[0].budget_source == "app/buildopt.toml (this PR)"


def test_an_older_run_never_overwrites_the_comment_of_a_newer_head(tmp_path):
    """The PR moved on to OTHER_SHA after this run's commit: nothing is written."""
    write_artifact(tmp_path / "art" / "buildopt-report-app")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(workflow_run_event(pull_requests=[{"number": 7, "head": {"sha": HEAD_SHA}}])))
    fake = FakeGitHub("owner/app", pulls=[
        {"number": 7, "state": "open", "head": {"sha": OTHER_SHA, "ref": "feature", "repo_owner": "fork"}}])
    fake.add_comment(7, f"{COMMENT_MARKER}\nthe newer run's comment", "github-actions[bot]")
    with serve(fake) as url:
        env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "test-token", "GITHUB_REPOSITORY": "owner/app",
               "GITHUB_API_URL": url}
        outcome = sticky.comment_from_artifacts(tmp_path / "art", env, sarif_out=tmp_path / "out.sarif")
    assert outcome.action == "skipped" and "moved on to " + OTHER_SHA in outcome.message
    assert fake.writes() == [] and fake.comments[7][0]["body"].endswith("the newer run's comment")
    assert outcome.outputs()["sarif"], "the SARIF for this commit is still uploaded"


def test_a_push_to_the_default_branch_gives_sarif_and_no_comment(tmp_path):
    directory = write_artifact(tmp_path / "art" / "buildopt-report-app")
    gate = json.loads((directory / GATE_FILE).read_text())
    gate.update(pull_request=None, event="push", head_sha=HEAD_SHA, ref="refs/heads/main")
    (directory / GATE_FILE).write_text(json.dumps(gate))
    event = tmp_path / "event.json"
    payload = workflow_run_event()
    payload["workflow_run"].update(event="push", head_branch="main")
    payload["repository"] = {"default_branch": "main"}
    event.write_text(json.dumps(payload))
    outcome = sticky.comment_from_artifacts(tmp_path / "art", {"GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": "t",
                                                                "GITHUB_REPOSITORY": "owner/app"},
                                            sarif_out=tmp_path / "main.sarif")
    assert outcome.action == "skipped" and outcome.pr_number is None
    assert outcome.outputs()["ref"] == "refs/heads/main" and outcome.outputs()["sha"] == HEAD_SHA
    assert json.loads((tmp_path / "main.sarif").read_text())["runs"][0]["automationDetails"]["id"] == "buildopt/app/"
    payload["workflow_run"]["head_branch"] = "topic"
    event.write_text(json.dumps(payload))
    other = sticky.comment_from_artifacts(tmp_path / "art", {"GITHUB_EVENT_PATH": str(event)}, sarif_out=tmp_path / "x.sarif")
    assert other.outputs()["sarif"] == "" and "not the default branch" in other.message
    # A pull_request run's artifact can't pass for a push, nor the other way round.
    payload["workflow_run"]["event"] = "pull_request"
    event.write_text(json.dumps(payload))
    with pytest.raises(artifacts.UntrustedArtifact, match="name its pull request"):
        sticky.comment_from_artifacts(tmp_path / "art", {"GITHUB_EVENT_PATH": str(event)})
