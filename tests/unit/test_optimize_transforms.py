"""Each transform, and the rule ids it says it fixes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from buildopt.dockerfile import parse_string
from buildopt.optimize import OptimizeOptions, analyze_and_optimize
from buildopt.optimize.plan import extract_plan
from buildopt.optimize.transforms import (
    TRANSFORMS,
    cpu_torch,
    healthcheck,
    python_version,
    split_stages,
)


def _optimize(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None, **options):
    for name, content in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return analyze_and_optimize(tmp_path / "Dockerfile", options=OptimizeOptions(**options))


def _changes(result, rule: str):
    return [change for change in result.changes if rule in change.rule_ids]


def _stage(text: str, index: int) -> str:
    """One stage of a rendered file (0 = builder, 1 = runtime), from just after its `FROM `."""
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[index + 1]


def test_every_transform_names_real_rules():
    from buildopt.rules import RULE_IDS

    assert {rule for transform in TRANSFORMS for rule in transform.rule_ids} <= set(RULE_IDS)
    assert len({transform.name for transform in TRANSFORMS}) == len(TRANSFORMS)


# -- BO102 multi-stage --------------------------------------------------------------------------------
def test_build_tools_stay_in_the_builder_and_runtime_keeps_libraries(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\n"
                       "RUN apt-get update && apt-get install -y gcc g++ build-essential git libmagic-dev ffmpeg espeak-ng curl\n"
                       "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY app.py .\nCMD [\"python\", \"app.py\"]\n",
                       {"requirements.txt": "python-magic==0.4.27\n"})
    assert result.mode == "rewritten" and result.template == "python-service.Dockerfile.j2"
    builder, runtime = _stage(result.text, 0), _stage(result.text, 1)
    for package in ("gcc", "g++", "build-essential", "git", "libmagic-dev"):
        assert f"        {package} \\" in builder and package not in runtime.replace("libmagic1", "")
    for package in ("libmagic1", "ffmpeg", "espeak-ng", "curl"):
        assert f"        {package} \\" in runtime
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    [change] = _changes(result, "BO102")
    assert "gcc, g++, build-essential, git, libmagic-dev only in the builder" in change.description
    assert change.lines == [2]


def test_rust_toolchain_stays_in_the_builder():
    text = ("FROM python:3.10-slim\nRUN apt-get update && apt-get install -y curl espeak-ng\n"
            "RUN curl https://sh.rustup.rs -sSf | sh -s -- -y\nENV PATH=\"/root/.cargo/bin:${PATH}\"\n"
            "RUN pip install tokenizers==0.15.0\nCMD [\"python\", \"-m\", \"kokoro\"]\n")
    plan = extract_plan(parse_string(text), None)
    assert plan.uses_rust and plan.builder_extra_packages == ["curl"]
    changes = split_stages(plan, OptimizeOptions())
    assert [change.rule_ids for change in changes] == [["BO102"]]
    assert "curl" in plan.build_packages and plan.runtime_packages == ["curl", "espeak-ng"]
    result = analyze_and_optimize(parse_string(text), options=OptimizeOptions())
    builder, runtime = _stage(result.text, 0), _stage(result.text, 1)
    assert "sh.rustup.rs -sSf | sh -s -- -y" in builder and "rustup" not in runtime
    assert 'ENV PATH="/root/.cargo/bin:${PATH}"' in builder and ".cargo" not in runtime


# -- BO103 CPU torch ------------------------------------------------------------------------------------
def test_pep440_makes_a_plain_pin_take_the_cpu_build():
    # Why --extra-index-url is enough: `torch==2.6.0` accepts 2.6.0+cpu, and the local version sorts higher.
    assert "2.6.0+cpu" in SpecifierSet("==2.6.0")
    assert Version("2.6.0+cpu") > Version("2.6.0")


def test_torch_from_requirements_gets_the_cpu_index_through_a_build_arg(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n",
                       {"requirements.txt": "torch==2.6.0\ntorchvision==0.21.0\npandas\n"})
    assert result.template == "python-ml.Dockerfile.j2"
    builder = _stage(result.text, 0)
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu\n" in builder
    assert "RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX_URL} -r requirements.txt" in builder
    assert builder.index("ARG TORCH_INDEX_URL") < builder.index("--extra-index-url ${TORCH_INDEX_URL}")
    assert "TORCH_INDEX_URL" not in _stage(result.text, 1)
    [change] = _changes(result, "BO103")
    assert "torch, torchvision" in change.description and change.lines == [3]


def test_torch_inline_and_through_dependents(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nRUN pip install torch==2.6.0 && pip install sentence-transformers\n")
    builder = _stage(result.text, 0)
    assert builder.count("--extra-index-url ${TORCH_INDEX_URL}") == 2


def test_cuda_chosen_on_purpose_is_kept_and_said():
    """A cuXXX index or +cuXXX pin is a GPU choice (analyze: an info note): optimize keeps it and says so."""
    text = ("FROM python:3.11-slim\nRUN pip install --index-url https://download.pytorch.org/whl/cu121 torch==2.1.0+cu121\n")
    result = analyze_and_optimize(parse_string(text))
    assert "--index-url https://download.pytorch.org/whl/cu121 torch==2.1.0+cu121" in result.text
    assert "TORCH_INDEX_URL" not in result.text and not _changes(result, "BO103")
    [kept] = [change for change in result.advice if change.key == "cpu-torch"]
    assert kept.reason.startswith("CUDA kept:")


def test_cpu_torch_already_is_left_alone():
    text = "FROM python:3.11-slim\nRUN pip install --index-url https://download.pytorch.org/whl/cpu torch\n"
    plan = extract_plan(parse_string(text), None)
    assert cpu_torch(plan, OptimizeOptions()) == []
    assert not plan.torch_index


def test_uv_gets_best_match_so_numpy_still_comes_from_pypi():
    text = "FROM python:3.11-slim\nRUN pip install uv && uv pip install --system torch numpy\n"
    result = analyze_and_optimize(parse_string(text))
    assert ("uv pip install --no-cache --extra-index-url ${TORCH_INDEX_URL} --index-strategy unsafe-best-match torch numpy"
            in result.text)
    assert "uv pip install --system" not in result.text  # the venv is VIRTUAL_ENV in the builder


def test_torch_index_default_is_an_option(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nRUN pip install torch\n",
                       torch_index_url="http://127.0.0.1:8765/simple")
    assert "ARG TORCH_INDEX_URL=http://127.0.0.1:8765/simple" in result.text


# -- BO104 models ---------------------------------------------------------------------------------------
def test_downloaded_models_move_to_a_model_init_service(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nWORKDIR /app\nRUN python -m venv /opt/venv\n"
                       "ENV PATH=/opt/venv/bin:$PATH\nRUN pip install -r requirements.txt\n"
                       "COPY scripts/download_model.py scripts/\n"
                       "RUN python scripts/download_model.py all-MiniLM --hf-home /root/.cache/huggingface\n"
                       "ENV HF_HUB_OFFLINE=1\nCOPY app ./app\nCMD [\"celery\", \"-A\", \"app.worker\", \"worker\"]\n",
                       {"requirements.txt": "sentence-transformers==3.0\n", "scripts/download_model.py": "", "app/__init__.py": ""})
    runtime = _stage(result.text, 1)
    assert "download_model.py all-MiniLM" not in result.text
    assert "ENV HF_HOME=/models" in runtime and 'VOLUME ["/models"]' in runtime
    assert "mkdir -p /app /models" in runtime and "chown app:app /app /models" in runtime
    import yaml

    compose = yaml.safe_load(result.compose_text)
    init = compose["services"]["model-init"]
    assert init["command"] == ["sh", "-c", "python scripts/download_model.py all-MiniLM --hf-home /models"]
    assert init["environment"] == {"HF_HUB_OFFLINE": "0"}  # the image says offline; the init must download
    service = compose["services"][tmp_path.name.lower()]
    assert service["volumes"] == ["models:/models"] and "models" in compose["volumes"]
    assert service["depends_on"] == {"model-init": {"condition": "service_completed_successfully"}}
    assert service["deploy"]["resources"]["limits"] == {"memory": "4g", "cpus": "2.0"}
    assert [change.lines for change in _changes(result, "BO104")] == [[7]]


def test_copied_models_are_mounted_and_linked(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nENV MODEL_PATH=/srv/models/model.safetensors\nWORKDIR /srv/app\n"
                       "COPY models/ /srv/models/\nCOPY . .\nCMD [\"python\", \"serve.py\"]\n",
                       {"models/model.safetensors": "weights", "serve.py": ""})
    runtime = _stage(result.text, 1)
    assert "COPY models/" not in result.text
    assert "ln -s /models /srv/models" in runtime
    assert "ENV MODEL_PATH=/models/model.safetensors" in runtime
    assert "HF_HOME" not in runtime  # no Hugging Face library, nothing to point at the volume
    import yaml

    service = yaml.safe_load(result.compose_text)["services"][tmp_path.name.lower()]
    assert service["volumes"] == ["./models:/models"]
    # `COPY . .` would bring models/ back: the Dockerfile's own ignore file keeps it out
    assert result.dockerignore_text.strip().endswith("\nmodels")
    assert {tuple(change.lines) for change in _changes(result, "BO104")} == {(4,), (2,)}


def test_hf_cache_env_inside_the_image_moves_to_the_volume():
    text = "FROM python:3.11-slim\nENV TRANSFORMERS_CACHE=/app/cache\nRUN pip install transformers\nCMD [\"python\", \"x.py\"]\n"
    result = analyze_and_optimize(parse_string(text))
    runtime = _stage(result.text, 1)
    assert "ENV TRANSFORMERS_CACHE=/models/hub" in runtime and "ENV HF_HOME=/models" in runtime
    assert _changes(result, "BO104")


# -- BO101 / BO119 user ---------------------------------------------------------------------------------
def test_non_root_user_owns_app_and_writable_dirs():
    text = ("FROM python:3.11-slim\nWORKDIR /app\nRUN pip install flask\nRUN mkdir -p /tmp/uploads && chmod 777 /tmp/uploads\n"
            "COPY . .\nVOLUME /data\nCMD [\"flask\", \"run\"]\n")
    result = analyze_and_optimize(parse_string(text))
    runtime = _stage(result.text, 1)
    assert "useradd --system --no-log-init --uid 10001 --gid app --create-home --skel /nonexistent --shell /usr/sbin/nologin app" in runtime
    assert "mkdir -p /app /tmp/uploads /data" in runtime and "chown app:app /app /tmp/uploads /data" in runtime
    assert "COPY --chown=app:app . ." in runtime and "chmod 777" not in result.text
    assert runtime.index("USER app") > runtime.index("COPY --chown=app:app . .")
    assert [change.rule_ids for change in result.changes if change.rule_ids[:1] in (["BO101"], ["BO119"])] == [["BO101"], ["BO119"]]


def test_existing_non_root_user_is_not_claimed_as_a_fix():
    text = ("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc\nRUN useradd -m bot\n"
            "RUN pip install aiogram\nCOPY bot.py .\nUSER bot\nCMD [\"python\", \"bot.py\"]\n")
    result = analyze_and_optimize(parse_string(text))
    # The original's own `useradd -m bot` is kept as written (home, shell and groups stay its own).
    assert "USER bot" in result.text and "useradd -m bot" in _stage(result.text, 1) and "--uid 10001" not in result.text
    assert not _changes(result, "BO101")


# -- BO105 / BO106 / BO107 ------------------------------------------------------------------------------
def test_pip_cache_and_apt_hygiene():
    text = "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y libpq-dev\nRUN pip install --user psycopg2\n"
    result = analyze_and_optimize(parse_string(text))
    assert "pip install --no-cache-dir psycopg2" in result.text and "--user" not in result.text
    assert result.text.count("--no-install-recommends") == 2
    assert result.text.count("rm -rf /var/lib/apt/lists/*") == 2 and result.text.count("apt-get clean") == 2
    assert {rule for change in result.changes for rule in change.rule_ids} >= {"BO105", "BO106", "BO107"}


def test_cache_mounts_and_pip_env_count_as_no_cache():
    mounted = "FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\nRUN useradd a\n"
    result = analyze_and_optimize(parse_string(mounted))
    assert "RUN --mount=type=cache,target=/root/.cache/pip pip install flask" in result.text
    assert not _changes(result, "BO105")
    env = "FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n"
    assert not _changes(analyze_and_optimize(parse_string(env)), "BO105")


# -- BO115 ----------------------------------------------------------------------------------------------
def test_dependencies_before_the_app_copy(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
                       "CMD [\"python\", \"bot.py\"]\n", {"requirements.txt": "aiogram\n", "bot.py": ""})
    builder = _stage(result.text, 0)
    assert "COPY requirements.txt /app/requirements.txt" in builder and "COPY . ." not in builder
    assert [change.lines for change in _changes(result, "BO115")] == [[3]]


# -- BO108 ----------------------------------------------------------------------------------------------
def test_all_extras_and_editable_become_a_core_install(tmp_path):
    files = {"pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\nall = ["pillow"]\n'
                               'docs = ["sphinx"]\n[tool.setuptools.packages.find]\ninclude = ["x*"]\n',
             "x/__init__.py": ""}
    result = _optimize(tmp_path, "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -e .[all]\n", files)
    # The runtime stage has the project at /app too, so the editable install's link still resolves: kept.
    assert "RUN pip install --no-cache-dir -e ." in result.text and "[all]" not in result.text
    [change] = _changes(result, "BO108")
    assert "all, docs" in change.description
    kept = _optimize(tmp_path, "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -e .[all]\n",
                     keep_all_extras=True)
    assert "pip install --no-cache-dir -e .[all]" in kept.text and not _changes(kept, "BO108")


# -- BO113 / BO114 healthcheck --------------------------------------------------------------------------
TRIVIAL = 'HEALTHCHECK --interval=60s --timeout=10s CMD python -c "import sys; sys.exit(0)"\n'


def test_trivial_healthcheck_with_a_port_becomes_a_tcp_probe():
    text = "FROM python:3.11-slim\nRUN pip install fastapi uvicorn\n" + TRIVIAL + 'CMD ["uvicorn", "a:app", "--port", "9000"]\n'
    result = analyze_and_optimize(parse_string(text))
    expected = ('HEALTHCHECK --interval=60s --timeout=10s CMD ["python", "-c", "import socket; '
                "socket.create_connection(('127.0.0.1', 9000), timeout=5).close()\"]")
    assert expected in result.text
    assert _changes(result, "BO114")


def test_trivial_healthcheck_of_a_bot_imports_its_library(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
                       + TRIVIAL + 'CMD ["python", "bot.py"]\n', {"requirements.txt": "tabulate\npython-telegram-bot==22.0\n"})
    assert 'CMD ["python", "-c", "import telegram"]' in result.text
    [change] = _changes(result, "BO114")
    assert "can't prove the service is responsive" in change.description


def test_celery_worker_gets_inspect_ping():
    text = 'FROM python:3.11-slim\nRUN pip install celery\nCMD ["celery", "-A", "proj.app", "worker"]\n'
    result = analyze_and_optimize(parse_string(text))
    assert 'CMD celery -A proj.app inspect ping -d "celery@$HOSTNAME"' in result.text
    assert _changes(result, "BO113")


def test_real_healthcheck_is_kept_and_nothing_derivable_is_said():
    kept = ("FROM python:3.11-slim\nRUN pip install flask\n"
            "HEALTHCHECK CMD curl -f http://localhost:5000/ || exit 1\nCMD [\"flask\", \"run\"]\n")
    result = analyze_and_optimize(parse_string(kept))
    assert "HEALTHCHECK CMD curl -f http://localhost:5000/ || exit 1" in result.text
    plan = extract_plan(parse_string("FROM python:3.11-slim\nRUN pip install torch\n" + TRIVIAL), None)
    assert healthcheck(plan, OptimizeOptions()) == []
    assert any("BO114 not fixed" in note for note in plan.notes)


def test_kept_curl_healthcheck_on_a_now_slim_base_gets_curl():
    text = ("FROM python:3.11\nRUN pip install flask\nHEALTHCHECK CMD curl -f http://localhost:5000/ || exit 1\n"
            "CMD [\"flask\", \"run\"]\n")
    result = analyze_and_optimize(parse_string(text))
    runtime = _stage(result.text, 1)
    assert runtime.startswith("python:3.11-slim AS runtime") and "        curl \\" in runtime
    assert _stage(result.text, 0).startswith("python:3.11 AS builder")
    assert _changes(result, "BO111")


# -- BO110: the base Python moves only when asked ------------------------------------------------------
def test_python_moves_only_when_asked():
    text = "FROM python:3.10-slim\nRUN pip install flask\n"
    assert "python:3.10-slim" in analyze_and_optimize(parse_string(text)).text
    moved = analyze_and_optimize(parse_string(text), options=OptimizeOptions(python="3.12"))
    assert "FROM python:3.12-slim AS builder" in moved.text and "FROM python:3.12-slim AS runtime" in moved.text
    assert _changes(moved, "BO110")


def test_python_version_arg_default_moves_with_the_base():
    text = "ARG PYTHON_VERSION=3.10\nFROM python:${PYTHON_VERSION}-slim\nRUN pip install flask\n"
    plan = extract_plan(parse_string(text), None)
    [change] = python_version(plan, OptimizeOptions(python="3.12"))
    assert plan.global_args == ["ARG PYTHON_VERSION=3.12"] and plan.builder_base == "python:${PYTHON_VERSION}-slim"
    assert change.rule_ids == ["BO110"]


def test_bad_python_option_is_bad_input():
    from buildopt.errors import BadInput

    with pytest.raises(BadInput):
        analyze_and_optimize(parse_string("FROM python:3.11-slim\n"), options=OptimizeOptions(python="twelve"))


# -- what is not fixed is said -------------------------------------------------------------------------
def test_unfixed_findings_are_listed(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y libreoffice\n"
                       "RUN pip install flask gunicorn\n")
    assert any("BO109" in reason and "left as it is" in reason for reason in result.reasons)
    assert any("BO116" in reason for reason in result.reasons)


def test_changes_carry_analyze_estimates(tmp_path):
    result = _optimize(tmp_path, "FROM python:3.11-slim\nRUN pip install torch==2.6.0\n")
    [change] = _changes(result, "BO103")
    assert change.expected_savings_bytes == 6_228_326_787 - 2_202_773_309  # research/measure-torch.md
    data = json.dumps([c.to_dict() for c in result.changes])
    assert "expected_savings_bytes" in data


def test_package_model_downloads_stay_in_the_image():
    """`python -m spacy download` pip-installs the model as a package (into the venv, in the builder) and
    `nltk.download` fills root's ~/nltk_data: neither lands in a cache a /models volume stands in for, so a one-off
    init service would lose them. The nltk data under /root also keeps the app from running as a new user."""
    text = ("FROM python:3.11-slim\nRUN pip install spacy nltk\nRUN python -m spacy download en_core_web_sm\n"
            "RUN python -c \"import nltk; nltk.download('punkt')\"\nCMD [\"python\", \"app.py\"]\n")
    result = analyze_and_optimize(parse_string(text))
    builder, runtime = _stage(result.text, 0), _stage(result.text, 1)
    assert "python -m spacy download en_core_web_sm" in builder and "nltk.download('punkt')" in runtime
    assert "model-init" not in (result.compose_text or "")
    [user] = [change for change in result.advice if change.key == "non-root"]
    assert "downloads model data into root's home" in user.reason and "USER" not in runtime
