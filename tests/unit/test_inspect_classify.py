"""Naming the bytes: top-directory buckets, model files, CUDA libraries, caches, toolchain, attribution."""

from __future__ import annotations

from buildopt.inspect.classify import (
    attribute,
    bucket,
    build_tools,
    cache_dir,
    caches,
    cuda_facts,
    dir_usage,
    is_cuda_wheel,
    model_files,
    model_format,
)
from buildopt.inspect.model import Package

SITE = "opt/venv/lib/python3.11/site-packages"


def final_of(files: dict[str, int]) -> dict[str, tuple]:
    return {path: ("f", size, 0o644, 0, 0) for path, size in files.items()}


def test_buckets_follow_packages_nvidia_libs_hf_repos_and_three_levels_elsewhere():
    assert bucket(f"{SITE}/torch/lib/libtorch_cpu.so") == f"/{SITE}/torch"
    assert bucket(f"{SITE}/nvidia/cublas/lib/libcublas.so.12") == f"/{SITE}/nvidia/cublas"
    assert bucket(f"{SITE}/six.py") == f"/{SITE}"
    assert bucket("usr/lib/x86_64-linux-gnu/libc.so.6") == "/usr/lib/x86_64-linux-gnu"
    assert bucket("var/cache/apt/archives/gcc.deb") == "/var/cache/apt"
    assert bucket("root/.cache/huggingface/hub/models--acme--tiny/blobs/abc") == \
        "/root/.cache/huggingface/hub/models--acme--tiny"
    assert bucket("etc/passwd") == "/etc"
    assert bucket("init") == "/"


def test_dir_usage_sums_sizes_and_counts_files():
    usage = dir_usage(final_of({f"{SITE}/torch/a.so": 10, f"{SITE}/torch/sub/b.py": 5, "usr/bin/x": 1}))
    assert (usage[f"/{SITE}/torch"].size, usage[f"/{SITE}/torch"].files) == (15, 2)


def test_model_formats():
    assert model_format("root/.cache/huggingface/hub/models--x--y/snapshots/abc/model.safetensors") == "safetensors"
    assert model_format("root/.cache/huggingface/hub/models--x--y/blobs/5f1e2d") == "hf-blob"
    assert model_format("app/weights/ggml-model-q4.gguf") == "gguf"
    assert model_format("models/whisper/pytorch_model.bin") == "bin"
    assert model_format("app/pytorch_model.bin") == "bin"
    assert model_format("usr/lib/firmware/random.bin") is None
    assert model_format(f"{SITE}/distutils-precedence.pth") is None  # path config, not weights
    assert model_format("app/checkpoints/last.pth") == "pytorch"
    assert model_format(f"{SITE}/faster_whisper/assets/silero_vad.onnx") == "onnx"
    assert model_format("app/data.h5") is None and model_format("models/keras/m.h5") == "keras-h5"


def test_model_files_carry_the_hf_repo():
    [model] = model_files(final_of({"root/.cache/huggingface/hub/models--acme--tiny/snapshots/1/model.safetensors": 4096,
                                    "app/main.py": 10}))
    assert (model.path, model.size, model.repo) == (
        "/root/.cache/huggingface/hub/models--acme--tiny/snapshots/1/model.safetensors", 4096, "acme/tiny")


def test_cuda_wheels_and_libraries():
    for name in ("nvidia-cublas-cu12", "nvidia-cudnn-cu12", "triton", "cuda-bindings", "pytorch-triton-rocm"):
        assert is_cuda_wheel(name), name
    for name in ("torch", "cudatext", "numpy", "nvidia"):
        assert not is_cuda_wheel(name), name
    final = final_of({
        f"{SITE}/nvidia/cublas/lib/libcublas.so.12": 4096,
        f"{SITE}/nvidia/cublas/lib/libcublasLt.so.12": 8192,
        f"{SITE}/torch/lib/libtorch_cuda.so": 9000,
        f"{SITE}/torch/lib/libtorch_cpu.so": 7000,
        "usr/lib/x86_64-linux-gnu/libcurl.so.4": 500,
        "usr/local/cuda/lib64/libcudart.so.12.1.105": 700,
    })
    owners = {f"{SITE}/nvidia/cublas/lib/libcublas.so.12": ("pip", "nvidia-cublas-cu12"),
              f"{SITE}/nvidia/cublas/lib/libcublasLt.so.12": ("pip", "nvidia-cublas-cu12"),
              f"{SITE}/torch/lib/libtorch_cuda.so": ("pip", "torch")}
    packages = [Package("pip", "nvidia-cublas-cu12", "12.1", 12_500, 3), Package("pip", "torch", "2.0.0", 16_000, 2)]
    facts = cuda_facts(final, packages, owners, (None, None, None))
    assert [w.name for w in facts.wheels] == ["nvidia-cublas-cu12"]
    assert {lib.path.rpartition("/")[2] for lib in facts.libraries} == {
        "libcublas.so.12", "libcublasLt.so.12", "libtorch_cuda.so", "libcudart.so.12.1.105"}
    assert facts.torch_variant == "cuda"  # no version.py, but libtorch_cuda is there
    assert facts.total_bytes == 12_500 + 9000 + 700


def test_caches_and_build_tools():
    final = final_of({"var/cache/apt/archives/gcc.deb": 100, "var/lib/apt/lists/x_Packages": 50,
                      "root/.cache/pip/http/1": 7, "home/app/.cache/pip/wheels/w": 3, "usr/bin/gcc": 1,
                      "var/cache/debconf/config.dat": 9})
    assert cache_dir("var/cache/apt/archives") == "var/cache/apt"
    assert {(c.path, c.size) for c in caches(final)} == {
        ("/var/cache/apt", 100), ("/var/lib/apt/lists", 50), ("/root/.cache/pip", 7), ("/home/app/.cache/pip", 3)}
    packages = [Package("deb", "gcc-12", "12.2", 1, 1), Package("deb", "g++", "12.2", 1, 1),
                Package("deb", "libpython3.11-dev", "3.11", 1, 1), Package("deb", "libc6", "2.36", 1, 1)]
    assert build_tools(final, packages) == ["/usr/bin/gcc", "g++", "gcc-12", "libpython3.11-dev"]


def test_attribution_gives_every_visible_byte_one_group():
    final = final_of({
        f"{SITE}/nvidia/cublas/lib/libcublas.so.12": 4000, f"{SITE}/triton/_C/libtriton.so": 700,
        f"{SITE}/torch/lib/libtorch_cpu.so": 900, f"{SITE}/numpy/core.so": 50,
        "root/.cache/huggingface/hub/models--a--b/model.safetensors": 333, "root/.cache/pip/x": 20,
        "usr/bin/gcc-12": 11, "usr/lib/libc.so.6": 22, "app/main.py": 5,
    })
    owners = {f"{SITE}/nvidia/cublas/lib/libcublas.so.12": ("pip", "nvidia-cublas-cu12"),
              f"{SITE}/triton/_C/libtriton.so": ("pip", "triton"), f"{SITE}/torch/lib/libtorch_cpu.so": ("pip", "torch"),
              f"{SITE}/numpy/core.so": ("pip", "numpy"), "usr/bin/gcc-12": ("deb", "gcc-12"),
              "usr/lib/libc.so.6": ("deb", "libc6")}
    groups = attribute(final, owners, model_files(final))
    assert groups == {"cuda_wheels": 4000, "triton": 700, "torch": 900, "python_packages": 50, "model_files": 333,
                      "caches": 20, "build_toolchain": 11, "system_packages": 22, "other": 5}
    assert sum(groups.values()) == sum(record[1] for record in final.values())


def test_torchscript_jit_files_are_models():
    from buildopt.inspect.classify import model_format

    assert model_format("models/silero-vad/silero_vad.jit") == "torchscript"
    assert model_format("opt/venv/lib/python3.11/site-packages/jit/__init__.py") is None
