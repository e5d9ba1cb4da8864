"""The compose service to promote: its config as `docker compose config` resolves it, the files and
project it was started from (its containers' compose labels) and its containers.

Compose is driven through its CLI (python-on-whales); containers and images through the Engine API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..engine import compose_cli
from ..errors import BadInput, EnvironmentMissing
from .state import is_override_file

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_ENV_FILE = "com.docker.compose.project.environment_file"
LABEL_ONEOFF = "com.docker.compose.oneoff"


@dataclass(frozen=True)
class ComposeService:
    name: str
    project: str
    compose_file: Path  # the file the user named (absolute)
    config_files: tuple[Path, ...]  # the user's files the service runs from (absolute; never the override)
    env_files: tuple[Path, ...]
    working_dir: Path
    config: dict  # this service, as `docker compose config --format json` gives it
    project_config: dict  # the whole resolved project

    @property
    def image_ref(self) -> str:
        """The image the user's files give the service (compose names a build-only service's image
        `<project>-<service>`)."""
        return self.config.get("image") or f"{self.project}-{self.name}"

    def other_services_using(self, ref: str) -> list[str]:
        return sorted(name for name, config in (self.project_config.get("services") or {}).items()
                      if name != self.name and (config.get("image") or f"{self.project}-{name}") == ref)

    def compose(self, override: Path | None = None):
        """A compose client on the user's files, plus the override file when given."""
        files = [*self.config_files, *([override] if override is not None else [])]
        return compose_cli(files, project=self.project, directory=self.working_dir, env_files=list(self.env_files))

    def compose_command(self, override: Path | None, *args: str) -> str:
        """The docker compose command line a user would type for the same thing (for plans and messages)."""
        files = [*self.config_files, *([override] if override is not None else [])]
        parts = ["docker", "compose", *[f"-f {_rel(path, self.working_dir)}" for path in files], f"-p {self.project}",
                 *args]
        return " ".join(parts)


def find_compose_file(explicit: Path | None, cwd: Path | None = None) -> Path:
    """--compose FILE, else the file `docker compose` itself would pick in the current directory."""
    if explicit is not None:
        if not explicit.exists():
            raise BadInput(f"{explicit}: no such compose file")
        if not explicit.is_file():
            raise BadInput(f"{explicit}: not a file")
        return explicit.resolve()
    here = cwd or Path.cwd()
    for name in DEFAULT_FILES:
        if (here / name).is_file():
            return (here / name).resolve()
    raise BadInput(f"no compose file in {here} ({', '.join(DEFAULT_FILES)}): pass --compose FILE")


def load_service(compose_file: Path, service: str, client, project_name: str | None = None) -> tuple[ComposeService, list]:
    """The service and its containers (running or not, one-off `run` containers left out)."""
    first = _config([compose_file], project_name, compose_file.parent, [])
    project = project_name or first.get("name")
    if not project:
        raise BadInput(f"{compose_file}: compose gave no project name; pass --project-name")
    containers = service_containers(client, project, service)
    files, env_files, working_dir = [compose_file], [], compose_file.parent
    if containers:
        labels = containers[0].attrs["Config"].get("Labels") or {}
        started_from = [Path(p).resolve() for p in (labels.get(LABEL_FILES) or "").split(",") if p]
        started_from = [p for p in started_from if not is_override_file(p)]
        if started_from:
            if compose_file not in started_from:
                raise BadInput(f"service {service} of project {project} was started from "
                               f"{', '.join(map(str, started_from))}, not {compose_file}")
            files = started_from
        env_files = [Path(p) for p in (labels.get(LABEL_ENV_FILE) or "").split(",") if p]
        working_dir = Path(labels.get(LABEL_WORKDIR) or compose_file.parent)
    config = first if files == [compose_file] and not env_files else _config(files, project, working_dir, env_files)
    services = config.get("services") or {}
    if service not in services:
        known = ", ".join(sorted(services)) or "none"
        raise BadInput(f"unknown service {service!r} in {compose_file} (services: {known})")
    return ComposeService(name=service, project=project, compose_file=compose_file, config_files=tuple(files),
                          env_files=tuple(env_files), working_dir=working_dir, config=services[service],
                          project_config=config), containers


def service_containers(client, project: str, service: str) -> list:
    """The service's containers (docker-py objects), the running ones first."""
    try:
        found = client.containers.list(all=True, filters={"label": [f"{LABEL_PROJECT}={project}", f"{LABEL_SERVICE}={service}"]})
    except Exception as err:
        raise EnvironmentMissing(f"the Docker engine failed to list containers: {_last_line(err)}") from None
    found = [c for c in found if (c.attrs["Config"].get("Labels") or {}).get(LABEL_ONEOFF, "False") != "True"]
    return sorted(found, key=lambda c: (c.status != "running", c.name))


def _config(files: list[Path], project: str | None, directory: Path, env_files: list[Path]) -> dict:
    from python_on_whales.exceptions import DockerException

    try:
        return compose_cli(files, project=project, directory=directory, env_files=env_files).compose.config(return_json=True)
    except DockerException as err:
        message = (err.stderr or err.stdout or str(err)).strip()
        raise BadInput(f"{files[0]}: docker compose config failed: {_last_line(message)}") from None


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _last_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[-1][:300] if text else type(err).__name__
