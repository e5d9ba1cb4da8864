"""Fast reader: walk the engine's overlay2 layer directories directly.

`docker image inspect` gives the image's diff dirs in GraphDriver.Data: UpperDir is the top layer and
LowerDir lists the others top-down, colon-separated. Reversed, they line up with RootFS.Layers
(bottom-up). overlay2 marks a deleted path with a 0/0 character device and a directory whose lower
contents are hidden with the xattr trusted.overlay.opaque=y. The image config JSON (history included)
is in the engine's imagedb. All of this needs root and a local engine; `available()` says why not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from . import walk
from .layers import (
    DIR,
    MAX_CAPTURE,
    OTHER,
    REG,
    SYMLINK,
    WANTED_DIRS,
    WANTED_NAMES,
    LayerBuilder,
    LayerScan,
    WantedFn,
)

NAME = "overlay2"
gzip_tar_size = walk.gzip_tar_size


def layer_dirs(image: dict) -> list[str]:
    """The image's layer diff dirs, bottom-up, or [] when the image isn't on overlay2."""
    driver = image.get("GraphDriver") or {}
    if driver.get("Name") != "overlay2":
        return []
    data = driver.get("Data") or {}
    upper = data.get("UpperDir")
    if not upper:
        return []
    lower = [path for path in (data.get("LowerDir") or "").split(":") if path]
    return [*reversed(lower), upper]


def config_path(image: dict, docker_root: str) -> str:
    digest = image["Id"].split(":", 1)[-1]
    return os.path.join(docker_root, "image", "overlay2", "imagedb", "content", "sha256", digest)


def available(image: dict, docker_root: str | None, local_engine: bool) -> str | None:
    """None when this reader can read the image, else the reason it can't."""
    if not local_engine:
        return "the engine is not local (DOCKER_HOST points elsewhere)"
    dirs = layer_dirs(image)
    if not dirs:
        name = (image.get("GraphDriver") or {}).get("Name") or "unknown"
        return f"the engine's storage driver is {name}, not overlay2"
    diff_ids = (image.get("RootFS") or {}).get("Layers") or []
    if len(dirs) != len(diff_ids):
        return f"{len(dirs)} layer dirs for {len(diff_ids)} layers"
    for path in dirs:
        if not os.access(path, os.R_OK | os.X_OK):
            return f"cannot read {path} (needs root)"
    if not docker_root or not os.access(config_path(image, docker_root), os.R_OK):
        return "cannot read the image config in the engine's imagedb (needs root)"
    return None


def read_config(image: dict, docker_root: str) -> bytes:
    with open(config_path(image, docker_root), "rb") as handle:
        return handle.read()


def scan_layer_dir(root: str, wanted: WantedFn) -> LayerScan:
    """One diff dir, read in this process (the data root is readable: root, or a rootless engine)."""
    return scan_from_records(root, walk.walk_layer(root, WANTED_NAMES, WANTED_DIRS, MAX_CAPTURE), wanted)


def scan_from_records(key: str, records: Iterable[tuple], wanted: WantedFn) -> LayerScan:
    """A LayerScan from the walker's records (inspect/walk.py), read here or by the helper container.

    This loop runs for every file of the image, so it avoids per-entry function calls."""
    builder = LayerBuilder(key)
    entries = builder.scan.entries
    for record in records:
        kind = record[0]
        if kind == "f":
            _, path, size, mode, uid, inode, links = record
            if links > 1:
                builder.add_linked(path, inode, size, mode, uid)
            else:
                entries[path] = (REG, size, mode, uid)
        elif kind == "d":
            entries[record[1]] = (DIR, 0, record[2], record[3])
            if record[4]:
                builder.opaque(record[1])
        elif kind == "c":
            if wanted(record[1]):
                builder.capture(record[1], record[2])
        elif kind == "l":
            entries[record[1]] = (SYMLINK, 0, record[2], record[3])
        elif kind == "w":
            builder.whiteout(record[1])
        elif kind == "o":
            entries[record[1]] = (OTHER, 0, record[2], record[3])
    return builder.finish()


def scan_layers(dirs: list[str], wanted: WantedFn, *, compressed: bool = False, cache: dict | None = None) -> list[LayerScan]:
    """Scan each layer dir; `cache` (keyed by dir) lets two images that share layers read them once.
    Layer dirs are immutable while the image exists, so a cached scan stays right."""
    cache = {} if cache is None else cache
    todo = [path for path in dict.fromkeys(dirs) if (path, compressed) not in cache]
    scans = {path: scan_layer_dir(path, wanted) for path in todo}
    if compressed and todo:
        workers = max(1, min(len(todo), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for path, size in zip(todo, pool.map(walk.gzip_tar_size, todo), strict=True):
                scans[path].compressed_size = size
    for path, scan in scans.items():
        cache[(path, compressed)] = scan
    return [cache[(path, compressed)] for path in dirs]
