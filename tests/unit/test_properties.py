"""Property tests: random and mutated Dockerfiles never crash analyze; the only error is BadInput."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from buildopt.dockerfile import parse_string
from buildopt.errors import BadInput
from buildopt.report.findings import FORMATS, render
from buildopt.rules import RULE_IDS, AnalysisResult, analyze

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 22)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SEEDS = [
    "FROM python:3.10-slim\nWORKDIR /app\nRUN apt-get update && apt-get install -y libreoffice git build-essential\n"
    "COPY . .\nRUN pip install -e .[all]\nHEALTHCHECK CMD curl -f http://localhost:9510/health || exit 1\nCMD [\"python\", \"api_server.py\"]\n",
    "FROM python:3.11-slim\nRUN pip install whisperx fastapi uvicorn\nENV HF_HOME=/root/.cache/huggingface\n"
    "RUN python -c \"import whisperx; whisperx.load_model('large-v2', 'cpu')\"\nRUN mkdir -p /tmp/uploads && chmod 777 /tmp/uploads\n",
    "ARG PY=3.12\nFROM python:${PY}-slim AS builder\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r r.txt\n"
    "FROM python:${PY}-slim\nCOPY --from=builder /opt/venv /opt/venv\nUSER 10001\nHEALTHCHECK NONE\n",
    "FROM alpine:3\nRUN <<EOF\nset -e\napk add --no-cache --virtual .b gcc musl-dev\nEOF\nADD https://x/y.gguf /m/\n"
    "ENV API_TOKEN=abc TOKENIZERS_PARALLELISM=false\nONBUILD RUN pip install torch\n",
]
for example in sorted((REPO / "examples").glob("*/Dockerfile")):
    SEEDS.append(example.read_text())


def check(text: str, context_dir: Path | None = None) -> AnalysisResult | None:
    try:
        parsed = parse_string(text)
    except BadInput as err:
        assert str(err) and "\n" not in str(err)
        return None
    result = analyze(parsed, context_dir=context_dir, today=TODAY)
    last_line = text.count("\n") + 1
    for finding in result.findings:
        assert finding.rule in RULE_IDS and RULE_IDS[finding.rule][0] == finding.slug
        assert 1 <= finding.line <= finding.end_line <= last_line
        assert finding.message
        assert finding.estimated_bytes is None or finding.estimated_bytes >= 0
    for fmt in FORMATS:
        output = render(result, fmt, fail_on="high")
        if fmt in ("json", "sarif"):
            json.loads(output)
    return result


# ---- random Dockerfiles from a grammar ------------------------------------------------------------------

words = st.sampled_from([
    "pip", "pip3", "python", "-m", "install", "--no-cache-dir", "-r", "requirements.txt", "torch", "torch==2.6.0+cpu",
    "--index-url", "https://download.pytorch.org/whl/cpu", ".[all]", "-e", ".", "apt-get", "update", "-y",
    "--no-install-recommends", "gcc", "libreoffice", "rm", "-rf", "/var/lib/apt/lists/*", "&&", "||", ";", "|", "true",
    "exit", "0", "mkdir", "-p", "/tmp/uploads", "chmod", "777", "chown", "app:app", "curl", "-o", "model.safetensors",
    "huggingface-cli", "download", "uv", "sync", "sh", "-c", "'", '"', "\\\n", "$HOME", "${X:-y}", "<<EOF", "#", "*",
    "snapshot_download(", "from_pretrained(", "2>&1", ">", "/dev/null", "(", ")", "{", "}", "if", "then", "fi",
])
shell = st.lists(words, min_size=0, max_size=14).map(" ".join)
image = st.sampled_from(["python:3.10-slim", "python:3.11", "python", "ubuntu:22.04", "scratch", "${BASE}", "$BASE:latest",
                         "builder", "debian:bullseye", "ghcr.io/x/y@sha256:" + "a" * 64, "python:3.8-alpine"])
name = st.from_regex(r"[A-Z_]{1,12}", fullmatch=True)
value = st.text(alphabet="abcxyz/$:{}-_.= \"'", max_size=12)
instruction = st.one_of(
    st.builds(lambda i, a: f"FROM {i}" + (f" AS {a}" if a else ""), image, st.sampled_from(["", "builder", "base"])),
    st.builds(lambda s: f"RUN {s}", shell),
    st.builds(lambda s: f"RUN --mount=type=cache,target=/root/.cache/pip {s}", shell),
    st.builds(lambda s: f"RUN <<EOF\n{s}\nEOF", shell),
    st.builds(lambda f, s, d: f"{f} {s} {d}", st.sampled_from(["COPY", "ADD", "COPY --from=builder", "COPY --chown=app"]),
              st.sampled_from([".", "models/", "requirements.txt", "https://x/m.pt", "*.bin", "/root/.cache/huggingface"]),
              st.sampled_from([".", "/app/", "/models", "/x"])),
    st.builds(lambda n, v: f"ENV {n}={v!r}" if v else f"ENV {n} x", name, value),
    st.builds(lambda n, v: f"ARG {n}" + (f"={v}" if v else ""), name, st.text(alphabet="abc123.:-", max_size=8)),
    st.sampled_from(["USER root", "USER app", "USER 0", "USER ${U}", "WORKDIR /app", "WORKDIR rel", "VOLUME /models",
                     "HEALTHCHECK NONE", "HEALTHCHECK CMD true", "HEALTHCHECK CMD curl -f http://x || exit 1",
                     'HEALTHCHECK CMD ["python", "-c", "import sys; sys.exit(0)"]', 'CMD ["python"]', "EXPOSE 80",
                     "# buildopt: ignore=BO101,pip-cache", "# buildopt: global ignore=all", "ONBUILD RUN pip install x",
                     "SHELL [\"/bin/bash\", \"-c\"]", "LABEL a=b", "STOPSIGNAL SIGTERM", "RUN []", 'RUN [""]',
                     'RUN ["pip", "install", "torch"]', 'RUN ["sh", "-c", "pip install x && apt-get install -y gcc"]',
                     "CMD []", "HEALTHCHECK CMD []", "COPY [\"a b\", \"/x/\"]", "USER", "VOLUME []", "ENV A="]),
)
from_line = st.builds(lambda i: f"FROM {i}", image)
# Mostly well-formed (a FROM first, so the rules run), sometimes not (anything may come first).
dockerfiles = st.one_of(
    st.builds(lambda first, rest: "\n".join([first, *rest]) + "\n", from_line, st.lists(instruction, max_size=25)),
    st.builds(lambda args, first, rest: "\n".join([*args, first, *rest]) + "\n",
              st.lists(st.sampled_from(["ARG BASE=python:3.9", "ARG BASE", "# escape=`"]), max_size=2), from_line,
              st.lists(instruction, max_size=25)),
    st.lists(instruction, min_size=1, max_size=25).map(lambda lines: "\n".join(lines) + "\n"),
)


@SETTINGS
@given(dockerfiles)
def test_random_dockerfiles_never_crash(text):
    check(text)


@SETTINGS
@given(st.text(max_size=400))
def test_random_text_is_a_dockerfile_or_bad_input(text):
    check(text)


# ---- mutations of real Dockerfiles ----------------------------------------------------------------------

@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["delete_line", "duplicate_line", "swap_lines", "insert_text", "delete_chars", "insert_char"]))
        position = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "delete_line" and len(lines) > 1:
            del lines[position]
        elif kind == "duplicate_line":
            lines.insert(position, lines[position])
        elif kind == "swap_lines":
            other = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[position], lines[other] = lines[other], lines[position]
        text = "\n".join(lines)
        offset = draw(st.integers(0, max(0, len(text))))
        if kind == "insert_text":
            text = text[:offset] + draw(st.text(max_size=20)) + text[offset:]
        elif kind == "delete_chars":
            text = text[:offset] + text[offset + draw(st.integers(1, 15)):]
        elif kind == "insert_char":
            text = text[:offset] + draw(st.sampled_from(list("\\\"'$`{}[]<>|&;#\n\t=-"))) + text[offset:]
    return text


@SETTINGS
@given(mutated())
def test_mutated_dockerfiles_never_crash(text):
    check(text)


@pytest.fixture(scope="module")
def context_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ctx")
    (root / "requirements.txt").write_text("-r base.txt\ntorch==2.6.0\n")
    (root / "base.txt").write_text("-r requirements.txt\nsentence-transformers\n")  # a cycle
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n[project.optional-dependencies]\nall = ["p[all]", "x"]\n')
    (root / ".dockerignore").write_text("!*\n**\n[\n\\\n")
    (root / "models").mkdir()
    (root / "models" / "w.safetensors").write_bytes(b"\0" * 100)
    (root / "r.txt").write_bytes(b"\xff\xfe\x00garbage")
    return root


@SETTINGS
@given(st.one_of(dockerfiles, mutated()))
def test_with_a_context_never_crash(context_dir, text):
    check(text, context_dir)


# ---- the shell lexer agrees with Python's POSIX lexer (shlex) where both apply ------------------------------

bare_word = st.from_regex(r"[A-Za-z0-9_./=:+@%-]{1,8}", fullmatch=True)
quoted_word = st.builds(lambda q, body: f"{q}{body}{q}", st.sampled_from(["'", '"']),
                        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _./=:;&|+-]{0,9}", fullmatch=True))
_KEYWORDS = {"then", "do", "else", "elif", "if", "while", "until", "{", "(", "!", "time", "exec", "sudo"}
shell_word = st.builds(lambda parts: "".join(parts), st.lists(st.one_of(bare_word, quoted_word), min_size=1, max_size=3)).filter(
    lambda word: word.strip("'\"") not in _KEYWORDS)
separator = st.sampled_from([" && ", " || ", "; ", " | ", "\n", " "])
shell_line = st.builds(lambda words, seps: "".join(w + s for w, s in zip(words, seps, strict=False)),
                       st.lists(shell_word, min_size=1, max_size=12), st.lists(separator, min_size=12, max_size=12))


def _shlex_commands(text: str) -> list[list[str]]:
    """An independent reference: shlex's POSIX lexer, split on the same operators and newlines."""
    import shlex

    commands: list[list[str]] = [[]]
    for line in text.split("\n"):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        for token in [*lexer, ";"]:
            if token and set(token) <= set(";&|"):
                if commands[-1]:
                    commands.append([])
            elif token and not (not commands[-1] and token in _KEYWORDS):
                commands[-1].append(token)
    return [command for command in commands if command]


@settings(max_examples=300, deadline=None)
@given(shell_line)
def test_shell_lexer_matches_shlex(text):
    """Known, deliberate differences are left out of the inputs: the lexer keeps an empty argument ('') and a
    quoted operator (';') or keyword ('if') as arguments, where this shlex reference drops them; it reads comments
    and `2>&1`-style redirections (see test_shell.py). Every word's offsets point at its raw text."""
    from buildopt.shell import scan, split_commands

    assert split_commands(text) == _shlex_commands(text)
    for command in scan(text).commands:
        for word in command.words:
            assert text[word.start:word.end] == word.raw
