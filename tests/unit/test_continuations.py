"""continuations.compact must hand BuildKit's parser the same instructions, text and lines as the file itself.

Every check parses both ways with the real parser (the `dockerfile` package) and compares everything it returns:
keyword, sub-command, JSON form, original text, flags, values, heredocs and the line range. The tests force
joining of short runs (min_run_lines=2) and small chunks, so that each file exercises the chunking.
"""

from __future__ import annotations

import time
from pathlib import Path

import dockerfile as goparser
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from buildopt import continuations
from buildopt.dockerfile import parse_string
from tests.peer_corpus import peer_corpus_dir

REPO = Path(__file__).resolve().parents[2]


def _commands(text: str, compacted: continuations.Compacted | None):
    source = compacted.text if compacted else text
    try:
        commands = goparser.parse_string(source)
    except goparser.GoParseError as err:
        return ("error", str(err))
    if compacted is not None and not compacted.matches(commands):
        return ("mismatch",)
    lines = compacted.lines if compacted else (lambda start, end: (start, end))
    return [(c.cmd, c.sub_cmd, c.json, c.original, c.flags, c.value, c.heredocs, lines(c.start_line, c.end_line))
            for c in commands]


def _assert_same_parse(text: str) -> bool:
    """True when the text was joined (and parsed the same), False when compact left it alone."""
    compacted = continuations.compact(text, min_run_lines=2)
    if compacted is None:
        return False
    joined = _commands(text, compacted)
    if joined == ("mismatch",):  # a mispredicted heredoc: the caller parses the original instead
        return False
    assert joined == _commands(text, None)
    return True


EDGE_CASES = {
    "crlf, comment and blank lines inside a run": "FROM a\r\nRUN a \\\r\n  b \\\r\n\r\n  # c\r\n  d\r\n",
    "escape at the end of the file": "FROM a\nRUN a \\\n b \\\n   \\\n",
    "blank run cut by the end of the file": "FROM a\nRUN a \\\n    \\\n\n",
    "heredoc after a joined run": "FROM a\nRUN a \\\n b <<EOF \\\n c\nx \\\ny\nEOF\nRUN d \\\n e\n",
    "chomped heredoc": "FROM a\nRUN <<-EOF cat \\\n -\n\tx \\\n\tEOF\nRUN q \\\n r\n",
    "quoted heredoc name": "FROM a\nRUN cat <<'E O' \\\n  x\nfoo \\\nE O\nRUN z \\\n y\n",
    "JSON form with a heredoc-looking word": "FROM a\nRUN [\"a\", \\\n \"<<EOF\"]\nRUN b \\\n c\n",
    "escape directive": "# escape=`\nFROM a\nRUN a `\n b `\n c\nRUN d \\\n e\n",
    "escaped escape": "FROM a\nRUN a \\\\\nRUN b \\\n c\\\\ \\\n d\n",
    "ONBUILD heredoc": "FROM a\nONBUILD RUN <<EOF \\\n x\n y \\\nEOF\nRUN a \\\n b\n",
    "instruction opened by a lone escape": "FROM a\n\\\nRUN a \\\n b\n",
    "tabs around the escape": "FROM a\nRUN a\t\\\t\n\tb \\ \n c\n",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_parse_the_same(name, monkeypatch):
    monkeypatch.setattr(continuations, "CHUNK_BYTES", 4)
    _assert_same_parse(EDGE_CASES[name])


def _corpus() -> list[Path]:
    files = sorted(p for p in (REPO / "tests" / "data").rglob("*Dockerfile*") if p.is_file())
    files += sorted(p for p in (REPO / "examples").rglob("Dockerfile*") if p.is_file())
    corpus = peer_corpus_dir()
    if corpus is not None:
        files += sorted(corpus.rglob("Dockerfile"))
    return files


@pytest.mark.parametrize("chunk", [1, 12, continuations.CHUNK_BYTES])
def test_real_dockerfiles_parse_the_same(chunk, monkeypatch):
    monkeypatch.setattr(continuations, "CHUNK_BYTES", chunk)
    files = _corpus()
    joined = sum(_assert_same_parse(path.read_text(encoding="utf-8", errors="replace")) for path in files)
    assert joined >= 10, f"only {joined} of {len(files)} files had a continuation run to join"


_FRAGMENTS = ["RUN", "COPY", "ONBUILD RUN", "FROM a", "x", " ", "\t", "\\", "\\\\", "`", "#", "# c", "<<EOF",
              "<<-EOF", "EOF", "\tEOF", "'", '"', "\r", '["a"]', "--mount=x", "ENV a=b", "# escape=`", "é", "\xa0",
              "\u3000", "\x85", "\u2028", "\x0c", "€"]
_LINE = st.tuples(st.lists(st.sampled_from(_FRAGMENTS), max_size=4),
                  st.sampled_from(["", "\\", " \\", "\\ ", "`", "\\\r", " \\\t"])).map(lambda t: " ".join(t[0]) + t[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, min_size=1, max_size=14), newline=st.booleans(), chunk=st.sampled_from([1, 6, 40]))
def test_random_files_parse_the_same(lines, newline, chunk):
    saved = continuations.CHUNK_BYTES
    continuations.CHUNK_BYTES = chunk
    try:
        _assert_same_parse("\n".join(lines) + ("\n" if newline else ""))
    finally:
        continuations.CHUNK_BYTES = saved


def test_parse_string_gives_the_files_line_numbers_for_a_joined_run():
    body = "".join(f"    && echo {i} \\\n" for i in range(300))
    text = f"FROM python:3.12-slim\n# note\nRUN true \\\n{body}    && true\nUSER app\nRUN <<EOF\n{body}EOF\nCMD x\n"
    parsed = parse_string(text)
    run, user, heredoc, cmd = parsed.instructions[1:]
    assert (run.line, run.end_line) == (3, 304) and (user.line, user.end_line) == (305, 305)
    assert (heredoc.line, heredoc.end_line) == (306, 607) and cmd.line == 608
    assert run.original == goparser.parse_string(text)[1].original
    assert heredoc.heredocs[0].content == body


def test_a_huge_run_is_joined_in_few_lines():
    """120,000 continuation lines reach the parser as about a hundred (the parser is quadratic in them)."""
    text = "FROM a\nRUN true \\\n" + "".join(f"  && echo line-{i:06d} some words \\\n" for i in range(120_000)) + "  && true\n"
    compacted = continuations.compact(text)
    assert compacted is not None and compacted.text.count("\n") < 150
    assert max(len(line.encode()) for line in compacted.text.split("\n")) <= continuations.CHUNK_BYTES + 1
    started = time.perf_counter()  # not asserted on: printed for the curious (benchmarks/bench_huge.py measures)
    parsed = parse_string(text)
    print(f"parsed 120,000 continuation lines in {time.perf_counter() - started:.2f} s")
    assert (parsed.instructions[1].line, parsed.instructions[1].end_line) == (2, 120_003)


def test_joined_lines_stay_under_the_parsers_line_limit_in_bytes():
    """The parser's limit is 64 KiB per line in bytes: a run of 3-byte characters is cut by bytes, not characters."""
    text = "FROM a\nRUN true \\\n" + "".join(f"  && echo {'€' * 200} {i} \\\n" for i in range(500)) + "  && true\n"
    compacted = continuations.compact(text)
    assert compacted is not None
    assert max(len(line.encode()) for line in compacted.text.split("\n")) <= continuations.CHUNK_BYTES + 1
    assert _assert_same_parse(text)
