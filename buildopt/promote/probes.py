"""What only the containers can tell: a Python probe exec'd in the running container (its uid, and torch's
`torch.cuda.is_available()` when torch is there), and one short-lived container of the new image that
resolves the user it will run as, reads its torch build and checks, by mode bits, whether that user can
write each mounted volume.

The helper container mounts the service's volumes and bind mounts read-only with `nocopy` (Docker
copies nothing into them, nothing is written), runs with `--network none` as root (to stat every file),
carries buildopt.run=<label> and is removed whatever happens.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field

from ..engine import first_line, run_labels

MARKER = "BUILDOPT-PROMOTE "
PYTHONS = ("python3", "python")
WALK_LIMIT = 20000  # entries checked per mount: enough to find a root-owned database, bounded on huge volumes

_RUNNING_PROBE = r"""
import importlib.util, json, os
out = {"uid": os.getuid(), "gids": sorted({os.getgid(), *os.getgroups()})}
if importlib.util.find_spec("torch") is not None:
    try:
        import torch
        available = bool(torch.cuda.is_available())
        out["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda, "cuda_available": available,
                        "devices": torch.cuda.device_count() if available else 0}
    except Exception as err:
        out["torch"] = {"error": f"{type(err).__name__}: {err}"[:200]}
print("BUILDOPT-PROMOTE " + json.dumps(out), flush=True)
"""

_IMAGE_PROBE = r"""
import grp, importlib.util, json, os, pwd, stat, sys
request = json.loads(sys.argv[1])
out = {}

def resolve(spec):
    name, _, group = (spec or "0").partition(":")
    entry = None
    if name.isdigit():
        uid = int(name)
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            pass
    else:
        entry = pwd.getpwnam(name)
        uid = entry.pw_uid
    gid = entry.pw_gid if entry else 0
    if group:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    gids = {gid}
    if entry:
        gids.update(os.getgrouplist(entry.pw_name, gid))
    return {"uid": uid, "gid": gid, "gids": sorted(gids), "name": entry.pw_name if entry else ""}

try:
    user = out["user"] = resolve(request["user"])
except (KeyError, ValueError) as err:
    out["user_error"] = f"user {request['user']!r} is not in the image's /etc/passwd or /etc/group"
    user = None

spec = importlib.util.find_spec("torch")
if spec is not None and spec.origin:
    namespace = {}
    try:  # torch/version.py, read without importing torch (seconds and hundreds of MB)
        with open(os.path.join(os.path.dirname(spec.origin), "version.py")) as handle:
            exec(handle.read(), namespace)
        out["torch"] = {"version": namespace.get("__version__"), "cuda": namespace.get("cuda"), "hip": namespace.get("hip")}
    except Exception as err:
        out["torch"] = {"error": f"{type(err).__name__}: {err}"[:200]}

def writable(st, uid, gids):
    if uid == 0:
        return True
    need = 0o3 if stat.S_ISDIR(st.st_mode) else 0o2  # a directory needs write and search
    if st.st_uid == uid:
        bits = st.st_mode >> 6
    elif st.st_gid in gids:
        bits = st.st_mode >> 3
    else:
        bits = st.st_mode
    return bits & need == need

mounts = []
for target in request["mounts"]:
    entry = {"target": target, "checked": 0, "not_writable": 0, "examples": [], "truncated": False}
    try:
        top = os.stat(target)
    except OSError as err:
        entry["error"] = str(err)[:200]
        mounts.append(entry)
        continue
    entry.update(owner=top.st_uid, group=top.st_gid, mode=oct(stat.S_IMODE(top.st_mode)))
    if user is not None:
        entry["top_writable"] = writable(top, user["uid"], set(user["gids"]))
        stack = [target]
        while stack and not entry["truncated"]:
            try:
                children = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for child in children:
                if entry["checked"] >= request["limit"]:
                    entry["truncated"] = True
                    break
                try:
                    st = child.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    continue
                entry["checked"] += 1
                if not writable(st, user["uid"], set(user["gids"])):
                    entry["not_writable"] += 1
                    if len(entry["examples"]) < 3:
                        entry["examples"].append([child.path, st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))])
                if stat.S_ISDIR(st.st_mode):
                    stack.append(child.path)
    mounts.append(entry)
out["mounts"] = mounts
print("BUILDOPT-PROMOTE " + json.dumps(out), flush=True)
"""


@dataclass(frozen=True)
class TorchFacts:
    version: str | None
    cuda: str | None  # the CUDA version torch was built for; None: a CPU (or ROCm) build
    hip: str | None = None
    cuda_available: bool | None = None  # only from a running container
    devices: int = 0
    error: str | None = None

    @property
    def cpu_only(self) -> bool:
        return self.error is None and self.version is not None and not self.cuda and not self.hip

    def describe(self) -> str:
        if self.error:
            return f"torch could not be read ({self.error})"
        build = f"CUDA {self.cuda} build" if self.cuda else (f"ROCm {self.hip} build" if self.hip else "CPU-only build")
        text = f"torch {self.version} ({build})"
        if self.cuda_available is not None:
            text += f", torch.cuda.is_available() = {self.cuda_available}"
        return text


@dataclass(frozen=True)
class RunningFacts:
    uid: int | None
    gids: tuple[int, ...] = ()
    torch: TorchFacts | None = None
    error: str | None = None  # why the probe could not run (no Python in the container...)


@dataclass(frozen=True)
class UserFacts:
    spec: str  # as configured: "", "app", "10001:10001"
    uid: int
    gid: int
    gids: tuple[int, ...]
    name: str

    def describe(self) -> str:
        who = f"{self.name} " if self.name else ""
        return f"{who}uid {self.uid} gid {self.gid}" + (f" (from {self.spec!r})" if self.spec else " (root: no USER)")


@dataclass(frozen=True)
class MountAccess:
    target: str
    owner: int | None = None
    group: int | None = None
    mode: str | None = None
    top_writable: bool | None = None
    checked: int = 0
    not_writable: int = 0
    examples: tuple[tuple[str, int, int, str], ...] = ()
    truncated: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ImageFacts:
    user: UserFacts | None
    torch: TorchFacts | None
    mounts: dict[str, MountAccess] = field(default_factory=dict)  # by target
    error: str | None = None  # why the probe could not run; the checks it does are then unknown


def probe_running(container) -> RunningFacts:
    """The probe exec'd in the running container, as its own user."""
    data, error = _exec_python(container, _RUNNING_PROBE)
    if data is None:
        return RunningFacts(uid=None, error=error)
    torch = data.get("torch")
    return RunningFacts(
        uid=data.get("uid"), gids=tuple(data.get("gids") or ()),
        torch=None if torch is None else TorchFacts(
            version=torch.get("version"), cuda=torch.get("cuda"), cuda_available=torch.get("cuda_available"),
            devices=int(torch.get("devices") or 0), error=torch.get("error")),
    )


def probe_image(client, image: str, user: str, mounts: list[dict], *, timeout_s: float = 120) -> ImageFacts:
    """One helper container of `image`: the user it resolves, its torch build, and write access to the
    `mounts` (Engine API mount dicts of the running container) for that user."""
    import docker

    request = json.dumps({"user": user, "mounts": [m["Destination"] for m in mounts], "limit": WALK_LIMIT})
    specs = [_read_only(m) for m in mounts]
    last_error = "no python in the image"
    for python in PYTHONS:
        container = None
        try:
            container = client.containers.create(
                image, entrypoint=[python], command=["-c", _IMAGE_PROBE, request], user="0", network_mode="none",
                mounts=specs, labels={"buildopt.promote": "preflight", **run_labels()}, detach=True)
            container.start()
            status = container.wait(timeout=timeout_s)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        except docker.errors.APIError as err:
            last_error = first_line(err.explanation or err, 200)
            if "executable file not found" in last_error or "no such file" in last_error.lower():
                continue
            return ImageFacts(user=None, torch=None, error=f"helper container failed: {last_error}")
        except Exception as err:  # requests' ReadTimeout: the probe outlived its timeout
            return ImageFacts(user=None, torch=None, error=f"helper container: {first_line(err, 200)}")
        finally:
            if container is not None:
                # v=True: anonymous volumes Docker made for the image's own VOLUMEs (never the mounted ones)
                with suppress(Exception):
                    container.remove(force=True, v=True)
        data = _marked(output)
        if data is None:
            tail = output.strip().splitlines()[-1][:200] if output.strip() else ""
            return ImageFacts(user=None, torch=None, error=f"probe exited {status.get('StatusCode')}: {tail}")
        return _image_facts(user, data)
    return ImageFacts(user=None, torch=None, error=last_error)


def _image_facts(spec: str, data: dict) -> ImageFacts:
    user = data.get("user")
    torch = data.get("torch")
    return ImageFacts(
        user=None if user is None else UserFacts(spec=spec, uid=user["uid"], gid=user["gid"], gids=tuple(user["gids"]),
                                                 name=user.get("name") or ""),
        torch=None if torch is None else TorchFacts(version=torch.get("version"), cuda=torch.get("cuda"),
                                                    hip=torch.get("hip"), error=torch.get("error")),
        mounts={m["target"]: MountAccess(
            target=m["target"], owner=m.get("owner"), group=m.get("group"), mode=m.get("mode"),
            top_writable=m.get("top_writable"), checked=m.get("checked", 0), not_writable=m.get("not_writable", 0),
            examples=tuple(tuple(e) for e in m.get("examples", [])), truncated=m.get("truncated", False),
            error=m.get("error")) for m in data.get("mounts", [])},
        error=data.get("user_error"),
    )


def _read_only(mount: dict):
    from docker.types import Mount

    if mount["Type"] == "volume":
        return Mount(target=mount["Destination"], source=mount["Name"], type="volume", read_only=True, no_copy=True)
    return Mount(target=mount["Destination"], source=mount["Source"], type="bind", read_only=True)


def _exec_python(container, script: str) -> tuple[dict | None, str]:
    error = "no python in the container"
    for python in PYTHONS:
        try:
            code, output = container.exec_run([python, "-c", script], demux=False)
        except Exception as err:  # APIError (container stopped meanwhile), ReadTimeout
            return None, first_line(err, 200)
        text = (output or b"").decode("utf-8", "replace")
        data = _marked(text)
        if data is not None:
            return data, ""
        if code in (126, 127):
            continue
        error = f"probe exited {code}: {text.strip().splitlines()[-1][:200] if text.strip() else ''}"
        break
    return None, error


def _marked(output: str) -> dict | None:
    for line in output.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    return None
