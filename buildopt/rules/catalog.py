"""The stable rule ids and slugs. Ids and slugs are contracts: never renumber or rename, only add."""

from __future__ import annotations

from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            from ..errors import BadInput

            raise BadInput(f"unknown severity {text!r}: use info, low, medium, high or critical") from None

    def __str__(self) -> str:
        return self.name.lower()


# id -> (slug, default severity)
RULE_IDS: dict[str, tuple[str, Severity]] = {
    "BO101": ("root-user", Severity.HIGH),
    "BO102": ("single-stage-build-tools", Severity.MEDIUM),
    "BO103": ("cuda-torch", Severity.HIGH),
    "BO104": ("baked-model", Severity.HIGH),
    "BO105": ("pip-cache", Severity.MEDIUM),
    "BO106": ("apt-recommends", Severity.LOW),
    "BO107": ("apt-lists-left", Severity.LOW),
    "BO108": ("all-extras", Severity.MEDIUM),
    "BO109": ("heavy-runtime-package", Severity.MEDIUM),
    "BO110": ("eol-python", Severity.MEDIUM),
    "BO111": ("full-base-image", Severity.MEDIUM),
    "BO112": ("latest-tag", Severity.MEDIUM),
    "BO113": ("no-healthcheck", Severity.LOW),
    "BO114": ("trivial-healthcheck", Severity.LOW),
    "BO115": ("cache-busting-copy", Severity.LOW),
    "BO116": ("inline-pip-install", Severity.LOW),
    "BO117": ("secret-in-env", Severity.CRITICAL),
    "BO118": ("add-remote-url", Severity.MEDIUM),
    "BO119": ("root-owned-writable-dir", Severity.MEDIUM),
    "BO120": ("no-dockerignore", Severity.MEDIUM),
}
SLUG_TO_ID: dict[str, str] = {slug: rule_id for rule_id, (slug, _) in RULE_IDS.items()}
