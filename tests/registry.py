"""A real OCI registry on 127.0.0.1 for the build-cache tests and benchmark, and a way to drop the local
build cache of one's own builds only (../shared/ENVIRONMENT.md §8).

The registry is Debian's `docker-registry` (distribution 2.8), installed by scripts/setup-toolchain.sh and
started here with a config of our own and a temp storage dir, never as the system service. The engine
talks plain HTTP to a loopback registry without any daemon change.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def unavailable() -> str | None:
    return None if shutil.which("docker-registry") else "docker-registry missing (scripts/setup-toolchain.sh installs it)"


@contextmanager
def local_registry() -> Iterator[str]:
    """A registry on a free 127.0.0.1 port for the duration; yields "127.0.0.1:PORT". Its process (ours,
    by PID) and storage are gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="buildopt-registry-") as workdir:
        for _ in range(5):  # the free port may be taken between probing and binding
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            (Path(workdir) / "config.yml").write_text(CONFIG.format(root=Path(workdir) / "storage", port=port))
            log = open(Path(workdir) / "registry.log", "w")  # noqa: SIM115  (the registry writes to it; closed below)
            process = subprocess.Popen(["docker-registry", "serve", str(Path(workdir) / "config.yml")],
                                       stdout=log, stderr=subprocess.STDOUT)
            if _answers(port, process):
                break
            process.kill()
            process.wait()
            log.close()
        else:
            raise RuntimeError(f"docker-registry did not start: {(Path(workdir) / 'registry.log').read_text()[-500:]}")
        try:
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _answers(port: int, process: subprocess.Popen) -> bool:
    for _ in range(100):
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.1)
    return False


def drop_own_build_cache(marker: str) -> int:
    """Remove the local BuildKit cache records of builds whose Dockerfile had `marker` in a RUN line, and of
    every layer built on top of them (they can only be ours), so the next build of that Dockerfile finds
    nothing locally. Children go first: a record with children can't be pruned. Returns how many records
    were removed; records of other builds are never touched."""
    removed = 0
    for _ in range(20):
        records = _build_cache_records()
        ours = {record_id for record_id, (_, description) in records.items() if marker in description}
        grew = True
        while grew:
            grew = False
            for record_id, (parents, _) in records.items():
                if record_id not in ours and parents & ours:
                    ours.add(record_id)
                    grew = True
        if not ours:
            return removed
        leaves = [record_id for record_id in ours if not any(record_id in records[other][0] for other in ours)]
        for record_id in leaves:
            pruned = subprocess.run(["docker", "builder", "prune", "--force", "--filter", f"id={record_id}"],
                                    capture_output=True, text=True)
            removed += pruned.returncode == 0
    raise RuntimeError(f"build cache records with {marker!r} could not all be removed")


def _build_cache_records() -> dict[str, tuple[set[str], str]]:
    """record id -> (parent ids, description), from `docker buildx du --verbose` (the Engine API's df
    doesn't give the parents)."""
    output = subprocess.run(["docker", "buildx", "du", "--verbose"], capture_output=True, text=True, check=True).stdout
    records: dict[str, tuple[set[str], str]] = {}
    for block in output.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "ID" in fields:
            parents = {part.strip() for part in (fields.get("Parent") or fields.get("Parents") or "").split(",") if part.strip()}
            records[fields["ID"]] = (parents, fields.get("Description", ""))
    return records
