"""The one way buildopt reaches the Docker engine."""

from __future__ import annotations

import atexit
import os
import threading

RUN_LABEL_ENV = "BUILDOPT_RUN_LABEL"
RUN_LABEL = "buildopt.run"


def run_labels() -> dict[str, str]:
    """`buildopt.run=<value>` for every temporary image and container, when BUILDOPT_RUN_LABEL is set.

    Test runs and CI jobs that share one engine set it, so each finds and removes only what it created.
    """
    value = os.environ.get(RUN_LABEL_ENV, "").strip()
    return {RUN_LABEL: value} if value else {}


class HelperFailed(Exception):
    """A helper container could not run or failed; the message is one line."""


def run_helper_container(image: str, entrypoint: str, args: list[str], *, mounts: list[tuple[str, str]],
                         caps: tuple[str, ...] = (), timeout: float = 900.0, purpose: str = "helper") -> bytes:
    """Run `entrypoint args` in a short-lived container of `image` and return its stdout.

    For the non-root fast paths (inspect/helper.py, scan.py): no network, every capability dropped but
    `caps`, no new privileges, the host paths in `mounts` ((host, container) pairs) read-only, labelled with
    the run label, removed when it ends, and removed by name if we are interrupted. It works in `/`, not in
    the image's WORKDIR (trivy resolves relative --skip-dirs against it). The docker CLI is used (not the
    SDK) so stdout streams through a pipe instead of the engine's log store.
    """
    import subprocess
    import uuid

    name = f"buildopt-{purpose}-{uuid.uuid4().hex[:12]}"
    argv = ["docker", "run", "--rm", "--name", name, "--network", "none", "--log-driver", "none",
            "--user", "0:0", "--workdir", "/", "--security-opt", "no-new-privileges", "--cap-drop", "ALL",
            "--entrypoint", entrypoint, "--label", f"buildopt.helper={purpose}"]
    for cap in caps:
        argv += ["--cap-add", cap]
    for key, value in run_labels().items():
        argv += ["--label", f"{key}={value}"]
    for host, inside in mounts:
        argv += ["--mount", f"type=bind,source={host},target={inside},readonly"]
    argv += [image, *args]
    try:
        process = subprocess.run(argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        raise HelperFailed(f"the {purpose} container timed out after {timeout:.0f} s") from None
    except BaseException:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        raise
    if process.returncode != 0:
        lines = [line for line in process.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise HelperFailed(f"the {purpose} container exited {process.returncode}: {(lines or ['no output'])[-1][:300]}")
    return process.stdout


_empty_image: list[str] = []
_empty_lock = threading.Lock()


def empty_image() -> str:
    """An image with nothing in it, for helper containers that must run no code of any image (inspect's
    helper bind-mounts the host's own Python). Made once per process by `docker import` of an empty tar,
    labelled `buildopt.helper=empty`, and removed when the process exits."""
    with _empty_lock:
        if _empty_image:
            return _empty_image[0]
        import io
        import subprocess
        import tarfile
        import uuid

        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        tag = f"buildopt-helper/empty:{os.getpid()}-{uuid.uuid4().hex[:8]}"
        process = subprocess.run(["docker", "import", "--change", "LABEL buildopt.helper=empty", "-", tag],
                                 input=empty.getvalue(), capture_output=True)
        if process.returncode != 0:
            raise HelperFailed(f"cannot make the helper's empty image: {process.stderr.decode(errors='replace').strip()[:200]}")
        atexit.register(subprocess.run, ["docker", "image", "rm", "--force", tag], capture_output=True)
        _empty_image.append(tag)
        return tag
