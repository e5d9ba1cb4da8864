"""The lexer's fast path for plain RUNs (no quotes, escapes, expansions, redirections, comments or grouping)
gives exactly what its general, character-at-a-time path gives."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings, strategies as st

from buildopt.shell.lexer import _PLAIN_SCRIPT, _Lexer, scan

ROOT = Path(__file__).resolve().parents[2]


def _shape(script) -> tuple:
    commands = tuple((tuple((w.raw, w.start, w.end, w.value) for w in c.words), c.joiner) for c in script.commands)
    return script.text, commands, script.complex, tuple(map(tuple, script.argvs))


def _same(text: str) -> None:
    assert _PLAIN_SCRIPT.fullmatch(text)
    assert _shape(_Lexer(text).run_plain()) == _shape(_Lexer(text).run())


PIECES = ["apt-get", "install", "-y", "pip", "then", "if", "sudo", "fi", "do", "A=1", "x", " ", "  ", "\t", "\r",
          "\n", "\\\n", "\\\n  \n", "&&", "||", ";", ";;", "|", "|&", "&", "=", "-", "/", ".", "!", "*", "~", "\f"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_plain_texts_lex_the_same_both_ways(pieces):
    _same("".join(pieces))


def test_every_plain_run_of_the_corpora_lexes_the_same_both_ways():
    from buildopt.dockerfile import parse_string

    seen = 0
    for path in [*ROOT.glob("tests/corpus/**/Dockerfile*"), *ROOT.glob("examples/**/Dockerfile*")]:
        try:
            parsed = parse_string(path.read_text(errors="replace"))
        except Exception:
            continue
        for ins in parsed.instructions:
            if ins.cmd == "RUN" and not ins.json_form:
                text = " ".join(ins.value)
                if _PLAIN_SCRIPT.fullmatch(text):
                    _same(text)
                    seen += 1
    assert seen > 100  # the corpora really have plain RUNs


def test_texts_outside_the_fast_path_still_lex():
    for text in ["echo 'a b'", "pip install $PKG", "ls > out", "# comment", "(cd x)", 'echo "x"', "a\\ b"]:
        assert not _PLAIN_SCRIPT.fullmatch(text)
        assert _shape(scan(text)) == _shape(_Lexer(text).run())
