"""`buildopt audit` on real engines: the main one, and a second dockerd reached through a docker context.

Synthetic images stand in for the audits' cases, built with buildx from files of zeros so they cost
disk, not downloads:
- cuda: a fake nvidia-cublas-cu12 wheel (RECORD + two libcublas*.so.12, 190 MB) in a venv;
- model: a Hugging Face cache with a 120 MB blob behind snapshots/<rev>/model.safetensors;
- tools: a fake /usr/bin/gcc (detected by path, not by package), a rust toolchain dir, pip and apt caches;
- clean: non-root user and a real healthcheck.
A dangling image is made by rebuilding a tag. Containers (one running, one created and never started)
carry the settings the audits checked. The second engine is a dockerd on its own socket, data root,
exec root and pidfile (no bridge, no iptables); everything on it is removed with its data root.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from markupsafe import escape

from buildopt.audit import AuditOptions, run_audit
from buildopt.report import html
from buildopt.report.audit_report import audit_document, render_markdown, render_table
from tests.conftest import BASE_IMAGE, RUN_LABEL, SESSION_ID, TEST_REPO_PREFIX, require

pytestmark = pytest.mark.docker

SITE = "/opt/venv/lib/python3.11/site-packages"
CUBLAS_RECORD = "nvidia/cublas/lib/libcublas.so.12,,\nnvidia/cublas/lib/libcublasLt.so.12,,\nnvidia_cublas_cu12-12.1.3.1.dist-info/RECORD,,\n"
CUDA_BYTES = 150_000_000 + 40_000_000 + len(CUBLAS_RECORD)  # the wheel's files: what the CPU build drops
MODEL_BYTES = 120_000_000
CACHE_BYTES = 8_000_000 + 2_000_000
_RECORD_PRINTF = CUBLAS_RECORD.replace("\n", "\\n")  # printf turns the \n back into newlines

CUDA_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN set -e; SP={SITE}; mkdir -p $SP/nvidia/cublas/lib $SP/nvidia_cublas_cu12-12.1.3.1.dist-info; \\
    head -c 150000000 /dev/zero > $SP/nvidia/cublas/lib/libcublas.so.12; \\
    head -c 40000000 /dev/zero > $SP/nvidia/cublas/lib/libcublasLt.so.12; \\
    printf '{_RECORD_PRINTF}' > $SP/nvidia_cublas_cu12-12.1.3.1.dist-info/RECORD
CMD ["python3"]
"""
MODEL_DOCKERFILE = f"""FROM {BASE_IMAGE}
ENV HF_HOME=/root/.cache/huggingface
RUN set -e; D=/root/.cache/huggingface/hub/models--acme--tiny-model; mkdir -p $D/blobs $D/snapshots/0123abc; \\
    head -c {MODEL_BYTES} /dev/zero > $D/blobs/5f1a2b; ln -s ../../blobs/5f1a2b $D/snapshots/0123abc/model.safetensors
CMD ["python3"]
"""
TOOLS_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN set -e; head -c 3000000 /dev/zero > /usr/bin/gcc; chmod 755 /usr/bin/gcc; \\
    mkdir -p /root/.rustup/toolchains/stable/lib /root/.cache/pip/http/a /var/lib/apt/lists; \\
    head -c 5000000 /dev/zero > /root/.rustup/toolchains/stable/lib/librustc_driver.so; \\
    head -c 8000000 /dev/zero > /root/.cache/pip/http/a/0123; \\
    head -c 2000000 /dev/zero > /var/lib/apt/lists/mirror.example_debian_dists_bookworm_main_binary-amd64_Packages
CMD ["python3"]
"""
CLEAN_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN useradd --uid 10001 app
USER app
HEALTHCHECK --interval=30s CMD python3 -c "import os, sys; sys.exit(0 if os.path.exists('/etc/hostname') else 1)"
CMD ["sleep", "infinity"]
"""


def docker(*args: str, host: str | None = None, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    command = ["docker"] + (["-H", host] if host else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, check=check, **kwargs)


def dangling_ids(host: str | None = None) -> list[str]:
    """Exactly what the audits ran: `docker images -f dangling=true -q`."""
    return docker("images", "-f", "dangling=true", "-q", host=host).stdout.split()


def image_id(ref: str, host: str | None = None) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", ref, host=host).stdout.strip()


def cli(*args: str, env: dict | None = None, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "buildopt.cli", "audit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, stdin=stdin, timeout=600)


def by_name(report, tag: str):
    return next(audit for audit in report.images if tag in audit.record.repo_tags)


# --- the main engine ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images(build_image) -> dict[str, str]:
    return {
        "cuda": build_image(CUDA_DOCKERFILE, name="audit-cuda"),
        "model": build_image(MODEL_DOCKERFILE, name="audit-model"),
        "tools": build_image(TOOLS_DOCKERFILE, name="audit-tools"),
        "clean": build_image(CLEAN_DOCKERFILE, name="audit-clean"),
    }


@pytest.fixture(scope="module")
def dangling_image(docker_engine, tmp_path_factory) -> str:
    """Build tag T, then different content under T: the first image becomes dangling. Both go at the end."""
    from python_on_whales import docker as whales

    tag = f"{TEST_REPO_PREFIX}/audit-dangling:{SESSION_ID}"
    context = tmp_path_factory.mktemp("dangling")
    (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY payload /payload\n")
    created = []
    try:
        for content in (b"first " * 500_000, b"second " * 10):
            (context / "payload").write_bytes(content + SESSION_ID.encode())
            whales.buildx.build(context, tags=[tag], load=True, progress=False)
            created.append(image_id(tag))
        assert created[0] != created[1]
        yield created[0]
    finally:
        for ref in [tag, *created]:
            docker("image", "rm", ref, check=False)


@pytest.fixture(scope="module")
def containers(images, tmp_path_factory) -> dict[str, str]:
    """One running container with limits, one created (never started) with everything the audits flag."""
    data = tmp_path_factory.mktemp("data")
    source = tmp_path_factory.mktemp("src")
    (source / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    names = {"limited": f"buildopt-test-audit-{SESSION_ID}-limited", "loose": f"buildopt-test-audit-{SESSION_ID}-loose"}
    try:
        docker("run", "-d", "--name", names["limited"], "--network", "none", "--memory", "256m", "--cpus", "0.5",
               "--restart", "unless-stopped", "--read-only", "-v", f"{data}:/data:ro", images["clean"])
        # Never started: nothing binds 0.0.0.0:18082 or runs privileged; the audit reads the configuration.
        docker("create", "--name", names["loose"], "--privileged", "--cap-add", "NET_ADMIN", "--user", "root",
               "-p", "18082:80", "-p", "127.0.0.1:18083:81", "-v", f"{source}:/app",
               "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", images["clean"])
        yield names
    finally:
        for name in names.values():
            docker("rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def main_report(images, dangling_image, containers):
    """One audit of the main engine (deep pass on custom images), with the CLI's dangling list around it.

    Other sessions may create or remove dangling images meanwhile: the run is repeated (3 times at most)
    until the list is the same before and after it.
    """
    for _ in range(3):
        before = dangling_ids()
        report = run_audit(AuditOptions(today=date(2026, 11, 22)))
        after = dangling_ids()
        if before == after:
            return report, after
    pytest.fail("the engine's dangling images kept changing during the audit")


def test_cuda_and_model_images_rank_first_with_their_causes_and_sizes(main_report, images):
    report, _ = main_report
    ours = [audit for audit in report.images if any(tag in audit.record.repo_tags for tag in images.values())]
    order = [next(key for key, tag in images.items() if tag in audit.record.repo_tags) for audit in ours]
    assert order[:2] == ["cuda", "model"], order
    assert set(order[2:]) == {"tools", "clean"}

    cuda = by_name(report, images["cuda"])
    assert cuda.depth == "files" and cuda.reader == "overlay2"
    assert cuda.category == "custom" and cuda.kind == "ml"
    top = next(f for f in cuda.findings if f.bytes)
    if report.engine.gpu.present:
        assert "cuda-without-gpu" not in {f.slug for f in cuda.findings}
    else:
        assert top.slug == "cuda-without-gpu"
        assert top.bytes == CUDA_BYTES
        assert any("nvidia-cublas-cu12 12.1.3.1" in item for item in top.evidence)
        assert cuda.savings.gain == CUDA_BYTES
        assert cuda.savings.optimized_size == cuda.record.size - CUDA_BYTES
        assert cuda.priority == "P2"  # >= 100 MB gain, optimal size group

    model = by_name(report, images["model"])
    baked = next(f for f in model.findings if f.slug == "baked-model")
    assert baked.bytes == MODEL_BYTES
    assert "acme/tiny-model" in baked.detail
    assert baked.parts and baked.parts[0].bytes == MODEL_BYTES and "models--acme--tiny-model" in baked.parts[0].created_by
    assert model.savings.gain == MODEL_BYTES and model.priority == "P2"


def test_toolchain_caches_and_scores(main_report, images):
    report, _ = main_report
    tools = by_name(report, images["tools"])
    toolchain = next(f for f in tools.findings if f.slug == "build-toolchain")
    assert "gcc: 3 MB (path)" in toolchain.evidence  # detected by its path: no gcc package is installed
    assert "rust toolchain: 5 MB (directory)" in toolchain.evidence
    assert toolchain.bytes == 8_000_000
    cache = next(f for f in tools.findings if f.slug == "package-cache")
    assert cache.bytes == CACHE_BYTES
    assert {"/root/.cache/pip", "/var/lib/apt/lists"} <= {part.holds for part in cache.parts}
    # root, no healthcheck, toolchain: 100 - 25 - 10 - 5, the documented formula
    assert tools.score.score == 60 and tools.projected_score.score == 100
    assert tools.priority == "P3"

    clean = by_name(report, images["clean"])
    assert not [f for f in clean.findings if f.security]
    assert clean.healthcheck == "ok" and clean.user == "app"
    # its created container runs privileged as root with a capability and no memory limit
    assert clean.score.score == 100 - 25 - 15 - 5 - 5
    assert {p.reason for p in clean.score.penalties} == {"runs as root", "privileged container", "extra capabilities",
                                                         "no memory limit"}


def test_end_of_life_python_follows_the_date(images):
    from buildopt.audit.findings import profile_findings
    from buildopt.engine import GpuFacts
    from buildopt.inspect import inspect_image

    profile = inspect_image(images["clean"])
    later = {f.slug for f in profile_findings(profile, GpuFacts(False, "test"), today=date(2027, 11, 15))}
    sooner = {f.slug for f in profile_findings(profile, GpuFacts(False, "test"), today=date(2026, 11, 22))}
    assert "eol-python" in later and "eol-python-soon" in sooner and "eol-python" not in sooner


def test_history_only_findings_without_the_files(images):
    report = run_audit(AuditOptions(deep=False, today=date(2026, 11, 22)))
    cuda, model, tools = (by_name(report, images[key]) for key in ("cuda", "model", "tools"))
    assert {cuda.depth, model.depth, tools.depth} == {"config"}
    cuda_finding = next(f for f in cuda.findings if f.slug == "cuda-without-gpu") if not report.engine.gpu.present else None
    if cuda_finding is not None:
        assert cuda_finding.basis == "layer" and cuda_finding.bytes >= CUDA_BYTES - len(CUBLAS_RECORD)
    baked = next(f for f in model.findings if f.slug == "baked-model")
    assert baked.basis == "layer" and MODEL_BYTES <= baked.bytes < MODEL_BYTES + 1_000_000
    assert "root-user" in {f.slug for f in tools.findings}


def test_dangling_images_counted_as_docker_images_does(main_report, dangling_image):
    report, cli_ids = main_report
    assert len(report.dangling) == len(cli_ids)
    assert {d.record.short_id for d in report.dangling} == set(cli_ids)
    ours = next(d for d in report.dangling if d.record.id == dangling_image)
    assert ours.record.size > 3_000_000 and ours.record.unique_size >= 3_000_000  # the 3 MB payload is its own
    assert ours.last_step.startswith("COPY payload")
    doc = audit_document(report)
    assert doc["summary"]["dangling"]["count"] == len(cli_ids)
    markdown = render_markdown(doc)
    assert "docker image prune -f" in markdown and ours.record.short_id in markdown


def test_containers_checked_like_the_audits(main_report, containers):
    report, _ = main_report
    records = {c.record.name: c for c in report.containers}
    limited, loose = records[containers["limited"]], records[containers["loose"]]
    assert limited.record.running and limited.record.memory_limit == 256 * 1024**2
    assert limited.record.cpu_limit == 0.5 and limited.record.restart_policy == "unless-stopped"
    assert limited.record.readonly_rootfs and limited.record.user == "app"
    assert limited.record.healthcheck == "ok" and limited.record.health_status in ("starting", "healthy")
    assert [m.writable for m in limited.record.mounts] == [False]
    assert limited.score.score == 100

    assert loose.record.state == "created"
    assert loose.record.ports_all_interfaces == ("0.0.0.0:18082->80/tcp",)
    assert "127.0.0.1:18083->81/tcp" in loose.record.ports
    slugs = [slug for slug, _ in loose.problems]
    assert slugs[:3] == ["privileged", "docker-socket", "extra-capabilities"]
    assert {"root-user", "port-all-interfaces", "source-bind-mount", "no-memory-limit", "no-restart-policy"} <= set(slugs)
    assert [m.destination for m in loose.record.source_mounts] == ["/app"]
    summary = audit_document(report)["summary"]["containers"]
    assert summary["total"] == len(report.containers)
    assert summary["privileged"] >= 1 and summary["healthcheck"] >= 2


def test_report_formats_follow_the_audits(main_report, images):
    report, _ = main_report
    doc = audit_document(report)
    assert doc["schema"] == "buildopt.audit/v1"
    json.dumps(doc)  # serializable as is
    markdown = render_markdown(doc)
    sections = ["## 📊 Executive summary", "### Overall security score", "### Immediate priorities (P0)",
                "## Top images by size", "### Images by category", "## 🟢 Optimal images (< 500 MB)",
                "## 📊 Recap table", "## 🔒 Global security audit", "- Health checks configured:",
                "- Resource limits (memory):", "## 🚨 Dangling images to remove", "## 🎯 Recommended action plan"]
    positions = [markdown.index(section) for section in sections]
    assert positions == sorted(positions)
    assert f"| **{images['cuda']}** |" in markdown
    table = render_table(doc)
    assert images["cuda"] in table and "potential gain" in table
    # The HTML renders the plan audit/plan.py computed, the same the markdown lists.
    page = html.render_audit(doc)
    for step in doc["action_plan"]:
        assert f'data-priority="{step["priority"]}"' in page and f"### {step['title']}" in markdown
        for item in step["items"]:
            assert escape(item["what"]) in page and item["what"] in markdown
    assert '<section class="plan-step" data-priority="P0">' in page
    assert escape(images["cuda"]) in page and 'id="container-table"' in page


def test_fail_over_exit_code(images):
    over = cli("--no-deep", "--format", "json", "--fail-over", "300MB")
    assert over.returncode == 1, over.stderr
    failed = {item["name"] for item in json.loads(over.stdout)["fail_over"]["failed"]}
    assert images["cuda"] in failed and images["model"] in failed and images["clean"] not in failed
    under = cli("--no-deep", "--format", "json", "--fail-over", "1TB")
    assert under.returncode == 0, under.stderr


def test_prune_refused_without_confirmation(dangling_image):
    result = cli("--prune-dangling")
    assert result.returncode == 2
    assert "--yes" in result.stderr and "Traceback" not in result.stderr
    assert image_id(dangling_image)  # still there



def test_an_image_the_engine_does_not_have_is_gone(docker_engine):
    from buildopt.audit.inventory import ImageGone, image_details
    from buildopt.engine import connect

    client = connect().client
    for ref in ("sha256:" + "0" * 64, f"{TEST_REPO_PREFIX}/never-built:{SESSION_ID}"):
        with pytest.raises(ImageGone, match="removed while the audit ran"):
            image_details(client, ref)


def test_an_image_removed_during_the_audit_is_skipped(docker_engine):
    """Another process removes an image between the listing and its inspect (seen on the shared engine): the
    audit skips it with a note instead of failing. Here the test removes its own image at that moment."""
    import docker as docker_sdk

    client = docker_sdk.from_env()
    repository = f"{TEST_REPO_PREFIX}/audit-vanishing"
    client.api.import_image_from_data(_tiny_tar(SESSION_ID.encode()), repository=repository, tag=SESSION_ID,
                                      changes=[f"LABEL buildopt.run={RUN_LABEL}"])
    ref = f"{repository}:{SESSION_ID}"
    gone_id = image_id(ref)
    notes: list[str] = []

    def progress(message: str) -> None:
        notes.append(message)
        if "images to audit" in message:  # listed, not yet inspected
            client.api.remove_image(gone_id, force=True)

    try:
        report = run_audit(AuditOptions(deep=False, today=date(2026, 11, 22)), progress=progress)
    finally:
        docker("image", "rm", "-f", ref, check=False)
        client.close()
    assert gone_id in {record.id for record in report.vanished}
    assert f"skipped {ref}: removed while the audit ran" in notes
    assert gone_id not in {audit.record.id for audit in report.images}
    assert gone_id not in {record.id for record in report.inventory.images}
    assert audit_document(report)["summary"]["images"] == len(report.inventory.images)

# --- a second engine through a docker context -----------------------------------------------------------
def _tiny_tar(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class TcpRelay:
    """127.0.0.1:<port> -> the second engine's unix socket, so the audit can reach it as a tcp:// (remote)
    engine. The daemon itself lives in its own network namespace and can't listen on our loopback."""

    def __init__(self, unix_path: str):
        self.unix_path = unix_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(1 << 16):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed = True
        self.server.close()


@pytest.fixture(scope="module")
def second_engine(docker_engine, tmp_path_factory):
    """A dockerd of our own: its socket, data root, exec root and pidfile under a tmp dir, no bridge and no
    iptables. It runs in a network namespace of its own (`unshare --net`): a daemon started with
    --bridge=none deletes any `docker0` link it sees, which would break the main daemon's bridge.
    Stopped by its PID, then its context, mounts and files are removed."""
    if os.geteuid() != 0:  # not a missing tool: a daemon can only be started by root, on any machine
        pytest.skip("a second dockerd needs root (this test session is non-root)")
    require(shutil.which("dockerd") is not None and shutil.which("unshare") is not None,
            "a second dockerd needs dockerd and unshare")
    root = Path(tmp_path_factory.mktemp("dockerd"))
    sock = root / "docker.sock"
    context = f"buildopt-test-ctx-{SESSION_ID}"
    log = open(root / "dockerd.log", "w")  # noqa: SIM115  (dockerd writes to it until the fixture ends)
    # unshare execs dockerd in place: process.pid is the daemon's PID
    process = subprocess.Popen(
        ["unshare", "--net", "dockerd", "--host", f"unix://{sock}", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"), "--bridge=none",
         "--iptables=false", "--ip6tables=false"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    relay = None
    host = f"unix://{sock}"
    try:
        for _ in range(120):  # readiness wait, not an assertion on time
            if process.poll() is not None:
                pytest.fail(f"second dockerd exited: {(root / 'dockerd.log').read_text()[-2000:]}")
            if docker("info", host=host, check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            pytest.fail("second dockerd never answered")
        docker("context", "create", context, "--docker", f"host={host}")
        import docker as docker_sdk

        client = docker_sdk.DockerClient(base_url=host)
        relay = TcpRelay(str(sock))
        yield {"host": host, "tcp": f"tcp://127.0.0.1:{relay.port}", "context": context, "client": client, "root": root}
        client.close()
    finally:
        if relay is not None:
            relay.close()
        docker("context", "rm", "-f", context, check=False)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for line in reversed(Path("/proc/mounts").read_text().splitlines()):  # mounts it may have left behind
            target = line.split()[1]
            if target.startswith(str(root)):
                subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_audit_through_a_docker_context(second_engine):
    client, host = second_engine["client"], second_engine["host"]
    client.api.import_image_from_data(_tiny_tar(b"hello\n"), repository=f"{TEST_REPO_PREFIX}/remote-tiny", tag="1",
                                      changes=["USER 1000", 'CMD ["/hello.txt"]'])
    client.api.tag(f"{TEST_REPO_PREFIX}/remote-tiny:1", "postgres", "16-alpine")  # an official/database name
    for content in (b"one\n", b"two\n"):  # the second import takes the tag: the first is dangling
        client.api.import_image_from_data(_tiny_tar(content), repository=f"{TEST_REPO_PREFIX}/remote-dangling", tag="1")
    result = cli("--context", second_engine["context"], "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["engine"]["context"] == second_engine["context"] and doc["engine"]["endpoint"] == host
    assert doc["engine"]["local"] is True
    assert doc["dangling_command"] == f"docker --context {second_engine['context']} image prune -f"
    names = {image["display"]: image for image in doc["images"]}
    assert "buildopt-test/remote-dangling:1" in names
    tiny = next(image for image in doc["images"] if "buildopt-test/remote-tiny:1" in image["tags"])
    assert sorted(tiny["tags"]) == ["buildopt-test/remote-tiny:1", "postgres:16-alpine"]
    assert tiny["category"] == "official" and tiny["kind"] == "database" and tiny["user"] == "1000"
    assert len(doc["dangling"]) == len(dangling_ids(host)) == 1
    # the main engine's images are not in this report
    assert not any(name.startswith(f"{TEST_REPO_PREFIX}/audit-") for name in names)

    refused = cli("--context", second_engine["context"], "--prune-dangling")
    assert refused.returncode == 2 and len(dangling_ids(host)) == 1
    pruned = cli("--context", second_engine["context"], "--prune-dangling", "--yes", "--format", "json")
    assert pruned.returncode == 0, pruned.stderr
    prune = json.loads(pruned.stdout)["prune"]
    assert len(prune["removed"]) == 1 and prune["kept"] == []
    assert "removed 1 of 1 dangling images" in pruned.stderr
    assert dangling_ids(host) == []
    assert image_id(f"{TEST_REPO_PREFIX}/remote-tiny:1", host=host)  # nothing else removed


def test_remote_tcp_engine_reads_config_unless_deep(second_engine, monkeypatch):
    second_engine["client"].api.import_image_from_data(
        _tiny_tar(b"x" * 4000), repository=f"{TEST_REPO_PREFIX}/remote-root", tag="1")
    monkeypatch.setenv("DOCKER_HOST", second_engine["tcp"])
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    report = run_audit(AuditOptions())
    assert report.engine.local is False and report.engine.gpu.present is None
    audit = by_name(report, f"{TEST_REPO_PREFIX}/remote-root:1")
    assert audit.depth == "config" and "root-user" in {f.slug for f in audit.findings}
    deep = run_audit(AuditOptions(deep=True))
    audit = by_name(deep, f"{TEST_REPO_PREFIX}/remote-root:1")
    assert audit.depth == "files" and audit.reader == "archive"


def test_hundreds_of_images_in_bounded_memory(second_engine):
    client = second_engine["client"]
    tar = _tiny_tar(b"same layer for all\n")
    for number in range(300):  # 300 distinct images (their configs differ) sharing one layer
        client.api.import_image_from_data(tar, repository=f"{TEST_REPO_PREFIX}/many", tag=str(number),
                                          changes=[f"LABEL n={number}"])
    for number in range(300):  # and 300 more tags on one of them
        client.api.tag(f"{TEST_REPO_PREFIX}/many:0", f"{TEST_REPO_PREFIX}/tags", str(number))
    listed = len(client.api.images())
    probe = (
        "import resource, sys\n"
        "from buildopt.cli import main\n"
        f"sys.argv = ['buildopt', 'audit', '--context', {second_engine['context']!r}, '--format', 'json',"
        f" '--output', {str(second_engine['root'] / 'many.json')!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        "print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    code, peak_kib = result.stdout.split()
    assert code == "0", result.stderr
    assert int(peak_kib) < 200 * 1024, f"peak RSS {int(peak_kib) // 1024} MB"
    doc = json.loads((second_engine["root"] / "many.json").read_text())
    print(f"audit of {doc['summary']['images']} images: {doc['duration_s']} s, peak RSS {int(peak_kib) // 1024} MB")
    assert doc["summary"]["images"] == listed >= 300
    many0 = next(image for image in doc["images"] if f"{TEST_REPO_PREFIX}/many:0" in image["tags"])
    assert len(many0["tags"]) == 301
