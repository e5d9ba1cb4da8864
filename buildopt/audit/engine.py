"""Which engine to audit: the local one, DOCKER_HOST (ssh://user@host works), or a docker context.

A context is resolved the way the docker CLI does it (`docker context inspect NAME`), so
`buildopt audit --context prod` talks to exactly the engine `docker --context prod images` lists.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, EnvironmentMissing


@dataclass(frozen=True)
class GpuFacts:
    present: bool | None  # None: can't tell (a remote engine without the nvidia runtime)
    source: str  # how we know, for the report

    def describe(self) -> str:
        state = {True: "GPU present", False: "no GPU", None: "GPU unknown"}[self.present]
        return f"{state} ({self.source})"


@dataclass
class AuditEngine:
    client: object  # docker.DockerClient
    context: str | None  # the docker context used, None for DOCKER_HOST / default
    endpoint: str  # unix:///var/run/docker.sock, ssh://user@host, tcp://...
    local: bool  # the engine runs on this machine: its storage and /dev are ours to read
    name: str  # the engine host's name (`docker info` Name)
    version: str
    os: str
    docker_root: str | None
    driver: str
    runtimes: tuple[str, ...]
    gpu: GpuFacts

    def docker_cli(self) -> str:
        """The docker command line that reaches this engine, for commands printed in the report."""
        if self.context:
            return f"docker --context {self.context}"
        if not self.local:
            return f"DOCKER_HOST={self.endpoint} docker"
        return "docker"


def connect(context: str | None = None, *, timeout: int = 120) -> AuditEngine:
    """Open a client for `context`, else DOCKER_HOST, else the CLI's current context, else the default socket."""
    import docker

    if context is None and not os.environ.get("DOCKER_HOST"):
        context = _current_context()
    if context not in (None, "default"):
        endpoint, tls = _resolve_context(context)
        context_used = context
    else:  # DOCKER_HOST, or the platform's default socket, as docker.from_env picks them
        endpoint = os.environ.get("DOCKER_HOST") or (
            "npipe:////./pipe/docker_engine" if os.name == "nt" else "unix:///var/run/docker.sock")
        tls, context_used = None, None
    try:
        if context_used is None:
            client = docker.from_env(timeout=timeout, use_ssh_client=endpoint.startswith("ssh://"))
        else:
            client = docker.DockerClient(
                base_url=endpoint, tls=tls or False, timeout=timeout, use_ssh_client=endpoint.startswith("ssh://"))
        info = client.info()
        version = client.version().get("Version", "")
    except Exception as err:  # docker-py raises DockerException, requests errors, OSError, paramiko errors...
        where = f"context {context_used!r} ({endpoint})" if context_used else endpoint
        raise EnvironmentMissing(
            f"cannot reach the Docker engine at {where}: {_first_line(err)}",
            hint="check that dockerd runs there and that you can reach it (`docker info`)",
        ) from None
    local = endpoint.startswith(("unix://", "npipe://"))
    runtimes = tuple(sorted((info.get("Runtimes") or {}).keys()))
    return AuditEngine(
        client=client, context=context_used, endpoint=endpoint, local=local, name=info.get("Name", ""),
        version=version, os=info.get("OperatingSystem", ""), docker_root=info.get("DockerRootDir"),
        driver=info.get("Driver", ""), runtimes=runtimes, gpu=detect_gpu(local, runtimes),
    )


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


def _resolve_context(name: str) -> tuple[str, object | None]:
    """Endpoint and TLS config of a docker context, as `docker context inspect` reports them."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise EnvironmentMissing(f"--context {name}: the docker CLI is needed to resolve contexts",
                                 hint="install the docker client, or set DOCKER_HOST instead")
    proc = subprocess.run([docker_cli, "context", "inspect", name], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise BadInput(f"--context {name}: {_first_line(proc.stderr or proc.stdout) or 'no such context'}",
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


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
