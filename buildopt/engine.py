"""The one way buildopt reaches the Docker engine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

# ---- base image facts for analyze ------------------------------------------------------------------------------
LOOKUP_ENV = "BUILDOPT_ENGINE_LOOKUP"  # "0", "off", "no" or "false": analyze never asks the engine
_LOOKUP_TIMEOUT = 5  # seconds; an engine that doesn't answer in that time is treated as absent


@dataclass(frozen=True)
class ImageConfig:
    """How an image's containers run, from its config: `user` is Config.User ("" = root), `env` Config.Env."""

    ref: str
    user: str
    env: tuple[tuple[str, str], ...]

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


def lookup_enabled() -> bool:
    return os.environ.get(LOOKUP_ENV, "").strip().lower() not in ("0", "off", "no", "false")


def local_image_config(ref: str) -> ImageConfig | None:
    """Config.User and Config.Env of `ref` when the local engine already holds it (`docker image inspect`: never
    pulls). None when it doesn't hold it, or when no engine answers: callers fall back to what they know.
    Answers are cached for the process, so analyzing many files costs one inspect per base image."""
    if not ref or ref != ref.strip() or "$" in ref or any(char.isspace() for char in ref):
        return None
    return _inspect_config(ref)


@lru_cache(maxsize=512)
def _inspect_config(ref: str) -> ImageConfig | None:
    client = _client()
    if client is None:
        return None
    import docker
    import requests

    try:
        data = client.api.inspect_image(ref)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return None  # not on this engine (never pulled here), or the engine went away
    config = data.get("Config") or {}
    env = tuple(tuple(item.split("=", 1)) if "=" in item else (item, "") for item in config.get("Env") or ())
    return ImageConfig(ref, str(config.get("User") or ""), env)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _client():
    """One client per process, or None when there is no engine (checked once: analyze must work without one)."""
    try:
        import docker
        import requests
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=_LOOKUP_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return None
    return client


RUN_LABEL_ENV = "BUILDOPT_RUN_LABEL"
RUN_LABEL = "buildopt.run"


def run_labels() -> dict[str, str]:
    """`buildopt.run=<value>` for every temporary image and container, when BUILDOPT_RUN_LABEL is set.

    Test runs and CI jobs that share one engine set it, so each finds and removes only what it created.
    """
    value = os.environ.get(RUN_LABEL_ENV, "").strip()
    return {RUN_LABEL: value} if value else {}
