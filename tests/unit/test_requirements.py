"""Reading requirements files (nested -r/-c, options, continuations) and pyproject/setup.cfg extras."""

from __future__ import annotations

from buildopt.requirements import (
    is_local_target,
    parse_requirement,
    read_project,
    read_requirements,
    split_local_target,
)


def test_requirements_file_with_nesting_options_and_continuations(tmp_path):
    (tmp_path / "base.txt").write_text("numpy==2.2.3 \\\n    --hash=sha256:abc\n-c constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("urllib3<3\n")
    (tmp_path / "requirements.txt").write_text(
        "# comment\n--extra-index-url https://download.pytorch.org/whl/cpu\n-r base.txt\n"
        "torch==2.6.0+cpu ; python_version >= '3.9'  # trailing comment\n"
        "-e git+https://github.com/org/pkg.git#egg=pkg[extra]\n./local-pkg\nsentence_transformers[train]>=3\n")
    result = read_requirements(tmp_path / "requirements.txt", root=tmp_path)
    assert [r.name for r in result.requirements] == ["numpy", "torch", "pkg", "sentence-transformers"]
    torch = result.requirements[1]
    assert torch.cpu_pin and torch.where == "requirements.txt:4"
    assert result.requirements[3].extras == frozenset({"train"})
    assert [r.name for r in result.constraints] == ["urllib3"]
    assert result.extra_index_urls == ["https://download.pytorch.org/whl/cpu"]
    assert result.local_paths == ["./local-pkg"]
    assert [p.name for p in result.files] == ["requirements.txt", "base.txt", "constraints.txt"]


def test_cycles_missing_files_and_files_outside_the_context(tmp_path):
    (tmp_path / "a.txt").write_text("-r b.txt\nflask\n-r missing.txt\n-r ../outside.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nrequests\n")
    result = read_requirements(tmp_path / "a.txt", root=tmp_path)
    assert sorted(r.name for r in result.requirements) == ["flask", "requests"]
    assert any("missing.txt" in m for m in result.missing)
    assert any("outside the build context" in m for m in result.missing)


def test_attached_short_options(tmp_path):
    (tmp_path / "r.txt").write_text("-rother.txt\n-ihttps://x/whl/cpu\n")
    (tmp_path / "other.txt").write_text("torch\n")
    result = read_requirements(tmp_path / "r.txt")
    assert result.index_urls == ["https://x/whl/cpu"] and [r.name for r in result.requirements] == ["torch"]


def test_pyproject_extras_with_self_references(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "RAG_Anything"\ndependencies = ["fastapi"]\n[project.optional-dependencies]\n'
        'image = ["Pillow"]\ntext = ["reportlab"]\nall = ["rag-anything[image,text]", "markdown"]\n'
        '[tool.uv]\nextra-index-url = ["https://download.pytorch.org/whl/cpu"]\n')
    project = read_project(tmp_path)
    assert project.name == "RAG_Anything" and [r.name for r in project.dependencies] == ["fastapi"]
    extras, reqs = project.expand_extras({"all"})
    assert extras == ["all", "image", "text"]
    assert sorted(r.name for r in reqs) == ["markdown", "pillow", "reportlab"]
    assert project.index_urls == ["https://download.pytorch.org/whl/cpu"]


def test_setup_cfg_extras(tmp_path):
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = svc\n[options]\ninstall_requires =\n    flask\n"
                                        "[options.extras_require]\nml =\n    torch\n")
    project = read_project(tmp_path)
    assert [r.name for r in project.dependencies] == ["flask"]
    assert [r.name for r in project.expand_extras({"ml"})[1]] == ["torch"]


def test_no_project(tmp_path):
    assert read_project(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert read_project(tmp_path) is None


def test_local_targets_and_odd_requirements():
    assert split_local_target("'.[all,dev]'") == (".", frozenset({"all", "dev"}))
    assert is_local_target(".[all]") and is_local_target("/src/pkg") and is_local_target("dist/x-1.0-py3-none-any.whl")
    assert not is_local_target("flask") and not is_local_target("git+https://x/y.git")
    assert parse_requirement("-e .") is None and parse_requirement("") is None
    assert parse_requirement("torch @ https://download.pytorch.org/whl/cpu/torch-2.6.0%2Bcpu-cp311.whl").cpu_pin
