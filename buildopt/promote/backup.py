"""Backup tags: `<repo>:buildopt-backup-<UTC timestamp>` on the image a service ran before a promote.

A backup is only a tag on the old image id: creating it copies nothing. Pruning it frees the old image's
bytes once no other tag and no container holds the image (what `unique_size` measures).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..engine import docker_errors, first_line
from ..errors import BadInput, EnvironmentMissing

BACKUP_TAG_PREFIX = "buildopt-backup-"
_STAMP = "%Y%m%dT%H%M%SZ"
_BACKUP_RE = re.compile(r":buildopt-backup-(\d{8}T\d{6}Z)$")


def repository_of(ref: str) -> str:
    """`registry:5000/team/app:1.2` -> `registry:5000/team/app`; a digest reference loses its digest."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def backup_tag_for(ref: str, when: datetime) -> str:
    return f"{repository_of(ref)}:{BACKUP_TAG_PREFIX}{when.astimezone(UTC).strftime(_STAMP)}"


def backup_time(tag: str) -> datetime | None:
    """The UTC time a backup tag was made, or None for any other tag."""
    match = _BACKUP_RE.search(tag)
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC) if match else None


def is_tag(ref: str) -> bool:
    """A reference that `docker tag` can move (not a digest, not an image id)."""
    return "@" not in ref and not ref.startswith("sha256:")


def tag_image(client, image_id: str, ref: str) -> None:
    """Point `ref` at `image_id` (the engine's `docker tag`)."""
    repository, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, "latest")
    try:
        client.api.tag(image_id, repository, tag)
    except Exception as err:
        raise EnvironmentMissing(f"docker tag {image_id[:19]} {ref} failed: {first_line(err, 200)}") from None


def create_backup(client, image_id: str, ref: str, when: datetime) -> str:
    """Tag `image_id` as the backup of `ref` (or reuse a backup tag already on it); refuse to move a
    backup tag that names another image."""
    reused = existing_backup(client, image_id, ref)
    if reused is not None:
        return reused
    tag = backup_tag_for(ref, when)
    existing = image_id_of(client, tag)
    if existing is not None and existing != image_id:
        raise BadInput(f"backup tag {tag} already names another image ({existing[:19]}); retry in a second")
    tag_image(client, image_id, tag)
    return tag


def image_id_of(client, ref: str) -> str | None:
    """The id `ref` resolves to in the local engine, None when it doesn't exist."""
    try:
        with docker_errors(f"image {ref!r}"):
            return client.api.inspect_image(ref)["Id"]
    except BadInput:
        return None  # not there, or a malformed reference that names no image


@dataclass(frozen=True)
class ImageUsage:
    size: int
    unique_size: int  # bytes no other image shares: what removing the image frees
    containers: int  # containers using it (-1: unknown)
    tags: tuple[str, ...]


def image_usage(client, image_id: str) -> ImageUsage | None:
    """Size, unshared bytes and users of one image, from the engine's disk-usage report (images only)."""
    try:  # `type=image` (API 1.42+) skips sizing volumes and build cache; older engines ignore it
        api = client.api
        usage = api._result(api._get(api._url("/system/df"), params={"type": "image"}), True)
    except Exception as err:
        raise EnvironmentMissing(f"the Docker engine failed to report disk usage: {first_line(err, 200)}") from None
    for entry in usage.get("Images") or []:
        if entry.get("Id") == image_id:
            size = int(entry.get("Size") or 0)
            shared = max(int(entry.get("SharedSize", 0) or 0), 0)
            tags = tuple(t for t in entry.get("RepoTags") or [] if t != "<none>:<none>")
            return ImageUsage(size=size, unique_size=size - shared, containers=int(entry.get("Containers", -1)), tags=tags)
    return None


@dataclass(frozen=True)
class BackupTag:
    tag: str
    image_id: str
    created: datetime
    size: int
    frees: int  # bytes removing the image's backup tags frees: 0 while another tag or a container holds it
    held_by: tuple[str, ...] = ()  # the image's other (non-backup) tags, and containers using it
    other_backups: tuple[str, ...] = ()  # more backup tags on the same image (all go in one prune)

    @property
    def prune_command(self) -> str:
        return "docker image rm " + " ".join([self.tag, *self.other_backups])


def find_backups(records: Iterable) -> list[BackupTag]:
    """Every backup tag among image records (buildopt.audit.inventory.ImageRecord), newest first."""
    found = []
    for record in records:
        backups = [tag for tag in record.repo_tags if backup_time(tag) is not None]
        held = [tag for tag in record.repo_tags if tag not in backups]
        if record.containers > 0:
            held.append(f"{record.containers} container(s)")
        for tag, created in ((tag, backup_time(tag)) for tag in backups):
            assert created is not None  # `backups` holds only tags with a backup time
            found.append(BackupTag(tag=tag, image_id=record.id, created=created, size=record.size,
                                   frees=0 if held else record.unique_size, held_by=tuple(held),
                                   other_backups=tuple(t for t in backups if t != tag)))
    return sorted(found, key=lambda b: (b.created, b.tag), reverse=True)


def existing_backup(client, image_id: str, ref: str) -> str | None:
    """A backup tag of `ref`'s repository that already names `image_id` (an earlier promote made it)."""
    try:
        tags = client.api.inspect_image(image_id).get("RepoTags") or []
    except Exception:  # the caller inspects it again and reports a missing image
        return None
    prefix = f"{repository_of(ref)}:{BACKUP_TAG_PREFIX}"
    return max((t for t in tags if t.startswith(prefix) and backup_time(t) is not None), default=None)
