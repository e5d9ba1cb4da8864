"""One model of the shell commands a Dockerfile runs, shared by rules, optimize and audit.

    from buildopt import shell
    script = shell.scan(text)              # raw words, offsets, joiners; `complex` when not safe to rewrite
    shell.simple_commands(text)            # argv lists, wrappers removed, `sh -c` bodies expanded
    shell.pip_invocation(argv)             # pip / uv: subcommand, options, targets
    shell.package_invocation(argv)         # apt-get / apk / dnf ...: action, packages, options

Lexing is cached per text: every stage that asks about the same RUN gets the same answer without re-splitting.
"""

from __future__ import annotations

from .commands import (
                       is_python,
                       program,
                       python_code,
                       simple_commands,
                       split_commands,
                       strip_prefixes,
)
from .lexer import Command, Script, Unit, Word, dequote, join_units, scan
from .packages import (
                       APT_TOOLS,
                       PackageInvocation,
                       bare_package,
                       package_invocation,
                       package_invocations,
                       removes_apt_lists,
)
from .pip import (
                       INSTALL_SUBCOMMANDS,
                       PipInvocation,
                       argument_roles,
                       long_name,
                       parse_arguments,
                       pip_invocation,
                       pip_invocations,
)

__all__ = [
    "APT_TOOLS", "INSTALL_SUBCOMMANDS", "Command", "PackageInvocation", "PipInvocation", "Script", "Unit", "Word",
    "argument_roles", "bare_package", "dequote", "is_python", "join_units", "long_name", "package_invocation",
    "package_invocations", "parse_arguments", "pip_invocation", "pip_invocations", "program", "python_code", "removes_apt_lists", "scan",
    "simple_commands", "split_commands", "strip_prefixes",
]
