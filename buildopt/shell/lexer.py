"""One lexer for the shell text of a RUN: words with their raw text and offsets, and the operators between them.

It reads the text as written in the Dockerfile (continuations and the comment lines Docker drops included) or
as the parser hands it over (continuations already joined), and heredoc bodies. From one pass it gives both
views the pipeline needs:
- `Script.units` / `Script.commands`: raw words, offsets and joiners, for rewriting (optimize keeps `${VAR}` and
  quoting, and edits only what it fixes). What it can't follow with confidence (comments, control flow,
  subshells, here-documents, dangling operators) sets `Script.complex`, and rewriters leave the text alone.
- `Script.argvs`: each simple command's words with quotes removed, for reading (rules, optimize's plan, audit).

Tolerant by design: an unclosed quote is valid Dockerfile input, so a lone quote is a literal character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

# A continuation; Docker also drops the blank and comment-only lines right after it.
_CONTINUATION = re.compile(r"\\\n(?:[ \t\r]*(?:#[^\n]*)?\n)*(?:[ \t\r]*#[^\n]*\Z)?")
_BLANKS = re.compile(r"[ \t\r]+")
_OPERATOR = re.compile(r"&&|\|\||;;|\|&|[;|]|&(?!>)")
_PLAIN = re.compile(r"[^ \t\r\n;&|'\"\\`$<>]+")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PIECE = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)""", re.S)
_DQ_ESCAPE = re.compile(r"""\\([\\"$`])""")
# Words that only introduce the real command: `if x; then pip install ...` runs `pip install ...`.
LEADING_KEYWORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "{", "(", "!", "time", "exec", "sudo"})
_CONTROL_WORDS = frozenset("if then else elif fi for while until do done case esac function select { } ( ) !".split())


def dequote(raw: str) -> str:
    """A word's value: quotes and escapes removed; a lone (unclosed) quote stays a literal character."""
    if "'" not in raw and '"' not in raw and "\\" not in raw:
        return raw
    raw = raw.replace("\\\n", "")  # Docker joins continuation lines before the shell runs, quotes or not

    def piece(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            return _DQ_ESCAPE.sub(r"\1", match.group(2))
        return match.group(3)

    return _PIECE.sub(piece, raw)


class Word:
    """A word as written (`raw`), its offsets into the scanned text, and its `value` (quotes removed)."""

    __slots__ = ("end", "raw", "start", "value")  # one per word of every RUN: kept small, built once

    def __init__(self, raw: str, start: int, end: int):
        self.raw, self.start, self.end = raw, start, end
        self.value = dequote(raw)

    def __repr__(self) -> str:
        return f"Word({self.raw!r}, {self.start}, {self.end})"


class Command:
    """A simple command: its words, and the operator after it ("&&", "||", ";", "|", "&" or "")."""

    __slots__ = ("joiner", "values", "words")

    def __init__(self, words: tuple[Word, ...], joiner: str = ""):
        self.words, self.joiner = words, joiner
        self.values = [word.value for word in words]

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end

    @property
    def argv(self) -> list[str]:
        """The values without leading `VAR=value` assignments (`DEBIAN_FRONTEND=… apt-get …`)."""
        values = self.values
        index = 0
        while index < len(values) - 1 and _ASSIGNMENT.match(values[index]):
            index += 1
        return values[index:]

    @property
    def raw(self) -> str:
        return " ".join(word.raw for word in self.words)


@dataclass(frozen=True)
class Unit:
    """Commands joined by pipes (`curl … | sh`): moved or dropped together. `joiner` follows the last one."""

    commands: tuple[Command, ...]

    @property
    def joiner(self) -> str:
        return self.commands[-1].joiner

    @property
    def argv(self) -> list[str]:
        return self.commands[0].argv

    @property
    def start(self) -> int:
        return self.commands[0].start

    @property
    def end(self) -> int:
        return self.commands[-1].end

    def text(self, source: str) -> str:
        """The unit as written, continuations folded onto one line."""
        return re.sub(r"\s*\\\n\s*", " ", source[self.start : self.end]).strip()


@dataclass(frozen=True)
class Script:
    text: str
    _commands: tuple[Command, ...]
    complex: bool  # comments, control flow, subshells, heredocs or dangling operators: don't rewrite
    _argvs: tuple[tuple[str, ...], ...]

    @property
    def commands(self) -> list[Command]:
        return list(self._commands)

    @cached_property
    def units(self) -> tuple[Unit, ...]:
        """The commands grouped by pipes; only rewriting asks for them."""
        return _units(self._commands)

    @property
    def argvs(self) -> list[list[str]]:
        """Each simple command's values, leading keywords (`then`, `if`, `sudo`...) and comments removed."""
        return [list(argv) for argv in self._argvs]


@lru_cache(maxsize=1 << 18)
def scan(text: str) -> Script:
    """Lex a shell text once (cached: rules, optimize and audit all ask for the same RUNs)."""
    lexer = _Lexer(text)
    return lexer.run_plain() if _PLAIN_SCRIPT.fullmatch(text) else lexer.run()


# Most RUNs have no quotes, escapes, expansions, redirections, comments or grouping: their words are runs of
# plain characters between blanks, continuations and the operators `&&`, `||`, `;`, `|`, `&`, so one regex
# splits them (and gives what `run` would, without its character-at-a-time loop).
_PLAIN_SCRIPT = re.compile(r"(?:[^'\"\\`$<>#(){}]|\\\n)*")
_PLAIN_TOKEN = re.compile(r"\\\n(?:[ \t\r]*\n)*|[^ \t\r\n;&|\\]+|&&|\|\||;;|\|&|[;|&]|\n")


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.complex = False
        self.commands: list[Command] = []
        self.words: list[Word] = []
        self.argvs: list[tuple[str, ...]] = []
        self.reading: list[str] = []  # the current command's values for `argvs`

    def run(self) -> Script:
        text, n, i = self.text, len(self.text), 0
        while i < n:
            char = text[i]
            if char == "\\" and text.startswith("\\\n", i):
                continuation = _CONTINUATION.match(text, i)
                assert continuation is not None  # its first two characters, just checked
                i = continuation.end()
                continue
            if char in " \t\r":
                blanks = _BLANKS.match(text, i)
                assert blanks is not None  # its first character, just checked
                i = blanks.end()
                continue
            if char == "\n":
                self._end_command(";", newline=True)
                i += 1
                continue
            operator = _OPERATOR.match(text, i) if char in ";&|" else None
            if operator:
                self._end_command(operator.group())
                i = operator.end()
                continue
            if char == "#":
                self.complex = True  # a comment swallows the rest of the (joined) line
                end = text.find("\n", i)
                i = n if end < 0 else end
                continue
            i = self._word(i)
        return self._finish()

    def _finish(self) -> Script:
        self._end_command("", newline=True)
        if self.commands and self.commands[-1].joiner:
            if self.commands[-1].joiner not in (";", "&"):
                self.complex = True
            self.commands[-1] = Command(self.commands[-1].words, "")
        for command in self.commands:
            if command.words[0].value in _CONTROL_WORDS or (command.argv and command.argv[0] in _CONTROL_WORDS):
                self.complex = True
        return Script(self.text, tuple(self.commands), self.complex, tuple(self.argvs))

    def run_plain(self) -> Script:
        """`run` for a text `_PLAIN_SCRIPT` matches, a token at a time instead of a character at a time."""
        for token in _PLAIN_TOKEN.finditer(self.text):
            raw = token.group()
            if raw[0] == "\\":
                continue  # a continuation (and the blank lines Docker drops after it)
            if raw == "\n":
                self._end_command(";", newline=True)
            elif raw[0] in ";&|":
                self._end_command(raw)
            else:
                self._add_word(Word(raw, token.start(), token.end()))
        return self._finish()

    def _word(self, start: int) -> int:
        text, n, i = self.text, len(self.text), start
        if text[i] in "(){}":
            self.complex = True
        while i < n:
            char = text[i]
            plain = _PLAIN.match(text, i)
            if plain:
                i = plain.end()
                continue
            if char in " \t\r\n;|":
                break
            if char == "&":
                if (i > start and text[i - 1] in "<>") or text.startswith("&>", i):
                    i += 1  # 2>&1, &>/dev/null: a redirection, not an operator
                    continue
                break
            if char == "\\":
                if text.startswith("\\\n", i):
                    break
                i += 2
                continue
            if char == "'":
                close = text.find("'", i + 1)
                i = i + 1 if close < 0 else close + 1
                continue
            if char == '"':
                i = _skip_double_quoted(text, i + 1)
                continue
            if char == "`":
                close = text.find("`", i + 1)
                i = i + 1 if close < 0 else close + 1
                continue
            if char == "$" and text.startswith("$(", i):
                i = _skip_parens(text, i + 2)
                continue
            if char == "<" and text.startswith("<<", i):
                self.complex = True  # a here-document or here-string
            i += 1
        end = min(i, n)
        self._add_word(Word(text[start:end], start, end))
        return end

    def _add_word(self, word: Word) -> None:
        self.words.append(word)
        if self.reading or word.raw not in LEADING_KEYWORDS:
            self.reading.append(word.value)

    def _end_command(self, joiner: str, newline: bool = False) -> None:
        if self.reading:
            self.argvs.append(tuple(self.reading))
            self.reading = []
        if self.words:
            self.commands.append(Command(tuple(self.words), joiner))
        elif joiner and self.commands and not newline:
            self.complex = True  # `&& &&` or a leading operator: not something to rewrite
        self.words = []


def _units(commands: tuple[Command, ...]) -> tuple[Unit, ...]:
    units: list[Unit] = []
    pending: list[Command] = []
    for command in commands:
        pending.append(command)
        if command.joiner != "|":
            units.append(Unit(tuple(pending)))
            pending = []
    if pending:
        units.append(Unit(tuple(pending)))
    return tuple(units)


def _skip_double_quoted(text: str, i: int) -> int:
    """Past the closing quote; an unclosed `"` is a literal character."""
    start, n = i, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            return i + 1
        if char == "$" and text.startswith("$(", i):
            i = _skip_parens(text, i + 2)
            continue
        i += 1
    return start


def _skip_parens(text: str, i: int) -> int:
    depth, n = 1, len(text)
    while i < n and depth:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "'":
            close = text.find("'", i + 1)
            i = n if close < 0 else close + 1
            continue
        if char == '"':
            i = _skip_double_quoted(text, i + 1)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        i += 1
    return i


def join_units(texts_and_joiners: list[tuple[str, str]]) -> str:
    """Rebuild a command line from (text, joiner) pairs; the last joiner is dropped.

    Each command goes on its own continuation line, so rewritten RUNs stay readable in diffs.
    """
    parts: list[str] = []
    for index, (text, _joiner) in enumerate(texts_and_joiners):
        if index == 0:
            parts.append(text)
        else:
            previous = texts_and_joiners[index - 1][1] or "&&"
            parts.append(f" \\\n    {previous} {text}")
    return "".join(parts)
