"""The security score formula: documented penalties, caps and unknowns."""

from buildopt.score import SecurityFacts, security_score


def test_clean_image_scores_100():
    facts = SecurityFacts(runs_as_root=False, healthcheck="ok", critical=0, high=0, secrets=0, build_tools=False, eol_python=False)
    assert security_score(facts).score == 100


def test_audit_like_original_loses_points_for_each_fact():
    facts = SecurityFacts(runs_as_root=True, healthcheck="trivial", critical=1, high=2, secrets=0, build_tools=True, eol_python=False)
    result = security_score(facts)
    assert result.score == 100 - 25 - 5 - 10 - 6 - 5
    assert {p.reason for p in result.penalties} >= {"runs as root", "healthcheck can't fail", "build toolchain left in"}


def test_vulnerability_penalties_are_capped_and_floor_is_zero():
    facts = SecurityFacts(runs_as_root=True, healthcheck="none", critical=50, high=50, secrets=3, build_tools=True, eol_python=True,
                          privileged=True)
    assert security_score(facts).score == 0
    capped = security_score(SecurityFacts(critical=9, high=0))
    assert capped.score == 70


def test_unknown_facts_cost_nothing_and_are_listed():
    result = security_score(SecurityFacts(runs_as_root=True))
    assert result.score == 75
    assert "vulnerabilities" in result.not_measured and "healthcheck" in result.not_measured
