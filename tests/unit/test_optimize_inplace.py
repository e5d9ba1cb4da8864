"""Files the templates can't represent: only safe in-place fixes, everything else byte for byte."""

from __future__ import annotations

import pytest

from buildopt.dockerfile import parse_string
from buildopt.optimize import OptimizeOptions, analyze_and_optimize

MULTI_STAGE = """FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y gcc
RUN pip install --prefix=/install flask
FROM python:3.11-slim
RUN apt-get update && \\
    apt-get install -y libpq5
COPY --from=build /install /usr/local
RUN mkdir -p /data
EXPOSE 8000
CMD ["flask", "run"]
"""


def _rules(result) -> set[str]:
    return {rule for change in result.changes for rule in change.rule_ids}


def test_multi_stage_gets_only_insertions_in_the_final_stage():
    result = analyze_and_optimize(parse_string(MULTI_STAGE))
    assert result.mode == "in-place" and result.compose_text is None
    assert any("already multi-stage" in reason for reason in result.reasons)
    assert result.text == """FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y gcc
RUN pip install --prefix=/install flask
FROM python:3.11-slim
RUN apt-get update && \\
    apt-get install --no-install-recommends -y libpq5 \\
    && apt-get clean \\
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
RUN mkdir -p /data
RUN useradd --system --no-log-init --uid 10001 --create-home --skel /nonexistent --shell /usr/sbin/nologin app \\
    && mkdir -p /data \\
    && chown app: /data
USER app
EXPOSE 8000
CMD ["flask", "run"]
"""  # the build stage never reaches the image: left alone
    assert _rules(result) == {"BO101", "BO106", "BO107", "BO119"}


def test_non_python_base_gets_a_user_and_pip_flags():
    text = "FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci && pip3 install awscli\nCMD [\"node\", \"index.js\"]\n"
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "in-place"
    assert "RUN npm ci && pip3 install --no-cache-dir awscli\nRUN useradd --system --no-log-init --uid 10001" in result.text
    assert result.text.endswith("USER app\nCMD [\"node\", \"index.js\"]\n")


def test_alpine_uses_adduser():
    result = analyze_and_optimize(parse_string("FROM python:3.12-alpine\nRUN pip install flask\nCMD [\"flask\", \"run\"]\n"))
    assert "RUN adduser -D -u 10001 app\nUSER app\n" in result.text and "pip install --no-cache-dir flask" in result.text


def test_existing_user_is_reused():
    text = "FROM node:20\nRUN useradd -m web && npm ci\nCMD [\"node\", \"x.js\"]\n"
    result = analyze_and_optimize(parse_string(text))
    assert result.text == "FROM node:20\nRUN useradd -m web && npm ci\nUSER web\nCMD [\"node\", \"x.js\"]\n"


@pytest.mark.parametrize("text, why", [
    ("FROM nginx:1.27\nEXPOSE 80\n", "port 80"),
    ("FROM gcr.io/distroless/python3\nCOPY app.py /\n", "no shell"),
    ("FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo\nCMD [\"app.exe\"]\n", "can't tell how to create a user"),
    ("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends python3 "
     "&& rm -rf /var/lib/apt/lists/*\nCMD [\"python3\"]\n", "looks like a base image"),
    ("FROM python:3.12-alpine\nCOPY entrypoint.sh /\nENTRYPOINT [\"/entrypoint.sh\"]\n", "not in the build context"),
])
def test_no_user_where_it_would_break_or_cannot_be_made(text, why):
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "unchanged" and result.text == text
    assert any(why in reason for reason in result.reasons)


def test_complex_shell_is_left_as_written():
    text = ("FROM python:3.11-slim AS a\nFROM python:3.11-slim\n"
            "RUN if [ -n \"$X\" ]; then apt-get update && apt-get install -y gcc; fi\nUSER 1000\n")
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "unchanged" and result.text == text
    assert any("line 3: RUN left as written" in reason for reason in result.reasons)


def test_heredoc_file_keeps_its_heredoc():
    text = "FROM python:3.11-slim\nRUN <<EOF\napt-get update\napt-get install -y gcc\nEOF\nRUN pip install flask\nUSER 1000\n"
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "in-place"
    assert result.text == text.replace("pip install flask", "pip install --no-cache-dir flask")
    assert any("heredocs" in reason for reason in result.reasons)


def test_escape_directive_is_never_edited():
    text = "# escape=`\nFROM node:20\nRUN npm ci `\n    && npm test\n"
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "unchanged" and result.text == text


def test_python_moves_in_place_only_when_asked():
    text = "FROM python:3.10-slim AS build\nRUN true\nFROM python:3.10-slim\nUSER 1000\n"
    assert analyze_and_optimize(parse_string(text)).mode == "unchanged"
    result = analyze_and_optimize(parse_string(text), options=OptimizeOptions(python="3.12"))
    assert result.text == "FROM python:3.12-slim AS build\nRUN true\nFROM python:3.12-slim\nUSER 1000\n"
    assert _rules(result) == {"BO110"}


def test_well_optimized_multi_stage_comes_back_unchanged():
    text = """FROM python:3.12-slim AS builder
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt .
RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.txt
FROM python:3.12-slim
RUN useradd --uid 10001 --create-home app
COPY --from=builder /opt/venv /opt/venv
COPY --chown=app:app . /app
USER app
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["/opt/venv/bin/python", "/app/main.py"]
"""
    result = analyze_and_optimize(parse_string(text))
    assert result.mode == "unchanged" and result.text == text and result.changes == []
