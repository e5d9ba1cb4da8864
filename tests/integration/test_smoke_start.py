"""The default smoke on the real engine: the image's own ENTRYPOINT/CMD starts in each variant (`start`), and the
optimized one must behave like the original; import discovery finds the packages of a Debian Python too."""

from __future__ import annotations

import subprocess

import pytest

from buildopt.smoke import START_CHECK, ContainerRunner, SmokeSpec, run_smoke, same_start, shared_imports
from tests.conftest import BASE_IMAGE, RUN_LABEL

pytestmark = pytest.mark.docker

WINDOW = 3.0
CMDS = {
    "stays-up": '["python3", "-c", "import time; print(\'ready\', flush=True); time.sleep(600)"]',
    "denied-exit": '["sh", "-c", "echo \\"PermissionError: [Errno 13] Permission denied: \'/data/app\'\\" >&2; exit 1"]',
    "no-broker": '["sh", "-c", "echo \'cannot connect to redis://broker:6379\' >&2; exit 1"]',
    "no-database": '["sh", "-c", "echo \'could not connect to server: Connection refused\' >&2; exit 1"]',
    "up-but-denied": '["sh", "-c", "echo \'cannot open /var/log/app.log: Permission denied\'; exec sleep 600"]',
}


@pytest.fixture(scope="module")
def started(build_image) -> dict:
    """Each image's smoke result (imports off, the start watched for WINDOW seconds), and the runner."""
    from concurrent.futures import ThreadPoolExecutor

    runner = ContainerRunner()
    spec = SmokeSpec(auto_imports=False, start_window_s=WINDOW, timeout_s=60)
    images = {name: build_image(f"FROM {BASE_IMAGE}\nCMD {cmd}\n", name=f"start-{name}") for name, cmd in CMDS.items()}
    try:
        with ThreadPoolExecutor(max_workers=len(images)) as pool:
            futures = {name: pool.submit(run_smoke, runner, image, spec, []) for name, image in images.items()}
            results = {name: future.result() for name, future in futures.items()}
        yield runner, spec, results
    finally:
        runner.cleanup()


def start_check(result):
    [check] = [c for c in result.checks if c.kind == "start"]
    return check


def judged(started, original: str, optimized: str):
    runner, spec, results = started
    import copy

    other = copy.deepcopy(results[optimized])
    same_start(runner, copy.deepcopy(results[original]), other, spec)
    return start_check(other)


def test_each_image_reports_how_its_start_went(started):
    _, _, results = started
    up = results["stays-up"].start
    assert up.stayed_up and up.exit_code is None and up.last_line == "ready"
    assert start_check(results["stays-up"]).ok and start_check(results["stays-up"]).name == START_CHECK
    denied = results["denied-exit"].start
    assert denied.exit_code == 1 and denied.denied == ["PermissionError: [Errno 13] Permission denied: '/data/app'"]
    assert start_check(results["denied-exit"]).ok  # on its own, a start is only reported


def test_exiting_at_start_where_the_original_stays_up_fails(started):
    check = judged(started, "stays-up", "denied-exit")
    assert not check.ok
    assert "exits 1" in check.detail and "the original stays up" in check.detail
    assert "Permission denied: '/data/app'" in check.detail


def test_an_app_that_exits_the_same_way_in_both_behaves_the_same(started):
    # No broker and no database under --network none: exit 1 in both images is the same behaviour, not a failure.
    check = judged(started, "no-broker", "no-database")
    assert check.ok, check.detail
    assert "like the original" in check.detail


def test_staying_up_where_the_original_exits_fails(started):
    check = judged(started, "no-broker", "stays-up")
    assert not check.ok and "the original exits 1" in check.detail


def test_permission_denied_in_the_logs_fails_even_when_it_stays_up(started):
    check = judged(started, "stays-up", "up-but-denied")
    assert not check.ok and "Permission denied" in check.detail
    assert judged(started, "up-but-denied", "up-but-denied").ok  # the original says it too: not new


def test_no_smoke_container_is_left(started):
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=buildopt.run={RUN_LABEL}"], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == []


# The distributions each sys.path directory of the image's Python gets: on a Debian Python (the python:3.11-slim
# stand-in) that is /usr/local/lib/python3.11/dist-packages, where pip installs, and /usr/lib/python3/dist-packages,
# where apt's python3-* packages go.
MAKE_DISTS = """import os, sys
dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
for i, d in enumerate(dirs):
    name = f"bo_demo_{i}"
    os.makedirs(os.path.join(d, name))
    open(os.path.join(d, name, "__init__.py"), "w").close()
    info = os.path.join(d, f"{name}-1.0.dist-info")
    os.makedirs(info)
    open(os.path.join(info, "METADATA"), "w").write(f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n")
    open(os.path.join(info, "top_level.txt"), "w").write(name + "\\n")
    open(os.path.join(info, "RECORD"), "w").write("")
open("/dists.txt", "w").write("\\n".join(dirs) + "\\n")
"""


def test_discovery_finds_the_packages_of_a_debian_python(build_image):
    image = build_image(f"FROM {BASE_IMAGE}\nCOPY make_dists.py /make_dists.py\nRUN python3 /make_dists.py\n",
                        {"make_dists.py": MAKE_DISTS}, name="dists")
    runner = ContainerRunner()
    try:
        code, listing = runner.run(image, ["-c", "cat /dists.txt"], entrypoint=["/bin/sh"], spec=SmokeSpec())
        dirs = listing.split()
        result = run_smoke(runner, image, SmokeSpec(start=False, timeout_s=60), [], discover=True)
    finally:
        runner.cleanup()
    assert code == 0 and dirs
    expected = {f"bo_demo_{i}" for i in range(len(dirs))}
    assert {name: dist for name, dist in result.discovered.items() if name.startswith("bo_demo_")} == \
        {name: name.replace("_", "-") for name in expected}
    assert shared_imports(result, None, []) == sorted(expected)
    assert all(c.ok for c in result.checks if c.kind == "import")
    if "/usr/lib/python3/dist-packages" in dirs:  # a Debian Python, as with the stand-in here
        assert any(d.endswith("/dist-packages") and d.startswith("/usr/local/") for d in dirs)
