"""add-remote-url (BO118): ADD fetching an http(s), ftp or git URL at build time."""

from __future__ import annotations

import re

from ..severity import Severity
from .base import Rule
from .context import RuleContext

_REMOTE = re.compile(r"^(https?://|ftp://|git@|git://|ssh://)", re.I)


class AddRemoteUrl(Rule):
    id = "BO118"
    slug = "add-remote-url"
    severity = Severity.MEDIUM
    title = "ADD downloads a URL or a git repository during the build"
    fix = ("Download with `RUN curl -fsSL URL -o FILE && echo 'SHA256  FILE' | sha256sum -c -` (or ADD --checksum=), "
           "in a builder stage when the file is only needed to build; clone git repositories there too.")
    scope = "every stage"

    def check(self, ctx: RuleContext):
        for ins in ctx.dockerfile.instructions:
            if ins.cmd != "ADD" or len(ins.value) < 2:
                continue
            remote = [src for src in ins.value[:-1] if _REMOTE.match(src)]
            if not remote:
                continue
            checksum = ins.flag("checksum")
            if checksum:
                yield self.finding(ins, f"ADD fetches {', '.join(remote)} (pinned by --checksum, but still a network "
                                        f"fetch the build cache can't see changing)", severity=Severity.LOW)
            else:
                yield self.finding(ins, f"ADD fetches {', '.join(remote)} with no checksum: the content can change or "
                                        f"be tampered with between builds")
