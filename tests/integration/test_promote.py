"""`buildopt promote` on real compose projects (Docker Compose v2 against the real engine).

Our own small app: an HTTP server that appends a line to boots.log in its data volume when it starts and
serves /health and /data. Its images are built here from the local base image, no registry:
- v1: the "original": a stand-in torch wheel built for CUDA (torch.version.cuda = "12.1", and
  torch.cuda.is_available() False, as on a CPU-only host, like the seed audit's worker), plus 20 MB
  standing for the CUDA libraries; runs as uid 10001 with a real healthcheck;
- v2: the "optimized": a CPU-only torch (torch.version.cuda = None), no CUDA bytes, same user;
- broken: v2 whose /health answers 500, so its healthcheck fails;
- uid20002: v2 running as uid 20002, who can't write the volume v1's user filled.

Each test runs its own compose project (unique name per test run), tags its own copies of the images
(promote moves the service's tag), and ends with `docker compose down -v` on the project it created
(its own volumes only), removing its backup tags, and checking nothing of its run is left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from buildopt.promote.state import STATE_FILE, override_name
from tests.conftest import BASE_IMAGE, RUN_LABEL, SESSION_ID, TEST_REPO_PREFIX, own_leftovers, require
from tests.integration.test_inspect import make_wheel

pytestmark = pytest.mark.docker

APP = r'''
import http.server, json, os, pathlib, sys
DATA = pathlib.Path("/data")
VERSION, MODE = os.environ["APP_VERSION"], os.environ.get("APP_MODE", "ok")
with open(DATA / "boots.log", "a") as log:  # the app writes its volume on every start
    log.write(VERSION + "\n")
print(f"app {VERSION} serving on 8080 (APP_MODE={MODE})", flush=True)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            code = 200 if MODE == "ok" else 500
            if code != 200:
                print(f"health check failed: APP_MODE={MODE}", flush=True)
            body = b"ok" if code == 200 else b"broken"
        elif self.path == "/data":
            code = 200
            notes = DATA / "notes.txt"
            body = json.dumps({"version": VERSION, "notes": notes.read_text() if notes.exists() else None,
                               "boots": (DATA / "boots.log").read_text().split()}).encode()
        else:
            code, body = 404, b""
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
'''
READ_DATA = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/data', timeout=5).read().decode())"
HEALTHCHECK = ('HEALTHCHECK --interval=1s --timeout=3s --start-period=15s --retries=3 CMD ["python3", "-c", '
               '"import sys, urllib.request; sys.exit(urllib.request.urlopen(\'http://127.0.0.1:8080/health\', '
               'timeout=2).status != 200)"]')


def torch_wheel(version: str, cuda: str | None) -> tuple[str, bytes]:
    """A stand-in torch (see the module docstring): only what the preflight reads, version.py and cuda."""
    return make_wheel("torch", version, {
        "torch/__init__.py": b"from . import cuda, version\nfrom .version import __version__\n",
        "torch/version.py": f"from typing import Optional\n__version__ = '{version}'\ncuda: Optional[str] = {cuda!r}\n"
                            f"hip: Optional[str] = None\n".encode(),
        "torch/cuda/__init__.py": b"def is_available():\n    return False  # no GPU on this host\n\n"
                                  b"def device_count():\n    return 0\n",
    })


def dockerfile(version: str, *, uid: int = 10001, mode: str = "ok", cuda_bytes: str = "") -> str:
    """`cuda_bytes`: a token that makes the 20 MB layer this build's own (no build cache, no other image shares it)."""
    return textwrap.dedent(f"""\
        FROM {BASE_IMAGE}
        RUN --mount=type=bind,source=wheels,target=/wheels pip install --no-index --no-cache-dir --quiet \\
            --disable-pip-version-check /wheels/*.whl
        {f"RUN echo {cuda_bytes} && head -c 20000000 /dev/urandom > /opt/cuda-libs.bin" if cuda_bytes else ""}
        RUN useradd --uid {uid} --no-create-home app && mkdir /data && chown {uid}:{uid} /data
        COPY app.py /srv/app.py
        ENV APP_VERSION={version} APP_MODE={mode}
        USER {uid}
        {HEALTHCHECK}
        CMD ["python3", "/srv/app.py"]
        """)


@pytest.fixture(scope="module")
def images(build_image) -> dict[str, str]:
    require(subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0,
            "docker compose v2 missing (scripts/setup-toolchain.sh installs it)")
    cuda = dict([torch_wheel("2.0.0+cu121", "12.1")])
    cpu = dict([torch_wheel("2.0.0+cpu", None)])
    return {
        "v1": build_image(dockerfile("v1", cuda_bytes="shared"), {**cuda, "app.py": APP}, name="promote-v1"),
        "v2": build_image(dockerfile("v2"), {**cpu, "app.py": APP}, name="promote-v2"),
        "broken": build_image(dockerfile("broken", mode="broken"), {**cpu, "app.py": APP}, name="promote-broken"),
        "uid20002": build_image(dockerfile("v2", uid=20002), {**cpu, "app.py": APP}, name="promote-uid"),
    }


class Project:
    """One compose project of the app in a temp dir, with its own tag for the service's image."""

    def __init__(self, tmp_path: Path, image: str, *, gpu: bool = False, own_tag: bool = True):
        """`own_tag`: the service gets its own tag of `image` (promote moves it); else it uses `image` itself."""
        self.name = f"buildopt-test-promote-{SESSION_ID}-{uuid.uuid4().hex[:6]}"
        self.dir = tmp_path
        self.own_tag = own_tag
        self.tag = f"{TEST_REPO_PREFIX}/promote-app-{uuid.uuid4().hex[:6]}:{SESSION_ID}" if own_tag else image
        if own_tag:
            docker("tag", image, self.tag)
        service = "gpu-worker" if gpu else "web"
        reservation = textwrap.indent(textwrap.dedent("""\
            deploy:
              resources:
                reservations:
                  devices:
                    - driver: nvidia
                      count: all
                      capabilities: [gpu]
            """), " " * 4) if gpu else ""
        self.compose = tmp_path / "compose.yaml"
        self.compose.write_text(
            f"name: {self.name}\nservices:\n  {service}:\n    image: {self.tag}\n    stop_grace_period: 2s\n"
            f"    labels:\n      buildopt.run: {RUN_LABEL}\n    volumes:\n      - data:/data\n{reservation}"
            "volumes:\n  data: {}\n")

    @property
    def override(self) -> Path:
        return self.dir / override_name(self.name)

    def last_record(self) -> dict:
        return json.loads((self.dir / STATE_FILE).read_text())["projects"][self.name]["promotions"][-1]

    def compose_cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "compose", "-f", str(self.compose), *args], capture_output=True, text=True,
                              check=check, timeout=300)

    def container(self, service: str = "web") -> dict:
        ids = self.compose_cmd("ps", "-aq", service).stdout.split()
        assert len(ids) == 1, ids
        return json.loads(docker("inspect", ids[0]))[0]

    def read_data(self) -> dict:
        return json.loads(self.compose_cmd("exec", "-T", "web", "python3", "-c", READ_DATA).stdout)

    def volume_created(self) -> str:
        return json.loads(docker("volume", "inspect", f"{self.name}_data"))[0]["CreatedAt"]

    def image_id(self, ref: str) -> str:
        return json.loads(docker("image", "inspect", ref))[0]["Id"]

    def promote(self, *args: str) -> subprocess.CompletedProcess:
        return buildopt("promote", *args, "--compose", str(self.compose), "--timeout", "180")

    def down(self) -> None:
        self.compose_cmd("down", "-v", "--timeout", "2", check=False)  # the project and the volume this test made
        backups = docker("images", "--format", "{{.Repository}}:{{.Tag}}", self.tag.split(":")[0]).split()
        for ref in [ref for ref in backups if ":buildopt-backup-" in ref] + ([self.tag] if self.own_tag else []):
            subprocess.run(["docker", "image", "rm", ref], capture_output=True)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=300).stdout


def buildopt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture
def project_factory(tmp_path):
    made: list[Project] = []

    def make(image: str, **kwargs) -> Project:
        directory = tmp_path / f"p{len(made)}"
        directory.mkdir()
        project = Project(directory, image, **kwargs)
        made.append(project)
        return project

    yield make
    for project in made:
        project.down()
    containers, _ = own_leftovers()
    assert not [c for c in containers if c], "containers of this run left behind"


def _up(project: Project) -> None:
    project.compose_cmd("up", "-d", "--wait", "--wait-timeout", "180")
    # data the app didn't make: it must still be there after every swap
    project.compose_cmd("exec", "-T", "web", "sh", "-c", "echo keep-me > /data/notes.txt")


def test_promote_succeeds_keeps_the_volume_and_rolls_back(images, project_factory, build_image):
    # an original whose 20 MB "CUDA" layer no other image shares, under one tag: the service's
    original = build_image(dockerfile("v1", cuda_bytes=uuid.uuid4().hex), {**dict([torch_wheel("2.0.0+cu121", "12.1")]),
                                                                           "app.py": APP}, name="promote-v1-own")
    project = project_factory(original, own_tag=False)
    _up(project)
    created = project.volume_created()
    v1_id, v2_id = project.image_id(original), project.image_id(images["v2"])

    result = project.promote("web", "--image", images["v2"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # the preflight read the running container: the CUDA torch build, and no GPU in use
    assert "torch 2.0.0+cu121 (CUDA 12.1 build), torch.cuda.is_available() = False" in out
    assert "torch 2.0.0+cpu (CPU-only build)" in out and "GPU         not in use" in out
    assert f"volume {project.name}_data -> /data (rw): uid 10001 can write it" in out
    assert "waiting for healthy (healthcheck" in result.stderr  # progress on stderr

    container = project.container()
    assert container["Image"] == v2_id and container["State"]["Health"]["Status"] == "healthy"
    data = project.read_data()
    assert data["version"] == "v2" and data["notes"] == "keep-me\n" and data["boots"] == ["v1", "v2"]
    assert project.volume_created() == created  # the same volume, never recreated

    state = json.loads((project.dir / STATE_FILE).read_text())
    record = state["projects"][project.name]["promotions"][-1]
    assert state["schema"] == "buildopt.promote/v1"
    assert record["status"] == "promoted" and record["old_image_id"] == v1_id and record["new_image_id"] == v2_id
    backup = record["backup_tag"]
    assert backup.startswith(project.tag.split(":")[0] + ":buildopt-backup-") and project.image_id(backup) == v1_id
    # the service's own tag now names the new image, so the backup is the old image's last reference
    assert record["retagged"] == project.tag and project.image_id(project.tag) == v2_id
    override = project.override.read_text()
    assert f'image: "{images["v2"]}"' in override
    assert project.compose.read_text().count(project.tag) == 1  # the user's compose file is untouched
    # size reclaimed: the old image's unshared bytes, which include the 20 MB of "CUDA libraries"
    frees = out.split("pruning the backup frees ", 1)[1].split(" (")[0]
    assert frees.endswith("MB") and float(frees.split()[0]) >= 20, out
    assert f"prune       docker image rm {backup}" in out

    audit = buildopt("audit", "--no-deep", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    listed = {b["tag"]: b for b in json.loads(audit.stdout)["backups"]}
    assert listed[backup]["image_id"] == v1_id and listed[backup]["frees"] >= 20_000_000

    back = project.promote("web", "--rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    container = project.container()
    assert container["Image"] == v1_id and container["State"]["Health"]["Status"] == "healthy"
    assert project.image_id(project.tag) == v1_id  # the tag moved back
    assert not project.override.exists()  # no service needs the override any more
    data = project.read_data()
    assert data["version"] == "v1" and data["notes"] == "keep-me\n" and data["boots"] == ["v1", "v2", "v1"]
    assert project.volume_created() == created
    assert project.last_record()["status"] == "rolled-back"


def test_failed_healthcheck_rolls_back_to_the_old_image(images, project_factory):
    project = project_factory(images["v1"])
    _up(project)
    created = project.volume_created()
    v1_id = project.image_id(images["v1"])

    result = project.promote("web", "--image", images["broken"])
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = result.stderr.strip().splitlines()[-1]
    assert verdict.startswith("buildopt: error: ") and "is unhealthy" in verdict and "rolled back to" in verdict
    # the tail of the new container's logs
    assert "| health check failed: APP_MODE=broken" in result.stdout
    assert "rolled back: web runs the old image" in result.stdout

    container = project.container()
    assert container["Image"] == v1_id and container["State"]["Health"]["Status"] == "healthy"
    data = project.read_data()  # the old image serves again, with the volume's data
    assert data["version"] == "v1" and data["notes"] == "keep-me\n" and data["boots"] == ["v1", "broken", "v1"]
    assert project.volume_created() == created
    assert project.image_id(project.tag) == v1_id  # the service's tag never moved
    record = project.last_record()
    assert record["status"] == "rolled-back" and "unhealthy" in record["reason"]
    assert project.image_id(record["backup_tag"]) == v1_id  # the backup is kept, as documented
    assert not project.override.exists()


def test_gpu_service_refuses_a_cpu_only_torch(images, project_factory, build_image):
    """The GPU is simulated with a compose device reservation (driver nvidia, capabilities [gpu]), which
    compose turns into the container's HostConfig.DeviceRequests, the field `docker run --gpus` sets.
    This engine has no NVIDIA driver, so such a container can be created but not started (dockerd: "could
    not select device driver"); `docker compose create` makes it, and the preflight reads its device
    request as it would on a GPU host. The GPU facts are read before the running-container checks, so a
    CPU-only torch is refused (exit 1) while an image that keeps a CUDA torch only meets "not running" (2).
    """
    project = project_factory(images["v1"], gpu=True)
    project.compose_cmd("create", "gpu-worker")
    requests = project.container("gpu-worker")["HostConfig"]["DeviceRequests"]
    assert requests and requests[0]["Driver"] == "nvidia" and requests[0]["Capabilities"] == [["gpu"]]

    result = project.promote("gpu-worker", "--image", images["v2"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the service uses a GPU (device request on the container: driver nvidia, capabilities gpu, count all" \
        in result.stdout
    assert "CPU-only torch (2.0.0+cpu): it would lose the GPU" in result.stdout
    assert "refused by the preflight" in result.stderr.strip().splitlines()[-1]
    # nothing was changed: no backup tag, no state or override file
    assert not (project.dir / STATE_FILE).exists() and not project.override.exists()
    assert ":buildopt-backup-" not in docker("images", "--format", "{{.Tag}}", project.tag.split(":")[0])

    cuda_copy = build_image(f"FROM {images['v1']}\nLABEL variant=cuda-copy\n", {}, name="promote-cuda-copy")
    other = project.promote("gpu-worker", "--image", cuda_copy)
    assert other.returncode == 2 and other.stderr.strip().endswith("the preflight reads the running container"), \
        other.stdout + other.stderr
    assert "is not running" in other.stderr


def test_refuses_a_user_who_cannot_write_the_volume_and_prints_the_chown(images, project_factory):
    project = project_factory(images["v1"])
    _up(project)
    result = project.promote("web", "--image", images["uid20002"], "--dry-run")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "runs as app uid 20002 gid 20002" in result.stdout and "can't write volume" in result.stdout
    chown = next(line.strip()[2:] for line in result.stdout.splitlines() if "chown" in line and line.strip().startswith("$"))
    assert chown.endswith("-R 20002:20002 /fix") and f"-v {project.name}_data:/fix" in chown
    subprocess.run(chown.split(), check=True, capture_output=True)  # the printed command, as a user runs it
    again = project.promote("web", "--image", images["uid20002"], "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "uid 20002 can write it" in again.stdout and "dry run: nothing was changed" in again.stdout
    assert project.container()["Image"] == project.image_id(images["v1"])  # a dry run changes nothing
    assert not (project.dir / STATE_FILE).exists() and not project.override.exists()


def test_from_report_takes_the_image_compare_kept(images, project_factory, tmp_path):
    """The hand-off from `buildopt compare --keep-images`: promote reads the optimized image from report.json,
    and refuses one whose smoke tests failed in the report."""
    context = tmp_path / "app"
    (context / "wheels").mkdir(parents=True)
    for name, payload in [torch_wheel("2.0.0+cu121", "12.1"), torch_wheel("2.0.0+cpu", None)]:
        (context / name).write_bytes(payload)
    (context / "app.py").write_text(APP)
    (context / "Dockerfile").write_text(dockerfile("v1", cuda_bytes="shared").replace("/wheels/*.whl", "/wheels/*cu121*.whl"))
    (context / "Dockerfile.optimized").write_text(dockerfile("v2").replace("/wheels/*.whl", "/wheels/*cpu*.whl"))
    out = tmp_path / "report"
    compared = buildopt("compare", str(context / "Dockerfile"), "--optimized", str(context / "Dockerfile.optimized"),
                        "--output-dir", str(out), "--no-scan", "--keep-images")
    report = json.loads((out / "report.json").read_text())
    kept = [variant["tag"] for variant in report["variants"].values() if variant.get("tag")]
    try:
        assert compared.returncode == 0, compared.stdout + compared.stderr
        optimized = report["variants"]["optimized"]
        project = project_factory(images["v1"])
        _up(project)
        plan = project.promote("web", "--from-report", str(out / "report.json"), "--dry-run")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert f"new image   {optimized['tag']}  {optimized['image_id'][:19]}" in plan.stdout
        assert f'image: "{optimized["tag"]}"' in plan.stdout and "dry run: nothing was changed" in plan.stdout

        optimized["smoke"]["passed"] = False
        optimized["smoke"]["checks"][0].update(ok=False)
        failed = tmp_path / "failed-smoke.json"
        failed.write_text(json.dumps(report))
        refused = project.promote("web", "--from-report", str(failed))
        assert refused.returncode == 1 and "the optimized image failed its smoke tests" in refused.stdout, \
            refused.stdout + refused.stderr
        assert project.container()["Image"] == project.image_id(images["v1"])
        assert not (project.dir / STATE_FILE).exists()
    finally:
        subprocess.run(["docker", "image", "rm", *kept], capture_output=True)


@pytest.mark.parametrize("case", ["unknown-service", "missing-compose", "missing-image", "no-record"])
def test_bad_input_is_one_line_and_exit_2(case, images, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(f"name: buildopt-test-promote-{SESSION_ID}-bad\nservices:\n  web:\n    image: {images['v1']}\n")
    args = {
        "unknown-service": ["nope", "--compose", str(compose), "--image", images["v2"]],
        "missing-compose": ["web", "--compose", str(tmp_path / "missing.yaml"), "--image", images["v2"]],
        "missing-image": ["web", "--compose", str(compose), "--image", f"{TEST_REPO_PREFIX}/does-not-exist:{SESSION_ID}"],
        "no-record": ["web", "--compose", str(compose), "--rollback"],
    }[case]
    result = buildopt("promote", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("buildopt: error: "), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    expected = {"unknown-service": "unknown service 'nope'", "missing-compose": "no such compose file",
                "missing-image": "not found in the local engine", "no-record": "no promote of web recorded"}[case]
    assert expected in lines[0]
    assert not (tmp_path / STATE_FILE).exists()
