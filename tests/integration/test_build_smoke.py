"""Build and smoke stages on the real engine: buildx builds concurrently, failures keep the log tail,
smoke checks pass in a working image and fail in a broken one, and no container is left behind."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from buildopt.build import BuildRequest, build_all
from buildopt.smoke import ContainerRunner, HttpProbe, SmokeSpec, align_imports, run_smoke, shared_imports
from tests.conftest import BASE_IMAGE, TEST_REPO_PREFIX

pytestmark = pytest.mark.docker

APP = f"""FROM {BASE_IMAGE}
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --quiet six==1.16.0
ENV PATH=/opt/venv/bin:$PATH
RUN useradd --uid 10001 app
COPY serve.py /srv/serve.py
USER app
EXPOSE 8080
CMD ["python", "/srv/serve.py"]
"""
SERVE = """import http.server, six
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers(); self.wfile.write(b"ok")
http.server.HTTPServer(("0.0.0.0", 8080), Health).serve_forever()
"""
BROKEN = f"FROM {BASE_IMAGE}\nRUN echo about to fail && exit 7\n"


def _containers_of(run_id: str) -> str:
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label=buildopt.smoke={run_id}"],
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def built(docker_engine, tmp_path_factory):
    context = tmp_path_factory.mktemp("build-ctx")
    (context / "serve.py").write_text(SERVE)
    (context / "Dockerfile").write_text(APP)
    (context / "Dockerfile.broken").write_text(BROKEN)
    run = uuid.uuid4().hex[:8]
    requests = [
        BuildRequest("original", context / "Dockerfile", context, f"{TEST_REPO_PREFIX}/app:{run}-a", context / "a.log"),
        BuildRequest("broken", context / "Dockerfile.broken", context, f"{TEST_REPO_PREFIX}/app:{run}-b", context / "b.log"),
    ]
    lines: list[tuple[str, str]] = []
    results = build_all(requests, on_line=lambda name, line: lines.append((name, line)))
    yield results, lines
    for request in requests:
        subprocess.run(["docker", "image", "rm", "-f", request.tag], capture_output=True)


def test_build_results_in_order_with_logs(built):
    (ok, _broken), lines = built
    assert ok.ok and ok.image_id and ok.image_id.startswith("sha256:")
    assert ok.log_path.read_text().strip() and ok.duration_s > 0
    assert {name for name, _ in lines} == {"original", "broken"}


def test_failed_build_reports_reason_and_log_tail(built):
    (_, broken), _ = built
    assert not broken.ok and broken.image_id is None
    assert any("about to fail" in line for line in broken.log_tail)
    assert "exit code: 7" in broken.error or "7" in broken.error
    assert "build failed" in broken.log_path.read_text()


def test_smoke_passes_imports_user_and_http(built):
    (ok, _), _ = built
    runner = ContainerRunner()
    spec = SmokeSpec(commands=["python -c 'import six; print(six.__version__)'"], http=HttpProbe(8080, "/health", 30),
                     require_non_root=True, timeout_s=60)
    result = run_smoke(runner, ok.tag, spec, [], discover=True)
    imports = shared_imports(result, None, [])  # the discovered modules that import there
    assert imports == ["six"]
    align_imports(runner, result, spec, imports)
    assert result.ok, result.checks
    assert result.uid == 10001 and result.non_root
    assert {c.kind for c in result.checks} == {"user", "import", "command", "http", "start"}
    assert result.start.stayed_up  # the image's own CMD, watched for the default window
    assert _containers_of(runner.run_id) == ""


def test_smoke_fails_for_missing_import_and_root(docker_engine):
    runner = ContainerRunner()
    spec = SmokeSpec(commands=["exit 3"], require_non_root=True, timeout_s=60)
    result = run_smoke(runner, BASE_IMAGE, spec, ["six_does_not_exist"])
    failed = {c.kind for c in result.checks if not c.ok}
    assert failed == {"user", "import", "command"}
    assert result.uid == 0
    assert _containers_of(runner.run_id) == ""


def test_smoke_of_an_image_without_python_fails_checks_instead_of_crashing(build_image):
    image = build_image(f"FROM {BASE_IMAGE}\nRUN rm -f /usr/bin/python3* /usr/bin/python /usr/local/bin/python*\n",
                        name="no-python")
    runner = ContainerRunner()
    result = run_smoke(runner, image, SmokeSpec(timeout_s=60), ["json"], discover=True)
    [check] = [c for c in result.checks if c.kind == "import"]
    assert not check.ok and "did not start" in check.detail
    assert result.uid == 0  # from `id -u` through /bin/sh, since there is no python to ask
    assert _containers_of(runner.run_id) == ""
