"""A non-root user in the docker group, like the user of a GitHub-hosted runner, for the tests that run the
gate, inspect and scan as that user (../shared/ENVIRONMENT.md §8).

The user (`buildopt-runner`, or $BUILDOPT_TEST_RUNNER_USER) is created once with
`useradd --create-home --groups docker`; it can reach the engine's socket but can't read /var/lib/docker,
and has no sudo. Its Python is a venv made from /usr/bin/python3 under its home (a venv of a Python under
/root would not run for it), holding buildopt's dependencies with the trivy and test extras; a .pth file
puts this checkout on its path and `bin/buildopt` runs this checkout's CLI, like an editable install that
writes nothing into the checkout. Creating both needs root; `unavailable()` says why they can't be had.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNNER = os.environ.get("BUILDOPT_TEST_RUNNER_USER", "buildopt-runner")
SYSTEM_PYTHON = "/usr/bin/python3"


def unavailable() -> str | None:
    """None when tests can run commands as the non-root runner user, else why not."""
    if os.geteuid() != 0:
        return "creating the non-root runner user needs root (this run is already non-root)"
    if shutil.which("useradd") is None:
        return "useradd not found"
    try:
        grp.getgrnam("docker")
    except KeyError:
        return "no docker group on this machine"
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    if not os.access(REPO, os.R_OK | os.X_OK) or not _world_readable_path(REPO):
        return f"{REPO} is not readable by other users"
    return None


def _world_readable_path(path: Path) -> bool:
    return all(os.stat(part).st_mode & 0o005 == 0o005 for part in [path, *path.parents])


def ensure_user() -> pwd.struct_passwd:
    """The runner user, created when missing (two test runs may race to create it)."""
    try:
        return pwd.getpwnam(RUNNER)
    except KeyError:
        pass
    created = subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", "docker", RUNNER],
                             capture_output=True, text=True)
    try:
        return pwd.getpwnam(RUNNER)
    except KeyError:
        raise RuntimeError(f"useradd {RUNNER} failed: {created.stderr.strip()}") from None


def ensure_venv() -> Path:
    """The runner's venv for this checkout (made once per checkout and dependency set), as the runner."""
    user = ensure_user()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    requirements = [*pyproject["project"]["dependencies"], *extras["trivy"], *extras["test"]]
    key = hashlib.sha256("\n".join([str(REPO), *requirements]).encode()).hexdigest()[:12]
    root = Path(user.pw_dir) / ".cache" / "buildopt-test"
    venv = root / f"venv-{key}"
    ready = venv / ".ready"
    if ready.exists():
        return venv
    run_as_runner(["mkdir", "-p", str(root)], check=True)
    with open(root / ".lock", "a") as lock:  # root may create the lock file: it only serves flock
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            run_as_runner([SYSTEM_PYTHON, "-m", "venv", "--clear", str(venv)], check=True)
            run_as_runner([str(venv / "bin" / "pip"), "install", "--quiet", *requirements], check=True, timeout=1800)
            site = run_as_runner([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True).stdout.strip()
            script = f"#!{venv}/bin/python\nimport sys\nfrom buildopt.cli import main\nsys.exit(main())\n"
            run_as_runner(["sh", "-c", 'echo "$1" > "$2/buildopt-checkout.pth" && printf %s "$3" > "$4" && chmod +x "$4" && touch "$5"',
                           "-", str(REPO), site, script, str(venv / "bin" / "buildopt"), str(ready)], check=True)
    return venv


def runner_env(venv: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment as the runner would see it: its own home, PATH and no venv of root's."""
    user = pwd.getpwnam(RUNNER)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("VIRTUAL_ENV", "PYTHON", "PYENV", "GITHUB_", "RUNNER_", "INPUT_"))}
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env.update(HOME=user.pw_dir, USER=RUNNER, LOGNAME=RUNNER, PYTHONDONTWRITEBYTECODE="1",
               PATH=f"{venv}/bin:{path}" if venv else path)
    env.pop("TMPDIR", None)
    env.update(extra or {})
    return env


def run_as_runner(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                  check: bool = False, timeout: float | None = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run `argv` as the runner: its uid, its group, and the docker group (nothing else of root's)."""
    user = pwd.getpwnam(RUNNER)
    docker_gid = grp.getgrnam("docker").gr_gid
    return subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[docker_gid],
                          env=env if env is not None else runner_env(), cwd=cwd or user.pw_dir, check=check,
                          timeout=timeout, capture_output=kwargs.pop("capture_output", True),
                          text=kwargs.pop("text", True), **kwargs)


def give_to_runner(path: Path) -> Path:
    """chown a file or a directory tree this run created (in a temp dir) to the runner, so it can work in it."""
    user = pwd.getpwnam(RUNNER)
    os.lchown(path, user.pw_uid, user.pw_gid)
    for current, dirs, files in os.walk(path):
        for name in [current, *(os.path.join(current, d) for d in dirs), *(os.path.join(current, f) for f in files)]:
            os.lchown(name, user.pw_uid, user.pw_gid)
    return path


@contextmanager
def runner_tmp(prefix: str = "buildopt-runner-") -> Iterator[Path]:
    """A temp dir the runner owns, directly in the system temp dir (pytest's own are 0700 dirs of root's,
    and other root sessions reset their mode)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield give_to_runner(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
