"""Remove the dangling images the audit listed, and nothing else.

Each image is removed by its ID, without force: an image a container still uses stays (the engine
refuses), as `docker image prune` would leave it. Images that became dangling after the listing are
not touched: only what the user saw and confirmed goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .inventory import ImageRecord


@dataclass
class PruneResult:
    removed: list[str] = field(default_factory=list)  # image IDs
    kept: list[tuple[str, str]] = field(default_factory=list)  # (image ID, why)
    freed: int = 0  # bytes: the removed images' unique sizes

    @property
    def ok(self) -> bool:
        return not self.kept


def prune_dangling(client, dangling: list[ImageRecord]) -> PruneResult:
    import docker

    result = PruneResult()
    for image in dangling:
        if not image.dangling or image.repo_tags:
            result.kept.append((image.id, "not dangling"))  # never reached from the audit; a guard, not a path
            continue
        try:
            current = client.api.inspect_image(image.id)
            if [tag for tag in current.get("RepoTags") or [] if tag != "<none>:<none>"]:
                result.kept.append((image.id, "tagged since the audit listed it"))
                continue
            client.api.remove_image(image.id, force=False, noprune=False)
        except docker.errors.ImageNotFound:
            result.kept.append((image.id, "already gone"))
            continue
        except docker.errors.APIError as err:
            reason = (err.explanation or str(err)).splitlines()[0][:200]
            result.kept.append((image.id, reason))
            continue
        result.removed.append(image.id)
        result.freed += image.unique_size
    return result
