"""analyze reads a base image's USER and ENV from the local engine (buildopt/engine.py: local_image_config).

Base images of our own are built here with buildx (tests/conftest.py build_image, removed at the end of the
session), then Dockerfiles FROM them are analyzed: with the engine, without it (engine=False, --no-engine,
BUILDOPT_ENGINE_LOOKUP=0), and as a non-root user in and out of the docker group. Also: the corpus's
TorchScript model, built into an image, is found by inspect.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from buildopt.dockerfile import parse_string
from buildopt.engine import local_image_config
from buildopt.rules import Severity, analyze
from tests.conftest import BASE_IMAGE, IN_CI, REPO, SESSION_ID, TEST_REPO_PREFIX, require

pytestmark = pytest.mark.docker

TODAY = date(2026, 12, 1)
NON_ROOT_BASE = f"FROM {BASE_IMAGE}\nRUN useradd --uid 4321 --create-home svc\nENV SVC_USER=svc SVC_HOME=/home/svc\nUSER 4321\n"
GPU_BASE = f"FROM {BASE_IMAGE}\nENV CUDA_VERSION=12.1.1 NVIDIA_VISIBLE_DEVICES=all PYTORCH_VERSION=2.3.1\n"


def rules(text: str, **kwargs):
    return {(f.rule, f.severity) for f in analyze(parse_string(text), today=TODAY, **kwargs).findings}


@pytest.fixture(scope="module")
def non_root_base(build_image) -> str:
    return build_image(NON_ROOT_BASE, name="nonroot-base")


@pytest.fixture(scope="module")
def gpu_base(build_image) -> str:
    return build_image(GPU_BASE, name="gpu-base")


def test_the_engine_answers_with_the_image_config(non_root_base):
    config = local_image_config(non_root_base)
    assert config is not None and config.user == "4321" and config.env_dict["SVC_USER"] == "svc"


def test_base_image_that_ends_as_a_non_root_user(non_root_base):
    text = f"FROM {non_root_base}\nRUN mkdir -p /home/svc/data\nCMD [\"python3\", \"-m\", \"http.server\"]\n"
    found = rules(text)
    assert ("BO101", Severity.HIGH) not in found and not any(rule == "BO119" for rule, _ in found)
    # Without the engine nothing says who the base runs as: root is assumed, and the dir it creates is root's.
    off = rules(text, engine=False)
    assert ("BO101", Severity.HIGH) in off and ("BO119", Severity.MEDIUM) in off


def test_user_named_by_the_base_images_env(non_root_base):
    # `USER $SVC_USER`: the variable comes from the base image's ENV; `--chown=$SVC_USER` owns the copy.
    text = (f"FROM {non_root_base}\nUSER root\nRUN mkdir -p /srv/uploads && chown $SVC_USER /srv/uploads\n"
            f"USER $SVC_USER\nCMD [\"python3\"]\n")
    found = analyze(parse_string(text), today=TODAY).findings
    assert not [f for f in found if f.rule in ("BO101", "BO119")]


def test_lookup_switched_off_by_environment(non_root_base, monkeypatch):
    monkeypatch.setenv("BUILDOPT_ENGINE_LOOKUP", "0")
    assert ("BO101", Severity.HIGH) in rules(f"FROM {non_root_base}\nCMD [\"python3\"]\n")


def test_gpu_base_image_from_its_env(gpu_base):
    # CUDA_VERSION / PYTORCH_VERSION in the base image's config: a GPU image that already ships torch.
    text = f"FROM {gpu_base}\nRUN pip install torch==2.3.1\nRUN pip install sentence-transformers\n"
    found = analyze(parse_string(text), today=TODAY).findings
    assert [(f.line, f.severity) for f in found if f.rule == "BO103"] == [(1, Severity.INFO), (2, Severity.INFO)]
    off = analyze(parse_string(text), today=TODAY, engine=False).findings
    assert [(f.line, f.severity) for f in off if f.rule == "BO103"] == [(2, Severity.HIGH)]


def test_an_image_the_engine_lacks_is_never_pulled():
    missing = f"{TEST_REPO_PREFIX}/never-built:{SESSION_ID}"
    assert ("BO101", Severity.HIGH) in rules(f"FROM {missing}\nCMD [\"x\"]\n")
    assert subprocess.run(["docker", "image", "inspect", missing], capture_output=True).returncode != 0


# ---- as a non-root user, like GitHub's runners -------------------------------------------------------------------

RUNNER = os.environ.get("BUILDOPT_TEST_RUNNER_USER", "buildopt-runner")
SYSTEM_PYTHON = "/usr/bin/python3"


def _runner() -> pwd.struct_passwd | None:
    """The docker-group runner user (../shared/ENVIRONMENT.md §8), created when missing and we are root."""
    try:
        return pwd.getpwnam(RUNNER)
    except KeyError:
        if os.geteuid() != 0 or shutil.which("useradd") is None:
            return None
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", "docker", RUNNER], capture_output=True)
    try:
        return pwd.getpwnam(RUNNER)
    except KeyError:
        return None


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def _readable_by_others(path: Path) -> bool:
    return all(os.stat(part).st_mode & 0o005 == 0o005 for part in [path, *path.parents])


def run_as_runner(args: list[str], *, docker_group: bool) -> subprocess.CompletedProcess:
    """`buildopt args` as the runner: this checkout and this venv's packages on /usr/bin/python3 (same 3.11)."""
    user = _runner()
    require(user is not None, f"no {RUNNER} user and not root to create it")
    require(Path(SYSTEM_PYTHON).exists() and _readable_by_others(REPO) and _readable_by_others(_site_packages()),
            "the checkout or its venv is not readable by other users")
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    require(version.stdout.strip() == str(sys.version_info[:2]), f"{SYSTEM_PYTHON} is not Python {sys.version_info[:2]}")
    groups = [grp.getgrnam("docker").gr_gid] if docker_group else []
    env = {"HOME": user.pw_dir, "PATH": "/usr/bin:/bin", "PYTHONPATH": f"{_site_packages()}:{REPO}",
           "PYTHONDONTWRITEBYTECODE": "1", "BUILDOPT_TODAY": "2026-12-01"}
    return subprocess.run([SYSTEM_PYTHON, "-c", "import sys; from buildopt.cli import main; sys.exit(main())", *args],
                          user=user.pw_uid, group=user.pw_gid, extra_groups=groups, env=env, cwd="/",
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def dockerfile_on_non_root_base(non_root_base, tmp_path) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "Dockerfile").write_text(f"FROM {non_root_base}\nCMD [\"python3\"]\n")
    for path in (directory, tmp_path):
        os.chmod(path, 0o755)
    os.chmod(directory / "Dockerfile", 0o644)
    for parent in tmp_path.parents:  # pytest's tmp dirs are 0700: let the runner through to this one
        if parent in (Path("/tmp"), Path("/")):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o011)
    return directory / "Dockerfile"


@pytest.mark.skipif(os.geteuid() != 0 and not IN_CI, reason="running as another user needs root")
def test_non_root_runner_in_the_docker_group_reads_the_base_image(dockerfile_on_non_root_base):
    result = run_as_runner(["analyze", str(dockerfile_on_non_root_base), "--format", "json"], docker_group=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"root-user"' not in result.stdout


@pytest.mark.skipif(os.geteuid() != 0 and not IN_CI, reason="running as another user needs root")
def test_non_root_user_without_the_engine_falls_back_silently(dockerfile_on_non_root_base):
    # Not in the docker group: the socket refuses it. No error, no traceback: the table decides (it doesn't
    # know this image, so root is assumed), exit 1 for the high finding.
    result = run_as_runner(["analyze", str(dockerfile_on_non_root_base), "--format", "json"], docker_group=False)
    assert result.returncode == 1 and result.stderr == "", result.stderr
    assert '"root-user"' in result.stdout


# ---- inspect finds the corpus's TorchScript model -------------------------------------------------------------

def test_inspect_finds_the_torchscript_model_of_the_corpus(build_image):
    from buildopt.inspect import inspect_image

    source = REPO / "tests" / "corpus" / "realworld" / "ml-torchscript-jit-copy" / "models" / "vad.jit"
    # The corpus file's own COPY, on the base image alone (its torch install needs the CPU index, not reachable here).
    tag = build_image(f"FROM {BASE_IMAGE}\nWORKDIR /service\nCOPY models/vad.jit models/\n",
                      {"models/vad.jit": source.read_bytes()}, name="jit-model")
    profile = inspect_image(tag)
    assert [(m.path, m.format, m.size) for m in profile.models] == [("/service/models/vad.jit", "torchscript",
                                                                     source.stat().st_size)]
