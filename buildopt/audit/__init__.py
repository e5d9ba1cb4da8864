"""Audit stage: every image and container of an engine -> `AuditReport` (what the seeds' audits did by hand).

Steps: connect (local, DOCKER_HOST or a docker context) -> inventory (bulk df + dangling list) ->
per image: config and history findings (two small API calls), plus the files themselves (buildopt.inspect)
for custom images on a local overlay2 engine, or for every image with deep=True -> savings, priority,
verdict, security score -> containers -> upstream drafts. Profiles are dropped as soon as their
findings are taken, so memory stays flat with hundreds of images. See docs/audit.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from ..engine import Engine, GpuFacts, connect
from ..promote.backup import BackupTag, find_backups
from ..score import SecurityFacts, SecurityScore, security_score
from . import categories, savings as savings_mod
from .containers import ContainerRecord, list_containers
from .findings import (
    Finding,
    config_findings,
    is_ml,
    pick,
    profile_findings,
    python_from_config,
    python_in_profile,
    security_facts,
)
from .inventory import (
    ImageDetails,
    ImageGone,
    ImageRecord,
    Inventory,
    image_details,
    take_inventory,
)
from .prune import PruneResult, prune_dangling
from .savings import Savings
from .upstream import UpstreamDraft, draft_issue

SCHEMA = "buildopt.audit/v1"

__all__ = [
    "SCHEMA",
    "AuditOptions",
    "AuditReport",
    "ContainerAudit",
    "ContainerRecord",
    "DanglingImage",
    "Finding",
    "GpuFacts",
    "ImageAudit",
    "ImageRecord",
    "PruneResult",
    "Savings",
    "UpstreamDraft",
    "apply_prune",
    "connect",
    "prune_dangling",
    "run_audit",
]

AUDIT_TIMEOUT = 120  # seconds per Engine API request: a hung remote engine fails the audit sooner than compare



@dataclass
class AuditOptions:
    context: str | None = None  # docker context name; None: DOCKER_HOST, the CLI's current context, or local
    min_size: int = 0  # images below this are counted in the totals but not detailed
    fail_over: int | None = None  # custom images larger than this fail the audit (exit 1)
    deep: bool | None = None  # None: read files of custom images on a local overlay2 engine; True: all; False: none
    today: date | None = None  # for end-of-life checks (tests pin it)


@dataclass(frozen=True)
class LayerSummary:
    index: int | None
    size: int
    created_by: str


@dataclass
class ImageAudit:
    record: ImageRecord
    category: str
    kind: str  # ml, database, infrastructure, base, app
    depth: str  # "files" (deep pass) or "config" (config and history only)
    findings: list[Finding]
    savings: Savings
    group: str  # critical, medium, optimal
    verdict: str  # rebuild, ask-upstream, accept
    priority: str  # P0..P3
    score: SecurityScore
    projected_score: SecurityScore  # after the recommended fixes
    containers: list[str]  # names of the containers using it
    top_layers: list[LayerSummary]
    user: str
    healthcheck: str  # none, trivial, ok
    python: str | None
    os_release: str = ""
    upstream: UpstreamDraft | None = None
    deep_error: str | None = None
    reader: str | None = None


@dataclass(frozen=True)
class DanglingImage:
    record: ImageRecord
    last_step: str  # the build step that made its top layer, to tell what it was


@dataclass(frozen=True)
class ContainerAudit:
    record: ContainerRecord
    problems: tuple[tuple[str, str], ...]
    score: SecurityScore


@dataclass
class AuditReport:
    engine: Engine
    generated: str
    options: AuditOptions
    inventory: Inventory
    images: list[ImageAudit]  # detailed images (>= min_size), by priority then size
    small_images: list[ImageRecord]  # below min_size: counted, not detailed
    dangling: list[DanglingImage]
    containers: list[ContainerAudit]
    over_budget: list[ImageAudit] = field(default_factory=list)  # custom images above fail_over
    over_budget_small: list[ImageRecord] = field(default_factory=list)
    prune: PruneResult | None = None
    backups: list[BackupTag] = field(default_factory=list)  # `buildopt promote` backup tags, newest first
    vanished: list[ImageRecord] = field(default_factory=list)  # removed by another process during the audit: skipped
    duration_s: float = 0.0
    deep_seconds: float = 0.0

    @property
    def overall_score(self) -> int | None:
        scores = [image.score.score for image in self.images]
        return round(sum(scores) / len(scores)) if scores else None

    @property
    def projected_overall_score(self) -> int | None:
        scores = [image.projected_score.score for image in self.images]
        return round(sum(scores) / len(scores)) if scores else None

    @property
    def total_gain(self) -> int:
        return sum(image.savings.gain for image in self.images)

    @property
    def failed(self) -> bool:
        return bool(self.over_budget or self.over_budget_small)


def run_audit(options: AuditOptions, *, progress: Callable[[str], None] | None = None,
              engine: Engine | None = None) -> AuditReport:
    """Audit every image and container of the engine `options.context` names. Read-only."""
    started = time.monotonic()
    say = progress or (lambda message: None)
    engine = engine or connect(options.context, timeout=AUDIT_TIMEOUT)
    say(f"listing images on {engine.host}")
    inventory = take_inventory(engine.client)
    containers = list_containers(engine.client, local=engine.local)
    by_image: dict[str, list[ContainerRecord]] = {}
    for container in containers:
        by_image.setdefault(container.image_id, []).append(container)

    detailed = [image for image in inventory.images if image.size >= options.min_size]
    small = [image for image in inventory.images if image.size < options.min_size]
    audits, deep_seconds, vanished = [], 0.0, []
    deep_ids = {record.id for record in detailed if _wants_deep(options.deep, record.category, engine)}
    say(f"{len(detailed)} images to audit, files of {len(deep_ids)} to read")
    for record in detailed:
        category = record.category
        try:
            details = image_details(engine.client, record.id)
        except ImageGone:  # another process removed it since the listing: nothing left to audit
            vanished.append(record)
            say(f"skipped {_ref(record)}: removed while the audit ran")
            continue
        found = config_findings(details, engine.gpu, today=options.today)
        deep_found, depth, reader, deep_error, os_release, python = None, "config", None, None, "", None
        if record.id in deep_ids:
            if record.size >= 1000**3:  # only the slow ones are worth a progress line
                say(f"reading files of {_ref(record)} ({record.size / 1000**3:.1f} GB)")
            t0 = time.monotonic()
            try:
                deep_found, reader, os_release, python = _deep(
                    record, engine, options.today, reader="auto" if options.deep else "overlay2")
                depth = "files"
            except Exception as err:  # an unreadable image must not stop the audit of the others
                deep_error = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            deep_seconds += time.monotonic() - t0
        findings = pick(found, deep_found)
        if python is None:
            version = python_from_config(details)
            python = f"{version[0]}.{version[1]}" if version else None
        image_containers = by_image.get(record.id, [])
        estimate = savings_mod.estimate(record.size, category, findings)
        gaps = any(c.healthcheck == "none" or not c.memory_limit for c in image_containers)
        facts = security_facts(findings, image_containers)
        kind = categories.kind_of_name(list(record.repo_tags), list(record.repo_digests)) or (
            "ml" if is_ml(findings, details) else "app")
        verdict = savings_mod.verdict(category, record.size, estimate)
        audits.append(ImageAudit(
            record=record, category=category, kind=kind, depth=depth, findings=findings, savings=estimate,
            group=savings_mod.size_group(record.size), verdict=verdict,
            priority=savings_mod.priority(category, record.size, estimate, container_gaps=gaps),
            score=security_score(facts), projected_score=security_score(_fixed(facts, category)),
            containers=[c.name for c in image_containers],
            top_layers=_top_layers(details), user=details.config.user,
            healthcheck=facts.healthcheck or "none", python=python, os_release=os_release,
            upstream=draft_issue(_ref(record), record.size, findings, estimate)
            if category == categories.THIRD_PARTY else None,
            deep_error=deep_error, reader=reader,
        ))
    audits.sort(key=lambda audit: (audit.priority, -audit.savings.gain, -audit.record.size, _ref(audit.record)))

    if vanished:  # the totals, categories and backups describe the images the report lists
        gone = {record.id for record in vanished}
        inventory = replace(inventory, images=[record for record in inventory.images if record.id not in gone])
    dangling = [DanglingImage(record, _last_step(engine.client, record.id)) for record in inventory.dangling]
    container_audits = [ContainerAudit(c, tuple(c.problems()), security_score(_container_facts(c)))
                        for c in containers]
    report = AuditReport(
        engine=engine, generated=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        options=options, inventory=inventory, images=audits, small_images=small, dangling=dangling,
        containers=container_audits, deep_seconds=deep_seconds, backups=find_backups(inventory.images),
        vanished=vanished,
    )
    if options.fail_over is not None:
        report.over_budget = [a for a in audits if a.category == categories.CUSTOM and a.record.size > options.fail_over]
        report.over_budget_small = [r for r in small if r.category == categories.CUSTOM and r.size > options.fail_over]
    report.duration_s = time.monotonic() - started
    return report


def apply_prune(report: AuditReport) -> PruneResult:
    """Remove the dangling images this report lists (only those), and record the result in the report."""
    report.prune = prune_dangling(report.engine.client, [d.record for d in report.dangling])
    return report.prune


def _wants_deep(deep: bool | None, category: str, engine: Engine) -> bool:
    if deep is False:
        return False
    if deep is True:
        return True
    # auto: custom images, and only where the fast overlay2 reader works (seconds, not a `docker save`)
    return category == categories.CUSTOM and engine.local and engine.driver == "overlay2"


def _deep(record: ImageRecord, engine: Engine, today: date | None, *, reader: str):
    """Findings from the image's files. Auto mode asks for the overlay2 reader only: when it can't read
    the image (not root), the audit keeps the config findings instead of exporting the image."""
    from ..inspect import inspect_image

    profile = inspect_image(record.id, reader, engine=engine)
    try:
        found = profile_findings(profile, engine.gpu, today=today)
        version = python_in_profile(profile)
        python = f"{version[0]}.{version[1]}" if version else None
        return found, profile.reader, profile.os_release, python
    finally:
        del profile  # its file list is the only large thing the audit ever holds


def _fixed(facts: SecurityFacts, category: str) -> SecurityFacts:
    """The facts after the report's recommendations: image fixes for images the user builds,
    container fixes (limits, no privileged mode) for all."""
    changes: dict = {}
    if category == categories.CUSTOM:
        changes.update(runs_as_root=False, healthcheck="ok", build_tools=False, eol_python=False)
    if facts.privileged is not None:
        changes.update(privileged=False, extra_capabilities=False, memory_limit=True)
    return replace(facts, **changes)


def _container_facts(container: ContainerRecord) -> SecurityFacts:
    return SecurityFacts(
        runs_as_root=container.runs_as_root, healthcheck=container.healthcheck, privileged=container.privileged,
        extra_capabilities=bool(container.cap_add), memory_limit=container.memory_limit > 0,
    )


def _top_layers(details: ImageDetails, count: int = 5) -> list[LayerSummary]:
    steps = sorted((step for step in details.history if step.size), key=lambda step: -step.size)[:count]
    return [LayerSummary(step.index, step.size, step.created_by) for step in steps]


def _last_step(client, image_id: str) -> str:
    try:
        history = client.api.history(image_id) or []
    except Exception:
        return ""
    from .inventory import clean_created_by

    for step in history:  # newest first
        text = clean_created_by(step.get("CreatedBy") or "")
        if step.get("Size") and text:
            return text
    return clean_created_by(history[0].get("CreatedBy") or "") if history else ""


def _ref(record: ImageRecord) -> str:
    return record.repo_tags[0] if record.repo_tags else record.short_id
