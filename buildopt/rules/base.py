"""The rule model: a Finding, the Rule base class and the registry the engine runs.

A rule is one small class: its id (from catalog.py, which gives the slug and default severity), a one-line
title, a default fix hint, and `check(ctx)` yielding Findings. `@register` adds it to the registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar

from ..dockerfile import Instruction, Stage
from ..estimates import Estimate
from .catalog import RULE_IDS, Severity

if TYPE_CHECKING:
    from .context import RuleContext


@dataclass(frozen=True)
class Finding:
    rule: str  # BO1xx
    slug: str
    severity: Severity
    line: int  # 1-based, the instruction's first line
    end_line: int
    message: str
    fix: str
    estimated_bytes: int | None = None
    estimate_basis: str | None = None  # estimates.Estimate.basis + source, when estimated_bytes is set

    def to_dict(self) -> dict:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


class Rule:
    id: ClassVar[str]
    slug: ClassVar[str]
    severity: ClassVar[Severity]
    title: ClassVar[str] = ""  # one line: what the rule reports
    fix: ClassVar[str] = ""  # default fix hint
    scope: ClassVar[str] = ""  # which stages it looks at, for docs/rules.md

    def check(self, ctx: "RuleContext") -> Iterable[Finding]:
        raise NotImplementedError

    def finding(
        self,
        where: Instruction | Stage | int,
        message: str,
        *,
        fix: str | None = None,
        severity: Severity | None = None,
        estimate: Estimate | None = None,
        end_line: int | None = None,
    ) -> Finding:
        if isinstance(where, Instruction):
            line, last = where.line, where.end_line
        elif isinstance(where, Stage):
            line, last = where.line, where.line
        else:
            line, last = where, where
        return Finding(
            rule=self.id,
            slug=self.slug,
            severity=severity if severity is not None else self.severity,
            line=line,
            end_line=end_line if end_line is not None else last,
            message=message,
            fix=fix if fix is not None else self.fix,
            estimated_bytes=estimate.bytes if estimate is not None else None,
            estimate_basis=f"{estimate.basis}: {estimate.source}" if estimate is not None else None,
        )


_REGISTRY: dict[str, Rule] = {}


def register(rule_id: str):
    """Class decorator: bind the class to its catalog id, slug and default severity and register it."""

    def wrap(cls: type[Rule]) -> type[Rule]:
        if rule_id not in RULE_IDS:
            raise ValueError(f"{rule_id} is not in rules/catalog.py")
        if rule_id in _REGISTRY:
            raise ValueError(f"{rule_id} registered twice")
        cls.id = rule_id
        cls.slug, cls.severity = RULE_IDS[rule_id]
        _REGISTRY[rule_id] = cls()
        return cls

    return wrap


def all_rules() -> list[Rule]:
    # Importing the rule modules registers their rules.
    from . import base_image, build_tools, caches, dependencies, dockerignore, healthcheck, models, packages  # noqa: F401
    from . import remote, secrets, torch, user  # noqa: F401

    return [_REGISTRY[rule_id] for rule_id in sorted(_REGISTRY)]


def rule_by_id(rule_id: str) -> Rule:
    all_rules()
    return _REGISTRY[rule_id]
