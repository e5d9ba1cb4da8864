"""no-healthcheck (BO113) and trivial-healthcheck (BO114). What "trivial" means lives in buildopt/healthcheck.py,
shared with compare, optimize and audit so they all judge a healthcheck the same way."""

from __future__ import annotations

from ..healthcheck import healthcheck_kind
from ..severity import Severity
from .base import Rule
from .context import RuleContext


class NoHealthcheck(Rule):
    id = "BO113"
    slug = "no-healthcheck"
    severity = Severity.LOW
    title = "The final image has no HEALTHCHECK"
    fix = ("Add a HEALTHCHECK that exercises the service, e.g. "
           "`HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://localhost:8000/health || exit 1`.")
    scope = "final stage and the local stages it is built FROM"

    def check(self, ctx: RuleContext):
        final = ctx.final
        if final.healthcheck is None:
            yield self.finding(final.stage, "no HEALTHCHECK in the final stage: orchestrators can't tell a hung service")
        elif healthcheck_kind(final.healthcheck) == "none":
            yield self.finding(final.healthcheck, "`HEALTHCHECK NONE` disables the health check")


class TrivialHealthcheck(Rule):
    id = "BO114"
    slug = "trivial-healthcheck"
    severity = Severity.LOW
    title = "The HEALTHCHECK can't fail"
    fix = ("Check what the service needs: an HTTP endpoint (`curl -fsS http://localhost:PORT/health || exit 1`), or "
           "for a worker, its broker connection or a heartbeat file; don't end it with `|| true`.")
    scope = "final stage and the local stages it is built FROM"

    def check(self, ctx: RuleContext):
        healthcheck = ctx.final.healthcheck
        if healthcheck is not None and healthcheck_kind(healthcheck) == "trivial":
            command = " ".join(healthcheck.value[1:]) if healthcheck.value else ""
            yield self.finding(healthcheck, f"the healthcheck `{command}` always succeeds, so a broken service still "
                                            f"reports healthy")
