"""Parse stage: a Dockerfile into stages and instructions with their line ranges.

The grammar is Docker's own: the `dockerfile` package wraps BuildKit's Go parser, so continuations,
heredocs, flags, JSON/shell forms and the escape directive behave exactly as in `docker build`.
On top of it this module adds what the parser leaves out: stage structure, ARG substitution in FROM,
parser directives, `# buildopt: ignore=` comments, and one-line errors for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile as _goparser

from . import continuations
from .errors import BadInput
from .files import MAX_DOCKERFILE_BYTES, read_text as _read_regular_text

KNOWN_INSTRUCTIONS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_IGNORE_COMMENT = re.compile(r"^\s*#\s*buildopt:\s*ignore\s*=\s*([A-Za-z0-9_,\s-]+)$")
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
# Any C0 control byte except tab, newline, carriage return and form feed means this is not a text file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
# The flags each instruction takes and their kinds, as BuildKit's instructions/parse.go declares them (moby/buildkit
# 73ed682): str needs `=value`, bool takes none or true/false, list may repeat. Any other flag fails `docker build`.
# RUN's --device and --security come from the labs syntax; they are accepted so a labs Dockerfile isn't refused.
_FLAGS: dict[str, dict[str, type]] = {
    "ADD": {"chown": str, "chmod": str, "link": bool, "keep-git-dir": bool, "checksum": str, "unpack": bool,
            "exclude": list},
    "COPY": {"chown": str, "from": str, "chmod": str, "link": bool, "exclude": list, "parents": bool},
    "FROM": {"platform": str},
    "HEALTHCHECK": {"interval": str, "timeout": str, "start-period": str, "start-interval": str, "retries": str},
    "RUN": {"mount": list, "network": str, "security": str, "device": list},
}
_NOT_ONBUILD_TRIGGERS = ("FROM", "MAINTAINER")


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str


@dataclass(frozen=True)
class Instruction:
    """One instruction. `line`..`end_line` is its 1-based range in the file, continuations included."""

    cmd: str  # upper-case keyword; for ONBUILD the wrapped keyword is in `sub_cmd`
    line: int
    end_line: int
    original: str
    value: tuple[str, ...]
    flags: tuple[str, ...] = ()
    json_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    sub_cmd: str | None = None
    stage: int = -1  # index of the stage it belongs to; -1 for ARGs before the first FROM
    ignored_rules: frozenset[str] = frozenset()

    def flag(self, name: str) -> str | None:
        """Value of `--name=value` (or "" for a bare `--name`), None when absent. Last one wins, as in BuildKit."""
        found = None
        for raw in self.flags:
            key, _, val = raw.lstrip("-").partition("=")
            if key == name:
                found = val
        return found

    def flag_values(self, name: str) -> list[str]:
        return [raw.partition("=")[2] for raw in self.flags if raw.lstrip("-").partition("=")[0] == name]

    @property
    def shell_text(self) -> str:
        """The command text a RUN executes: the line itself plus any heredoc bodies."""
        text = " ".join(self.value)
        for doc in self.heredocs:
            text += "\n" + doc.content
        return text


@dataclass
class Stage:
    index: int
    name: str | None  # the `AS name` alias
    base: str  # as written
    base_resolved: str  # with ARGs substituted
    line: int
    platform: str | None = None
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def end_line(self) -> int:
        return self.instructions[-1].end_line if self.instructions else self.line

    def of(self, *cmds: str) -> list[Instruction]:
        return [ins for ins in self.instructions if ins.cmd in cmds]


@dataclass
class Dockerfile:
    path: Path | None
    text: str
    directives: dict[str, str]
    global_args: dict[str, str | None]  # ARGs declared before the first FROM, with defaults
    stages: list[Stage]
    instructions: list[Instruction]  # all, in file order
    file_ignores: frozenset[str] = frozenset()  # `# buildopt: ignore=` in the directive/header block
    # What BuildKit's parser accepts but `docker build` then rejects, with the line: an unknown instruction or an
    # instruction before the first FROM (both left out), a flag the instruction doesn't take, a forbidden ONBUILD
    # trigger. The CLI prints each as a warning; analyze fails on them like on a critical finding.
    warnings: list[str] = field(default_factory=list)

    @property
    def buildable(self) -> bool:
        return bool(self.stages) and not self.warnings

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    @property
    def display_name(self) -> str:
        return str(self.path) if self.path else "<string>"

    def stage_named(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name and stage.name.lower() == name.lower():
                return stage
        return None

    def stage_ancestry(self, stage: Stage) -> list[Stage]:
        """The stage and the local stages it is built FROM, nearest first."""
        chain = [stage]
        seen = {stage.index}
        current = stage
        while True:
            parent = self.stage_named(current.base_resolved) if current.base_resolved else None
            if parent is None or parent.index in seen:
                return chain
            chain.append(parent)
            seen.add(parent.index)
            current = parent


def substitute(text: str, variables: Mapping[str, str | None]) -> str:
    """Expand $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} the way BuildKit does for FROM."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = variables.get(name)
        op = match.group("op")
        word = match.group("word") or ""
        if op in (":-", "-"):
            return value if value else word
        if op in (":+", "+"):
            return word if value else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def read_text(path: Path) -> str:
    """A Dockerfile's text: a regular file of at most MAX_DOCKERFILE_BYTES, UTF-8 (a byte-order mark is dropped)."""
    return _read_regular_text(path, limit=MAX_DOCKERFILE_BYTES, what="Dockerfile", encoding="utf-8-sig")


def parse_file(path: str | Path, build_args: dict[str, str] | None = None) -> Dockerfile:
    path = Path(path)
    return parse_string(read_text(path), path=path, build_args=build_args)


def parse_string(text: str, path: Path | None = None, build_args: dict[str, str] | None = None) -> Dockerfile:
    name = str(path) if path else "<string>"
    control = _CONTROL.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        raise BadInput(f"{name}:{line}: not a text file (binary byte {control.group()!r})")
    if not text.strip():
        raise BadInput(f"{name}: empty file")
    commands, lines_of = _go_parse(text, name)
    lines = text.splitlines()
    directives = _directives(lines)
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    global_args: dict[str, str | None] = {}
    warnings: list[str] = []
    for command in commands:
        start_line, end_line = lines_of(command)
        if not command.cmd:  # e.g. a file that is only a line continuation
            raise BadInput(f"{name}:{start_line}: no instruction")
        keyword = command.cmd.upper()
        if keyword not in KNOWN_INSTRUCTIONS:
            # BuildKit's parser takes it (its own test files have such lines); `docker build` stops on it.
            warnings.append(f"{name}:{start_line}: unknown instruction: {command.cmd}; docker build rejects it")
            continue
        problem = _flag_problem(command, keyword)
        if problem:
            warnings.append(f"{name}:{start_line}: {problem}; docker build rejects it")
        if keyword == "FROM":
            stages.append(_new_stage(command, len(stages), global_args, build_args or {}, name, start_line))
        elif not stages and keyword != "ARG":
            warnings.append(f"{name}:{start_line}: {keyword} before the first FROM; docker build rejects it "
                            f"(no build stage in current context)")
            continue
        instruction = Instruction(
            cmd=keyword,
            line=start_line,
            end_line=end_line,
            original=command.original,
            value=tuple(command.value),
            flags=tuple(command.flags),
            json_form=command.json,
            heredocs=tuple(Heredoc(doc.name, doc.content) for doc in command.heredocs),
            sub_cmd=command.sub_cmd.upper() if command.sub_cmd else None,
            stage=len(stages) - 1,
            ignored_rules=_ignores_before(lines, start_line),
        )
        instructions.append(instruction)
        if stages:
            stages[-1].instructions.append(instruction)
        elif keyword == "ARG":
            global_args.update(arg_pairs(instruction))
    if not stages:
        warnings.append(f"{name}: no FROM instruction; docker build rejects it")
    return Dockerfile(
        path=path,
        text=text,
        directives=directives,
        global_args=global_args,
        stages=stages,
        instructions=instructions,
        file_ignores=_file_ignores(lines),
        warnings=warnings,
    )


def _go_parse(text: str, name: str):
    """BuildKit's parser on the text, with long continuation runs joined first (continuations.py), and a function
    giving each command's (start, end) lines in the original text."""
    compacted = continuations.compact(text)
    # The parser's errors carry no line numbers: the joined text gives the same ones as the file.
    commands = _run_go_parser(compacted.text if compacted else text, name, text)
    if compacted is not None and not compacted.matches(commands):
        compacted = None  # a heredoc was predicted wrongly: parse the text as it is
        commands = _run_go_parser(text, name, text)
    if compacted is None:
        return commands, lambda command: (command.start_line, command.end_line)
    return commands, lambda command: compacted.lines(command.start_line, command.end_line)


def _run_go_parser(source: str, name: str, text: str):
    try:
        return _goparser.parse_string(source)
    except _goparser.GoParseError as err:
        raise BadInput(_describe_go_error(name, str(err), text)) from None
    except UnicodeDecodeError:
        # The Go parser trims Unicode spaces such as U+0085 byte-wise and can hand back a cut character.
        raise BadInput(f"{name}: unsupported character (a Unicode line or space separator such as U+0085)") from None


def _flag_problem(command, keyword: str) -> str | None:
    """What `docker build` refuses before it runs anything, in BuildKit's own words: a flag the instruction
    doesn't take (or a bad value for one), and the ONBUILD triggers BuildKit forbids."""
    if keyword == "ONBUILD":
        trigger = (command.sub_cmd or "").upper()
        if not command.value and not command.sub_cmd:
            return "ONBUILD requires at least one argument"
        if trigger == "ONBUILD":
            return "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        if trigger in _NOT_ONBUILD_TRIGGERS:
            return f"{trigger} isn't allowed as an ONBUILD trigger"
    if keyword == "HEALTHCHECK" and command.value and command.value[0].upper() == "NONE":
        return None  # BuildKit reads no flags for HEALTHCHECK NONE
    allowed = _FLAGS.get(keyword, {})
    used: set[str] = set()
    for raw in command.flags:
        flag, has_value, value = raw.partition("=")
        kind = allowed.get(flag[2:])
        if kind is None:
            takes = ", ".join(f"--{known}" for known in sorted(allowed)) if allowed else "no flags"
            return f"unknown flag: {flag} ({keyword} takes {takes})"
        if flag in used and kind is not list:
            return f"duplicate flag specified: {flag}"
        used.add(flag)
        if kind is bool:
            if has_value and value == "":
                return f"missing a value on flag: {flag}"
            if value.lower() not in ("true", "false", ""):
                return f"expecting boolean value for flag {flag}, not: {value}"
        elif not has_value:
            return f"missing a value on flag: {flag}"
    return None


def arg_pairs(instruction: Instruction) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for token in instruction.value:
        key, sep, val = token.partition("=")
        pairs[key] = _unquote(val) if sep else None
    return pairs


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """ENV A=1 B="two words" and the legacy ENV A value form, with quotes removed."""
    values = instruction.value
    first_word = instruction.original.split(None, 1)[1].split(None, 1)[0] if len(instruction.original.split(None, 1)) > 1 else ""
    if len(values) == 2 and "=" not in first_word:
        # Legacy `ENV KEY value with spaces`: the parser gives (KEY, rest of line).
        return {values[0]: values[1]}
    pairs = {}
    for i in range(0, len(values) - 1, 2):
        pairs[values[i]] = _unquote(values[i + 1])
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _new_stage(command, index: int, global_args: dict, build_args: dict, name: str, line: int) -> Stage:
    words = list(command.value)
    platform = next((f.partition("=")[2] for f in command.flags if f.startswith("--platform")), None)
    alias = None
    if len(words) >= 3 and words[-2].lower() == "as":
        alias = words[-1]
        words = words[:-2]
    if len(words) != 1:
        raise BadInput(f"{name}:{line}: FROM takes one image (and optionally AS name)")
    variables = {**global_args, **build_args}
    return Stage(
        index=index,
        name=alias,
        base=words[0],
        base_resolved=substitute(words[0], variables),
        line=line,
        platform=platform,
    )


def _directives(lines: list[str]) -> dict[str, str]:
    """Parser directives: `# key=value` lines at the very top, before any other comment or blank line."""
    found: dict[str, str] = {}
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match or match.group(1).lower() in found or match.group(1).lower() == "buildopt":
            break
        found[match.group(1).lower()] = match.group(2)
    return found


def _parse_ignore(line: str) -> frozenset[str]:
    match = _IGNORE_COMMENT.match(line)
    if not match:
        return frozenset()
    return frozenset(part.strip().upper() if part.strip().upper().startswith("BO") else part.strip()
                     for part in match.group(1).split(",") if part.strip())


def _ignores_before(lines: list[str], start_line: int) -> frozenset[str]:
    """`# buildopt: ignore=BO101,pip-cache` on the comment lines directly above an instruction."""
    ignored: set[str] = set()
    index = start_line - 2
    while index >= 0 and lines[index].lstrip().startswith("#"):
        ignored |= _parse_ignore(lines[index])
        index -= 1
    return frozenset(ignored)


def _file_ignores(lines: list[str]) -> frozenset[str]:
    """`# buildopt: global ignore=...` anywhere in the file applies to the whole file."""
    ignored: set[str] = set()
    for line in lines:
        match = re.match(r"^\s*#\s*buildopt:\s*global\s+ignore\s*=\s*([A-Za-z0-9_,\s-]+)$", line)
        if match:
            ignored |= _parse_ignore(f"# buildopt: ignore={match.group(1)}")
    return frozenset(ignored)


def _describe_go_error(name: str, message: str, text: str) -> str:
    if "no instructions" in message:
        return f"{name}: no instructions (only comments or blank lines)"
    if "heredoc" in message:
        line = _unterminated_heredoc_line(text)
        return f"{name}:{line}: unterminated heredoc" if line else f"{name}: {message}"
    return f"{name}: {message}"


def _unterminated_heredoc_line(text: str) -> int | None:
    """The line of the last `<<NAME` whose terminator never comes (the Go parser doesn't say)."""
    lines = text.splitlines()
    last_seen = {line.strip(): index for index, line in enumerate(lines)}  # linear: no rescan per marker
    for number, line in enumerate(lines, start=1):
        for match in re.finditer(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?", line):
            if last_seen.get(match.group(1), -1) < number:
                return number
    return None
