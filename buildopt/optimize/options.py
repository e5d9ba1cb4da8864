"""The optimize stage's typed inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

DEFAULT_TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"
DEFAULT_UID = 10001


@dataclass
class OptimizeOptions:
    python: str | None = None  # "3.12": move the base Python; None keeps it (no silent changes)
    keep_all_extras: bool = False  # keep `.[all]` instead of installing the core package only
    slim_base: bool = True  # run on `python:X-slim` when the original used the full image
    torch_index_url: str = DEFAULT_TORCH_INDEX_URL  # default of the TORCH_INDEX_URL build arg
    uid: int = DEFAULT_UID
    trim: bool = True  # leave test suites (and torch's C++ tests and headers) out of the venv
    output_name: str = "Dockerfile.optimized"  # how the compose snippet refers to the Dockerfile
    output_dir: str | None = None  # where the outputs go, for relative paths in the compose snippet
    context_dir: str | None = None  # the build context (default: the Dockerfile's directory)
    skip: frozenset[str] = frozenset()  # change keys not to apply (`--skip`; compare's fallback drops failing ones)


class OptimizeMode(StrEnum):
    REWRITTEN = "rewritten"  # from the templates (multi-stage)
    IN_PLACE = "in-place"  # the Dockerfile as written, with safe in-place fixes
    UNCHANGED = "unchanged"  # nothing to do, or nothing that could be shown safe


class ChangeStatus(str, Enum):  # noqa: UP042  (StrEnum would change str() and f-strings of a member)
    APPLIED = "applied"  # in the optimized Dockerfile
    ADVISED = "advised"  # not applied: it couldn't be shown safe, or it was skipped; `reason` says why


@dataclass
class Change:
    rule_ids: list[str]  # the analyze rules this change fixes (empty: needed by another change)
    description: str
    expected_savings_bytes: int | None = None  # from analyze's estimates of the fixed findings
    lines: list[int] = field(default_factory=list)  # lines of the original it concerns
    key: str = ""  # what turns it off (OptimizeOptions.skip, `--skip`): a transform or in-place fix name
    status: ChangeStatus = ChangeStatus.APPLIED
    reason: str | None = None  # for advice: why it was not applied

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "status": self.status.value,
            "rules": list(self.rule_ids),
            "description": self.description,
            "reason": self.reason,
            "expected_savings_bytes": self.expected_savings_bytes,
            "lines": list(self.lines),
        }


def advice(key: str, rule_ids: list[str], description: str, reason: str, lines: list[int] | None = None) -> Change:
    """A change optimize did not apply, and why."""
    return Change(list(rule_ids), description, lines=list(lines or []), key=key, status=ChangeStatus.ADVISED,
                  reason=reason)


@dataclass
class OptimizationResult:
    text: str  # the optimized Dockerfile (the original text when mode is "unchanged")
    changes: list[Change]
    mode: OptimizeMode
    reasons: list[str]  # why in-place/unchanged, and what was left as it was
    compose_text: str | None = None  # docker-compose.buildopt.yml
    dockerignore_text: str | None = None  # <output>.dockerignore: keeps model files out of COPY .
    template: str | None = None  # the template a rewrite used
    advice: list[Change] = field(default_factory=list)  # changes not applied, each with its reason

    @property
    def keys(self) -> list[str]:
        """The keys of the applied changes, in order: what compare's fallback can turn off one by one."""
        return list(dict.fromkeys(change.key for change in self.changes if change.key))

    @property
    def fixed_rules(self) -> list[str]:
        return sorted({rule for change in self.changes for rule in change.rule_ids})

    @property
    def expected_savings_bytes(self) -> int | None:
        known = [change.expected_savings_bytes for change in self.changes if change.expected_savings_bytes]
        return sum(known) if known else None
