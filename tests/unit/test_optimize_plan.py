"""Plan extraction: the original Dockerfile taken apart (base, packages split, installs, app files, metadata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildopt.dockerfile import parse_string
from buildopt.optimize.extract.installs import project_skeleton
from buildopt.optimize.packages import is_build_only, runtime_for, split_packages
from buildopt.optimize.plan import BaseImage, Unmodelable, extract_plan, modelable

PAPERFLOW = """FROM python:3.11-slim
RUN apt-get update && apt-get install -y gcc g++ libmagic-dev ffmpeg
WORKDIR /app
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
COPY requirements.txt .
RUN pip install -r requirements.txt
RUN mkdir -p /app/uploads && chmod 777 /app/uploads
COPY app ./app
LABEL org.opencontainers.image.title=paperflow
EXPOSE 8000
HEALTHCHECK --interval=30s CMD curl -f http://localhost:8000/health || exit 1
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def _plan(text: str, context: Path | None = None):
    return extract_plan(parse_string(text), context)


# -- system packages ------------------------------------------------------------------------------------
def test_split_dev_packages_build_and_their_libraries_run():
    build, runtime, unknown = split_packages(
        ["gcc", "g++", "build-essential", "libmagic-dev", "libpq-dev", "ffmpeg", "espeak-ng", "curl", "git", "cargo",
         "rustc", "libfoo-dev", "python3-dev", "libreoffice"])
    assert build == ["gcc", "g++", "build-essential", "libmagic-dev", "libpq-dev", "git", "cargo", "rustc",
                     "libfoo-dev", "python3-dev"]
    assert runtime == ["libmagic1", "libpq5", "ffmpeg", "espeak-ng", "curl", "libreoffice"]
    assert unknown == ["libfoo-dev"]  # reported: no runtime library known


@pytest.mark.parametrize("dev, lib", [
    ("libmagic-dev", "libmagic1"), ("libpq-dev", "libpq5"), ("libxml2-dev", "libxml2"),
    ("libjpeg-dev", "libjpeg62-turbo"), ("libffi-dev", "libffi8"), ("libssl-dev", "libssl3"),
    ("zlib1g-dev", "zlib1g"), ("libsndfile1-dev", "libsndfile1"), ("libpq-dev=15.*", "libpq5"),
])
def test_dev_to_runtime_mapping(dev, lib):
    assert is_build_only(dev) and runtime_for(dev) == lib


def test_versioned_compilers_are_build_only():
    assert is_build_only("gcc-12") and is_build_only("g++-12") and not is_build_only("libgcc-s1")


# -- base image -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("image, python, slim, moved", [
    ("python:3.10-slim", "3.10", "python:3.10-slim", "python:3.12-slim"),
    ("python:3.11", "3.11", "python:3.11-slim", "python:3.12"),
    ("python:3.11.9-slim-bookworm", "3.11", "python:3.11.9-slim-bookworm", "python:3.12-slim-bookworm"),
    ("python:3.11-bookworm", "3.11", "python:3.11-slim-bookworm", "python:3.12-bookworm"),
    ("docker.io/library/python:3.11", "3.11", "docker.io/library/python:3.11-slim", "docker.io/library/python:3.12"),
])
def test_base_image_variants(image, python, slim, moved):
    base = BaseImage.parse(image, image)
    assert base.is_python and base.python == python
    assert base.slim() == slim
    assert base.with_python("3.12") == moved


def test_non_python_and_alpine_bases_are_not_modelled():
    assert not BaseImage.parse("node:20", "node:20").is_python
    assert not BaseImage.parse("python:3.12-alpine", "python:3.12-alpine").is_python


# -- what can be modelled -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, reason", [
    ("FROM python:3.11-slim AS b\nRUN true\nFROM python:3.11-slim\nCOPY --from=b / /\n", "multi-stage"),
    ("FROM node:20\nRUN npm ci\n", "not a Debian-based official python image"),
    ("FROM python:3.11-slim\nONBUILD RUN pip install x\n", "ONBUILD"),
    ("FROM python:3.11-slim\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo\n", "SHELL"),
    ("FROM python:3.11-slim\nRUN <<EOF\npip install x\nEOF\n", "heredocs"),
    ("# escape=`\nFROM python:3.11-slim\nRUN echo\n", "escape"),
])
def test_unmodelable_files_say_why(text, reason):
    reasons = modelable(parse_string(text))
    assert any(reason in item for item in reasons), reasons
    with pytest.raises(Unmodelable):
        extract_plan(parse_string(text), None)


def test_install_steps_outside_pip_are_not_modelled():
    text = "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc make\nRUN cd /src && make install\n"
    with pytest.raises(Unmodelable) as err:
        _plan(text)
    assert "builds something outside pip" in str(err.value)


# -- the plan -------------------------------------------------------------------------------------------
def test_plan_of_a_paperflow_like_file(tmp_path):
    (tmp_path / "requirements.txt").write_text("torch==2.6.0\ncelery==5.5.0\n")
    plan = _plan(PAPERFLOW, tmp_path)
    assert plan.base.python == "3.11" and plan.builder_base == plan.runtime_base == "python:3.11-slim"
    assert plan.apt_packages == ["gcc", "g++", "libmagic-dev", "ffmpeg"] and plan.apt_lines == [2]
    assert not plan.apt_flags_ok and not plan.apt_lists_removed
    assert plan.venv == "/opt/venv"
    assert plan.python_packages == ["torch", "celery"]
    [pip] = plan.pip_commands
    assert pip.requirement_files == ["requirements.txt"] and pip.brings == ["torch", "celery"] and pip.line == 7
    assert plan.workdirs == ["/app"] and plan.writable_dirs == ["/app/uploads"]
    assert plan.dropped_chmods == ["777 /app/uploads"]
    assert [step.copy.sources for step in plan.app_copies] == [["app"]]
    assert plan.tail == ["LABEL org.opencontainers.image.title=paperflow", "EXPOSE 8000"]
    assert plan.exposed_ports == [8000]
    assert plan.healthcheck.command == "curl -f http://localhost:8000/health || exit 1"
    assert plan.cmd.startswith('CMD ["uvicorn"') and plan.entrypoint is None
    assert plan.original_user is None
    # ENV is kept minus the venv PATH, which the template sets
    assert [env.pairs for env in plan.env] == [[("PYTHONUNBUFFERED", "1")]]
    # the builder replays WORKDIR, the requirements COPY and the install; nothing of the app
    assert [step.render() for step in plan.builder_steps] == [
        "WORKDIR /app", "COPY requirements.txt .", "RUN pip install -r requirements.txt"]


def test_requirements_reached_only_through_copy_dot_get_their_own_copy(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r base.txt\nflask==3.0\n")
    (tmp_path / "base.txt").write_text("sentence-transformers==3.0\n")
    text = "FROM python:3.11-slim\nWORKDIR /srv\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"flask\", \"run\"]\n"
    plan = _plan(text, tmp_path)
    rendered = [step.render() for step in plan.builder_steps]
    assert "COPY requirements.txt /srv/requirements.txt" in rendered
    assert "COPY base.txt /srv/base.txt" in rendered  # the nested -r file too
    assert not plan.sources_in_builder and plan.broad_copy_before_install == [3]
    assert set(plan.python_packages) == {"flask", "sentence-transformers"}


def test_local_project_installs_copy_its_skeleton(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "rag"\nreadme = "README.md"\n'
        'dependencies = ["fastapi"]\n[project.optional-dependencies]\nall = ["pillow"]\n'
        '[tool.setuptools.packages.find]\ninclude = ["rag*"]\n')
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "rag").mkdir()
    (tmp_path / "rag" / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    assert project_skeleton(tmp_path) == ["pyproject.toml", "README.md", "rag/"]
    text = "FROM python:3.10-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -e .[all]\nCMD [\"python\", \"api.py\"]\n"
    plan = _plan(text, tmp_path)
    assert [step.render() for step in plan.builder_steps] == [
        "WORKDIR /app", "COPY pyproject.toml README.md /app/", "COPY rag/ /app/rag/", "RUN pip install -e .[all]"]
    assert plan.python_packages == ["fastapi", "pillow"] and plan.project_extras == ["all"]


def test_unknown_project_layout_copies_the_sources(tmp_path):
    (tmp_path / "setup.py").write_text("from setuptools import setup; setup()")
    text = "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install .\n"
    plan = _plan(text, tmp_path)
    assert plan.sources_in_builder
    assert "COPY . /app/" in [step.render() for step in plan.builder_steps]


def test_models_copied_downloaded_or_in_the_context(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.safetensors").write_bytes(b"\0" * 64)
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "af.pt").write_bytes(b"\0" * 64)
    text = """FROM python:3.11-slim
WORKDIR /app
COPY weights/ /app/weights/
RUN pip install huggingface_hub && huggingface-cli download org/model --local-dir /app/hf
COPY . .
CMD ["python", "serve.py"]
"""
    plan = _plan(text, tmp_path)
    kinds = [(model.kind, model.line, model.destination) for model in plan.models]
    assert ("copy", 3, "/app/weights") in kinds
    assert ("download", 4, "/app/hf") in kinds
    # voices/*.pt come in through `COPY . .`: found in the context, kept out through the .dockerignore
    assert ("copy", 5, "/app/voices") in kinds
    assert [model.inside_app_copy for model in plan.models if model.line == 5] == [True]
    # the download left the builder's RUN with only the pip install
    assert [step.render() for step in plan.builder_steps if step.kind == "run"] == ["RUN pip install huggingface_hub"]


def test_user_from_the_original_is_kept():
    text = ("FROM python:3.11-slim\nRUN useradd -u 1500 -m botuser && mkdir -p /data && chown -R botuser /data\n"
            "COPY bot.py .\nUSER botuser\nCMD [\"python\", \"bot.py\"]\n")
    plan = _plan(text)
    assert plan.user_name == "botuser" and plan.uid == 1500 and plan.uid_from_original == 1500
    assert plan.writable_dirs == ["/data"]
