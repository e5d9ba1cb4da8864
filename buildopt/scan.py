"""Scan stage: run the trivy binary on an image and normalize its JSON into dataclasses.

Three ways to show trivy the image, with the same findings (tests/integration/test_scan.py checks it):

- `rootfs-overlay` (fast path, root): mount the image's own overlay2 layer dirs read-only
  (`mount -t overlay overlay -o ro,lowerdir=<top>:...:<bottom> <tmp>`) and run `trivy rootfs` on the
  mount. Nothing is exported, so a multi-GB image takes seconds instead of a minute. Needs root, a
  local engine and the overlay2 driver. The mount and its temp dir are always removed, on Ctrl-C too.
- `rootfs-container` (fast path, non-root in the docker group, like GitHub's runners): run the static
  trivy binary inside a short-lived container of the image itself (`trivy rootfs /`), with the binary and
  the DB bind-mounted read-only and no network. The engine mounts the layers; nothing is exported.
- `image` (fallback): `trivy image`, which exports the image from the engine first.

The vulnerability DB is downloaded once, before the scans (`ensure_db`, retried), and the scans then use
it as it is. Offline (`ScanOptions.offline`) nothing is downloaded: the DB must already be in the cache
dir (a mirror's, or the fixture DB from `python -m buildopt.trivydb`). See docs/scan.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine, HelperFailed, current, run_helper_container
from .errors import BadInput, BuildoptError, EnvironmentMissing, ExitCode

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
SCANNERS = ("vuln", "secret", "misconfig")
DEFAULT_SCANNERS = ("vuln", "secret")
METHODS = ("auto", "rootfs-overlay", "rootfs-container", "image")
DB_ATTEMPTS = 3  # downloads of the vulnerability DB before giving up (registries rate-limit)
DB_RETRY_DELAY_S = 2.0  # doubled after each failed attempt
# Where the rootfs-container method mounts trivy and its cache inside the image's container.
CONTAINER_TRIVY = "/buildopt-trivy/trivy"
CONTAINER_CACHE = "/buildopt-trivy-cache"
INSTALL_HINT = "pip install 'buildopt[trivy]' (or put trivy on PATH), or pass --no-scan"
OFFLINE_DB_HINT = (
    "copy a trivy DB there (trivy --download-db-only on a connected machine, or a mirror via --db-repository), "
    "or for tests and demos write the fixture DB (fake CVE-2099-* findings): python -m buildopt.trivydb --cache-dir DIR"
)
# The kernel takes at most one page of mount options; longer layer lists switch to the engine's short links.
MAX_MOUNT_OPTIONS = 4000
# trivy 0.76 `rootfs` reads .pyc files in tiny chunks for the secret scanner (strace: ~250,000 read() calls
# for one 300 KB .pyc), which made secret scans 3-4x slower than the rest together. Bytecode repeats its
# .py source, so by default both methods skip it (ScanOptions.scan_bytecode=True to keep it).
BYTECODE_GLOB = "**/*.pyc"
# Secrets are looked for in the app's files, not in installed packages or package-manager caches: a package's
# test keys and sample tokens are never the user's. On the 6.33 GB paperflow original, a secret scan of
# everything took 12.1 s, 3.4 s without the package dirs and 0.2 s without the caches too (vulnerabilities: 0.8 s).
# ScanOptions.package_secrets=True scans them as well. Globs for --skip-dirs, relative to the image root.
PACKAGE_DIRS = ("**/site-packages", "**/dist-packages", "**/node_modules", "usr/lib", "usr/lib64", "usr/share",
                "usr/include", "usr/local/lib", "usr/local/include", "var/cache", "var/lib/apt", "var/lib/dpkg",
                "root/.cache/pip", "root/.cache/uv", "root/.cache/pypoetry", "root/.npm")
_PACKAGE_DIR_NAMES = {"site-packages", "dist-packages", "node_modules"}
_PACKAGE_PREFIXES = tuple("/" + glob + "/" for glob in PACKAGE_DIRS if not glob.startswith("**"))
# Offline without trivy's Java DB, any .jar makes trivy fail ("--skip-java-db-update cannot be specified on
# the first run"); Java archives are then left out and the result says so (ScanResult.java_skipped).
JAVA_ARCHIVE_GLOBS = ("**/*.jar", "**/*.war", "**/*.ear", "**/*.par")


class ScanFailed(BuildoptError):
    """trivy ran but failed (or timed out) on this image; compare reports it and carries on."""

    exit_code = ExitCode.ENVIRONMENT


class DBUnavailable(EnvironmentMissing):
    """The vulnerability DB could not be downloaded, even after retries, and none is cached."""


@dataclass(frozen=True)
class Vulnerability:
    id: str
    package: str
    installed_version: str
    fixed_version: str  # "" when there is no fix yet
    severity: str
    target: str  # "<image> (debian 12.15)" for OS packages, "Python" for dist-info packages, else a path
    pkg_path: str = ""  # "/opt/venv/lib/python3.11/site-packages/x.dist-info/METADATA" for language packages
    title: str = ""
    primary_url: str = ""
    status: str = ""  # trivy's: fixed, affected, will_not_fix, ...

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.id, self.package, self.installed_version)


@dataclass(frozen=True)
class Misconfiguration:
    id: str  # e.g. DS-0002
    title: str
    severity: str
    message: str
    target: str
    resolution: str = ""
    primary_url: str = ""
    start_line: int | None = None


@dataclass(frozen=True)
class Secret:
    rule_id: str
    category: str
    severity: str
    title: str
    target: str  # absolute path in the image
    start_line: int


@dataclass
class ScanResult:
    image: str
    target_os: str | None  # "debian 12.15"; None when trivy found no OS (scratch, distroless without os-release)
    vulnerabilities: list[Vulnerability]
    misconfigurations: list[Misconfiguration]
    secrets: list[Secret]
    counts_by_severity: dict[str, int]  # vulnerabilities per severity, every severity present
    method: str  # "rootfs-overlay" | "rootfs-container" | "image"
    duration_s: float
    trivy_version: str
    scanners: tuple[str, ...] = DEFAULT_SCANNERS  # what was looked for: no "secret" here means secrets weren't measured
    fallback_reason: str | None = None  # why the fast path wasn't used (method "image" under "auto")
    java_skipped: bool = False  # Java archives (if the image has any) not analyzed: offline with no Java DB

    @property
    def vulnerability_keys(self) -> set[tuple[str, str, str]]:
        return {v.key for v in self.vulnerabilities}


@dataclass
class ScanOptions:
    cache_dir: Path | None = None  # default: $TRIVY_CACHE_DIR or ~/.cache/trivy, as trivy itself
    db_repository: str | None = None
    offline: bool = False  # no download at all: the DB must be in cache_dir
    skip_db_update: bool = False  # use the cached DB as is (implied by offline)
    severities: list[str] | None = None  # only these severities are reported and counted
    ignore_file: Path | None = None  # .trivyignore; without it trivy reads ./.trivyignore if present
    scanners: tuple[str, ...] = DEFAULT_SCANNERS
    timeout: float = 900.0  # seconds, per trivy run
    method: str = "auto"  # "auto" (a fast path when possible), "rootfs-overlay", "rootfs-container" or "image"
    scan_bytecode: bool = False  # also look for secrets in .pyc files (slow with trivy rootfs; see BYTECODE_GLOB)
    package_secrets: bool = False  # also look for secrets inside installed packages (see PACKAGE_DIRS)
    trivy_path: str | None = None  # default: beside this Python (the buildopt[trivy] extra), then PATH


# --- entry points -----------------------------------------------------------------------------------
def scan_image(image: str, options: ScanOptions | None = None, *, engine: Engine | None = None) -> ScanResult:
    """Scan an image the local engine holds. Raises EnvironmentMissing (trivy or its DB missing),
    BadInput (bad options, unknown image) or ScanFailed (trivy failed on this image)."""
    options = options or ScanOptions()
    trivy = find_trivy(options.trivy_path)
    if options.method not in METHODS:
        raise BadInput(f"scan method {options.method!r}: use one of {', '.join(METHODS)}")
    options = ensure_db(options, trivy)
    flags = common_flags(options)

    engine = engine or current()
    attrs = engine.image_attrs(image)
    reasons = []
    if options.method in ("auto", "rootfs-overlay"):
        reason = overlay_unavailable(attrs, engine.local)
        if reason is None:
            try:
                return _scan_overlay(trivy, flags, image, attrs, options)
            except MountFailed as err:
                reason = f"cannot mount the layers: {err}"
        if options.method == "rootfs-overlay":
            raise EnvironmentMissing(f"cannot scan {image} through its layer dirs: {reason}", hint="use method 'image'")
        reasons.append(reason)
    if options.method in ("auto", "rootfs-container"):
        reason = container_unavailable(engine.local, trivy, attrs)
        if reason is None:
            try:
                return _scan_in_container(engine, trivy, flags, image, attrs, options)
            except HelperFailed as err:
                reason = str(err)
        if options.method == "rootfs-container":
            raise EnvironmentMissing(f"cannot scan {image} in a container of it: {reason}", hint="use method 'image'")
        reasons.append(reason)
    if engine.context:  # trivy reads DOCKER_HOST, not the docker CLI's contexts
        flags = [*flags, "--docker-host", engine.host]
    return _scan_with_image(trivy, flags, image, options, "; ".join(reasons) or None)


def _scan_overlay(trivy: str, flags: list[str], image: str, attrs: dict, options: ScanOptions) -> ScanResult:
    with overlay_rootfs(attrs) as root:
        started = time.monotonic()
        report = _rootfs_report(lambda argv: run_trivy([trivy, *argv, str(root)], options.timeout, image), flags, options)
        return _finish(normalize(report, image, "rootfs-overlay", time.monotonic() - started, options.scanners,
                                 root=str(root)), options)


def container_unavailable(local_engine: bool, trivy: str, attrs: dict | None = None) -> str | None:
    """None when trivy can run inside a container of the image here, else why not."""
    if not local_engine:
        return "the engine is not local: trivy and its DB can't be mounted into a container there"
    with open(trivy, "rb") as handle:
        if handle.read(4) != b"\x7fELF":
            return f"{trivy} is not a Linux binary that could run inside the image"
    # trivy reads TRIVY_* variables: inside the image's container, the image's ENV would configure the scan.
    configured = [item.split("=", 1)[0] for item in ((attrs or {}).get("Config") or {}).get("Env") or []
                  if item.startswith("TRIVY_")]
    if configured:
        return f"the image sets {configured[0]}, which would reconfigure trivy inside it"
    return None


def _scan_in_container(engine: Engine, trivy: str, flags: list[str], image: str, attrs: dict,
                       options: ScanOptions) -> ScanResult:
    """`trivy rootfs /` inside a short-lived container of the image (engine.run_helper_container): the
    engine stacks the layers, trivy (a static binary) and the DB come in read-only, nothing leaves but
    the JSON report. The DB is already downloaded (ensure_db), so the container has no network.

    Nothing in the image configures trivy: no TRIVY_* in its ENV (container_unavailable), and the config
    and ignore files trivy would look for in its working directory come from ours, as for the other
    methods (./trivy.yaml and ./.trivyignore of this process's directory, else empty files)."""
    cache = str(cache_dir_of(options))
    inside = [CONTAINER_CACHE if flag == cache else flag for flag in flags]
    inside += ["--cache-backend", "memory", "--disable-telemetry"]
    # Relative --skip-dirs are resolved against the working directory, which the helper container sets to "/".
    inside += [arg for path in ("/proc", "/sys", "/dev", os.path.dirname(CONTAINER_TRIVY), CONTAINER_CACHE)
               for arg in ("--skip-dirs", path.lstrip("/"))]
    with tempfile.NamedTemporaryFile(prefix="buildopt-trivy-empty-", mode="w") as empty:
        config = Path("trivy.yaml") if Path("trivy.yaml").is_file() else Path(empty.name)
        ignore = options.ignore_file or (Path(".trivyignore") if Path(".trivyignore").is_file() else Path(empty.name))
        inside = [flag for index, flag in enumerate(inside)
                  if flag != "--ignorefile" and (index == 0 or inside[index - 1] != "--ignorefile")]
        inside += ["--config", "/buildopt-trivy/trivy.yaml", "--ignorefile", "/buildopt-trivy/trivyignore"]
        mounts = [(str(Path(trivy).resolve()), CONTAINER_TRIVY), (str(Path(cache).resolve()), CONTAINER_CACHE),
                  (str(config.resolve()), "/buildopt-trivy/trivy.yaml"), (str(Path(ignore).resolve()), "/buildopt-trivy/trivyignore")]

        def run(argv: list[str]) -> dict:
            output = run_helper_container(attrs["Id"], CONTAINER_TRIVY, [*argv, "/"], mounts=mounts,
                                          caps=("DAC_READ_SEARCH",), timeout=options.timeout + 30, purpose="scan",
                                          engine=engine)
            try:
                return json.loads(output)
            except ValueError:
                raise ScanFailed(f"trivy printed no JSON report for {image}") from None

        started = time.monotonic()
        report = _rootfs_report(run, inside, options)
    return _finish(normalize(report, image, "rootfs-container", time.monotonic() - started, options.scanners,
                             root="/"), options)


def _scan_with_image(trivy: str, flags: list[str], image: str, options: ScanOptions, reason: str | None) -> ScanResult:
    started = time.monotonic()
    # --image-src docker: the image is local; trying containerd/podman/a registry would only add failures.
    report = run_trivy([trivy, "image", *flags, "--image-src", "docker", image], options.timeout, image)
    result = _finish(normalize(report, image, "image", time.monotonic() - started, options.scanners), options)
    result.fallback_reason = reason
    return result


def _rootfs_report(run, flags: list[str], options: ScanOptions) -> dict:
    """One `trivy rootfs` run (`run(argv)`, the target is added by the method), or two when secrets skip the
    package dirs (--skip-dirs would hide packages from the vulnerability scanner): everything else on the
    whole tree, then secrets outside the package dirs."""
    scanners = list(dict.fromkeys(options.scanners))
    if "secret" not in scanners or options.package_secrets:
        return run(["rootfs", *flags])
    reports = []
    others = [scanner for scanner in scanners if scanner != "secret"]
    if others:
        reports.append(run(["rootfs", *_with_scanners(flags, others)]))
    skips = [arg for glob in PACKAGE_DIRS for arg in ("--skip-dirs", glob)]
    reports.append(run(["rootfs", *_with_scanners(flags, ["secret"]), *skips]))
    merged = dict(reports[0])
    merged["Results"] = [result for report in reports for result in report.get("Results") or []]
    return merged


def _with_scanners(flags: list[str], scanners: list[str]) -> list[str]:
    at = flags.index("--scanners")
    return [*flags[:at + 1], ",".join(scanners), *flags[at + 2:]]


def _finish(result: ScanResult, options: ScanOptions) -> ScanResult:
    """The same findings whichever way trivy saw the image: secrets inside packages are dropped unless asked
    for (the rootfs method doesn't read them at all)."""
    if not options.package_secrets:
        result.secrets = [secret for secret in result.secrets if not in_package_dir(secret.target)]
    result.java_skipped = _java_skipped(options)
    return result


def in_package_dir(path: str) -> bool:
    path = "/" + path.lstrip("/")
    return bool(_PACKAGE_DIR_NAMES.intersection(path.split("/"))) or path.startswith(_PACKAGE_PREFIXES)


def java_db_present(cache_dir: Path) -> bool:
    return (cache_dir / "java-db" / "trivy-java.db").is_file()


def _java_skipped(options: ScanOptions) -> bool:
    return (options.offline or options.skip_db_update) and "vuln" in options.scanners \
        and not java_db_present(cache_dir_of(options))


def scan_dockerfile_config(path: Path, options: ScanOptions | None = None) -> list[Misconfiguration]:
    """trivy's built-in Dockerfile checks (DS-xxxx) on one Dockerfile; they are embedded, so this works offline."""
    options = options or ScanOptions()
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such Dockerfile")
    trivy = find_trivy(options.trivy_path)
    argv = [trivy, "config", "--format", "json", "--quiet", "--cache-dir", str(cache_dir_of(options)),
            "--timeout", f"{int(options.timeout)}s", "--skip-version-check"]
    if options.offline:
        argv += ["--skip-check-update", "--disable-telemetry"]  # the DS checks are embedded in the binary
    if options.severities:
        argv += ["--severity", ",".join(_valid_severities(options.severities))]
    # trivy picks the parser from the file name, so a Dockerfile under another name is scanned as "Dockerfile".
    with tempfile.TemporaryDirectory(prefix="buildopt-config-") as workdir:
        shutil.copyfile(path, Path(workdir) / "Dockerfile")
        report = run_trivy([*argv, str(Path(workdir) / "Dockerfile")], options.timeout, str(path))
    return normalize_config(report, str(path))


def normalize_config(report: dict, target: str) -> list[Misconfiguration]:
    """Failed checks of a `trivy config` report on one file, most severe first."""
    found = [
        _misconfiguration(item, target)
        for result in report.get("Results") or []
        for item in result.get("Misconfigurations") or []
        if item.get("Status", "FAIL") == "FAIL"
    ]
    return sorted(found, key=_misconfiguration_order)


# --- trivy invocation -------------------------------------------------------------------------------
def find_trivy(explicit: str | None = None) -> str:
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise EnvironmentMissing(f"trivy binary {explicit} not found or not executable", hint=INSTALL_HINT)
        return explicit
    found = trivy_path()
    if found is None:
        raise EnvironmentMissing("trivy binary not found", hint=INSTALL_HINT)
    return found


def trivy_path() -> str | None:
    """The trivy binary: the one the `buildopt[trivy]` extra put beside this Python, else PATH."""
    beside = Path(sys.executable).parent / "trivy"
    if beside.exists():
        return str(beside)
    return shutil.which("trivy")


def default_trivy_cache() -> Path:
    return Path(os.environ.get("TRIVY_CACHE_DIR") or Path.home() / ".cache" / "trivy")


def cache_dir_of(options: ScanOptions) -> Path:
    return Path(options.cache_dir) if options.cache_dir else default_trivy_cache()


def db_present(cache_dir: Path) -> bool:
    return (cache_dir / "db" / "trivy.db").is_file() and (cache_dir / "db" / "metadata.json").is_file()


_fetched: dict[tuple[str, str | None], bool] = {}  # (cache dir, DB repository) already brought up to date


def ensure_db(options: ScanOptions, trivy: str | None = None, *, attempts: int = DB_ATTEMPTS,
              delay_s: float = DB_RETRY_DELAY_S, log=None) -> ScanOptions:
    """Bring the vulnerability DB in the cache dir up to date, once per process, and return options that
    use it as it is (`skip_db_update`), so the scans that follow never download.

    trivy skips the download when the cached DB is still fresh. A failed download is retried
    `attempts` times with a growing delay; if all fail and no DB is cached, DBUnavailable (exit 4).
    Offline, with `skip_db_update`, or without the vuln scanner, nothing is downloaded."""
    from dataclasses import replace

    if options.offline or options.skip_db_update or "vuln" not in options.scanners:
        return options
    cache = cache_dir_of(options)
    key = (str(cache), options.db_repository)
    if not _fetched.get(key):
        trivy = trivy or find_trivy(options.trivy_path)
        argv = [trivy, "image", "--download-db-only", "--quiet", "--cache-dir", str(cache), "--skip-version-check",
                "--timeout", f"{int(options.timeout)}s"]
        if options.db_repository:
            argv += ["--db-repository", options.db_repository]
        error = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(delay_s * 2 ** (attempt - 1))
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=options.timeout + 30)
            except subprocess.TimeoutExpired:
                error = f"timed out after {options.timeout:.0f} s"
                continue
            if proc.returncode == 0 and db_present(cache):
                _fetched[key] = True
                break
            # trivy's root cause (e.g. "GET http://host/v2/: TOOMANYREQUESTS: ..."): the innermost "* " line
            # (they nest), the last of its errors (it tries https first); else its FATAL line.
            causes = [line.strip().removeprefix("* ").split("; ")[-1] for line in proc.stderr.splitlines()
                      if line.strip().startswith("* ")]
            error = causes[-1][:300] if causes else _trivy_error(proc.stderr)
            if log:
                log(f"trivy DB download {attempt + 1}/{attempts} failed: {error}")
        else:
            if not db_present(cache):
                source = options.db_repository or "trivy's default DB repository"
                raise DBUnavailable(f"could not download the trivy vulnerability DB from {source} "
                                    f"({attempts} attempts): {error}",
                                    hint="retry later, set a mirror (--db-repository), or scan offline with a "
                                         "cached DB (--offline); the gate's scan-failure: warn goes on without a scan")
            _fetched[key] = True  # a stale DB is still a DB: scan with it rather than fail
    return replace(options, skip_db_update=True)


def common_flags(options: ScanOptions) -> list[str]:
    """Flags shared by `trivy image` and `trivy rootfs`; validates the options on the way."""
    scanners = list(dict.fromkeys(options.scanners))
    unknown = [s for s in scanners if s not in SCANNERS]
    if not scanners or unknown:
        raise BadInput(f"scanners {','.join(unknown) or '(none)'}: use some of {', '.join(SCANNERS)}")
    cache = cache_dir_of(options)
    flags = ["--format", "json", "--quiet", "--cache-dir", str(cache), "--scanners", ",".join(scanners),
             "--list-all-pkgs=false", "--timeout", f"{int(options.timeout)}s", "--skip-version-check"]
    if options.offline or options.skip_db_update:
        if "vuln" in scanners and not db_present(cache):
            raise EnvironmentMissing(f"no trivy vulnerability DB in {cache / 'db'} and downloads are off", hint=OFFLINE_DB_HINT)
        flags += ["--skip-db-update", "--skip-java-db-update"]
        if _java_skipped(options):
            flags += [arg for glob in JAVA_ARCHIVE_GLOBS for arg in ("--skip-files", glob)]
    if options.offline:
        flags += ["--offline-scan", "--skip-check-update", "--disable-telemetry"]  # no network calls at all
    if "secret" in scanners and not options.scan_bytecode:
        flags += ["--skip-files", BYTECODE_GLOB]
    if options.db_repository:
        flags += ["--db-repository", options.db_repository]
    if options.severities:
        flags += ["--severity", ",".join(_valid_severities(options.severities))]
    if options.ignore_file is not None:
        if not Path(options.ignore_file).is_file():
            raise BadInput(f"ignore file {options.ignore_file}: no such file")
        flags += ["--ignorefile", str(options.ignore_file)]
    return flags


def _valid_severities(severities: list[str]) -> list[str]:
    upper = [s.strip().upper() for s in severities if s.strip()]
    unknown = [s for s in upper if s not in SEVERITIES]
    if unknown:
        raise BadInput(f"severity {', '.join(unknown)}: use some of {', '.join(SEVERITIES)}")
    return list(dict.fromkeys(upper))


def run_trivy(argv: list[str], timeout: float, subject: str) -> dict:
    try:
        # subprocess.run kills trivy if we are interrupted (KeyboardInterrupt included), so no mount stays busy.
        proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        raise ScanFailed(f"trivy timed out after {timeout:.0f} s on {subject}") from None
    except OSError as err:
        raise EnvironmentMissing(f"cannot run {argv[0]}: {err.strerror}", hint=INSTALL_HINT) from None
    if proc.returncode != 0:
        error = _trivy_error(proc.stderr)
        if "failed to download vulnerability DB" in proc.stderr or "--skip-db-update cannot be specified" in proc.stderr:
            raise EnvironmentMissing(f"trivy has no usable vulnerability DB: {error}",
                                     hint="use --offline with a DB in the trivy cache dir, or --db-repository with a reachable mirror")
        raise ScanFailed(f"trivy failed on {subject} (exit {proc.returncode}): {error}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise ScanFailed(f"trivy printed no JSON report for {subject}: {_trivy_error(proc.stderr or proc.stdout)}") from None


def _trivy_error(stderr: str) -> str:
    """The most telling line of trivy's log: its FATAL/ERROR line, else the last one."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for marker in ("FATAL", "ERROR"):
        for line in lines:
            if f"\t{marker}\t" in line or f" {marker} " in line:
                message = line.split(marker, 1)[1].strip().removeprefix("Fatal error").strip()
                return " ".join(message.split())[:300]
    return lines[-1][:300] if lines else "no output"


# --- fast path: the image's layer dirs, mounted read-only ------------------------------------------
class MountFailed(Exception):
    pass


def overlay_unavailable(attrs: dict, local_engine: bool) -> str | None:
    """None when the image's layers can be mounted here, else why not (then `trivy image` is used)."""
    from .inspect.overlay2 import layer_dirs

    if not local_engine:
        return "the engine is not local"
    if not layer_dirs(attrs):
        return f"the engine's storage driver is {(attrs.get('GraphDriver') or {}).get('Name') or 'unknown'}, not overlay2"
    if os.geteuid() != 0:
        return "mounting the layer dirs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount not found"
    missing = [path for path in layer_dirs(attrs) if not os.path.isdir(path)]
    if missing:
        return f"layer dir {missing[0]} not found (is the engine's data root on this machine?)"
    return None


def mount_options(attrs: dict, empty_dir: str) -> tuple[str, str | None]:
    """The overlay mount options and the directory to run mount in (for relative short-link paths)."""
    from .inspect.overlay2 import layer_dirs

    top_down = list(reversed(layer_dirs(attrs)))
    if len(top_down) == 1:
        # overlayfs without an upper dir needs two lower dirs: an empty one below changes nothing.
        top_down.append(empty_dir)
    options = "ro,lowerdir=" + ":".join(top_down)
    if len(options) <= MAX_MOUNT_OPTIONS:
        return options, None
    # Like the engine itself: <root>/l/<short id> links to <root>/<layer>/diff; mount from <root>.
    root = os.path.dirname(os.path.dirname(top_down[0]))
    short = []
    for path in top_down:
        link_file = os.path.join(os.path.dirname(path), "link")
        try:
            with open(link_file) as handle:
                short.append("l/" + handle.read().strip())
        except OSError:
            short.append(path)  # the empty dir, or a layer without a short link
    options = "ro,lowerdir=" + ":".join(short)
    if len(options) > MAX_MOUNT_OPTIONS:
        raise MountFailed(f"{len(top_down)} layers don't fit in one overlay mount")
    return options, root


@contextmanager
def overlay_rootfs(attrs: dict) -> Iterator[Path]:
    """Mount the image's layers read-only on a temp dir; always unmounted and removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="buildopt-scan-"))
    root, empty = workdir / "rootfs", workdir / "empty"
    try:
        root.mkdir()
        empty.mkdir()
        options, cwd = mount_options(attrs, str(empty))
        proc = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(root)],
                              check=False, capture_output=True, text=True, cwd=cwd, timeout=60)
        if proc.returncode != 0:
            raise MountFailed((proc.stderr.strip().splitlines() or ["mount failed"])[0][:200])
        yield root
    finally:
        _retry_through_interrupts(lambda: _cleanup(workdir, root, empty))


def _cleanup(workdir: Path, root: Path, empty: Path) -> None:
    """Idempotent, so it can run again after an interrupt hit it halfway. It asks the kernel whether the
    dir is mounted rather than trusting a flag: Ctrl-C can land after mount(8) mounted but before it returned."""
    if _is_mountpoint(root):
        for attempt in range(5):
            if subprocess.run(["umount", str(root)], check=False, capture_output=True).returncode == 0:
                break
            time.sleep(0.2 * (attempt + 1))  # a just-killed trivy may still hold files open
        else:
            subprocess.run(["umount", "--lazy", str(root)], check=False, capture_output=True)
    for path in (root, empty, workdir):
        # rmdir, never rmtree: if the unmount failed, this fails too instead of walking into the image's layers.
        with suppress(FileNotFoundError):
            path.rmdir()


def _is_mountpoint(path: Path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def _retry_through_interrupts(action, attempts: int = 3) -> None:
    """Run cleanup to the end even if Ctrl-C arrives meanwhile; the interrupt is re-raised afterwards."""
    interrupted: BaseException | None = None
    for _ in range(attempts):
        try:
            action()
            break
        except KeyboardInterrupt as err:
            interrupted = err
    if interrupted is not None:
        raise interrupted


# --- normalization ----------------------------------------------------------------------------------
def normalize(report: dict, image: str, method: str, duration_s: float, scanners: tuple[str, ...] = DEFAULT_SCANNERS,
              *, root: str | None = None) -> ScanResult:
    """trivy's JSON report -> ScanResult, with targets and paths that don't depend on the method:
    OS results are named "<image> (<os>)" (trivy rootfs would use the image's /etc/hostname) and file
    paths are absolute in the image (rootfs gives them relative to the mount)."""
    os_info = (report.get("Metadata") or {}).get("OS") or {}
    target_os = f"{os_info.get('Family', '')} {os_info.get('Name', '')}".strip() or None
    vulnerabilities: dict[tuple[str, str, str], Vulnerability] = {}
    misconfigurations: list[Misconfiguration] = []
    secrets: list[Secret] = []
    for result in report.get("Results") or []:
        target = _target(result, image, target_os, root)
        for item in result.get("Vulnerabilities") or []:
            vulnerability = Vulnerability(
                id=item.get("VulnerabilityID", ""),
                package=item.get("PkgName", ""),
                installed_version=item.get("InstalledVersion", ""),
                fixed_version=item.get("FixedVersion", "") or "",
                severity=_severity(item.get("Severity")),
                target=target,
                pkg_path=_image_path(item.get("PkgPath", ""), root) if item.get("PkgPath") else "",
                title=item.get("Title", "") or "",
                primary_url=item.get("PrimaryURL", "") or "",
                status=item.get("Status", "") or "",
            )
            # The same package can sit in several places (two venvs): one finding per (id, package, version),
            # reported at its first path so both methods pick the same one.
            kept = vulnerabilities.get(vulnerability.key)
            if kept is None or (vulnerability.pkg_path, vulnerability.target) < (kept.pkg_path, kept.target):
                vulnerabilities[vulnerability.key] = vulnerability
        for item in result.get("Misconfigurations") or []:
            if item.get("Status", "FAIL") == "FAIL":
                misconfigurations.append(_misconfiguration(item, target))
        for item in result.get("Secrets") or []:
            secrets.append(Secret(
                rule_id=item.get("RuleID", ""),
                category=item.get("Category", ""),
                severity=_severity(item.get("Severity")),
                title=item.get("Title", ""),
                target=target,
                start_line=int(item.get("StartLine") or 0),
            ))
    ordered = sorted(vulnerabilities.values(), key=lambda v: (SEVERITIES.index(v.severity), v.id, v.package, v.installed_version))
    counts = {severity: 0 for severity in SEVERITIES}
    for vulnerability in ordered:
        counts[vulnerability.severity] += 1
    return ScanResult(
        image=image,
        target_os=target_os,
        vulnerabilities=ordered,
        misconfigurations=sorted(misconfigurations, key=_misconfiguration_order),
        secrets=sorted(secrets, key=lambda s: (s.target, s.start_line, s.rule_id)),
        counts_by_severity=counts,
        method=method,
        duration_s=round(duration_s, 3),
        trivy_version=((report.get("Trivy") or {}).get("Version") or "unknown"),
        scanners=tuple(scanners),
    )


def _target(result: dict, image: str, target_os: str | None, root: str | None) -> str:
    target = result.get("Target", "")
    if result.get("Class") == "os-pkgs":
        return f"{image} ({target_os})" if target_os else image
    if result.get("Class") == "lang-pkgs" and "/" not in target:
        return target  # an aggregate such as "Python" (all dist-info packages), not a file
    if result.get("Class") == "config" and target == image:
        return target  # the image config (image method with --image-config-scanners)
    return _image_path(target, root)


def _image_path(path: str, root: str | None) -> str:
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")):]
    return "/" + path.lstrip("/")


def _severity(value: object) -> str:
    text = str(value or "UNKNOWN").upper()
    return text if text in SEVERITIES else "UNKNOWN"


def _misconfiguration_order(item: Misconfiguration) -> tuple:
    return (SEVERITIES.index(item.severity), item.id, item.target, item.start_line or 0)


def _misconfiguration(item: dict, target: str) -> Misconfiguration:
    cause = item.get("CauseMetadata") or {}
    return Misconfiguration(
        id=item.get("ID") or item.get("AVDID") or "",
        title=item.get("Title", ""),
        severity=_severity(item.get("Severity")),
        message=item.get("Message", "") or item.get("Description", ""),
        target=target,
        resolution=item.get("Resolution", "") or "",
        primary_url=item.get("PrimaryURL", "") or "",
        start_line=cause.get("StartLine") or None,
    )


def findings_set(result: ScanResult) -> set[tuple[str, str, str, str, str]]:
    """(id, package, installed, fixed, severity) of every vulnerability: what two scans are compared on."""
    return {(v.id, v.package, v.installed_version, v.fixed_version, v.severity) for v in result.vulnerabilities}


__all__ = [
    "DEFAULT_SCANNERS", "METHODS", "SCANNERS", "SEVERITIES", "DBUnavailable", "Misconfiguration", "ScanFailed",
    "ScanOptions", "ScanResult", "Secret", "Vulnerability", "container_unavailable", "db_present", "ensure_db",
    "find_trivy", "findings_set", "normalize", "normalize_config", "overlay_rootfs", "overlay_unavailable",
    "scan_dockerfile_config", "scan_image",
]
