"""Smoke stage: prove an image still works, with the same checks in every variant.

- imports: derived from the distributions installed in the reference image (top-level modules from
  their dist-info), keeping only those that import there, plus configured ones;
- configured commands;
- an optional HTTP probe (port published on 127.0.0.1 only; waits for healthy or a 200);
- whether the image runs as non-root.

Containers run with `--network none` unless a probe needs a port, each has a timeout, and each is
removed whatever happens, Ctrl-C included.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput, EnvironmentMissing

CONTAINER_PREFIX = "buildopt-smoke"

# Runs inside the image: lists importable top-level modules of the installed distributions.
# System (dpkg) site-packages and the packaging toolchain are left out: they say nothing about the app.
_DISCOVER = r"""
import importlib, importlib.metadata as md, json, re, sys
SKIP = {"pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack", "distutils-precedence"}
EXCLUDED_DISTS = set(json.loads(sys.argv[1])) if len(sys.argv) > 1 else set()
found = set()
for dist in md.distributions():
    location = str(getattr(dist, "_path", ""))
    if "/dist-packages/" in location or "/usr/lib/python3/" in location:
        continue
    if re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower()) in EXCLUDED_DISTS:
        continue
    names = (dist.read_text("top_level.txt") or "").split()
    if not names:
        for path in dist.files or ():
            parts = path.parts
            if not parts or parts[0] in ("..", "bin") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
                continue
            if len(parts) == 1 and parts[0].endswith(".py"):
                names.append(parts[0][:-3])
            elif len(parts) > 1 and parts[-1] == "__init__.py":
                names.append(parts[0])
    for name in names:
        if name and name.isidentifier() and not name.startswith("_") and name not in SKIP and not name.startswith("test"):
            found.add(name)
print(json.dumps(sorted(found)))
"""

_IMPORT_EACH = r"""
import importlib, json, sys, time
results = {}
for name in json.loads(sys.argv[1]):
    started = time.time()
    try:
        importlib.import_module(name)
        results[name] = [True, "", round(time.time() - started, 2)]
    except BaseException as err:
        results[name] = [False, f"{type(err).__name__}: {err}"[:300], round(time.time() - started, 2)]
print("BUILDOPT-RESULT " + json.dumps(results))
"""


@dataclass
class HttpProbe:
    port: int
    path: str = "/health"
    timeout_s: float = 60.0


@dataclass
class SmokeSpec:
    imports: list[str] = field(default_factory=list)
    auto_imports: bool = True
    commands: list[str] = field(default_factory=list)
    same_output: list[str] = field(default_factory=list)  # commands whose last output line must match across variants
    http: HttpProbe | None = None
    volumes: list[str] = field(default_factory=list)  # "host:container[:ro]", host relative to base_dir
    env: dict[str, str] = field(default_factory=dict)
    require_non_root: bool = False
    timeout_s: float = 300.0
    base_dir: Path = field(default_factory=Path.cwd)


@dataclass
class SmokeCheck:
    kind: str  # import | command | http | user
    name: str
    ok: bool
    detail: str = ""
    duration_s: float = 0.0
    output: str = ""  # last line of a command's output, kept for same_output comparisons


@dataclass
class SmokeResult:
    image: str
    user: str
    uid: int | None
    checks: list[SmokeCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def non_root(self) -> bool:
        return self.uid is not None and self.uid != 0


def spec_from_config(table: dict, base_dir: Path) -> SmokeSpec:
    """The `[smoke]` table of buildopt.toml: imports, auto_imports, commands, http, volumes, env, timeout."""
    known = {"imports", "auto_imports", "commands", "same_output", "http", "volumes", "env", "timeout", "require_non_root"}
    unknown = set(table) - known
    if unknown:
        raise BadInput(f"[smoke]: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    http = table.get("http")
    probe = None
    if http:
        if not isinstance(http, dict) or "port" not in http:
            raise BadInput("[smoke].http needs a port, e.g. http = {port = 8000, path = \"/health\"}")
        probe = HttpProbe(port=int(http["port"]), path=str(http.get("path", "/health")), timeout_s=float(http.get("timeout", 60)))
    return SmokeSpec(
        imports=[str(name) for name in table.get("imports", [])],
        auto_imports=bool(table.get("auto_imports", True)),
        commands=[str(cmd) for cmd in table.get("commands", [])],
        same_output=[str(cmd) for cmd in table.get("same_output", [])],
        http=probe,
        volumes=[str(v) for v in table.get("volumes", [])],
        env={str(k): str(v) for k, v in table.get("env", {}).items()},
        require_non_root=bool(table.get("require_non_root", False)),
        timeout_s=float(table.get("timeout", 300)),
        base_dir=base_dir,
    )


class ContainerRunner:
    """Runs short-lived containers through the Engine API and always removes them."""

    def __init__(self, run_id: str | None = None):
        try:
            import docker

            self.client = docker.from_env(timeout=600)
            self.client.ping()
        except Exception as err:
            raise EnvironmentMissing(f"Docker engine not reachable: {str(err).splitlines()[0][:120]}", hint="buildopt doctor") from None
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self._count = 0
        self.live: set[str] = set()

    def run(self, image: str, command: list[str], *, spec: SmokeSpec, entrypoint: list[str] | None = None,
            network: str = "none", ports: dict | None = None, detach_for_probe: bool = False):
        self._count += 1
        name = f"{CONTAINER_PREFIX}-{self.run_id}-{self._count}"
        container = self.client.containers.create(
            image,
            command=command,
            entrypoint=entrypoint,
            name=name,
            network_mode=network,
            ports=ports or {},
            volumes=_volume_binds(spec),
            environment=spec.env,
            labels={"buildopt.smoke": self.run_id},
        )
        self.live.add(container.id)
        if detach_for_probe:
            container.start()
            return container
        try:
            container.start()
            try:
                status = container.wait(timeout=spec.timeout_s)
                code = status.get("StatusCode", -1)
            except Exception:  # requests' ReadTimeout: the container outlived its timeout
                code = None
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            return code, output
        finally:
            self.remove(container)

    def remove(self, container) -> None:
        try:
            container.remove(force=True)
        except Exception:
            pass
        self.live.discard(container.id)

    def cleanup(self) -> None:
        """Remove anything left over from this run (called on Ctrl-C and at exit)."""
        for container in self.client.containers.list(all=True, filters={"label": f"buildopt.smoke={self.run_id}"}):
            self.remove(container)


def discover_imports(runner: ContainerRunner, image: str, spec: SmokeSpec, exclude_dists: list[str] = ()) -> list[str]:
    """Top-level modules of the image's own distributions that actually import there.

    `exclude_dists` (canonical names) are left out: e.g. the CUDA wheels that the optimized variant drops
    on purpose, whose modules can't be expected to import there.
    """
    code, output = runner.run(image, ["-c", _DISCOVER, json.dumps(sorted(exclude_dists))], entrypoint=["python"], spec=spec)
    if code != 0:
        return []
    try:
        candidates = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return []
    results = _import_results(runner, image, candidates, spec)
    return [name for name, (ok, _, _) in results.items() if ok]


def run_smoke(runner: ContainerRunner, image: str, spec: SmokeSpec, imports: list[str]) -> SmokeResult:
    checks: list[SmokeCheck] = []
    user, uid = _image_user(runner, image, spec)
    checks.append(SmokeCheck("user", "runs as non-root", uid not in (None, 0), f"uid {uid} ({user or 'root'})") if spec.require_non_root
                  else SmokeCheck("user", "user", True, f"uid {uid} ({user or 'root'})"))
    if imports:
        results = _import_results(runner, image, imports, spec)
        for name in imports:
            ok, detail, seconds = results.get(name, (False, "not run (container failed or timed out)", 0.0))
            checks.append(SmokeCheck("import", name, ok, detail, seconds))
    for command in [*spec.commands, *spec.same_output]:
        started = time.monotonic()
        code, output = runner.run(image, ["-c", command], entrypoint=["/bin/sh"], spec=spec)
        last = output.strip().splitlines()[-1] if output.strip() else ""
        detail = "timed out" if code is None else f"exit {code}: {last[:200]}"
        checks.append(SmokeCheck("command", command, code == 0, detail, time.monotonic() - started, output=last))
    if spec.http:
        checks.append(_http_probe(runner, image, spec))
    return SmokeResult(image=image, user=user, uid=uid, checks=checks)


def _import_results(runner: ContainerRunner, image: str, names: list[str], spec: SmokeSpec) -> dict:
    code, output = runner.run(image, ["-c", _IMPORT_EACH, json.dumps(names)], entrypoint=["python"], spec=spec)
    for line in output.splitlines():
        if line.startswith("BUILDOPT-RESULT "):
            return {name: tuple(value) for name, value in json.loads(line[len("BUILDOPT-RESULT "):]).items()}
    return {}


def _image_user(runner: ContainerRunner, image: str, spec: SmokeSpec) -> tuple[str, int | None]:
    user = runner.client.images.get(image).attrs.get("Config", {}).get("User") or ""
    code, output = runner.run(image, ["-c", "id -u"], entrypoint=["/bin/sh"], spec=spec)
    try:
        return user, int(output.strip().splitlines()[-1]) if code == 0 else None
    except (ValueError, IndexError):
        return user, None


def _http_probe(runner: ContainerRunner, image: str, spec: SmokeSpec) -> SmokeCheck:
    probe = spec.http
    assert probe is not None
    started = time.monotonic()
    container = runner.run(image, [], spec=spec, network="bridge", ports={f"{probe.port}/tcp": ("127.0.0.1", None)},
                           detach_for_probe=True)
    try:
        deadline = started + probe.timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            container.reload()
            if container.status == "exited":
                logs = container.logs().decode("utf-8", "replace").strip().splitlines()
                return SmokeCheck("http", f"GET {probe.path}", False, f"container exited: {logs[-1][:200] if logs else ''}",
                                  time.monotonic() - started)
            health = container.attrs.get("State", {}).get("Health", {}).get("Status")
            if health == "healthy":
                return SmokeCheck("http", f"GET {probe.path}", True, "healthcheck: healthy", time.monotonic() - started)
            bindings = container.attrs.get("NetworkSettings", {}).get("Ports", {}).get(f"{probe.port}/tcp") or []
            if bindings:
                url = f"http://127.0.0.1:{bindings[0]['HostPort']}{probe.path}"
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            return SmokeCheck("http", f"GET {probe.path}", True, f"200 from {url}", time.monotonic() - started)
                        last = f"HTTP {response.status}"
                except (urllib.error.URLError, OSError) as err:
                    last = str(getattr(err, "reason", err))[:100]
            time.sleep(0.5)
        return SmokeCheck("http", f"GET {probe.path}", False, f"timed out after {probe.timeout_s:.0f}s ({last})",
                          time.monotonic() - started)
    finally:
        runner.remove(container)


def _volume_binds(spec: SmokeSpec) -> dict:
    binds = {}
    for entry in spec.volumes:
        parts = entry.split(":")
        if len(parts) < 2:
            raise BadInput(f"[smoke].volumes entry {entry!r}: use host:container[:ro]")
        host = Path(parts[0])
        if not host.is_absolute():
            host = (spec.base_dir / host).resolve()
        if not host.exists():
            raise BadInput(f"[smoke].volumes: {host} does not exist")
        binds[str(host)] = {"bind": parts[1], "mode": parts[2] if len(parts) > 2 else "rw"}
    return binds



def same_output_checks(reference: SmokeResult, other: SmokeResult, commands: list[str]) -> list[SmokeCheck]:
    """One check per `same_output` command: its last output line must be identical in both images
    (e.g. an embedding digest computed from the baked model and from the mounted volume)."""
    def last_line(result: SmokeResult, command: str) -> str | None:
        return next((c.output for c in result.checks if c.kind == "command" and c.name == command and c.ok), None)

    checks = []
    for command in commands:
        expected, actual = last_line(reference, command), last_line(other, command)
        ok = expected is not None and expected == actual
        if expected is None or actual is None:
            detail = "the command failed in one of the images"
        else:
            detail = f"same output: {actual[:120]}" if ok else f"differs: {expected[:80]!r} vs {actual[:80]!r}"
        checks.append(SmokeCheck("same-output", command, ok, detail))
    return checks
