"""The simple commands a shell text runs, as analysis reads them: wrappers removed, `sh -c` bodies expanded."""

from __future__ import annotations

import re
from functools import lru_cache

from .lexer import scan

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash"})
_WRAPPERS = frozenset({"sudo", "nohup", "command", "time", "exec", "xargs"})
_PYTHON = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)?)?$")


def program(argv: list[str]) -> str:
    """The command's name without its directory: `/opt/venv/bin/pip` -> `pip`."""
    return argv[0].rsplit("/", 1)[-1] if argv else ""


def is_python(word: str) -> bool:
    """python, python3, python3.11, /usr/local/bin/python3..."""
    return bool(_PYTHON.match(word))


def split_commands(text: str) -> list[list[str]]:
    """Argv of each simple command, split on &&, ||, ;, |, & and newlines, quotes removed, comments and leading
    keywords (`then`, `if`, `sudo`...) dropped. Redirections such as `2>&1` stay words."""
    return scan(text).argvs


def simple_commands(text: str) -> list[list[str]]:
    """Simple commands with wrappers removed and `sh -c` bodies expanded in place (a fresh list: callers may edit)."""
    return [list(argv) for argv in _simple_commands(text, 0)]


@lru_cache(maxsize=1 << 16)
def _simple_commands(text: str, depth: int) -> tuple[tuple[str, ...], ...]:
    result: list[tuple[str, ...]] = []
    for argv in scan(text).argvs:
        argv = strip_prefixes([_unquote(word) if ('"' in word or "'" in word) else word for word in argv])
        if not argv:
            continue
        if program(argv) in _SHELLS and "-c" in argv[1:] and depth < 3:
            index = argv.index("-c", 1)
            if index + 1 < len(argv):
                result.extend(_simple_commands(argv[index + 1], depth + 1))
                continue
        result.append(tuple(argv))
    return tuple(result)


def strip_prefixes(argv: list[str]) -> list[str]:
    """Drop `A=1`, `env [-i] A=1`, `sudo`, `nohup`... in front of the real command."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if _ASSIGNMENT.match(word):
            i += 1
        elif word.rsplit("/", 1)[-1] == "env":
            i += 1
            while i < len(argv) and (argv[i].startswith("-") or _ASSIGNMENT.match(argv[i])):
                i += 1
        elif word in _WRAPPERS:
            i += 1
            while i < len(argv) and argv[i].startswith("-"):
                i += 1
        else:
            break
    return argv[i:]


def python_code(argv: list[str]) -> str | None:
    """The code of `python -c CODE`, else None."""
    if argv and is_python(argv[0]) and "-c" in argv[1:]:
        index = argv.index("-c", 1)
        if index + 1 < len(argv):
            return argv[index + 1]
    return None


def _unquote(word: str) -> str:
    # A lone quote from an unclosed string, or a quoted literal: strip what is left.
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word.strip("\"'") if word.count('"') == 1 or word.count("'") == 1 else word
