"""no-dockerignore (BO120): large or sensitive paths in the build context that .dockerignore doesn't exclude.

Needs --context (skipped without it). BuildKit sends only what COPY/ADD name, so a path copied into the
image (`COPY . .`) is worse than one that is merely in the context: the first is reported as medium (high
when it holds secrets such as .env), the second as low.
"""

from __future__ import annotations

import posixpath

from ..estimates import context_files
from ..severity import Severity
from ..units import format_size
from .base import Rule
from .buildcontext import Notable
from .context import RuleContext

_KIND_LABEL = {"git": ".git history", "venv": "virtualenv", "node_modules": "node_modules", "weights": "model weights",
               "secret": "secrets", "large": "large file"}


def _copied(notable: Notable, sources: list[str]) -> bool:
    from fnmatch import fnmatchcase

    for source in sources:
        clean = posixpath.normpath(source.lstrip("/"))
        if clean in (".", "", "*"):
            return True
        if notable.path == clean or notable.path.startswith(clean + "/") or fnmatchcase(notable.path, clean):
            return True
    return False


class NoDockerignore(Rule):
    id = "BO120"
    slug = "no-dockerignore"
    severity = Severity.MEDIUM
    title = "The build context has large or sensitive paths that .dockerignore doesn't exclude"
    fix = ("Add a .dockerignore excluding at least: .git, .venv/venv, node_modules, __pycache__, .env*, "
           "models/ and *.safetensors/*.bin/*.pt weights.")
    scope = "the build context (--context); skipped without it"

    def check(self, ctx: RuleContext):
        context = ctx.context
        if context is None:
            return
        sources = [s for copy in ctx.copies() if copy.from_ is None for s in copy.sources
                   if "://" not in s and not s.startswith("<<")]
        copied = [n for n in context.notable if _copied(n, sources)]
        present = list(context.notable)
        first_copy = next((copy.ins for copy in ctx.copies() if copy.from_ is None), None)
        where = first_copy if first_copy is not None else ctx.dockerfile.stages[0]
        has_file = context.dockerignore is not None
        if not present:
            if not has_file:
                yield self.finding(where, f"no .dockerignore in {context.root}: every file of the context "
                                          f"({format_size(context.total_bytes)}) can be sent and copied",
                                   severity=Severity.LOW)
            return
        shown = copied or present
        total = sum(n.size for n in shown)
        listed = ", ".join(f"{n.path} ({_KIND_LABEL[n.kind]}, {format_size(n.size)})" for n in shown[:6])
        if len(shown) > 6:
            listed += f" and {len(shown) - 6} more"
        lead = "no .dockerignore" if not has_file else ".dockerignore doesn't exclude them"
        estimate = context_files(total, "size of the paths in the context")
        if copied:
            severity = Severity.HIGH if any(n.kind == "secret" for n in copied) else Severity.MEDIUM
            yield self.finding(where, f"{lead}; copied into the image: {listed}", severity=severity, estimate=estimate)
        else:
            yield self.finding(where, f"{lead}; in the context (not copied by this Dockerfile, but sent by the legacy "
                                      f"builder and exposed to future `COPY . .`): {listed}",
                               severity=Severity.LOW, estimate=estimate)
