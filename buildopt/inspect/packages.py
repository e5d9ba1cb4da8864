"""Installed packages, sized by the files they really have in the image.

- Debian: /var/lib/dpkg/status (or distroless's status.d/) gives name, version and Installed-Size;
  /var/lib/dpkg/info/<pkg>.list gives the package's paths, summed from the final filesystem (so
  dpkg path-excludes and later deletions are accounted for). Without a .list, Installed-Size is used.
- Python: every `*.dist-info/RECORD` in any site-packages or dist-packages dir (system, venv, user),
  each path resolved against its site dir and summed from the final filesystem; `*.egg-info` with an
  installed-files.txt likewise.

Paths are relative ("usr/lib/..."), as in layers.py; `final` maps them to (kind, size, mode, uid, layer).
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from .layers import REG
from .model import Package


@dataclass
class PackageScan:
    packages: list[Package]
    owners: dict[str, tuple[str, str]]  # path -> (manager, name) for every file a package lists


def scan_packages(contents: dict[str, bytes], final: dict[str, tuple]) -> PackageScan:
    owners: dict[str, tuple[str, str]] = {}
    packages = dpkg_packages(contents, final, owners) + python_packages(contents, final, owners)
    packages.sort(key=lambda package: (package.manager, package.name, package.location))
    return PackageScan(packages, owners)


def parse_dpkg_status(text: str) -> list[dict[str, str]]:
    """Stanzas of a dpkg status file (continuation lines folded away), installed packages only."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # continuation of a multi-line field (Description, Conffiles)
            key, sep, value = line.partition(":")
            if sep:
                last = key.strip()
                fields[last] = value.strip()
        if "Package" not in fields:
            continue
        status = fields.get("Status", "install ok installed").split()
        if status[-1:] != ["installed"]:
            continue
        stanzas.append(fields)
    return stanzas


def dpkg_packages(contents: dict[str, bytes], final: dict[str, tuple], owners: dict) -> list[Package]:
    stanzas = []
    if "var/lib/dpkg/status" in contents:
        stanzas += parse_dpkg_status(contents["var/lib/dpkg/status"].decode("utf-8", "replace"))
    for path, data in contents.items():
        if path.startswith("var/lib/dpkg/status.d/"):  # distroless: one stanza per file
            stanzas += parse_dpkg_status(data.decode("utf-8", "replace"))
    packages = []
    for fields in stanzas:
        name = fields["Package"]
        arch = fields.get("Architecture", "")
        listing = contents.get(f"var/lib/dpkg/info/{name}:{arch}.list") or contents.get(f"var/lib/dpkg/info/{name}.list")
        installed = _int(fields.get("Installed-Size"))
        installed_bytes = installed * 1024 if installed is not None else None
        if listing is not None:
            size, count = _sum_paths(
                (line.strip().lstrip("/") for line in listing.decode("utf-8", "replace").splitlines()),
                final, owners, ("deb", name))
        else:
            size, count = installed_bytes or 0, 0
        packages.append(Package("deb", name, fields.get("Version", ""), size, count, "", installed_bytes))
    return packages


def python_packages(contents: dict[str, bytes], final: dict[str, tuple], owners: dict) -> list[Package]:
    packages = []
    for path, data in contents.items():
        if path.endswith(".dist-info/RECORD"):
            meta_dir = posixpath.dirname(path)
            site_dir = posixpath.dirname(meta_dir)
            name, version = _name_version(posixpath.basename(meta_dir)[: -len(".dist-info")])
            rels = (row[0] for row in csv.reader(io.StringIO(data.decode("utf-8", "replace"))) if row)
        elif path.endswith(".egg-info/installed-files.txt"):
            meta_dir = posixpath.dirname(path)
            site_dir = posixpath.dirname(meta_dir)
            name, version = _name_version(posixpath.basename(meta_dir)[: -len(".egg-info")])
            version = version.split("-py")[0]
            rels = (posixpath.join(posixpath.basename(meta_dir), line.strip())
                    for line in data.decode("utf-8", "replace").splitlines() if line.strip())
        else:
            continue
        if not _is_site_dir(site_dir):
            continue
        name = canonicalize_name(name)
        resolved = (_resolve(site_dir, rel) for rel in rels)
        size, count = _sum_paths(resolved, final, owners, ("pip", name))
        packages.append(Package("pip", name, version, size, count, "/" + site_dir))
    return packages


def _is_site_dir(path: str) -> bool:
    base = posixpath.basename(path)
    return base in ("site-packages", "dist-packages")


def _resolve(site_dir: str, rel: str) -> str:
    if rel.startswith("/"):
        return posixpath.normpath(rel).lstrip("/")
    return posixpath.normpath(posixpath.join(site_dir, rel))


def _name_version(stem: str) -> tuple[str, str]:
    name, _, version = stem.partition("-")
    return name, version


def _sum_paths(paths, final: dict[str, tuple], owners: dict, owner: tuple[str, str]) -> tuple[int, int]:
    size = count = 0
    seen = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        record = final.get(path)
        if record is None or record[0] != REG:
            continue
        size += record[1]
        count += 1
        owners.setdefault(path, owner)
    return size, count


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


_TORCH_VERSION = re.compile(r"^__version__\s*(?::\s*\w+\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_TORCH_CUDA = re.compile(r"^cuda\s*(?::\s*[\w\[\]]+\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_TORCH_HIP = re.compile(r"^hip\s*(?::\s*[\w\[\]]+\s*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def torch_build(contents: dict[str, bytes]) -> tuple[str | None, str | None, str | None]:
    """(version, variant, cuda version) from torch/version.py; variant is "cuda", "rocm" or "cpu"."""
    for path, data in sorted(contents.items()):
        if not path.endswith("-packages/torch/version.py"):
            continue
        text = data.decode("utf-8", "replace")
        version = _TORCH_VERSION.search(text)
        cuda = _TORCH_CUDA.search(text)
        hip = _TORCH_HIP.search(text)
        variant = "cuda" if cuda else "rocm" if hip else "cpu"
        return (version.group(1) if version else None), variant, (cuda.group(1) if cuda else None)
    return None, None, None


def passwd_uids(contents: dict[str, bytes]) -> dict[str, int]:
    uids: dict[str, int] = {}
    for line in contents.get("etc/passwd", b"").decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            uids.setdefault(parts[0], int(parts[2]))
    return uids


def os_release(contents: dict[str, bytes]) -> str:
    data = contents.get("etc/os-release") or contents.get("usr/lib/os-release") or b""
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""
