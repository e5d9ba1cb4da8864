"""eol-python (security: no more fixes) and eol-python-soon (within a year: advice) for the image's Python, by
the dates in audit/python_eol.py."""

from __future__ import annotations

from datetime import date

from ...inspect.model import ImageProfile
from ...severity import Severity
from .. import python_eol
from ..inventory import ImageDetails
from .base import Check, Finding
from .context import HistoryContext, ProfileContext


class EolPython(Check):
    slug = "eol-python"
    severity = Severity.MEDIUM
    title = "End-of-life Python"
    fix = "Move to a supported Python (3.12 or later) and rebuild."
    security = True
    soon_slug = "eol-python-soon"  # the same check, a year ahead: LOW, not a security finding
    soon_fix = "Plan the move to Python 3.12 or later."

    def from_history(self, ctx: HistoryContext):
        return self._judge(python_from_config(ctx.details), "the image's ENV/build steps", ctx.today)

    def from_profile(self, ctx: ProfileContext):
        return self._judge(python_in_profile(ctx.profile), "the image's files", ctx.today)

    def _judge(self, version: tuple[int, int] | None, source: str, today: date | None) -> list[Finding]:
        if version is None:
            return []
        label = python_eol.label(version)
        eol = python_eol.end_of_life(version)
        if python_eol.is_eol(version, today):
            return [self.finding(
                f"Python {label} ({source}) stopped getting security fixes" + (f" on {eol.isoformat()}" if eol else ""),
                title=f"{self.title} {label}")]
        if eol is not None and (eol - (today or date.today())).days <= 365:
            return [self.finding(
                f"Python {label} ({source}) gets security fixes until {eol.isoformat()}",
                slug=self.soon_slug, severity=Severity.LOW, fix=self.soon_fix, security=False,
                title=f"Python {label} reaches end of life on {eol.isoformat()}")]
        return []


def python_from_config(details: ImageDetails) -> tuple[int, int] | None:
    """PYTHON_VERSION (official python images), else the newest python3.X a build step or ENV names."""
    env = details.config.env
    if env.get("PYTHON_VERSION"):
        return python_eol.parse_version(env["PYTHON_VERSION"])
    seen = set()
    for value in env.values():
        seen |= python_eol.versions_in_text(value)
    for step in details.history:
        seen |= python_eol.versions_in_text(step.created_by)
    return max(seen) if seen else None


def python_in_profile(profile: ImageProfile) -> tuple[int, int] | None:
    """The newest CPython whose standard library the image holds (/usr/lib or /usr/local/lib)."""
    found = []
    for minor in range(5, 16):
        for prefix in ("/usr/local/lib", "/usr/lib"):
            if profile.file(f"{prefix}/python3.{minor}/os.py") is not None:
                found.append((3, minor))
    if profile.file("/usr/lib/python2.7/os.py") is not None:
        found.append((2, 7))
    return max(found) if found else None
