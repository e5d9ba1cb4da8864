"""The optimize stage's typed inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Change:
    rule_ids: list[str]  # the analyze rules this change fixes (empty: needed by another change)
    description: str
    expected_savings_bytes: int | None = None  # from analyze's estimates of the fixed findings
    lines: list[int] = field(default_factory=list)  # lines of the original it concerns

    def to_dict(self) -> dict:
        return {
            "rules": list(self.rule_ids),
            "description": self.description,
            "expected_savings_bytes": self.expected_savings_bytes,
            "lines": list(self.lines),
        }


@dataclass
class OptimizationResult:
    text: str  # the optimized Dockerfile (the original text when mode is "unchanged")
    changes: list[Change]
    mode: str  # "rewritten" | "in-place" | "unchanged"
    reasons: list[str]  # why in-place/unchanged, and what was left as it was
    compose_text: str | None = None  # docker-compose.buildopt.yml
    dockerignore_text: str | None = None  # <output>.dockerignore: keeps model files out of COPY .
    template: str | None = None  # the template a rewrite used

    @property
    def fixed_rules(self) -> list[str]:
        return sorted({rule for change in self.changes for rule in change.rule_ids})

    @property
    def expected_savings_bytes(self) -> int | None:
        known = [change.expected_savings_bytes for change in self.changes if change.expected_savings_bytes]
        return sum(known) if known else None
