"""buildopt/knowledge.py: the tables and patterns analyze's precision rests on (issue 13)."""

from __future__ import annotations

import pytest

from buildopt.knowledge import (
    WEIGHT_TOKEN,
    drops_privileges,
    gpu_local_version,
    is_gpu_index,
    is_gpu_torch_backend,
    is_weight_path,
    known_image,
    privilege_drop,
    split_image,
    weight_path_arguments,
    weights_written_by_code,
)


@pytest.mark.parametrize("ref, user", [
    ("gcr.io/distroless/python3-debian12:nonroot", "65532"),
    ("gcr.io/distroless/static-debian12:debug-nonroot", "65532"),
    ("cgr.dev/chainguard/python:latest-dev", "65532"),
    ("bitnami/nginx:1.27", "1001"),
    ("docker.io/bitnami/postgresql", "1001"),
    ("public.ecr.aws/bitnami/redis:7.2", "1001"),
    ("quay.io/jupyter/scipy-notebook:2024-07-29", "1000"),
    ("jupyter/base-notebook", "1000"),
    ("nginxinc/nginx-unprivileged:1.27-alpine", "101"),
    ("mambaorg/micromamba:1.5.8", "mambauser"),
    ("registry.access.redhat.com/ubi9/python-311:latest", "1001"),
])
def test_well_known_non_root_images(ref, user):
    assert known_image(ref).user == user


@pytest.mark.parametrize("ref", [
    "gcr.io/distroless/python3-debian12", "gcr.io/distroless/python3-debian12:debug", "bitnami/python:3.12",
    "bitnami/minideb:bookworm", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", "nvidia/cuda:12.1.1-runtime-ubuntu22.04",
])
def test_images_that_run_as_root(ref):
    assert known_image(ref).user == ""


@pytest.mark.parametrize("ref", ["python:3.11-slim", "debian:bookworm", "localhost:5000/app:1", "ghcr.io/org/app", "${BASE}"])
def test_images_the_table_does_not_know(ref):
    assert known_image(ref) is None


def test_gpu_images_and_torch():
    assert known_image("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime").ships_torch
    assert known_image("nvcr.io/nvidia/pytorch:24.05-py3").ships_torch
    cuda = known_image("nvidia/cuda:12.1.1-devel-ubuntu22.04")
    assert cuda.gpu and not cuda.ships_torch
    assert known_image("tensorflow/tensorflow:2.16.1-gpu").gpu and known_image("tensorflow/tensorflow:2.16.1") is None


def test_split_image():
    assert split_image("docker.io/library/python:3.12@sha256:" + "0" * 64) == ("python", "3.12")
    assert split_image("localhost:5000/team/app") == ("localhost:5000/team/app", "latest")


@pytest.mark.parametrize("argv, expected", [
    (["gosu", "app", "python", "x.py"], "gosu"),
    (["su-exec", "app:app", "python"], "su-exec"),
    (["setpriv", "--reuid=app", "--regid=app", "--init-groups", "python"], "setpriv --reuid"),
    (["s6-setuidgid", "abc", "python3", "bridge.py"], "s6-setuidgid"),
    (["chpst", "-u", "app", "python"], "chpst -u"),
    (["su", "-s", "/bin/sh", "-c", "python x.py", "app"], "su -c"),
    (["uwsgi", "--uid", "1000", "--ini", "u.ini"], "uwsgi --uid"),
    (["gunicorn", "--user", "app", "wsgi:app"], "gunicorn --user"),
    (["gunicorn", "-b", "0.0.0.0:8000", "wsgi:app"], None),
    (["gosu", "--version"], None),
    (["python", "-m", "app"], None),
])
def test_privilege_drop(argv, expected):
    assert privilege_drop(argv) == expected


def test_drops_privileges_in_scripts_and_configs():
    assert drops_privileges("#!/bin/sh\nset -e\nchown -R app /data\nexec gosu app \"$@\"\n") == "gosu"
    assert drops_privileges("#!/bin/sh\n# exec gosu app \"$@\" would drop\nexec \"$@\"\n") is None  # a comment
    assert drops_privileges("if [ \"$(id -u)\" = 0 ]; then exec sudo -E -u app \"$0\"; fi\n") == "sudo -u"
    assert drops_privileges("[uwsgi]\nmodule = app.wsgi\nuid = 1000\n", "uwsgi.ini") == "uid in the uWSGI config"
    assert drops_privileges("[program:web]\ncommand=gunicorn app\nuser=www\n", "supervisord.conf") == "user= in the supervisord config"
    assert drops_privileges("[server]\nuser = postgres\n", "db.ini") is None


@pytest.mark.parametrize("url, gpu", [
    ("https://download.pytorch.org/whl/cu121", True), ("https://download.pytorch.org/whl/cu118/torch_stable.html", True),
    ("https://download.pytorch.org/whl/rocm6.0", True), ("https://download.pytorch.org/whl/nightly/cu124", True),
    ("https://pypi.nvidia.com", True), ("https://download.pytorch.org/whl/cpu", False), ("https://pypi.org/simple", False),
    ("https://mirror.example/cuda-tools/simple", False),
])
def test_gpu_indexes(url, gpu):
    assert is_gpu_index(url) is gpu


def test_gpu_pins_and_backends():
    assert gpu_local_version("==2.1.2+cu118") == "cu118" and gpu_local_version("torch-2.3.1%2Brocm6.0-cp311.whl") == "rocm6.0"
    assert gpu_local_version("==2.6.0+cpu") is None and gpu_local_version(">=2") is None
    assert is_gpu_torch_backend("cu126") and not is_gpu_torch_backend("cpu") and not is_gpu_torch_backend("auto")


def test_jit_is_a_weight_file_but_torch_jit_is_not():
    assert is_weight_path("models/silero_vad.jit")
    assert WEIGHT_TOKEN.search("cp /src/vad.jit /models/")
    assert not WEIGHT_TOKEN.search("python -c import torch.jit")
    assert not WEIGHT_TOKEN.search("torch.jit.script(m)")


def test_weights_written_by_code():
    assert weights_written_by_code("torch.jit.script(m).save('/app/head.jit')") == ["/app/head.jit"]
    assert weights_written_by_code("torch.onnx.export(model, x, \"model.onnx\", opset_version=17)") == ["model.onnx"]
    assert weights_written_by_code("m = torch.load('model.pt')") == []  # reads, doesn't write
    assert weights_written_by_code("import torch; torch.save(m.state_dict(), path)") == []  # no literal path


def test_weight_path_arguments():
    assert weight_path_arguments(["python", "train.py", "--epochs", "3", "--out", "/app/m.pth"]) == ["/app/m.pth"]
    assert weight_path_arguments(["python3", "-m", "tools.export", "--output=/srv/m.safetensors"]) == ["/srv/m.safetensors"]
    assert weight_path_arguments(["./convert.sh", "ggml-model.bin"]) == ["ggml-model.bin"]
    assert weight_path_arguments(["python", "-m", "pip", "install", "x.bin"]) == []
    assert weight_path_arguments(["rm", "-f", "model.pt"]) == []
    assert weight_path_arguments(["python", "-c", "open('x.pt')"]) == []  # the code is weights_written_by_code's
