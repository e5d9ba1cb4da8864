"""The one way buildopt reaches the Docker engine."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

RUN_LABEL_ENV = "BUILDOPT_RUN_LABEL"
RUN_LABEL = "buildopt.run"


def run_labels() -> dict[str, str]:
    """`buildopt.run=<value>` for every temporary image and container, when BUILDOPT_RUN_LABEL is set.

    Test runs and CI jobs that share one engine set it, so each finds and removes only what it created.
    """
    value = os.environ.get(RUN_LABEL_ENV, "").strip()
    return {RUN_LABEL: value} if value else {}


def api_client(timeout: int = 120):
    """A docker-py client for the Engine API (containers, images, exec); EnvironmentMissing when the
    engine doesn't answer."""
    import docker

    from .errors import EnvironmentMissing

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as err:  # DockerException, requests errors, OSError
        text = str(err).strip()
        raise EnvironmentMissing(f"cannot reach the Docker engine: {text.splitlines()[0][:200] if text else type(err).__name__}",
                                 hint="buildopt doctor") from None
    return client


def compose_cli(files: list, *, project: str | None = None, directory=None, env_files: list | None = None):
    """python-on-whales' docker client for `docker compose` on these files (the Compose v2 CLI plugin:
    compose has no Engine API). EnvironmentMissing when the plugin is missing."""
    from python_on_whales import DockerClient

    from .errors import EnvironmentMissing

    if not _compose_installed():
        raise EnvironmentMissing("docker compose v2 is not installed",
                                 hint="scripts/setup-toolchain.sh installs the compose plugin")
    return DockerClient(compose_files=list(files), compose_project_name=project,
                        compose_project_directory=directory, compose_env_files=list(env_files or []))


@functools.cache
def _compose_installed() -> bool:
    docker_cli = shutil.which("docker")
    return docker_cli is not None and subprocess.run([docker_cli, "compose", "version"], capture_output=True).returncode == 0
