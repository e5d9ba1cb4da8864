"""The one way buildopt reaches the Docker engine.

- `resolve(context)` finds the engine the docker CLI would use: `--context NAME`, else DOCKER_HOST, else
  DOCKER_CONTEXT or the CLI's current context (`docker context use`), else the platform's default socket.
- `connect(context)` opens it once: an `Engine` holds the Engine API client (docker-py: images, containers,
  exec), the CLI client for the same engine (python-on-whales: buildx, push, compose) and the facts every
  stage needs (storage driver, root dir, local or remote). `current()` is the process's engine for commands
  without --context; compare, inspect, scan, smoke, build, doctor, promote and audit all use it, so a build
  and the inspection of its image can't land on two engines.
- `docker_errors(what)` turns Docker's errors into buildopt's, in one place: an image or object the engine
  doesn't hold is BadInput (exit 2), an unreachable engine or missing CLI is EnvironmentMissing (exit 4).
"""

from __future__ import annotations

import atexit
import functools
import glob
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from .errors import BadInput, EnvironmentMissing

DEFAULT_TIMEOUT = 600  # seconds per Engine API request: a smoke container's wait and a multi-GB export fit


# ---- which engine --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    host: str  # unix:///var/run/docker.sock, ssh://user@host, tcp://...
    context: str | None  # the docker context it came from; None for DOCKER_HOST or the default socket
    tls: Any = None  # docker.tls.TLSConfig stored with the context, if any

    @property
    def local(self) -> bool:
        """The engine runs on this machine: its storage and /dev are ours to read."""
        return self.host.startswith(("unix://", "npipe://"))

    def cli_args(self) -> list[str]:
        """The docker CLI's global flags that reach this engine (DOCKER_HOST is inherited as it is)."""
        return ["--context", self.context] if self.context else []

    def docker_cli(self) -> str:
        """The docker command line that reaches this engine, for commands printed in reports."""
        if self.context:
            return f"docker --context {self.context}"
        if not self.local:
            return f"DOCKER_HOST={self.host} docker"
        return "docker"


def resolve(context: str | None = None) -> Endpoint:
    """The engine `context` names, else DOCKER_HOST, else the CLI's current context, else the default socket,
    resolved the way the docker CLI does it (`docker context inspect NAME`)."""
    if context is None and not os.environ.get("DOCKER_HOST"):
        context = _current_context()
    if context not in (None, "default"):
        host, tls = _resolve_context(context)
        return Endpoint(host, context, tls)
    host = os.environ.get("DOCKER_HOST") or (
        "npipe:////./pipe/docker_engine" if os.name == "nt" else "unix:///var/run/docker.sock")
    return Endpoint(host, None)


def _resolve_context(name: str) -> tuple[str, object | None]:
    """Endpoint and TLS config of a docker context, as `docker context inspect` reports them."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise EnvironmentMissing(f"--context {name}: the docker CLI is needed to resolve contexts",
                                 hint="install the docker client, or set DOCKER_HOST instead")
    proc = subprocess.run([docker_cli, "context", "inspect", name], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise BadInput(f"--context {name}: {first_line(proc.stderr or proc.stdout) or 'no such context'}",
                       hint="`docker context ls` lists them")
    try:
        entry = json.loads(proc.stdout)[0]
        endpoint = entry["Endpoints"]["docker"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise BadInput(f"--context {name}: `docker context inspect` gave no docker endpoint") from None
    host = endpoint.get("Host") or ""
    if not host:
        raise BadInput(f"--context {name}: the context has no docker host")
    return host, _tls_config(entry, endpoint)


def _tls_config(entry: dict, endpoint: dict) -> object | None:
    """TLS material the CLI stored with the context (ca.pem, cert.pem, key.pem), if any."""
    tls_path = (entry.get("Storage") or {}).get("TLSPath") or ""
    folder = Path(tls_path) / "docker"
    if not tls_path or not folder.is_dir():
        return None
    import docker

    ca, cert, key = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    return docker.tls.TLSConfig(
        client_cert=(str(cert), str(key)) if cert.exists() and key.exists() else None,
        ca_cert=str(ca) if ca.exists() else None,
        verify=not endpoint.get("SkipTLSVerify", False),
    )


def _current_context() -> str | None:
    """DOCKER_CONTEXT, else the CLI config's currentContext (what `docker context use` set)."""
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        return json.loads(config.read_text()).get("currentContext") or None
    except (OSError, ValueError, AttributeError):
        return None


# ---- the engine ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuFacts:
    present: bool | None  # None: can't tell (a remote engine without the nvidia runtime)
    source: str  # how we know, for the report

    def describe(self) -> str:
        state = {True: "GPU present", False: "no GPU", None: "GPU unknown"}[self.present]
        return f"{state} ({self.source})"


@dataclass
class Engine:
    endpoint: Endpoint
    client: Any  # docker.DockerClient (the Engine API)
    name: str = ""  # the engine host's name (`docker info` Name)
    version: str = ""
    os: str = ""
    docker_root: str | None = None
    driver: str = ""
    runtimes: tuple[str, ...] = ()
    # overlay2 layer scans by (diff dir, compressed): a diff of two images that share a base reads it once
    scan_cache: dict = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def context(self) -> str | None:
        return self.endpoint.context

    @property
    def local(self) -> bool:
        return self.endpoint.local

    def docker_cli(self) -> str:
        return self.endpoint.docker_cli()

    def docker_argv(self, *args: str) -> list[str]:
        """A docker CLI command line for this engine (for what only the CLI does: `docker run` streaming stdout)."""
        return ["docker", *self.endpoint.cli_args(), *args]

    @cached_property
    def cli(self):
        """python-on-whales' client for this engine (buildx, image tag/push/remove)."""
        from python_on_whales import DockerClient

        return DockerClient(context=self.context) if self.context else DockerClient()

    @cached_property
    def gpu(self) -> GpuFacts:
        return detect_gpu(self.local, self.runtimes)

    def image_attrs(self, ref: str, missing: str | None = None) -> dict:
        """`docker image inspect` of an image the engine holds; BadInput (`missing`, when given) when it holds
        none by that name."""
        if not ref or ref != ref.strip():
            raise BadInput(f"invalid image reference {ref!r}")
        with docker_errors(f"image {ref!r}", missing=missing):
            return self.client.api.inspect_image(ref)


def connect(context: str | None = None, *, timeout: int = DEFAULT_TIMEOUT) -> Engine:
    """Open the engine `context` names (see `resolve`); EnvironmentMissing when it doesn't answer."""
    import docker

    endpoint = resolve(context)
    ssh = endpoint.host.startswith("ssh://")
    try:
        if endpoint.context is None:
            client = docker.from_env(timeout=timeout, use_ssh_client=ssh)
        else:
            client = docker.DockerClient(base_url=endpoint.host, tls=endpoint.tls or False, timeout=timeout,
                                         use_ssh_client=ssh)
        info = client.info()
        version = client.version().get("Version", "")
    except Exception as err:  # docker-py raises DockerException, requests errors, OSError, paramiko errors...
        where = f"context {endpoint.context!r} ({endpoint.host})" if endpoint.context else endpoint.host
        raise EnvironmentMissing(
            f"cannot reach the Docker engine at {where}: {first_line(err)}",
            hint="start dockerd or set DOCKER_HOST; `buildopt doctor` checks the setup",
        ) from None
    return Engine(endpoint=endpoint, client=client, name=info.get("Name", ""), version=version,
                  os=info.get("OperatingSystem", ""), docker_root=info.get("DockerRootDir"),
                  driver=info.get("Driver", ""), runtimes=tuple(sorted((info.get("Runtimes") or {}).keys())))


_current: list[Engine] = []
_current_lock = threading.Lock()


def current() -> Engine:
    """The engine of this process (the CLI's current one), connected on first use and then shared."""
    with _current_lock:
        if not _current:
            _current.append(connect())
        return _current[0]


def detect_gpu(local: bool, runtimes: tuple[str, ...] | list[str]) -> GpuFacts:
    """Does the engine's host have an NVIDIA GPU? Local: its device nodes or nvidia-smi; remote: the runtime."""
    if local:
        nodes = sorted(glob.glob("/dev/nvidia[0-9]*"))
        if nodes:
            return GpuFacts(True, f"{nodes[0]} exists")
        smi = shutil.which("nvidia-smi")
        if smi:
            probe = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
            if probe.returncode == 0 and "GPU" in probe.stdout:
                return GpuFacts(True, "nvidia-smi lists a GPU")
        return GpuFacts(False, "no /dev/nvidia* device on this host")
    if "nvidia" in runtimes:
        return GpuFacts(True, "the engine has the nvidia runtime")
    return GpuFacts(None, "remote engine without the nvidia runtime: assumed CPU-only, not verified")


# ---- Docker's errors as buildopt's ----------------------------------------------------------------------------
@contextmanager
def docker_errors(what: str, *, missing: str | None = None) -> Iterator[None]:
    """Docker's errors inside this block as buildopt's: `what` doesn't exist on the engine (the message is
    `missing`, when given) or is malformed -> BadInput (exit 2); the engine or the CLI is unreachable or
    failed -> EnvironmentMissing (exit 4)."""
    import docker
    import requests
    from python_on_whales.client_config import ClientNotFoundError
    from python_on_whales.exceptions import DockerException as CliError, NoSuchImage

    try:
        yield
    except (docker.errors.NotFound, NoSuchImage):
        raise BadInput(missing or f"{what} not found in the engine (build or pull it first)") from None
    except docker.errors.APIError as err:
        if err.status_code is not None and 400 <= err.status_code < 500:
            raise BadInput(f"{missing or what}: {first_line(err.explanation or err)}") from None
        raise EnvironmentMissing(f"the Docker engine failed on {what}: {first_line(err)}") from None
    except ClientNotFoundError:
        raise EnvironmentMissing("the docker CLI is not installed", hint="run scripts/setup-toolchain.sh") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException, CliError, OSError) as err:
        raise EnvironmentMissing(f"cannot reach the Docker engine ({what}): {first_line(err)}",
                                 hint="buildopt doctor") from None


def first_line(err: object, limit: int = 300) -> str:
    """An error's first line, for a one-line message (its type's name when it says nothing)."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


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
    return ImageConfig(ref, str(config.get("User") or ""), env)


@lru_cache(maxsize=1)
def _client():
    """The lookup's client, or None when there is no engine (checked once, with a short timeout: analyze must
    work without one)."""
    try:
        return connect(timeout=_LOOKUP_TIMEOUT).client
    except (ImportError, BadInput, EnvironmentMissing):
        return None


RUN_LABEL_ENV = "BUILDOPT_RUN_LABEL"
RUN_LABEL = "buildopt.run"


def run_labels() -> dict[str, str]:
    """`buildopt.run=<value>` for every temporary image and container, when BUILDOPT_RUN_LABEL is set.

    Test runs and CI jobs that share one engine set it, so each finds and removes only what it created.
    """
    value = os.environ.get(RUN_LABEL_ENV, "").strip()
    return {RUN_LABEL: value} if value else {}


def compose_cli(files: list, *, project: str | None = None, directory=None, env_files: list | None = None):
    """python-on-whales' docker client for `docker compose` on these files (the Compose v2 CLI plugin:
    compose has no Engine API). EnvironmentMissing when the plugin is missing."""
    from python_on_whales import DockerClient

    if not _compose_installed():
        raise EnvironmentMissing("docker compose v2 is not installed",
                                 hint="scripts/setup-toolchain.sh installs the compose plugin")
    return DockerClient(context=current().context, compose_files=list(files), compose_project_name=project,
                        compose_project_directory=directory, compose_env_files=list(env_files or []))


@functools.cache
def _compose_installed() -> bool:
    docker_cli = shutil.which("docker")
    return docker_cli is not None and subprocess.run([docker_cli, "compose", "version"], capture_output=True).returncode == 0
class HelperFailed(Exception):
    """A helper container could not run or failed; the message is one line."""


def run_helper_container(image: str, entrypoint: str, args: list[str], *, mounts: list[tuple[str, str]],
                         caps: tuple[str, ...] = (), timeout: float = 900.0, purpose: str = "helper",
                         engine: Engine | None = None) -> bytes:
    """Run `entrypoint args` in a short-lived container of `image` and return its stdout.

    For the non-root fast paths (inspect/helper.py, scan.py): no network, every capability dropped but
    `caps`, no new privileges, the host paths in `mounts` ((host, container) pairs) read-only, labelled with
    the run label, removed when it ends, and removed by name if we are interrupted. It works in `/`, not in
    the image's WORKDIR (trivy resolves relative --skip-dirs against it). The docker CLI is used (not the
    SDK) so stdout streams through a pipe instead of the engine's log store. It runs on `engine` (default:
    the process's engine), the one that holds the image.
    """
    import uuid

    docker = (engine or current()).docker_argv()
    name = f"buildopt-{purpose}-{uuid.uuid4().hex[:12]}"
    argv = [*docker, "run", "--rm", "--name", name, "--network", "none", "--log-driver", "none",
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
        subprocess.run([*docker, "rm", "-f", name], capture_output=True)
        raise HelperFailed(f"the {purpose} container timed out after {timeout:.0f} s") from None
    except BaseException:
        subprocess.run([*docker, "rm", "-f", name], capture_output=True)
        raise
    if process.returncode != 0:
        lines = [line for line in process.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise HelperFailed(f"the {purpose} container exited {process.returncode}: {(lines or ['no output'])[-1][:300]}")
    return process.stdout


_empty_image: list[str] = []
_empty_lock = threading.Lock()


def empty_image(engine: Engine | None = None) -> str:
    """An image with nothing in it, for helper containers that must run no code of any image (inspect's
    helper bind-mounts the host's own Python). Made once per process by `docker import` of an empty tar,
    labelled `buildopt.helper=empty`, and removed when the process exits."""
    with _empty_lock:
        if _empty_image:
            return _empty_image[0]
        import io
        import tarfile
        import uuid

        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        tag = f"buildopt-helper/empty:{os.getpid()}-{uuid.uuid4().hex[:8]}"
        docker = (engine or current()).docker_argv()
        process = subprocess.run([*docker, "import", "--change", "LABEL buildopt.helper=empty", "-", tag],
                                 input=empty.getvalue(), capture_output=True)
        if process.returncode != 0:
            raise HelperFailed(f"cannot make the helper's empty image: {process.stderr.decode(errors='replace').strip()[:200]}")
        atexit.register(subprocess.run, [*docker, "image", "rm", "--force", tag], capture_output=True)
        _empty_image.append(tag)
        return tag
