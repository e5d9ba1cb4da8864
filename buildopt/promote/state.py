"""The promote state file and the compose override file, both next to the user's compose file.

`buildopt-promote.json` (schema `buildopt.promote/v1`, documented in docs/promote.md) records every
promote and rollback, per compose project: the backup tag, both image ids, the files the service was
started from and the image the override file sets. `buildopt-promote.<project>.override.yml` is rendered
from it: for each service, the image its latest record says the override sets. The user's compose file
is never written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from ..errors import BadInput
from ..files import read_text, write_text

SCHEMA = "buildopt.promote/v1"
STATE_FILE = "buildopt-promote.json"
_OVERRIDE_PREFIX, _OVERRIDE_SUFFIX = "buildopt-promote.", ".override.yml"

# Statuses of a record: the swap is under way (a crash leaves this: --rollback finishes it), the new image
# serves, the old image serves again, or the rollback itself did not get the service healthy.
PROMOTING, PROMOTED, ROLLED_BACK, ROLLBACK_FAILED = "promoting", "promoted", "rolled-back", "rollback-failed"


@dataclass
class Promotion:
    service: str
    status: str
    started: str  # ISO 8601 UTC
    config_files: list[str]  # the user's compose files the service was started from (absolute; no override)
    env_files: list[str]
    working_dir: str
    service_ref: str  # the image the user's compose files give the service
    old_image_id: str
    old_size: int
    backup_tag: str
    new_ref: str
    new_image_id: str
    new_size: int
    override_image: str | None = None  # what the override file sets for the service now (None: nothing)
    retagged: str | None = None  # service_ref, moved to the new image after a healthy promote
    finished: str | None = None
    reason: str | None = None  # why it was rolled back
    health: str | None = None  # the probe that decided, with its result


@dataclass
class PromoteState:
    path: Path
    project: str
    compose_file: str
    promotions: list[Promotion] = field(default_factory=list)

    @property
    def override_path(self) -> Path:
        return self.path.parent / override_name(self.project)

    def latest(self, service: str) -> Promotion | None:
        return next((p for p in reversed(self.promotions) if p.service == service), None)

    def override_images(self) -> dict[str, str]:
        images = {}
        for service in dict.fromkeys(p.service for p in self.promotions):
            latest = self.latest(service)
            if latest is not None and latest.override_image:
                images[service] = latest.override_image
        return images

    def section(self) -> dict:
        return {"compose_file": self.compose_file, "override_file": override_name(self.project),
                "promotions": [asdict(p) for p in self.promotions]}

    def save(self) -> None:
        """Write this project's section; other projects' sections in the same file are kept as they are."""
        document: dict = _read(self.path) if self.path.exists() else {"schema": SCHEMA, "projects": {}}
        document["projects"][self.project] = self.section()
        write_text(self.path, json.dumps(document, indent=2) + "\n", force=True)


def override_name(project: str) -> str:
    return f"{_OVERRIDE_PREFIX}{project}{_OVERRIDE_SUFFIX}"


def is_override_file(path: Path) -> bool:
    return path.name.startswith(_OVERRIDE_PREFIX) and path.name.endswith(_OVERRIDE_SUFFIX)


def state_path(compose_file: Path) -> Path:
    return compose_file.resolve().parent / STATE_FILE


def load_state(compose_file: Path, project: str) -> PromoteState:
    """The project's records in the state file next to `compose_file` (none yet: an empty state)."""
    path = state_path(compose_file)
    if not path.exists():
        return PromoteState(path=path, project=project, compose_file=compose_file.name)
    section = _read(path)["projects"].get(project) or {}
    known = {f.name for f in fields(Promotion)}
    try:
        promotions = [Promotion(**{k: v for k, v in entry.items() if k in known})
                      for entry in section.get("promotions") or []]
    except TypeError as err:
        raise BadInput(f"{path}: project {project}: a record lacks a field ({err})") from None
    return PromoteState(path=path, project=project, compose_file=section.get("compose_file") or compose_file.name,
                        promotions=promotions)


def _read(path: Path) -> dict:
    try:
        data = json.loads(read_text(path, what="promote state file"))  # a regular file only: a FIFO would block
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
        if not isinstance(data.get("projects"), dict):
            raise ValueError("no projects table")
    except (OSError, ValueError, AttributeError) as err:
        raise BadInput(f"{path}: not a buildopt promote state file ({err})") from None
    return data


def override_text(images: dict[str, str]) -> str:
    # JSON strings are valid YAML scalars: no YAML writer needed, and any reference is quoted safely.
    lines = [f"# Written by `buildopt promote` from {STATE_FILE} (docs/promote.md). Don't edit:",
             "# promote and --rollback rewrite it, and remove it when no service needs it.", "services:"]
    for service, image in sorted(images.items()):
        lines += [f"  {json.dumps(service)}:", f"    image: {json.dumps(image)}"]
    return "\n".join(lines) + "\n"


def write_override(state: PromoteState) -> Path | None:
    """Render the override from the state: the file when a service needs it, else remove it (None)."""
    images = state.override_images()
    if not images:
        state.override_path.unlink(missing_ok=True)
        return None
    write_text(state.override_path, override_text(images), force=True)
    return state.override_path


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
