"""Fast reader: walk the engine's overlay2 layer directories directly.

`docker image inspect` gives the image's diff dirs in GraphDriver.Data: UpperDir is the top layer and
LowerDir lists the others top-down, colon-separated. Reversed, they line up with RootFS.Layers
(bottom-up). overlay2 marks a deleted path with a 0/0 character device and a directory whose lower
contents are hidden with the xattr trusted.overlay.opaque=y. The image config JSON (history included)
is in the engine's imagedb. All of this needs root and a local engine; `available()` says why not.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor

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
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_S_IFREG, _S_IFDIR, _S_IFLNK, _S_IFCHR = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR


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
    return list(reversed(lower)) + [upper]


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
    """Iterative walk of one diff dir: one lstat per entry, one getxattr per directory.

    This loop runs for every file of the image, so it avoids per-entry function calls.
    """
    builder = LayerBuilder(root)
    entries = builder.scan.entries
    wanted_names = WANTED_NAMES
    stack = [""]
    while stack:
        rel = stack.pop()
        prefix = rel + "/" if rel else ""
        check_all = rel.startswith(WANTED_DIRS)
        try:
            iterator = os.scandir(os.path.join(root, rel) if rel else root)
        except OSError:
            continue
        with iterator:
            for item in iterator:
                name = item.name
                path = prefix + name
                info = item.stat(follow_symlinks=False)
                mode = info.st_mode
                kind = mode & 0o170000
                if kind == _S_IFREG:
                    if info.st_nlink > 1:
                        builder.add_linked(path, info.st_ino, info.st_size, mode & 0o7777, info.st_uid)
                    else:
                        entries[path] = (REG, info.st_size, mode & 0o7777, info.st_uid)
                    if (check_all or name in wanted_names) and wanted(path) and info.st_size <= MAX_CAPTURE:
                        try:
                            with open(item.path, "rb") as handle:
                                builder.capture(path, handle.read())
                        except OSError:
                            pass
                elif kind == _S_IFDIR:
                    entries[path] = (DIR, 0, mode & 0o7777, info.st_uid)
                    if _is_opaque(item.path):
                        builder.opaque(path)
                    stack.append(path)
                elif kind == _S_IFLNK:
                    entries[path] = (SYMLINK, 0, mode & 0o7777, info.st_uid)
                elif kind == _S_IFCHR and info.st_rdev == 0:
                    builder.whiteout(path)
                else:
                    entries[path] = (OTHER, 0, mode & 0o7777, info.st_uid)
    return builder.finish()


def _is_opaque(path: str) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def scan_layers(dirs: list[str], wanted: WantedFn, *, compressed: bool = False, cache: dict | None = None) -> list[LayerScan]:
    """Scan each layer dir; `cache` (keyed by dir) lets two images that share layers read them once.
    Layer dirs are immutable while the image exists, so a cached scan stays right."""
    cache = {} if cache is None else cache
    todo = [path for path in dict.fromkeys(dirs) if (path, compressed) not in cache]
    scans = {path: scan_layer_dir(path, wanted) for path in todo}
    if compressed and todo:
        workers = max(1, min(len(todo), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for path, size in zip(todo, pool.map(gzip_tar_size, todo)):
                scans[path].compressed_size = size
    for path, scan in scans.items():
        cache[(path, compressed)] = scan
    return [cache[(path, compressed)] for path in dirs]


class _GzipCounter:
    """A write-only file that gzips (level 6, like `docker push`) what it gets and keeps only the count."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(self._compressor.compress(data))
        return len(data)

    def close(self) -> None:
        self.count += len(self._compressor.flush())


def gzip_tar_size(root: str) -> int:
    """Rebuild the layer's tar (sorted walk, as the engine's differ writes it) and count its gzip bytes.

    Headers differ slightly from the engine's tar (no xattrs, whiteouts stay devices), which moves the
    figure by well under 1 %; the contents dominate.
    """
    counter = _GzipCounter()
    with tarfile.open(fileobj=counter, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name, recursive=True)
    counter.close()
    return counter.count
