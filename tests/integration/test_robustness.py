"""Hostile inputs and outputs (issue 18): no hang, no traceback, no special file replaced, documented exit codes.

Every adversarial input is made here, in temp dirs: FIFOs (one fed zeros forever, the /dev/zero shape), device
nodes made with mknod in a temp dir (never the machine's /dev), read-only and full file systems (small tmpfs
mounts in a temp dir), unreadable files. Cases that need root (mknod, mount) run when the suite runs as root and
are skipped otherwise, with a message. The non-root cases run as a user this module creates (useradd, as on
GitHub's runners: ENVIRONMENT.md §8) when the suite runs as root, else as the current user.

BuildKit's parser test files (../shared/peer-corpus) are checked against their expected class, read in place.
A timeout on each process is the hang detector; no time is asserted.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, SESSION_ID, require
from tests.peer_corpus import peer_corpus_dir, peer_files

ROOT = os.geteuid() == 0
HANG_S = 300  # a process still running after this is a hang
MIB = 1024 * 1024
needs_root = pytest.mark.skipif(not ROOT, reason="root only: mknod and mount need root (the suite runs as root in CI)")

APP_DOCKERFILE = """\
FROM python:3.11
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python", "app.py"]
"""


# --- running buildopt as root or as another user ----------------------------------------------------------
@dataclass
class Runner:
    name: str
    argv_prefix: list[str]
    user: str | None = None
    pythonpath: str | None = None

    def __call__(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        if self.user is None:
            argv = [*self.argv_prefix, "-m", "buildopt.cli", *args]
        else:
            inner = (f"cd {shlex.quote(str(cwd))} && exec env PYTHONPATH={shlex.quote(self.pythonpath or '')} "
                     + " ".join(shlex.quote(a) for a in [*self.argv_prefix, "-m", "buildopt.cli", *args]))
            argv = ["su", self.user, "-s", "/bin/sh", "-c", inner]
        process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            out, err = process.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"buildopt {' '.join(args)} hung (still running after {HANG_S} s) as {self.name}")
        return subprocess.CompletedProcess(argv, process.returncode, out, err)


def _user_can(user: str, test: str) -> bool:
    return subprocess.run(["su", user, "-s", "/bin/sh", "-c", test], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A temp dir every user can enter (pytest's tmp_path is private to root). Mounts inside are undone."""
    top = Path(tempfile.mkdtemp(prefix="buildopt-robust-"))
    top.chmod(0o755)
    yield top
    if ROOT:
        for mount in sorted((line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                             if line.split()[1].startswith(str(top))), reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
    for path in top.rglob("*"):  # read-only dirs made by the tests
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def non_root(workspace: Path) -> Iterator[Runner]:
    """buildopt run by a user that is not root: a user made for this module (as root), else the current user."""
    if not ROOT:
        yield Runner("the current non-root user", [sys.executable])
        return
    python = Path("/usr/bin/python3")
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True).stdout.strip() if python.exists() else ""
    require(version == str(sys.version_info[:2]),
            f"/usr/bin/python3 {version or 'missing'} is not Python {sys.version_info[:2]}: the non-root user can't "
            "run the venv's Python under /root (ENVIRONMENT.md §8)")
    require(shutil.which("useradd") is not None, "useradd missing (the non-root cases run as a user the test creates)")
    user = f"bo-robust-{SESSION_ID}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", user], check=True, capture_output=True)
    try:
        import typer

        code, site = REPO, Path(typer.__file__).resolve().parents[1]
        if not (_user_can(user, f"test -r {shlex.quote(str(code / 'buildopt' / 'cli.py'))}")
                and _user_can(user, f"test -r {shlex.quote(str(site / 'typer' / '__init__.py'))}")):
            # A checkout under a private dir (mktemp -d, /root): give the user a readable copy of the code.
            copy = workspace / "code"
            shutil.copytree(REPO / "buildopt", copy / "buildopt", symlinks=False)
            shutil.copytree(site, copy / "site", symlinks=True)
            subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
            code, site = copy, copy / "site"
        yield Runner(f"user {user}", [str(python)], user=user, pythonpath=f"{code}:{site}")
    finally:
        subprocess.run(["userdel", user], capture_output=True)


@pytest.fixture(scope="module")
def as_root() -> Runner:
    return Runner("root" if ROOT else "the current user", [sys.executable])


@pytest.fixture(params=["root", "non-root"])
def runner(request, as_root: Runner) -> Runner:
    """Both ways where the case doesn't depend on who runs it (as root, only the non-root one when not root)."""
    if request.param == "root":
        if not ROOT:
            pytest.skip("the root run of this case needs root (the non-root run covers it here)")
        return as_root
    return request.getfixturevalue("non_root")


@pytest.fixture
def case(workspace: Path, request) -> Path:
    """A fresh dir for one case, readable by the non-root user."""
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
    path = workspace / name
    path.mkdir()
    return path


def _app(directory: Path, requirements: str | None = "flask==3.0.3\n") -> Path:
    (directory / "Dockerfile").write_text(APP_DOCKERFILE)
    if requirements is not None:
        (directory / "requirements.txt").write_text(requirements)
    (directory / "app.py").write_text("print('ok')\n")
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory / "Dockerfile"


# --- assertions -------------------------------------------------------------------------------------------
def one_line_error(done: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    # compare's progress lines ("[buildopt  0.1s] ...") aren't errors
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("[buildopt")]
    assert len(lines) == 1 and lines[0].startswith("buildopt: error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def identity(path: Path) -> tuple[int, int, int]:
    """What must not change about a special file: its type, inode and device numbers."""
    info = os.lstat(path)
    return stat.S_IFMT(info.st_mode), info.st_ino, info.st_rdev


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    path.chmod(0o666)
    return path


def _device(path: Path, major: int, minor: int) -> Path:
    """A private character device node in a temp dir (1,3 behaves as null, 1,5 as zero); never /dev itself."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    return path


class Feeder:
    """Writes zeros into a FIFO for as long as anyone reads: the /dev/zero shape of input."""

    def __init__(self, fifo: Path):
        self.process = subprocess.Popen([sys.executable, "-c", "import sys\nout = open(sys.argv[1], 'wb')\n"
                                         "while True: out.write(bytes(65536))", str(fifo)])

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


# --- inputs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["analyze", "optimize"])
def test_a_fifo_as_the_dockerfile(runner, case, command):
    fifo = _fifo(case / "Dockerfile")
    before = identity(fifo)
    one_line_error(runner(command, str(fifo), cwd=case), 2, "is a FIFO (named pipe), not a regular file")
    assert identity(fifo) == before and listing(case) == ["Dockerfile"]


def test_a_fifo_fed_zeros_forever_as_the_dockerfile(runner, case):
    fifo = _fifo(case / "Dockerfile")
    feeder = Feeder(fifo)
    try:
        one_line_error(runner("analyze", str(fifo), cwd=case), 2, "is a FIFO")
    finally:
        feeder.stop()


@needs_root
@pytest.mark.parametrize("command", ["analyze", "optimize"])
def test_a_zero_device_as_the_dockerfile(as_root, case, command):
    zero = _device(case / "Dockerfile", 1, 5)
    before = identity(zero)
    one_line_error(as_root(command, str(zero), cwd=case), 2, "is a character device, not a regular file")
    assert identity(zero) == before and listing(case) == ["Dockerfile"]


def test_a_directory_as_the_dockerfile(runner, case):
    one_line_error(runner("analyze", str(case), cwd=case), 2, "is a directory")


def test_a_dockerfile_over_the_cap(runner, case):
    path = case / "Dockerfile"
    with path.open("w") as handle:
        handle.write("FROM python:3.12-slim\n")
        handle.write("RUN echo padding-padding-padding-padding-padding-padding-padding-padding\n" * (8 * MIB // 70))
    path.chmod(0o644)
    assert path.stat().st_size > 8 * MIB
    one_line_error(runner("analyze", str(path), cwd=case), 2, "larger than 8 MiB, the limit for a Dockerfile")


def test_an_unreadable_dockerfile_is_one_line_not_a_usage_error(non_root, case):
    path = _app(case)
    path.chmod(0o000 if not ROOT else 0o600)  # as root the file stays root's: the other user can't read it
    for command in ("analyze", "optimize"):
        one_line_error(non_root(command, str(path), cwd=case), 2, "cannot read: Permission denied")


def test_an_unreadable_config_is_one_line(non_root, case):
    path = _app(case)
    config = case / "buildopt.toml"
    config.write_text("fail_on = 'high'\n")
    config.chmod(0o000 if not ROOT else 0o600)
    one_line_error(non_root("analyze", str(path), "--config", str(config), cwd=case), 2, "cannot read: Permission denied")


@pytest.mark.parametrize("feed", [False, True], ids=["fifo", "fifo-fed-zeros"])
def test_a_fifo_as_the_requirements_file(runner, case, feed):
    """optimize reads the requirements the Dockerfile installs: a FIFO there is refused, not waited on."""
    dockerfile = _app(case, requirements=None)
    fifo = _fifo(case / "requirements.txt")
    feeder = Feeder(fifo) if feed else None
    try:
        out = case / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        one_line_error(runner("optimize", str(dockerfile), "-o", str(out / "Dockerfile.opt"), cwd=case), 2,
                       "requirements.txt: is a FIFO")
        assert listing(out) == []
        done = runner("analyze", str(dockerfile), "--context", str(case), cwd=case)  # never opened: no hang
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    finally:
        if feeder:
            feeder.stop()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("name", ["pyproject.toml", ".dockerignore", "setup.cfg"])
def test_fifos_elsewhere_in_the_context(runner, case, name):
    dockerfile = _app(case)
    _fifo(case / name)
    out = case / "out"
    out.mkdir()
    out.chmod(0o777)
    for args in (["analyze", str(dockerfile), "--context", str(case)],
                 ["optimize", str(dockerfile), "-o", str(out / "Dockerfile.opt")]):
        done = runner(*args, cwd=case)
        assert "Traceback" not in done.stderr and done.returncode in (0, 1, 2), done.stderr
        if done.returncode == 2:
            one_line_error(done, 2, name, "FIFO")


def test_a_requirements_file_over_the_cap(runner, case):
    dockerfile = _app(case, requirements=None)
    requirements = case / "requirements.txt"
    requirements.write_text("flask==3.0.3\n" + "# padding padding padding padding padding padding\n" * (8 * MIB // 50 + 10))
    requirements.chmod(0o644)
    out = case / "out"
    out.mkdir()
    out.chmod(0o777)
    one_line_error(runner("optimize", str(dockerfile), "-o", str(out / "Dockerfile.opt"), cwd=case), 2,
                   "requirements.txt: larger than 8 MiB, the limit for a requirements file")
    assert listing(out) == []


def test_an_unreadable_requirements_file(non_root, case):
    dockerfile = _app(case)
    (case / "requirements.txt").chmod(0o000 if not ROOT else 0o600)
    out = case / "out"
    out.mkdir()
    out.chmod(0o777)
    one_line_error(non_root("optimize", str(dockerfile), "-o", str(out / "Dockerfile.opt"), cwd=case), 2,
                   "requirements.txt: cannot read: Permission denied")
    assert listing(out) == []


# --- outputs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("force", [[], ["--force"]], ids=["", "force"])
def test_analyze_output_onto_a_fifo(runner, case, force):
    dockerfile = _app(case)
    fifo = _fifo(case / "report.sarif")
    before = identity(fifo)
    one_line_error(runner("analyze", str(dockerfile), "--format", "sarif", "-o", str(fifo), *force, cwd=case), 2,
                   "is a FIFO (named pipe); buildopt writes only regular files")
    assert identity(fifo) == before and listing(case) == ["Dockerfile", "app.py", "report.sarif", "requirements.txt"]


def test_optimize_output_onto_a_fifo_with_force(runner, case):
    dockerfile = _app(case)
    fifo = _fifo(case / "Dockerfile.opt")
    before = identity(fifo)
    one_line_error(runner("optimize", str(dockerfile), "-o", str(fifo), "--force", cwd=case), 2, "is a FIFO")
    assert identity(fifo) == before
    assert listing(case) == ["Dockerfile", "Dockerfile.opt", "app.py", "requirements.txt"]  # no compose, no temp


@needs_root
@pytest.mark.parametrize("command", ["analyze", "optimize"])
def test_output_onto_a_device_with_force(as_root, case, command):
    """The destructive case of the issue, on a private node: it stays a device, nothing is written beside it."""
    app = case / "app"
    app.mkdir()
    dockerfile = _app(app)
    devices = case / "dev"
    devices.mkdir()
    null = _device(devices / "null", 1, 3)
    before = identity(null)
    one_line_error(as_root(command, str(dockerfile), "-o", str(null), "--force", cwd=case), 2,
                   "is a character device; buildopt writes only regular files")
    assert identity(null) == before and listing(devices) == ["null"]


@pytest.mark.parametrize("command, extra", [("analyze", ["--format", "sarif"]), ("optimize", [])])
def test_output_into_a_missing_directory(runner, case, command, extra):
    dockerfile = _app(case)
    one_line_error(runner(command, str(dockerfile), *extra, "-o", "no/such/dir/r.sarif", cwd=case), 2,
                   "no/such/dir: output directory does not exist")
    assert listing(case) == ["Dockerfile", "app.py", "requirements.txt"]


def test_output_into_a_read_only_directory_as_a_user(non_root, case):
    dockerfile = _app(case)
    locked = case / "locked"
    locked.mkdir()
    locked.chmod(0o555)  # root's dir (or read-only for the current user): the user can't create files in it
    for command in ("analyze", "optimize"):
        one_line_error(non_root(command, str(dockerfile), "-o", str(locked / "out"), cwd=case), 2,
                       "cannot write: Permission denied")
    assert listing(locked) == []


def _mount_tmpfs(target: Path, options: str) -> None:
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, text=True)
    require(done.returncode == 0, f"can't mount a tmpfs here ({done.stderr.strip()}): the read-only and full disk cases need it")


@needs_root
def test_output_onto_a_read_only_file_system(as_root, case):
    dockerfile = _app(case)
    readonly = case / "ro"
    _mount_tmpfs(readonly, "ro,size=64k,mode=0755")
    try:
        for command in ("analyze", "optimize"):
            one_line_error(as_root(command, str(dockerfile), "-o", str(readonly / "out"), "--force", cwd=case), 2,
                           "cannot write: Read-only file system")
        assert listing(readonly) == []
    finally:
        subprocess.run(["umount", str(readonly)], check=True)


@needs_root
def test_output_onto_a_full_disk_is_exit_4_and_leaves_nothing(as_root, case):
    dockerfile = _app(case)
    full = case / "full"
    _mount_tmpfs(full, "size=64k,mode=0777")
    try:
        with (full / "filler").open("wb", buffering=0) as filler:  # fill it to the last block
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass
        for command in ("analyze", "optimize"):
            one_line_error(as_root(command, str(dockerfile), "-o", str(full / "out"), cwd=case), 4,
                           "cannot write: No space left on device")
            assert listing(full) == ["filler"]  # no temp file, no half-written output
        # compare writes its report dir the same way: it fails on the full disk before any build starts
        done = as_root("compare", str(dockerfile), "--output-dir", str(full / "reports"), "--no-scan", "--no-smoke", cwd=case)
        one_line_error(done, 4, "No space left on device")
        assert listing(full / "reports") == []
    finally:
        subprocess.run(["umount", str(full)], check=True)


def test_compare_refuses_a_fifo_in_its_report_dir_before_building(runner, case):
    dockerfile = _app(case)
    reports = case / "reports"
    reports.mkdir()
    reports.chmod(0o777)
    fifo = _fifo(reports / "report.json")
    before = identity(fifo)
    one_line_error(runner("compare", str(dockerfile), "--output-dir", str(reports), "--no-scan", "--no-smoke", cwd=case),
                   2, "report.json: is a FIFO")
    assert identity(fifo) == before and listing(reports) == ["report.json"]


def test_compare_refuses_a_fifo_as_its_report_dir(runner, case):
    dockerfile = _app(case)
    fifo = _fifo(case / "reports")
    one_line_error(runner("compare", str(dockerfile), "--output-dir", str(fifo), "--no-scan", "--no-smoke", cwd=case), 2,
                   "is a FIFO (named pipe), not a directory")


def test_audit_output_onto_a_fifo(runner, case):
    fifo = _fifo(case / "audit.md")
    one_line_error(runner("audit", "--output", str(fifo), "--force", cwd=case), 2, "is a FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- what docker build rejects, and what it accepts -----------------------------------------------------
@pytest.mark.parametrize("line, message", [
    ("COPY --user=me app.py /app/", "unknown flag: --user (COPY takes"),
    ("CMD --doit [\"python\", \"app.py\"]", "unknown flag: --doit (CMD takes no flags)"),
    ("ONBUILD ONBUILD RUN true", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM python:3.12", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD MAINTAINER me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
])
def test_what_docker_build_rejects_is_reported_with_its_line(as_root, case, line, message):
    dockerfile = case / "Dockerfile"
    dockerfile.write_text(f"FROM python:3.12-slim\nUSER app\n{line}\nCMD [\"python\"]\n")
    done = as_root("analyze", str(dockerfile), cwd=case)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"buildopt: warning: {dockerfile}:3: {message}" in done.stderr and "docker build rejects it" in done.stderr
    done = as_root("optimize", str(dockerfile), "--format", "json", cwd=case)
    assert done.returncode == 0 and json.loads(done.stdout)["mode"] == "unchanged"


# --- BuildKit's parser test files ---------------------------------------------------------------------------
_DRIVER = r"""
import contextlib, io, json, sys, traceback
from buildopt.cli import main

out = sys.argv[1]
for path in sys.argv[2:]:
    for command in (["analyze", path, "--format", "json"], ["optimize", path, "-o", out, "--force"]):
        err, code, trace = io.StringIO(), None, None
        sys.argv = ["buildopt", *command]
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                main()
        except SystemExit as done:
            code = done.code
        except BaseException:
            trace = traceback.format_exc()
        print(json.dumps({"path": path, "command": command[0], "code": code, "stderr": err.getvalue(), "traceback": trace}),
              flush=True)
"""


def test_buildkit_parser_test_files_get_their_expected_class(tmp_path):
    """valid → exit 0 or 1 (warnings allowed), invalid → exit 2 with one error line; never a traceback or a hang.
    The files are read where they are: ../shared/peer-corpus (MANIFEST.tsv gives each one's class)."""
    corpus = peer_corpus_dir()
    require(corpus is not None, "the peer corpus (../shared/peer-corpus with MANIFEST.tsv) is not on this machine")
    files = peer_files(corpus)
    assert len(files) >= 50 and {f.expect for f in files} == {"valid", "invalid"}
    done = subprocess.run([sys.executable, "-c", _DRIVER, str(tmp_path / "Dockerfile.optimized"),
                           *[str(f.path) for f in files]], capture_output=True, text=True, timeout=HANG_S * 2, cwd=REPO)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == 2 * len(files)
    expected = {str(f.path): f for f in files}
    wrong = []
    for result in results:
        peer = expected[result["path"]]
        errors = [line for line in result["stderr"].splitlines() if line.strip() and not line.startswith("buildopt: warning: ")]
        if result["traceback"]:
            wrong.append(f"{peer.id} {result['command']}: traceback {result['traceback'][-300:]}")
        elif peer.expect == "valid" and (result["code"] not in (0, 1) or errors):
            wrong.append(f"{peer.id} {result['command']}: valid, got exit {result['code']}: {result['stderr'].strip()}")
        elif peer.expect == "invalid" and (result["code"] != 2 or len(errors) != 1
                                           or not errors[0].startswith("buildopt: error: ")):
            wrong.append(f"{peer.id} {result['command']}: invalid, got exit {result['code']}: {result['stderr'].strip()}")
    assert not wrong, "\n".join(wrong)
