"""Is a healthcheck real? One definition for the trivial-healthcheck rule, the security score, optimize and audit.

A healthcheck is trivial when it can't fail: `true`, `exit 0`, `echo ...`, python code that only imports
sys/os and exits 0 or prints, or any command ending in `|| true` / `|| exit 0` / `; exit 0`.
"""

from __future__ import annotations

import ast

from .dockerfile import Instruction
from .shell import split_commands

_ALWAYS_OK = frozenset({"true", "/bin/true", "/usr/bin/true", ":"})
_HARMLESS_MODULES = frozenset({"sys", "os"})


def _python_code_trivial(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.Pass):
            continue
        if isinstance(node, ast.Import) and all(alias.name in _HARMLESS_MODULES for alias in node.names):
            continue
        if isinstance(node, ast.Expr):
            value = node.value
            if isinstance(value, ast.Constant):
                continue
            if isinstance(value, ast.Call) and _exit_zero_or_print(value):
                continue
        return False
    return True


def _exit_zero_or_print(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name == "print" and all(isinstance(a, ast.Constant) for a in call.args):
        return True
    return name in ("exit", "quit", "_exit") and (
        not call.args or (isinstance(call.args[0], ast.Constant) and call.args[0].value in (0, None)))


def _command_trivial(argv: list[str]) -> bool:
    head = argv[0].rsplit("/", 1)[-1]
    if argv[0] in _ALWAYS_OK or head == "true":
        return True
    if head == "exit":
        return argv[1:] in ([], ["0"])
    if head in ("echo", "printf", "sleep"):
        return True
    if head.startswith("python") and "-c" in argv[1:]:
        index = argv.index("-c", 1)
        return index + 1 < len(argv) and _python_code_trivial(argv[index + 1])
    return False


def shell_trivial(text: str) -> bool:
    """A shell command line that always exits 0."""
    stripped = text.strip().rstrip(";").strip()
    compact = " ".join(stripped.split())
    for tail in ("|| true", "|| exit 0", "|| :", "; exit 0", "|| /bin/true", "; true"):
        if compact.endswith(tail):
            return True
    commands = split_commands(stripped)
    if not commands:
        return True
    return all(_command_trivial(argv) for argv in commands)


def healthcheck_kind(healthcheck) -> str:
    """"none" | "trivial" | "ok" for a HEALTHCHECK Instruction, Docker's config (`{"Test": [...]}` or the Test
    list: ["CMD-SHELL", "cmd"], ["CMD", "arg", ...], ["NONE"]), a plain command string, or None."""
    if healthcheck is None:
        return "none"
    if isinstance(healthcheck, Instruction):
        values = list(healthcheck.value)
        if not values or values[0].upper() == "NONE":
            return "none"
        test = ["CMD", *values[1:]] if healthcheck.json_form else ["CMD-SHELL", " ".join(values[1:])]
    elif isinstance(healthcheck, dict):
        test = healthcheck.get("Test") or healthcheck.get("test") or []
    elif isinstance(healthcheck, str):
        test = ["CMD-SHELL", healthcheck]
    else:
        test = list(healthcheck)
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or str(test[0]).upper() == "NONE":
        return "none"
    kind = str(test[0]).upper()
    if kind == "CMD-SHELL":
        return "trivial" if shell_trivial(" ".join(str(t) for t in test[1:])) else "ok"
    if kind == "CMD":
        argv = [str(t) for t in test[1:]]
        if not argv:
            return "none"
        if argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and "-c" in argv:
            index = argv.index("-c")
            return "trivial" if index + 1 < len(argv) and shell_trivial(argv[index + 1]) else "ok"
        return "trivial" if _command_trivial(argv) else "ok"
    return "trivial" if shell_trivial(" ".join(str(t) for t in test)) else "ok"


def is_trivial(command: str) -> bool:
    """A shell command line that always exits 0."""
    return shell_trivial(command)
