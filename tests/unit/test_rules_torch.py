"""cuda-torch (BO103), with requirements read from the context."""

from __future__ import annotations

import pytest

from buildopt.estimates import CUDA_TORCH
from buildopt.severity import Severity
from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\nWORKDIR /app\n"


@pytest.mark.parametrize("command", [
    "pip install torch",
    "pip3 install --no-cache-dir torch==2.6.0 torchvision",
    "python -m pip install torchaudio",
    "python3.11 -m pip install 'torch>=2'",
    "/opt/venv/bin/pip install torch",
    "uv pip install --system torch",
    "sh -c 'pip install torch'",
])
def test_torch_from_pypi_is_the_cuda_build(command):
    found = of(run(BASE + f"RUN {command}\n"), "cuda-torch")
    assert [f.line for f in found] == [3]
    assert found[0].severity == Severity.HIGH
    assert found[0].estimated_bytes == CUDA_TORCH.bytes == 4_025_553_478


@pytest.mark.parametrize("command", [
    "pip install --index-url https://download.pytorch.org/whl/cpu torch",
    "pip install torch --extra-index-url=https://download.pytorch.org/whl/cpu",
    "pip install -i https://mirror.example/whl/cpu torch torchvision",
    "pip install torch==2.6.0+cpu",
    "pip install 'torch==2.6.0+cpu' 'torchvision==0.21.0+cpu'",
    "uv pip install --torch-backend=cpu torch",
    "pip install -f https://download.pytorch.org/whl/cpu/torch_stable.html torch",
])
def test_cpu_index_or_pin_passes(command):
    assert of(run(BASE + f"RUN {command}\n"), "cuda-torch") == []


def test_index_from_arg_default_is_substituted():
    text = BASE + "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu\nRUN pip install --index-url ${TORCH_INDEX_URL} torch\n"
    assert of(run(text), "cuda-torch") == []
    other = text.replace("whl/cpu", "whl/cu121")
    assert lines(run(other), "cuda-torch") == [4]


def test_pip_index_url_in_env_counts():
    text = BASE + "ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu\nRUN pip install torch\n"
    assert of(run(text), "cuda-torch") == []


def test_uninstall_and_download_are_not_installs():
    assert of(run(BASE + "RUN pip uninstall -y torch && pip download torch\n"), "cuda-torch") == []


def test_torch_in_requirements_read_from_the_context(tmp_path):
    text = BASE + "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    reqs = "# CPU wanted: pip install torch==2.6.0+cpu --index-url https://download.pytorch.org/whl/cpu\ntorch==2.6.0\nsentence-transformers==5.1.2\n"
    found = of(run(text, context={"requirements.txt": reqs}, tmp_path=tmp_path), "cuda-torch")
    assert [f.line for f in found] == [4]
    assert "requirements.txt:2" in found[0].message and "torch==2.6.0" in found[0].message


def test_requirements_copied_to_another_path_and_nested(tmp_path):
    text = BASE + "COPY reqs/ /tmp/reqs/\nRUN pip install -r /tmp/reqs/prod.txt\n"
    context = {"reqs/prod.txt": "-r base.txt\nfastapi\n", "reqs/base.txt": "torch==2.5.1\n"}
    found = of(run(text, context=context, tmp_path=tmp_path), "cuda-torch")
    assert [f.line for f in found] == [4] and "base.txt:1" in found[0].message


def test_index_url_inside_the_requirements_file_counts(tmp_path):
    text = BASE + "COPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    context = {"requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cpu\ntorch==2.6.0\n"}
    assert of(run(text, context=context, tmp_path=tmp_path), "cuda-torch") == []


def test_requirements_via_bind_mount(tmp_path):
    text = BASE + "RUN --mount=type=bind,source=requirements.txt,target=/tmp/r.txt pip install -r /tmp/r.txt\n"
    found = of(run(text, context={"requirements.txt": "torch\n"}, tmp_path=tmp_path), "cuda-torch")
    assert [f.line for f in found] == [3]


def test_without_context_requirements_are_not_guessed():
    assert of(run(BASE + "RUN pip install -r requirements.txt\n"), "cuda-torch") == []


def test_packages_that_pull_torch_are_reported_with_lower_confidence():
    found = of(run(BASE + "RUN pip install sentence-transformers\n"), "cuda-torch")
    assert [f.line for f in found] == [3]
    assert found[0].severity == Severity.MEDIUM and "lower confidence" in found[0].message
    assert of(run(BASE + "RUN pip install 'transformers[torch]'\n"), "cuda-torch")
    assert of(run(BASE + "RUN pip install transformers\n"), "cuda-torch") == []


def test_puller_after_a_cpu_torch_install_is_fine():
    text = BASE + ("RUN pip install --index-url https://download.pytorch.org/whl/cpu torch\n"
                   "RUN pip install sentence-transformers whisperx\n")
    assert of(run(text), "cuda-torch") == []


def test_cpu_torch_in_a_parent_stage_carries_over():
    text = ("FROM python:3.11-slim AS base\nRUN pip install torch==2.6.0+cpu\n"
            "FROM base\nRUN pip install sentence-transformers\n")
    assert of(run(text), "cuda-torch") == []


def test_builder_stage_is_checked_too():
    text = ("FROM python:3.11-slim AS builder\nRUN pip install torch\nFROM python:3.11-slim\n"
            "COPY --from=builder /opt/venv /opt/venv\n")
    assert lines(run(text), "cuda-torch") == [2]


def test_pyproject_dependencies_of_a_local_install(tmp_path):
    pyproject = '[project]\nname = "svc"\nversion = "1"\ndependencies = ["torch>=2"]\n'
    text = BASE + "COPY . .\nRUN pip install --no-cache-dir .\n"
    assert lines(run(text, context={"pyproject.toml": pyproject}, tmp_path=tmp_path), "cuda-torch") == [4]


def test_uv_index_in_pyproject_counts(tmp_path):
    pyproject = ('[project]\nname = "svc"\nversion = "1"\ndependencies = ["torch>=2"]\n'
                 '[[tool.uv.index]]\nname = "pytorch-cpu"\nurl = "https://download.pytorch.org/whl/cpu"\n')
    text = BASE + "COPY . .\nRUN uv sync --no-cache\n"
    assert of(run(text, context={"pyproject.toml": pyproject}, tmp_path=tmp_path), "cuda-torch") == []


def test_heredoc_run_is_parsed():
    text = BASE + "RUN <<EOF\nset -e\npip install torch\nEOF\n"
    assert lines(run(text), "cuda-torch") == [3]


def test_two_step_install_cpu_torch_then_requirements_naming_torch(tmp_path):
    # The audit's Option A: torch from the CPU index first, then the requirements that pin torch again.
    text = BASE + ("COPY requirements.txt .\nRUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cpu "
                   "&& pip install --no-cache-dir -r requirements.txt\n")
    assert of(run(text, context={"requirements.txt": "torch==2.6.0\nsentence-transformers\n"}, tmp_path=tmp_path), "cuda-torch") == []
