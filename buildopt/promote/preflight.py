"""Preflight: everything that must hold before the service is touched, read from the running container.

- GPU: device requests (`--gpus`, compose `deploy.resources.reservations.devices`, `gpus:`), the nvidia
  runtime, GPU device nodes, and `torch.cuda.is_available()` inside the container when torch is there.
  A CPU-only torch build is refused for a service that uses a GPU.
- Mounts: each volume and bind mount. An anonymous volume that compose would not carry over to the new
  container (the new image doesn't declare it) is refused: its data would be left behind.
- The new image's user (compose `user:` wins over the image's USER) against the write permissions of
  each writable mount: refused, with the chown to run.
- Environment variables the old image set that the new one sets differently or not at all; the
  healthcheck each side will be judged by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .health import (
    HealthProbe,
    choose_probe,
    effective_healthcheck,
    healthcheck_interval,
)
from .probes import ImageFacts, MountAccess, RunningFacts, probe_image, probe_running
from .project import ComposeService

_ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
GPU_DEVICE_PREFIXES = ("/dev/nvidia", "/dev/dri", "/dev/kfd")


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    id: str
    size: int
    user: str
    env: dict[str, str]
    volumes: tuple[str, ...]
    healthcheck: list | None
    config: dict

    @classmethod
    def from_inspect(cls, ref: str, data: dict) -> ImageInfo:
        config = data.get("Config") or {}
        return cls(ref=ref, id=data["Id"], size=int(data.get("Size") or 0), user=config.get("User") or "",
                   env=_env_dict(config.get("Env")), volumes=tuple(sorted((config.get("Volumes") or {}).keys())),
                   healthcheck=(config.get("Healthcheck") or {}).get("Test"), config=config)


@dataclass(frozen=True)
class GpuUse:
    evidence: tuple[str, ...]  # each reason to think the service uses a GPU

    @property
    def in_use(self) -> bool:
        return bool(self.evidence)

    def describe(self) -> str:
        return "; ".join(self.evidence) if self.evidence else \
            "not in use (no device request, no --gpus, no compose device reservation, no nvidia runtime)"


@dataclass(frozen=True)
class MountCheck:
    type: str  # volume | bind | tmpfs
    source: str  # volume name or host path
    target: str
    writable: bool  # mounted read-write
    anonymous: bool = False
    carried: bool = True  # compose will mount it in the new container
    access: MountAccess | None = None  # for writable volume and bind mounts

    def describe(self) -> str:
        kind = "anonymous volume" if self.anonymous else self.type
        source = self.source[:12] if self.anonymous else self.source
        return f"{kind} {source} -> {self.target} ({'rw' if self.writable else 'ro'})"


@dataclass(frozen=True)
class EnvChange:
    key: str
    old: str
    new: str | None  # None: the new image doesn't set it


@dataclass
class Preflight:
    service: ComposeService
    container: dict  # the running (or first) container's inspect data
    running: bool
    original_ref: str  # the reference the container was created from
    old: ImageInfo
    new: ImageInfo
    gpu: GpuUse
    old_runtime: RunningFacts | None
    new_facts: ImageFacts
    new_user_spec: str
    mounts: list[MountCheck]
    env_changes: list[EnvChange]
    new_probe: HealthProbe
    old_probe: HealthProbe
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)  # commands that would clear a refusal (chown)

    @property
    def container_name(self) -> str:
        return self.container["Name"].lstrip("/")


def run_preflight(client, service: ComposeService, containers: list, old_image: dict, new_ref: str, new_image: dict, *,
                  health_cmd: str | None, http, settle_s: float, say=lambda message: None) -> Preflight:
    """All checks; nothing is changed. Refusals and warnings are collected, not raised."""
    first = containers[0]
    attrs = client.api.inspect_container(first.id)
    running = attrs["State"].get("Status") == "running"
    old = ImageInfo.from_inspect(attrs["Config"].get("Image") or old_image["Id"], old_image)
    new = ImageInfo.from_inspect(new_ref, new_image)
    gpu = GpuUse(tuple(dict.fromkeys([*_gpu_from_container(attrs), *_gpu_from_compose(service.config)])))
    user_spec = str(service.config.get("user") or new.user or "")
    mounts = [_mount_check(m, service, new) for m in attrs.get("Mounts") or []]
    probed = [m for m in attrs.get("Mounts") or [] if m.get("RW") and m.get("Type") in ("volume", "bind")]
    say(f"preflight: probing {new_ref} (user, torch build, write access to {len(probed)} mount(s))")
    facts = probe_image(client, new_ref, user_spec, probed)
    mounts = [MountCheck(**{**m.__dict__, "access": facts.mounts.get(m.target)}) for m in mounts]
    runtime = None
    if running:
        say(f"preflight: probing {attrs['Name'].lstrip('/')} (uid, torch.cuda.is_available())")
        runtime = probe_running(first)
    compose_env = _env_dict(service.config.get("environment"))
    report = Preflight(
        service=service, container=attrs, running=running, original_ref=old.ref, old=old, new=new, gpu=gpu,
        old_runtime=runtime, new_facts=facts, new_user_spec=user_spec, mounts=mounts,
        env_changes=_env_changes(old.env, new.env, compose_env),
        new_probe=choose_probe(command=health_cmd, healthcheck=effective_healthcheck(service.config, new.config),
                               http=http, settle_s=settle_s, interval_s=healthcheck_interval(service.config, new.config)),
        old_probe=choose_probe(command=health_cmd, healthcheck=effective_healthcheck({}, attrs["Config"]),
                               http=http, settle_s=settle_s, interval_s=healthcheck_interval({}, attrs["Config"])),
    )
    _judge(report)
    return report


def _judge(report: Preflight) -> None:
    runtime, facts = report.old_runtime, report.new_facts
    evidence = list(report.gpu.evidence)
    if runtime is not None and runtime.torch is not None and runtime.torch.cuda_available:
        evidence.append(f"torch.cuda.is_available() is True in {report.container_name} "
                        f"({runtime.torch.devices} device(s))")
        report.gpu = GpuUse(tuple(evidence))
    if report.gpu.in_use and facts.torch is not None and facts.torch.cpu_only:
        report.refusals.append(f"the service uses a GPU ({report.gpu.describe()}) and {report.new.ref} has a CPU-only "
                               f"torch ({facts.torch.version}): it would lose the GPU")
    if report.new.id == report.old.id:
        report.refusals.append(f"{report.container_name} already runs {report.new.ref} ({report.new.id[:19]})")
    for mount in report.mounts:
        if not mount.carried:
            report.refusals.append(
                f"{mount.target} is an anonymous volume ({mount.source[:12]}) that {report.new.ref} doesn't declare: "
                f"compose would start the new container without it. Name it in the compose file "
                f"(volumes: - NAME:{mount.target}) or declare VOLUME {mount.target} in the new image")
    if facts.error:
        if facts.error.startswith("user "):
            report.refusals.append(f"{report.new.ref}: {facts.error}")
        else:
            report.warnings.append(f"new image not probed ({facts.error}): uid, torch build and volume "
                                   "permissions unchecked")
    _judge_permissions(report)
    if runtime is not None and runtime.error:
        report.warnings.append(f"{report.container_name} not probed ({runtime.error}): "
                               "torch.cuda.is_available() unchecked")
    for mount in report.mounts:
        access = mount.access
        if access is not None and access.truncated:
            report.warnings.append(f"{mount.target}: permissions checked on the first {access.checked} entries only")
    if report.new_probe.kind == "running":
        report.warnings.append(f"health: {report.new_probe.detail}")


def _judge_permissions(report: Preflight) -> None:
    user = report.new_facts.user
    if user is None or user.uid == 0:
        return
    old_uid = report.old_runtime.uid if report.old_runtime is not None else None
    for mount in report.mounts:
        access = mount.access
        if access is None or access.error or not mount.writable:
            continue
        if access.top_writable and not access.not_writable:
            continue
        problems = []
        if not access.top_writable:
            problems.append(f"{mount.target} itself (owner {access.owner}:{access.group}, mode {access.mode})")
        if access.not_writable:
            example = access.examples[0] if access.examples else None
            problems.append(f"{access.not_writable} of {access.checked} entries"
                            + (f", e.g. {example[0]} (owner {example[1]}:{example[2]}, mode {example[3]})" if example else ""))
        report.refusals.append(f"{report.new.ref} runs as {user.describe()} and can't write {mount.describe()}: "
                               + "; ".join(problems))
        owner = f"{user.uid}:{user.gid}"
        if mount.type == "volume":
            report.fixes.append(f"docker run --rm --network none --user 0 --entrypoint chown -v {mount.source}:/fix "
                                f"{report.new.ref} -R {owner} /fix")
        else:
            report.fixes.append(f"sudo chown -R {owner} {mount.source}")
        if old_uid not in (None, 0, user.uid):
            report.warnings.append(f"the old container runs as uid {old_uid}: after that chown, a rollback to it can't "
                                   f"write {mount.target} either (a shared group with g+w keeps both working)")


def _mount_check(mount: dict, service: ComposeService, new: ImageInfo) -> MountCheck:
    kind = mount.get("Type") or ""
    source = mount.get("Name") if kind == "volume" else mount.get("Source") or ""
    anonymous = kind == "volume" and bool(_ANONYMOUS.match(source or ""))
    carried = True
    if anonymous:
        declared = {v.get("target") for v in service.config.get("volumes") or [] if isinstance(v, dict)}
        carried = mount["Destination"] in new.volumes or mount["Destination"] in declared
    return MountCheck(type=kind, source=source or "", target=mount["Destination"], writable=bool(mount.get("RW")),
                      anonymous=anonymous, carried=carried)


def _gpu_from_container(attrs: dict) -> list[str]:
    host = attrs.get("HostConfig") or {}
    found = []
    for request in host.get("DeviceRequests") or []:
        caps = sorted({cap for group in request.get("Capabilities") or [] for cap in group})
        driver = request.get("Driver") or ""
        ids = request.get("DeviceIDs") or []
        if "gpu" in caps or driver == "nvidia" or any("gpu" in str(i).lower() for i in ids):
            count = request.get("Count")
            amount = "all" if count == -1 else (f"ids {','.join(ids)}" if ids else str(count))
            found.append(f"device request on the container: driver {driver or '(any)'}, capabilities "
                         f"{','.join(caps) or '-'}, count {amount}")
    if host.get("Runtime") == "nvidia":
        found.append("the container runs with the nvidia runtime")
    for device in host.get("Devices") or []:
        path = device.get("PathInContainer") or device.get("PathOnHost") or ""
        if path.startswith(GPU_DEVICE_PREFIXES):
            found.append(f"GPU device {path} mapped into the container")
    return found


def _gpu_from_compose(config: dict) -> list[str]:
    found = []
    devices = ((((config.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or [])
    for device in devices:
        caps = device.get("capabilities") or []
        if "gpu" in caps or device.get("driver") == "nvidia":
            found.append(f"compose device reservation: driver {device.get('driver') or '(any)'}, "
                         f"capabilities {','.join(caps) or '-'}")
    if config.get("gpus"):
        found.append("compose `gpus:` on the service")
    return found


def _env_changes(old: dict[str, str], new: dict[str, str], compose: dict[str, str]) -> list[EnvChange]:
    """What the old image set (and compose doesn't) that changes with the new image."""
    return [EnvChange(key, value, new.get(key)) for key, value in sorted(old.items())
            if key not in compose and new.get(key) != value]


def _env_dict(env) -> dict[str, str]:
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    out = {}
    for item in env or []:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out
