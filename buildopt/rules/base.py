"""The rule model: a Finding and the Rule base class.

A rule is one small class that carries its own metadata (id, slug, default severity, a one-line title, a
default fix hint) and `check(ctx)` yielding Findings. rules/registry.py lists them in one ordered table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar

from ..dockerfile import Instruction, Stage
from ..estimates import Estimate
from ..severity import Severity

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
    id: ClassVar[str]  # BO1xx: a contract
    slug: ClassVar[str]  # a contract too
    severity: ClassVar[Severity]  # the default; config can override it
    title: ClassVar[str] = ""  # one line: what the rule reports
    fix: ClassVar[str] = ""  # default fix hint
    scope: ClassVar[str] = ""  # which stages it looks at, for docs/rules.md

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
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
