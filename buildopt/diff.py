"""Diff stage: two `ImageProfile`s -> `ImageDiff`, i.e. where the bytes went.

Everything is compared on the final filesystems and on content-addressed layer ids, never by layer
position, so two images that share no layers (a single-stage original and its multi-stage rewrite)
diff as well as two builds of one Dockerfile. JSON schema: docs/inspect.md (`buildopt.diff/v1`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from packaging.version import InvalidVersion, Version

from .inspect.classify import is_cuda_wheel
from .inspect.model import GROUPS, ImageProfile, LayerInfo, Package

SCHEMA = "buildopt.diff/v1"


@dataclass(frozen=True)
class ImageSide:
    ref: str
    id: str
    size: int
    visible_size: int
    wasted_bytes: int
    compressed_size: int | None
    layers: int
    files: int
    user: str
    runs_as_root: bool
    torch: str | None  # "2.13.0+cu130 (cuda)" or None
    reader: str

    @classmethod
    def of(cls, profile: ImageProfile) -> ImageSide:
        cuda = profile.cuda
        torch = None
        if cuda.torch_variant:
            pip_torch = profile.package("torch", "pip")
            version = cuda.torch_version or (pip_torch.version if pip_torch else "")
            torch = f"{version} ({cuda.torch_variant})".strip()
        return cls(profile.ref, profile.id, profile.size, profile.visible_size, profile.wasted_bytes,
                   profile.compressed_size, len(profile.layers), len(profile.files), profile.config.user,
                   profile.config.runs_as_root, torch, profile.reader)


@dataclass(frozen=True)
class SizeDelta:
    """A named thing (directory, byte group) with its bytes in A and in B."""

    name: str
    size_a: int
    size_b: int

    @property
    def delta(self) -> int:
        return self.size_b - self.size_a


@dataclass(frozen=True)
class PackageChange:
    manager: str
    name: str
    change: str  # "added", "removed", "upgraded", "downgraded", "changed" (same version, other build or size)
    version_a: str | None
    version_b: str | None
    size_a: int
    size_b: int

    @property
    def delta(self) -> int:
        return self.size_b - self.size_a


@dataclass(frozen=True)
class FileMove:
    change: str  # "added", "removed", "moved", "resized"
    path_a: str | None
    path_b: str | None
    size_a: int
    size_b: int
    detail: str = ""  # format or owning package

    @property
    def delta(self) -> int:
        return self.size_b - self.size_a


@dataclass(frozen=True)
class ConfigChange:
    field: str
    a: object
    b: object
    note: str = ""


@dataclass
class ImageDiff:
    a: ImageSide
    b: ImageSide
    shared_layers: int
    layers_only_a: list[LayerInfo]
    layers_only_b: list[LayerInfo]
    dirs: list[SizeDelta]  # every bucket that differs, largest change first
    groups: list[SizeDelta]  # model.GROUPS, in their order
    packages_added: list[PackageChange]
    packages_removed: list[PackageChange]
    packages_changed: list[PackageChange]
    models: list[FileMove]
    cuda_packages: list[PackageChange]  # nvidia-*, cuda-*, triton and torch changes
    cuda_libraries: list[FileMove]
    config_changes: list[ConfigChange]
    notes: list[str] = field(default_factory=list)

    @property
    def size_delta(self) -> int:
        return self.b.size - self.a.size

    @property
    def size_delta_pct(self) -> float | None:
        return round(100.0 * self.size_delta / self.a.size, 2) if self.a.size else None

    @property
    def visible_delta(self) -> int:
        return self.b.visible_size - self.a.visible_size

    @property
    def wasted_delta(self) -> int:
        return self.b.wasted_bytes - self.a.wasted_bytes

    @property
    def compressed_delta(self) -> int | None:
        if self.a.compressed_size is None or self.b.compressed_size is None:
            return None
        return self.b.compressed_size - self.a.compressed_size

    @property
    def layer_delta(self) -> int:
        return self.b.layers - self.a.layers

    def dirs_gained(self, count: int = 15) -> list[SizeDelta]:
        return [d for d in sorted(self.dirs, key=lambda d: (-d.delta, d.name)) if d.delta > 0][:count]

    def dirs_lost(self, count: int = 15) -> list[SizeDelta]:
        return [d for d in sorted(self.dirs, key=lambda d: (d.delta, d.name)) if d.delta < 0][:count]

    def to_dict(self, limit: int = 50) -> dict:
        def delta_row(item: SizeDelta, key: str = "path") -> dict:
            return {key: item.name, "size_a": item.size_a, "size_b": item.size_b, "delta": item.delta}

        def package_row(change: PackageChange) -> dict:
            return {**asdict(change), "delta": change.delta}

        def move_row(move: FileMove) -> dict:
            return {**asdict(move), "delta": move.delta}

        return {
            "schema": SCHEMA,
            "a": asdict(self.a),
            "b": asdict(self.b),
            "total_size_delta": self.size_delta,
            "total_size_delta_pct": self.size_delta_pct,
            "visible_size_delta": self.visible_delta,
            "wasted_bytes_delta": self.wasted_delta,
            "compressed_size_delta": self.compressed_delta,
            "layers": {
                "count_a": self.a.layers,
                "count_b": self.b.layers,
                "delta": self.layer_delta,
                "shared": self.shared_layers,
                "only_a": [asdict(layer) for layer in self.layers_only_a],
                "only_b": [asdict(layer) for layer in self.layers_only_b],
            },
            "groups": [{"group": g.name, "label": GROUPS.get(g.name, g.name), "size_a": g.size_a, "size_b": g.size_b,
                        "delta": g.delta} for g in self.groups],
            "dirs_gained": [delta_row(d) for d in self.dirs_gained(limit)],
            "dirs_lost": [delta_row(d) for d in self.dirs_lost(limit)],
            "packages": {
                "added": [package_row(p) for p in self.packages_added],
                "removed": [package_row(p) for p in self.packages_removed],
                "changed": [package_row(p) for p in self.packages_changed],
            },
            "models": [move_row(m) for m in self.models],
            "cuda": {
                "torch_a": self.a.torch,
                "torch_b": self.b.torch,
                "packages": [package_row(p) for p in self.cuda_packages],
                "libraries": [move_row(m) for m in self.cuda_libraries],
            },
            "config_changes": [asdict(change) for change in self.config_changes],
            "notes": list(self.notes),
        }


def diff_profiles(a: ImageProfile, b: ImageProfile) -> ImageDiff:
    ids_a = [layer.diff_id for layer in a.layers]
    ids_b = [layer.diff_id for layer in b.layers]
    shared = set(ids_a) & set(ids_b)
    added, removed, changed = _package_changes(a.packages, b.packages)
    cuda_packages = sorted(
        (p for p in added + removed + changed if p.manager == "pip" and (is_cuda_wheel(p.name) or p.name == "torch")),
        key=lambda p: (-abs(p.delta), p.name))
    diff = ImageDiff(
        a=ImageSide.of(a),
        b=ImageSide.of(b),
        shared_layers=len(shared),
        layers_only_a=[layer for layer in a.layers if layer.diff_id not in shared],
        layers_only_b=[layer for layer in b.layers if layer.diff_id not in shared],
        dirs=_size_deltas({k: v.size for k, v in a.dirs.items()}, {k: v.size for k, v in b.dirs.items()}),
        groups=[SizeDelta(key, a.groups.get(key, 0), b.groups.get(key, 0)) for key in GROUPS],
        packages_added=added,
        packages_removed=removed,
        packages_changed=changed,
        models=_file_moves([(m.path, m.size, m.format) for m in a.models], [(m.path, m.size, m.format) for m in b.models]),
        cuda_packages=cuda_packages,
        cuda_libraries=_file_moves([(lib.path, lib.size, lib.package or "") for lib in a.cuda.libraries],
                                   [(lib.path, lib.size, lib.package or "") for lib in b.cuda.libraries]),
        config_changes=_config_changes(a, b),
    )
    if not shared:
        diff.notes.append("the images share no layers: compared on their final filesystems")
    return diff


def _size_deltas(sizes_a: dict[str, int], sizes_b: dict[str, int]) -> list[SizeDelta]:
    deltas = [SizeDelta(key, sizes_a.get(key, 0), sizes_b.get(key, 0)) for key in sizes_a.keys() | sizes_b.keys()]
    return sorted((d for d in deltas if d.delta), key=lambda d: (-abs(d.delta), d.name))


def _package_index(packages: list[Package]) -> dict[tuple[str, str], tuple[str, int]]:
    """(manager, name) -> (versions, bytes); one package installed in two places is summed."""
    index: dict[tuple[str, str], tuple[list[str], int]] = {}
    for package in packages:
        versions, size = index.get((package.manager, package.name), ([], 0))
        if package.version not in versions:
            versions = [*versions, package.version]
        index[(package.manager, package.name)] = (versions, size + package.size)
    return {key: (", ".join(sorted(versions)), size) for key, (versions, size) in index.items()}


def _package_changes(packages_a: list[Package], packages_b: list[Package]):
    index_a, index_b = _package_index(packages_a), _package_index(packages_b)
    added, removed, changed = [], [], []
    for key in index_a.keys() | index_b.keys():
        manager, name = key
        if key not in index_a:
            version, size = index_b[key]
            added.append(PackageChange(manager, name, "added", None, version, 0, size))
        elif key not in index_b:
            version, size = index_a[key]
            removed.append(PackageChange(manager, name, "removed", version, None, size, 0))
        else:
            (version_a, size_a), (version_b, size_b) = index_a[key], index_b[key]
            if version_a == version_b and size_a == size_b:
                continue
            changed.append(PackageChange(manager, name, _version_change(manager, version_a, version_b),
                                         version_a, version_b, size_a, size_b))
    added.sort(key=lambda p: (-p.size_b, p.manager, p.name))
    removed.sort(key=lambda p: (-p.size_a, p.manager, p.name))
    changed.sort(key=lambda p: (-abs(p.delta), p.manager, p.name))
    return added, removed, changed


def _version_change(manager: str, version_a: str, version_b: str) -> str:
    if version_a == version_b or "," in version_a or "," in version_b:
        return "changed"
    if manager == "pip":
        try:
            old, new = Version(version_a), Version(version_b)
        except InvalidVersion:
            return "changed"
        if old.public == new.public:
            return "changed"  # same release, other build: 2.13.0+cu130 vs 2.13.0+cpu
        return "upgraded" if new > old else "downgraded"
    return "changed"  # Debian version ordering needs dpkg's rules; "changed" is honest


def _file_moves(items_a: list[tuple[str, int, str]], items_b: list[tuple[str, int, str]]) -> list[FileMove]:
    """Added, removed and resized paths; a removed and an added file with the same name and size moved."""
    by_path_a = {path: (size, detail) for path, size, detail in items_a}
    by_path_b = {path: (size, detail) for path, size, detail in items_b}
    moves = []
    only_a = {path for path in by_path_a if path not in by_path_b}
    only_b = {path for path in by_path_b if path not in by_path_a}
    for path in by_path_a.keys() & by_path_b.keys():
        if by_path_a[path][0] != by_path_b[path][0]:
            moves.append(FileMove("resized", path, path, by_path_a[path][0], by_path_b[path][0], by_path_b[path][1]))
    unmatched_b: dict[tuple[str, int], list[str]] = {}
    for path in sorted(only_b):
        unmatched_b.setdefault((path.rpartition("/")[2], by_path_b[path][0]), []).append(path)
    for path in sorted(only_a):
        size, detail = by_path_a[path]
        candidates = unmatched_b.get((path.rpartition("/")[2], size))
        if candidates:
            target = candidates.pop(0)
            only_b.discard(target)
            moves.append(FileMove("moved", path, target, size, size, detail))
        else:
            moves.append(FileMove("removed", path, None, size, 0, detail))
    for path in sorted(only_b):
        size, detail = by_path_b[path]
        moves.append(FileMove("added", None, path, 0, size, detail))
    moves.sort(key=lambda m: (-max(m.size_a, m.size_b), m.path_a or m.path_b or ""))
    return moves


def _config_changes(a: ImageProfile, b: ImageProfile) -> list[ConfigChange]:
    ca, cb = a.config, b.config
    changes = []
    if ca.user != cb.user or ca.runs_as_root != cb.runs_as_root:
        note = ""
        if ca.runs_as_root and not cb.runs_as_root:
            note = "root -> non-root"
        elif not ca.runs_as_root and cb.runs_as_root:
            note = "non-root -> root"
        changes.append(ConfigChange("user", ca.user or "(root)", cb.user or "(root)", note))
    if ca.healthcheck != cb.healthcheck:
        note = "added" if ca.healthcheck is None else "removed" if cb.healthcheck is None else "changed"
        changes.append(ConfigChange("healthcheck", _health_text(ca.healthcheck), _health_text(cb.healthcheck), note))
    for name in ("entrypoint", "cmd", "workdir", "exposed_ports", "volumes", "stop_signal"):
        value_a, value_b = getattr(ca, name), getattr(cb, name)
        if value_a != value_b:
            changes.append(ConfigChange(name, value_a, value_b))
    for key in sorted(ca.env.keys() | cb.env.keys()):
        value_a, value_b = ca.env.get(key), cb.env.get(key)
        if value_a != value_b:
            note = "added" if value_a is None else "removed" if value_b is None else "changed"
            changes.append(ConfigChange(f"env.{key}", value_a, value_b, note))
    return changes


def _health_text(test: list[str] | None) -> str | None:
    if test is None:
        return None
    if test[:1] == ["CMD-SHELL"]:
        return " ".join(test[1:])
    if test[:1] == ["CMD"]:
        return " ".join(test[1:])
    return " ".join(test)
