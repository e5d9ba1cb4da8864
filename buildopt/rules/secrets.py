"""secret-in-env (BO117): token, password or key-like names in ENV, or in ARG with a default.

ENV values are stored in the image config for anyone who pulls it; ARG defaults sit in the Dockerfile and
in the build history. A literal value is critical; a value taken from a build argument (`ENV TOKEN=$TOKEN`)
still copies it into the image. A placeholder (empty, `no`, `none`, `changeme`, `<your-key>`, `xxx`, a variable
the file never defines) holds no secret: low, a reminder to pass the real value at run time. A boolean
(`USE_AUTH_TOKEN=no`) is a switch, not a secret. Values are never printed.
"""

from __future__ import annotations

import itertools
import re

from ..dockerfile import arg_pairs, env_pairs, substitute
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
    return any((a, b) in _SECRET_PAIRS for a, b in itertools.pairwise(words))


_BOOLEAN = frozenset({"true", "false", "yes", "no", "on", "off", "0", "1", "y", "n", "enabled", "disabled"})
# Values that stand for "set me at deploy time" rather than a secret.
_PLACEHOLDER = re.compile(
    r"""^(none|null|nil|undefined|unset|empty|n/?a|-+|\.+|\*+|x{3,}|changeme|change[-_ .]?(me|it|this)|replace[-_ .]?(me|this)"""
    r"""|todo|tbd|fixme|placeholder|example|dummy|fake|sample|default|secret|password|passwd|token|api[-_]?key|key"""
    r"""|(your|insert|put|enter|set)[-_ .].*|.*[-_ .](here|placeholder|goes[-_ .]here)|<[^<>]*>|\{\{.*\}\}|\[.*\])$""",
    re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def is_placeholder(value: str) -> bool:
    """An empty or stand-in value: "", none, changeme, <your-key>, xxx, your_api_key_here ..."""
    text = value.strip().strip("\"'").strip()
    return text == "" or bool(_PLACEHOLDER.match(text))


def _classify(value: str | None, expanded: str | None, build_args: set[str], defined: set[str]) -> tuple[Severity, str] | None:
    """(severity, why) for one secret-named variable's value; None when the value is a switch, not a secret."""
    if value is None or value.strip() in ("", '""', "''"):
        return Severity.LOW, "declared empty (a placeholder: pass the value at run time)"
    if "$" in value:
        referenced = set(_VARIABLE.findall(value))
        if referenced & build_args:
            return Severity.HIGH, "set from a build argument, which copies its value into the image"
        if referenced & defined:
            return Severity.HIGH, "set from another variable, which copies its value into the image"
        value = expanded if expanded is not None else ""  # nothing the file defines: what is left after substitution
        if is_placeholder(value):
            return Severity.LOW, "set from a variable the file never defines: a placeholder at build time"
    if value.strip().strip("\"'").lower() in _BOOLEAN:
        return None
    if is_placeholder(value):
        return Severity.LOW, "set to a placeholder value (not shown): pass the real value at run time"
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
        global_args: set[str] = set()
        scopes: dict[int, tuple[set[str], set[str]]] = {}  # stage -> (build args declared, variables defined)
        for ins in ctx.dockerfile.instructions:
            if ins.cmd == "FROM":
                continue
            if ins.stage < 0:
                build_args, defined = global_args, set[str]()
            else:
                if ins.stage not in scopes:
                    facts = ctx.facts[ins.stage]
                    inherited = set(facts.parent.env) if facts.parent is not None else {n for n, _ in (facts.base.env if facts.base else ())}
                    scopes[ins.stage] = (set(), inherited)
                build_args, defined = scopes[ins.stage]
            if ins.cmd == "ENV":
                pairs: dict[str, str | None] = dict(env_pairs(ins))
            elif ins.cmd == "ARG":
                declared = arg_pairs(ins)
                pairs = {name: value for name, value in declared.items() if value is not None}
            else:
                continue
            hits = []
            for name, value in pairs.items():
                if secret_like(name):
                    expanded = substitute(value, {}) if value and "$" in value else value
                    verdict = _classify(value, expanded, build_args, defined)
                    if verdict is not None:
                        hits.append((name, verdict))
            if ins.cmd == "ARG":
                build_args.update(declared)
            else:
                defined.update(pairs)
            if not hits:
                continue
            worst = max(severity for _, (severity, _) in hits)
            described = "; ".join(f"{ins.cmd} {name} {why}" for name, (_, why) in hits)
            yield self.finding(ins, described, severity=worst)
