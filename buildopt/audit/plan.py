"""The audit's action plan: steps by priority (P0-P3), each with its gain, computed once from an
`AuditReport` so that every report format renders the same plan.

Quick wins (dangling images) come first, as the second hand-written audit did; then image rebuilds at
their priority, upstream issues and compose fixes (P2), and the security step (P3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..units import format_size
from . import categories, savings

PRIORITIES = savings.PRIORITIES
TITLES = {
    "P0": "P0 - now: the biggest gains",
    "P1": "P1 - next",
    "P2": "P2 - then: medium images, containers, upstream",
    "P3": "P3 - security and hygiene",
}
# What a finding's fix is called in a plan line.
SHORT_FIXES = {"cuda-without-gpu": "CPU torch", "baked-model": "models in a volume", "build-toolchain": "multi-stage",
               "heavy-runtime-package": "split heavy tools", "package-cache": "no caches",
               "hidden-copies": "clean in the same layer", "root-user": "non-root user", "no-healthcheck": "healthcheck",
               "eol-python": "supported Python"}
WORTH_PLANNING = 10 * 1000**2  # a rebuild saving less than this is only planned for its P0/P1 fixes


@dataclass(frozen=True)
class PlanItem:
    what: str
    image: str | None  # the image's display name, None for steps about the engine or containers
    actions: tuple[str, ...]
    gain: int

    def to_dict(self) -> dict:
        return {"what": self.what, "image": self.image, "actions": list(self.actions), "gain": self.gain}


@dataclass(frozen=True)
class PlanStep:
    priority: str
    title: str
    items: tuple[PlanItem, ...]
    gain: int
    cumulative_gain: int

    def to_dict(self) -> dict:
        return {"priority": self.priority, "title": self.title, "items": [item.to_dict() for item in self.items],
                "gain": self.gain, "cumulative_gain": self.cumulative_gain}


def action_plan(report) -> list[PlanStep]:
    """The steps of an `AuditReport`, P0 first; priorities without an item are left out."""
    plan: dict[str, list[PlanItem]] = {priority: [] for priority in PRIORITIES}
    if report.dangling:
        plan["P0"].append(PlanItem(f"Prune {count(len(report.dangling), 'dangling image')}", None,
                                   (f"`{prune_command(report)}`",), report.inventory.dangling_unique))
    for audit in report.images:
        name = audit.record.display
        if audit.category == categories.CUSTOM:
            actions = tuple(fix_lines((f.fix, f.bytes) for f in audit.findings))
            # Image rebuilds worth planning; security-only fixes are grouped in the P3 "Security" step.
            if audit.savings.gain >= WORTH_PLANNING or (actions and audit.priority in ("P0", "P1")):
                plan[audit.priority].append(PlanItem(f"{name}: {_short_plan(audit.findings)}", name, actions,
                                                     audit.savings.gain))
        elif audit.verdict == savings.ASK_UPSTREAM:
            plan["P2"].append(PlanItem(f"{name}: open the upstream issue (draft in this report)", name,
                                       (audit.upstream.title,) if audit.upstream else (), 0))
    containers = [container.record for container in report.containers]
    fixes = []
    no_health = [c.name for c in containers if c.healthcheck == "none"]
    no_limits = [c.name for c in containers if not c.memory_limit]
    public = [c.name for c in containers if c.ports_all_interfaces]
    dev_mounts = [c.name for c in containers if any(m.source_code for m in c.mounts)]
    if no_health:
        fixes.append(f"add a healthcheck: {names(no_health)}")
    if no_limits:
        fixes.append(f"set memory/CPU limits (deploy.resources.limits): {names(no_limits)}")
    if public:
        fixes.append(f"publish on 127.0.0.1 behind the reverse proxy: {names(public)}")
    if dev_mounts:
        fixes.append(f"remove dev-mode source mounts in production: {names(dev_mounts)}")
    if fixes:
        plan["P2"].append(PlanItem("Containers: compose fixes", None, tuple(fixes), 0))
    security = []
    root_images = [a.record.display for a in report.images if a.category == categories.CUSTOM and _has(a, "root-user")]
    if root_images:
        security.append(f"add a non-root USER: {names(root_images)}")
    privileged = [c.name for c in containers if c.privileged or c.cap_add]
    if privileged:
        security.append(f"drop privileged mode / added capabilities: {names(privileged)}")
    eol = [a.record.display for a in report.images if _has(a, "eol-python")]
    if eol:
        security.append(f"move to a supported Python: {names(eol)}")
    security.append("scan images with trivy (`buildopt compare`, or `trivy image`): vulnerabilities and secrets "
                    "are not measured by the audit")
    plan["P3"].append(PlanItem("Security", None, tuple(security), 0))
    steps, cumulative = [], 0
    for priority, items in plan.items():
        if not items:
            continue
        gain = sum(item.gain for item in items)
        cumulative += gain
        steps.append(PlanStep(priority, TITLES[priority], tuple(items), gain, cumulative))
    return steps


def prune_command(report) -> str:
    return f"{report.engine.docker_cli()} image prune -f"


def fix_lines(fixes: Iterable[tuple[str, int]]) -> list[str]:
    """Each distinct fix once, with the bytes it removes: (fix, bytes) pairs in the findings' order."""
    lines, seen = [], set()
    for fix, size in fixes:
        if fix in seen:
            continue
        seen.add(fix)
        lines.append(f"{fix} (-{format_size(size)})" if size else fix)
    return lines


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def names(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _short_plan(findings) -> str:
    parts = []
    for finding in findings:
        label = SHORT_FIXES.get(finding.slug)
        if label and label not in parts:
            parts.append(label)
    return " + ".join(parts[:4]) or "rebuild"


def _has(audit, slug: str) -> bool:
    return any(finding.slug == slug for finding in audit.findings)
