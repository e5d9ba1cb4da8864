"""The scan stage on the real engine with the real trivy binary and the fixture DB: the fast paths (trivy
rootfs on a read-only overlay mount of the image's layers as root; trivy rootfs inside a container of the
image as anyone in the docker group) and the fallback (trivy image) give the same findings; mounts, temp
dirs and containers never outlive a scan, Ctrl-C included; options and errors behave.

tests/integration/test_nonroot.py runs this file again as a non-root user in the docker group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from buildopt import scan
from buildopt.errors import BadInput, EnvironmentMissing
from buildopt.scan import ScanOptions, findings_set, scan_image
from buildopt.trivydb import planted_os_fix
from tests.conftest import BASE_IMAGE, REPO, own_leftovers

pytestmark = [pytest.mark.docker, pytest.mark.trivy]

# Two venvs holding requests (one finding after dedupe), tabulate 0.8.10 installed and then removed in a
# later layer (a whiteout both methods must honour), and a secret file.
SCAN_APP = f"""FROM {BASE_IMAGE}
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --quiet tabulate==0.9.0 requests==2.31.0
RUN python3 -m venv --without-pip /opt/tools && /opt/venv/bin/pip --python /opt/tools/bin/python install --no-cache-dir --quiet requests==2.31.0 tabulate==0.8.10
RUN /opt/venv/bin/pip --python /opt/tools/bin/python uninstall --yes --quiet tabulate
COPY app.env /srv/app/app.env
"""
# A token-shaped fake, assembled at run time so this file itself holds no secret-looking literal.
APP_ENV = "APP_NAME=demo\nGITHUB_TOKEN=" + "ghp" + "_R4nd0mLo0k1ngT0k3nV4lu3F0rT3st1ngXyZ" + "\n"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the overlay fast path needs root (mount)")


@pytest.fixture(scope="module")
def app_image(build_image) -> str:
    return build_image(SCAN_APP, {"app.env": APP_ENV}, name="scan")


@pytest.fixture
def options(trivy_bin, fixture_trivy_cache):
    def make(**overrides) -> ScanOptions:
        values = {"cache_dir": fixture_trivy_cache, "offline": True, "trivy_path": trivy_bin, "scanners": ("vuln",)}
        values.update(overrides)
        return ScanOptions(**values)
    return make


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Scans make their mount dirs here, so the test sees exactly its own (other runs may scan meanwhile)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


def expected_findings(target_os: str) -> set[tuple[str, str, str, str]]:
    """(id, package, fixed, severity) the fixture DB plants for SCAN_APP on this base image's OS."""
    return {
        ("CVE-2099-0001", "zlib1g", planted_os_fix(target_os, "zlib"), "HIGH"),
        ("CVE-2099-0002", "tabulate", "0.9.1", "CRITICAL"),
        ("CVE-2099-0003", "requests", "2.99.0", "MEDIUM"),
        ("CVE-2099-0004", "coreutils", "", "LOW"),
    }


@needs_root
def test_rootfs_overlay_and_image_give_the_same_findings(app_image, options, private_tmp):
    fast = scan_image(app_image, options(method="auto", scanners=("vuln", "secret")))
    assert fast.method == "rootfs-overlay" and fast.fallback_reason is None
    assert mounts_under(private_tmp) == [] and list(private_tmp.iterdir()) == []
    slow = scan_image(app_image, options(method="image", scanners=("vuln", "secret")))
    assert slow.method == "image"

    assert fast.target_os == slow.target_os and fast.target_os.startswith("debian ")
    assert findings_set(fast) == findings_set(slow)
    assert {(v.id, v.package, v.fixed_version, v.severity) for v in fast.vulnerabilities} == expected_findings(fast.target_os)
    # Same targets and paths too, not only the same ids.
    assert fast.vulnerabilities == slow.vulnerabilities
    assert fast.counts_by_severity == slow.counts_by_severity == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 0}
    # tabulate 0.8.10 was removed from /opt/tools in a later layer: the overlay mount must hide it as trivy image does.
    assert [v.installed_version for v in fast.vulnerabilities if v.package == "tabulate"] == ["0.9.0"]
    assert fast.secrets == slow.secrets
    assert [(s.rule_id, s.target, s.start_line) for s in fast.secrets] == [("github-pat", "/srv/app/app.env", 2)]
    assert fast.trivy_version == slow.trivy_version != "unknown"


def test_rootfs_container_and_image_give_the_same_findings(app_image, options):
    """The non-root fast path: trivy rootfs inside a container of the image, no mount, no export."""
    fast = scan_image(app_image, options(method="rootfs-container", scanners=("vuln", "secret")))
    slow = scan_image(app_image, options(method="image", scanners=("vuln", "secret")))
    assert fast.method == "rootfs-container" and slow.method == "image"
    assert fast.target_os == slow.target_os and fast.vulnerabilities == slow.vulnerabilities
    assert {(v.id, v.package, v.fixed_version, v.severity) for v in fast.vulnerabilities} == expected_findings(fast.target_os)
    assert [v.installed_version for v in fast.vulnerabilities if v.package == "tabulate"] == ["0.9.0"]  # whiteout
    assert fast.secrets == slow.secrets
    assert [(s.rule_id, s.target, s.start_line) for s in fast.secrets] == [("github-pat", "/srv/app/app.env", 2)]
    assert own_leftovers()[0] == [], "the scan container is gone"


def test_the_image_cannot_configure_trivy_in_its_own_container(build_image, options):
    """A PR builds the image it is scanned in: its /.trivyignore and /trivy.yaml must not hide findings, and an
    image that sets TRIVY_* variables is scanned from outside (trivy image) instead."""
    hostile = build_image(f"FROM {BASE_IMAGE}\nCOPY trivyignore /.trivyignore\nCOPY trivy.yaml /trivy.yaml\n",
                          {"trivyignore": "CVE-2099-0001\nCVE-2099-0004\n", "trivy.yaml": "severity:\n  - CRITICAL\n"},
                          name="scan-hostile-files")
    result = scan_image(hostile, options(method="rootfs-container"))
    assert {"CVE-2099-0001", "CVE-2099-0004"} <= {v.id for v in result.vulnerabilities}
    configured = build_image(f"FROM {BASE_IMAGE}\nENV TRIVY_SEVERITY=CRITICAL\n", name="scan-hostile-env")
    fallback = scan_image(configured, options(method="auto"))
    if os.geteuid() != 0:
        assert fallback.method == "image" and "TRIVY_SEVERITY" in fallback.fallback_reason
    assert "CVE-2099-0001" in {v.id for v in fallback.vulnerabilities}


def test_auto_takes_a_fast_path_as_root_and_as_non_root(app_image, options):
    result = scan_image(app_image, options(method="auto"))
    assert result.method == ("rootfs-overlay" if os.geteuid() == 0 else "rootfs-container")
    assert result.fallback_reason is None


@needs_root
def test_single_layer_image_mounts_too(docker_engine, options, private_tmp):
    # The base image has one layer: overlayfs needs a second (empty) lowerdir for a read-only mount.
    fast = scan_image(BASE_IMAGE, options(method="rootfs-overlay"))
    slow = scan_image(BASE_IMAGE, options(method="image"))
    assert findings_set(fast) == findings_set(slow)
    assert ("CVE-2099-0001", "zlib1g") in {(v.id, v.package) for v in fast.vulnerabilities}
    assert mounts_under(private_tmp) == [] and list(private_tmp.iterdir()) == []


@needs_root
def test_overlay_is_read_only_and_removed_afterwards(app_image, private_tmp):
    from buildopt.engine import current

    with scan.overlay_rootfs(current().image_attrs(app_image)) as root:
        assert mounts_under(private_tmp) == [str(root)]
        assert (root / "srv/app/app.env").read_text() == APP_ENV
        assert not (root / "opt/tools/lib/python3.11/site-packages/tabulate").exists()  # whiteout applied
        with pytest.raises(OSError):
            (root / "written-by-a-test").write_text("x")
    assert mounts_under(private_tmp) == [] and list(private_tmp.iterdir()) == []


@needs_root
def test_ctrl_c_during_a_scan_unmounts_and_cleans_up(app_image, trivy_bin, fixture_trivy_cache, tmp_path):
    # A real Ctrl-C: SIGINT to the whole process group (python and trivy), while trivy reads the mount.
    script = (
        "import sys; from pathlib import Path; from buildopt.scan import ScanOptions, scan_image\n"
        f"scan_image({app_image!r}, ScanOptions(cache_dir=Path({str(fixture_trivy_cache)!r}), offline=True, "
        f"trivy_path={trivy_bin!r}, scanners=('vuln', 'secret'), method='rootfs-overlay'))\n"
        "print('finished')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env={**os.environ, "TMPDIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while not mounts_under(tmp_path) and proc.poll() is None:
            time.sleep(0.02)
        assert mounts_under(tmp_path), f"the scan never mounted: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "finished" not in out and "KeyboardInterrupt" in err
    assert mounts_under(tmp_path) == [] and list(tmp_path.iterdir()) == []
    with pytest.raises(ProcessLookupError):  # trivy went down with it
        os.killpg(proc.pid, 0)


def test_severity_filter_and_ignore_file(app_image, options, tmp_path):
    critical = scan_image(app_image, options(severities=["critical"]))
    assert [(v.id, v.package) for v in critical.vulnerabilities] == [("CVE-2099-0002", "tabulate")]
    assert critical.counts_by_severity["HIGH"] == 0
    ignore = tmp_path / ".trivyignore"
    ignore.write_text("CVE-2099-0002\n")
    ignored = scan_image(app_image, options(ignore_file=ignore))
    assert "CVE-2099-0002" not in {v.id for v in ignored.vulnerabilities}
    assert "CVE-2099-0001" in {v.id for v in ignored.vulnerabilities}


def test_offline_without_db_is_environment_missing(app_image, options, tmp_path):
    with pytest.raises(EnvironmentMissing, match="no trivy vulnerability DB") as err:
        scan_image(app_image, options(cache_dir=tmp_path / "empty-cache"))
    assert err.value.exit_code == 4


def test_unreachable_db_repository_is_environment_missing(app_image, options, tmp_path):
    # Not offline and no DB: the real trivy tries, three times, to download from a port that refuses connections.
    with pytest.raises(scan.DBUnavailable, match="could not download the trivy vulnerability DB") as err:
        scan_image(app_image, options(cache_dir=tmp_path / "cache", offline=False, method="image",
                                      db_repository="127.0.0.1:9/nothing/trivy-db:2"))
    assert "127.0.0.1:9/nothing/trivy-db:2 (3 attempts)" in str(err.value) and "\n" not in str(err.value)
    assert "connection refused" in str(err.value).lower()
    assert isinstance(err.value, EnvironmentMissing) and err.value.exit_code == 4


def test_unknown_image_is_bad_input(docker_engine, options):
    with pytest.raises(BadInput, match="not found"):
        scan_image("buildopt-test/never-built:nope", options())


def test_dockerfile_config_checks(trivy_bin, fixture_trivy_cache):
    found = scan.scan_dockerfile_config(REPO / "tests/data/trivy/Dockerfile.misconfig",
                                        ScanOptions(cache_dir=fixture_trivy_cache, offline=True, trivy_path=trivy_bin))
    by_id = {m.id: m for m in found}
    assert by_id["DS-0001"].start_line == 2 and by_id["DS-0010"].severity == "CRITICAL"
    assert "DS-0002" in by_id  # no USER


def jar_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("META-INF/maven/org.example/demo/pom.properties", "groupId=org.example\nartifactId=demo\nversion=1.0\n")
    return buffer.getvalue()


@pytest.mark.parametrize("method", [pytest.param("rootfs-overlay", marks=needs_root), "rootfs-container", "image"])
def test_offline_scan_of_an_image_with_java_archives_works_without_a_java_db(build_image, options, method):
    """Without the skip, trivy 0.76 fails the whole scan: "--skip-java-db-update cannot be specified on the
    first run" (seen on the rag-anything original, which holds LibreOffice's jars)."""
    image = build_image(f"FROM {BASE_IMAGE}\nCOPY demo.jar /opt/lib/demo.jar\n", {"demo.jar": jar_bytes()}, name="scan-jar")
    result = scan_image(image, options(method=method))
    assert result.java_skipped
    assert any(v.id.startswith("CVE-2099-") for v in result.vulnerabilities)  # the OS packages were still scanned


def test_secrets_inside_installed_packages_are_left_out_unless_asked(build_image, options):
    token = "ghp" + "_R4nd0mLo0k1ngT0k3nV4lu3F0rT3st1ngXyZ"
    image = build_image(
        f"FROM {BASE_IMAGE}\nCOPY app.env /srv/app/app.env\nCOPY pkg.py /opt/venv/lib/python3.11/site-packages/pkg/pkg.py\n",
        {"app.env": f"GITHUB_TOKEN={token}\n", "pkg.py": f"TOKEN = '{token}'\n"}, name="scan-secret-scope")
    default = scan_image(image, options(scanners=("vuln", "secret")))
    everywhere = scan_image(image, options(scanners=("vuln", "secret"), package_secrets=True))
    assert {s.target for s in default.secrets} == {"/srv/app/app.env"}
    assert {s.target for s in everywhere.secrets} == {"/srv/app/app.env", "/opt/venv/lib/python3.11/site-packages/pkg/pkg.py"}
    assert default.vulnerability_keys == everywhere.vulnerability_keys and default.vulnerabilities
