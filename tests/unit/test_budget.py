"""Budget parsing and judging: each key passes and fails on its own, with a reason."""

from __future__ import annotations

import pytest

from buildopt.budget import Budget, ImageFacts, judge, parse_budget, parse_budgets
from buildopt.errors import BadInput

ORIGINAL = ImageFacts(size=6_228_326_787, layers=7, critical=1, high=2, critical_ids=frozenset({"CVE-1"}),
                      non_root=False, smoke_ok=True, build_time_s=144.7)
OPTIMIZED = ImageFacts(size=1_640_567_480, layers=6, critical=0, high=0, non_root=True, smoke_ok=True, build_time_s=88.3)


def test_parse_budget_units_and_types():
    budget = parse_budget({"max_size": "500MB", "max_growth": "10%", "max_critical": 0, "require_non_root": True})
    assert budget == Budget(max_size=500_000_000, max_growth=10.0, max_critical=0, require_non_root=True)


@pytest.mark.parametrize("table, message", [
    ({"max_sise": "1GB"}, "unknown key 'max_sise'"),
    ({"max_size": "big"}, "max_size"),
    ({"max_critical": -1}, "max_critical"),
    ({"require_smoke": "yes"}, "require_smoke"),
    ({"max_growth": "-5%"}, "max_growth"),
])
def test_parse_budget_rejects_bad_values(table, message):
    with pytest.raises(BadInput, match=message):
        parse_budget(table)


def test_parse_budgets_splits_optimized_table():
    original, optimized = parse_budgets({"max_size": "7GB", "optimized": {"max_size": "1.5GB"}})
    assert original.max_size == 7_000_000_000 and optimized.max_size == 1_500_000_000


def test_max_size_fails_with_overflow_reason():
    verdict = judge(Budget(max_size=parse_budget({"max_size": "5GB"}).max_size), ORIGINAL)
    assert not verdict.passed
    assert verdict.failures[0].key == "max_size" and "1.23 GB over" in verdict.failures[0].reason


def test_loose_budget_passes():
    assert judge(parse_budget({"max_size": "7GB", "max_critical": 1, "max_layers": 10}), ORIGINAL).passed


def test_headroom_fails_when_optimized_is_much_smaller():
    verdict = judge(Budget(max_headroom=20), ORIGINAL, optimized=OPTIMIZED)
    assert [c.key for c in verdict.failures] == ["max_headroom"]
    assert "73.7%" in verdict.failures[0].actual


def test_growth_and_new_critical_against_baseline():
    baseline = ImageFacts(size=5_000_000_000, layers=7, critical=0, critical_ids=frozenset())
    verdict = judge(Budget(max_growth=10, no_new_critical=True), ORIGINAL, baseline=baseline)
    assert {c.key for c in verdict.failures} == {"max_growth", "no_new_critical"}
    assert "CVE-1" in next(c for c in verdict.failures if c.key == "no_new_critical").reason


def test_growth_is_skipped_without_baseline():
    verdict = judge(Budget(max_growth=1), ORIGINAL)
    assert verdict.passed and "skipped" in verdict.checks[0].reason


def test_non_root_smoke_and_unscanned():
    verdict = judge(Budget(require_non_root=True, require_smoke=True, max_high=0),
                    ImageFacts(size=1, layers=1, smoke_ok=False, non_root=False))
    assert {c.key for c in verdict.failures} == {"require_non_root", "require_smoke", "max_high"}


def test_build_time_growth_uses_reference():
    verdict = judge(Budget(max_build_time_growth=20), OPTIMIZED, variant="optimized", reference_build_time_s=60.0)
    assert not verdict.passed and "+47.2%" in verdict.failures[0].actual
