"""Build-verified optimization: when the optimized variant fails to build, or fails a smoke check that passes in
the original, find the changes that cause it by delta debugging over the applied change keys, drop them, and
keep the rest.

    result = search(first, variant_for, try_variant, first_failure, original_text, say)

- `variant_for(skip)` is optimize with those change keys turned off (`OptimizeOptions.skip`);
- `try_variant(variant, number)` builds it (buildx, BuildKit's cache keeps retries cheap), runs the same smoke
  checks as the original and returns the `Failure`, or None when it passes. compare.py supplies it.

The search is hierarchical, because the keys of the templated rewrite and of the in-place fixes differ:
1. within the rewrite, over the keys of its optional transforms ("trim-venv", "non-root", ...). When the
   rewrite with none of them fails (or, since optimize renders no rewrite without a rule-fixing change,
   when nothing of the rewrite is left that passes), the rewrite itself ("multi-stage") goes;
2. within the in-place fixes of the Dockerfile as written.

At each level: while the variant fails, ddmin finds a minimal set of keys that fails on its own and drops it
(one key: that key; several: the one whose removal passes and keeps most changes). A variant whose text is the
original's passes without a build; every outcome is cached by the variant's text. At most `max_attempts`
builds; after that the best variant seen to pass is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .optimize import REWRITE_KEY, OptimizationResult
from .optimize.options import OptimizeMode

MAX_ATTEMPTS = 16


class FailureKind(StrEnum):
    BUILD = "build"  # the variant didn't build
    SMOKE = "smoke"  # it built, and a smoke check that passes in the original fails


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    summary: str  # "build failed at step [runtime 7/8] RUN sh check.sh" | "smoke check start `ENTRYPOINT/CMD` failed"
    evidence: str  # the failing step's last output line, or the failing check's detail

    def to_dict(self) -> dict:
        return {"kind": self.kind, "summary": self.summary, "evidence": self.evidence}


@dataclass
class Attempt:
    number: int
    applied: list[str]  # the keys the variant applied
    mode: str  # rewritten | in-place
    failure: Failure | None
    seconds: float

    def to_dict(self) -> dict:
        return {"number": self.number, "applied": list(self.applied), "mode": self.mode,
                "passed": self.failure is None, "failure": self.failure.to_dict() if self.failure else None,
                "seconds": round(self.seconds, 2)}


@dataclass
class Dropped:
    key: str
    description: str
    rules: list[str]
    reason: str
    evidence: str
    level: str  # "rewrite" | "in-place": the variant it was dropped from
    tested_with: list[str] = field(default_factory=list)  # the keys applied in the failing attempt that convicted it

    def to_dict(self) -> dict:
        return {"key": self.key, "description": self.description, "rules": list(self.rules), "reason": self.reason,
                "evidence": self.evidence, "level": self.level, "tested_with": list(self.tested_with)}


@dataclass
class FallbackResult:
    ran: bool
    optimization: OptimizationResult  # the variant that passed (the first one, when the search didn't run)
    first_failure: Failure | None = None
    attempts: list[Attempt] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    enabled: bool = True
    exhausted: bool = False  # stopped at max_attempts: the best variant seen to pass was kept
    seconds: float = 0.0

    @property
    def applied(self) -> list[str]:
        return self.optimization.keys

    def to_dict(self) -> dict:
        return {
            "enabled": self.enabled,
            "ran": self.ran,
            "attempts": len(self.attempts),
            "dropped": [item.to_dict() for item in self.dropped],
            "applied": self.applied,
            "first_failure": self.first_failure.to_dict() if self.first_failure else None,
            "exhausted": self.exhausted,
            "seconds": round(self.seconds, 2),
            "trials": [attempt.to_dict() for attempt in self.attempts],
        }


VariantFor = Callable[[frozenset[str]], OptimizationResult]
TryVariant = Callable[[OptimizationResult, int], "Failure | None"]
Say = Callable[[str], None]


class _OutOfAttempts(Exception):
    pass


def ddmin(items: Sequence[str], fails: Callable[[tuple[str, ...]], bool]) -> tuple[str, ...]:
    """Zeller's ddmin: a 1-minimal subset of `items` (which fails) that still fails. `fails` is called on
    subsets only; callers cache it."""
    current = tuple(items)
    granularity = 2
    while len(current) >= 2:
        size = len(current)
        chunks = [current[size * i // granularity: size * (i + 1) // granularity] for i in range(granularity)]
        chunks = [chunk for chunk in chunks if chunk]
        reduced = False
        for chunk in chunks:
            if fails(chunk):
                current, granularity, reduced = chunk, 2, True
                break
        if not reduced and granularity > 2:
            for chunk in chunks:
                complement = tuple(item for item in current if item not in chunk)
                if fails(complement):
                    current, granularity, reduced = complement, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= size:
                break
            granularity = min(size, granularity * 2)
    return current


class _Search:
    def __init__(self, variant_for: VariantFor, try_variant: TryVariant, original_text: str, say: Say,
                 max_attempts: int):
        self.variant_for = variant_for
        self.try_variant = try_variant
        self.original_text = original_text
        self.say = say
        self.max_attempts = max_attempts
        self.attempts: list[Attempt] = []
        self.dropped: list[Dropped] = []  # in the order they were convicted, across levels
        self.outcomes: dict[tuple[str, str | None], Failure | None] = {}
        self.passing: list[OptimizationResult] = []

    def seed(self, variant: OptimizationResult, failure: Failure | None) -> None:
        self.outcomes[(variant.text, variant.dockerignore_text)] = failure

    def outcome(self, skip: frozenset[str]) -> tuple[OptimizationResult, Failure | None]:
        variant = self.variant_for(skip)
        if variant.mode == OptimizeMode.UNCHANGED or variant.text == self.original_text:
            return variant, None  # the Dockerfile as written: the original's own results
        key = (variant.text, variant.dockerignore_text)
        if key not in self.outcomes:
            if len(self.attempts) >= self.max_attempts:
                raise _OutOfAttempts
            number = len(self.attempts) + 1
            skipped = sorted(k for k in skip if k != REWRITE_KEY or variant.mode != OptimizeMode.IN_PLACE)
            self.say(f"fallback attempt {number}: {variant.mode} variant with {', '.join(variant.keys) or 'no change'}"
                     + (f" (without {', '.join(skipped)})" if skipped else ""))
            started = time.monotonic()
            failure = self.try_variant(variant, number)
            self.attempts.append(Attempt(number, variant.keys, variant.mode, failure, time.monotonic() - started))
            self.say(f"fallback attempt {number}: " + (f"{failure.summary}: {failure.evidence}" if failure else "passed"))
            self.outcomes[key] = failure
        failure = self.outcomes[key]
        if failure is None and variant not in self.passing:
            self.passing.append(variant)
        return variant, failure

    def passed(self, variant: OptimizationResult) -> bool:
        return variant.mode == OptimizeMode.UNCHANGED or self.outcomes.get((variant.text, variant.dockerignore_text), False) is None

    def level(self, name: str, base_skip: frozenset[str], keys: list[str],
              changes: dict[str, OptimizationResult]) -> OptimizationResult:
        """Drop keys (into self.dropped) until the variant passes; returns the passing variant."""
        gone: set[str] = set()

        def skip_for(applied: Sequence[str]) -> frozenset[str]:
            return base_skip | frozenset(key for key in keys if key not in applied)

        failures: dict[tuple[str, ...], tuple[Failure, list[str]]] = {}

        def fails(subset: tuple[str, ...]) -> bool:
            variant, failure = self.outcome(skip_for(subset))
            if failure is not None:
                failures[subset] = (failure, variant.keys)
            return failure is not None

        while True:
            remaining = tuple(key for key in keys if key not in gone)
            variant, failure = self.outcome(skip_for(remaining))
            if failure is None:
                return variant
            failures[remaining] = (failure, variant.keys)
            if not remaining:  # the level's base fails by itself: nothing left to drop here (search checks for it)
                return variant
            culprits = ddmin(remaining, fails)
            convicting, tested_with = failures.get(culprits, (failure, variant.keys))
            if len(culprits) > 1:
                # Several keys fail only together (or one of them is what keeps the rewrite a rewrite): drop the
                # one whose removal passes and keeps the most changes; all of them when none does.
                best = None
                for key in culprits:
                    candidate, outcome = self.outcome(skip_for([k for k in remaining if k != key]))
                    if outcome is None and (best is None or len(candidate.keys) > len(best[1].keys)):
                        best = (key, candidate)
                if best is not None:
                    culprits = (best[0],)
            for key in culprits:
                gone.add(key)
                together = f" (fails only together with {', '.join(k for k in culprits if k != key)})" if len(culprits) > 1 else ""
                reason = f"{convicting.summary}{together}"
                self.dropped.append(_dropped(key, changes, reason, convicting.evidence, name, tested_with))
                self.say(f"fallback: dropping {key} ({convicting.summary}: {convicting.evidence})")


def _dropped(key: str, changes: dict[str, OptimizationResult], reason: str, evidence: str, level: str,
             tested_with: list[str]) -> Dropped:
    source = changes.get(key)
    matching = [change for change in (source.changes if source else []) if change.key == key]
    description = "; ".join(dict.fromkeys(change.description for change in matching)) or key
    rules = sorted({rule for change in matching for rule in change.rule_ids})
    return Dropped(key, description, rules, reason, evidence, level, list(tested_with))


def search(first: OptimizationResult, variant_for: VariantFor, try_variant: TryVariant, first_failure: Failure,
           original_text: str, say: Say | None = None, max_attempts: int = MAX_ATTEMPTS) -> FallbackResult:
    """Find and drop the changes of `first` that make it fail; see the module docstring."""
    say = say or (lambda message: None)
    started = time.monotonic()
    state = _Search(variant_for, try_variant, original_text, say, max_attempts)
    state.seed(first, first_failure)
    result = FallbackResult(True, first, first_failure)
    try:
        if first.mode == OptimizeMode.REWRITTEN:
            optional = [key for key in first.keys if key != REWRITE_KEY]
            bare, bare_failure = state.outcome(frozenset(optional))
            if bare.mode == OptimizeMode.REWRITTEN and bare_failure is not None:
                state.dropped.append(_dropped(REWRITE_KEY, {REWRITE_KEY: first}, f"{bare_failure.summary}, even with none "
                                              f"of its optional changes", bare_failure.evidence, "rewrite", bare.keys))
            else:
                final = state.level("rewrite", frozenset(), optional, {key: first for key in optional})
                if final.mode == OptimizeMode.REWRITTEN and state.passed(final):
                    result.optimization = final
                    return _done(result, state, started)
                # optimize renders no rewrite without a rule-fixing change: nothing of it is left that passes.
                last = next((a for a in reversed(state.attempts) if a.failure and a.mode == OptimizeMode.REWRITTEN), None)
                failure = last.failure if last and last.failure else first_failure
                state.dropped.append(_dropped(REWRITE_KEY, {REWRITE_KEY: first}, f"{failure.summary}; no change of the "
                                              f"rewrite is left that passes", failure.evidence, "rewrite",
                                              last.applied if last else first.keys))
            say("fallback: the templated rewrite goes; trying the in-place fixes")
            base = frozenset({REWRITE_KEY})
            in_place = variant_for(base)
        else:
            base, in_place = frozenset({REWRITE_KEY}), first
        keys = list(in_place.keys)
        result.optimization = state.level("in-place", base, keys, {key: in_place for key in keys})
    except _OutOfAttempts:
        result.exhausted = True
        best = max(state.passing, key=lambda variant: (variant.mode == OptimizeMode.REWRITTEN, len(variant.keys)), default=None)
        result.optimization = best or _as_written(variant_for)
        kept = set(result.optimization.keys)
        known = {item.key for item in state.dropped}
        for key in first.keys:
            if key not in kept and key not in known:
                state.dropped.append(_dropped(key, {key: first}, f"not verified within {max_attempts} attempts", "",
                                              "rewrite" if first.mode == OptimizeMode.REWRITTEN else "in-place", []))
        say(f"fallback: stopped after {max_attempts} attempts; keeping the best variant that passed")
    return _done(result, state, started)


def _as_written(variant_for: VariantFor) -> OptimizationResult:
    """The Dockerfile as written: no rewrite, and none of the in-place fixes."""
    in_place_keys = variant_for(frozenset({REWRITE_KEY})).keys
    return variant_for(frozenset({REWRITE_KEY, *in_place_keys}))


def _done(result: FallbackResult, state: _Search, started: float) -> FallbackResult:
    result.attempts = state.attempts
    result.dropped = state.dropped
    result.seconds = time.monotonic() - started
    return result
