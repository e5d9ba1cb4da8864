"""single-stage-build-tools (BO102)."""

from __future__ import annotations

from buildopt.estimates import GCC_TOOLCHAIN_IMAGE, RUST_TOOLCHAIN
from tests.unit.analyze_helpers import lines, of, run


def test_gcc_gxx_left_in_a_single_stage_image_with_the_measured_size():
    text = "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc g++ libmagic1\nCMD x\n"
    found = of(run(text), "single-stage-build-tools")
    assert [f.line for f in found] == [2]
    assert "gcc" in found[0].message and "g++" in found[0].message and "libmagic1" not in found[0].message
    assert found[0].estimated_bytes == GCC_TOOLCHAIN_IMAGE.bytes
    assert found[0].estimate_basis.startswith("measured-image")


def test_build_essential_git_and_dev_headers():
    text = ("FROM python:3.11-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends "
            "build-essential git libmagic-dev \\\n && rm -rf /var/lib/apt/lists/*\n")
    found = of(run(text), "single-stage-build-tools")
    assert [(f.line, f.end_line) for f in found] == [(2, 4)]
    for name in ("build-essential", "git", "libmagic-dev"):
        assert name in found[0].message
    assert found[0].estimate_basis.startswith("measured-apt")


def test_tools_in_a_builder_stage_are_fine():
    text = ("FROM python:3.11-slim AS builder\nRUN apt-get update && apt-get install -y gcc g++ git\n"
            "RUN python -m venv /opt/venv\nFROM python:3.11-slim\nCOPY --from=builder /opt/venv /opt/venv\n")
    assert of(run(text), "single-stage-build-tools") == []


def test_tools_in_a_stage_the_final_one_is_built_from_are_reported():
    text = "FROM python:3.11-slim AS base\nRUN apt-get install -y gcc\nFROM base\nCMD x\n"
    assert lines(run(text), "single-stage-build-tools") == [2]


def test_whole_filesystem_copy_from_a_builder_ships_its_tools():
    text = "FROM debian:12 AS builder\nRUN apt-get install -y gcc\nFROM scratch\nCOPY --from=builder / /\n"
    assert lines(run(text), "single-stage-build-tools") == [2]


def test_removed_in_the_same_run_is_fine():
    text = ("FROM python:3.11-slim\nRUN apt-get install -y gcc libffi-dev && pip install --no-cache-dir cffi "
            "&& apt-get purge -y gcc libffi-dev\n")
    assert of(run(text), "single-stage-build-tools") == []


def test_apk_virtual_package_deleted_in_the_same_run_is_fine():
    text = "FROM python:3.11-alpine\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev && apk del .build-deps\n"
    assert of(run(text), "single-stage-build-tools") == []
    kept = "FROM python:3.11-alpine\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev\n"
    assert lines(run(kept), "single-stage-build-tools") == [2]


def test_removed_in_a_later_layer_is_still_reported_with_a_note():
    text = "FROM python:3.11-slim\nRUN apt-get install -y gcc\nRUN apt-get purge -y gcc\n"
    found = of(run(text), "single-stage-build-tools")
    assert [f.line for f in found] == [2] and "line 3" in found[0].message


def test_rustup_via_curl_pipe_sh():
    text = ("FROM python:3.10-slim\nRUN curl --proto '=https' --tlsv1.2 https://sh.rustup.rs -sSf | sh -s -- -y\n"
            "ENV PATH=/root/.cargo/bin:$PATH\n")
    found = of(run(text), "single-stage-build-tools")
    assert [f.line for f in found] == [2]
    assert "rustup" in found[0].message and found[0].estimated_bytes == RUST_TOOLCHAIN.bytes


def test_runtime_libraries_are_not_build_tools():
    text = "FROM python:3.11-slim\nRUN apt-get install -y --no-install-recommends libmagic1 ffmpeg curl espeak-ng\n"
    assert of(run(text), "single-stage-build-tools") == []


def test_onbuild_run_is_not_executed_in_this_image():
    text = "FROM python:3.11-slim\nONBUILD RUN apt-get install -y gcc\n"
    assert of(run(text), "single-stage-build-tools") == []
