"""The real trivy binary reads the project's fixture DB (buildopt.trivydb) fully offline and reports the
planted Debian and pip findings with the planted severities."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import BASE_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.trivy]

TABULATE_APP = f"""FROM {BASE_IMAGE}
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir tabulate==0.9.0
"""


def trivy_vulnerabilities(trivy_bin: str, cache, image: str) -> list[dict]:
    proc = subprocess.run(
        [trivy_bin, "image", "--cache-dir", str(cache), "--skip-db-update", "--skip-java-db-update", "--offline-scan",
         "--scanners", "vuln", "-f", "json", "-q", image],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return [dict(v, Target=r["Target"], Class=r["Class"]) for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]


def test_trivy_reports_the_planted_findings(build_image, trivy_bin, fixture_trivy_cache):
    image = build_image(TABULATE_APP, name="trivy-fixture")
    found = {(v["VulnerabilityID"], v["PkgName"]): v for v in trivy_vulnerabilities(trivy_bin, fixture_trivy_cache, image)}

    zlib = found[("CVE-2099-0001", "zlib1g")]
    assert zlib["Severity"] == "HIGH" and zlib["SeveritySource"] == "debian"
    assert zlib["InstalledVersion"] == "1:1.2.13.dfsg-1" and zlib["FixedVersion"] == "1:1.2.13.dfsg-1+deb12u1"
    assert zlib["Class"] == "os-pkgs" and zlib["Title"] == "Planted zlib vulnerability"

    tabulate = found[("CVE-2099-0002", "tabulate")]
    assert tabulate["Severity"] == "CRITICAL" and tabulate["SeveritySource"] == "ghsa"
    assert tabulate["InstalledVersion"] == "0.9.0" and tabulate["FixedVersion"] == "0.9.1"
    assert tabulate["PkgPath"] == "opt/venv/lib/python3.11/site-packages/tabulate-0.9.0.dist-info/METADATA"


def test_base_image_has_only_the_os_findings(docker_engine, trivy_bin, fixture_trivy_cache):
    # No venv, so no pip finding: the tabulate hit above comes from the package, not from the DB matching anything.
    found = {(v["VulnerabilityID"], v["PkgName"], v["Severity"]) for v in trivy_vulnerabilities(trivy_bin, fixture_trivy_cache, BASE_IMAGE)}
    assert ("CVE-2099-0001", "zlib1g", "HIGH") in found
    assert not {f for f in found if f[0] in ("CVE-2099-0002", "CVE-2099-0003")}
