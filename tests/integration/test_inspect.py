"""The inspect stage on the real engine: small images built with buildx, read by both readers.

The "original" image installs real wheels with pip (a tiny package, a fake nvidia-cublas-cu12 holding
a few KB of random bytes as libcublas.so.12, a fake CUDA torch and triton), bakes a model into the HF
cache, and has a layer that deletes one file and overwrites another: exactly 57,000 wasted bytes.
Package sizes are checked against a measurement taken inside a container of the same image.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import subprocess
import zipfile

import pytest

from buildopt.inspect import inspect_image
from tests.conftest import BASE_IMAGE

pytestmark = pytest.mark.docker

SITE = "/opt/venv/lib/python3.11/site-packages"
HF_MODEL = "/root/.cache/huggingface/hub/models--acme--tiny/snapshots/0123abc/model.safetensors"


def random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)  # fixed seeds: identical contexts hit the build cache


def make_wheel(name: str, version: str, files: dict[str, bytes]) -> tuple[str, bytes]:
    """A real py3-none-any wheel (zip with dist-info and a RECORD with hashes) that pip installs offline."""
    dist_info = f"{name}-{version}.dist-info"
    payload = dict(files)
    payload[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    payload[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: buildopt-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    lines = []
    for path, data in payload.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{dist_info}/RECORD,,")
    payload[f"{dist_info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in payload.items():
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return f"wheels/{name}-{version}-py3-none-any.whl", buffer.getvalue()


def torch_wheel(version: str, cuda: str | None) -> tuple[str, bytes]:
    files = {
        "torch/__init__.py": b"from .version import __version__\n",
        "torch/version.py": f"__version__ = '{version}'\ncuda: Optional[str] = {cuda!r}\nhip: Optional[str] = None\n".encode(),
        "torch/lib/libtorch_cpu.so": random_bytes(11, 5000),
    }
    if cuda:
        files["torch/lib/libtorch_cuda.so"] = random_bytes(12, 3000)
    return make_wheel("torch", version, files)


ORIGINAL_WHEELS = dict([
    make_wheel("tinypkg", "1.0", {"tinypkg/__init__.py": b"VALUE = 1\n"}),
    make_wheel("nvidia_cublas_cu12", "12.1.3.1", {"nvidia/cublas/__init__.py": b"",
                                                  "nvidia/cublas/lib/libcublas.so.12": random_bytes(1, 4096)}),
    make_wheel("triton", "2.0.0", {"triton/__init__.py": b"", "triton/_C/libtriton.so": random_bytes(2, 2000)}),
    torch_wheel("2.0.0+cu121", "12.1"),
])
OPTIMIZED_WHEELS = dict([
    make_wheel("tinypkg", "1.1", {"tinypkg/__init__.py": b"VALUE = 2\n" * 50}),
    torch_wheel("2.0.0+cpu", None),
])
MODEL = random_bytes(3, 6000)
PIP = ("RUN --mount=type=bind,source=wheels,target=/wheels python3 -m venv /opt/venv "
       "&& /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check --quiet /wheels/*.whl")
ORIGINAL = f"""FROM {BASE_IMAGE}
{PIP}
RUN mkdir -p /data && head -c 50000 /dev/urandom > /data/big.bin && head -c 7000 /dev/urandom > /data/keep.bin
RUN rm /data/big.bin && head -c 3000 /dev/urandom > /data/keep.bin
COPY model.safetensors {HF_MODEL}
CMD ["python3"]
"""
OPTIMIZED = f"""FROM {BASE_IMAGE}
{PIP}
COPY model.safetensors /models/model.safetensors
RUN useradd --uid 10001 --no-create-home app
USER app
HEALTHCHECK CMD /opt/venv/bin/python -c "import tinypkg"
CMD ["python3"]
"""


@pytest.fixture(scope="session")
def original_image(build_image) -> str:
    return build_image(ORIGINAL, {**ORIGINAL_WHEELS, "model.safetensors": MODEL}, name="inspect-orig")


@pytest.fixture(scope="session")
def optimized_image(build_image) -> str:
    return build_image(OPTIMIZED, {**OPTIMIZED_WHEELS, "model.safetensors": MODEL}, name="inspect-opt")


@pytest.fixture(scope="session")
def original_profiles(original_image):
    return inspect_image(original_image, "overlay2"), inspect_image(original_image, "archive")


def comparable(profile) -> dict:
    data = profile.to_dict(files=True)
    for key in ("reader", "reader_via", "duration_s", "compressed_size", "compressed_method"):
        data.pop(key)
    for layer in data["layers"]:
        layer.pop("compressed_size")
    return data


def test_both_readers_give_the_same_profile(original_profiles):
    fast, streamed = original_profiles
    assert (fast.reader, streamed.reader) == ("overlay2", "archive")
    # Root reads the layer dirs itself; a non-root user in the docker group (tests/integration/test_nonroot.py
    # runs this file as one) through the helper container, never by exporting the image.
    assert fast.reader_via == ("direct" if os.geteuid() == 0 else "helper container")
    assert fast.reader_fallback is None
    assert comparable(fast) == comparable(streamed)
    assert len(fast.files) > 5000  # the whole base image is in there


def test_waste_is_exact(original_profiles):
    profile, _ = original_profiles
    data_copies = {(w.path, w.size, w.reason) for w in profile.wasted if w.path.startswith("/data/")}
    assert data_copies == {("/data/big.bin", 50_000, "deleted"), ("/data/keep.bin", 7_000, "overwritten")}
    assert profile.wasted_bytes == 57_000 == profile.size - profile.visible_size
    assert profile.file("/data/keep.bin").size == 3000 and profile.file("/data/big.bin") is None
    layer = {w.layer for w in profile.wasted}
    assert len(layer) == 1 and profile.layers[layer.pop()].wasted == 57_000


def test_sizes_match_the_engine_and_layers_carry_history(original_profiles, original_image):
    profile, _ = original_profiles
    # The engine counts a few kB more on an imported base layer; the built layers match to the byte.
    assert abs(profile.size - profile.engine_size) < 0.001 * profile.engine_size
    assert [layer.diff_id for layer in profile.layers] == json.loads(subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", original_image],
        capture_output=True, text=True, check=True).stdout)
    assert "pip install" in profile.layers[1].created_by and "rm /data/big.bin" in profile.layers[3].created_by
    assert profile.layers[3].size == 3000


MEASURE_RECORDS = r"""
import csv, glob, json, os
out = {}
for record in glob.glob("/opt/venv/lib/python3.11/site-packages/*.dist-info/RECORD"):
    site = os.path.dirname(os.path.dirname(record))
    name = os.path.basename(os.path.dirname(record)).split("-")[0]
    total = 0
    for row in csv.reader(open(record)):
        path = os.path.normpath(os.path.join(site, row[0]))
        if os.path.isfile(path) and not os.path.islink(path):
            total += os.lstat(path).st_size
    out[name.lower().replace("_", "-")] = total
print(json.dumps(out))
"""


def test_package_sizes_match_a_measurement_inside_the_container(original_profiles, original_image):
    profile, _ = original_profiles
    measured = json.loads(subprocess.run(
        ["docker", "run", "--rm", "--network", "none", original_image, "/opt/venv/bin/python", "-c", MEASURE_RECORDS],
        capture_output=True, text=True, check=True).stdout)
    venv = {p.name: p.size for p in profile.packages if p.manager == "pip" and p.location == SITE}
    assert venv == measured
    assert {"tinypkg", "nvidia-cublas-cu12", "triton", "torch", "pip", "setuptools"} <= set(venv)
    dpkg = subprocess.run(["docker", "run", "--rm", "--network", "none", original_image, "dpkg-query", "-W",
                           "-f", "${Package} ${Version}\\n"], capture_output=True, text=True, check=True).stdout
    assert {tuple(line.split(" ", 1)) for line in dpkg.splitlines()} == {
        (p.name, p.version) for p in profile.packages if p.manager == "deb"}


def test_cuda_models_and_config(original_profiles):
    profile, _ = original_profiles
    cuda = profile.cuda
    assert (cuda.torch_version, cuda.torch_variant, cuda.torch_cuda) == ("2.0.0+cu121", "cuda", "12.1")
    assert {w.name for w in cuda.wheels} == {"nvidia-cublas-cu12", "triton"}
    libraries = {lib.path: lib for lib in cuda.libraries}
    cublas = libraries[f"{SITE}/nvidia/cublas/lib/libcublas.so.12"]
    assert (cublas.size, cublas.package) == (4096, "nvidia-cublas-cu12")
    assert libraries[f"{SITE}/torch/lib/libtorch_cuda.so"].size == 3000
    assert [(m.path, m.size, m.format, m.repo) for m in profile.models] == [(HF_MODEL, 6000, "safetensors", "acme/tiny")]
    assert profile.config.runs_as_root and profile.config.cmd == ["python3"] and profile.config.healthcheck is None
    assert profile.groups["model_files"] == 6000
    assert sum(profile.groups.values()) == profile.visible_size


def test_non_root_user_and_healthcheck(optimized_image):
    profile = inspect_image(optimized_image)
    assert profile.config.user == "app" and profile.config.uid == 10001 and not profile.config.runs_as_root
    assert profile.config.healthcheck == ["CMD-SHELL", '/opt/venv/bin/python -c "import tinypkg"']
    assert profile.cuda.torch_variant == "cpu" and not profile.cuda.wheels


def test_compressed_estimates_agree(original_image):
    fast = inspect_image(original_image, "overlay2", compressed=True)
    streamed = inspect_image(original_image, "archive", compressed=True)
    assert 0 < streamed.compressed_size < streamed.size
    assert abs(fast.compressed_size - streamed.compressed_size) < 0.01 * streamed.compressed_size
    # the random bytes of the waste layer don't compress: its gzip is at least its content
    assert streamed.layers[3].compressed_size >= 3000
