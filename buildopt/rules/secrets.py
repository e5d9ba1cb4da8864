"""secret-in-env (BO117): token, password or key-like names in ENV, or in ARG with a default.

ENV values are stored in the image config for anyone who pulls it; ARG defaults sit in the Dockerfile and
in the build history. A literal value is critical; a value taken from a variable (`ENV TOKEN=$TOKEN`) still
copies the build argument into the image. Values are never printed.
"""

from __future__ import annotations

import re

from ..dockerfile import arg_pairs, env_pairs
from ..severity import Severity
from .base import Rule
from .context import RuleContext

_SECRET_WORDS = frozenset({"TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "APIKEY", "CREDENTIALS", "CREDENTIAL"})
_SECRET_PAIRS = frozenset({("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SECRET", "KEY"), ("AUTH", "KEY"),
                           ("CLIENT", "SECRET"), ("SIGNING", "KEY"), ("ENCRYPTION", "KEY")})
_NOT_A_VALUE = frozenset({"FILE", "PATH", "DIR", "URL", "NAME", "LENGTH", "LEN", "TYPE", "HEADER", "ENDPOINT", "ID"})


def secret_like(name: str) -> bool:
    words = [w for w in re.split(r"[_\-.]", name.upper()) if w]
    if not words or words[-1] in _NOT_A_VALUE:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any((a, b) in _SECRET_PAIRS for a, b in zip(words, words[1:]))


def _severity(value: str | None) -> tuple[Severity, str]:
    if value is None or value.strip() in ("", '""', "''"):
        return Severity.MEDIUM, "declared empty"
    if "$" in value:
        return Severity.HIGH, "set from a build variable, which copies its value into the image"
    return Severity.CRITICAL, "set to a literal value (not shown)"


class SecretInEnv(Rule):
    id = "BO117"
    slug = "secret-in-env"
    severity = Severity.CRITICAL
    title = "A token, password or key is set in ENV (or an ARG default)"
    fix = ("Pass secrets at run time (environment, orchestrator secrets), and at build time use "
           "`RUN --mount=type=secret,id=token ...`; never ENV or ARG defaults.")
    scope = "every stage and the ARGs before the first FROM"

    def check(self, ctx: RuleContext):
        for ins in ctx.dockerfile.instructions:
            if ins.cmd == "ENV":
                pairs: dict[str, str | None] = dict(env_pairs(ins))
            elif ins.cmd == "ARG":
                pairs = {name: value for name, value in arg_pairs(ins).items() if value is not None}
            else:
                continue
            hits = [(name, _severity(value)) for name, value in pairs.items() if secret_like(name)]
            if not hits:
                continue
            worst = max(severity for _, (severity, _) in hits)
            described = "; ".join(f"{ins.cmd} {name} {why}" for name, (_, why) in hits)
            yield self.finding(ins, described, severity=worst)
