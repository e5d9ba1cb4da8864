"""Estimated savings, size group, verdict and priority (P0-P3) of one image, as the audits ranked them.

Rules (docs/audit.md), calibrated on the first audit's ten applications, which they reproduce:
- size group: critical above 5 GB, medium from 500 MB to 5 GB, optimal below 500 MB;
- gain: the bytes the findings would remove (custom images only: the user rebuilds those). For a
  third-party image the mechanical waste (toolchains, caches, hidden copies) is the upstream gain;
- custom: P0 when the gain is >= 5 GB or at least half of a critical image; P1 when it is >= 1 GB or
  the image is critical; P2 when it is >= 100 MB or the image is medium; P3 otherwise;
- third-party: "ask upstream" when the upstream gain is >= 500 MB or >= 20% of the image (P2), else
  "accept the size" (P2 when critical, to watch releases; P3 otherwise); official/database: accept, P3;
  a third-party or official image of 500 MB or more whose containers lack a healthcheck or a memory limit
  is P2 (the first audit's n8n: the fix is in compose, not in the image).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import categories
from .findings import Finding

MB = 1000**2
GB = 1000**3
CRITICAL_SIZE = 5 * GB
MEDIUM_SIZE = 500 * MB
PRIORITIES = ("P0", "P1", "P2", "P3")
GROUPS = ("critical", "medium", "optimal")

REBUILD = "rebuild"  # custom: apply the fixes
ASK_UPSTREAM = "ask-upstream"
ACCEPT = "accept"


@dataclass(frozen=True)
class Savings:
    gain: int  # bytes the user removes by rebuilding (0 for images they don't build)
    upstream_gain: int  # bytes the image's maintainer could remove without changing the app
    optimized_size: int
    parts: tuple[tuple[str, int], ...]  # (finding slug, bytes), largest first
    basis: str  # files | layer | estimate | mixed | none

    @property
    def percent(self) -> float:
        total = self.optimized_size + self.gain
        return 100.0 * self.gain / total if total else 0.0


def size_group(size: int) -> str:
    if size > CRITICAL_SIZE:
        return "critical"
    if size >= MEDIUM_SIZE:
        return "medium"
    return "optimal"


def estimate(size: int, category: str, findings: list[Finding]) -> Savings:
    """Sum the findings' bytes (never more than the image): measured ones add up exactly, because the
    profile puts every byte in one group; history ones are each capped by their layer."""
    parts: dict[str, int] = {}
    bases = set()
    for finding in findings:
        if finding.bytes > 0:
            parts[finding.slug] = parts.get(finding.slug, 0) + finding.bytes
            bases.add(finding.basis)
    removable = min(size, sum(parts.values()))
    upstream = min(size, sum(f.bytes for f in findings if f.upstream and f.bytes > 0))
    gain = removable if category == categories.CUSTOM else 0
    if not bases:
        basis = "none"
    elif len(bases) == 1:
        basis = bases.pop()
    else:
        basis = "mixed"
    return Savings(gain=gain, upstream_gain=upstream, optimized_size=size - gain,
                   parts=tuple(sorted(parts.items(), key=lambda item: (-item[1], item[0]))), basis=basis)


def verdict(category: str, size: int, savings: Savings) -> str:
    if category == categories.CUSTOM:
        return REBUILD
    if category == categories.THIRD_PARTY and worth_asking_upstream(size, savings.upstream_gain):
        return ASK_UPSTREAM
    return ACCEPT


def worth_asking_upstream(size: int, upstream_gain: int) -> bool:
    return upstream_gain >= 500 * MB or (upstream_gain >= 100 * MB and upstream_gain >= size * 0.2)


def priority(category: str, size: int, savings: Savings, *, container_gaps: bool = False) -> str:
    """`container_gaps`: a container of this image lacks a healthcheck or a memory limit (compose fixes)."""
    group = size_group(size)
    if category == categories.CUSTOM:
        gain = savings.gain
        if gain >= 5 * GB or (group == "critical" and gain * 2 >= size):
            return "P0"
        if gain >= 1 * GB or group == "critical":
            return "P1"
        if gain >= 100 * MB or group == "medium":
            return "P2"
        return "P3"
    if category == categories.THIRD_PARTY and (verdict(category, size, savings) == ASK_UPSTREAM or group == "critical"):
        return "P2"
    if container_gaps and group != "optimal":
        return "P2"
    return "P3"
