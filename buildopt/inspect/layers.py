"""What both readers produce (one `LayerScan` per layer) and how layers stack into the final filesystem.

Readers only record what a layer holds: entries, whiteouts, opaque dirs, hardlinks and the contents of
the few small files the package parsers need. `merge_layers` applies them bottom-up with the overlay
rules Docker uses, so the overlay2 and the archive reader give the same profile by construction.

Paths here are relative, without a leading slash ("usr/bin/python3"), which keeps the hot loops cheap.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

# Entry kinds. Directories take part in hiding rules but are not files of the profile.
REG, DIR, SYMLINK, OTHER = "f", "d", "l", "o"

# A layer entry: (kind, size, mode, uid). Tuples keep 50k+ entries cheap.
Entry = tuple[str, int, int, int]


@dataclass
class LayerScan:
    key: str  # where the layer came from: its diff dir or its member name in the save tar
    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)  # paths this layer deletes (with their subtrees)
    opaques: list[str] = field(default_factory=list)  # dirs whose lower contents this layer hides
    links: dict[str, str] = field(default_factory=dict)  # extra hardlink name -> the name charged with the bytes
    contents: dict[str, bytes] = field(default_factory=dict)  # zlib-compressed contents of wanted files
    compressed_size: int | None = None

    @property
    def size(self) -> int:
        return sum(entry[1] for entry in self.entries.values() if entry[0] == REG)

    @property
    def file_count(self) -> int:
        return sum(1 for entry in self.entries.values() if entry[0] != DIR)


class LayerBuilder:
    """Collects one layer's entries. Hardlinked files are charged once, to the group's smallest path,
    whatever order the reader meets them in (tar order and directory order differ)."""

    def __init__(self, key: str):
        self.scan = LayerScan(key)
        self._groups: dict[object, list[str]] = {}  # group key (inode or link target) -> paths
        self._group_size: dict[object, int] = {}

    def add(self, path: str, kind: str, size: int, mode: int, uid: int) -> None:
        self.scan.entries[path] = (kind, size, mode, uid)

    def add_linked(self, path: str, group: object, size: int | None, mode: int, uid: int) -> None:
        """A name of a multiply-linked regular file; `size` is None when this name doesn't know it (a tar link)."""
        self.scan.entries[path] = (REG, 0, mode, uid)
        self._groups.setdefault(group, []).append(path)
        if size is not None:
            self._group_size[group] = size

    def add_hardlink(self, path: str, target: str, mode: int, uid: int) -> None:
        """A tar hardlink entry: `target` is an earlier member of the same layer tar."""
        if target not in self._groups:
            entry = self.scan.entries.get(target)
            if entry is None or entry[0] != REG:
                self.add(path, REG, 0, mode, uid)  # dangling link: no bytes to charge
                return
            self.add_linked(target, target, entry[1], entry[2], entry[3])
        self.add_linked(path, target, None, mode, uid)

    def whiteout(self, path: str) -> None:
        self.scan.whiteouts.append(path)

    def opaque(self, path: str) -> None:
        self.scan.opaques.append(path)

    def capture(self, path: str, data: bytes) -> None:
        self.scan.contents[path] = zlib.compress(data, 1)

    def finish(self) -> LayerScan:
        entries = self.scan.entries
        for group, paths in self._groups.items():
            names = sorted(path for path in set(paths) if entries.get(path, ("",))[0] == REG)
            if not names:
                continue
            size = self._group_size.get(group, 0)
            canonical = names[0]
            kind, _, mode, uid = entries[canonical]
            entries[canonical] = (kind, size, mode, uid)
            for other in names[1:]:
                self.scan.links[other] = canonical
        return self.scan


@dataclass
class MergedImage:
    final: dict[str, tuple]  # path -> (kind, size, mode, uid, layer) for every visible entry, dirs included
    layer_wasted: list[int]  # per layer: its bytes hidden by later layers
    wasted: list[tuple]  # (path, size, layer, hidden_by, reason) for every hidden copy with bytes
    layer_sizes: list[int]
    layer_files: list[int]

    @property
    def visible_size(self) -> int:
        return sum(rec[1] for rec in self.final.values() if rec[0] == REG)


def merge_layers(scans: list[LayerScan]) -> MergedImage:
    """Stack layers bottom-up: whiteouts and opaque dirs first, then the layer's own entries."""
    stack = _Stack(len(scans))
    for index, scan in enumerate(scans):
        stack.apply(index, scan)
    _charge_surviving_hardlinks(scans, stack.final, stack.wasted, stack.layer_wasted)
    return MergedImage(
        final=stack.final,
        layer_wasted=stack.layer_wasted,
        wasted=stack.wasted,
        layer_sizes=[scan.size for scan in scans],
        layer_files=[scan.file_count for scan in scans],
    )


class _Stack:
    """The filesystem as seen through the layers applied so far, and what they hid."""

    def __init__(self, layers: int):
        self.final: dict[str, tuple] = {}
        self.wasted: list[tuple] = []
        self.layer_wasted = [0] * layers
        self._index = 0
        self._sorted: list[str] | None = None  # keys sorted once per layer, only when a subtree is needed

    def apply(self, index: int, scan: LayerScan) -> None:
        self._index, self._sorted = index, None
        final = self.final
        for path in scan.whiteouts:
            if path in final and final[path][0] == DIR:
                self._hide_subtree(path, "deleted")
            self._hide(path, "deleted")
        for path in scan.opaques:
            self._hide_subtree(path, "deleted")
        for path, (kind, size, mode, uid) in scan.entries.items():
            old = final.get(path)
            if old is not None and old[4] != index:
                if old[0] != DIR:
                    self._hide(path, "overwritten")
                elif kind != DIR:
                    self._hide_subtree(path, "replaced")
            final[path] = (kind, size, mode, uid, index)

    def _hide(self, path: str, reason: str) -> None:
        record = self.final.get(path)
        if record is None or record[4] == self._index:
            return  # already gone, or this layer's own entry
        del self.final[path]
        if record[0] == REG and record[1]:
            self.wasted.append((path, record[1], record[4], self._index, reason))
            self.layer_wasted[record[4]] += record[1]

    def _hide_subtree(self, directory: str, reason: str) -> None:
        # "dir/" sorts contiguously, so a subtree is one bisect range of the sorted keys.
        if self._sorted is None:
            self._sorted = sorted(self.final)
        keys = self._sorted
        start = directory + "/"
        position = bisect_left(keys, start)
        while position < len(keys) and keys[position].startswith(start):
            self._hide(keys[position], reason)
            position += 1


def _charge_surviving_hardlinks(scans: list[LayerScan], final: dict, wasted: list, layer_wasted: list[int]) -> None:
    """When the charged name of a hardlinked file is hidden but another name survives, the bytes are
    still visible: move the charge to the smallest surviving name and take it off the waste."""
    for index, scan in enumerate(scans):
        if not scan.links:
            continue
        groups: dict[str, list[str]] = {}
        for other, canonical in scan.links.items():
            groups.setdefault(canonical, []).append(other)
        for canonical, others in groups.items():
            record = final.get(canonical)
            if record is not None and record[4] == index:
                continue
            survivors = sorted(name for name in others if name in final and final[name][4] == index)
            if not survivors:
                continue
            size = scan.entries[canonical][1]
            heir = survivors[0]
            kind, _, mode, uid, layer = final[heir]
            final[heir] = (kind, size, mode, uid, layer)
            for position, copy in enumerate(wasted):
                if copy[0] == canonical and copy[2] == index:
                    del wasted[position]
                    layer_wasted[index] -= copy[1]
                    break


def final_contents(scans: list[LayerScan], final: dict) -> dict[str, bytes]:
    """Contents of the wanted files as the final filesystem shows them (the visible layer's copy)."""
    contents: dict[str, bytes] = {}
    for index, scan in enumerate(scans):
        for path, packed in scan.contents.items():
            record = final.get(path)
            if record is not None and record[4] == index:
                contents[path] = zlib.decompress(packed)
    return contents


# Which files the package and CUDA parsers read. Kept cheap: it runs on every entry of every layer.
# Readers may skip wanted() for a file whose name isn't in WANTED_NAMES outside WANTED_DIRS.
WANTED_NAMES = frozenset({"status", "RECORD", "installed-files.txt", "version.py", "passwd", "os-release"})
WANTED_DIRS = ("var/lib/dpkg/info", "var/lib/dpkg/status.d")


def wanted(path: str) -> bool:
    name = path.rpartition("/")[2]
    if name.endswith(".list"):
        return path.startswith("var/lib/dpkg/info/")
    if name not in WANTED_NAMES:
        return path.startswith("var/lib/dpkg/status.d/")
    if name == "status":
        return path == "var/lib/dpkg/status"
    if name == "RECORD":
        return path.endswith(".dist-info/RECORD")
    if name == "installed-files.txt":
        return path.endswith(".egg-info/installed-files.txt")
    if name == "version.py":
        return path.endswith("-packages/torch/version.py")
    if name == "passwd":
        return path == "etc/passwd"
    return path in ("etc/os-release", "usr/lib/os-release")


# Size cap for a captured file: a dpkg status or a torch RECORD is a few MB at most.
MAX_CAPTURE = 64 * 1024 * 1024

WantedFn = Callable[[str], bool]


def normalize(name: str) -> str:
    """Tar member names come as "./usr/bin", "usr/bin/" or "/usr/bin": make them "usr/bin"."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name
