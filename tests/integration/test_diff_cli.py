"""`buildopt diff` and `buildopt inspect` as a user runs them (subprocess), on real images.

The pair is test_inspect's: an "original" with a fake CUDA torch, nvidia-cublas-cu12, triton and a model
in the HF cache, running as root; an "optimized" with CPU torch, the model under /models, user app and
a healthcheck.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.test_inspect import SITE, optimized_image, original_image  # noqa: F401 (fixtures)

pytestmark = pytest.mark.docker


def buildopt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def diff_json(original_image, optimized_image) -> dict:  # noqa: F811
    result = buildopt("diff", original_image, optimized_image, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def inspect_json(image: str, *extra: str) -> dict:
    result = buildopt("inspect", image, "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_diff_json_names_where_the_bytes_went(diff_json, original_image, optimized_image):  # noqa: F811
    a, b = inspect_json(original_image), inspect_json(optimized_image)
    assert diff_json["schema"] == "buildopt.diff/v1"
    assert diff_json["total_size_delta"] == b["size"] - a["size"]
    removed = {p["name"]: p for p in diff_json["packages"]["removed"]}
    sizes_a = {p["name"]: p["size"] for p in a["packages"] if p["manager"] == "pip"}
    assert removed["nvidia-cublas-cu12"]["size_a"] == sizes_a["nvidia-cublas-cu12"] > 4096
    assert removed["triton"]["size_a"] == sizes_a["triton"] > 2000
    changed = {p["name"]: p for p in diff_json["packages"]["changed"]}
    assert changed["torch"]["version_a"] == "2.0.0+cu121" and changed["torch"]["version_b"] == "2.0.0+cpu"
    assert changed["torch"]["delta"] < -3000  # libtorch_cuda.so is gone
    assert changed["tinypkg"]["change"] == "upgraded"
    assert diff_json["cuda"]["torch_a"] == "2.0.0+cu121 (cuda)" and diff_json["cuda"]["torch_b"] == "2.0.0+cpu (cpu)"
    assert {p["name"] for p in diff_json["cuda"]["packages"]} == {"nvidia-cublas-cu12", "triton", "torch"}
    libraries = {(m["change"], m["path_a"]) for m in diff_json["cuda"]["libraries"]}
    assert ("removed", f"{SITE}/nvidia/cublas/lib/libcublas.so.12") in libraries
    assert ("removed", f"{SITE}/torch/lib/libtorch_cuda.so") in libraries
    [model] = diff_json["models"]
    assert (model["change"], model["path_b"], model["size_a"]) == ("moved", "/models/model.safetensors", 6000)
    config = {c["field"]: c for c in diff_json["config_changes"]}
    assert config["user"]["note"] == "root -> non-root" and config["healthcheck"]["note"] == "added"
    lost = {d["path"] for d in diff_json["dirs_lost"]}
    assert {f"{SITE}/nvidia/cublas", "/data"} <= lost
    # useradd rewrites /etc/passwd and friends in the optimized image: that is waste too
    assert {w["path"].split("/")[1] for w in b["wasted"]} <= {"etc", "var"} and b["wasted_bytes"] > 0
    assert diff_json["wasted_bytes_delta"] == b["wasted_bytes"] - 57_000
    assert diff_json["layers"]["shared"] == 1  # the base image


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_diff_text_formats(original_image, optimized_image, fmt):  # noqa: F811
    result = buildopt("diff", original_image, optimized_image, "--format", fmt)
    assert result.returncode == 0, result.stderr
    # In markdown `>` is an entity, as in every markdown renderer (report/markdown.py); it shows as `>`.
    arrow = "root -&gt; non-root" if fmt == "markdown" else "root -> non-root"
    for needle in ("nvidia-cublas-cu12", "triton", "torch", "/models/model.safetensors", arrow, "healthcheck"):
        assert needle in result.stdout, needle


def test_diff_html_page(diff_json, original_image, optimized_image):  # noqa: F811
    result = buildopt("diff", original_image, optimized_image, "--format", "html")
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and page.count('<section class="treemap"') == 2
    for side, key in (("a", "original"), ("b", "optimized")):
        root = page.split(f'<section class="treemap" data-side="{"AB"[side == "b"]}">', 1)[1].split("</svg>", 1)[0]
        total = int(root.split('data-bytes="', 1)[1].split('"', 1)[0])
        assert total == diff_json[side]["size"], key
    assert "nvidia-cublas-cu12" in page and 'id="packages-removed"' in page


def test_archive_reader_gives_the_same_diff(diff_json, original_image, optimized_image):  # noqa: F811
    result = buildopt("diff", original_image, optimized_image, "--format", "json", "--reader", "archive")
    assert result.returncode == 0, result.stderr
    streamed = json.loads(result.stdout)
    for side in ("a", "b"):
        assert streamed[side].pop("reader") == "archive" and diff_json[side].pop("reader") == "overlay2"
    assert streamed == diff_json


def test_images_sharing_no_layers(build_image, original_image):  # noqa: F811
    scratch = build_image("FROM scratch\nCOPY hello.txt /hello.txt\n", {"hello.txt": "hello\n"}, name="diff-scratch")
    result = buildopt("diff", scratch, original_image, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["layers"]["shared"] == 0 and data["a"]["size"] == 6 and data["a"]["files"] == 1
    assert any("share no layers" in note for note in data["notes"])
    assert {p["name"] for p in data["packages"]["added"]} >= {"torch", "nvidia-cublas-cu12", "bash"}


def test_inspect_table_and_json(original_image):  # noqa: F811
    result = buildopt("inspect", original_image)
    assert result.returncode == 0, result.stderr
    assert "wasted bytes" in result.stdout and "/data/big.bin" in result.stdout
    data = inspect_json(original_image, "--files")
    assert data["schema"] == "buildopt.inspect/v1" and data["wasted_bytes"] == 57_000
    assert next(f[:2] for f in data["files"] if f[0] == "/data/keep.bin") == ["/data/keep.bin", 3000]


@pytest.mark.parametrize("args", [
    ("diff", "buildopt-test/no-such-image:nope", "buildopt-test/also-missing:nope"),
    ("inspect", "buildopt-test/no-such-image:nope"),
    ("inspect", "Not A Valid Ref"),
])
def test_unknown_image_is_exit_2_one_line(docker_engine, args):
    result = buildopt(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("buildopt: error:") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_reader_is_exit_2(original_image):  # noqa: F811
    result = buildopt("inspect", original_image, "--reader", "zip")
    assert result.returncode == 2 and "--reader" in result.stderr and "Traceback" not in result.stderr
