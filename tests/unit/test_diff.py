"""diff_profiles and its renderings, on profiles built from synthetic layers (the same code path the
readers feed), shaped like the paperflow pair: CUDA torch + nvidia wheels + baked model, root, vs CPU
torch, model moved to a volume dir, non-root with a healthcheck, no shared layers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from buildopt.diff import SCHEMA, diff_profiles
from buildopt.inspect import profile_from_layers
from buildopt.inspect.layers import DIR, REG, LayerBuilder, wanted
from buildopt.report.diff_report import render_diff, render_profile

SITE = "opt/venv/lib/python3.11/site-packages"
MODEL = os.urandom(5000)


def scan(files: dict[str, bytes | int], key: str):
    """One layer: {path: content bytes or a size}; parent dirs added, wanted files captured."""
    builder = LayerBuilder(key)
    for path, content in files.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            builder.add("/".join(parts[:depth]), DIR, 0, 0o755, 0)
        size = content if isinstance(content, int) else len(content)
        builder.add(path, REG, size, 0o644, 0)
        if not isinstance(content, int) and wanted(path):
            builder.capture(path, content)
    return builder.finish()


def wheel(name: str, version: str, files: dict[str, int]) -> dict[str, bytes | int]:
    meta = f"{SITE}/{name.replace('-', '_')}-{version}.dist-info"
    record = "".join(f"{path},,\n" for path in files) + f"{meta.rpartition('/')[2]}/RECORD,,\n"
    return {**{f"{SITE}/{path}": size for path, size in files.items()}, f"{meta}/RECORD": record.encode()}


def base_layer(key: str, with_gcc: bool):
    status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\nInstalled-Size: 1\n\n"
    files: dict[str, bytes | int] = {"usr/lib/x86_64-linux-gnu/libc.so.6": 2000,
                                     "var/lib/dpkg/info/libc6:amd64.list": b"/usr/lib/x86_64-linux-gnu/libc.so.6\n",
                                     "etc/passwd": b"root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\n"}
    if with_gcc:
        status += "Package: gcc-12\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2\nInstalled-Size: 1\n\n"
        files["usr/bin/gcc-12"] = 900
        files["var/lib/dpkg/info/gcc-12.list"] = b"/usr/bin/gcc-12\n"
        files["var/cache/apt/archives/gcc-12.deb"] = 800
    files["var/lib/dpkg/status"] = status.encode()
    return scan(files, key)


def profile(ref, scans, config):
    image = {"Id": f"sha256:{ref}", "RepoTags": [ref]}
    return profile_from_layers(ref, image, {"config": config, "rootfs": {"diff_ids": [s.key for s in scans]}},
                               scans, reader="overlay2")


@pytest.fixture(scope="module")
def pair():
    cuda = {**wheel("torch", "2.13.0", {"torch/lib/libtorch_cpu.so": 4000, "torch/lib/libtorch_cuda.so": 3000}),
            f"{SITE}/torch/version.py": b"__version__ = '2.13.0+cu130'\ncuda: Optional[str] = '13.0'\n",
            **wheel("nvidia-cublas-cu12", "12.1.3.1", {"nvidia/cublas/lib/libcublas.so.12": 6000}),
            **wheel("triton", "3.7.1", {"triton/_C/libtriton.so": 2500}),
            **wheel("numpy", "2.4.6", {"numpy/core.so": 700})}
    cpu = {**wheel("torch", "2.13.0+cpu", {"torch/lib/libtorch_cpu.so": 3900}),
           f"{SITE}/torch/version.py": b"__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\n",
           **wheel("numpy", "2.4.6", {"numpy/core.so": 700})}
    hf = "root/.cache/huggingface/hub/models--acme--tiny/snapshots/1/model.safetensors"
    original = profile("orig", [base_layer("sha256:base-a", True), scan(cuda, "sha256:pip-a"),
                                scan({hf: MODEL}, "sha256:model-a")],
                       {"Cmd": ["celery", "worker"], "Env": ["PATH=/opt/venv/bin:/usr/bin"]})
    optimized = profile("opt", [base_layer("sha256:base-b", False), scan(cpu, "sha256:pip-b"),
                                scan({"models/model.safetensors": MODEL}, "sha256:model-b")],
                        {"Cmd": ["celery", "worker"], "User": "app", "Env": ["PATH=/opt/venv/bin:/usr/bin", "HF_HOME=/models"],
                         "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:8000/health || exit 1"]},
                         "Volumes": {"/models": {}}})
    return original, optimized


def test_sizes_layers_and_schema(pair):
    a, b = pair
    diff = diff_profiles(a, b)
    data = diff.to_dict()
    assert data["schema"] == SCHEMA == "buildopt.diff/v1"
    assert data["total_size_delta"] == b.size - a.size
    assert data["total_size_delta_pct"] == round(100.0 * (b.size - a.size) / a.size, 2)
    # libtorch_cuda + libcublas + libtriton + the torch CPU lib's 100 B + gcc + the apt cache, and then some metadata
    assert data["total_size_delta"] < -(3000 + 6000 + 2500 + 100 + 900 + 800)
    assert data["layers"]["shared"] == 0 and len(data["layers"]["only_a"]) == 3
    assert "share no layers" in data["notes"][0]
    json.dumps(data)  # serializable


def test_packages_named_with_sizes(pair):
    diff = diff_profiles(*pair)
    removed = {(p.manager, p.name): p for p in diff.packages_removed}
    assert removed[("pip", "nvidia-cublas-cu12")].size_a == 6000 + len(
        b"nvidia/cublas/lib/libcublas.so.12,,\nnvidia_cublas_cu12-12.1.3.1.dist-info/RECORD,,\n")
    assert ("pip", "triton") in removed and ("deb", "gcc-12") in removed
    changed = {p.name: p for p in diff.packages_changed}
    assert changed["torch"].change == "changed"  # same release, other build
    assert changed["torch"].version_a == "2.13.0" and changed["torch"].version_b == "2.13.0+cpu"
    assert changed["torch"].delta < -3000
    assert "numpy" not in changed
    cuda_names = [p.name for p in diff.cuda_packages]
    assert cuda_names[0] == "nvidia-cublas-cu12" and set(cuda_names) == {"nvidia-cublas-cu12", "triton", "torch"}
    assert diff.a.torch == "2.13.0+cu130 (cuda)" and diff.b.torch == "2.13.0+cpu (cpu)"


def test_groups_models_dirs_and_config(pair):
    a, b = pair
    diff = diff_profiles(a, b)
    groups = {g.name: g for g in diff.groups}
    assert groups["cuda_wheels"].size_a > 6000 and groups["cuda_wheels"].size_b == 0
    assert groups["caches"].delta == -800 and groups["build_toolchain"].delta == -900
    assert sum(g.size_a for g in diff.groups) == a.visible_size
    [move] = diff.models
    assert (move.change, move.path_b, move.size_a) == ("moved", "/models/model.safetensors", 5000)
    assert move.path_a.startswith("/root/.cache/huggingface/hub/models--acme--tiny/")
    assert any(lib.change == "removed" and lib.path_a.endswith("libtorch_cuda.so") for lib in diff.cuda_libraries)
    lost = [d.name for d in diff.dirs_lost()]
    assert f"/{SITE}/nvidia/cublas" in lost and f"/{SITE}/triton" in lost
    changes = {c.field: c for c in diff.config_changes}
    assert changes["user"].note == "root -> non-root" and changes["user"].b == "app"
    assert changes["healthcheck"].note == "added"
    assert changes["volumes"].b == ["/models"] and changes["env.HF_HOME"].note == "added"
    assert "cmd" not in changes


def test_identical_profiles_diff_to_nothing(pair):
    a, _ = pair
    diff = diff_profiles(a, a)
    assert diff.size_delta == 0 and not diff.dirs and not diff.packages_changed and not diff.models
    assert not diff.config_changes and diff.shared_layers == 3 and not diff.notes


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_renderings_name_where_the_bytes_went(pair, fmt):
    text = render_diff(diff_profiles(*pair), fmt)
    for needle in ("nvidia-cublas-cu12", "triton", "torch", "gcc-12", "/models/model.safetensors", "non-root",
                   "healthcheck", "2.13.0+cu130 (cuda)"):
        assert needle in text, needle
    if fmt == "markdown":
        assert "### Packages" in text and "| change" in text


def test_json_rendering_and_profile_rendering(pair):
    a, b = pair
    data = json.loads(render_diff(diff_profiles(a, b), "json"))
    assert data["packages"]["removed"][0]["name"] in ("nvidia-cublas-cu12", "triton", "gcc-12")
    profile_json = json.loads(render_profile(a, "json", files=True))
    assert profile_json["schema"] == "buildopt.inspect/v1"
    assert profile_json["size"] == a.size and len(profile_json["files"]) == len(a.files)
    assert "nvidia-cublas-cu12" in render_profile(a, "table")


def test_unreachable_engine_is_exit_4_one_line():
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = subprocess.run([sys.executable, "-m", "buildopt.cli", "diff", "a:1", "b:1"], capture_output=True,
                            text=True, env=env, check=False)
    assert result.returncode == 4
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "cannot reach the Docker engine" in result.stderr


def test_bad_format_and_reader_are_exit_2():
    for args in (["diff", "a:1", "b:1", "--format", "yaml"], ["inspect", "a:1", "--format", "markdown"]):
        result = subprocess.run([sys.executable, "-m", "buildopt.cli", *args], capture_output=True, text=True, check=False)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
