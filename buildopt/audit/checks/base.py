"""The audit's finding model and the `Check` base class.

A check is one small class carrying its own metadata (slug, severity floor, title, fix, security or upstream
waste) and up to two readings of one concern: `from_history(ctx)` on the config and build history,
`from_profile(ctx)` on the image's files. checks/registry.py lists them in one ordered table. Slugs reuse the
rule catalog's where the concept is the same (root-user, no-healthcheck, trivial-healthcheck, eol-python,
baked-model); they are contracts of report.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...severity import Severity

if TYPE_CHECKING:
    from ...inspect.model import ConfigFacts
    from ..inventory import HistoryLayer
    from .context import HistoryContext, ProfileContext

MB = 1000**2
GB = 1000**3

# basis of a finding's bytes
FILES = "files"  # summed from the image's files (deep pass)
LAYER = "layer"  # the measured size of the layer that did it (history)
ESTIMATE = "estimate"  # a documented figure (buildopt.estimates), capped by the layer's size
CONFIG = "config"  # no bytes: a config fact
LAYER_SIZE = "the layer's size in `docker history`"


@dataclass(frozen=True)
class LayerPart:
    """Where a finding's bytes sit: one layer, the build step that made it, what it holds there."""

    layer: int | None
    created_by: str
    holds: str
    bytes: int
    basis: str = ""  # where the figure comes from, in words ("" = the finding's basis)


@dataclass(frozen=True)
class Finding:
    slug: str
    severity: Severity
    title: str
    detail: str
    fix: str
    bytes: int = 0  # what fixing it removes from the image
    basis: str = CONFIG
    security: bool = False
    upstream: bool = False  # mechanical waste a maintainer removes without changing the app (toolchain, caches)
    layer: int | None = None
    created_by: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)
    parts: tuple[LayerPart, ...] = field(default_factory=tuple)

    @property
    def tag(self) -> str:
        """The audits' bracket: [SECURITY], [CRITICAL], [MEDIUM], [LOW]."""
        if self.security:
            return "SECURITY"
        return "CRITICAL" if self.severity >= Severity.HIGH else str(self.severity).upper()


class Check:
    slug: ClassVar[str]  # a contract (report.json, docs/audit.md)
    severity: ClassVar[Severity]  # the floor: size_severity raises it with the bytes found
    title: ClassVar[str]  # what the check reports, in one line (a finding may name what it found)
    fix: ClassVar[str]
    security: ClassVar[bool] = False  # counts in the security score and the report's security section
    upstream: ClassVar[bool] = False  # mechanical waste (see Finding.upstream)

    def from_history(self, ctx: HistoryContext) -> Iterable[Finding]:
        return ()

    def from_profile(self, ctx: ProfileContext) -> Iterable[Finding]:
        return ()

    def finding(self, detail: str, **fields: Any) -> Finding:
        """A Finding with this check's metadata; `fields` sets the rest (bytes, basis, layer...) or overrides it."""
        values: dict[str, Any] = {"slug": self.slug, "severity": self.severity, "title": self.title, "fix": self.fix,
                                  "security": self.security, "upstream": self.upstream}
        values.update(fields)
        return Finding(detail=detail, **values)


class ConfigCheck(Check):
    """A check on the image config alone (user, healthcheck): the same at both depths."""

    def from_config(self, config: ConfigFacts) -> Iterable[Finding]:
        raise NotImplementedError

    def from_history(self, ctx: HistoryContext) -> Iterable[Finding]:
        return self.from_config(ctx.config)

    def from_profile(self, ctx: ProfileContext) -> Iterable[Finding]:
        return self.from_config(ctx.config)


def size_severity(num_bytes: int, floor: Severity) -> Severity:
    """By the bytes a finding removes: at least HIGH from 1 GB, at least MEDIUM from 100 MB (the floor when it is
    higher), LOW below that; the floor when no bytes are counted."""
    if num_bytes >= 1 * GB:
        return max(Severity.HIGH, floor)
    if num_bytes >= 100 * MB:
        return max(Severity.MEDIUM, min(floor, Severity.HIGH))
    return min(floor, Severity.LOW) if num_bytes else floor


def layer_name(step: HistoryLayer) -> str:
    return str(step.index) if step.index is not None else f"step {step.step}"


def clip(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
