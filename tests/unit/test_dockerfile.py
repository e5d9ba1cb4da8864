"""The parse stage (buildopt/dockerfile.py): Docker's grammar, line ranges, stages, ARGs, ignores, bad input."""

from __future__ import annotations

import pytest

from buildopt.dockerfile import env_pairs, parse_file, parse_string, substitute
from buildopt.errors import BadInput

MULTI = """\
# syntax-free header comment
ARG BASE=python:3.11-slim
ARG TAG
FROM ${BASE} AS builder
RUN apt-get update \\
    && apt-get install -y gcc \\
    && rm -rf /var/lib/apt/lists/*
FROM builder AS test
RUN ["pytest", "-q"]
FROM python:${TAG:-3.12}-slim
COPY --from=builder --chown=app:app /opt/venv /opt/venv
CMD ["python", "app.py"]
"""


def test_stages_line_ranges_and_arg_substitution():
    parsed = parse_string(MULTI)
    assert [(s.index, s.name, s.base, s.base_resolved, s.line) for s in parsed.stages] == [
        (0, "builder", "${BASE}", "python:3.11-slim", 4),
        (1, "test", "builder", "builder", 8),
        (2, None, "python:${TAG:-3.12}-slim", "python:3.12-slim", 10),
    ]
    run = parsed.stages[0].instructions[1]  # a stage's instructions start with its FROM
    assert (run.cmd, run.line, run.end_line) == ("RUN", 5, 7)
    assert parsed.global_args == {"BASE": "python:3.11-slim", "TAG": None}
    assert parsed.final_stage.index == 2 and parsed.stages[2].end_line == 12


def test_json_and_shell_forms_and_flags():
    parsed = parse_string(MULTI)
    test_run = parsed.stages[1].instructions[1]
    assert test_run.json_form and test_run.value == ("pytest", "-q")
    copy = parsed.stages[2].instructions[1]
    assert copy.flag("from") == "builder" and copy.flag("chown") == "app:app" and copy.flag("link") is None
    assert copy.value == ("/opt/venv", "/opt/venv")


def test_stage_ancestry():
    parsed = parse_string(MULTI)
    assert [s.index for s in parsed.stage_ancestry(parsed.stages[1])] == [1, 0]
    assert [s.index for s in parsed.stage_ancestry(parsed.stages[2])] == [2]
    assert parsed.stage_named("BUILDER").index == 0


def test_build_args_override_defaults():
    parsed = parse_string(MULTI, build_args={"BASE": "python:3.13-slim", "TAG": "3.10"})
    assert [s.base_resolved for s in parsed.stages] == ["python:3.13-slim", "builder", "python:3.10-slim"]


def test_heredocs_keep_their_content_and_range():
    parsed = parse_string("FROM alpine:3\nRUN <<EOF\nset -e\necho hi\nEOF\nCOPY <<-CONF /etc/x.conf\n\tkey=1\nCONF\n")
    _, run, copy = parsed.final_stage.instructions
    assert (run.line, run.end_line) == (2, 5)
    assert run.heredocs[0].content == "set -e\necho hi\n" and "echo hi" in run.shell_text
    assert copy.heredocs[0].name == "CONF" and copy.value[-1] == "/etc/x.conf"


def test_parser_directives_and_escape():
    text = "# escape=`\n# check=skip=all\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir `\n    C:\\\n"
    parsed = parse_string(text)
    assert parsed.directives == {"escape": "`", "check": "skip=all"}
    assert (parsed.instructions[1].line, parsed.instructions[1].end_line) == (4, 5)


def test_ignore_comments():
    text = ("# buildopt: global ignore=BO120\nFROM python:3.12-slim\n# why: GPU host\n"
            "# buildopt: ignore=cuda-torch, bo105\nRUN pip install torch\nRUN true\n")
    parsed = parse_string(text)
    assert parsed.file_ignores == frozenset({"BO120"})
    assert parsed.instructions[1].ignored_rules == frozenset({"cuda-torch", "BO105"})
    assert parsed.instructions[2].ignored_rules == frozenset()


def test_env_forms():
    parsed = parse_string('FROM x\nENV A=1 B="two words"\nENV C legacy value\n')
    assert env_pairs(parsed.instructions[1]) == {"A": "1", "B": "two words"}
    assert env_pairs(parsed.instructions[2]) == {"C": "legacy value"}


def test_substitute():
    variables = {"A": "x", "EMPTY": ""}
    assert substitute("$A-${A}-${B:-dflt}-${A:+alt}-${EMPTY:-e}-${B:+no}", variables) == "x-x-dflt-alt-e-"


def test_unclosed_quote_in_run_is_valid_input():
    parsed = parse_string('FROM x\nRUN echo "unclosed\nUSER app\n')
    assert [i.cmd for i in parsed.instructions] == ["FROM", "RUN", "USER"]


@pytest.mark.parametrize("text, words", [
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ("# only a comment\n", "no instructions"),
    ("FROM x\nRUN <<EOF\necho\n", "unterminated heredoc"),
    ("FROM x\n\x00\x01binary", "not a text file"),
    ("FROM a b c\n", "FROM takes one image"),
])
def test_bad_input_is_one_line_naming_file_and_line(text, words):
    with pytest.raises(BadInput) as caught:
        parse_string(text, path=None)
    message = str(caught.value)
    assert words in message and "\n" not in message and message.startswith("<string>")


def test_bad_input_names_the_line(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.12-slim\nRUN true\nFROM a b c\n")
    with pytest.raises(BadInput, match=rf"^{path}:3: FROM takes one image"):
        parse_file(path)


@pytest.mark.parametrize("text, warnings", [
    ("RUN echo hi\n", ["<string>:1: RUN before the first FROM", "<string>: no FROM instruction"]),
    ("ARG X=1\n", ["<string>: no FROM instruction"]),
    ("FROM x\nFROBNICATE y\n", ["<string>:2: unknown instruction: FROBNICATE"]),
    ("CMD [\"a\"]\nFROM x\nRUN true\n", ["<string>:1: CMD before the first FROM"]),
    # BuildKit's messages (instructions/parse.go, bflag.go at moby/buildkit 73ed682)
    ("FROM x\nCOPY --user=me a b\n", ["<string>:2: unknown flag: --user (COPY takes --chmod, --chown, --exclude, "
                                       "--from, --link, --parents)"]),
    ("FROM x\nCMD --doit [\"a\"]\n", ["<string>:2: unknown flag: --doit (CMD takes no flags)"]),
    ("FROM x\nONBUILD ONBUILD RUN x\n", ["<string>:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"]),
    ("FROM x\nONBUILD FROM y\n", ["<string>:2: FROM isn't allowed as an ONBUILD trigger"]),
    ("FROM x\nRUN true\nonbuild maintainer me\n", ["<string>:3: MAINTAINER isn't allowed as an ONBUILD trigger"]),
    ("FROM x\nONBUILD\n", ["<string>:2: ONBUILD requires at least one argument"]),
    ("FROM x\nONBUILD --now RUN y\n", ["<string>:2: unknown flag: --now (ONBUILD takes no flags)"]),
    ("FROM x\nCOPY --from a b\n", ["<string>:2: missing a value on flag: --from"]),
    ("FROM x\nCOPY --link=maybe a b\n", ["<string>:2: expecting boolean value for flag --link, not: maybe"]),
    ("FROM x\nCOPY --link= a b\n", ["<string>:2: missing a value on flag: --link"]),
    ("FROM x\nCOPY --from=a --from=b c d\n", ["<string>:2: duplicate flag specified: --from"]),
    ("FROM x\nRUN --network true\n", ["<string>:2: missing a value on flag: --network"]),
])
def test_what_only_docker_build_rejects_is_a_warning(text, warnings):
    """BuildKit's parser takes these (its own test files have them); `docker build` stops on them. The file is
    still analyzed, and each problem is a warning with its line (the CLI fails on them like on a critical finding)."""
    parsed = parse_string(text)
    assert len(parsed.warnings) == len(warnings) and not parsed.buildable
    for got, expected in zip(parsed.warnings, warnings, strict=True):
        assert got.startswith(expected) and got.count("docker build rejects it") == 1, got
    assert all(ins.cmd in ("FROM", "RUN", "ARG", "COPY", "CMD", "ONBUILD") for ins in parsed.instructions)


@pytest.mark.parametrize("text", [
    "FROM x\nHEALTHCHECK --interval=5s NONE\n",  # BuildKit reads no flags for NONE
    "FROM --platform=$BUILDPLATFORM x AS b\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t "
    "--network=none --security=insecure --device=gpu true\n",
    "FROM x\nCOPY --link --parents --exclude=*.pyc --exclude=*.md --chmod=644 --chown=1:1 --from=b a /d\n",
    "FROM x\nADD --keep-git-dir=true --checksum=sha256:00 --unpack=false --link=FALSE https://e.invalid/a /a\n",
    "FROM x\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1s --start-interval=1s --retries=3 CMD true\n",
    "FROM x\nONBUILD COPY --from=y a b\nONBUILD RUN --mount=type=cache,target=/c true\n",
])
def test_flags_docker_build_takes_are_not_warned_about(text):
    assert parse_string(text).warnings == []


def test_files_that_are_not_dockerfiles(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        parse_file(tmp_path / "missing")
    with pytest.raises(BadInput, match="is a directory"):
        parse_file(tmp_path)
    latin1 = tmp_path / "latin1"
    latin1.write_bytes(b"FROM x\nLABEL a=\xe9\n")
    with pytest.raises(BadInput, match="invalid UTF-8"):
        parse_file(latin1)
    bom = tmp_path / "bom"
    bom.write_bytes(b"\xef\xbb\xbfFROM x\n")
    assert parse_file(bom).stages[0].base == "x"
