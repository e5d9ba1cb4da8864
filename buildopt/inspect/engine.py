"""Engine access through the docker SDK (Engine API): client, image inspect, engine facts.

Errors become the project's: an unreachable engine is EnvironmentMissing (exit 4), an image the engine
doesn't hold or a malformed reference is BadInput (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import BadInput, EnvironmentMissing


@dataclass
class Engine:
    client: object  # docker.DockerClient
    docker_root: str | None
    driver: str
    local: bool  # the API socket is on this machine, so its paths are ours to read
    # overlay2 layer scans by (diff dir, compressed): a diff of two images that share a base reads it once
    scan_cache: dict = field(default_factory=dict)


def connect() -> Engine:
    import docker
    import requests

    try:
        client = docker.from_env(timeout=300)
        info = client.info()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as err:
        raise EnvironmentMissing(
            f"cannot reach the Docker engine: {_first_line(err)}",
            hint="start dockerd or set DOCKER_HOST; `buildopt doctor` checks the setup",
        ) from None
    host = os.environ.get("DOCKER_HOST", "")
    local = not host or host.startswith(("unix://", "npipe://"))
    return Engine(client=client, docker_root=info.get("DockerRootDir"), driver=info.get("Driver", ""), local=local)


def inspect(engine: Engine, ref: str) -> dict:
    import docker
    import requests

    if not ref or ref != ref.strip():
        raise BadInput(f"invalid image reference {ref!r}")
    try:
        return engine.client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        raise BadInput(f"image {ref!r} not found in the local engine (build or pull it first)") from None
    except docker.errors.APIError as err:
        if err.status_code is not None and 400 <= err.status_code < 500:
            raise BadInput(f"image {ref!r}: {_first_line(err.explanation or err)}") from None
        raise EnvironmentMissing(f"the Docker engine failed to inspect {ref!r}: {_first_line(err)}") from None
    except (requests.exceptions.RequestException, OSError) as err:
        raise EnvironmentMissing(f"cannot reach the Docker engine: {_first_line(err)}") from None


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__
