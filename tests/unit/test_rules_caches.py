"""pip-cache (BO105), apt-recommends (BO106), apt-lists-left (BO107)."""

from __future__ import annotations

import pytest

from buildopt.estimates import APT_LISTS, PIP_CACHE_CUDA_TORCH
from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\n"


# ---- pip-cache --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "pip install -r requirements.txt",
    "python -m pip install flask",
    "uv pip install --system flask",
    "uv sync --frozen",
    "pip install --upgrade pip",
])
def test_pip_install_keeping_its_cache(command):
    assert lines(run(BASE + f"RUN {command}\n"), "pip-cache") == [2]


@pytest.mark.parametrize("run_line", [
    "RUN pip install --no-cache-dir -r requirements.txt",
    "RUN pip --no-cache-dir install flask",
    "RUN uv pip install --no-cache --system flask",
    "RUN uv sync --no-cache",
    "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt",
    "RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system flask",
    "RUN pip install flask && rm -rf /root/.cache/pip",
    "RUN pip install flask && pip cache purge",
    "RUN pip uninstall -y flask",
    "RUN pip download -d /wheels flask",
    "RUN pip install --cache-dir=/dev/null flask",
])
def test_no_cache_left(run_line):
    assert of(run(BASE + run_line + "\n"), "pip-cache") == []


def test_pip_no_cache_dir_env():
    assert of(run(BASE + "ENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n"), "pip-cache") == []
    assert lines(run(BASE + "ENV PIP_NO_CACHE_DIR=0\nRUN pip install flask\n"), "pip-cache") == [3]
    assert lines(run(BASE + "RUN pip install flask\nENV PIP_NO_CACHE_DIR=1\n"), "pip-cache") == [2]


def test_env_from_a_parent_stage_counts():
    text = "FROM python:3.11-slim AS base\nENV PIP_NO_CACHE_DIR=true\nFROM base\nRUN pip install flask\n"
    assert of(run(text), "pip-cache") == []


def test_builder_stages_do_not_ship_their_cache():
    text = BASE.replace("\n", " AS builder\n") + "RUN pip install flask\nFROM python:3.11-slim\nCOPY --from=builder /opt/venv /opt/venv\n"
    assert of(run(text), "pip-cache") == []


def test_cuda_torch_install_estimates_the_wheel_cache():
    found = of(run(BASE + "RUN pip install torch\n"), "pip-cache")
    assert found[0].estimated_bytes == PIP_CACHE_CUDA_TORCH.bytes and found[0].estimate_basis.startswith("estimate")


# ---- apt-recommends ---------------------------------------------------------------------------------------

def test_apt_install_without_no_install_recommends():
    found = of(run(BASE + "RUN apt-get update && apt-get install -y gcc g++ && rm -rf /var/lib/apt/lists/*\n"), "apt-recommends")
    assert [f.line for f in found] == [2]
    assert found[0].estimated_bytes == (308_681 - 252_396) * 1024  # measured apt sets, with minus without


@pytest.mark.parametrize("run_line", [
    "RUN apt-get install -y --no-install-recommends curl",
    "RUN apt-get install -y -o APT::Install-Recommends=false curl",
    "RUN apk add --no-cache curl",
    "RUN apt-get update",
])
def test_apt_recommends_off(run_line):
    assert of(run(BASE + run_line + "\n"), "apt-recommends") == []


def test_apt_conf_written_earlier_disables_recommends():
    text = BASE + ("RUN echo 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/99norec\n"
                   "RUN apt-get install -y curl\n")
    assert of(run(text), "apt-recommends") == []
    later = BASE + "RUN apt-get install -y curl\nRUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/x\n"
    assert lines(run(later), "apt-recommends") == [2]


def test_unknown_packages_have_no_estimate():
    found = of(run(BASE + "RUN apt-get install -y libmagic1\n"), "apt-recommends")
    assert [f.line for f in found] == [2] and found[0].estimated_bytes is None


# ---- apt-lists-left ---------------------------------------------------------------------------------------

def test_apt_update_without_removing_lists():
    found = of(run(BASE + "RUN apt-get update && apt-get install -y --no-install-recommends curl\n"), "apt-lists-left")
    assert [f.line for f in found] == [2] and found[0].estimated_bytes == APT_LISTS.bytes


@pytest.mark.parametrize("run_line", [
    "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update \\\n && apt-get install -y curl \\\n && apt-get clean \\\n && rm -rf /var/lib/apt/lists",
    "RUN --mount=type=cache,target=/var/lib/apt/lists --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y curl",
    "RUN apt-get install -y curl",
])
def test_apt_lists_cleaned(run_line):
    assert of(run(BASE + run_line + "\n"), "apt-lists-left") == []


def test_lists_removed_in_a_later_run_still_count():
    text = BASE + "RUN apt-get update\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
    assert lines(run(text), "apt-lists-left") == [2]


def test_apt_lists_in_builder_stage_are_not_reported():
    text = "FROM debian:12 AS b\nRUN apt-get update\nFROM debian:12\nCOPY --from=b /x /x\n"
    assert of(run(text), "apt-lists-left") == []
