"""Smoke stage: prove an image still works, with the same checks in every variant.

- imports: configured ones, plus the top-level modules of the reference image's own distributions (from
  their dist-info) that import there and whose distribution the other variant installs too
  (`shared_imports`, then `align_imports` gives every variant exactly that list);
- configured commands;
- an optional HTTP probe (port published on 127.0.0.1 only; waits for healthy or a 200);
- the image's own ENTRYPOINT/CMD, started for a short window (`start`): whether it stays up or exits, with
  which code, and any permission-denied lines in its logs. `same_start` then holds the optimized variant to
  the original's behaviour;
- whether the image runs as non-root.

Containers run with `--network none` unless a probe needs a port, each has a timeout, and each is
removed whatever happens, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shlex
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .engine import Engine, current, run_labels
from .errors import BadInput

CONTAINER_PREFIX = "buildopt-smoke"

# Runs inside the image, in one Python process: the uid, then (when asked) the top-level modules of the
# installed distributions, then each import. One process instead of one per step: importing torch and its
# kin costs seconds, and a second container would pay it again.
# Every distribution counts wherever it lives: site-packages, and the dist-packages of a Debian Python
# (/usr/local/lib/python3.X/dist-packages for pip, /usr/lib/python3/dist-packages for apt's python3-*).
# Only the packaging toolchain is left out: it says nothing about the app. A distribution that the other
# variant lacks (a venv doesn't see the system's) is dropped later by `shared_imports`.
_PROBE = r"""
import importlib, importlib.metadata as md, importlib.util, json, os, re, sys, time
request = json.loads(sys.argv[1])
SKIP = {"pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack", "distutils-precedence"}

def canonical(name):
    return re.sub(r"[-_.]+", "-", (name or "").lower())

def present(name):  # top_level.txt can name modules that aren't there (Debian's setuptools lists "debian")
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return True

def discover():
    modules, dists = {}, set()
    for dist in md.distributions():
        dist_name = canonical(dist.metadata["Name"])
        dists.add(dist_name)
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
                if name not in modules and present(name):
                    modules[name] = dist_name
    return dict(sorted(modules.items())), sorted(dists)

modules, dists = discover() if request["discover"] else ({}, [])
results = {}
for name in list(dict.fromkeys(request["imports"] + list(modules))):
    started = time.time()
    try:
        importlib.import_module(name)
        results[name] = [True, "", round(time.time() - started, 2)]
    except BaseException as err:
        results[name] = [False, f"{type(err).__name__}: {err}"[:300], round(time.time() - started, 2)]
print("BUILDOPT-RESULT " + json.dumps({"uid": os.getuid(), "modules": modules, "dists": dists, "imports": results}), flush=True)
os._exit(0)  # no interpreter teardown: with torch & co loaded it takes about a second, and a thread may block it
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
    start: bool = True  # start the image's own ENTRYPOINT/CMD and watch it for start_window_s
    start_window_s: float = 5.0
    start_network: str = "none"


@dataclass
class SmokeCheck:
    kind: str  # import | command | http | user
    name: str
    ok: bool
    detail: str = ""
    duration_s: float = 0.0
    output: str = ""  # last line of a command's output, kept for same_output comparisons


START_CHECK = "ENTRYPOINT/CMD"  # the name of the `start` check, the same in every variant
_DENIED = re.compile(r"permission denied|operation not permitted", re.IGNORECASE)


@dataclass
class StartObservation:
    """What the image's own ENTRYPOINT/CMD did in its first seconds."""

    command: str
    exit_code: int | None  # None: still running when the window closed
    seconds: float  # when it exited, or how long it was watched
    denied: list[str] = field(default_factory=list)  # log lines saying permission denied / operation not permitted
    last_line: str = ""
    error: str = ""  # the container could not be started at all

    @property
    def stayed_up(self) -> bool:
        return self.exit_code is None and not self.error

    def describe(self) -> str:
        if self.error:
            return f"did not start: {self.error}"
        if self.stayed_up:
            return f"stays up for {self.seconds:.0f} s"
        last = f" ({self.last_line})" if self.last_line else ""
        return f"exits {self.exit_code} after {self.seconds:.1f} s{last}"


@dataclass
class SmokeResult:
    image: str
    user: str
    uid: int | None
    checks: list[SmokeCheck]
    discovered: dict[str, str] = field(default_factory=dict)  # module -> distribution, when discovery ran
    distributions: list[str] = field(default_factory=list)  # canonical names of the image's own distributions
    start: StartObservation | None = None  # the `start` check's observation, for `same_start`

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def non_root(self) -> bool:
        return self.uid is not None and self.uid != 0


def spec_from_config(table: dict, base_dir: Path) -> SmokeSpec:
    """The `[smoke]` table of buildopt.toml: imports, auto_imports, commands, http, volumes, env, timeout, start."""
    known = {"imports", "auto_imports", "commands", "same_output", "http", "volumes", "env", "timeout", "require_non_root",
             "start", "start_window", "start_network"}
    unknown = set(table) - known
    if unknown:
        raise BadInput(f"[smoke]: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    http = table.get("http")
    probe = None
    if http:
        if not isinstance(http, dict) or "port" not in http:
            raise BadInput("[smoke].http needs a port, e.g. http = {port = 8000, path = \"/health\"}")
        probe = HttpProbe(port=int(http["port"]), path=str(http.get("path", "/health")), timeout_s=float(http.get("timeout", 60)))
    start = table.get("start", True)
    if not isinstance(start, bool):
        raise BadInput("[smoke].start must be true or false")
    window = table.get("start_window", 5)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 < window <= 600:
        raise BadInput("[smoke].start_window: give the seconds to watch the image's ENTRYPOINT/CMD, e.g. start_window = 5")
    network = str(table.get("start_network", "none"))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", network):
        raise BadInput(f"[smoke].start_network {network!r}: give a Docker network mode, e.g. \"none\" or \"bridge\"")
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
        start=start,
        start_window_s=float(window),
        start_network=network,
    )


class ContainerRunner:
    """Runs short-lived containers through the Engine API and always removes them."""

    def __init__(self, run_id: str | None = None, engine: Engine | None = None):
        self.client = (engine or current()).client
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self._names = itertools.count(1)  # next() is atomic: smoke checks run from several threads
        self.live: set[str] = set()
        self.closed = False  # set by cleanup(): a check still running in a thread starts no new container

    def run(self, image: str, command: list[str] | None, *, spec: SmokeSpec, entrypoint: list[str] | None = None,
            network: str = "none", ports: dict | None = None, detach_for_probe: bool = False):
        if self.closed:
            raise RuntimeError("smoke tests cancelled")
        name = f"{CONTAINER_PREFIX}-{self.run_id}-{next(self._names)}"
        container = self.client.containers.create(
            image,
            command=command,
            entrypoint=entrypoint,
            name=name,
            network_mode=network,
            ports=ports or {},
            volumes=_volume_binds(spec),
            environment=spec.env,
            labels={"buildopt.smoke": self.run_id, **run_labels()},
        )
        self.live.add(container.id)
        if detach_for_probe:
            try:
                container.start()
            except BaseException:
                self.remove(container)
                raise
            return container
        try:
            try:
                container.start()
            except Exception as err:  # e.g. no `python` or `/bin/sh` in the image: a failed check, not a crash
                return 127, f"container did not start: {str(err).splitlines()[0][:200] if str(err) else type(err).__name__}"
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
        with contextlib.suppress(Exception):
            container.remove(force=True)
        self.live.discard(container.id)

    def cleanup(self) -> None:
        """Remove anything left over from this run (called on Ctrl-C and at exit)."""
        self.closed = True
        try:
            # sparse: no inspect per container, which would fail for one a smoke thread removes meanwhile
            leftovers = self.client.containers.list(all=True, sparse=True, filters={"label": f"buildopt.smoke={self.run_id}"})
        except Exception:  # the engine went away: nothing more can be removed from here
            return
        for container in leftovers:
            self.remove(container)


def run_smoke(runner: ContainerRunner, image: str, spec: SmokeSpec, imports: list[str], *,
              discover: bool = False, workers: int | None = None) -> SmokeResult:
    """The checks of one image. With `discover`, the modules of the image's distributions are imported
    too (see `shared_imports` to keep the same set in every variant). The import probe, the commands and the
    start of the image's own ENTRYPOINT/CMD run side by side, `workers` containers at a time (default: all
    of them, at most 4)."""
    from concurrent.futures import ThreadPoolExecutor

    config = runner.client.images.get(image).attrs.get("Config", {}) or {}
    user = config.get("User") or ""
    commands = [*spec.commands, *spec.same_output]
    workers = workers or min(4, 1 + len(commands) + int(spec.start))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="buildopt-smoke") as pool:
        start_future = pool.submit(observe_start, runner, image, spec, spec.start_window_s, config) if spec.start else None
        probe_future = pool.submit(_probe, runner, image, spec, imports, discover)
        command_futures = [pool.submit(_run_command, runner, image, spec, command) for command in commands]
        probe = probe_future.result()
        command_checks = [future.result() for future in command_futures]
        start = start_future.result() if start_future is not None else None
    uid = probe.uid if probe.uid is not None else _shell_uid(runner, image, spec)
    checks = [SmokeCheck("user", "runs as non-root", uid not in (None, 0), f"uid {uid} ({user or 'root'})") if spec.require_non_root
              else SmokeCheck("user", "user", True, f"uid {uid} ({user or 'root'})")]
    checks += [probe.check(name) for name in dict.fromkeys([*imports, *probe.discovered])]
    checks += command_checks
    if start is not None:
        # On its own an image's start is only reported; `same_start` judges it against the original's.
        checks.append(SmokeCheck("start", START_CHECK, True, f"`{start.command}` {start.describe()}{_denied_note(start)}",
                                 start.seconds))
    if spec.http:
        checks.append(_http_probe(runner, image, spec))
    return SmokeResult(image=image, user=user, uid=uid, checks=checks, discovered=probe.discovered,
                       distributions=probe.distributions, start=start)


def observe_start(runner: ContainerRunner, image: str, spec: SmokeSpec, window_s: float,
                  config: dict | None = None) -> StartObservation:
    """Start the image as it would run (its own ENTRYPOINT and CMD, the smoke env and volumes, network
    `spec.start_network`), watch it for `window_s` seconds, then remove it."""
    if config is None:
        config = runner.client.images.get(image).attrs.get("Config", {}) or {}
    command = shlex.join([*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]) or "(none)"
    try:
        container = runner.run(image, None, spec=spec, network=spec.start_network, detach_for_probe=True)
    except Exception as err:  # no ENTRYPOINT/CMD, or one that isn't in the image
        message = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        return StartObservation(command, None, 0.0, error=message)
    started = time.monotonic()  # from the start of the process: creating the container is not its time
    try:
        try:
            code = container.wait(timeout=window_s).get("StatusCode", -1)
        except Exception:  # requests' ReadTimeout: still running when the window closed
            code = None
        seconds = time.monotonic() - started
        logs = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        runner.remove(container)
    lines = [line.strip() for line in logs.splitlines() if line.strip()]
    denied = list(dict.fromkeys(line[:200] for line in lines if _DENIED.search(line)))[:5]
    return StartObservation(command, code, window_s if code is None else seconds, denied,
                            lines[-1][:200] if lines else "")


def same_start(runner: ContainerRunner, reference: SmokeResult, other: SmokeResult, spec: SmokeSpec) -> None:
    """Judge `other`'s start check against `reference` (the original): it must stay up where the original
    stays up, or exit with the same code, and print no permission-denied line the original doesn't.
    An app that exits 1 in both (no broker, no database under --network none) behaves the same.

    When one stayed up and the other exited late in the window (after a third of it), the one that stayed up is
    watched again for three times the window, so an app that merely exits a little later (a slower start) is not
    taken for a different one."""
    check = next((c for c in other.checks if c.kind == "start"), None)
    ref, obs = reference.start, other.start
    if check is None or ref is None or obs is None:
        return
    if not ref.error and not obs.error and ref.stayed_up != obs.stayed_up:
        longer = spec.start_window_s * 3
        up, exited = (reference, obs) if ref.stayed_up else (other, ref)
        if exited.seconds >= spec.start_window_s / 3 and up.start is not None and up.start.seconds < longer:
            up.start = observe_start(runner, up.image, spec, longer)
        ref, obs = reference.start, other.start
        if ref is None or obs is None:
            return
    ok, detail = _judge_start(ref, obs)
    check.ok, check.detail, check.duration_s = ok, detail, obs.seconds


def _judge_start(ref: StartObservation, obs: StartObservation) -> tuple[bool, str]:
    mine = f"`{obs.command}` {obs.describe()}"
    if obs.error and not ref.error:
        return False, f"{mine}; the original starts"
    if ref.error and not obs.error:
        return True, f"{mine}; the original did not start ({ref.error})"
    if ref.stayed_up != obs.stayed_up or ref.exit_code != obs.exit_code:
        return False, f"{mine}; the original {ref.describe()}{_denied_note(obs)}"
    new_denied = obs.denied if not ref.denied else []
    if new_denied:
        return False, f"{mine}, like the original, but its logs say: {new_denied[0]}"
    return True, f"{mine}, like the original"


def _denied_note(observation: StartObservation) -> str:
    return f"; logs: {observation.denied[0]}" if observation.denied else ""


def regressions(reference: SmokeResult, other: SmokeResult) -> list[SmokeCheck]:
    """The checks that fail in `other` and pass in `reference` (the original): what the optimized variant broke.
    Who runs the image (the user check) is policy, which the budget judges, not a regression."""
    passed = {(check.kind, check.name) for check in reference.checks if check.ok}
    passed |= {("same-output", check.name) for check in reference.checks if check.kind == "command" and check.ok}
    return [check for check in other.checks if not check.ok and check.kind != "user" and (check.kind, check.name) in passed]


def shared_imports(reference: SmokeResult, other: SmokeResult | None, configured: list[str]) -> list[str]:
    """The imports every variant is held to: the configured ones, plus the discovered modules that import
    in the reference image and whose distribution the other image also installs. A distribution only the
    reference has (CUDA wheels, extras the optimizer dropped) is the diff's news, not a smoke failure."""
    passed = {check.name for check in reference.checks if check.kind == "import" and check.ok}
    present = set(other.distributions) if other is not None and other.discovered else None
    derived = [name for name, dist in reference.discovered.items()
               if name in passed and (present is None or dist in present)]
    return list(dict.fromkeys([*configured, *derived]))


def align_imports(runner: ContainerRunner, result: SmokeResult, spec: SmokeSpec, imports: list[str]) -> None:
    """Keep exactly `imports` as the import checks of `result`, in that order, importing any it lacks."""
    have = {check.name: check for check in result.checks if check.kind == "import"}
    missing = [name for name in imports if name not in have]
    if missing:
        probe = _probe(runner, result.image, spec, missing, discover=False)
        have.update({name: probe.check(name) for name in missing})
    first = next((i for i, check in enumerate(result.checks) if check.kind == "import"), None)
    others = [check for check in result.checks if check.kind != "import"]
    at = first if first is not None else min(1, len(others))
    result.checks = others[:at] + [have[name] for name in imports] + others[at:]


@dataclass
class _Probe:
    uid: int | None
    imports: dict[str, tuple[bool, str, float]]
    discovered: dict[str, str]
    distributions: list[str]
    failure: str = ""

    def check(self, name: str) -> SmokeCheck:
        ok, detail, seconds = self.imports.get(name, (False, self.failure or "not run (container failed or timed out)", 0.0))
        return SmokeCheck("import", name, ok, detail, seconds)


def _probe(runner: ContainerRunner, image: str, spec: SmokeSpec, imports: list[str], discover: bool) -> _Probe:
    request = json.dumps({"imports": list(imports), "discover": discover})
    code, output = runner.run(image, ["-c", _PROBE, request], entrypoint=["python"], spec=spec)
    for line in output.splitlines():
        if line.startswith("BUILDOPT-RESULT "):
            data = json.loads(line[len("BUILDOPT-RESULT "):])
            return _Probe(uid=data.get("uid"), imports={k: tuple(v) for k, v in data["imports"].items()},
                          discovered=data.get("modules", {}), distributions=data.get("dists", []))
    last = output.strip().splitlines()[-1][:200] if output.strip() else ""
    reason = "timed out" if code is None else f"python probe failed (exit {code}): {last}"
    return _Probe(uid=None, imports={}, discovered={}, distributions=[], failure=reason)


def _run_command(runner: ContainerRunner, image: str, spec: SmokeSpec, command: str) -> SmokeCheck:
    started = time.monotonic()
    code, output = runner.run(image, ["-c", command], entrypoint=["/bin/sh"], spec=spec)
    last = output.strip().splitlines()[-1] if output.strip() else ""
    detail = "timed out" if code is None else f"exit {code}: {last[:200]}"
    return SmokeCheck("command", command, code == 0, detail, time.monotonic() - started, output=last)


def _shell_uid(runner: ContainerRunner, image: str, spec: SmokeSpec) -> int | None:
    """The uid when the image has no usable Python."""
    code, output = runner.run(image, ["-c", "id -u"], entrypoint=["/bin/sh"], spec=spec)
    try:
        return int(output.strip().splitlines()[-1]) if code == 0 else None
    except (ValueError, IndexError):
        return None


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
