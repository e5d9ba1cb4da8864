"""The overlay2 reader for non-root users in the docker group (GitHub's runners): the same walk as the
in-process reader (inspect/walk.py), run in a short-lived helper container that sees the engine's data
root read-only.

The data root is root's own (mode 0700), but the docker group can start containers. The helper runs no code
of any image: its image is an empty one made here (`engine.empty_image`), and what it runs is this
process's own Python interpreter and standard library, bind-mounted read-only from the host (its prefix,
`/usr`, `/lib*` and the loader cache) together with walk.py and the data root at its own path. No network,
every capability dropped but DAC_READ_SEARCH (read any directory) and SYS_ADMIN (read the
`trusted.overlay.opaque` xattr), no new privileges, removed when it ends. The records come back on stdout.
When the helper can't run, the caller falls back to the archive reader and says why.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from ..engine import Engine, HelperFailed, empty_image, run_helper_container
from . import overlay2, walk
from .layers import MAX_CAPTURE, WANTED_DIRS, WANTED_NAMES, LayerScan, WantedFn

NAME = "helper container"
_WALKER = Path(walk.__file__).resolve()
_MOUNTED_WALKER = "/buildopt-walk.py"
# The host's runtime the interpreter needs, mounted at the same paths (missing ones are skipped).
_RUNTIME = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache")


def available(image: dict, docker_root: str | None, local_engine: bool) -> str | None:
    """None when a helper container could read this image's layers, else why not."""
    if not local_engine:
        return "the engine is not local (DOCKER_HOST points elsewhere)"
    if not docker_root:
        return "the engine didn't say where its data root is"
    dirs = overlay2.layer_dirs(image)
    if not dirs:
        return f"the engine's storage driver is {(image.get('GraphDriver') or {}).get('Name') or 'unknown'}, not overlay2"
    if len(dirs) != len((image.get("RootFS") or {}).get("Layers") or []):
        return f"{len(dirs)} layer dirs for {len((image.get('RootFS') or {}).get('Layers') or [])} layers"
    return None


def read_layers(image: dict, engine: Engine, wanted: WantedFn, *, compressed: bool = False) -> tuple[bytes, list[LayerScan]]:
    """(image config JSON, one LayerScan per layer), read by a helper container on `engine`; HelperFailed when it
    can't. The engine's scan cache (keyed like overlay2.scan_layers) keeps a diff of two images that share layers
    from reading them twice."""
    cache, docker_root = engine.scan_cache, engine.docker_root
    if docker_root is None:
        raise HelperFailed("the engine reports no data root")
    dirs = overlay2.layer_dirs(image)
    todo = [path for path in dict.fromkeys(dirs) if (path, compressed) not in cache]
    request = {"dirs": todo, "names": sorted(WANTED_NAMES), "capture_dirs": list(WANTED_DIRS),
               "max_capture": MAX_CAPTURE, "compressed": compressed,
               "config": overlay2.config_path(image, docker_root)}
    interpreter = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    runtime = [path for path in dict.fromkeys([*_RUNTIME, prefix]) if os.path.exists(path)]
    mounts = [*[(path, path) for path in runtime], (docker_root, docker_root), (str(_WALKER), _MOUNTED_WALKER)]
    output = run_helper_container(empty_image(engine), interpreter, ["-I", "-S", _MOUNTED_WALKER, json.dumps(request)],
                                  mounts=mounts, caps=("DAC_READ_SEARCH", "SYS_ADMIN"), purpose="inspect", engine=engine)
    config, scans = _parse(output, wanted)
    for path, scan in scans.items():
        cache[(path, compressed)] = scan
    missing = [path for path in todo if path not in scans]
    if missing or config is None:
        raise HelperFailed(f"the helper container's listing is incomplete ({len(missing)} layers missing)")
    return config, [cache[(path, compressed)] for path in dirs]


def _parse(output: bytes, wanted: WantedFn) -> tuple[bytes | None, dict[str, LayerScan]]:
    """The walker's JSON lines: per layer its records, then its gzip size when asked; the config last."""
    config = None
    scans: dict[str, LayerScan] = {}
    layer: str | None = None
    records: list = []

    def finish() -> None:
        if layer is not None:
            scans[layer] = overlay2.scan_from_records(layer, records, wanted)

    for line in output.decode("utf-8", errors="surrogateescape").splitlines():
        record = json.loads(line)
        kind = record[0]
        if kind == "c":
            records.append(("c", record[1], base64.b64decode(record[2])))
        elif kind == "z":
            finish()
            assert layer is not None  # the walker writes a layer's gzip size right after its records
            scans[layer].compressed_size = record[1]
            layer, records = None, []
        elif kind in ("L", "C"):
            finish()
            layer, records = (record[1], []) if kind == "L" else (None, [])
            if kind == "C":
                config = base64.b64decode(record[1])
        else:
            records.append(record)
    finish()
    return config, scans
