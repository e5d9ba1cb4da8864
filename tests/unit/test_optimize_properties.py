"""Properties of `optimize` on generated and real Dockerfiles.

- the output parses;
- optimizing the output again gives the same text (idempotent);
- analyzing the output shows none of the findings it claims to fix;
- an already well-optimized file comes back unchanged;
- random and mutated input never crashes (only BadInput, for what doesn't parse in the first place).

The analysis of the output runs on the same context with the ignore file optimize wrote put in place
of .dockerignore, as BuildKit does when it builds `Dockerfile.optimized` (it reads
`Dockerfile.optimized.dockerignore` instead of `.dockerignore`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from buildopt.dockerfile import parse_string
from buildopt.errors import BadInput
from buildopt.optimize import OptimizeOptions, analyze_and_optimize
from buildopt.rules import analyze

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.parent for path in (REPO / "examples").glob("*/Dockerfile"))

BASES = ["python:3.10-slim", "python:3.11-slim", "python:3.11", "python:3.12-slim-bookworm", "node:20-slim",
         "python:3.12-alpine", "ubuntu:22.04"]
LINES = [
    "WORKDIR /app",
    "WORKDIR /srv/app",
    "ENV PYTHONUNBUFFERED=1",
    "ENV HF_HOME=/root/.cache/huggingface",
    "ENV MODEL_DIR=/app/models",
    "ARG VERSION=1",
    "RUN apt-get update && apt-get install -y gcc libmagic-dev curl",
    "RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && \\\n    apt-get install -y \\\n      build-essential \\\n      git",
    "RUN python -m venv /opt/venv",
    "ENV PATH=/opt/venv/bin:$PATH",
    "COPY requirements.txt .",
    "RUN pip install -r requirements.txt",
    "RUN pip install --no-cache-dir -r requirements.txt",
    "RUN pip install torch==2.6.0 fastapi uvicorn",
    "RUN pip install -e .[all]",
    "RUN pip install --upgrade pip && pip install sentence-transformers",
    "RUN --mount=type=cache,target=/root/.cache/pip pip install flask",
    "COPY . .",
    "COPY app ./app",
    "COPY models/ /app/models/",
    "COPY model.safetensors /app/",
    "RUN huggingface-cli download org/model --local-dir /app/hf",
    "RUN python -c \"from transformers import AutoModel; AutoModel.from_pretrained('bert-base')\"",
    "RUN mkdir -p /tmp/uploads && chmod 777 /tmp/uploads",
    "RUN useradd -m -u 1500 bot",
    "USER bot",
    "USER root",
    "EXPOSE 8000",
    "LABEL org.opencontainers.image.title=x",
    "VOLUME /data",
    "STOPSIGNAL SIGTERM",
    "HEALTHCHECK CMD python -c \"import sys; sys.exit(0)\"",
    "HEALTHCHECK --interval=30s CMD curl -f http://localhost:8000/health || exit 1",
    "HEALTHCHECK NONE",
    "CMD [\"python\", \"app.py\"]",
    "CMD celery -A app.worker worker",
    "ENTRYPOINT [\"uvicorn\", \"app:app\", \"--port\", \"8000\"]",
    "RUN if [ -f x ]; then pip install x; fi",
    "RUN echo \"unclosed",
    "RUN <<EOF\npip install requests\nEOF",
    "ONBUILD RUN pip install x",
    "ADD https://example.com/weights/model.onnx /app/model.onnx",
    "ADD https://example.com/tool.tar.gz /opt/",
    "COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv",
    "RUN uv pip install --system numpy",
    "RUN curl https://sh.rustup.rs -sSf | sh -s -- -y",
    "RUN make",
    "RUN chown -R bot /app",
]

dockerfiles = st.builds(
    lambda header, base, body, second: "\n".join(
        header + [f"FROM {base}"] + body + ([f"FROM {second}", "COPY --from=0 /app /app"] if second else [])) + "\n",
    st.lists(st.sampled_from(["ARG PYTHON_VERSION=3.10", "# buildopt: global ignore=BO110", "# a comment"]), max_size=2),
    st.sampled_from(BASES),
    st.lists(st.sampled_from(LINES), max_size=14),
    st.one_of(st.none(), st.sampled_from(["python:3.11-slim"])),
)


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ctx")
    (root / "requirements.txt").write_text("torch==2.6.0\nsentence-transformers==3.0\ncelery==5.4\n")
    (root / "models").mkdir()
    (root / "models" / "model.safetensors").write_bytes(b"\0" * 128)
    (root / "model.safetensors").write_bytes(b"\0" * 64)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app.py").write_text("print('hi')\n")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["fastapi"]\n'
                                         '[project.optional-dependencies]\nall = ["pillow"]\n')
    return root


def check_properties(text: str, context: Path, options: OptimizeOptions | None = None):
    options = options or OptimizeOptions()
    original = parse_string(text, path=context / "Dockerfile")
    result = analyze_and_optimize(original, context_dir=context, options=options)
    assert result.mode in ("rewritten", "in-place", "unchanged")
    if result.mode == "unchanged":
        assert result.text == text and result.changes == []
    output = parse_string(result.text, path=context / options.output_name)  # the output parses

    again = analyze_and_optimize(output, context_dir=context, options=options)
    assert again.text == result.text, "optimizing the output changed it again"
    assert again.mode == "unchanged" and again.changes == []

    if result.fixed_rules:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "ctx"
            shutil.copytree(context, copy, ignore=shutil.ignore_patterns("Dockerfile*", "docker-compose.buildopt.yml"))
            if result.dockerignore_text is not None:
                (copy / ".dockerignore").write_text(result.dockerignore_text)
            after = analyze(parse_string(result.text, path=copy / options.output_name), context_dir=copy).findings
        claimed = [f for f in after if f.rule in result.fixed_rules]
        assert not claimed, [(f.rule, f.line, f.message) for f in claimed]
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(text=dockerfiles)
def test_generated_dockerfiles(text, context):
    try:
        parse_string(text)
    except BadInput:
        return  # e.g. ONBUILD FROM, unterminated heredoc: analyze's job to report
    check_properties(text, context)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=dockerfiles, python=st.sampled_from([None, "3.12"]), keep=st.booleans())
def test_generated_dockerfiles_with_options(text, python, keep, context):
    try:
        parse_string(text)
    except BadInput:
        return
    check_properties(text, context, OptimizeOptions(python=python, keep_all_extras=keep))


@settings(max_examples=200, deadline=None)
@given(noise=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
       seed=st.sampled_from(LINES), base=st.sampled_from(BASES))
def test_random_and_mutated_input_never_crashes(noise, seed, base):
    for text in (noise, f"FROM {base}\n{noise}\n", f"FROM {base}\n{seed}{noise}\n", f"FROM {base}\nRUN {noise}\n"):
        try:
            original = parse_string(text)
        except BadInput:
            continue
        result = analyze_and_optimize(original, options=OptimizeOptions())
        parse_string(result.text)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_examples(example):
    text = (example / "Dockerfile").read_text()
    result = check_properties(text, example)
    assert result.mode == "rewritten"


WELL_OPTIMIZED = [
    # single stage, nothing to fix
    """FROM python:3.12-slim
RUN useradd --uid 10001 --create-home app
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=app:app . .
USER app
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["python", "app.py"]
""",
    # multi-stage, as the audits write it
    """FROM python:3.12-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

FROM python:3.12-slim
WORKDIR /app
RUN groupadd -r appuser && useradd -r -g appuser appuser && chown -R appuser:appuser /app
COPY --from=builder --chown=appuser:appuser /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
COPY --chown=appuser:appuser app.py .
USER appuser
EXPOSE 9510
HEALTHCHECK CMD python -c "import socket; socket.create_connection(('127.0.0.1', 9510), timeout=5).close()"
CMD ["python", "app.py"]
""",
]


@pytest.mark.parametrize("text", WELL_OPTIMIZED)
def test_well_optimized_files_come_back_unchanged(text, tmp_path):
    (tmp_path / "requirements.txt").write_text("fastapi==0.115.0\n")
    (tmp_path / ".dockerignore").write_text(".git\n")
    result = analyze_and_optimize(parse_string(text, path=tmp_path / "Dockerfile"), context_dir=tmp_path)
    assert result.mode == "unchanged" and result.text == text and result.changes == []
