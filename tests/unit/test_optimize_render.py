"""Templates ship in the package and render what the plan says; the compose snippet is valid YAML."""

from __future__ import annotations

import yaml

from buildopt.dockerfile import parse_string
from buildopt.optimize import OptimizeOptions, analyze_and_optimize
from buildopt.optimize.render import (
    COMPOSE_TEMPLATE,
    ML_TEMPLATE,
    SERVICE_TEMPLATE,
    environment,
    template_dir,
)


def test_templates_load_through_the_package():
    directory = template_dir()
    for name in (SERVICE_TEMPLATE, ML_TEMPLATE, COMPOSE_TEMPLATE, "optimized.dockerignore.j2"):
        assert (directory / name).is_file()
        environment().get_template(name)


def test_no_syntax_line_and_the_file_parses():
    text = "FROM python:3.11-slim\nRUN pip install torch\nCMD [\"python\", \"x.py\"]\n"
    result = analyze_and_optimize(parse_string(text))
    assert "# syntax" not in result.text and "syntax=" not in result.text
    parse_string(result.text)


def test_compose_is_yaml_and_escapes_dollar_for_compose():
    text = ('FROM python:3.11-slim\nRUN pip install celery sentence-transformers\n'
            'RUN python -c "from sentence_transformers import SentenceTransformer; SentenceTransformer(\'all-MiniLM-L6-v2\')"\n'
            'CMD ["celery", "-A", "w", "worker"]\n')
    result = analyze_and_optimize(parse_string(text))
    compose = yaml.safe_load(result.compose_text)
    service = next(name for name in compose["services"] if name != "model-init")
    test = compose["services"][service]["healthcheck"]["test"]
    assert test == ["CMD-SHELL", 'celery -A w inspect ping -d "celery@$$HOSTNAME" --timeout 10']
    assert compose["services"]["model-init"]["command"][2].startswith("python -c \"from sentence_transformers")
    assert compose["services"][service]["build"]["args"] == {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu"}


def test_compose_paths_follow_the_output_location(tmp_path):
    (tmp_path / "app").mkdir()
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim\nRUN pip install flask\n")
    out = tmp_path / "out"
    out.mkdir()
    result = analyze_and_optimize(dockerfile, options=OptimizeOptions(output_name="Dockerfile.opt", output_dir=str(out)))
    build = yaml.safe_load(result.compose_text)["services"]["app"]["build"]
    assert build == {"context": "../app", "dockerfile": "../out/Dockerfile.opt"}


def test_rendered_layout_of_a_service():
    text = ("FROM python:3.11-slim\nLABEL maintainer=me\nWORKDIR /srv\nCOPY requirements.txt .\n"
            "RUN pip install -r requirements.txt\nCOPY . .\nEXPOSE 8080\nSTOPSIGNAL SIGINT\n"
            "ENTRYPOINT [\"python\"]\nCMD [\"main.py\"]\n")
    result = analyze_and_optimize(parse_string(text))
    assert result.text == """FROM python:3.11-slim AS builder
RUN python3 -m venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:$PATH"
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# Not needed at run time: test suites, the venv's activate scripts (PATH points at it), pip, and setuptools unless an installed package requires it (`buildopt optimize --no-trim` keeps them).
RUN find /opt/venv -type d -name tests -path '*/site-packages/*' -prune -exec rm -rf {} + \\
    && rm -f /opt/venv/bin/activate /opt/venv/bin/activate.csh /opt/venv/bin/activate.fish /opt/venv/bin/Activate.ps1 \\
    && rm -rf /opt/venv/lib/python*/site-packages/pip /opt/venv/lib/python*/site-packages/pip-*.dist-info /opt/venv/bin/pip /opt/venv/bin/pip3* \\
    && if ! grep -hsi '^Requires-Dist: *setuptools' /opt/venv/lib/python*/site-packages/*.dist-info/METADATA | grep -qv 'extra *=='; then \\
        rm -rf /opt/venv/lib/python*/site-packages/setuptools /opt/venv/lib/python*/site-packages/setuptools-*.dist-info \\
            /opt/venv/lib/python*/site-packages/pkg_resources /opt/venv/lib/python*/site-packages/_distutils_hack \\
            /opt/venv/lib/python*/site-packages/distutils-precedence.pth; \\
    fi

FROM python:3.11-slim AS runtime
ENV PATH="/opt/venv/bin:$PATH"
RUN groupadd --system --gid 10001 app \\
    && useradd --system --no-log-init --uid 10001 --gid app --create-home --skel /nonexistent --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv
COPY --chown=app:app . .
RUN mkdir -p /srv \\
    && chown app:app /srv
USER app
LABEL maintainer=me
EXPOSE 8080
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=5).close()"]
ENTRYPOINT ["python"]
CMD ["main.py"]
"""


def test_trim_is_torch_aware_and_can_be_turned_off():
    text = "FROM python:3.11-slim\nRUN pip install torch fastapi\nCMD [\"python\", \"x.py\"]\n"
    trimmed = analyze_and_optimize(parse_string(text)).text
    assert "-name tests -path '*/site-packages/*'" in trimmed
    assert 'rm -rf "$torch/test" "$torch/include"' in trimmed and "! -name torch_shm_manager" in trimmed
    plain = analyze_and_optimize(parse_string("FROM python:3.11-slim\nRUN pip install flask\n")).text
    assert "-name tests" in plain and "$torch" not in plain
    kept = analyze_and_optimize(parse_string(text), options=OptimizeOptions(trim=False)).text
    assert "-name tests" not in kept and "$torch" not in kept and "site-packages/pip " not in kept
    assert "site-packages/pip " in trimmed
    # pip stays when something at run time calls it
    runtime_pip = analyze_and_optimize(parse_string("FROM python:3.11-slim\nRUN pip install flask\nCMD pip list && python app.py\n")).text
    assert "-name tests" in runtime_pip and "site-packages/pip " not in runtime_pip
    parse_string(trimmed)
