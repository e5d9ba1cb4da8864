"""Inspect stage: an image the engine holds -> `ImageProfile` (layers, files, waste, packages, models,
CUDA, config). Two readers behind one interface, which give the same profile:

- `overlay2`: walks the engine's layer dirs (local engine, overlay2 driver); seconds for a multi-GB
  image. Root reads them in this process; a non-root user in the docker group (GitHub's runners) reads
  them through a short-lived helper container (inspect/helper.py);
- `archive`: streams `docker save` through the Engine API and parses it on the fly (works with any
  engine the SDK reaches; as slow as the export itself).

`reader="auto"` takes overlay2 when it can read the image, directly or through the helper, and falls back
to the archive otherwise; the profile says which (`reader`, `reader_via`, `reader_fallback`).
See docs/inspect.md.
"""

from __future__ import annotations

import json
import time

from ..engine import Engine, HelperFailed, current
from ..errors import BadInput, EnvironmentMissing
from . import archive, classify, helper, overlay2, packages
from .layers import LayerScan, final_contents, merge_layers, wanted
from .model import (
    GROUPS,
    SCHEMA,
    ConfigFacts,
    CudaFacts,
    CudaLibrary,
    DirUsage,
    FileEntry,
    ImageProfile,
    LayerInfo,
    ModelFile,
    Package,
    WastedCopy,
)

READERS = ("auto", "overlay2", "archive")

__all__ = [
    "GROUPS",
    "READERS",
    "SCHEMA",
    "ConfigFacts",
    "CudaFacts",
    "CudaLibrary",
    "DirUsage",
    "Engine",
    "FileEntry",
    "ImageProfile",
    "LayerInfo",
    "ModelFile",
    "Package",
    "WastedCopy",
    "choose_reader",
    "inspect_image",
    "profile_from_layers",
]


def inspect_image(ref: str, reader: str = "auto", *, compressed: bool = False, engine: Engine | None = None) -> ImageProfile:
    """Profile one image. `compressed=True` adds a gzip -6 estimate of each layer (CPU-heavy).

    Raises BadInput (unknown image, bad reader name), EnvironmentMissing (no engine; overlay2 asked for
    but not readable).
    """
    if reader not in READERS:
        raise BadInput(f"--reader {reader!r}: use one of {', '.join(READERS)}")
    started = time.monotonic()
    engine = engine or current()
    image = engine.image_attrs(ref)
    chosen, via, fallback = choose_reader(engine, image, reader)
    config_bytes: bytes | None = None
    if chosen == overlay2.NAME:
        docker_root = engine.docker_root
        assert docker_root, "choose_reader picks overlay2 only when the engine gave its data root"
        if via == helper.NAME:
            try:
                config_bytes, scans = helper.read_layers(image, engine, wanted, compressed=compressed)
            except HelperFailed as err:
                if reader == overlay2.NAME:
                    raise EnvironmentMissing(f"the overlay2 reader can't read {image.get('Id', '')[:19]}: {err}",
                                             hint="use --reader archive") from None
                chosen, via, fallback = archive.NAME, "stream", str(err)
        else:
            config_bytes = overlay2.read_config(image, docker_root)
            scans = overlay2.scan_layers(overlay2.layer_dirs(image), wanted, compressed=compressed, cache=engine.scan_cache)
    if chosen == archive.NAME:
        saved = archive.scan_save_stream(archive.stream_image(engine.client, image["Id"]), wanted,
                                         image_id=image["Id"], compressed=compressed)
        config_bytes = saved.config
        scans = saved.layers
    assert config_bytes is not None, f"reader {chosen}"  # each reader above reads the config, or raises
    profile = profile_from_layers(ref, image, json.loads(config_bytes), scans, reader=chosen)
    profile.reader_via, profile.reader_fallback = via, fallback
    if compressed:
        profile.compressed_size = sum(scan.compressed_size or 0 for scan in scans)
        profile.compressed_method = "gzip -6 of each layer tar (zlib), summed"
    profile.duration_s = time.monotonic() - started
    return profile


def choose_reader(engine: Engine, image: dict, reader: str = "auto") -> tuple[str, str, str | None]:
    """(reader, how it reads, why the fast path wasn't taken): overlay2 "direct" in this process, overlay2
    through a "helper container" when the data root isn't readable here, or the archive "stream"."""
    if reader == archive.NAME:
        return archive.NAME, "stream", None
    reason = overlay2.available(image, engine.docker_root, engine.local)
    if reason is None:
        return overlay2.NAME, "direct", None
    helper_reason = helper.available(image, engine.docker_root, engine.local)
    if helper_reason is None:
        return overlay2.NAME, helper.NAME, None
    if reader == overlay2.NAME:
        raise EnvironmentMissing(f"the overlay2 reader can't read {image.get('Id', '')[:19]}: {reason}",
                                 hint="use --reader archive")
    return archive.NAME, "stream", reason


def profile_from_layers(ref: str, image: dict, config: dict, scans: list[LayerScan], *, reader: str) -> ImageProfile:
    """The reader-independent part: stack the layers and name what the bytes are."""
    merged = merge_layers(scans)
    final = merged.final
    contents = final_contents(scans, final)
    found = packages.scan_packages(contents, final)
    torch = packages.torch_build(contents)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or (image.get("RootFS") or {}).get("Layers") or []
    history = [entry for entry in config.get("history") or [] if not entry.get("empty_layer")]
    layers = []
    for index, scan in enumerate(scans):
        created_by = history[index].get("created_by", "") if len(history) == len(scans) else ""
        layers.append(LayerInfo(
            index=index,
            diff_id=diff_ids[index] if index < len(diff_ids) else "",
            size=merged.layer_sizes[index],
            files=merged.layer_files[index],
            created_by=created_by,
            wasted=merged.layer_wasted[index],
            compressed_size=scan.compressed_size,
        ))
    wasted = sorted((WastedCopy("/" + path, size, layer, hidden_by, reason)
                     for path, size, layer, hidden_by, reason in merged.wasted),
                    key=lambda copy: (-copy.size, copy.path, copy.layer))
    files = sorted(FileEntry("/" + path, record[1], record[2], record[3], record[4], record[0])
                   for path, record in final.items() if record[0] != "d")
    size = sum(merged.layer_sizes)
    visible = merged.visible_size
    models = classify.model_files(final)
    return ImageProfile(
        ref=ref,
        id=image.get("Id", ""),
        reader=reader,
        size=size,
        visible_size=visible,
        wasted_bytes=size - visible,
        layers=layers,
        files=files,
        wasted=wasted,
        dirs=classify.dir_usage(final),
        packages=found.packages,
        models=models,
        cuda=classify.cuda_facts(final, found.packages, found.owners, torch),
        config=config_facts(config.get("config") or {}, packages.passwd_uids(contents)),
        caches=classify.caches(final),
        build_tools=classify.build_tools(final, found.packages),
        groups=classify.attribute(final, found.owners, models),
        repo_tags=list(image.get("RepoTags") or []),
        architecture=config.get("architecture", image.get("Architecture", "")),
        os=config.get("os", image.get("Os", "")),
        created=config.get("created", image.get("Created", "")),
        os_release=packages.os_release(contents),
        engine_size=image.get("Size"),
        owners=found.owners,
    )


def config_facts(config: dict, uids: dict[str, int]) -> ConfigFacts:
    user = config.get("User") or ""
    name = user.split(":")[0]
    uid = int(name) if name.isdigit() else uids.get(name or "root", 0 if not name else None)
    health = config.get("Healthcheck") or None
    env = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return ConfigFacts(
        user=user,
        uid=uid,
        healthcheck=list(health["Test"]) if health and health.get("Test") else None,
        healthcheck_options={key: value for key, value in (health or {}).items() if key != "Test"},
        env=env,
        exposed_ports=sorted((config.get("ExposedPorts") or {}).keys()),
        volumes=sorted((config.get("Volumes") or {}).keys()),
        entrypoint=list(config["Entrypoint"]) if config.get("Entrypoint") else None,
        cmd=list(config["Cmd"]) if config.get("Cmd") else None,
        workdir=config.get("WorkingDir") or "",
        labels=dict(config.get("Labels") or {}),
        stop_signal=config.get("StopSignal") or "",
    )
