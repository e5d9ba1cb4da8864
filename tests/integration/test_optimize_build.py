"""`buildopt optimize` on three small, realistic apps, built with the real engine and buildx.

- api: a FastAPI-like HTTP service whose original installs gcc + libmagic-dev, copies the whole context
  (models/ included) and then the model again, and runs as root;
- bot: a telegram-bot-like service with a healthcheck that can't fail and `COPY . .` before pip;
- worker: downloads its model during the build (as the paperflow worker does).

Each optimized image must build, import its code with the network off, run as a non-root user and hold
no model file; the derived healthchecks must pass in a running container, and the model-init command of
the compose snippet must fill a real volume that the service then reads. Builds use `--network host`
(package mirrors are reached from RUN steps; the engine here has no default bridge). Every image,
container and volume is tagged/named `buildopt-test...` and removed by this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE_IMAGE, TEST_REPO_PREFIX

pytestmark = pytest.mark.docker
RUN_ID = uuid.uuid4().hex[:8]

API_ORIGINAL = f"""FROM {BASE_IMAGE}
RUN apt-get update && apt-get install -y gcc libmagic-dev
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
RUN mkdir -p /app/uploads
COPY models/ /app/models/
ENV MODEL_PATH=/app/models/model.safetensors
EXPOSE 8000
CMD ["python", "-m", "api.main"]
"""
API_MAIN = '''"""A tiny HTTP API (stdlib server standing in for FastAPI): sniffs uploads with libmagic."""
import http.server, os
import magic

MODEL_PATH = os.environ.get("MODEL_PATH", "/app/models/model.safetensors")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = magic.from_buffer(b"%PDF-1.4").encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)


def model_bytes() -> int:
    return os.path.getsize(MODEL_PATH)


if __name__ == "__main__":
    http.server.HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''
MODEL = b"\x00safetensors-test-weights\x00" * 200  # a few kB: a stand-in for real weights

BOT_ORIGINAL = f"""FROM {BASE_IMAGE}
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \\
  CMD python -c "import sys; sys.exit(0)"
CMD ["python", "-u", "bot.py"]
"""
BOT = '''"""A bot stand-in: imports its library and waits (no token, no network in tests)."""
import time
import telegram

if __name__ == "__main__":
    while True:
        time.sleep(3600)
'''

WORKER_ORIGINAL = f"""FROM {BASE_IMAGE}
WORKDIR /app
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt .
RUN pip install -r requirements.txt
ENV HF_HOME=/root/.cache/huggingface
COPY download_model.py .
RUN python download_model.py --hf-home /root/.cache/huggingface
COPY worker.py .
CMD ["python", "worker.py"]
"""
DOWNLOAD = '''"""Writes a small weights file into the HF cache (stands in for snapshot_download; no hub here)."""
import argparse, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--hf-home", default=os.environ.get("HF_HOME"))
target = pathlib.Path(parser.parse_args().hf_home) / "hub" / "models--org--tiny" / "model.safetensors"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_bytes(b"w" * 4096)
print("downloaded", target)
'''
WORKER = '''import os, pathlib, time
import tabulate
WEIGHTS = pathlib.Path(os.environ["HF_HOME"]) / "hub" / "models--org--tiny" / "model.safetensors"
if __name__ == "__main__":
    print(tabulate.tabulate([["weights", WEIGHTS.stat().st_size]]))
'''


def _write(directory: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _optimize(context: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "buildopt.cli", "optimize", "Dockerfile", "--format", "json"],
                          cwd=context, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def _run(image: str, *command: str, extra: tuple[str, ...] = ()) -> str:
    return _docker("run", "--rm", "--network", "none", *extra, image, *command).stdout


@pytest.fixture(scope="module")
def built(docker_engine, tmp_path_factory):
    """Write the three apps, optimize them with the CLI and build the results (and the api original)."""
    from python_on_whales import docker

    apps = {
        "api": (API_ORIGINAL, {"requirements.txt": "python-magic==0.4.27\n", "api/__init__.py": "",
                               "api/main.py": API_MAIN, "models/model.safetensors": MODEL}),
        "bot": (BOT_ORIGINAL, {"requirements.txt": "python-telegram-bot==22.0\n", "bot.py": BOT}),
        "worker": (WORKER_ORIGINAL, {"requirements.txt": "tabulate==0.9.0\n", "download_model.py": DOWNLOAD,
                                     "worker.py": WORKER}),
    }
    tags: list[str] = []
    out: dict[str, dict] = {}
    try:
        for name, (dockerfile, files) in apps.items():
            context = tmp_path_factory.mktemp(f"optimize-{name}")
            _write(context, {"Dockerfile": dockerfile, **files})
            report = _optimize(context)
            tag = f"{TEST_REPO_PREFIX}/optimize-{name}:{RUN_ID}"
            docker.buildx.build(context, file=context / "Dockerfile.optimized", tags=[tag], load=True, progress=False,
                                network="host")
            tags.append(tag)
            out[name] = {"context": context, "report": report, "image": tag}
        original = f"{TEST_REPO_PREFIX}/optimize-api-original:{RUN_ID}"
        docker.buildx.build(out["api"]["context"], file=out["api"]["context"] / "Dockerfile", tags=[original], load=True,
                            progress=False, network="host")
        tags.append(original)
        out["api"]["original"] = original
        yield out
    finally:
        for tag in tags:
            _docker("image", "rm", "-f", tag, check=False)


def _no_weights(image: str) -> bool:
    """No weight file anywhere in the image (searched as root, so no directory is skipped)."""
    found = _run(image, "find", "/", "-xdev", "-name", "*.safetensors", "-not", "-path", "/proc/*", extra=("--user", "0"))
    return found.strip() == ""


def _size(image: str) -> int:
    return int(_docker("image", "inspect", image, "-f", "{{.Size}}").stdout)


def test_api_reports_the_audit_fixes(built):
    report = built["api"]["report"]
    assert report["mode"] == "rewritten"
    assert {"BO101", "BO102", "BO104", "BO105", "BO106", "BO107", "BO113", "BO115", "BO119"} <= set(report["fixed_rules"])
    assert report["outputs"]["dockerignore"] == "Dockerfile.optimized.dockerignore"


def test_api_imports_runs_non_root_without_compilers_or_models(built):
    image = built["api"]["image"]
    assert "PDF document" in _run(image, "python", "-c", "import magic, api.main; print(magic.from_buffer(b'%PDF-1.4'))")
    assert _run(image, "id", "-u").strip() == "10001"
    assert _no_weights(image)
    assert _run(image, "sh", "-c", "command -v gcc cc || echo none").strip() == "none"
    assert _run(image, "readlink", "/app/models").strip() == "/models"
    # the uploads dir the original made as root belongs to the user
    assert _run(image, "stat", "-c", "%U", "/app/uploads").strip() == "app"


def test_api_original_had_the_model_and_the_optimized_image_is_smaller(built):
    original, optimized = built["api"]["original"], built["api"]["image"]
    assert _run(original, "sh", "-c", "find /app/models -name '*.safetensors'").strip() == "/app/models/model.safetensors"
    assert _run(original, "id", "-u").strip() == "0"
    assert _size(optimized) < _size(original)


def test_api_reads_the_model_from_the_mounted_volume(built):
    context, image = built["api"]["context"], built["api"]["image"]
    compose = yaml.safe_load((context / "docker-compose.buildopt.yml").read_text())
    service = next(iter(compose["services"].values()))
    host, target = service["volumes"][0].split(":")[:2]
    mount = f"{(context / host).resolve()}:{target}:ro"
    code = "import api.main; print(api.main.model_bytes())"
    assert _run(image, "python", "-c", code, extra=("-v", mount)).strip() == str(len(MODEL))


def test_api_healthcheck_passes_while_it_serves(built):
    image = built["api"]["image"]
    health = json.loads(_docker("image", "inspect", image, "-f", "{{json .Config.Healthcheck}}").stdout)
    assert health["Test"][0] == "CMD" and "create_connection" in health["Test"][-1]
    name = f"buildopt-test-optimize-{RUN_ID}"
    _docker("run", "-d", "--name", name, "--network", "none", image)
    try:
        probe = None
        for _ in range(50):  # wait for the server to listen (not a timing assertion: it just polls)
            probe = _docker("exec", name, *health["Test"][1:], check=False)
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        assert probe is not None and probe.returncode == 0, probe.stderr
    finally:
        _docker("rm", "-f", name, check=False)
    # and it fails when nothing listens: a real check
    assert _docker("run", "--rm", "--network", "none", image, *health["Test"][1:], check=False).returncode != 0


def test_bot_builds_with_a_real_healthcheck(built):
    image, report = built["bot"]["image"], built["bot"]["report"]
    assert {"BO101", "BO105", "BO114", "BO115"} <= set(report["fixed_rules"])
    assert _run(image, "python", "-c", "import telegram, bot; print(telegram.__version__)").strip() == "22.0"
    assert _run(image, "id", "-u").strip() == "10001"
    health = json.loads(_docker("image", "inspect", image, "-f", "{{json .Config.Healthcheck}}").stdout)
    assert health["Test"] == ["CMD", "python", "-c", "import telegram"]
    assert _docker("run", "--rm", "--network", "none", image, *health["Test"][1:], check=False).returncode == 0


def test_worker_model_moves_to_an_init_step_that_fills_the_volume(built):
    image, context = built["worker"]["image"], built["worker"]["context"]
    assert "BO104" in built["worker"]["report"]["fixed_rules"]
    assert _no_weights(image)
    compose = yaml.safe_load((context / "docker-compose.buildopt.yml").read_text())
    init = compose["services"]["model-init"]
    assert init["command"] == ["sh", "-c", "python download_model.py --hf-home /models"]
    volume = f"buildopt-test-models-{RUN_ID}"
    _docker("volume", "create", volume)
    try:
        # what `docker compose run model-init` does: the same image, the command, the volume
        _docker("run", "--rm", "--network", "none", "-v", f"{volume}:/models", image, *init["command"])
        output = _run(image, "python", "worker.py", extra=("-v", f"{volume}:/models"))
        assert "weights  4096" in output
        assert _run(image, "id", "-u").strip() == "10001"
    finally:
        _docker("volume", "rm", "-f", volume, check=False)
