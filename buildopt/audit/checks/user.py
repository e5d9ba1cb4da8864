"""root-user: the image's process runs as root (USER unset, root or 0; a name is resolved through /etc/passwd when
the files are read)."""

from __future__ import annotations

from ...inspect.model import ConfigFacts
from ...severity import Severity
from .base import ConfigCheck


class RootUser(ConfigCheck):
    slug = "root-user"
    severity = Severity.HIGH
    title = "Runs as root"
    fix = "Create a user and switch to it: `RUN useradd --uid 10001 app` then `USER app` (chown only what it writes)."
    security = True

    def from_config(self, config: ConfigFacts):
        if config.runs_as_root:
            yield self.finding(
                f"USER is {config.user or 'not set'}: the process runs as root, so a compromise owns the container")
