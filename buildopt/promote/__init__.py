"""Promote stage: swap a running compose service to an optimized image, with a backup tag and a rollback.

preflight (read-only) -> backup tag + state file -> override file + `docker compose up -d SERVICE` ->
wait for healthy -> success: move the service's tag to the new image, report what pruning the backup
frees; failure: roll back to the backup and wait for healthy again. See docs/promote.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..engine import current
from ..errors import BadInput, ExitCode
from ..files import read_text
from ..report.compare_schema import CompareReport
from .backup import (
    ImageUsage,
    backup_tag_for,
    backup_time,
    create_backup,
    existing_backup,
    image_id_of,
    image_usage,
    is_tag,
    tag_image,
)
from .health import (
    HealthProbe,
    HealthResult,
    choose_probe,
    effective_healthcheck,
    healthcheck_interval,
    logs_tail,
    wait_healthy,
)
from .preflight import Preflight, run_preflight
from .project import ComposeService, find_compose_file, load_service, service_containers
from .rollback import roll_back, rollback_plan
from .state import (
    PROMOTED,
    PROMOTING,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    PromoteState,
    Promotion,
    load_state,
    now_iso,
    override_text,
    write_override,
)
from .swap import SwapFailed, compose_up, missing_mounts, up_command


@dataclass
class PromoteRequest:
    service: str
    compose_file: Path | None = None  # None: the file docker compose would pick in the current directory
    image: str | None = None
    from_report: Path | None = None
    project_name: str | None = None
    dry_run: bool = False
    timeout_s: float = 300.0
    health_cmd: str | None = None
    config_file: Path | None = None  # buildopt.toml with [smoke].http (default: searched from the compose dir)
    settle_s: float = 10.0


@dataclass(frozen=True)
class Reclaim:
    old_size: int
    new_size: int
    frees: int  # what pruning the backup frees: the old image's bytes no other image shares
    held_by: tuple[str, ...] = ()  # other tags or containers that keep the old image (then frees is 0)


@dataclass
class PromoteOutcome:
    action: str  # plan | refused | promoted | rolled-back | rollback-failed | rollback-plan
    service: ComposeService
    state: PromoteState
    preflight: Preflight | None = None
    record: Promotion | None = None
    health: HealthResult | None = None  # the new image's (promote) or the old image's (--rollback)
    rollback_health: HealthResult | None = None
    logs: list[str] = field(default_factory=list)  # the tail of the failed container's logs
    reason: str | None = None
    reclaim: Reclaim | None = None
    steps: list[str] = field(default_factory=list)  # what was (or, for a plan, would be) done
    seconds: float = 0.0
    backup_tags: tuple[str, ...] = ()  # every backup tag on the old image after the promote

    @property
    def exit_code(self) -> ExitCode:
        if self.action == "rollback-failed":
            return ExitCode.SERVICE_DOWN
        if self.action == "refused" or (self.action == "rolled-back" and self.health is not None and not self.health.ok):
            return ExitCode.FINDINGS
        if self.action == "plan" and self.preflight is not None and self.preflight.refusals:
            return ExitCode.FINDINGS
        return ExitCode.OK

    @property
    def prune_command(self) -> str | None:
        """Removes the backup tag, with any other backup tag of the same image (pruning only one frees nothing)."""
        if self.record is None:
            return None
        tags = [self.record.backup_tag, *sorted(t for t in self.backup_tags if t != self.record.backup_tag)]
        return "docker image rm " + " ".join(tags)


def promote(request: PromoteRequest, say: Callable[[str], None] = lambda message: None) -> PromoteOutcome:
    import time

    started = time.monotonic()
    compose_file = find_compose_file(request.compose_file)
    if (request.image is None) == (request.from_report is None):
        raise BadInput("give the optimized image with --image REF or --from-report report.json (one of them)")
    engine = current()
    client = engine.client
    new_ref, report_refusals = _new_image_ref(client, request)
    new_image = engine.image_attrs(new_ref, f"image {new_ref!r} not found in the local engine (build or pull it first)")
    service, containers = load_service(compose_file, request.service, client, request.project_name)
    if not containers:
        raise BadInput(f"service {service.name} has no container: start it first "
                       f"({service.compose_command(None, 'up', '-d', service.name)})")
    state = load_state(compose_file, service.project)
    latest = state.latest(service.name)
    if latest is not None and latest.status == PROMOTING:
        raise BadInput(f"an earlier promote of {service.name} did not finish ({state.path.name} says promoting): "
                       f"run `buildopt promote {service.name} --rollback` first")
    if not os.access(compose_file.parent, os.W_OK):
        raise BadInput(f"{compose_file.parent}: not writable; the state and override files go next to the compose file")
    old_image = engine.image_attrs(containers[0].attrs["Image"], "the running container's image is gone from the engine")
    if old_image["Id"] == new_image["Id"]:
        raise BadInput(f"service {service.name} already runs {new_ref} ({new_image['Id'][:19]})")
    say(f"preflight on {containers[0].name}")
    pre = run_preflight(client, service, containers, old_image, new_ref, new_image, health_cmd=request.health_cmd,
                        http=_smoke_http(compose_file, request.config_file), settle_s=request.settle_s, say=say)
    pre.refusals[:0] = report_refusals
    outcome = PromoteOutcome(action="plan", service=service, state=state, preflight=pre)
    if pre.refusals:
        outcome.action = "plan" if request.dry_run else "refused"
        return outcome
    if not pre.running:
        raise BadInput(f"service {service.name} is not running ({pre.container_name} is "
                       f"{pre.container['State'].get('Status')}): start it first, the preflight reads the running container")
    when = datetime.now(UTC)
    backup_ref = pre.original_ref if is_tag(pre.original_ref) else service.image_ref
    backup = existing_backup(client, pre.old.id, backup_ref) or backup_tag_for(backup_ref, when)
    images = {**state.override_images(), service.name: new_ref}
    outcome.steps = [
        f"docker tag {pre.old.id[:19]} {backup}",
        f"write {state.path.name} (status {PROMOTING}) and {state.override_path.name}:\n"
        + "\n".join("    " + line for line in override_text(images).splitlines() if not line.startswith("#")),
        up_command(service, state.override_path),
        f"wait up to {request.timeout_s:g} s: {pre.new_probe.detail}",
        (f"healthy: point {service.image_ref} at the new image (when nothing else uses the old one); "
         f"not healthy: roll back to {backup}"),
    ]
    if request.dry_run:
        return outcome

    backup = create_backup(client, pre.old.id, backup_ref, when)
    say(f"backup: {backup} -> {pre.old.id[:19]}")
    record = Promotion(
        service=service.name, status=PROMOTING, started=now_iso(), config_files=[str(p) for p in service.config_files],
        env_files=[str(p) for p in service.env_files], working_dir=str(service.working_dir),
        service_ref=service.image_ref, old_image_id=pre.old.id, old_size=pre.old.size, backup_tag=backup,
        new_ref=new_ref, new_image_id=pre.new.id, new_size=pre.new.size, override_image=new_ref)
    state.promotions.append(record)
    state.save()
    outcome.record = record
    override = write_override(state)
    old_mounts = [m for m in pre.container.get("Mounts") or [] if m.get("Type") in ("volume", "bind")]
    try:
        say(f"swap: {up_command(service, override)}")
        health = _swap_and_wait(client, service, override, pre, old_mounts, request.timeout_s, say)
    except BaseException:  # Ctrl-C or a crash mid-swap: put the old image back before giving up
        say("interrupted: rolling back")
        record.reason = "interrupted"
        health_back = roll_back(client, service, state, record, pre.old_probe, timeout_s=request.timeout_s, say=say)
        record.status = ROLLED_BACK if health_back.ok else ROLLBACK_FAILED
        record.finished = now_iso()
        state.save()
        raise
    outcome.health = health
    if health.ok:
        say(f"healthy: {health.detail}")
        _finish(client, service, state, record, pre, outcome)
    else:
        say(f"not healthy: {health.detail}; rolling back to {backup}")
        outcome.logs = logs_tail(client, health.container_id)
        record.reason = health.detail
        outcome.rollback_health = roll_back(client, service, state, record, pre.old_probe,
                                            timeout_s=request.timeout_s, say=say)
        record.status = ROLLED_BACK if outcome.rollback_health.ok else ROLLBACK_FAILED
        record.health = f"new image: {health.detail}; after the rollback: {outcome.rollback_health.detail}"
        record.finished = now_iso()
        state.save()
        outcome.action = "rolled-back" if outcome.rollback_health.ok else "rollback-failed"
        outcome.reason = health.detail
    outcome.seconds = time.monotonic() - started
    return outcome


def rollback(request: PromoteRequest, say: Callable[[str], None] = lambda message: None) -> PromoteOutcome:
    """`--rollback`: back to the backup of the service's latest promote."""
    import time

    started = time.monotonic()
    compose_file = find_compose_file(request.compose_file)
    if request.image is not None or request.from_report is not None:
        raise BadInput("--rollback takes no --image or --from-report: it goes back to the recorded backup")
    engine = current()
    client = engine.client
    service, _ = load_service(compose_file, request.service, client, request.project_name)
    state = load_state(compose_file, service.project)
    record = state.latest(service.name)
    if record is None:
        raise BadInput(f"no promote of {service.name} recorded in {state.path}")
    if record.status == ROLLED_BACK:
        raise BadInput(f"the last promote of {service.name} ({record.started}) was already rolled back")
    old_image = engine.image_attrs(record.old_image_id,
                                   f"the old image {record.old_image_id[:19]} ({record.backup_tag}) is gone from the engine")
    old_config = old_image.get("Config") or {}
    probe = choose_probe(command=request.health_cmd, healthcheck=effective_healthcheck(service.config, old_config),
                         http=_smoke_http(compose_file, request.config_file), settle_s=request.settle_s,
                         interval_s=healthcheck_interval(service.config, old_config))
    outcome = PromoteOutcome(action="rollback-plan", service=service, state=state, record=record,
                             steps=[*rollback_plan(client, service, state, record),
                                    f"wait up to {request.timeout_s:g} s: {probe.detail}"])
    if request.dry_run:
        return outcome
    record.reason = "--rollback"
    health = roll_back(client, service, state, record, probe, timeout_s=request.timeout_s, say=say)
    record.status = ROLLED_BACK if health.ok else ROLLBACK_FAILED
    record.health = f"after the rollback: {health.detail}"
    record.finished = now_iso()
    state.save()
    outcome.action = "rolled-back" if health.ok else "rollback-failed"
    outcome.rollback_health = health
    if not health.ok:
        outcome.logs = logs_tail(client, health.container_id)
        outcome.reason = health.detail
    outcome.seconds = time.monotonic() - started
    return outcome


def _swap_and_wait(client, service: ComposeService, override, pre: Preflight, old_mounts: list[dict],
                   timeout_s: float, say) -> HealthResult:
    def containers():
        return service_containers(client, service.project, service.name)

    try:
        compose_up(service, override)
    except SwapFailed as err:
        current = containers()
        return HealthResult(False, str(err), 0.0, current[0].name if current else None, current[0].id if current else None)
    for container in containers():
        lost = missing_mounts(old_mounts, client.api.inspect_container(container.id))
        if lost:
            return HealthResult(False, f"{container.name} lacks the old container's mounts: {', '.join(lost)}", 0.0,
                                container.name, container.id)
    say(f"waiting for healthy ({pre.new_probe.kind}, up to {timeout_s:g} s)")
    return wait_healthy(client, containers, pre.new_probe, image_id=pre.new.id, timeout_s=timeout_s, say=say)


def _finish(client, service: ComposeService, state: PromoteState, record: Promotion, pre: Preflight,
            outcome: PromoteOutcome) -> None:
    """Healthy: move the service's own tag to the new image so that the backup tag is the old image's last
    reference (pruning it frees the bytes) and a plain `docker compose up` keeps the new image. Only when
    no other service or container uses that tag or the old image. The promote stands even if the engine
    can't report disk usage: then nothing is moved and the reclaim is unknown."""
    from ..errors import BuildoptError

    ref = service.image_ref
    others = service.other_services_using(ref)
    usage = None
    try:
        usage = image_usage(client, record.old_image_id)
        if (is_tag(ref) and ref != record.new_ref and image_id_of(client, ref) == record.old_image_id and not others
                and usage is not None and usage.containers <= 0):
            tag_image(client, record.new_image_id, ref)
            record.retagged = ref
            usage = image_usage(client, record.old_image_id)
    except BuildoptError as err:
        outcome.reason = f"reclaim not measured: {err}"
    record.status = PROMOTED
    record.health = outcome.health.detail if outcome.health else None
    record.finished = now_iso()
    state.save()
    outcome.action = "promoted"
    outcome.reclaim = _reclaim(record, usage, others)
    outcome.backup_tags = tuple(t for t in (usage.tags if usage else ()) if backup_time(t) is not None)


def _reclaim(record: Promotion, usage: ImageUsage | None, others: list[str]) -> Reclaim:
    if usage is None:
        return Reclaim(record.old_size, record.new_size, 0, ("(disk usage not measured)",))
    held = [t for t in usage.tags if backup_time(t) is None]  # backup tags go with the prune
    if usage.containers > 0:
        held.append(f"{usage.containers} container(s)")
    held += [f"service {name}" for name in others]
    return Reclaim(old_size=usage.size, new_size=record.new_size, frees=0 if held else usage.unique_size,
                   held_by=tuple(held))


def _new_image_ref(client, request: PromoteRequest) -> tuple[str, list[str]]:
    """--image, or the optimized variant of a compare report.json (with a refusal if its smoke tests failed)."""
    if request.image is not None:
        if not request.image.strip() or request.image != request.image.strip():
            raise BadInput(f"--image {request.image!r}: not an image reference")
        return request.image, []
    path = request.from_report
    assert path is not None  # promote() checked that one of --image and --from-report is given
    if not path.exists():
        raise BadInput(f"{path}: no such report")
    try:
        text = read_text(path, what="report.json")  # a regular file only: a FIFO would block
    except OSError as err:
        raise BadInput(f"{path}: not a buildopt compare report.json ({err})") from None
    optimized = CompareReport.from_json(text, str(path)).variants.optimized  # strict: the compare schema
    if not optimized.built or not optimized.tag:
        raise BadInput(f"{path}: the optimized variant was not built")
    tag, expected = optimized.tag, optimized.image_id
    found = image_id_of(client, tag)
    if found is None:
        raise BadInput(f"{path}: the optimized image {tag} is gone (compare removes it unless --keep-images): "
                       "rerun compare with --keep-images, or pass --image")
    if expected and found != expected:
        raise BadInput(f"{path}: {tag} now names {found[:19]}, not the report's {expected[:19]}")
    refusals = []
    if optimized.smoke is not None and not optimized.smoke.passed:
        failed = [check.name for check in optimized.smoke.checks if not check.ok]
        refusals.append(f"{path}: the optimized image failed its smoke tests ({', '.join(failed[:3])})")
    return tag, refusals


def _smoke_http(compose_file: Path, config_file: Path | None):
    """[smoke].http from buildopt.toml (next to the compose file, or --config)."""
    from ..config import load_config
    from ..smoke import spec_from_config

    config = load_config(compose_file.parent, explicit=config_file)
    if not config.smoke:
        return None
    return spec_from_config(config.smoke, config.source.parent if config.source else compose_file.parent).http


__all__ = ["HealthProbe", "PromoteOutcome", "PromoteRequest", "Reclaim", "promote", "rollback"]
