"""The security score (0-100) shared by `compare` and `audit`, from a transparent formula.

Start at 100 and subtract, for what is present (docs/security-score.md explains each weight):

| fact | penalty |
|---|---|
| runs as root | 25 |
| no healthcheck / a trivial one | 10 / 5 |
| each critical vulnerability | 10, at most 30 |
| each high vulnerability | 3, at most 15 |
| secrets found in the image | 20 |
| build toolchain left in (compilers, git, rust) | 5 |
| end-of-life Python | 10 |
| container: privileged / extra capabilities | 15 / 5 |
| container: no memory limit | 5 |

The floor is 0. Unknown facts (None: e.g. not scanned) cost nothing and are listed as not measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SecurityFacts:
    runs_as_root: bool | None = None
    healthcheck: str | None = None  # "none" | "trivial" | "ok"
    critical: int | None = None
    high: int | None = None
    secrets: int | None = None
    build_tools: bool | None = None
    eol_python: bool | None = None
    privileged: bool | None = None  # containers only
    extra_capabilities: bool | None = None
    memory_limit: bool | None = None


@dataclass(frozen=True)
class Penalty:
    reason: str
    points: int


@dataclass(frozen=True)
class SecurityScore:
    score: int
    penalties: tuple[Penalty, ...] = ()
    not_measured: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.score}/100"


def security_score(facts: SecurityFacts) -> SecurityScore:
    penalties: list[Penalty] = []
    missing: list[str] = []

    def flag(value: bool | None, name: str, reason: str, points: int) -> None:
        if value is None:
            missing.append(name)
        elif value:
            penalties.append(Penalty(reason, points))

    flag(facts.runs_as_root, "user", "runs as root", 25)
    if facts.healthcheck is None:
        missing.append("healthcheck")
    elif facts.healthcheck == "none":
        penalties.append(Penalty("no healthcheck", 10))
    elif facts.healthcheck == "trivial":
        penalties.append(Penalty("healthcheck can't fail", 5))
    if facts.critical is None:
        missing.append("vulnerabilities")
    else:
        if facts.critical:
            penalties.append(Penalty(f"{facts.critical} critical vulnerabilities", min(30, 10 * facts.critical)))
        if facts.high:
            penalties.append(Penalty(f"{facts.high} high vulnerabilities", min(15, 3 * facts.high)))
    if facts.secrets is None:
        missing.append("secrets")
    elif facts.secrets:
        penalties.append(Penalty(f"{facts.secrets} secrets in the image", 20))
    flag(facts.build_tools, "build tools", "build toolchain left in", 5)
    flag(facts.eol_python, "python version", "end-of-life Python", 10)
    if facts.privileged:
        penalties.append(Penalty("privileged container", 15))
    if facts.extra_capabilities:
        penalties.append(Penalty("extra capabilities", 5))
    if facts.memory_limit is False:
        penalties.append(Penalty("no memory limit", 5))
    score = max(0, 100 - sum(p.points for p in penalties))
    return SecurityScore(score, tuple(penalties), tuple(missing))
