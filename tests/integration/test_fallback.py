"""Build-verified optimization, end to end on the real engine, buildx and smoke containers.

A small app of our own, written here, where two changes of the optimized variant break it in ways optimize's
safety analysis can't see:
- its build runs a script that calls `python -m pip check`, and the trim step removes pip from the venv
  (the optimized build fails);
- its code writes under /var/lib through a path built from parts, so the non-root user can't create it (the
  optimized image exits 1 at start, where the original stays up: the default start check catches it; the app
  has no buildopt.toml).
compare must drop exactly those two, keep the rest, leave the variant that passed in the output dir, and leave
nothing behind. `--no-fallback` keeps today's behaviour: exit 3.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import BASE_IMAGE, IN_CI, REPO, RUN_LABEL, own_leftovers, require

pytestmark = pytest.mark.docker

DOCKERFILE = f"""FROM {BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN sh scripts/verify-deps.sh
EXPOSE 8000
CMD ["python", "service.py"]
"""
FILES = {
    "requirements.txt": "six==1.16.0\n",
    "scripts/verify-deps.sh": "#!/bin/sh\n# Fail the build when the installed dependencies conflict.\nset -e\npython -m pip check\n",
    "service.py": '''import http.server, os
import six

STATE_DIR = os.path.join(os.sep, "var", "lib", "greeter")  # built from parts, as many apps do
os.makedirs(STATE_DIR, exist_ok=True)
with open(os.path.join(STATE_DIR, "started"), "w") as marker:
    marker.write(str(os.getpid()))


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(six.b("hello"))


print("serving on 8000", flush=True)
http.server.HTTPServer(("0.0.0.0", 8000), Hello).serve_forever()
''',
}


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("greeter")
    (root / "Dockerfile").write_text(DOCKERFILE)
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def compare(app: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "buildopt.cli", "compare", str(app / "Dockerfile"), "--output-dir", str(out), "--no-scan",
         "--format", "json", *extra],
        capture_output=True, text=True, cwd=out.parent,
    )
    report = out / "report.json"
    return result, json.loads(report.read_text()) if report.exists() else {}


@pytest.fixture(scope="module")
def fell_back(docker_engine, app, tmp_path_factory):
    out = tmp_path_factory.mktemp("fallback") / "out"
    budget = out.parent / "budget.toml"
    budget.write_text('[budget]\nmax_size = "1GB"\nrequire_smoke = true\n')
    return (*compare(app, out, "--budget", str(budget)), out)


def test_the_culprits_are_dropped_with_their_evidence(fell_back):
    result, report, _ = fell_back
    assert result.returncode == 0, result.stderr[-3000:]
    fallback = report["fallback"]
    assert fallback["enabled"] and fallback["ran"]
    assert fallback["first_failure"]["kind"] == "build"
    dropped = {item["key"]: item for item in fallback["dropped"]}
    assert set(dropped) == {"trim-venv", "non-root"}
    assert "RUN sh scripts/verify-deps.sh" in dropped["trim-venv"]["reason"]
    assert "No module named pip" in dropped["trim-venv"]["evidence"]
    assert "start `ENTRYPOINT/CMD`" in dropped["non-root"]["reason"]
    assert "exits 1" in dropped["non-root"]["evidence"] and "Permission denied" in dropped["non-root"]["evidence"]
    assert dropped["non-root"]["rules"] == ["BO101"]
    assert fallback["applied"] == ["multi-stage", "healthcheck"]
    assert fallback["attempts"] == len(fallback["trials"]) >= 2 and fallback["trials"][-1]["passed"]
    statuses = {change["key"]: change["status"] for change in report["changes"]}
    assert statuses == {"multi-stage": "applied", "healthcheck": "applied", "trim-venv": "dropped", "non-root": "dropped"}


def test_the_final_variant_builds_and_passes_the_original_smoke(fell_back):
    _, report, _ = fell_back
    original, optimized = report["variants"]["original"], report["variants"]["optimized"]
    assert original["built"] and optimized["built"]
    assert original["smoke"]["passed"] and optimized["smoke"]["passed"], optimized["smoke"]
    checks = lambda variant: {(c["kind"], c["name"]) for c in variant["smoke"]["checks"] if c["kind"] != "user"}  # noqa: E731
    assert checks(original) == checks(optimized)
    assert ("import", "six") in checks(optimized)  # discovered in dist-packages on a Debian Python, too
    [start] = [c for c in optimized["smoke"]["checks"] if c["kind"] == "start"]
    assert start["ok"] and "like the original" in start["detail"]
    assert report["verdict"]["exit_code"] == 0 and report["verdict"]["passed"]


def test_the_output_dir_holds_the_variant_that_passed(fell_back):
    result, report, out = fell_back
    text = (out / "Dockerfile.optimized").read_text()
    assert "AS builder" in text and "HEALTHCHECK" in text  # kept
    assert "\nUSER " not in text and "site-packages/pip " not in text  # dropped
    assert report["optimized_dockerfile"] == str(out / "Dockerfile.optimized")
    assert not list(out.glob(".fallback-*")), "temporary attempt dirs left behind"
    assert sorted(path.name for path in (out / "fallback").iterdir()) == [
        f"attempt-{n}.log" for n in range(1, report["fallback"]["attempts"] + 1)]
    markdown = (out / "report.md").read_text()
    assert "dropped `non-root`" in markdown and "dropped `trim-venv`" in markdown and "No module named pip" in markdown
    assert "searching for the changes that cause it" in result.stderr and "fallback attempt 1:" in result.stderr


def test_nothing_left_behind(fell_back):
    assert own_leftovers() == ([], [])


def test_no_fallback_keeps_the_failed_build(docker_engine, app, fell_back, tmp_path):
    result, report = compare(app, tmp_path / "out", "--no-fallback", "--no-smoke")
    assert result.returncode == 3, result.stderr[-2000:]
    assert report["fallback"]["enabled"] is False and report["fallback"]["ran"] is False
    optimized = report["variants"]["optimized"]
    assert not optimized["built"] and optimized["build_error"]
    assert "site-packages/pip " in (tmp_path / "out" / "Dockerfile.optimized").read_text()
    assert {change["status"] for change in report["changes"]} == {"applied"}
    assert own_leftovers() == ([], [])


def test_ctrl_c_during_the_search_cleans_up(docker_engine, app, fell_back, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "buildopt.cli", "compare", str(app / "Dockerfile"), "--output-dir", str(out), "--no-scan"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )
    saw_attempt = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if "fallback attempt 2:" in line:  # attempt 1 is done: its image and dir were removed; attempt 2 starts
            saw_attempt = True
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    process.wait(timeout=300)
    assert saw_attempt, "compare never reached the fallback search"
    assert process.returncode == 130, rest[-2000:]
    assert "Traceback" not in rest
    assert not list(out.glob(".fallback-*"))
    assert own_leftovers() == ([], [])


# ---- as GitHub's runners run it: a non-root user in the docker group (../shared/ENVIRONMENT.md §8) ---------------
RUNNER = "buildopt-runner"
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 and not IN_CI, reason="running as another user needs root")
def test_the_search_runs_for_a_non_root_user_in_the_docker_group(docker_engine, app, fell_back):
    try:
        user = pwd.getpwnam(RUNNER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", "docker", RUNNER], capture_output=True)
        user = pwd.getpwnam(RUNNER)
    site = Path(sysconfig.get_paths()["purelib"])
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    require(version.stdout.strip() == str(sys.version_info[:2]), f"{SYSTEM_PYTHON} is not Python {sys.version_info[:2]}")
    require(all(os.stat(part).st_mode & 0o005 == 0o005 for part in [site, *site.parents, REPO, *REPO.parents]),
            "the checkout or its venv is not readable by other users")
    work = Path(tempfile.mkdtemp(prefix="buildopt-runner-"))
    try:
        shutil.copytree(app, work / "app")
        for path in [work, *work.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        env = {"HOME": user.pw_dir, "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": f"{site}:{REPO}", "PYTHONDONTWRITEBYTECODE": "1",
               "BUILDOPT_RUN_LABEL": RUN_LABEL}
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import sys; from buildopt.cli import main; sys.exit(main())", "compare",
             str(work / "app" / "Dockerfile"), "--output-dir", str(work / "out"), "--no-scan", "--format", "json"],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[os.stat("/var/run/docker.sock").st_gid], env=env,
            cwd=work, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads((work / "out" / "report.json").read_text())
        assert {item["key"] for item in report["fallback"]["dropped"]} == {"trim-venv", "non-root"}
        assert report["variants"]["optimized"]["smoke"]["passed"]
        assert not list((work / "out").glob(".fallback-*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert own_leftovers() == ([], [])
