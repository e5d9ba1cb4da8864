"""eol-python (BO110), full-base-image (BO111), latest-tag (BO112), heavy-runtime-package (BO109)."""

from __future__ import annotations

from datetime import date

import pytest

from buildopt.rules.base_image import eol_date, parse_image
from buildopt.severity import Severity
from tests.unit.analyze_helpers import lines, of, run

# ---- eol-python -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("base, today, severity, words", [
    ("python:3.8-slim", date(2026, 11, 22), Severity.HIGH, "reached end of life in 2024-10"),
    ("python:3.10-slim", date(2026, 11, 22), Severity.MEDIUM, "reached end of life in 2026-10"),
    ("python:3.10-slim", date(2026, 3, 1), Severity.LOW, "near end of life: 2026-10"),
    ("python:3.11-slim-bookworm", date(2026, 11, 22), Severity.LOW, "near end of life: 2027-10"),
    ("docker.io/library/python:3.9.18", date(2026, 11, 22), Severity.HIGH, "2025-10"),
])
def test_eol_from_the_base_tag(base, today, severity, words):
    found = of(run(f"FROM {base}\nCMD x\n", today=today), "eol-python")
    assert [f.line for f in found] == [1]
    assert found[0].severity == severity and words in found[0].message


def test_supported_python_is_fine():
    assert of(run("FROM python:3.12-slim\n", today=date(2026, 11, 22)), "eol-python") == []
    assert of(run("FROM python:3.11-slim\n", today=date(2026, 10, 30)), "eol-python") == []


def test_eol_date_is_the_last_day_of_the_month():
    assert eol_date((3, 10)) == date(2026, 10, 31)
    assert of(run("FROM python:3.10-slim\n", today=date(2026, 10, 31)), "eol-python")[0].severity == Severity.LOW
    assert of(run("FROM python:3.10-slim\n", today=date(2026, 11, 1)), "eol-python")[0].severity == Severity.MEDIUM


def test_base_version_from_an_arg():
    found = of(run("ARG PYTHON_VERSION=3.10\nFROM python:${PYTHON_VERSION}-slim\n"), "eol-python")
    assert [f.line for f in found] == [2]


def test_python_apt_package_on_another_base():
    text = "FROM ubuntu:22.04\nRUN apt-get install -y --no-install-recommends python3.9\n"
    found = of(run(text), "eol-python")
    assert [f.line for f in found] == [2] and "python3.9" in found[0].message


def test_distro_python3():
    found = of(run("FROM debian:bullseye\nRUN apt-get install -y python3\n"), "eol-python")
    assert [f.line for f in found] == [2] and "3.9" in found[0].message


def test_final_stage_chain_is_what_counts():
    text = "FROM python:3.8 AS builder\nRUN true\nFROM python:3.12-slim\nCOPY --from=builder /a /a\n"
    assert of(run(text), "eol-python") == []
    text = "FROM python:3.8-slim AS base\nFROM base\nCMD x\n"
    assert lines(run(text), "eol-python") == [1]


# ---- full-base-image ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["python:3.11", "python:3", "python", "python:3.11-bookworm", "python:latest"])
def test_full_python_image(base):
    assert lines(run(f"FROM {base}\n"), "full-base-image") == [1]


@pytest.mark.parametrize("base", ["python:3.11-slim", "python:3.12-alpine", "python:3.11-slim-bookworm", "debian:12-slim"])
def test_slim_images(base):
    assert of(run(f"FROM {base}\n"), "full-base-image") == []


def test_full_image_in_a_builder_only_is_fine():
    text = "FROM python:3.11 AS builder\nRUN true\nFROM python:3.11-slim\nCOPY --from=builder /opt/venv /opt/venv\n"
    assert of(run(text), "full-base-image") == []


# ---- latest-tag -------------------------------------------------------------------------------------------

def test_latest_and_untagged():
    text = "FROM python:latest AS a\nRUN true\nFROM ubuntu\nRUN true\nFROM a\nFROM scratch\nFROM registry:5000/team/img\n"
    assert lines(run(text), "latest-tag") == [1, 3, 7]


def test_pinned_tags_and_digests_pass():
    text = ("ARG BASE=python:3.12-slim\nFROM ${BASE}\nFROM ghcr.io/org/img:1.2@sha256:" + "a" * 64 +
            "\nFROM localhost:5000/img:2\n")
    assert of(run(text), "latest-tag") == []


def test_arg_without_tag_is_resolved():
    assert lines(run("ARG BASE=python\nFROM $BASE\n"), "latest-tag") == [2]


def test_parse_image():
    ref = parse_image("registry.example:5000/team/python:3.11-slim@sha256:abc")
    assert (ref.registry, ref.repository, ref.tag, ref.digest, ref.name) == (
        "registry.example:5000", "team/python", "3.11-slim", "sha256:abc", "python")


# ---- heavy-runtime-package ----------------------------------------------------------------------------------

def test_libreoffice_suggests_a_separate_service_with_both_estimates():
    found = of(run("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y libreoffice curl\n"),
               "heavy-runtime-package")
    assert [f.line for f in found] == [2]
    assert "LibreOffice" in found[0].message and "600 MB" in found[0].message
    assert "separate" in found[0].fix and found[0].estimated_bytes == 2_035_257 * 1024


@pytest.mark.parametrize("packages", ["texlive-full", "default-jdk", "openjdk-17-jre-headless", "chromium"])
def test_other_heavy_packages(packages):
    assert lines(run(f"FROM python:3.11-slim\nRUN apt-get install -y --no-install-recommends {packages}\n"),
                 "heavy-runtime-package") == [2]


def test_playwright_browsers():
    assert lines(run("FROM python:3.11-slim\nRUN playwright install --with-deps chromium\n"), "heavy-runtime-package") == [2]


def test_heavy_package_in_a_separate_converter_stage_is_fine():
    text = ("FROM python:3.12-slim AS converter\nRUN apt-get install -y --no-install-recommends libreoffice\n"
            "FROM python:3.12-slim\nCMD x\n")
    assert of(run(text), "heavy-runtime-package") == []


def test_ffmpeg_is_a_normal_runtime_dependency():
    assert of(run("FROM python:3.11-slim\nRUN apt-get install -y --no-install-recommends ffmpeg\n"), "heavy-runtime-package") == []
