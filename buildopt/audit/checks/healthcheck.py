"""no-healthcheck and trivial-healthcheck: the image's HEALTHCHECK, judged by buildopt.healthcheck."""

from __future__ import annotations

from ...healthcheck import healthcheck_kind
from ...inspect.model import ConfigFacts
from ...severity import Severity
from .base import ConfigCheck


class NoHealthcheck(ConfigCheck):
    slug = "no-healthcheck"
    severity = Severity.LOW
    title = "No healthcheck"
    fix = "Add `HEALTHCHECK CMD curl -f http://localhost:PORT/health || exit 1` (or set one in compose)."
    security = True

    def from_config(self, config: ConfigFacts):
        if healthcheck_kind(config.healthcheck) == "none":
            yield self.finding("the image has no HEALTHCHECK: a hung service looks alive")


class TrivialHealthcheck(ConfigCheck):
    slug = "trivial-healthcheck"
    severity = Severity.LOW
    title = "Healthcheck can't fail"
    fix = "Probe the service itself (an HTTP endpoint, or an import of the app's own modules)."
    security = True

    def from_config(self, config: ConfigFacts):
        if healthcheck_kind(config.healthcheck) == "trivial":
            yield self.finding(f"HEALTHCHECK {' '.join((config.healthcheck or [])[1:])!s} always succeeds")
