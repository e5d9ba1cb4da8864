"""Back to the image a promote replaced, by its id: the exact bytes that ran before.

1. A service tag that promote moved to the new image is moved back (only if it still names the new image).
2. When the user's compose files alone give the old image again, the service leaves the override file
   (the file goes when no service is left in it); otherwise the override pins the backup tag.
3. `docker compose up -d` of the service, and the old image's health probe.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import BadInput
from .backup import image_id_of, tag_image
from .health import HealthProbe, HealthResult, wait_healthy
from .project import ComposeService, service_containers
from .state import PromoteState, Promotion, write_override
from .swap import SwapFailed, compose_up, up_command


def rollback_plan(client, service: ComposeService, state: PromoteState, record: Promotion) -> list[str]:
    """What roll_back will do, for --dry-run."""
    steps = []
    retagged = record.retagged or None
    moves_back = retagged is not None and image_id_of(client, retagged) == record.new_image_id
    if moves_back:
        steps.append(f"docker tag {record.old_image_id[:19]} {record.retagged}  (move the tag back)")
    plain = record.old_image_id if moves_back and record.retagged == service.image_ref else image_id_of(client, service.image_ref)
    images = {name: image for name, image in state.override_images().items() if name != service.name}
    if plain == record.old_image_id:
        steps.append(f"drop service {service.name} from the override file ({service.image_ref} is the old image)")
    else:
        images[service.name] = record.backup_tag
        steps.append(f"override file: services.{service.name}.image = {record.backup_tag}")
    steps.append(up_command(service, state.override_path if images else None))
    return steps


def roll_back(client, service: ComposeService, state: PromoteState, record: Promotion, probe: HealthProbe, *,
              timeout_s: float, say: Callable[[str], None]) -> HealthResult:
    if image_id_of(client, record.old_image_id) is None:
        raise BadInput(f"the old image {record.old_image_id[:19]} ({record.backup_tag}) is gone from the engine: "
                       "nothing to roll back to")
    if record.retagged and image_id_of(client, record.retagged) == record.new_image_id:
        say(f"rollback: docker tag {record.old_image_id[:19]} {record.retagged}")
        tag_image(client, record.old_image_id, record.retagged)
        record.retagged = None
    if image_id_of(client, service.image_ref) == record.old_image_id:
        record.override_image = None
    else:
        if image_id_of(client, record.backup_tag) != record.old_image_id:
            tag_image(client, record.old_image_id, record.backup_tag)
        record.override_image = record.backup_tag
    state.save()
    override = write_override(state)
    say(f"rollback: {up_command(service, override)}")
    try:
        compose_up(service, override)
    except SwapFailed as err:
        return HealthResult(False, str(err), 0.0)
    say(f"rollback: waiting for healthy ({probe.kind})")
    return wait_healthy(client, lambda: service_containers(client, service.project, service.name), probe,
                        image_id=record.old_image_id, timeout_s=timeout_s, say=say)
