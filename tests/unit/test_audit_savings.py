"""Savings, size groups, verdicts, priorities and upstream drafts, checked against the audits' own rows."""

from __future__ import annotations

from datetime import date

import pytest

from buildopt.audit.findings import ESTIMATE, FILES, Finding, LayerPart, config_findings
from buildopt.audit.savings import Savings, estimate, priority, size_group, verdict
from buildopt.audit.upstream import draft_issue
from buildopt.engine import GpuFacts
from buildopt.severity import Severity
from tests.unit.test_audit_findings import KOKORO

GB, MB = 1000**3, 1000**2


def savings(gain: int, size: int, upstream: int = 0) -> Savings:
    return Savings(gain=gain, upstream_gain=upstream, optimized_size=size - gain, parts=(), basis=FILES)


# The first audit's recap table: (application, size, gain, priority), custom images.
FIRST_AUDIT = [
    ("rag-anything", 12 * GB, 7 * GB, "P0"),
    ("whisperx", 8_770 * MB, 6_270 * MB, "P0"),
    ("paperflow", 6_960 * MB, 3_460 * MB, "P1"),
    ("downto40", 951 * MB, 200 * MB, "P2"),
    ("support-dashboard", 838 * MB, 300 * MB, "P2"),
    ("discord-bot", 810 * MB, 400 * MB, "P2"),
    ("telegram-bot", 155 * MB, 30 * MB, "P3"),
    ("langchain-service", 325 * MB, 45 * MB, "P3"),
    ("photos-chantier", 247 * MB, 47 * MB, "P3"),
]


@pytest.mark.parametrize("name, size, gain, expected", FIRST_AUDIT)
def test_priorities_reproduce_the_first_audit(name, size, gain, expected):
    assert priority("custom", size, savings(gain, size)) == expected, name


def test_third_party_and_official_verdicts_like_the_second_audit():
    # n8n (first audit, P2): a third-party image whose container lacks a healthcheck and limits.
    assert priority("third-party", 975 * MB, savings(0, 975 * MB), container_gaps=True) == "P2"
    assert priority("third-party", 975 * MB, savings(0, 975 * MB)) == "P3"
    # kokoro: 1.23 GB of rust toolchain -> ask upstream (MOYENNE); cal.com without measured waste -> accept
    kokoro = savings(0, 5_610 * MB, upstream=1_330 * MB)
    assert verdict("third-party", 5_610 * MB, kokoro) == "ask-upstream"
    assert priority("third-party", 5_610 * MB, kokoro) == "P2"
    calcom = savings(0, 4_820 * MB, upstream=50 * MB)
    assert verdict("third-party", 4_820 * MB, calcom) == "accept" and priority("third-party", 4_820 * MB, calcom) == "P3"
    # ragflow: critical size, nothing mechanical to remove: accept, but watch releases (P2)
    assert priority("third-party", 7_060 * MB, savings(0, 7_060 * MB)) == "P2"
    assert verdict("official", 834 * MB, savings(0, 834 * MB, upstream=900 * MB)) == "accept"
    assert priority("official", 834 * MB, savings(0, 834 * MB)) == "P3"


def test_size_groups():
    assert [size_group(s) for s in (5 * GB + 1, 5 * GB, 500 * MB, 500 * MB - 1)] == ["critical", "medium", "medium", "optimal"]


def finding(slug: str, num_bytes: int, *, upstream: bool = False, basis: str = FILES) -> Finding:
    return Finding(slug, Severity.MEDIUM, slug, "", "", bytes=num_bytes, basis=basis, upstream=upstream)


def test_estimate_sums_findings_without_exceeding_the_image():
    found = [finding("cuda-without-gpu", 3 * GB), finding("build-toolchain", 300 * MB, upstream=True),
             finding("package-cache", 100 * MB, upstream=True, basis=ESTIMATE), finding("root-user", 0)]
    custom = estimate(6 * GB, "custom", found)
    assert custom.gain == 3_400 * MB and custom.upstream_gain == 400 * MB and custom.optimized_size == 2_600 * MB
    assert custom.parts[0] == ("cuda-without-gpu", 3 * GB) and custom.basis == "mixed"
    third = estimate(6 * GB, "third-party", found)
    assert third.gain == 0 and third.optimized_size == 6 * GB and third.upstream_gain == 400 * MB
    capped = estimate(1 * GB, "custom", found)
    assert capped.gain == 1 * GB and capped.optimized_size == 0
    assert estimate(1 * GB, "custom", []).basis == "none"


def test_upstream_draft_for_kokoro_names_layers_bytes_and_the_fix():
    found = config_findings(KOKORO, GpuFacts(False, "test"), today=date(2026, 11, 22))
    size = 5_610 * MB
    result = estimate(size, "third-party", found)
    draft = draft_issue("ghcr.io/remsky/kokoro-fastapi-cpu:latest", size, found, result)
    assert draft is not None and draft.bytes == result.upstream_gain
    assert draft.title.startswith("Multi-stage build to reduce the image size by ~")
    body = draft.body
    assert "Current image size: **5.61 GB**" in body
    rust_row = next(line for line in body.splitlines() if "rust (rustup)" in line)
    assert rust_row.startswith("| 2 |") and "sh.rustup.rs" in rust_row and "1.23 GB" in rust_row
    git_row = next(line for line in body.splitlines() if "build toolchain: git" in line)
    assert git_row.startswith("| 1 |") and "100 MB" in git_row
    assert "COPY --from=builder" in body and "Would you accept a PR" in body
    # The model download is not mechanical waste: not in the draft.
    assert "download_model" not in body


def test_no_draft_when_the_waste_is_small():
    small = [Finding("package-cache", Severity.LOW, "caches", "", "", bytes=20 * MB, upstream=True,
                     parts=(LayerPart(3, "RUN pip install x", "/root/.cache/pip", 20 * MB),))]
    size = 900 * MB
    assert draft_issue("vendor/app:1", size, small, estimate(size, "third-party", small)) is None
