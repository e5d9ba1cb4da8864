"""Every image of an engine from bulk Engine API queries, plus each image's config and history.

`client.df()` (what `docker system df -v` shows) gives, in one call, each image's Size, SharedSize and
the number of containers using it. The dangling list is the same request `docker images -f dangling=true`
sends (`GET /images/json?filters={"dangling":["true"]}`), so the counts match the CLI's exactly. The
low-level call is used rather than `client.images.list`, which would inspect every image again.
Config and history are two small requests per image: no layer is read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..engine import first_line
from ..errors import EnvironmentMissing
from ..inspect.model import ConfigFacts
from . import categories


@dataclass(frozen=True)
class ImageRecord:
    id: str  # sha256:...
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: str  # ISO 8601, UTC
    size: int  # what `docker images` shows
    shared_size: int  # bytes in layers other images also use (-1: the engine didn't compute it)
    containers: int  # containers using it, running or stopped (-1: unknown)
    labels: dict[str, str] = field(default_factory=dict)
    dangling: bool = False

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    @property
    def unique_size(self) -> int:
        """Bytes only this image holds: what removing it would free."""
        return self.size - max(self.shared_size, 0)

    @property
    def category(self) -> str:
        return categories.categorize(list(self.repo_tags), list(self.repo_digests))

    @property
    def name(self) -> str:
        """The repository people know it by (`paperflow_paperflow-worker`, `infiniflow/ragflow`)."""
        for ref in self.repo_tags:
            return categories.parse_name(ref).short
        for ref in self.repo_digests:
            return categories.parse_name(ref).short
        return "<none>"

    @property
    def display(self) -> str:
        """How reports name it: its first tag (and how many more), or its short id."""
        if self.repo_tags:
            return self.repo_tags[0] + (f" (+{len(self.repo_tags) - 1} tags)" if len(self.repo_tags) > 1 else "")
        return self.short_id

    @property
    def tags(self) -> list[str]:
        return [categories.parse_name(ref).tag for ref in self.repo_tags]


@dataclass(frozen=True)
class HistoryLayer:
    """One step of `docker history`, oldest first. `index` counts only steps that made a layer."""

    step: int
    index: int | None  # layer index (0 = bottom), None for metadata-only steps (ENV, CMD...)
    created_by: str
    size: int
    comment: str = ""


@dataclass(frozen=True)
class ImageDetails:
    """The cheap facts of one image: its config and its build history, no layer contents."""

    config: ConfigFacts
    history: tuple[HistoryLayer, ...]
    architecture: str = ""
    os: str = ""
    layer_count: int = 0

    @property
    def layers(self) -> list[HistoryLayer]:
        return [step for step in self.history if step.index is not None]


@dataclass
class Inventory:
    images: list[ImageRecord]  # tagged images, largest first
    dangling: list[ImageRecord]  # `docker images -f dangling=true`, largest first
    layers_size: int  # disk the engine's image layers really use (shared layers once)

    @property
    def total_size(self) -> int:
        """Sum of image sizes, as the audits add up `docker images` (shared layers counted each time)."""
        return sum(image.size for image in self.images) + sum(image.size for image in self.dangling)

    @property
    def dangling_unique(self) -> int:
        """What `docker image prune` would free: the dangling images' bytes no other image shares."""
        return sum(image.unique_size for image in self.dangling)


def take_inventory(client) -> Inventory:
    """All images of the engine, from two API calls (`/system/df` and the dangling filter)."""
    try:
        usage = client.df()
        dangling_ids = {entry["Id"] for entry in client.api.images(filters={"dangling": True})}
    except Exception as err:  # docker-py APIError, requests errors: the engine stopped answering
        raise EnvironmentMissing(f"the Docker engine failed to list images: {first_line(err)}") from None
    images: list[ImageRecord] = []
    dangling: list[ImageRecord] = []
    for entry in usage.get("Images") or []:
        record = _record(entry, entry["Id"] in dangling_ids)
        (dangling if record.dangling else images).append(record)
    missing = dangling_ids - {record.id for record in dangling}
    if missing:  # an image df didn't list (created in between): count it anyway, as the CLI would
        import docker

        for image_id in sorted(missing):
            try:
                entry = client.api.inspect_image(image_id)
            except docker.errors.NotFound:
                continue  # and removed again since: nothing to count
            dangling.append(_record({**entry, "Created": entry.get("Created"), "SharedSize": -1, "Containers": -1}, True))
    images.sort(key=lambda image: (-image.size, image.name, image.id))
    dangling.sort(key=lambda image: (-image.size, image.id))
    return Inventory(images=images, dangling=dangling, layers_size=int(usage.get("LayersSize") or 0))


class ImageGone(Exception):
    """The image was removed after the listing (another process on the same engine): the audit skips it."""

    def __init__(self, image_id: str):
        super().__init__(f"{image_id}: removed while the audit ran")
        self.image_id = image_id


def image_details(client, image_id: str) -> ImageDetails:
    """Config (user, healthcheck, env, ports, volumes) and history of one image: two small API calls.
    Raises ImageGone when the engine no longer has the image."""
    import docker

    from ..inspect import config_facts

    try:
        data = client.api.inspect_image(image_id)
        history = client.api.history(image_id) or []
    except docker.errors.NotFound:
        raise ImageGone(image_id) from None
    layer_count = len((data.get("RootFS") or {}).get("Layers") or [])
    return ImageDetails(
        config=config_facts(data.get("Config") or {}, {}),
        history=tuple(number_layers(history, layer_count)),
        architecture=data.get("Architecture", ""),
        os=data.get("Os", ""),
        layer_count=layer_count,
    )


def number_layers(history: list[dict], layer_count: int) -> list[HistoryLayer]:
    """`docker history` (newest first) -> steps oldest first, each layer-making step with its layer index.

    The API doesn't say which steps made a layer (the config's empty_layer flag isn't exposed). A step
    with bytes surely did; a RUN/COPY/ADD/WORKDIR step with 0 bytes may have (directories only). The
    first reading whose count matches the image's real layer count is used; when none does, indexes
    are left out rather than guessed.
    """
    steps = list(reversed(history))
    with_bytes = [bool(step.get("Size")) for step in steps]
    filesystem = [made or _filesystem_step(step.get("CreatedBy") or "") for step, made in zip(steps, with_bytes, strict=True)]
    chosen = next((flags for flags in (with_bytes, filesystem) if sum(flags) == layer_count), None)
    out, index = [], 0
    for position, step in enumerate(steps):
        layer = None
        if chosen is not None and chosen[position]:
            layer, index = index, index + 1
        out.append(HistoryLayer(step=position, index=layer, created_by=clean_created_by(step.get("CreatedBy") or ""),
                                size=int(step.get("Size") or 0), comment=step.get("Comment") or ""))
    return out


def clean_created_by(text: str) -> str:
    """`/bin/sh -c #(nop)  ENV A=b` -> `ENV A=b`; `RUN /bin/sh -c apt-get ... # buildkit` -> `RUN apt-get ...`."""
    text = " ".join(text.split()).removesuffix(" # buildkit")
    if "#(nop)" in text:
        return text.split("#(nop)", 1)[1].strip()
    if text.startswith("RUN /bin/sh -c "):
        return "RUN " + text[len("RUN /bin/sh -c "):]
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):]
    if text.startswith("|"):  # classic builder with build args: "|2 A=1 B=2 /bin/sh -c ..."
        return "RUN " + text.split("/bin/sh -c ", 1)[-1]
    return text


def _filesystem_step(created_by: str) -> bool:
    text = created_by.strip()
    if not text:
        return True  # imported or squashed base layers have no history text
    if "#(nop)" in text:  # classic builder: metadata steps are marked
        return text.split("#(nop)", 1)[1].strip().split(" ", 1)[0].upper() in ("ADD", "COPY", "WORKDIR")
    word = text.split(" ", 1)[0].upper()
    return word in ("RUN", "COPY", "ADD", "WORKDIR") or text.startswith(("/bin/sh", "|"))


def _record(entry: dict, dangling: bool) -> ImageRecord:
    created = entry.get("Created")
    if isinstance(created, (int, float)):
        created = datetime.fromtimestamp(created, tz=UTC).isoformat().replace("+00:00", "Z")
    tags = tuple(tag for tag in entry.get("RepoTags") or [] if tag != "<none>:<none>")
    digests = tuple(digest for digest in entry.get("RepoDigests") or [] if digest != "<none>@<none>")
    return ImageRecord(
        id=entry["Id"], repo_tags=tags, repo_digests=digests, created=str(created or ""),
        size=int(entry.get("Size") or 0), shared_size=int(entry.get("SharedSize", -1)),
        containers=int(entry.get("Containers", -1)), labels=dict(entry.get("Labels") or {}), dangling=dangling,
    )
