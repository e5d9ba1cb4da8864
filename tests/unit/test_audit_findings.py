"""Per-image findings: from config and history (cheap), and from an image's files (ImageProfile).

Histories below are written from the audits' own numbers (../shared/seeds: kokoro's layers in the second
audit, whisperx's models in the first); the recorded ones come from the real engine
(tests/data/audit/README.md). Profiles are built with the inspect stage's own code (LayerBuilder,
profile_from_layers) from synthetic layers, so they are exactly what a reader would produce.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from buildopt.audit import python_eol
from buildopt.audit.findings import (
    ESTIMATE,
    FILES,
    LAYER,
    config_findings,
    pick,
    profile_findings,
    python_from_config,
    security_facts,
    step_facts,
)
from buildopt.audit.inventory import HistoryLayer, ImageDetails, number_layers
from buildopt.engine import GpuFacts, detect_gpu
from buildopt.estimates import apt_packages_estimate
from buildopt.inspect import config_facts, profile_from_layers
from buildopt.inspect.layers import REG, SYMLINK, LayerBuilder, wanted

DATA = Path(__file__).resolve().parent.parent / "data" / "audit"
RECORDED = json.loads((DATA / "images-inspect-history.json").read_text())
NO_GPU = GpuFacts(False, "no /dev/nvidia* device on this host")
TODAY = date(2026, 11, 22)
GB, MB = 1000**3, 1000**2


def details(steps: list[tuple[str, int]], config: dict | None = None) -> ImageDetails:
    history = [HistoryLayer(step=n, index=n, created_by=text, size=size) for n, (text, size) in enumerate(steps)]
    return ImageDetails(config=config_facts(config or {}, {}), history=tuple(history), layer_count=len(history))


# The second audit's kokoro-fastapi-cpu layers (5.61 GB).
KOKORO = details([
    ("", 75 * MB),
    ("RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng ffmpeg git curl && apt-get clean", 952 * MB),
    ("RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y", 1_230 * MB),
    ("RUN uv sync --extra cpu --no-cache", 2_890 * MB),
    ("RUN python download_model.py --output api/src/models/v1_0", 328 * MB),
    ("COPY --chown=appuser:appuser api ./api", 35_400_000),
], {"User": "appuser", "Env": ["PATH=/app/.venv/bin:/usr/bin"]})


def test_step_facts_read_build_steps():
    facts = step_facts("RUN DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc=4:12.2 g++ "
                       "libmagic1 && pip install --no-cache-dir torch==2.6.0 && apt-get purge -y g++")
    assert facts.installed == ("gcc", "libmagic1") and facts.no_recommends
    assert facts.pip_installs and not facts.pip_cache_kept and facts.torch_without_cpu_index
    cpu = step_facts("RUN pip install torch --index-url https://download.pytorch.org/whl/cpu")
    assert not cpu.torch_without_cpu_index and cpu.pip_cache_kept
    assert not step_facts("RUN pip install -r req.txt", {"PIP_NO_CACHE_DIR": "1"}).pip_cache_kept
    assert not step_facts("RUN pip install x && rm -rf /root/.cache/pip").pip_cache_kept
    assert step_facts("RUN apt-get update && apt-get install -y curl").apt_lists_kept
    assert not step_facts("RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*").apt_lists_kept
    assert step_facts("RUN curl -sSf https://sh.rustup.rs | sh -s -- -y").rustup
    assert step_facts("RUN /root/.cargo/bin/rustup default stable").rustup
    assert not step_facts("RUN mkdir -p /root/.rustup && head -c 5 /dev/zero > /root/.rustup/x").rustup
    assert step_facts("RUN huggingface-cli download org/model").model_download
    assert step_facts("COPY models/ /app/models").model_download
    assert not step_facts("COPY app/ /app").model_download


def test_kokoro_history_gives_the_audits_causes():
    found = {f.slug: f for f in config_findings(KOKORO, NO_GPU, today=TODAY)}
    tools = found["build-toolchain"]
    assert "rust (rustup)" in tools.title and "git" in tools.title
    git = apt_packages_estimate(["git"], recommends=False).bytes  # measured Debian size, --no-install-recommends
    assert tools.bytes == 1_230 * MB + git and tools.basis == ESTIMATE and tools.upstream
    assert [(part.layer, part.holds, part.bytes) for part in tools.parts] == [(1, "git", git), (2, "rust (rustup)", 1_230 * MB)]
    assert found["baked-model"].bytes == 328 * MB and found["baked-model"].basis == LAYER
    assert found["package-cache"].title == "apt lists left in the image"
    assert "root-user" not in found and "no-healthcheck" in found
    assert "cuda-without-gpu" not in found  # uv sync --extra cpu: nothing says CUDA


def test_whisperx_history_models_and_cuda_torch():
    whisperx = details([
        ("", 150 * MB),
        ("RUN pip install torch==2.1.0 whisperx fastapi uvicorn", 2_600 * MB),
        ("RUN python -c \"import whisperx; whisperx.load_model('large-v2', 'cpu')\"", 6_000 * MB),
    ], {"Env": ["PYTHON_VERSION=3.11.9"]})
    found = {f.slug: f for f in config_findings(whisperx, NO_GPU, today=TODAY)}
    assert found["baked-model"].bytes == 6_000 * MB
    cuda = found["cuda-without-gpu"]
    assert cuda.bytes == 2_600 * MB and cuda.basis == ESTIMATE  # capped by the layer (below the 4.03 GB figure)
    assert "root-user" in found and found["eol-python-soon"].title.startswith("Python 3.11 reaches end of life")
    # On a GPU host the CUDA build is the right one.
    gpu = {f.slug for f in config_findings(whisperx, GpuFacts(True, "nvidia-smi lists a GPU"), today=TODAY)}
    assert "cuda-without-gpu" not in gpu
    # A remote engine without the nvidia runtime: flagged, and the title says the GPU is unknown.
    unknown = next(f for f in config_findings(whisperx, detect_gpu(False, ["runc"]), today=TODAY)
                   if f.slug == "cuda-without-gpu")
    assert "unknown" in unknown.title


def test_recorded_tools_history_has_no_false_positive():
    # The RUN writes /usr/bin/gcc with `head`: no install step, so the history alone finds no toolchain.
    steps = number_layers(RECORDED["tools_history"], len(RECORDED["tools_inspect"]["RootFS"]["Layers"]))
    image = ImageDetails(config=config_facts(RECORDED["tools_inspect"]["Config"], {}), history=tuple(steps))
    assert {f.slug for f in config_findings(image, NO_GPU, today=TODAY)} == {"root-user", "no-healthcheck"}


def test_recorded_clean_image_config():
    steps = number_layers(RECORDED["history"], 2)
    image = ImageDetails(config=config_facts(RECORDED["image_inspect"]["Config"], {}), history=tuple(steps))
    assert config_findings(image, NO_GPU, today=TODAY) == []
    assert python_from_config(image) is None


def test_end_of_life_python():
    assert python_eol.is_eol((3, 8), TODAY) and python_eol.is_eol((3, 9), TODAY)
    assert not python_eol.is_eol((3, 11), TODAY) and python_eol.is_eol((3, 11), date(2027, 11, 1))
    assert python_eol.is_eol((3, 4)) is True and python_eol.is_eol((3, 99)) is None
    assert python_eol.versions_in_text("RUN cp x /usr/local/lib/python3.10/site-packages/ && python3.9 -V") == {(3, 10), (3, 9)}
    old = details([("RUN pip install flask", 20 * MB)], {"Env": ["PYTHON_VERSION=3.10.14"]})
    # The first audit's date: "Python 3.10 atteindra EOL en octobre 2026".
    eol = next(f for f in config_findings(old, NO_GPU, today=date(2025, 11, 9)) if f.slug.startswith("eol"))
    assert eol.slug == "eol-python-soon" and "2026-10-31" in eol.title
    eol = next(f for f in config_findings(old, NO_GPU, today=TODAY) if f.slug.startswith("eol"))
    assert eol.slug == "eol-python" and eol.security


# --- from the files ---------------------------------------------------------------------------------
def profile(layers: list[dict], *, config: dict | None = None, history: list[str] | None = None):
    """An ImageProfile through the inspect stage's own merge and classification code.

    A layer maps paths to an int (a regular file of that many bytes), bytes (a file with that content,
    captured when the package parsers want it), ("link", target) or None (a whiteout)."""
    scans = []
    for number, files in enumerate(layers):
        builder = LayerBuilder(f"layer{number}")
        for path, value in files.items():
            if value is None:
                builder.whiteout(path)
            elif isinstance(value, tuple):
                builder.add(path, SYMLINK, 0, 0o777, 0)
            elif isinstance(value, bytes):
                builder.add(path, REG, len(value), 0o644, 0)
                if wanted(path):
                    builder.capture(path, value)
            else:
                builder.add(path, REG, value, 0o644, 0)
        scans.append(builder.finish())
    history = history or [f"RUN step {n}" for n in range(len(layers))]
    image = {"Id": "sha256:" + "b" * 64, "RepoTags": ["app:1"]}
    full = {"config": config or {}, "history": [{"created_by": text} for text in history],
            "rootfs": {"diff_ids": [f"sha256:{n}" for n in range(len(layers))]}}
    return profile_from_layers("app:1", image, full, scans, reader="overlay2")


SITE = "opt/venv/lib/python3.11/site-packages"
BASE = {"usr/lib/python3.11/os.py": 30_000, "usr/bin/python3.11": 6_000_000,
        "etc/passwd": b"root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/home/app:/bin/sh\n"}


def test_profile_findings_measure_cuda_models_tools_and_caches():
    record = b"nvidia/cublas/lib/libcublas.so.12,,\nnvidia_cublas_cu12-12.1.3.1.dist-info/RECORD,,\n"
    image = profile([
        BASE,
        {f"{SITE}/nvidia/cublas/lib/libcublas.so.12": 150 * MB, f"{SITE}/nvidia_cublas_cu12-12.1.3.1.dist-info/RECORD": record},
        {"root/.cache/huggingface/hub/models--acme--tiny/blobs/5f1a": 120 * MB,
         "root/.cache/huggingface/hub/models--acme--tiny/snapshots/0123/model.safetensors": ("link", "../../blobs/5f1a")},
        {"usr/bin/gcc": 3 * MB, "root/.rustup/toolchains/stable/lib/librustc_driver.so": 5 * MB,
         "root/.cache/pip/http/a/0123": 8 * MB, "var/lib/apt/lists/x_Packages": 2 * MB},
        {"tmp/big.bin": None},
    ], history=["", "RUN pip install nvidia-cublas-cu12", "RUN huggingface-cli download acme/tiny", "RUN tools", "RUN rm"])
    found = {f.slug: f for f in profile_findings(image, NO_GPU, today=TODAY)}
    cuda = found["cuda-without-gpu"]
    assert cuda.bytes == 150 * MB + len(record) and cuda.basis == FILES and cuda.layer == 1
    assert cuda.created_by == "RUN pip install nvidia-cublas-cu12"
    model = found["baked-model"]
    assert model.bytes == 120 * MB and "acme/tiny" in model.detail and model.layer == 2
    tools = found["build-toolchain"]
    assert tools.bytes == 8 * MB and tools.evidence == ("rust toolchain: 5 MB (directory)", "gcc: 3 MB (path)")
    assert {part.layer for part in tools.parts} == {3}
    cache = found["package-cache"]
    assert cache.bytes == 10 * MB and cache.upstream
    assert found["root-user"].security and found["no-healthcheck"].security
    assert found["eol-python-soon"].detail.startswith("Python 3.11 (the image's files)")
    assert "hidden-copies" not in found  # the whiteout hides nothing


def test_profile_hidden_copies_and_a_non_root_user_by_name():
    image = profile([BASE, {"data/blob": 40 * MB}, {"data/blob": None}],
                    config={"User": "app", "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}},
                    history=["", "RUN make blob", "RUN rm /data/blob"])
    found = {f.slug: f for f in profile_findings(image, NO_GPU, today=TODAY)}
    assert set(found) == {"hidden-copies", "eol-python-soon"}
    hidden = found["hidden-copies"]
    assert hidden.bytes == 40 * MB and hidden.layer == 1 and hidden.created_by == "RUN make blob"


def test_a_gpu_host_keeps_cuda_and_pick_prefers_the_files():
    image = profile([BASE, {f"{SITE}/torch/lib/libtorch_cuda.so": 900 * MB}])
    assert "cuda-without-gpu" in {f.slug for f in profile_findings(image, NO_GPU)}
    assert "cuda-without-gpu" not in {f.slug for f in profile_findings(image, GpuFacts(True, "test"))}
    cheap = config_findings(KOKORO, NO_GPU, today=TODAY)
    deep = profile_findings(image, NO_GPU, today=TODAY)
    assert pick(cheap, None)[0].severity >= pick(cheap, None)[-1].severity
    assert {f.slug for f in pick(cheap, deep)} == {f.slug for f in deep}


def test_security_facts_from_findings_and_containers():
    from buildopt.audit.containers import container_record

    limited, loose = json.loads((DATA / "containers-inspect.json").read_text())
    found = config_findings(KOKORO, NO_GPU, today=TODAY)
    alone = security_facts(found)
    assert (alone.runs_as_root, alone.healthcheck, alone.build_tools, alone.eol_python) == (False, "none", True, False)
    assert alone.privileged is None and alone.memory_limit is None
    with_containers = security_facts(found, [container_record(limited), container_record(loose)])
    assert with_containers.privileged and with_containers.extra_capabilities
    assert with_containers.memory_limit is False and with_containers.runs_as_root  # the worst container counts


def test_baked_weights_are_what_the_build_put_there_not_package_data():
    # Seen on the examples: torch ships a 2.8 kB test .pt, ffmpeg's recommends pull a Debian speech model,
    # and whisperx's Silero VAD lands in HF_HOME as a TorchScript .jit.
    image = profile([BASE, {
        f"{SITE}/torch/bin/test_interpreter_async.pt": 2_840,
        "usr/share/pocketsphinx/model/en-us/en-us.lm.bin": 27_114_385,
        "models/silero-vad/silero_vad.jit": 2_272_526,
        "models/silero-vad/README": 1_000,
        "root/.cache/torch/hub/checkpoints/resnet.pth": 5 * MB,
    }], config={"Env": ["HF_HOME=/models"]})
    found = {f.slug: f for f in profile_findings(image, NO_GPU, today=TODAY)}
    baked = found["baked-model"]
    assert baked.bytes == 2_272_526 + 1_000 + 5 * MB
    assert baked.evidence[0] == "/root/.cache/torch/hub/checkpoints/resnet.pth: 5 MB"
    assert not any("site-packages" in item or "pocketsphinx" in item for item in baked.evidence)
