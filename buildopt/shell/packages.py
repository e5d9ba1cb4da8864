"""System package manager invocations: apt-get/apt/aptitude, apk, yum, dnf, microdnf, zypper.

Options that take a value (`-o Key=val`, `-t bookworm-backports`, `--virtual .deps`) are never taken for the
action or a package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .commands import program

APT_TOOLS = frozenset({"apt-get", "apt", "aptitude"})
_OTHER_TOOLS = frozenset({"apk", "yum", "dnf", "microdnf", "zypper"})
_VALUE_OPTIONS = frozenset({"-o", "-t", "-c", "--option", "--target-release", "--config-file", "--default-release"})
# Options of the other managers that take the next word as their value (`apk add -X <repository URL> pkg`).
_TOOL_VALUE_OPTIONS = {
    "apk": frozenset({"-X", "--repository", "-p", "--root", "--arch", "--cache-dir", "--keys-dir", "--repositories-file"}),
    "yum": frozenset({"--enablerepo", "--disablerepo", "--repo", "--repoid", "--releasever", "--installroot", "-x",
                      "--exclude", "-c", "--config"}),
    "zypper": frozenset({"-r", "--repo", "--from", "-t", "--type", "--root", "-R"}),
}
_TOOL_VALUE_OPTIONS["dnf"] = _TOOL_VALUE_OPTIONS["microdnf"] = _TOOL_VALUE_OPTIONS["yum"]
_NO_RECOMMENDS_OPTION = re.compile(r"(?i)^APT::Install-Recommends=[\"']?(false|0|no|off)[\"']?$")
INSTALL_ACTIONS = frozenset({"install", "add", "reinstall"})
REMOVAL_ACTIONS = frozenset({"remove", "purge", "autoremove", "del", "erase", "uninstall"})


@dataclass
class PackageInvocation:
    """One package manager call. `action` is install|update|remove|purge|clean|...|add|del."""

    tool: str
    action: str
    packages: list[str]
    action_index: int = -1  # where the action word is in argv
    no_recommends: bool = False
    apt_options: list[str] = field(default_factory=list)  # the -o values
    virtual: str | None = None  # apk --virtual NAME

    @property
    def is_apt(self) -> bool:
        return self.tool in APT_TOOLS

    @property
    def installs(self) -> bool:
        return self.action in INSTALL_ACTIONS

    @property
    def removes(self) -> bool:
        return self.action in REMOVAL_ACTIONS


def package_invocation(argv: list[str]) -> PackageInvocation | None:
    if not argv:
        return None
    tool = program(argv)
    if tool not in APT_TOOLS and tool not in _OTHER_TOOLS:
        return None
    call = PackageInvocation(tool, "", [])
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
        elif tool not in APT_TOOLS and name in _TOOL_VALUE_OPTIONS.get(tool, ()):
            i += 0 if eq else 1  # a repository, root dir or release: never a package
        elif name in _VALUE_OPTIONS:
            option = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 0 if eq else 1
            if name in ("-o", "--option"):
                call.apt_options.append(option)
        elif word.startswith("-"):
            if tool in ("yum", "dnf", "microdnf") and word.lower() in ("--setopt=install_weak_deps=false",
                                                                       "--setopt=install_weak_deps=0"):
                call.no_recommends = True
        elif not call.action:
            call.action, call.action_index = word, i
        else:
            call.packages.append(word)
        i += 1
    if any(_NO_RECOMMENDS_OPTION.match(option.strip("'\"")) for option in call.apt_options):
        call.no_recommends = True
    if tool == "apk":
        call.no_recommends = True  # apk has no recommends
    return call


def package_invocations(commands: list[list[str]]) -> list[PackageInvocation]:
    return [call for call in (package_invocation(argv) for argv in commands) if call is not None]


def bare_package(package: str) -> str:
    """`libpq-dev=15.*`, `libpq-dev:amd64` -> `libpq-dev`."""
    return re.split(r"[=:]", package, maxsplit=1)[0].strip().lower()


def removes_apt_lists(argv: list[str]) -> bool:
    """`rm -rf /var/lib/apt/lists/*` (or the dir itself, or /var/lib/apt)."""
    if not argv or program(argv) not in ("rm", "find"):
        return False
    return any(arg.rstrip("/*").rstrip("/") in ("/var/lib/apt/lists", "/var/lib/apt") for arg in argv[1:])
