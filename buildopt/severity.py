"""Severity levels, shared by analyze's rules, the audit's findings, configuration and reports."""

from __future__ import annotations

from enum import IntEnum

from .errors import BadInput


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise BadInput(f"unknown severity {text!r}: use info, low, medium, high or critical") from None

    def __str__(self) -> str:
        return self.name.lower()
