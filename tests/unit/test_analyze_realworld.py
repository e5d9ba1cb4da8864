"""analyze on the real-world corpus (tests/corpus/realworld, issue 13): precision.

1. Every case, analyzed with its directory as context, gives exactly the high/critical findings in EXPECTED:
   a finding that appears or disappears fails (a regression in either direction). Each entry was read against
   its Dockerfile, scripts and compose file; the judgement is in the comment where it isn't obvious.
2. One regression test per false-positive class the issue lists, and per missed finding, each made from a
   corpus file (sometimes with one line changed, to show the finding still fires where it should).

Analyzed with engine=False so the expectations don't depend on what the local engine holds; the engine lookup
itself is tested on the real engine in tests/integration/test_analyze_engine.py. "Today" is pinned because
eol-python depends on it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from buildopt.dockerfile import parse_file, parse_string
from buildopt.estimates import CUDA_TORCH, TORCH_IMAGE_CPU
from buildopt.knowledge import WEIGHT_SUFFIXES, is_weight_path
from buildopt.rules import Severity, analyze
from buildopt.units import format_size

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "realworld"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())
TODAY = date(2026, 12, 1)

# BO101 on a file with no USER whose start-up never leaves root: the container really runs as root.
ROOT = ("BO101", "high")
EXPECTED: dict[str, list[tuple[str, int, str]]] = {
    "app-bot-root-cache": [("BO101", 3, "high")],
    "app-celery-worker": [("BO101", 3, "high")],
    "app-data-on-import": [("BO101", 3, "high")],
    "app-django-migrate": [("BO101", 3, "high")],  # entrypoint migrates then execs gunicorn, as root
    "app-gosu-puid": [],  # root-user is low: docker-entrypoint.sh drops to the user with gosu
    "app-graphviz-dot": [("BO101", 3, "high")],
    "app-logs-at-start": [("BO101", 3, "high")],
    "app-sqlite-workdir": [("BO101", 2, "high")],
    "app-uv-fastapi": [],
    "apt-across-stages": [("BO101", 13, "high")],
    "apt-cache-mount-stages": [],  # low: deploy/docker-entrypoint.sh ends in `exec gosu label`
    "apt-conditional-variant": [("BO101", 3, "high")],
    "apt-devcontainer-later-install": [("BO101", 3, "high")],
    "apt-each-run-updates": [("BO101", 2, "high")],
    "apt-split-update-install": [("BO101", 2, "high")],
    "bot-aiogram-poetry-export": [],
    "bot-discord-volumes-never-created": [("BO101", 3, "high")],  # the entrypoint starts the bot as root
    "bot-telegram-sqlite-volume": [("BO101", 3, "high")],
    "conda-env-run-shell": [("BO101", 3, "high")],  # continuumio/miniconda3 runs as root
    "django-media-volume-chown-uid": [],  # low: uwsgi.ini (named by CMD) sets uid = 1000
    "django-sqlite-data-subdir": [("BO101", 3, "high")],
    "django-uv-multistage-nonroot": [],
    "entry-archiver-usermod-spaces": [],  # low: bin/docker_entrypoint.sh drops with gosu
    "entry-chown-at-start-setpriv": [],  # low: setpriv --reuid
    "entry-gosu-usermod-start": [],  # low: start.sh, gosu
    "entry-lsio-base-s6": [],  # low: the s6 service script (root/ copied to /) runs s6-setuidgid abc
    "entry-pip-install-at-start": [("BO101", 8, "high")],  # pip installs at start, as root: root is real
    "entry-s6-overlay-init": [],  # low: s6-setuidgid abc in rootfs/
    "entry-su-exec-alpine": [],  # low: su-exec
    "fastapi-alembic-sqlite-root-tree": [("BO101", 3, "high")],
    "fastapi-fullstack-uv-root": [("BO101", 3, "high")],
    "flask-sqlite-instance-dir": [("BO101", 3, "high")],
    "flask-venv-multistage-user": [],
    "fp-chown-in-same-run": [],
    "fp-distroless-nonroot-base": [],  # distroless :nonroot runs as 65532
    "fp-from-arg-base-image": [],  # root-user medium: the base image is a build arg with no value in the file
    "fp-from-stage-build-arg": [("BO101", 10, "high")],  # runtime-cpu (python:3.11-slim, no USER): root is real
    "fp-mkdir-as-user": [],
    "fp-option-values-as-packages": [],
    "fp-secret-placeholders": [],  # placeholders: low
    "micromamba-base-nonroot": [],
    "micromamba-no-user-switch": [],  # mambaorg/micromamba ends as mambauser
    "ml-cpu-onnx-well-optimized": [],
    "ml-cuda-base-default-torch": [("BO101", 3, "high")],  # nvidia/cuda base: torch's CUDA build is on purpose
    "ml-cuda-base-ships-torch": [("BO101", 2, "high")],  # pytorch/pytorch runs as root; its CUDA torch is an info note
    "ml-cuda-devel-llm-server": [("BO101", 4, "high")],
    "ml-cuda-explicit-index": [("BO101", 3, "high")],  # cu121 index on purpose: cuda-torch is info
    "ml-cuda-plus-pins": [("BO101", 3, "high")],  # +cu118 pins: cuda-torch is info
    "ml-hf-snapshot-at-build-root-cache": [("BO101", 3, "high"), ("BO104", 8, "high")],  # SentenceTransformer(...) at build
    "ml-hf-tokenizer-files-copy": [("BO101", 3, "high"), ("BO104", 8, "high")],  # model.safetensors copied; tokenizer COPY is not
    "ml-no-deps-local-project": [("BO101", 3, "high")],  # --no-deps: the project's own torch pin is not installed
    "ml-pip-dry-run-no-deps": [("BO101", 3, "high")],
    "ml-run-writes-weights": [("BO101", 3, "high"), ("BO104", 9, "high"), ("BO104", 10, "high")],  # .pth and .jit written
    "ml-torchscript-jit-copy": [("BO101", 2, "high"), ("BO104", 7, "high")],  # models/vad.jit copied
    "path-dockerignore-excluded-data": [("BO101", 3, "high")],
    "path-quoted-workdir-arg": [("BO101", 3, "high")],
    "path-quoted-workdir-base-env": [("BO101", 3, "high")],
    "path-quoted-workdir-nodefault": [("BO101", 2, "high")],  # jupyter lab --allow-root
    "path-quoted-workdir-env-home": [],
    "path-shell-var-from-run": [("BO101", 3, "high")],
    "path-source-tree-deleted": [("BO101", 3, "high")],
    "path-spaces-unquoted-risk": [("BO101", 3, "high")],
    "path-tmp-build-dir-removed": [("BO101", 3, "high")],
    "path-volume-never-created": [("BO101", 3, "high")],
    "pipenv-run-entrypoint": [("BO101", 3, "high")],
    "pipenv-system-deploy": [("BO101", 2, "high")],
    "poetry-install-after-copy": [],  # low: docker/entry.sh re-execs itself through gosu
    "poetry-single-stage-in-project": [("BO101", 3, "high")],
    "web-flask-graphviz-single-run": [("BO101", 2, "high"), ("BO110", 2, "high")],  # Python 3.9: EOL 2025-10
    "web-supervisord-sudo-user": [],
    "worker-celery-beat-workdir": [("BO101", 3, "high")],
    "worker-celery-compose-cmd": [],
    "worker-rq-supervisord": [],
}


def analyze_case(name: str, text: str | None = None, *, context: bool = True):
    """A corpus case, or `text` (a variant of its Dockerfile) with the case's directory as context."""
    directory = CORPUS / name
    parsed = parse_file(directory / "Dockerfile") if text is None else parse_string(text, path=directory / "Dockerfile")
    return analyze(parsed, context_dir=directory if context else None, today=TODAY, engine=False)


def dockerfile(name: str) -> str:
    return (CORPUS / name / "Dockerfile").read_text()


def of(result, rule: str):
    return [f for f in result.findings if f.rule == rule]


def test_every_corpus_case_has_an_expectation():
    assert sorted(EXPECTED) == CASES, ("a corpus case was added or removed: analyze it, read its high/critical "
                                       "findings against the file and update EXPECTED")


@pytest.mark.parametrize("name", CASES)
def test_high_and_critical_findings_are_the_expected_ones(name):
    result = analyze_case(name)
    found = sorted((f.rule, f.line, str(f.severity)) for f in result.findings if f.severity >= Severity.HIGH)
    detail = "\n".join(f"  {f.line} {f.rule} {f.severity}: {f.message}" for f in result.findings)
    assert found == sorted(EXPECTED[name]), f"{name}:\n{detail}"


# ---- 1. cuda-torch: CUDA chosen on purpose is an info note with the CPU build's size ---------------------------

@pytest.mark.parametrize("name, line, why", [
    ("ml-cuda-explicit-index", 5, "download.pytorch.org/whl/cu121"),
    ("ml-cuda-plus-pins", 6, "cu118"),
    ("fp-from-stage-build-arg", 7, "download.pytorch.org/whl/cu121"),
])
def test_cuda_chosen_on_purpose_is_an_info_note_with_the_cpu_size(name, line, why):
    found = of(analyze_case(name), "BO103")
    assert [(f.line, f.severity) for f in found] == [(line, Severity.INFO)]
    assert why in found[0].message and "on purpose" in found[0].message
    assert format_size(CUDA_TORCH.bytes) in found[0].message and format_size(TORCH_IMAGE_CPU.bytes) in found[0].message
    assert found[0].estimated_bytes is None  # a GPU image doesn't save those bytes: not counted in the total


def test_base_image_that_ships_cuda_torch():
    found = of(analyze_case("ml-cuda-base-ships-torch"), "BO103")
    # The FROM gets the note; sentence-transformers in requirements.txt finds torch installed and pulls nothing.
    assert [(f.line, f.severity) for f in found] == [(2, Severity.INFO)]
    assert "pytorch/pytorch" in found[0].message


def test_torch_from_pypi_on_a_cuda_base_is_a_note_too():
    text = dockerfile("ml-cuda-explicit-index").replace("FROM python:3.11-slim", "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04")
    text = text.replace(" --index-url https://download.pytorch.org/whl/cu121", "")
    assert [(f.line, f.severity) for f in of(analyze_case("ml-cuda-explicit-index", text), "BO103")] == [(5, Severity.INFO)]


def test_the_seeds_case_stays_high():
    # PyPI's default index on a slim (CPU) base, where CPU was meant: the paperflow worker of the audit.
    seed = REPO / "tests" / "data" / "dockerfiles" / "paperflow-worker"
    result = analyze(parse_file(seed / "Dockerfile"), context_dir=seed, today=TODAY, engine=False)
    assert [(f.severity, f.estimated_bytes) for f in of(result, "BO103")] == [(Severity.HIGH, CUDA_TORCH.bytes)]
    # And the explicit-index corpus file without its index is the same case again.
    text = dockerfile("ml-cuda-explicit-index").replace(" --index-url https://download.pytorch.org/whl/cu121", "")
    assert [(f.line, f.severity) for f in of(analyze_case("ml-cuda-explicit-index", text), "BO103")] == [(5, Severity.HIGH)]


def test_installs_that_cannot_pull_torch_are_not_reported():
    assert of(analyze_case("ml-pip-dry-run-no-deps"), "BO103") == []
    # Without the CPU torch of line 5 to satisfy it, sentence-transformers would pull the CUDA build: but the dry
    # run (line 7) installs nothing and the --no-deps install (line 9) installs no dependency.
    text = dockerfile("ml-pip-dry-run-no-deps").replace(
        "RUN pip install --no-cache-dir torch==2.3.1 --index-url https://download.pytorch.org/whl/cpu", "RUN true")
    text = text.replace("--report /tmp/plan.json -r requirements.txt", "--report /tmp/plan.json sentence-transformers==3.0.1")
    assert of(analyze_case("ml-pip-dry-run-no-deps", text), "BO103") == []
    # Each of the two lines as a real install with dependencies is reported.
    install = text.replace("--dry-run --report /tmp/plan.json ", "")
    assert [(f.line, f.severity) for f in of(analyze_case("ml-pip-dry-run-no-deps", install), "BO103")] == [(7, Severity.MEDIUM)]
    with_deps = text.replace("--no-deps ", "")
    assert [(f.line, f.severity) for f in of(analyze_case("ml-pip-dry-run-no-deps", with_deps), "BO103")] == [(9, Severity.MEDIUM)]
    # `pip download` fetches wheels without installing them.
    downloads = text.replace("RUN true", "RUN pip download --no-deps -d /wheels torch==2.3.1")
    assert of(analyze_case("ml-pip-dry-run-no-deps", downloads), "BO103") == []
    # --no-deps doesn't stop torch itself: named on the line, it is still the CUDA build.
    direct = text.replace("--no-deps sentence-transformers==3.0.1", "--no-deps torch==2.3.1")
    assert [(f.line, f.severity) for f in of(analyze_case("ml-pip-dry-run-no-deps", direct), "BO103")] == [(9, Severity.HIGH)]


# ---- 2. root-user: the base image already ends with a non-root USER ------------------------------------------

@pytest.mark.parametrize("name", ["fp-distroless-nonroot-base", "micromamba-no-user-switch", "micromamba-base-nonroot"])
def test_base_image_with_a_non_root_user(name):
    assert of(analyze_case(name), "BO101") == []


def test_the_same_file_on_a_root_base_is_still_reported():
    text = dockerfile("fp-distroless-nonroot-base").replace("python3-debian12:nonroot", "python3-debian12:latest")
    assert [(f.line, f.severity) for f in of(analyze_case("fp-distroless-nonroot-base", text), "BO101")] == [(9, Severity.HIGH)]


def test_user_from_the_base_images_env_is_resolved():
    # `USER $MAMBA_USER` and `--chown=$MAMBA_USER:...`: MAMBA_USER comes from the base image's ENV.
    result = analyze_case("micromamba-base-nonroot")
    assert of(result, "BO101") == [] and of(result, "BO119") == []
    text = dockerfile("micromamba-base-nonroot").replace("USER $MAMBA_USER", "USER root")
    assert [f.line for f in of(analyze_case("micromamba-base-nonroot", text), "BO101")] == [8]


@pytest.mark.parametrize("name, how", [
    ("app-gosu-puid", "gosu"), ("entry-su-exec-alpine", "su-exec"), ("entry-chown-at-start-setpriv", "setpriv"),
    ("entry-s6-overlay-init", "s6-setuidgid"), ("entry-lsio-base-s6", "s6-setuidgid"),
    ("django-media-volume-chown-uid", "uWSGI"),
])
def test_start_up_that_drops_root_is_low(name, how):
    found = of(analyze_case(name), "BO101")
    assert [f.severity for f in found] == [Severity.LOW] and how in found[0].message
    # Without the context the scripts can't be read: nothing shows the drop, and the finding stays high.
    assert [f.severity for f in of(analyze_case(name, context=False), "BO101")] == [Severity.HIGH]


def test_base_image_from_a_build_arg_without_value_is_medium():
    found = of(analyze_case("fp-from-arg-base-image"), "BO101")
    assert [(f.line, f.severity) for f in found] == [(12, Severity.MEDIUM)]


# ---- 3. root-owned-writable-dir: chowned in the same RUN, or created by the user ------------------------------

def test_directory_chowned_in_the_same_run():
    assert of(analyze_case("fp-chown-in-same-run"), "BO119") == []
    # The same RUN without its chown: root owns /label/data and the file ends as USER label.
    text = dockerfile("fp-chown-in-same-run").replace("; \\\n    chown -R label:label $DATA_DIR $CONFIG_DIR", "")
    found = of(analyze_case("fp-chown-in-same-run", text), "BO119")
    assert [f.line for f in found] == [6] and "/label/data" in found[0].message


def test_chown_in_the_same_run_when_the_container_starts_as_root():
    # entry-archiver-usermod-spaces: `mkdir -p "$DATA_DIR" && chown $ARCHIVER_USER "$DATA_DIR"`.
    assert of(analyze_case("entry-archiver-usermod-spaces"), "BO119") == []


def test_directories_created_by_a_run_that_already_runs_as_the_user():
    assert of(analyze_case("fp-mkdir-as-user"), "BO119") == []
    # Writable names (data, logs) so the rule looks at them at all: made by `USER worker`, they are its own.
    text = dockerfile("fp-mkdir-as-user").replace("/home/worker/.cache/models /home/worker/app/state",
                                                  "/home/worker/app/data /home/worker/app/logs")
    assert of(analyze_case("fp-mkdir-as-user", text), "BO119") == []
    # The same mkdir before `USER worker` runs as root: reported.
    before = text.replace("USER worker\n", "").replace("CMD [", "USER worker\nCMD [")
    assert [f.line for f in of(analyze_case("fp-mkdir-as-user", before), "BO119")] == [7]


# ---- 4. secret-in-env: placeholders are not critical ----------------------------------------------------------

def test_placeholder_values_are_low():
    found = of(analyze_case("fp-secret-placeholders"), "BO117")
    assert [(f.line, f.severity) for f in found] == [(4, Severity.LOW)]
    assert "USE_AUTH_TOKEN" not in found[0].message  # `=no`: a switch, not a secret
    assert "changeme" not in found[0].message  # values are never printed


def test_a_real_looking_value_is_still_critical():
    text = dockerfile("fp-secret-placeholders").replace("DB_PASSWORD=changeme", "DB_PASSWORD=Tr0ub4dor-and-3")
    found = of(analyze_case("fp-secret-placeholders", text), "BO117")
    assert [(f.line, f.severity) for f in found] == [(4, Severity.CRITICAL)]
    assert "Tr0ub4dor" not in found[0].message


@pytest.mark.parametrize("value, severity", [
    ('""', Severity.LOW), ("none", Severity.LOW), ("<your-key>", Severity.LOW), ("xxx", Severity.LOW),
    ("your_api_key_here", Severity.LOW), ("${OPENAI_API_KEY}", Severity.LOW), ("false", None),
    ("sk-proj-4f9aQ2x", Severity.CRITICAL),
])
def test_placeholder_shapes(value, severity):
    text = dockerfile("fp-secret-placeholders").replace('OPENAI_API_KEY=""', f"OPENAI_API_KEY={value}")
    text = text.replace('    WEBUI_SECRET_KEY="" \\\n', "").replace("    SECRET_KEY_FALLBACKS=none \\\n", "")
    text = text.replace("    DB_PASSWORD=changeme \\\n", "")
    found = of(analyze_case("fp-secret-placeholders", text), "BO117")
    assert [f.severity for f in found] == ([severity] if severity is not None else [])


def test_a_build_arg_copied_into_env_stays_high():
    text = dockerfile("fp-secret-placeholders").replace('ENV OPENAI_API_KEY=""', "ARG OPENAI_API_KEY\nENV OPENAI_API_KEY=${OPENAI_API_KEY}")
    assert Severity.HIGH in [f.severity for f in of(analyze_case("fp-secret-placeholders", text), "BO117")]


# ---- 5. option values are never read as package names ---------------------------------------------------------

OPTION_VALUES = ("pypi.org", "Dpkg::Options", "--force-confold", "bookworm", "constraints.txt", "/tmp/src", "/tmp/pip.log")


def test_option_values_are_not_packages_in_any_message():
    result = analyze_case("fp-option-values-as-packages")
    assert result.findings
    for finding in result.findings:
        text = f"{finding.message} {finding.estimate_basis or ''}"
        assert not any(value in text for value in OPTION_VALUES), text


def test_option_values_with_the_rules_that_list_packages():
    # The corpus lines plus packages that make the listing rules speak: build tools, recommends, inline installs.
    text = dockerfile("fp-option-values-as-packages").replace("nginx-light", "nginx-light build-essential").replace(
        "--no-install-recommends -o", "-o").replace("gunicorn==22.0.0", "gunicorn==22.0.0 flask requests")
    text = text.replace("RUN pip install --no-cache-dir --extra-index-url", "RUN uv pip install --system --extra-index-url")
    text += "RUN uv pip install --system --requirements requirements.txt --constraints constraints.txt\n"
    text += "RUN apk add --no-cache -X https://dl-cdn.alpinelinux.org/alpine/edge/testing py3-numpy\n"
    result = analyze_case("fp-option-values-as-packages", text)
    listed = {f.rule: f.message for f in result.findings}
    assert "build-essential" in listed["BO102"] and "build-essential" in listed["BO106"]
    assert "flask" in listed["BO116"]
    for finding in result.findings:
        for value in (*OPTION_VALUES, "dl-cdn", "requirements.txt"):
            assert value not in finding.message or finding.rule == "BO120", finding.message


# ---- 6. a FROM that picks a local stage through a build arg ---------------------------------------------------

def test_from_stage_through_a_build_arg():
    result = analyze_case("fp-from-stage-build-arg")
    assert of(result, "BO112") == []
    # The build script passes VARIANT (no default in the file): still a local stage, never an untagged image.
    text = dockerfile("fp-from-stage-build-arg").replace("ARG VARIANT=cpu", "ARG VARIANT")
    assert of(analyze_case("fp-from-stage-build-arg", text), "BO112") == []


def test_base_image_from_a_build_arg_is_not_an_untagged_or_full_image():
    result = analyze_case("fp-from-arg-base-image")
    assert of(result, "BO112") == [] and of(result, "BO111") == [] and of(result, "BO110") == []
    # A real untagged image next to it is still reported.
    text = dockerfile("fp-from-arg-base-image").replace("FROM ${FROM} AS builder", "FROM debian AS builder")
    assert [f.line for f in of(analyze_case("fp-from-arg-base-image", text), "BO112")] == [4]


# ---- missed findings: weights written by a RUN, TorchScript .jit --------------------------------------------

def test_run_that_writes_weights_is_baked_model():
    found = of(analyze_case("ml-run-writes-weights"), "BO104")
    assert [(f.line, f.severity) for f in found] == [(9, Severity.HIGH), (10, Severity.HIGH)]
    assert "/app/weights/classifier.pth" in found[0].message and "/app/weights/head.jit" in found[1].message
    # Without the context (train.py unread) the output path on the command line still says it.
    assert [f.line for f in of(analyze_case("ml-run-writes-weights", context=False), "BO104")] == [9, 10]


@pytest.mark.parametrize("command", [
    "python export.py model.onnx",
    "python3 -m tools.export --output=/srv/model.safetensors",
    "./convert.sh /models/ggml-model.bin",
    "python -c \"import torch; torch.save(torch.nn.Linear(2, 2).state_dict(), 'w.pt')\"",
    "python -c \"import torch; torch.onnx.export(m, x, '/app/m.onnx')\"",
])
def test_other_shapes_of_writing_weights(command):
    text = dockerfile("ml-run-writes-weights").replace("RUN python train.py --epochs 3 --out /app/weights/classifier.pth",
                                                       f"RUN {command}")
    assert 9 in [f.line for f in of(analyze_case("ml-run-writes-weights", text, context=False), "BO104")]


def test_code_that_only_uses_torch_jit_is_not_a_weight_file():
    text = dockerfile("ml-run-writes-weights").replace(
        "RUN python train.py --epochs 3 --out /app/weights/classifier.pth",
        "RUN python -c \"import torch.jit\" && python -m compileall serve.py")
    assert [f.line for f in of(analyze_case("ml-run-writes-weights", text, context=False), "BO104")] == [10]


def test_torchscript_jit_copy_is_baked_model():
    found = of(analyze_case("ml-torchscript-jit-copy"), "BO104")
    assert [(f.line, f.severity) for f in found] == [(7, Severity.HIGH)] and "models/vad.jit" in found[0].message
    assert ".jit" in WEIGHT_SUFFIXES and is_weight_path("models/vad.jit")


def test_inspect_classifies_the_corpus_jit_path_as_torchscript():
    # The image the corpus file builds holds /service/models/vad.jit (WORKDIR /service, COPY models/vad.jit models/);
    # tests/integration/test_analyze_engine.py builds it for real and inspects it.
    from buildopt.inspect.classify import model_format

    assert model_format("service/models/vad.jit") == "torchscript"


# ---- no engine: analyze works and falls back silently ---------------------------------------------------------

def test_analyze_without_any_engine(tmp_path):
    case = CORPUS / "fp-distroless-nonroot-base"
    args = [str(Path(sys.executable).parent / "buildopt"), "analyze", str(case / "Dockerfile"), "--context", str(case),
            "--format", "json"]
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock", "BUILDOPT_TODAY": "2026-12-01",
           "HOME": str(tmp_path)}
    unreachable = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO)
    assert unreachable.returncode == 0, unreachable.stderr
    assert unreachable.stderr == ""
    off = subprocess.run([*args, "--no-engine"], capture_output=True, text=True, env=env, cwd=REPO)
    assert off.returncode == 0 and off.stdout == unreachable.stdout
    assert '"root-user"' not in unreachable.stdout
