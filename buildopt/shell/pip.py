"""pip and uv invocations: which subcommand, which options (with the ones that take a value), which targets.

`pip3`, `/opt/venv/bin/pip`, `python3 -m pip`, `uv pip install`, `uv sync` and `uv add` are all read the same
way, and options before the subcommand (`pip --no-cache-dir install`, `uv --no-cache pip install`) count too.
An option's value (`-r file`, `--torch-backend cpu`, `--group dev`) is never taken for a package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .commands import is_python, program

_PIP = re.compile(r"^(?:.*/)?pip(?:\d+(?:\.\d+)?)?$")
SHORT_OPTIONS = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable", "-i": "--index-url",
                 "-f": "--find-links", "-t": "--target", "-C": "--config-settings", "-p": "--python",
                 "-d": "--dest", "-w": "--wheel-dir",
                 "-U": "--upgrade", "-q": "--quiet", "-v": "--verbose", "-n": "--no-cache", "-I": "--ignore-installed"}
# Long options of pip and uv that take a value (the next word, or `--name=value`).
VALUE_OPTIONS = frozenset(
    "--requirement --constraint --editable --index-url --extra-index-url --find-links --target --prefix --root "
    "--platform --python-version --implementation --abi --upgrade-strategy --progress-bar --src --cache-dir "
    "--trusted-host --global-option --install-option --config-settings --log --proxy --retries --timeout "
    "--exists-action --cert --client-cert --only-binary --no-binary --report --root-user-action --python "
    "--keyring-provider --use-feature --use-deprecated --group --index --default-index --torch-backend "
    "--index-strategy --python-platform --resolution --prerelease --exclude-newer --link-mode --extra "
    "--output-file --package --no-install-package --directory --project --config-file --override "
    "--build-constraint --reinstall-package --upgrade-package --refresh-package --only-group --no-group "
    "--no-extra --color --dest --wheel-dir --python-preference --tag --branch --rev --marker --bounds --script "
    "--optional --allow-insecure-host --hash --format --path --exclude --install-dir --build-constraints".split()
)
# uv spells some of pip's options in the plural (`uv pip install --requirements r.txt --constraints c.txt`).
LONG_ALIASES = {"--requirements": "--requirement", "--constraints": "--constraint", "--overrides": "--override",
                "--build-constraints": "--build-constraint"}
_SHORT_WITH_VALUE = frozenset({"-r", "-c", "-e", "-i", "-f", "-t", "-C", "-p", "-d", "-w"})
INSTALL_SUBCOMMANDS = ("install", "sync", "add")


@dataclass
class PipInvocation:
    """One `pip`/`uv` call: `tool` pip|uv, `subcommand` install|sync|add|uninstall|download|..."""

    argv: list[str]
    tool: str
    subcommand: str
    subcommand_index: int = 0  # where the subcommand word is in argv
    options: dict[str, list[str]] = field(default_factory=dict)  # long name -> values ("" for flags)
    targets: list[str] = field(default_factory=list)  # positional arguments: packages, paths, URLs

    def has(self, option: str) -> bool:
        return option in self.options

    def values(self, option: str) -> list[str]:
        return self.options.get(option, [])

    @property
    def installs(self) -> bool:
        return self.subcommand in INSTALL_SUBCOMMANDS

    @property
    def no_cache(self) -> bool:
        return self.has("--no-cache-dir") or self.has("--no-cache")

    @property
    def requirement_files(self) -> list[str]:
        return self.values("--requirement")

    @property
    def editables(self) -> list[str]:
        return self.values("--editable")


def pip_invocation(argv: list[str]) -> PipInvocation | None:
    """The pip/uv call `argv` makes, or None when it is something else (pipx, uv run, python app.py)."""
    if not argv:
        return None
    head = program(argv)
    start: int | None = None
    tool = "pip"
    if _PIP.match(head):
        start = 1
    elif is_python(head):
        i = 1
        while i < len(argv) and argv[i].startswith("-") and not argv[i].startswith("-m"):
            i += 1
        if i + 1 < len(argv) and argv[i] == "-m" and argv[i + 1] in ("pip", "pip3"):
            start = i + 2
        elif i < len(argv) and argv[i] in ("-mpip", "-mpip3"):
            start = i + 1
    elif head == "uv":
        tool, start = "uv", 1
    if start is None:
        return None
    call = PipInvocation(argv=argv, tool=tool, subcommand="")
    index = _read_options(argv, start, call, stop_at_positional=True)
    if tool == "uv":
        if index < len(argv) and argv[index] == "pip":
            index = _read_options(argv, index + 1, call, stop_at_positional=True)
        elif index >= len(argv) or argv[index] not in ("sync", "add"):
            return None
    if index >= len(argv):
        return None
    call.subcommand, call.subcommand_index = argv[index], index
    _read_options(argv, index + 1, call)
    return call


def parse_arguments(words: list[str]) -> PipInvocation:
    """The options and targets of the words after the subcommand (`install`)."""
    call = PipInvocation(argv=words, tool="pip", subcommand="")
    _read_options(words, 0, call)
    return call


def argument_roles(words: list[str]) -> list[str | None]:
    """For each word after the subcommand: the long option it is or gives a value to, or None for a target."""
    roles: list[str | None] = []
    call = PipInvocation(argv=words, tool="pip", subcommand="")
    _read_options(words, 0, call, roles=roles)
    return roles


def long_name(option: str) -> str:
    return SHORT_OPTIONS.get(option, option)


def _read_options(words: list[str], i: int, call: PipInvocation, stop_at_positional: bool = False,
                  roles: list[str | None] | None = None) -> int:
    """Collect options into `call` from words[i:]; positional words become targets, or end the scan when
    stop_at_positional (the index returned is then the positional's). `roles` gets one entry per word read."""
    note = roles.append if roles is not None else (lambda role: None)
    while i < len(words):
        word = words[i]
        if word == "--":
            note("--")
            for target in words[i + 1:]:
                call.targets.append(target)
                note(None)
            return len(words)
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            name = LONG_ALIASES.get(name, name)
            note(name)
            if not eq and name in VALUE_OPTIONS:
                value = words[i + 1] if i + 1 < len(words) else ""
                if i + 1 < len(words):
                    note(name)
                i += 1
            call.options.setdefault(name, []).append(value)
        elif word.startswith("-") and len(word) >= 2:
            short = word[:2]
            if short in _SHORT_WITH_VALUE:
                name = SHORT_OPTIONS[short]
                note(name)
                value = word[2:] if len(word) > 2 else (words[i + 1] if i + 1 < len(words) else "")
                if len(word) == 2:
                    if i + 1 < len(words):
                        note(name)
                    i += 1
                call.options.setdefault(name, []).append(value.lstrip("="))
            else:
                note(word)
                for letter in word[1:]:  # -qU
                    call.options.setdefault(SHORT_OPTIONS.get("-" + letter, "-" + letter), []).append("")
        elif stop_at_positional:
            return i
        else:
            note(None)
            call.targets.append(word)
        i += 1
    return i


def pip_invocations(commands: list[list[str]]) -> list[PipInvocation]:
    return [call for call in (pip_invocation(argv) for argv in commands) if call is not None]
