"""all-extras (BO108), cache-busting-copy (BO115), inline-pip-install (BO116)."""

from __future__ import annotations

import pytest

from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\nWORKDIR /app\n"
PYPROJECT = """[project]
name = "raganything"
version = "1.0"
dependencies = ["fastapi"]
[project.optional-dependencies]
image = ["Pillow>=10"]
office = []
markdown = ["markdown>=3.4", "weasyprint>=60"]
all = ["raganything[image,markdown]", "reportlab>=4"]
"""


# ---- all-extras --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "pip install -e .[all]",
    "pip install --no-cache-dir '.[all]'",
    'pip install -e ".[all]"',
    "pip install ./pkg[all,dev]",
    "pip install 'raganything[all]'",
    "uv pip install --system -e .[all]",
])
def test_all_extra(command):
    assert lines(run(BASE + f"RUN {command}\n"), "all-extras") == [3]


@pytest.mark.parametrize("command", ["pip install -e .", "pip install '.[api]'", "pip install 'uvicorn[standard]'"])
def test_other_extras(command):
    assert of(run(BASE + f"RUN {command}\n"), "all-extras") == []


def test_all_extra_lists_what_it_pulls_from_pyproject(tmp_path):
    text = BASE + "COPY . .\nRUN pip install -e .[all]\n"
    found = of(run(text, context={"pyproject.toml": PYPROJECT}, tmp_path=tmp_path), "all-extras")
    assert [f.line for f in found] == [4]
    message = found[0].message
    assert "raganything" in message and "image" in message and "markdown" in message
    for package in ("pillow", "weasyprint", "reportlab"):
        assert package in message


def test_all_extra_inside_a_requirements_file(tmp_path):
    text = BASE + "COPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    found = of(run(text, context={"requirements.txt": "unstructured[all]==0.16\n"}, tmp_path=tmp_path), "all-extras")
    assert [f.line for f in found] == [4] and "requirements.txt:1" in found[0].message


# ---- cache-busting-copy ------------------------------------------------------------------------------------

def test_copy_everything_before_installing():
    text = BASE + "COPY . .\nRUN pip install --no-cache-dir -r requirements.txt\nCMD x\n"
    found = of(run(text), "cache-busting-copy")
    assert [f.line for f in found] == [3] and "line 4" in found[0].message


def test_copy_everything_before_a_local_install():
    assert lines(run(BASE + "COPY . /app\nRUN pip install -e .\n"), "cache-busting-copy") == [3]


def test_requirements_first_then_code_is_fine():
    text = BASE + ("COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
                   "COPY . .\nRUN pip install --no-cache-dir --no-deps -e .\n")
    assert of(run(text), "cache-busting-copy") == []


def test_local_package_install_after_deps_is_fine():
    text = BASE + "COPY pyproject.toml .\nRUN pip install --no-cache-dir fastapi uvicorn\nCOPY . .\nRUN pip install -e .\n"
    assert of(run(text), "cache-busting-copy") == []


def test_npm_install_after_copy_all():
    assert lines(run("FROM node:20\nCOPY . .\nRUN npm ci\n"), "cache-busting-copy") == [2]


def test_copy_from_another_stage_is_not_the_context():
    text = BASE + "COPY --from=builder / /\nRUN pip install -r requirements.txt\n"
    assert of(run(text), "cache-busting-copy") == []


def test_pip_upgrade_only_is_not_a_dependency_install():
    assert of(run(BASE + "COPY . .\nRUN pip install --upgrade pip setuptools\n"), "cache-busting-copy") == []


# ---- inline-pip-install ------------------------------------------------------------------------------------

def test_several_packages_on_the_line():
    text = BASE + 'RUN pip install whisperx fastapi "uvicorn[standard]" python-multipart redis rq\n'
    found = of(run(text), "inline-pip-install")
    assert [f.line for f in found] == [3] and "6 packages" in found[0].message


@pytest.mark.parametrize("command", [
    "pip install --upgrade pip",
    "pip install -U pip setuptools wheel",
    "pip install -r requirements.txt",
    "pip install gunicorn",
    "pip install -e .",
    "pip install --index-url https://download.pytorch.org/whl/cpu torch torchvision",
    "pip uninstall -y a b c",
])
def test_not_inline(command):
    assert of(run(BASE + f"RUN {command}\n"), "inline-pip-install") == []
