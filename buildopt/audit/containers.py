"""Every container of the engine, running or stopped, with what the audits checked by hand.

Memory and CPU limits, healthcheck and its last status, restart policy, ports published on all
interfaces, mounts (read-only or writable, source code bind-mounted in dev mode, the Docker socket),
privileged mode, added capabilities and the user. One `containers(all=True)` call, then one inspect
per container (servers run tens of containers, not thousands).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import EnvironmentMissing
from ..healthcheck import healthcheck_kind

# Where images keep their code: a bind mount onto one of these replaces the image's code with the host's.
CODE_DIRS = frozenset({"/app", "/code", "/src", "/usr/src/app", "/workspace", "/srv/app", "/opt/app", "/home/app"})
# Files whose presence at a bind-mounted directory's top says "this is a source tree".
CODE_MARKERS = ("pyproject.toml", "setup.py", "requirements.txt", "package.json", "Dockerfile", "manage.py",
                "go.mod", "Cargo.toml", "main.py", "app.py")


@dataclass(frozen=True)
class Mount:
    type: str  # bind, volume, tmpfs, npipe
    source: str
    destination: str
    writable: bool
    source_code: bool = False  # a bind mount of a source tree over the image's code (dev mode)
    docker_socket: bool = False

    def describe(self) -> str:
        mode = "rw" if self.writable else "ro"
        source = self.source if self.type == "bind" else f"{self.type}:{self.source[:24]}"
        return f"{source}:{self.destination}:{mode}"


@dataclass(frozen=True)
class ContainerRecord:
    id: str
    name: str
    image: str  # the reference it was created from
    image_id: str
    state: str  # running, exited, created, restarting, paused, dead
    user: str
    healthcheck: str  # none | trivial | ok (buildopt.healthcheck)
    health_status: str | None  # healthy, unhealthy, starting; None without a healthcheck or when stopped
    memory_limit: int  # bytes, 0 = unlimited
    cpu_limit: float | None  # CPUs (--cpus or quota/period), None = unlimited
    cpuset: str
    restart_policy: str  # no, always, unless-stopped, on-failure[:N]
    ports: tuple[str, ...]  # published ports, "0.0.0.0:8000->8000/tcp"
    ports_all_interfaces: tuple[str, ...]  # the subset reachable on every interface
    network_mode: str
    mounts: tuple[Mount, ...]
    readonly_rootfs: bool
    privileged: bool
    cap_add: tuple[str, ...]
    compose_project: str = ""
    compose_service: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def runs_as_root(self) -> bool:
        name = self.user.split(":")[0]
        return name in ("", "root", "0")

    @property
    def has_limits(self) -> bool:
        """The audits' "resource limits": a memory limit (a CPU limit alone doesn't stop an OOM spiral)."""
        return self.memory_limit > 0

    @property
    def source_mounts(self) -> list[Mount]:
        return [mount for mount in self.mounts if mount.source_code]

    @property
    def writable_binds(self) -> list[Mount]:
        return [mount for mount in self.mounts if mount.type == "bind" and mount.writable]

    def problems(self) -> list[tuple[str, str]]:
        """(slug, text) for each thing the audits would flag, worst first."""
        found = []
        if self.privileged:
            found.append(("privileged", "runs privileged (full access to the host's devices)"))
        for mount in self.mounts:
            if mount.docker_socket:
                found.append(("docker-socket", f"mounts the Docker socket ({mount.source}): root on the host"))
        if self.cap_add:
            found.append(("extra-capabilities", f"adds capabilities {', '.join(self.cap_add)}"))
        if self.runs_as_root:
            found.append(("root-user", "runs as root"))
        if self.ports_all_interfaces:
            found.append(("port-all-interfaces",
                          f"publishes {', '.join(self.ports_all_interfaces)} on all interfaces (bind 127.0.0.1 "
                          "behind a reverse proxy)"))
        if self.network_mode == "host":
            found.append(("host-network", "uses the host network: every port it opens is public"))
        for mount in self.source_mounts:
            found.append(("source-bind-mount",
                          f"bind-mounts source code {mount.source} over {mount.destination} (dev mode: "
                          "production code should be in the image)"))
        if self.healthcheck == "none":
            found.append(("no-healthcheck", "no healthcheck"))
        elif self.healthcheck == "trivial":
            found.append(("trivial-healthcheck", "healthcheck can't fail"))
        if self.health_status == "unhealthy":
            found.append(("unhealthy", "healthcheck reports unhealthy"))
        if not self.memory_limit:
            found.append(("no-memory-limit", "no memory limit"))
        if self.cpu_limit is None and not self.cpuset:
            found.append(("no-cpu-limit", "no CPU limit"))
        if self.restart_policy in ("", "no"):
            found.append(("no-restart-policy", "no restart policy"))
        return found


def list_containers(client, *, local: bool) -> list[ContainerRecord]:
    """All containers, running or stopped. `local`: the engine's paths are this machine's (checks mounts)."""
    import docker

    try:
        summaries = client.api.containers(all=True)
    except Exception as err:
        raise EnvironmentMissing(f"the Docker engine failed to list containers: {str(err).splitlines()[0][:300]}") from None
    records = []
    for summary in summaries:
        try:
            data = client.api.inspect_container(summary["Id"])
        except docker.errors.NotFound:
            continue  # removed between the list and the inspect
        records.append(container_record(data, local=local))
    records.sort(key=lambda record: (not record.running, record.name))
    return records


def container_record(data: dict, *, local: bool = False) -> ContainerRecord:
    """One `docker inspect <container>` document -> ContainerRecord."""
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    state = data.get("State") or {}
    labels = dict(config.get("Labels") or {})
    health = (config.get("Healthcheck") or {}).get("Test")
    kind = healthcheck_kind(health)
    status = (state.get("Health") or {}).get("Status") if kind != "none" and state.get("Running") else None
    ports, public = _ports(host.get("PortBindings") or {})
    workdir = config.get("WorkingDir") or ""
    mounts = tuple(_mount(mount, workdir, local) for mount in data.get("Mounts") or [])
    policy = host.get("RestartPolicy") or {}
    restart = policy.get("Name") or "no"
    if restart == "on-failure" and policy.get("MaximumRetryCount"):
        restart = f"on-failure:{policy['MaximumRetryCount']}"
    return ContainerRecord(
        id=data.get("Id", ""),
        name=(data.get("Name") or "").lstrip("/"),
        image=config.get("Image", ""),
        image_id=data.get("Image", ""),
        state=state.get("Status", ""),
        user=config.get("User") or "",
        healthcheck=kind,
        health_status=status,
        memory_limit=int(host.get("Memory") or 0),
        cpu_limit=_cpus(host),
        cpuset=host.get("CpusetCpus") or "",
        restart_policy=restart,
        ports=tuple(ports),
        ports_all_interfaces=tuple(public),
        network_mode=host.get("NetworkMode") or "",
        mounts=mounts,
        readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        privileged=bool(host.get("Privileged")),
        cap_add=tuple(host.get("CapAdd") or ()),
        compose_project=labels.get("com.docker.compose.project", ""),
        compose_service=labels.get("com.docker.compose.service", ""),
        labels=labels,
    )


def _cpus(host: dict) -> float | None:
    if host.get("NanoCpus"):
        return host["NanoCpus"] / 1e9
    quota, period = host.get("CpuQuota") or 0, host.get("CpuPeriod") or 0
    if quota > 0:
        return quota / (period or 100_000)
    return None


def _ports(bindings: dict) -> tuple[list[str], list[str]]:
    """Published ports from HostConfig.PortBindings (set for stopped containers too)."""
    ports, public = [], []
    for container_port, binds in sorted(bindings.items()):
        for bind in binds or []:
            host_ip = bind.get("HostIp") or ""
            host_port = bind.get("HostPort") or "?"
            everywhere = host_ip in ("", "0.0.0.0", "::", "[::]")
            text = f"{host_ip or '0.0.0.0'}:{host_port}->{container_port}"
            ports.append(text)
            if everywhere:
                public.append(text)
    return ports, public


def _mount(mount: dict, workdir: str, local: bool) -> Mount:
    kind = mount.get("Type", "")
    source = mount.get("Source") or mount.get("Name") or ""
    destination = mount.get("Destination", "")
    socket = kind == "bind" and source.endswith("docker.sock")
    return Mount(
        type=kind, source=source, destination=destination, writable=bool(mount.get("RW", True)),
        source_code=kind == "bind" and not socket and _is_source_tree(source, destination, workdir, local),
        docker_socket=socket,
    )


def _is_source_tree(source: str, destination: str, workdir: str, local: bool) -> bool:
    """A dev-mode mount: a host directory over the image's code (its WORKDIR or a usual code dir).

    On a local engine the directory itself is checked for source-tree markers too.
    """
    destination = destination.rstrip("/") or "/"
    if destination in ("/", "/tmp", "/data", "/var", "/etc"):
        return False
    if destination == (workdir.rstrip("/") or "/") or destination in CODE_DIRS:
        return True
    if local and os.path.isdir(source):
        return any(os.path.exists(os.path.join(source, marker)) for marker in CODE_MARKERS)
    return False
