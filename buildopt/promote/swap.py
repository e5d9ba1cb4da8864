"""The swap: `docker compose up -d` of the one service, on the user's files plus the override file.

`--no-deps`: only this service is recreated, never a dependency whose config drifted since it started.
`--no-build --pull never`: the image must already be here; compose neither rebuilds the old Dockerfile
nor reaches a registry. Never `down`, `-v`, `--renew-anon-volumes` or `--force-recreate`: compose reuses
named volumes and bind mounts and carries anonymous volumes over, so no volume is removed or recreated.
The mounts are compared after the swap all the same (`missing_mounts`).
"""

from __future__ import annotations

from pathlib import Path

from .project import ComposeService

UP_ARGS = ("up", "-d", "--no-deps", "--no-build", "--pull", "never")


class SwapFailed(Exception):
    """docker compose could not create or start the service's new container."""


def up_command(service: ComposeService, override: Path | None) -> str:
    return service.compose_command(override, *UP_ARGS, service.name)


def compose_up(service: ComposeService, override: Path | None) -> None:
    from python_on_whales.exceptions import DockerException

    try:
        service.compose(override).compose.up(services=[service.name], detach=True, no_build=True, pull="never",
                                             dependencies=False, quiet=True)
    except DockerException as err:
        text = (err.stderr or err.stdout or str(err)).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        raise SwapFailed(f"docker compose up failed: {lines[-1][:300] if lines else err}") from None


def missing_mounts(old_mounts: list[dict], new_attrs: dict) -> list[str]:
    """Volumes and bind mounts of the old container that the new one lacks at the same place."""
    def key(mount: dict) -> tuple[str, str, str]:
        source = mount.get("Name") if mount.get("Type") == "volume" else mount.get("Source")
        return mount.get("Type") or "", source or "", mount.get("Destination") or ""

    have = {key(m) for m in new_attrs.get("Mounts") or []}
    return [f"{kind} {source[:24]} -> {target}" for kind, source, target in map(key, old_mounts)
            if kind in ("volume", "bind") and (kind, source, target) not in have]
