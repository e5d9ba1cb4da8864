"""The audit's checks table (buildopt/audit/checks/registry.py): one unit per concern, carrying its own metadata."""

from __future__ import annotations

import re
from pathlib import Path

from buildopt.audit.checks.registry import CHECKS
from buildopt.audit.findings import config_findings, profile_findings
from tests.unit.test_audit_findings import (
    BASE,
    KOKORO,
    MB,
    NO_GPU,
    SITE,
    TODAY,
    details,
    profile,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
BY_SLUG = {check.slug: check for check in CHECKS}


def test_each_check_carries_its_metadata():
    assert len(BY_SLUG) == len(CHECKS)
    for check in CHECKS:
        assert check.slug and check.title and check.fix and check.severity, type(check).__name__
        assert check.slug == check.slug.lower() and " " not in check.slug


def test_the_docs_table_lists_every_check():
    section = DOCS.read_text().split("## Findings per image", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z-]+)`(?: / `([a-z-]+)`)?", section, re.MULTILINE))
    slugs = {slug for pair in documented for slug in pair if slug}
    assert slugs == set(BY_SLUG) | {"eol-python-soon"}


def _check_of(finding):
    return BY_SLUG["eol-python" if finding.slug == "eol-python-soon" else finding.slug]


def test_findings_take_their_check_s_metadata_and_come_in_table_order():
    old = details([("RUN apt-get update && apt-get install -y gcc libreoffice-core && pip install torch", 3_000 * MB),
                   ("COPY models/ /app/models", 500 * MB)],
                  {"Env": ["PYTHON_VERSION=3.9.1", "CUDA_VERSION=12.1"], "Healthcheck": {"Test": ["CMD", "true"]}})
    image = profile([BASE, {f"{SITE}/nvidia/cublas/lib/libcublas.so.12": 150 * MB, "root/.cache/pip/x": 3 * MB,
                            "root/.cache/huggingface/hub/models--a--b/blobs/1": 20 * MB, "data/blob": 40 * MB},
                     {"data/blob": None, "usr/bin/gcc": 2 * MB}])
    runs = [config_findings(KOKORO, NO_GPU, today=TODAY), config_findings(old, NO_GPU, today=TODAY),
            profile_findings(image, NO_GPU, today=TODAY)]
    seen = set()
    for found in runs:
        order = [list(BY_SLUG).index(_check_of(f).slug) for f in found]
        assert order == sorted(order), [f.slug for f in found]
        for finding in found:
            check = _check_of(finding)
            seen.add(finding.slug)
            if finding.slug == "eol-python-soon":
                assert finding.fix == check.soon_fix and not finding.security
                continue
            assert (finding.fix, finding.security, finding.upstream) == (check.fix, check.security, check.upstream)
            assert finding.severity >= check.severity or finding.bytes < 100 * MB  # small finds may be LOW
    assert seen == set(BY_SLUG) | {"eol-python-soon"}  # the fixtures above reach every check
