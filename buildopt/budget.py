"""Budget stage: a policy (from `[budget]`) and the measured facts of an image, to a pass/fail verdict.

The budget judges the image built from the Dockerfile as written, since that is what ships. An optional
`[budget.optimized]` table sets the same keys for the optimized variant. Every failed check carries
its reason. Keys are documented in docs/budget.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .errors import BadInput
from .units import format_size, parse_size


@dataclass(frozen=True)
class Budget:
    max_size: int | None = None  # bytes, uncompressed
    max_growth: float | None = None  # % against the baseline's size
    max_headroom: float | None = None  # % by which the optimized variant may be smaller before this fails
    max_critical: int | None = None
    max_high: int | None = None
    no_new_critical: bool = False  # against the baseline
    require_non_root: bool = False
    require_smoke: bool = False
    max_layers: int | None = None
    max_build_time_growth: float | None = None  # % against the reference build time

    @property
    def empty(self) -> bool:
        return self == Budget()


@dataclass(frozen=True)
class ImageFacts:
    """What the budget looks at, for one image. None means not measured (e.g. --no-scan)."""

    size: int
    layers: int
    critical: int | None = None
    high: int | None = None
    critical_ids: frozenset[str] = frozenset()
    non_root: bool | None = None
    smoke_ok: bool | None = None
    build_time_s: float | None = None


@dataclass(frozen=True)
class CheckOutcome:
    key: str
    ok: bool
    actual: str
    limit: str
    reason: str = ""


@dataclass
class Verdict:
    variant: str
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[CheckOutcome]:
        return [check for check in self.checks if not check.ok]


_BOOL_KEYS = {"no_new_critical", "require_non_root", "require_smoke"}
_INT_KEYS = {"max_critical", "max_high", "max_layers"}
_PERCENT_KEYS = {"max_growth", "max_headroom", "max_build_time_growth"}


def parse_budget(table: dict, where: str = "[budget]") -> Budget:
    """Validate a budget table; unknown keys and bad values are bad input, named precisely."""
    known = {f.name for f in fields(Budget)}
    values: dict = {}
    for key, raw in table.items():
        if key == "optimized" and isinstance(raw, dict):
            continue
        if key not in known:
            raise BadInput(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        try:
            if key == "max_size":
                values[key] = parse_size(raw)
            elif key in _BOOL_KEYS:
                if not isinstance(raw, bool):
                    raise ValueError("expected true or false")
                values[key] = raw
            elif key in _INT_KEYS:
                if isinstance(raw, bool) or int(raw) != raw or raw < 0:
                    raise ValueError("expected a whole number >= 0")
                values[key] = int(raw)
            else:
                values[key] = _percent(raw)
        except (ValueError, TypeError) as err:
            raise BadInput(f"{where}.{key} = {raw!r}: {err}") from None
        except BadInput as err:
            raise BadInput(f"{where}.{key}: {err}") from None
    return Budget(**values)


def parse_budgets(table: dict) -> tuple[Budget, Budget]:
    """(budget for the original, budget for the optimized variant)."""
    optimized = table.get("optimized", {})
    if not isinstance(optimized, dict):
        raise BadInput("[budget.optimized] must be a table")
    return parse_budget(table), parse_budget(optimized, "[budget.optimized]")


def judge(
    budget: Budget,
    image: ImageFacts,
    *,
    variant: str = "original",
    baseline: ImageFacts | None = None,
    optimized: ImageFacts | None = None,
    reference_build_time_s: float | None = None,
) -> Verdict:
    verdict = Verdict(variant)
    add = verdict.checks.append

    if budget.max_size is not None:
        ok = image.size <= budget.max_size
        add(CheckOutcome("max_size", ok, format_size(image.size), format_size(budget.max_size),
                         "" if ok else f"image is {format_size(image.size - budget.max_size)} over the limit"))
    if budget.max_layers is not None:
        ok = image.layers <= budget.max_layers
        add(CheckOutcome("max_layers", ok, str(image.layers), str(budget.max_layers),
                         "" if ok else f"{image.layers - budget.max_layers} layers too many"))
    if budget.max_growth is not None:
        if baseline is None:
            add(CheckOutcome("max_growth", True, "no baseline", f"+{budget.max_growth:g}%", "skipped: no --baseline given"))
        else:
            growth = _growth(image.size, baseline.size)
            ok = growth <= budget.max_growth
            add(CheckOutcome("max_growth", ok, f"{growth:+.1f}%", f"+{budget.max_growth:g}%",
                             "" if ok else f"grew {format_size(image.size - baseline.size, signed=True)} against the baseline"))
    if budget.max_headroom is not None:
        if optimized is None:
            add(CheckOutcome("max_headroom", True, "no optimized variant", f"{budget.max_headroom:g}%", "skipped"))
        else:
            headroom = -_growth(optimized.size, image.size)
            ok = headroom <= budget.max_headroom
            add(CheckOutcome("max_headroom", ok, f"{headroom:.1f}%", f"{budget.max_headroom:g}%",
                             "" if ok else f"the optimized variant is {format_size(image.size - optimized.size)} "
                                           f"({headroom:.1f}%) smaller: apply it"))
    for key, limit, actual in (("max_critical", budget.max_critical, image.critical), ("max_high", budget.max_high, image.high)):
        if limit is None:
            continue
        if actual is None:
            add(CheckOutcome(key, False, "not scanned", str(limit), "no scan results (--no-scan or scan failed)"))
        else:
            ok = actual <= limit
            add(CheckOutcome(key, ok, str(actual), str(limit), "" if ok else f"{actual - limit} more than allowed"))
    if budget.no_new_critical:
        if baseline is None:
            add(CheckOutcome("no_new_critical", True, "no baseline", "0 new", "skipped: no --baseline given"))
        else:
            new = sorted(image.critical_ids - baseline.critical_ids)
            add(CheckOutcome("no_new_critical", not new, f"{len(new)} new", "0 new",
                             "" if not new else "new critical: " + ", ".join(new[:10])))
    if budget.require_non_root:
        ok = image.non_root is True
        add(CheckOutcome("require_non_root", ok, _user_text(image.non_root), "non-root",
                         "" if ok else "the image runs as root: add a USER with a fixed uid"))
    if budget.require_smoke:
        ok = image.smoke_ok is True
        add(CheckOutcome("require_smoke", ok, {True: "passed", False: "failed", None: "not run"}[image.smoke_ok], "passed",
                         "" if ok else "smoke tests did not pass"))
    if budget.max_build_time_growth is not None:
        if reference_build_time_s is None or image.build_time_s is None:
            add(CheckOutcome("max_build_time_growth", True, "no reference", f"+{budget.max_build_time_growth:g}%", "skipped"))
        else:
            growth = _growth(image.build_time_s, reference_build_time_s)
            ok = growth <= budget.max_build_time_growth
            add(CheckOutcome("max_build_time_growth", ok, f"{growth:+.1f}%", f"+{budget.max_build_time_growth:g}%",
                             "" if ok else f"build took {image.build_time_s:.1f}s against {reference_build_time_s:.1f}s"))
    return verdict


def _growth(value: float, reference: float) -> float:
    return 0.0 if reference == 0 else (value - reference) / reference * 100


def _percent(raw) -> float:
    if isinstance(raw, str):
        raw = raw.strip().rstrip("%")
    value = float(raw)
    if value < 0:
        raise ValueError("expected a percentage >= 0")
    return value


def _user_text(non_root: bool | None) -> str:
    return {True: "non-root", False: "root", None: "unknown"}[non_root]
