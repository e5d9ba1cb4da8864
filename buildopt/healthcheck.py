"""Is a healthcheck real? Shared by the trivial-healthcheck rule, the security score and audit."""

from __future__ import annotations

import re

# Commands that succeed whatever the state of the service.
_ALWAYS_SUCCEEDS = [
    re.compile(r"^\s*(true|:|exit\s+0)\s*$"),
    re.compile(r"^\s*echo\b[^|;&]*$"),
    re.compile(r"""^\s*python[0-9.]*\s+-c\s+(['"])\s*import\s+sys\s*;\s*sys\.exit\(\s*0?\s*\)\s*;?\s*\1\s*$"""),
    re.compile(r"""^\s*python[0-9.]*\s+-c\s+(['"])\s*(pass|print\([^)]*\))\s*;?\s*\1\s*$"""),
]
_SWALLOWED = re.compile(r"\|\|\s*(true|:|exit\s+0)\s*$")


def healthcheck_kind(test) -> str:
    """"none", "trivial" or "ok" for a HEALTHCHECK given as the image config's Test list or as text.

    Config form: ["CMD-SHELL", "cmd"], ["CMD", "arg", ...], ["NONE"], or None when absent.
    """
    if not test:
        return "none"
    if isinstance(test, (list, tuple)):
        if test[0] == "NONE":
            return "none"
        if test[0] == "CMD-SHELL":
            command = " ".join(test[1:])
        elif test[0] == "CMD":
            command = " ".join(_quote(arg) for arg in test[1:])
        else:
            command = " ".join(test)
    else:
        command = str(test)
    return "trivial" if is_trivial(command) else "ok"


def is_trivial(command: str) -> bool:
    command = command.strip()
    if _SWALLOWED.search(command):
        return True
    return any(pattern.match(command) for pattern in _ALWAYS_SUCCEEDS)


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg or ";" in arg else arg
