"""`buildopt doctor` as a table: one row per check, with the fix for anything missing."""

from __future__ import annotations

from tabulate import tabulate

from ..doctor import Check, Status

_MARK = {Status.OK: "ok", Status.WARN: "warn", Status.FAIL: "FAIL"}


def doctor_table(checks: list[Check]) -> str:
    rows = [(check.name, _MARK[check.status], check.detail, check.fix) for check in checks]
    return tabulate(rows, headers=("check", "status", "detail", "fix"), tablefmt="simple")
