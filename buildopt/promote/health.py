"""Is the service healthy? One probe, chosen in this order:

1. `--health-cmd CMD`: the command, run in each container with `sh -c`, exits 0;
2. the container's healthcheck (the compose service's, else the image's): Docker reports `healthy`
   (a trivial one, which can't fail, gives way to the HTTP probe when there is one);
3. `[smoke].http` from buildopt.toml: GET http://127.0.0.1:PORT/PATH answers 200, from inside the container
   (works whether or not the port is published);
4. none of them: the container keeps running, without a restart, for `settle_s` seconds (a weak check,
   and the plan says so).

Whatever the probe, a container that exits, restarts or reports `unhealthy` fails at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..healthcheck import healthcheck_kind

_HTTP = ("import sys, urllib.request\n"
         "try:\n"
         "    response = urllib.request.urlopen({url!r}, timeout=3)\n"
         "except Exception as err:\n"
         "    print(err); sys.exit(1)\n"
         "print(response.status); sys.exit(0 if response.status == 200 else 1)\n")
POLL_S = 1.0
EXEC_EVERY_S = 2.0


@dataclass(frozen=True)
class HealthProbe:
    kind: str  # command | healthcheck | http | running
    detail: str
    command: str | None = None
    port: int | None = None
    path: str = "/health"
    settle_s: float = 10.0


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    detail: str
    seconds: float
    container: str | None = None  # the container that failed (or the first one), for its logs
    container_id: str | None = None


def effective_healthcheck(service_config: dict, image_config: dict) -> list | None:
    """The Test list Docker will run: the compose service's healthcheck, else the image's."""
    compose = service_config.get("healthcheck") or {}
    if compose.get("disable"):
        return None
    test = compose.get("test") or (image_config.get("Healthcheck") or {}).get("Test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    return None if test is None or healthcheck_kind(test) == "none" else list(test)


def healthcheck_interval(service_config: dict, image_config: dict) -> float:
    """Seconds between Docker's health checks: the compose service's interval, else the image's, else 30."""
    text = str((service_config.get("healthcheck") or {}).get("interval") or "")
    if text:
        units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)", text)
        if parts:
            return sum(float(number) * units[unit] for number, unit in parts)
    nanoseconds = (image_config.get("Healthcheck") or {}).get("Interval") or 0
    return nanoseconds / 1e9 if nanoseconds else 30.0


def choose_probe(*, command: str | None, healthcheck: list | None, http=None, settle_s: float = 10.0,
                 interval_s: float = 30.0) -> HealthProbe:
    if command:
        return HealthProbe("command", f"--health-cmd `{command}` exits 0 in the container", command=command)
    if healthcheck and http is not None and healthcheck_kind(healthcheck) == "trivial":
        healthcheck = None  # a check that can't fail proves nothing: the HTTP probe does
    if healthcheck:
        text = " ".join(str(part) for part in healthcheck[1:])
        text = text if len(text) <= 100 else text[:99] + "…"
        trivial = " (trivial: it can't fail, so this only proves the container started)" \
            if healthcheck_kind(healthcheck) == "trivial" else ""
        every = f" (Docker runs it every {interval_s:g} s: the first result can take that long)" if interval_s >= 30 else ""
        return HealthProbe("healthcheck", f"the container's healthcheck `{text}` reports healthy{trivial}{every}")
    if http is not None:
        return HealthProbe("http", f"GET http://127.0.0.1:{http.port}{http.path} inside the container answers 200 "
                           "([smoke].http)", port=http.port, path=http.path)
    return HealthProbe("running", f"no healthcheck, [smoke].http or --health-cmd: only checks that it keeps running "
                       f"for {settle_s:g} s without a restart", settle_s=settle_s)


def wait_healthy(client, containers: Callable[[], list], probe: HealthProbe, *, image_id: str, timeout_s: float,
                 say: Callable[[str], None] = lambda message: None) -> HealthResult:
    """Poll the service's containers (all replicas) until the probe passes for each, one fails, or timeout_s."""
    started = time.monotonic()
    deadline = started + timeout_s
    running_since: dict[str, float] = {}
    last_exec: dict[str, float] = {}
    passed: set[str] = set()
    last_note, last_said = "no container yet", 0.0
    while True:
        now = time.monotonic()
        current = containers()
        if not current:
            last_note = "no container for the service"
        for container in current:
            try:
                attrs = client.api.inspect_container(container.id)
            except Exception as err:  # removed meanwhile: the next round sees the list without it
                last_note = f"{container.name}: {err}"
                continue
            name = attrs["Name"].lstrip("/")
            failure = _failure(attrs, image_id)
            if failure:
                return HealthResult(False, f"{name} {failure}", now - started, name, attrs["Id"])
            if attrs["Id"] in passed:
                continue
            state = attrs["State"]
            running_since.setdefault(attrs["Id"], now)
            health = (state.get("Health") or {}).get("Status")
            kind = probe.kind if probe.kind != "healthcheck" or health else "running"
            if kind == "healthcheck":
                if health == "healthy":
                    passed.add(attrs["Id"])
                last_note = f"{name}: health {health}"
            elif kind == "running":
                if now - running_since[attrs["Id"]] >= probe.settle_s:
                    passed.add(attrs["Id"])
                last_note = f"{name}: running {now - running_since[attrs['Id']]:.0f} s"
            elif now - last_exec.get(attrs["Id"], 0.0) >= EXEC_EVERY_S:
                last_exec[attrs["Id"]] = now
                ok, note = _exec_probe(container, probe)
                if ok:
                    passed.add(attrs["Id"])
                last_note = f"{name}: {note}"
        if current and all(c.id in passed for c in current):
            return HealthResult(True, f"healthy after {time.monotonic() - started:.1f} s ({probe.kind})",
                                time.monotonic() - started, current[0].name, current[0].id)
        if now >= deadline:
            first = current[0] if current else None
            return HealthResult(False, f"not healthy after {timeout_s:g} s ({last_note})", now - started,
                                first.name if first else None, first.id if first else None)
        if now - last_said >= 10:
            say(f"waiting for healthy: {last_note}")
            last_said = now
        time.sleep(POLL_S)


def logs_tail(client, container_id: str | None, lines: int = 20) -> list[str]:
    if not container_id:
        return []
    try:
        raw = client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
    except Exception as err:
        return [f"(logs unavailable: {err})"]
    return raw.decode("utf-8", "replace").rstrip("\n").splitlines()[-lines:]


def _failure(attrs: dict, image_id: str) -> str | None:
    state = attrs["State"]
    if attrs.get("Image") != image_id:
        return f"runs image {str(attrs.get('Image'))[:19]}, not {image_id[:19]}"
    if state.get("Status") in ("exited", "dead"):
        return f"exited with code {state.get('ExitCode')}" + (f" ({state['Error']})" if state.get("Error") else "")
    if state.get("Restarting") or int(attrs.get("RestartCount") or 0) > 0:
        return f"restarted {attrs.get('RestartCount')} time(s) (last exit code {state.get('ExitCode')})"
    health = state.get("Health") or {}
    if health.get("Status") == "unhealthy":
        log = health.get("Log") or []
        lines = [line.strip() for line in (log[-1].get("Output") or "").splitlines() if line.strip()] if log else []
        return "is unhealthy" + (f" (last check: {lines[-1][:200]})" if lines else "")
    return None


def _exec_probe(container, probe: HealthProbe) -> tuple[bool, str]:
    if probe.kind == "command":
        commands = [["sh", "-c", probe.command]]
    else:
        url = f"http://127.0.0.1:{probe.port}{probe.path}"
        commands = [[python, "-c", _HTTP.format(url=url)] for python in ("python3", "python")]
    note = ""
    for command in commands:
        try:
            code, output = container.exec_run(command)
        except Exception as err:  # the container stopped meanwhile: the next round reports it
            return False, str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        text = (output or b"").decode("utf-8", "replace").strip()
        note = f"exit {code}" + (f": {text.splitlines()[-1][:120]}" if text else "")
        if code == 0:
            return True, note
        if code not in (126, 127):
            break
    return False, note
