"""Split a RUN line into the commands it chains, keeping each word's raw text and position.

`dockerfile.shell_commands` gives argv lists, which is enough to *find* things. Rewriting needs more:
the raw words (so `${VAR}` and quoting survive), the operator that joins each command to the next
(`curl … | sh` must stay a pipe) and offsets into the source (so in-place fixes touch only what they
fix). Anything this scanner can't follow with confidence (subshells, control flow, comments, here
documents) marks the script `complex`, and callers then leave it alone.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_CONTROL_WORDS = frozenset(
    "if then else elif fi for while until do done case esac function select { } ( ) !".split()
)


@dataclass
class Word:
    raw: str
    start: int
    end: int

    @property
    def value(self) -> str:
        text = self.raw.replace("\\\n", "")
        try:
            parts = shlex.split(text, posix=True)
        except ValueError:
            return text
        return " ".join(parts) if parts else ""


@dataclass
class Command:
    """A simple command: its words, and the operator after it ("&&", "||", ";", "|", "&" or "")."""

    words: list[Word]
    joiner: str = ""

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end

    @property
    def argv(self) -> list[str]:
        """The words without leading `VAR=value` assignments (`DEBIAN_FRONTEND=… apt-get …`)."""
        values = [word.value for word in self.words]
        index = 0
        while index < len(values) - 1 and _ASSIGNMENT.match(values[index]):
            index += 1
        return values[index:]

    @property
    def raw(self) -> str:
        return " ".join(word.raw for word in self.words)


@dataclass
class Unit:
    """Commands joined by pipes (`curl … | sh`): moved or dropped together. `joiner` follows the last one."""

    commands: list[Command]

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
        body = source[self.start : self.end]
        return re.sub(r"\s*\\\n\s*", " ", body).strip()


@dataclass
class Script:
    text: str
    units: list[Unit] = field(default_factory=list)
    complex: bool = False  # control flow, subshells, comments or heredocs: don't edit

    @property
    def commands(self) -> list[Command]:
        return [command for unit in self.units for command in unit.commands]


def scan(text: str) -> Script:
    """Scan a shell command line (as written in the Dockerfile, continuations included)."""
    script = Script(text)
    commands: list[Command] = []
    words: list[Word] = []
    i = 0
    n = len(text)
    word_start = -1

    def end_word(at: int) -> None:
        nonlocal word_start
        if word_start >= 0:
            words.append(Word(text[word_start:at], word_start, at))
            word_start = -1

    def end_command(joiner: str) -> None:
        nonlocal words
        if words:
            commands.append(Command(words, joiner))
        elif joiner and commands:
            script.complex = True  # `&& &&` or a leading operator: not something to rewrite
        words = []

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] == "\n":
            # Docker drops `\`+newline and, on the following lines, blank and comment-only lines.
            end_word(i)
            i += 2
            while i < n:
                line_end = text.find("\n", i)
                line_end = n if line_end < 0 else line_end
                stripped = text[i:line_end].strip()
                if stripped.startswith("#") or not stripped:
                    if line_end == n:
                        i = n
                        break
                    i = line_end + 1
                    continue
                break
            continue
        if char in " \t\r":
            end_word(i)
            i += 1
            continue
        if char == "\n":
            end_word(i)
            end_command(";")
            i += 1
            continue
        if word_start < 0 and char == "#":
            script.complex = True  # a shell comment swallows the rest of the joined line
            break
        if word_start < 0 and char in "(){}":
            script.complex = True
        if char in "&|;" and not (char == "&" and i > 0 and text[i - 1] in "<>"):
            end_word(i)
            operator = text[i : i + 2] if text[i : i + 2] in ("&&", "||", ";;") else char
            if operator == ";;":
                script.complex = True
            end_command(operator)
            i += len(operator)
            continue
        if char == "<" and text[i : i + 2] == "<<":
            script.complex = True  # here-document or here-string
        if word_start < 0:
            word_start = i
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
        if char == "`":
            close = text.find("`", i + 1)
            i = n if close < 0 else close + 1
            continue
        if char == "$" and text[i + 1 : i + 2] == "(":
            i = _skip_parens(text, i + 2)
            continue
        i += 1
    end_word(n)
    end_command("")
    if commands and commands[-1].joiner:
        script.complex = script.complex or commands[-1].joiner not in (";", "&")
        commands[-1].joiner = ""
    for command in commands:
        if command.words[0].value in _CONTROL_WORDS or (command.argv and command.argv[0] in _CONTROL_WORDS):
            script.complex = True
    units: list[Unit] = []
    pending: list[Command] = []
    for command in commands:
        pending.append(command)
        if command.joiner != "|":
            units.append(Unit(pending))
            pending = []
    if pending:
        units.append(Unit(pending))
    script.units = units
    return script


def join_units(texts_and_joiners: list[tuple[str, str]]) -> str:
    """Rebuild a command line from (text, joiner) pairs; the last joiner is dropped.

    Each command goes on its own continuation line, so rewritten RUNs stay readable in diffs.
    """
    parts: list[str] = []
    for index, (text, joiner) in enumerate(texts_and_joiners):
        if index == 0:
            parts.append(text)
        else:
            previous = texts_and_joiners[index - 1][1] or "&&"
            parts.append(f" \\\n    {previous} {text}")
    return "".join(parts)


def _skip_double_quoted(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            return i + 1
        if char == "$" and text[i + 1 : i + 2] == "(":
            i = _skip_parens(text, i + 2)
            continue
        i += 1
    return n


def _skip_parens(text: str, i: int) -> int:
    depth = 1
    n = len(text)
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
