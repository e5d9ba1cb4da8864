"""A fixture Trivy vulnerability DB, written by this project (stdlib only).

Trivy's real DB can't be downloaded offline, so tests and the demo scan with a small DB of planted,
fake `CVE-2099-*` advisories that match packages in the test images. The format follows
/work/shared/trivy-offline-db.md (verified with trivy 0.76.0): `DIR/db/trivy.db` is a bbolt file,
`DIR/db/metadata.json` says schema Version 2.

The bbolt writer is write-once: two meta pages (FNV-1a-64 checksum), an empty freelist page, then one
leaf page per bucket (plus overflow pages when it's bigger than a page), keys sorted bytewise, every
sub-bucket stored in its own page (never inline). Trivy opens the file read-only, which is all this
layout has to satisfy.

    python -m buildopt.trivydb --cache-dir DIR     # then: trivy image --cache-dir DIR --skip-db-update ...
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import BadInput, BuildoptError

SCHEMA_VERSION = 2  # trivy 0.76 refuses other versions with --skip-db-update
# metadata.json key marking a DB this module wrote, so rewriting it is safe but a real DB is never overwritten.
FIXTURE_MARKER = "BuildoptFixture"
SEVERITY_LEVELS = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


@dataclass(frozen=True)
class DataSource:
    id: str  # the VendorSeverity key trivy uses for advisories in this bucket
    name: str
    url: str

    def as_json(self) -> dict[str, str]:
        return {"ID": self.id, "Name": self.name, "URL": self.url}


# OS bucket family (first word of "debian 12") -> data source. Without a data-source entry trivy ignores
# the vendor severity and reports UNKNOWN, so only families listed here are accepted.
OS_DATA_SOURCES = {
    "debian": DataSource("debian", "Debian Security Tracker", "https://salsa.debian.org/security-tracker-team/security-tracker"),
    "ubuntu": DataSource("ubuntu", "Ubuntu CVE Tracker", "https://git.launchpad.net/ubuntu-cve-tracker"),
    "alpine": DataSource("alpine", "Alpine Secdb", "https://secdb.alpinelinux.org/"),
}
PIP_BUCKET = "pip::GitHub Security Advisory pip"
PIP_DATA_SOURCE = DataSource("ghsa", "GitHub Security Advisory pip", "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Apip")
FIXTURE_DESCRIPTION = "Planted by buildopt's fixture DB for tests; not a real vulnerability."


@dataclass(frozen=True)
class OsAdvisory:
    """An advisory on an OS source package. Trivy matches the dpkg *source* name (zlib, not zlib1g) and
    reports one finding per binary package built from it whose source version is lower than the fix."""

    bucket: str  # "<family> <major>", e.g. "debian 12"
    source_package: str
    vuln_id: str
    fixed_version: str  # "" = no fix yet: every version is affected (trivy: Status "affected")
    severity: str
    title: str

    @property
    def data_source(self) -> DataSource:
        family = self.bucket.split(" ", 1)[0].lower()
        if family not in OS_DATA_SOURCES:
            raise BadInput(f"{self.vuln_id}: OS bucket {self.bucket!r} not supported (use one of {', '.join(OS_DATA_SOURCES)})")
        return OS_DATA_SOURCES[family]

    def advisory_json(self) -> dict:
        return {"FixedVersion": self.fixed_version} if self.fixed_version else {}


@dataclass(frozen=True)
class PipAdvisory:
    """An advisory on a Python distribution (matched against any *.dist-info/METADATA in the image).

    Versions are PEP 440 ranges: commas inside an entry mean AND, separate entries mean OR."""

    package: str
    vuln_id: str
    vulnerable_versions: tuple[str, ...]
    patched_versions: tuple[str, ...]
    severity: str
    title: str

    bucket = PIP_BUCKET
    data_source = PIP_DATA_SOURCE

    @property
    def key(self) -> str:
        # trivy's python-pkg analyzer lowercases and maps "_" to "-" (not "."); the DB key must match exactly.
        return self.package.lower().replace("_", "-")

    def advisory_json(self) -> dict:
        advisory: dict = {}
        if self.patched_versions:
            advisory["PatchedVersions"] = list(self.patched_versions)
        if self.vulnerable_versions:
            advisory["VulnerableVersions"] = list(self.vulnerable_versions)
        return advisory


Advisory = OsAdvisory | PipAdvisory

# Planted in the default fixture DB. They match the python:3.11-slim stand-in (Debian 12: zlib1g from
# source zlib 1:1.2.13.dfsg-1, coreutils 9.1-1), the real python:3.11-slim that CI pulls (Debian 13 today:
# source zlib 1:1.3.dfsg+really1.3.1-1, coreutils 9.7-3), and venvs holding tabulate 0.9.0 or requests.
# The Debian 13 fix version sits a few point releases ahead so a real zlib update doesn't silently pass it.
DEFAULT_FIXTURES: tuple[Advisory, ...] = (
    OsAdvisory("debian 12", "zlib", "CVE-2099-0001", "1:1.2.13.dfsg-1+deb12u1", "HIGH", "Planted zlib vulnerability"),
    OsAdvisory("debian 13", "zlib", "CVE-2099-0001", "1:1.3.dfsg+really1.3.1-1+deb13u9", "HIGH", "Planted zlib vulnerability"),
    PipAdvisory("tabulate", "CVE-2099-0002", ("<0.9.1",), ("0.9.1",), "CRITICAL", "Planted tabulate vulnerability"),
    PipAdvisory("requests", "CVE-2099-0003", ("<2.99.0",), ("2.99.0",), "MEDIUM", "Planted requests vulnerability"),
    OsAdvisory("debian 12", "coreutils", "CVE-2099-0004", "", "LOW", "Planted coreutils vulnerability (no fix yet)"),
    OsAdvisory("debian 13", "coreutils", "CVE-2099-0004", "", "LOW", "Planted coreutils vulnerability (no fix yet)"),
)


def planted_os_fix(os_name: str, source_package: str) -> str | None:
    """The planted fix version for an OS ("debian 12.15" or "debian 12") and source package, else None."""
    family, _, version = os_name.partition(" ")
    bucket = f"{family} {version.split('.')[0]}"
    for advisory in DEFAULT_FIXTURES:
        if isinstance(advisory, OsAdvisory) and advisory.bucket == bucket and advisory.source_package == source_package:
            return advisory.fixed_version
    return None


# --- bbolt ------------------------------------------------------------------------------------------
PAGE_SIZE = 4096
BOLT_MAGIC = 0xED0CDAED
BOLT_VERSION = 2
BRANCH_PAGE, LEAF_PAGE, META_PAGE, FREELIST_PAGE = 0x01, 0x02, 0x04, 0x10
BUCKET_LEAF_FLAG = 0x01
PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos (from this element's start), ksize, vsize
BUCKET_HEADER = struct.Struct("<QQ")  # root pgid, sequence
META_BODY = struct.Struct("<IIII QQ QQQ")  # magic, version, page size, flags, root bucket, freelist, pgid, txid
MAX_KEY_SIZE = 32768  # bbolt's limit
FREELIST_PGID = 2
FIRST_DATA_PGID = 3

BoltTree = Mapping[bytes, "bytes | BoltTree"]


def fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def bolt_bytes(tree: BoltTree) -> bytes:
    """A complete bbolt file whose root bucket holds `tree` (bytes values; Mapping values = sub-buckets)."""
    pages: list[bytes] = []
    next_pgid = FIRST_DATA_PGID

    def write_bucket(bucket: BoltTree) -> int:
        nonlocal next_pgid
        elements = []
        for key in sorted(bucket):
            if not isinstance(key, bytes) or not 0 < len(key) <= MAX_KEY_SIZE:
                raise ValueError(f"bbolt keys are 1..{MAX_KEY_SIZE} bytes, got {key!r:.60}")
            value = bucket[key]
            if isinstance(value, Mapping):
                # children first (post-order), so the parent knows their pgids; pages stay in pgid order
                elements.append((BUCKET_LEAF_FLAG, key, BUCKET_HEADER.pack(write_bucket(value), 0)))
            else:
                elements.append((0, key, bytes(value)))
        pgid = next_pgid
        page = _leaf_page(pgid, elements)
        pages.append(page)
        next_pgid += len(page) // PAGE_SIZE
        return pgid

    root_pgid = write_bucket(tree)
    high_water = next_pgid
    metas = [_meta_page(pgid, root_pgid, high_water, txid=pgid) for pgid in (0, 1)]
    freelist = PAGE_HEADER.pack(FREELIST_PGID, FREELIST_PAGE, 0, 0).ljust(PAGE_SIZE, b"\0")
    data = b"".join([*metas, freelist, *pages])
    assert len(data) == high_water * PAGE_SIZE
    return data


def _leaf_page(pgid: int, elements: list[tuple[int, bytes, bytes]]) -> bytes:
    count = len(elements)
    if count > 0xFFFF:  # the page header's count is 16 bits; more would need branch pages
        raise ValueError(f"a fixture bucket holds at most 65535 keys, got {count}")
    headers, payload = [], bytearray()
    for index, (flags, key, value) in enumerate(elements):
        pos = LEAF_ELEMENT.size * count + len(payload) - LEAF_ELEMENT.size * index
        headers.append(LEAF_ELEMENT.pack(flags, pos, len(key), len(value)))
        payload += key + value
    body = b"".join(headers) + payload
    size = PAGE_HEADER.size + len(body)
    overflow = -(-size // PAGE_SIZE) - 1  # extra contiguous pages
    page = PAGE_HEADER.pack(pgid, LEAF_PAGE, count, overflow) + body
    return page.ljust((overflow + 1) * PAGE_SIZE, b"\0")


def _meta_page(pgid: int, root_pgid: int, high_water: int, txid: int) -> bytes:
    body = META_BODY.pack(BOLT_MAGIC, BOLT_VERSION, PAGE_SIZE, 0, root_pgid, 0, FREELIST_PGID, high_water, txid)
    body += struct.pack("<Q", fnv1a64(body))
    return (PAGE_HEADER.pack(pgid, META_PAGE, 0, 0) + body).ljust(PAGE_SIZE, b"\0")


# --- trivy buckets ----------------------------------------------------------------------------------
def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def db_tree(advisories: Iterable[Advisory]) -> dict[bytes, dict]:
    """The bucket tree trivy reads: data-source, vulnerability, and one bucket per OS release / ecosystem."""
    data_sources: dict[bytes, bytes] = {}
    vulnerabilities: dict[str, dict] = {}
    tree: dict[bytes, dict] = {}
    for advisory in advisories:
        if advisory.severity not in SEVERITY_LEVELS:
            raise BadInput(f"{advisory.vuln_id}: severity {advisory.severity!r} is not one of {', '.join(SEVERITY_LEVELS)}")
        source = advisory.data_source
        bucket = advisory.bucket.encode()
        data_sources[bucket] = _compact(source.as_json())
        package = (advisory.source_package if isinstance(advisory, OsAdvisory) else advisory.key).encode()
        tree.setdefault(bucket, {}).setdefault(package, {})[advisory.vuln_id.encode()] = _compact(advisory.advisory_json())
        record = vulnerabilities.setdefault(advisory.vuln_id, {
            "Title": advisory.title,
            "Description": FIXTURE_DESCRIPTION,
            "Severity": advisory.severity,  # fallback trivy uses when no vendor severity applies
            "VendorSeverity": {},
            "References": [f"https://example.invalid/{advisory.vuln_id}"],
        })
        record["VendorSeverity"][source.id] = SEVERITY_LEVELS[advisory.severity]
    # trivy panics on a DB without a `vulnerability` bucket, so it is always there, even empty.
    tree[b"vulnerability"] = {vuln_id.encode(): _compact(record) for vuln_id, record in vulnerabilities.items()}
    tree[b"data-source"] = data_sources
    return tree


def metadata(now: datetime | None = None) -> dict:
    """metadata.json: a future NextUpdate and a non-zero DownloadedAt keep trivy from re-downloading."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Version": SCHEMA_VERSION, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": stamp,
            "DownloadedAt": stamp, FIXTURE_MARKER: True}


def is_fixture_db(cache_dir: Path) -> bool:
    try:
        return json.loads((Path(cache_dir) / "db" / "metadata.json").read_text()).get(FIXTURE_MARKER) is True
    except (OSError, ValueError, AttributeError):
        return False


def write_fixture_db(cache_dir: Path, advisories: Iterable[Advisory] = DEFAULT_FIXTURES, *, force: bool = False) -> Path:
    """Write cache_dir/db/trivy.db and metadata.json; returns the trivy.db path.

    A DB this module wrote earlier is replaced; any other (e.g. a real downloaded one) only with force.
    Files are written to a temp name and renamed, so a reader never sees half a DB.
    """
    db_dir = Path(cache_dir) / "db"
    db_path, metadata_path = db_dir / "trivy.db", db_dir / "metadata.json"
    if not force and (db_path.exists() or metadata_path.exists()) and not is_fixture_db(cache_dir):
        raise BadInput(f"{db_dir} holds a trivy DB this tool didn't write; pass --force to replace it")
    content = bolt_bytes(db_tree(advisories))
    try:
        db_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(f"cannot create {db_dir}: {err.strerror}") from None
    _atomic_write(db_path, content)
    _atomic_write(metadata_path, json.dumps(metadata(), indent=2).encode() + b"\n")
    return db_path


def _atomic_write(path: Path, content: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m buildopt.trivydb",
        description="Write the fixture trivy vulnerability DB (planted CVE-2099-* advisories) into a trivy cache dir.",
    )
    parser.add_argument("--cache-dir", type=Path, required=True, help="trivy cache dir; the DB goes to DIR/db/")
    parser.add_argument("--force", action="store_true", help="replace a DB this tool didn't write")
    args = parser.parse_args(argv)
    try:
        path = write_fixture_db(args.cache_dir, force=args.force)
    except BuildoptError as err:
        print(f"buildopt: error: {err}", file=sys.stderr)
        return int(err.exit_code)
    ids = ", ".join(sorted({advisory.vuln_id for advisory in DEFAULT_FIXTURES}))
    print(f"wrote {path} ({ids})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
