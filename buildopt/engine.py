"""The one way buildopt reaches the Docker engine."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache

# ---- base image facts for analyze ------------------------------------------------------------------------------
LOOKUP_ENV = "BUILDOPT_ENGINE_LOOKUP"  # "0", "off", "no" or "false": analyze never asks the engine
_LOOKUP_TIMEOUT = 5  # seconds; an engine that doesn't answer in that time is treated as absent


@dataclass(frozen=True)
class ImageConfig:
    """How an image's containers run, from its config: `user` is Config.User ("" = root), `env` Config.Env."""

    ref: str
    user: str
    env: tuple[tuple[str, str], ...]

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


def lookup_enabled() -> bool:
    return os.environ.get(LOOKUP_ENV, "").strip().lower() not in ("0", "off", "no", "false")


def local_image_config(ref: str) -> ImageConfig | None:
    """Config.User and Config.Env of `ref` when the local engine already holds it (`docker image inspect`: never
    pulls). None when it doesn't hold it, or when no engine answers: callers fall back to what they know.
    Answers are cached for the process, so analyzing many files costs one inspect per base image."""
    if not ref or ref != ref.strip() or "$" in ref or any(char.isspace() for char in ref):
        return None
    return _inspect_config(ref)


@lru_cache(maxsize=512)
def _inspect_config(ref: str) -> ImageConfig | None:
    client = _client()
    if client is None:
        return None
    import docker
    import requests

    try:
        data = client.api.inspect_image(ref)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return None  # not on this engine (never pulled here), or the engine went away
    config = data.get("Config") or {}
    env = tuple(tuple(item.split("=", 1)) if "=" in item else (item, "") for item in config.get("Env") or ())
    return ImageConfig(ref, str(config.get("User") or ""), env)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _client():
    """One client per process, or None when there is no engine (checked once: analyze must work without one)."""
    try:
        import docker
        import requests
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=_LOOKUP_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return None
    return client


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
class HelperFailed(Exception):
    """A helper container could not run or failed; the message is one line."""


def run_helper_container(image: str, entrypoint: str, args: list[str], *, mounts: list[tuple[str, str]],
                         caps: tuple[str, ...] = (), timeout: float = 900.0, purpose: str = "helper") -> bytes:
    """Run `entrypoint args` in a short-lived container of `image` and return its stdout.

    For the non-root fast paths (inspect/helper.py, scan.py): no network, every capability dropped but
    `caps`, no new privileges, the host paths in `mounts` ((host, container) pairs) read-only, labelled with
    the run label, removed when it ends, and removed by name if we are interrupted. It works in `/`, not in
    the image's WORKDIR (trivy resolves relative --skip-dirs against it). The docker CLI is used (not the
    SDK) so stdout streams through a pipe instead of the engine's log store.
    """
    import subprocess
    import uuid

    name = f"buildopt-{purpose}-{uuid.uuid4().hex[:12]}"
    argv = ["docker", "run", "--rm", "--name", name, "--network", "none", "--log-driver", "none",
            "--user", "0:0", "--workdir", "/", "--security-opt", "no-new-privileges", "--cap-drop", "ALL",
            "--entrypoint", entrypoint, "--label", f"buildopt.helper={purpose}"]
    for cap in caps:
        argv += ["--cap-add", cap]
    for key, value in run_labels().items():
        argv += ["--label", f"{key}={value}"]
    for host, inside in mounts:
        argv += ["--mount", f"type=bind,source={host},target={inside},readonly"]
    argv += [image, *args]
    try:
        process = subprocess.run(argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        raise HelperFailed(f"the {purpose} container timed out after {timeout:.0f} s") from None
    except BaseException:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        raise
    if process.returncode != 0:
        lines = [line for line in process.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise HelperFailed(f"the {purpose} container exited {process.returncode}: {(lines or ['no output'])[-1][:300]}")
    return process.stdout


_empty_image: list[str] = []
_empty_lock = threading.Lock()


def empty_image() -> str:
    """An image with nothing in it, for helper containers that must run no code of any image (inspect's
    helper bind-mounts the host's own Python). Made once per process by `docker import` of an empty tar,
    labelled `buildopt.helper=empty`, and removed when the process exits."""
    with _empty_lock:
        if _empty_image:
            return _empty_image[0]
        import io
        import subprocess
        import tarfile
        import uuid

        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        tag = f"buildopt-helper/empty:{os.getpid()}-{uuid.uuid4().hex[:8]}"
        process = subprocess.run(["docker", "import", "--change", "LABEL buildopt.helper=empty", "-", tag],
                                 input=empty.getvalue(), capture_output=True)
        if process.returncode != 0:
            raise HelperFailed(f"cannot make the helper's empty image: {process.stderr.decode(errors='replace').strip()[:200]}")
        atexit.register(subprocess.run, ["docker", "image", "rm", "--force", tag], capture_output=True)
        _empty_image.append(tag)
        return tag
