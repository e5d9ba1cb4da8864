"""The scan stage without Docker: trivy JSON normalization (on recordings of real runs), option checks
and mount-option building.

Recordings in tests/data/trivy/ come from trivy 0.76.0 with the fixture DB (python -m buildopt.trivydb)
on the image of tests/integration/test_scan.py (SCAN_APP, tagged buildopt-test/scan-dev:3), through
buildopt.scan with its production flags:
- image-vuln-secret.json:  trivy image --format json --quiet --cache-dir DIR --scanners vuln,secret
  --list-all-pkgs=false --timeout 900s --skip-version-check --skip-db-update --skip-java-db-update
  --offline-scan --skip-check-update --disable-telemetry --skip-files '**/*.pyc' --image-src docker
  buildopt-test/scan-dev:3
- rootfs-vuln-secret.json: the same flags with `trivy rootfs /tmp/buildopt-scan-XXXX/rootfs`, the image's
  layers mounted read-only by buildopt.scan.overlay_rootfs
- config-dockerfile.json:  trivy config --format json --quiet --cache-dir DIR --timeout 900s
  --skip-version-check --skip-check-update --disable-telemetry
  <copy of tests/data/trivy/Dockerfile.misconfig named Dockerfile>
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildopt import scan
from buildopt.errors import BadInput, EnvironmentMissing, ExitCode
from buildopt.scan import ScanOptions, findings_set, normalize, normalize_config

DATA = Path(__file__).resolve().parent.parent / "data" / "trivy"
IMAGE = "buildopt-test/scan-dev:3"


def recording(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.fixture(scope="module")
def by_image():
    return normalize(recording("image-vuln-secret.json"), IMAGE, "image", 1.5, ("vuln", "secret"))


@pytest.fixture(scope="module")
def by_rootfs():
    return normalize(recording("rootfs-vuln-secret.json"), IMAGE, "rootfs-overlay", 0.5, ("vuln", "secret"))


def test_image_report_is_normalized(by_image):
    assert by_image.target_os == "debian 12.15"
    assert by_image.trivy_version == "0.76.0"
    assert by_image.counts_by_severity == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 0}
    assert [v.id for v in by_image.vulnerabilities] == ["CVE-2099-0002", "CVE-2099-0001", "CVE-2099-0003", "CVE-2099-0004"]
    tabulate, zlib, requests, coreutils = by_image.vulnerabilities
    assert (zlib.package, zlib.installed_version, zlib.fixed_version, zlib.severity, zlib.status) == (
        "zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1", "HIGH", "fixed")
    assert zlib.target == f"{IMAGE} (debian 12.15)" and zlib.pkg_path == ""
    assert zlib.primary_url == "https://avd.aquasec.com/nvd/cve-2099-0001"
    assert zlib.title == "Planted zlib vulnerability"
    assert (tabulate.package, tabulate.installed_version, tabulate.fixed_version, tabulate.severity) == (
        "tabulate", "0.9.0", "0.9.1", "CRITICAL")
    assert tabulate.target == "Python"
    assert tabulate.pkg_path == "/opt/venv/lib/python3.11/site-packages/tabulate-0.9.0.dist-info/METADATA"
    assert coreutils.fixed_version == "" and coreutils.status == "affected"
    assert requests.severity == "MEDIUM"


def test_same_package_in_two_venvs_is_one_finding(by_image):
    raw = [v for r in recording("image-vuln-secret.json")["Results"] for v in r.get("Vulnerabilities") or []
           if v["PkgName"] == "requests"]
    assert len(raw) == 2  # /opt/venv and /opt/tools
    [requests] = [v for v in by_image.vulnerabilities if v.package == "requests"]
    assert requests.pkg_path == "/opt/tools/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA"


def test_secrets_are_normalized(by_image):
    [secret] = by_image.secrets
    assert secret == scan.Secret(rule_id="github-pat", category="GitHub", severity="CRITICAL",
                                 title="GitHub Personal Access Token", target="/srv/app/app.env", start_line=2)


def test_rootfs_and_image_reports_normalize_to_the_same_findings(by_image, by_rootfs):
    # trivy rootfs names the OS target after the image's /etc/hostname ("vm") and gives relative paths.
    raw_targets = [r["Target"] for r in recording("rootfs-vuln-secret.json")["Results"]]
    assert raw_targets[0].startswith("vm ") and "srv/app/app.env" in raw_targets
    assert by_rootfs.vulnerabilities == by_image.vulnerabilities
    assert by_rootfs.secrets == by_image.secrets
    assert findings_set(by_rootfs) == findings_set(by_image)
    assert by_rootfs.method == "rootfs-overlay" and by_image.method == "image"


def test_rootfs_paths_given_under_the_mount_are_made_image_absolute():
    report = {"Results": [{"Target": "/tmp/buildopt-scan-x/rootfs/srv/.env", "Class": "secret",
                           "Secrets": [{"RuleID": "r", "Category": "c", "Severity": "high", "Title": "t", "StartLine": 3}]}]}
    result = normalize(report, "img", "rootfs-overlay", 0.0, root="/tmp/buildopt-scan-x/rootfs")
    assert result.secrets[0].target == "/srv/.env" and result.secrets[0].severity == "HIGH"
    assert result.target_os is None and result.trivy_version == "unknown"


def test_severity_filter_output_and_empty_report():
    empty = normalize({"SchemaVersion": 2, "Trivy": {"Version": "0.76.0"}, "ArtifactName": "x", "Results": None}, "x", "image", 0.1)
    assert empty.vulnerabilities == [] and empty.secrets == [] and empty.misconfigurations == []
    assert set(empty.counts_by_severity) == {"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
    assert not any(empty.counts_by_severity.values())


def test_dockerfile_config_report():
    found = normalize_config(recording("config-dockerfile.json"), "Dockerfile.misconfig")
    assert [(m.id, m.severity, m.start_line) for m in found] == [
        ("DS-0010", "CRITICAL", 5), ("DS-0002", "HIGH", None), ("DS-0029", "HIGH", 3),
        ("DS-0001", "MEDIUM", 2), ("DS-0004", "MEDIUM", 6), ("DS-0026", "LOW", None)]
    sudo = found[0]
    assert sudo.title == "RUN using 'sudo'" and sudo.target == "Dockerfile.misconfig"
    assert sudo.primary_url == "https://avd.aquasec.com/misconfig/ds-0010" and sudo.resolution
    # The recording's line numbers point at the file it was made from.
    lines = (DATA / "Dockerfile.misconfig").read_text().splitlines()
    assert lines[5 - 1].startswith("RUN sudo") and lines[2 - 1].startswith("FROM python:latest")


# --- options ----------------------------------------------------------------------------------------
def test_offline_without_a_db_says_how_to_get_one(tmp_path):
    with pytest.raises(EnvironmentMissing) as err:
        scan.common_flags(ScanOptions(cache_dir=tmp_path, offline=True))
    assert err.value.exit_code == ExitCode.ENVIRONMENT
    assert str(tmp_path / "db") in str(err.value) and "buildopt.trivydb" in err.value.hint
    # Secrets alone need no DB.
    assert "--offline-scan" in scan.common_flags(ScanOptions(cache_dir=tmp_path, offline=True, scanners=("secret",)))


def test_offline_flags_with_the_fixture_db(tmp_path):
    from buildopt.trivydb import write_fixture_db

    write_fixture_db(tmp_path)
    ignore = tmp_path / ".trivyignore"
    ignore.write_text("CVE-2099-0002\n")
    flags = scan.common_flags(ScanOptions(cache_dir=tmp_path, offline=True, severities=["high", "critical"],
                                          ignore_file=ignore, db_repository="mirror.example/trivy-db:2"))
    for expected in (["--cache-dir", str(tmp_path)], ["--skip-db-update"], ["--offline-scan"], ["--severity", "HIGH,CRITICAL"],
                     ["--ignorefile", str(ignore)], ["--db-repository", "mirror.example/trivy-db:2"], ["--scanners", "vuln,secret"],
                     ["--disable-telemetry"], ["--skip-files", "**/*.pyc"]):
        assert any(flags[i:i + len(expected)] == expected for i in range(len(flags))), expected
    online = scan.common_flags(ScanOptions(cache_dir=tmp_path, scanners=("vuln", "secret"), scan_bytecode=True))
    assert not {"--skip-db-update", "--offline-scan", "--disable-telemetry", "--skip-files"} & set(online)


@pytest.mark.parametrize("options, message", [
    (ScanOptions(severities=["SEVERE"]), "severity SEVERE"),
    (ScanOptions(scanners=("vuln", "license")), "scanners license"),
    (ScanOptions(scanners=()), "scanners"),
    (ScanOptions(ignore_file=Path("/nonexistent/.trivyignore")), "ignore file"),
])
def test_bad_options_are_bad_input(options, message):
    with pytest.raises(BadInput, match=message):
        scan.common_flags(options)


def test_missing_trivy_gives_the_install_fix(monkeypatch):
    monkeypatch.setattr(scan, "trivy_path", lambda: None)
    with pytest.raises(EnvironmentMissing) as err:
        scan.find_trivy()
    assert err.value.exit_code == 4 and "buildopt[trivy]" in err.value.hint
    with pytest.raises(EnvironmentMissing):
        scan.find_trivy("/nonexistent/trivy")


def test_trivy_error_line_is_extracted():
    stderr = ("2026-11-22T08:12:05Z\tINFO\tstarting\n"
              "2026-11-22T08:12:05Z\tFATAL\tFatal error\trun error: init error: DB error: failed to download vulnerability DB\n"
              "\t* Get \"https://mirror.gcr.io/v2/\": no such host\n")
    assert scan._trivy_error(stderr) == "run error: init error: DB error: failed to download vulnerability DB"
    assert scan._trivy_error("") == "no output"


# --- mount options ----------------------------------------------------------------------------------
def _attrs(*dirs_top_down: str) -> dict:
    return {"GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": dirs_top_down[0], "LowerDir": ":".join(dirs_top_down[1:])}}}


def test_mount_options_stack_layers_top_down():
    options, cwd = scan.mount_options(_attrs("/d/top/diff", "/d/mid/diff", "/d/base/diff"), "/tmp/empty")
    assert options == "ro,lowerdir=/d/top/diff:/d/mid/diff:/d/base/diff" and cwd is None


def test_single_layer_image_gets_an_empty_second_lowerdir():
    # overlayfs refuses a mount with one lowerdir and no upperdir (tested: "wrong fs type").
    attrs = {"GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": "/d/base/diff"}}}
    assert scan.mount_options(attrs, "/tmp/empty") == ("ro,lowerdir=/d/base/diff:/tmp/empty", None)


def test_many_layers_use_the_engines_short_links(tmp_path):
    root = tmp_path / "overlay2"
    dirs = []
    for index in range(60):
        layer = root / f"{index:064d}"
        (layer / "diff").mkdir(parents=True)
        (layer / "link").write_text(f"SHORT{index:02d}")
        dirs.append(str(layer / "diff"))
    options, cwd = scan.mount_options(_attrs(*reversed(dirs)), "/tmp/empty")
    assert cwd == str(root)
    assert options == "ro,lowerdir=" + ":".join(f"l/SHORT{i:02d}" for i in reversed(range(60)))


def test_overlay_needs_overlay2_and_a_local_engine():
    assert "not local" in scan.overlay_unavailable(_attrs("/d/a/diff"), local_engine=False)
    assert "overlay2" in scan.overlay_unavailable({"GraphDriver": {"Name": "btrfs", "Data": {}}}, local_engine=True)
