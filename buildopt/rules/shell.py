"""What a RUN line does: its simple commands, and the pip and package-manager calls among them.

Built on `dockerfile.shell_commands` (argv per simple command). This module adds the unwrapping rules
share: `sh -c "..."`, `env A=1 cmd`, leading assignments, `python -m pip`, `uv pip`, and option parsing
for pip/uv and apt/apk with the options that take a value, so `-r file` or `-o Key=val` is never taken for
a package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)?)?$")
_PIP = re.compile(r"^(?:.*/)?pip(?:\d+(?:\.\d+)?)?$")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash"})
_WRAPPERS = frozenset({"sudo", "nohup", "command", "time", "exec", "xargs"})


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _unquote(word: str) -> str:
    # shell_commands falls back to a plain split on an unclosed quote; strip what it leaves.
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word.strip("\"'") if word.count('"') == 1 or word.count("'") == 1 else word


# One regex pass finds operators and whole words (quoted parts, escapes and redirections like 2>&1 included);
# shlex does the same character by character and costs ~10x more on large files.
_TOKENS = re.compile(
    r"""(&&|\|\||\|&|;;|[;|\n]|&(?!>))"""
    r"""|((?:[^ \t\r\n;&|'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*"|(?<=[<>])&|&(?=>)|['"\\])+)""",
    re.S,
)
_PIECE = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)""", re.S)
_DQ_ESCAPE = re.compile(r"""\\([\\"$`])""")
_COMMENT_LINE = re.compile(r"(?m)^[ \t]*#.*$")
_KEYWORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "{", "(", "!", "time", "exec", "sudo"})


def _dequote(word: str) -> str:
    def piece(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            return _DQ_ESCAPE.sub(r"\1", match.group(2))
        return match.group(3)

    return _PIECE.sub(piece, word)


def split_commands(text: str) -> list[list[str]]:
    """Argv of each simple command, split on &&, ||, ;, |, & and newlines, quotes removed.

    The same contract as dockerfile.shell_commands (tolerant: an unclosed quote is kept as a literal
    character), plus what it leaves out: `# comments` at the start of a word, and redirections such as
    `2>&1` or `&>/dev/null` that are not command separators.
    """
    commands: list[list[str]] = []
    current: list[str] = []
    in_comment = False
    text = _COMMENT_LINE.sub("", text.replace("\\\n", " "))  # quotes in a comment must not pair up with code
    for operator, word in _TOKENS.findall(text):
        if operator:
            if operator == "\n":
                in_comment = False
            if current and not in_comment or operator == "\n" and current:
                commands.append(current)
                current = []
            continue
        if in_comment:
            continue
        if word.startswith("#"):
            in_comment = True
            continue
        if not current and word in _KEYWORDS:
            continue
        current.append(_dequote(word) if ("'" in word or '"' in word or "\\" in word) else word)
    if current:
        commands.append(current)
    return commands


def commands_of(text: str, _depth: int = 0) -> list[list[str]]:
    """Simple commands of a shell text, with wrappers removed and `sh -c` bodies expanded in place."""
    result: list[list[str]] = []
    for argv in split_commands(text):
        argv = [_unquote(word) if ('"' in word or "'" in word) else word for word in argv]
        argv = strip_prefixes(argv)
        if not argv:
            continue
        if _basename(argv[0]) in _SHELLS and "-c" in argv[1:] and _depth < 3:
            index = argv.index("-c", 1)
            if index + 1 < len(argv):
                result.extend(commands_of(argv[index + 1], _depth + 1))
                continue
        result.append(argv)
    return result


def strip_prefixes(argv: list[str]) -> list[str]:
    """Drop `A=1`, `env [-i] A=1`, `sudo`, `nohup`... in front of the real command."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if _ASSIGNMENT.match(word):
            i += 1
        elif _basename(word) == "env":
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


# ---- pip and uv ------------------------------------------------------------------------------------------

_PIP_SHORT = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-i": "--index-url",
              "-f": "--find-links", "-t": "--target", "-C": "--config-settings", "-p": "--python",
              "-U": "--upgrade", "-q": "--quiet", "-v": "--verbose", "-n": "--no-cache", "-I": "--ignore-installed"}
_PIP_VALUE_OPTIONS = frozenset(
    "--requirement --constraint --editable --index-url --extra-index-url --find-links --target --prefix --root "
    "--platform --python-version --implementation --abi --upgrade-strategy --progress-bar --src --cache-dir "
    "--trusted-host --global-option --install-option --config-settings --log --proxy --retries --timeout "
    "--exists-action --cert --client-cert --only-binary --no-binary --report --root-user-action --python "
    "--keyring-provider --use-feature --use-deprecated --group --index --default-index --torch-backend "
    "--index-strategy --python-platform --resolution --prerelease --exclude-newer --link-mode --extra "
    "--output-file --package --no-install-package --directory --project --config-file --override "
    "--build-constraint --reinstall-package --upgrade-package --refresh-package --keyring-provider "
    "--only-group --no-group --no-extra --all-groups".split()
)
_PIP_SHORT_VALUE = frozenset({"-r", "-c", "-e", "-i", "-f", "-t", "-C", "-p"})


@dataclass
class PipCommand:
    """One `pip`/`uv` call: `tool` pip|uv, `subcommand` install|sync|uninstall|download|..."""

    argv: list[str]
    tool: str
    subcommand: str
    options: dict[str, list[str]] = field(default_factory=dict)  # long name -> values ("" for flags)
    targets: list[str] = field(default_factory=list)  # positional arguments: packages, paths, URLs

    def has(self, option: str) -> bool:
        return option in self.options

    def values(self, option: str) -> list[str]:
        return self.options.get(option, [])

    @property
    def installs(self) -> bool:
        return self.subcommand in ("install", "sync", "add")

    @property
    def no_cache(self) -> bool:
        return self.has("--no-cache-dir") or self.has("--no-cache")

    @property
    def requirement_files(self) -> list[str]:
        return self.values("--requirement")


def pip_command(argv: list[str]) -> PipCommand | None:
    """A pip or uv call, whatever the spelling: pip3, /opt/venv/bin/pip, python3 -m pip, uv pip, uv sync.

    Options before the subcommand (`pip --no-cache-dir install`, `uv --no-cache pip install`) count too.
    """
    if not argv:
        return None
    head = _basename(argv[0])
    words: list[str] | None = None
    tool = "pip"
    if _PIP.match(head):
        words = argv[1:]
    elif _PYTHON.match(head):
        i = 1
        while i < len(argv) and argv[i].startswith("-") and argv[i] != "-m" and not argv[i].startswith("-m"):
            i += 1
        if i + 1 < len(argv) and argv[i] == "-m" and argv[i + 1] in ("pip", "pip3"):
            words = argv[i + 2:]
        elif i < len(argv) and argv[i] in ("-mpip", "-mpip3"):
            words = argv[i + 1:]
    elif head == "uv":
        tool = "uv"
        words = argv[1:]
    if words is None:
        return None
    command = PipCommand(argv=argv, tool=tool, subcommand="")
    rest = _parse_options(words, command, stop_at_positional=True)
    if tool == "uv":
        if rest and rest[0] == "pip":
            rest = _parse_options(rest[1:], command, stop_at_positional=True)
        elif not rest or rest[0] not in ("sync", "add"):
            return None
    if not rest:
        return None
    command.subcommand = rest[0]
    _parse_options(rest[1:], command)
    return command


def _parse_options(words: list[str], command: PipCommand, stop_at_positional: bool = False) -> list[str]:
    """Collect options into `command`; positional words become targets, or end the scan when stop_at_positional."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            command.targets.extend(words[i + 1:])
            return []
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if not eq and name in _PIP_VALUE_OPTIONS:
                value = words[i + 1] if i + 1 < len(words) else ""
                i += 1
            command.options.setdefault(name, []).append(value)
        elif word.startswith("-") and len(word) >= 2:
            short = word[:2]
            if short in _PIP_SHORT_VALUE:
                value = word[2:] if len(word) > 2 else (words[i + 1] if i + 1 < len(words) else "")
                if len(word) == 2:
                    i += 1
                command.options.setdefault(_PIP_SHORT[short], []).append(value.lstrip("="))
            else:
                for letter in word[1:]:  # -qU
                    command.options.setdefault(_PIP_SHORT.get("-" + letter, "-" + letter), []).append("")
        elif stop_at_positional:
            return words[i:]
        else:
            command.targets.append(word)
        i += 1
    return []


def pip_calls(commands: list[list[str]]) -> list[PipCommand]:
    found = []
    for argv in commands:
        call = pip_command(argv)
        if call is not None:
            found.append(call)
    return found


# ---- system package managers -------------------------------------------------------------------------

_APT_VALUE_OPTIONS = frozenset({"-o", "-t", "-c", "--option", "--target-release", "--config-file", "--default-release"})


@dataclass
class PackageCommand:
    """One apt-get/apt/apk/yum/dnf/microdnf call. `action` is install|update|remove|purge|clean|...|add|del."""

    tool: str
    action: str
    packages: list[str]
    no_recommends: bool = False
    apt_options: list[str] = field(default_factory=list)  # the -o values
    virtual: str | None = None  # apk --virtual NAME


_APT_TOOLS = frozenset({"apt-get", "apt", "aptitude"})
_OTHER_TOOLS = frozenset({"apk", "yum", "dnf", "microdnf", "zypper"})


def package_command(argv: list[str]) -> PackageCommand | None:
    if not argv:
        return None
    tool = _basename(argv[0])
    if tool not in _APT_TOOLS and tool not in _OTHER_TOOLS:
        return None
    call = PackageCommand(tool, "", [])
    i = 1
    while i < len(argv):
        word = argv[i]
        name, eq, value = word.partition("=")
        if word == "--no-install-recommends":
            call.no_recommends = True
        elif tool == "apk" and name in ("--virtual", "-t"):
            call.virtual = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 0 if eq else 1
        elif word.startswith("-o") and len(word) > 2 and not word.startswith("--"):
            call.apt_options.append(word[2:].lstrip("="))
        elif name in _APT_VALUE_OPTIONS:
            option = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 0 if eq else 1
            if name in ("-o", "--option"):
                call.apt_options.append(option)
        elif word.startswith("-"):
            if tool in ("yum", "dnf", "microdnf") and word.lower() in ("--setopt=install_weak_deps=false", "--setopt=install_weak_deps=0"):
                call.no_recommends = True
        elif not call.action:
            call.action = word
        else:
            call.packages.append(word)
        i += 1
    for option in call.apt_options:
        if re.match(r"(?i)^APT::Install-Recommends=[\"']?(false|0|no|off)[\"']?$", option.strip("'\"")):
            call.no_recommends = True
    if tool == "apk":
        call.no_recommends = True  # apk has no recommends
    return call


def package_calls(commands: list[list[str]]) -> list[PackageCommand]:
    return [call for call in (package_command(argv) for argv in commands) if call is not None]


def is_install(call: PackageCommand) -> bool:
    return call.action in ("install", "add", "reinstall")


def is_removal(call: PackageCommand) -> bool:
    return call.action in ("remove", "purge", "autoremove", "del", "erase", "uninstall")


def removes_apt_lists(argv: list[str]) -> bool:
    """`rm -rf /var/lib/apt/lists/*` (or the dir itself, or /var/lib/apt)."""
    if not argv or _basename(argv[0]) not in ("rm", "find"):
        return False
    return any(arg.rstrip("/*").rstrip("/") in ("/var/lib/apt/lists", "/var/lib/apt") for arg in argv[1:])
