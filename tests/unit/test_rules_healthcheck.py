"""no-healthcheck (BO113), trivial-healthcheck (BO114) and healthcheck_kind (used by compare and audit)."""

from __future__ import annotations

import pytest

from buildopt.rules.healthcheck import healthcheck_kind
from tests.unit.analyze_helpers import lines, of, run

BASE = "FROM python:3.11-slim\n"


def test_no_healthcheck_reported_at_the_final_from():
    text = "FROM python:3.11-slim AS b\nHEALTHCHECK CMD curl -f http://x || exit 1\nFROM python:3.11-slim\nCMD x\n"
    assert lines(run(text), "no-healthcheck") == [3]


def test_healthcheck_inherited_from_a_parent_stage():
    text = "FROM python:3.11-slim AS base\nHEALTHCHECK CMD curl -f http://x || exit 1\nFROM base\n"
    assert of(run(text), "no-healthcheck") == []


def test_healthcheck_none_counts_as_none():
    text = BASE + "HEALTHCHECK CMD curl -f http://x || exit 1\nHEALTHCHECK NONE\n"
    assert lines(run(text), "no-healthcheck") == [3]


@pytest.mark.parametrize("check", [
    'CMD python -c "import sys; sys.exit(0)"',
    "CMD true",
    "CMD exit 0",
    'CMD echo "ok"',
    "CMD curl -f http://localhost:8000/health || true",
    "CMD curl -f http://localhost:8000/health || exit 0",
    'CMD ["true"]',
    'CMD ["python", "-c", "print(1)"]',
    "CMD pgrep celery; exit 0",
])
def test_trivial_healthchecks(check):
    text = BASE + f"HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \\\n  {check}\n"
    found = of(run(text), "trivial-healthcheck")
    assert [(f.line, f.end_line) for f in found] == [(2, 3)], check


@pytest.mark.parametrize("check", [
    "CMD curl -f http://localhost:8000/health || exit 1",
    'CMD python -c "import telegram; import sys; sys.exit(0)" || exit 1',
    'CMD python -c "import urllib.request as u; u.urlopen(\'http://localhost:8000/health\')"',
    '["CMD", "curl", "-f", "http://localhost/"]',
    "CMD pgrep -f celery",
])
def test_real_healthchecks(check):
    assert of(run(BASE + f"HEALTHCHECK {check}\n"), "trivial-healthcheck") == []


def test_healthcheck_kind_on_docker_config_shapes():
    assert healthcheck_kind(None) == "none"
    assert healthcheck_kind({"Test": ["NONE"]}) == "none"
    assert healthcheck_kind({"Test": ["CMD-SHELL", "python -c \"import sys; sys.exit(0)\""]}) == "trivial"
    assert healthcheck_kind(["CMD", "curl", "-f", "http://localhost/"]) == "ok"
    assert healthcheck_kind(["CMD", "sh", "-c", "exit 0"]) == "trivial"
    assert healthcheck_kind("curl -f http://x || exit 1") == "ok"
